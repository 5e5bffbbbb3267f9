"""An outbox filled with offline evidence, and what the kiosk and the server recorded of it, for the
outbox commands' tests."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import select

from kiosk.config import load_config
from kiosk.linkage import signed_message
from kiosk.nfc.sim import TestHierarchy
from kiosk.offline import Evidence, new_voucher, offline_challenge, seal, voucher_hash
from kiosk.services.core import KioskCore
from kiosk.store import KioskStore
from kiosk.store.models import AuditRecord
from kiosk.store.store import SYNCED_EVENT
from linkserver.models import AuditEntry, OfflineEvidence
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


def synced_entries(store: KioskStore) -> list[dict[str, Any]]:
    """The details of every ``offline_evidence_synced`` entry in the store's audit chain, in order."""
    with store.engine.connect() as connection:
        texts = connection.scalars(select(AuditRecord.details).where(AuditRecord.event == SYNCED_EVENT)
                                   .order_by(AuditRecord.seq))
        return [json.loads(text) for text in texts]


def kiosk_synced_entries(config: Path) -> list[dict[str, Any]]:
    """``synced_entries`` of the configured kiosk's store, whose audit chain must verify."""
    with KioskStore(load_config(config).store_path) as store:
        assert store.check_audit().ok
        return synced_entries(store)


def server_evidence(server: LiveServer) -> list[tuple[str, str]]:
    """Every offline evidence record the server holds: ``(idempotency key, evidence id)``."""
    with server.server.parts.db.transaction() as session:
        return [(key, evidence_id) for key, evidence_id in session.execute(
            select(OfflineEvidence.idempotency_key, OfflineEvidence.evidence_id))]


def server_evidence_audit(server: LiveServer) -> list[dict[str, Any]]:
    """The details of every ``offline_evidence`` entry in the server's audit log."""
    with server.server.parts.db.transaction() as session:
        return [json.loads(entry.details) for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.event == "offline_evidence"))]
