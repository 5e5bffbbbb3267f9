"""What a whole session asks of the card: each thing read once, the card-info AP only for pre-link,
no more APDUs than the fewest a reader needs; and cards refused before the PIN for what the kiosk
can see on them (a certificate not valid yet, no card-info AP for pre-link).

The simulated card sits behind the tests' pcscd and counts every command it is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from kiosk.config import load_config
from kiosk.nfc.apdu import INS_COMPUTE_DIGITAL_SIGNATURE, INS_READ_BINARY, INS_SELECT, INS_VERIFY, CommandApdu
from kiosk.nfc.cardinfo import CARD_INFO_AID
from kiosk.nfc.jpki import EF_AUTH_CERT, EF_AUTH_PIN, JPKI_AID
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.services.core import KioskCore
from tests.conftest import Reader
from tests.linkserver.helpers import LiveServer, Staff
from tests.test_kiosk_core import LINKED, NEW_PASSWORD, write_config

KIOSK = [sys.executable, "-m", "kiosk"]
#: SELECT the JPKI AP; SELECT and READ the token info; SELECT the certificate and READ it (one short
#: read for its header, one extended read for the rest); SELECT the PIN and ask its tries left;
#: VERIFY; SELECT the key and SIGN.
MINIMUM_APDUS = 10
NOT_YET_VALID_ACCOUNT = "2024000009"


@pytest.fixture
def config(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy) -> Path:
    return write_config(tmp_path, server, hierarchy, server.base)


def commands(card: SimulatedCard) -> list[CommandApdu]:
    return [CommandApdu.from_bytes(raw) for raw in card.commands]


def kiosk_flow(config: Path, reader: Reader, operation: str, account: str, *extra: str,
               pin: str = "1234") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARD_PIN": pin, "NEW_PW": NEW_PASSWORD}
    return subprocess.run(
        [*KIOSK, "flow", operation, "--account", account, "--pin-from-env", "CARD_PIN",
         "--config", str(config), "--reader", reader.name, "--json", *extra],
        capture_output=True, text=True, timeout=120, env=env)


def assert_read_once(card: SimulatedCard) -> None:
    """The certificate read once, the tries left asked once, the card-info AP never selected."""
    sent = commands(card)
    assert card.selections.count(("jpki", EF_AUTH_CERT)) == 1, card.selections
    tries_asked = [c for c in sent if c.ins == INS_VERIFY and not c.data]
    assert len(tries_asked) == 1
    assert not any(c.ins == INS_SELECT and c.data == CARD_INFO_AID for c in sent)
    assert sum(c.ins == INS_SELECT and c.data == JPKI_AID for c in sent) == 1
    assert [c.ins for c in sent if c.ins in (INS_VERIFY, INS_COMPUTE_DIGITAL_SIGNATURE) and c.data] == [
        INS_VERIFY, INS_COMPUTE_DIGITAL_SIGNATURE]
    assert ("jpki", EF_AUTH_PIN) in card.selections and not card.my_number_selected
    assert len(sent) <= MINIMUM_APDUS, [f"{c.ins:02X}" for c in sent]


def test_kiosk_flow_password_reset_reads_the_card_once(config: Path, reader: Reader, server: LiveServer,
                                                       make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card("linked")
    reader.insert(card)
    desk = Staff(server)
    try:
        result = kiosk_flow(config, reader, "password_reset", LINKED, "--new-password-from-env", "NEW_PW")
    finally:
        desk.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["result"]["status"] == "completed"
    assert_read_once(card)
    assert sum(c.ins == INS_READ_BINARY for c in commands(card)) <= 3


def signed_or_verified(card: SimulatedCard) -> list[int]:
    """The instructions that carried a PIN or data to sign."""
    return [c.ins for c in commands(card) if c.ins in (INS_VERIFY, INS_COMPUTE_DIGITAL_SIGNATURE) and c.data]


# -- a certificate not valid yet -------------------------------------------------------------------


def test_kiosk_flow_refuses_a_card_not_valid_yet_before_the_pin(
        config: Path, reader: Reader, make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card("not-yet-valid")
    reader.insert(card)
    result = kiosk_flow(config, reader, "mfa_reset", NOT_YET_VALID_ACCOUNT)
    assert result.returncode == 1, result.stdout + result.stderr
    last = json.loads(result.stdout.splitlines()[-1])
    assert (last["step"], last["error"]) == ("card", "not_yet_valid")
    assert "not valid yet" in last["message"]
    assert signed_or_verified(card) == []


@pytest.mark.parametrize(("ahead", "refused"), [(dt.timedelta(minutes=2), False),
                                                (dt.timedelta(minutes=10), True)])
def test_a_kiosk_clock_a_little_behind_refuses_no_new_certificate(
        config: Path, make_card: Callable[..., SimulatedCard], ahead: dt.timedelta, refused: bool) -> None:
    """A certificate whose validity begins minutes from now by the kiosk's clock is left to the server."""
    card = make_card("not-yet-valid")
    not_before = x509.load_der_x509_certificate(card.profile.auth_cert_der).not_valid_before_utc
    core = KioskCore.build(load_config(config), clock=lambda: not_before - ahead)
    try:
        ready = core.verification(card, NOT_YET_VALID_ACCOUNT).prepare()
    finally:
        core.close()
    assert ready.refusal() == ("not_yet_valid" if refused else None)
