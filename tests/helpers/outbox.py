"""An outbox filled with offline evidence, for the outbox commands' tests."""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kiosk.config import load_config
from kiosk.linkage import signed_message
from kiosk.nfc.sim import TestHierarchy
from kiosk.offline import Evidence, new_voucher, offline_challenge, seal, voucher_hash
from kiosk.services.core import KioskCore
from tests.helpers.server_api import LINKED
from tests.linkserver.helpers import LiveServer


def fill_outbox(config: Path, server: LiveServer, hierarchy: TestHierarchy, count: int) -> list[str]:
    """Offline evidence as the kiosk would have recorded it: real signatures, sealed, durable."""
    settings = load_config(config)
    core = KioskCore.build(settings).start()  # learns the sealing key
    key = hierarchy.holder("linked").auth_key
    cert = server.card("linked").profile.auth_cert_der
    keys = []
    try:
        for _ in range(count):
            counter = core.store.next_offline_counter()
            issued = int(server.clock().timestamp()) - 60
            challenge = offline_challenge(counter, issued, secrets.token_bytes(16))
            signature = key.sign(signed_message(challenge, settings.kiosk_id, LINKED), padding.PKCS1v15(),
                                 hashes.SHA256())
            voucher = new_voucher()
            evidence = Evidence(settings.kiosk_id, counter, issued, challenge, LINKED, "mfa_reset", {}, cert,
                                signature, "tanaka.h", issued, voucher_hash(voucher))
            sealed = seal(evidence, settings.key_file.read_bytes(), core.outbox.sealing_key())
            item_key = f"{settings.kiosk_id}-{counter}"
            core.store.add_evidence(item_key, sealed, "mfa_reset", "20******01", voucher_hash(voucher))
            keys.append(item_key)
    finally:
        core.sync.stop()
        core.close()
    return keys
