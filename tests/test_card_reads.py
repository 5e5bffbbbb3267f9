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
from typing import Any

import pytest
from cryptography import x509

from kiosk.config import load_config
from kiosk.nfc.apdu import INS_READ_BINARY
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.services.core import KioskCore
from tests.conftest import Reader
from tests.helpers.card_reads import assert_prelink_read_once, assert_read_once, commands, signed_or_verified
from tests.helpers.kiosk import write_config
from tests.helpers.server_api import LINKED, NEW_PASSWORD
from tests.linkserver.helpers import LiveServer, Staff

KIOSK = [sys.executable, "-m", "kiosk"]
NOT_YET_VALID_ACCOUNT = "2024000009"
UNLINKED_ACCOUNT = "2024000002"


@pytest.fixture
def config(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy) -> Path:
    return write_config(tmp_path, server, hierarchy, server.base)


def kiosk_flow(config: Path, reader: Reader, operation: str, account: str, *extra: str,
               pin: str = "1234") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARD_PIN": pin, "NEW_PW": NEW_PASSWORD}
    return subprocess.run(
        [*KIOSK, "flow", operation, "--account", account, "--pin-from-env", "CARD_PIN",
         "--config", str(config), "--reader", reader.name, "--json", *extra],
        capture_output=True, text=True, timeout=120, env=env)


def kiosk_prelink(config: Path, reader: Reader, server: LiveServer, pin: str,
                  *extra: str) -> list[dict[str, Any]]:
    """``kiosk flow prelink --json`` for the unlinked demo account, signed in on the phone when asked."""
    env = {**os.environ, "CARD_PIN": pin, "CARDINFO_PIN": "1357"}
    child = subprocess.Popen(
        [*KIOSK, "flow", "prelink", "--account", UNLINKED_ACCOUNT, "--pin-from-env", "CARD_PIN",
         "--config", str(config), "--reader", reader.name, "--json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    lines = []
    for line in child.stdout:
        lines.append(json.loads(line))
        if lines[-1]["step"] == "show_user_code":
            assert server.sign_in_on_phone(lines[-1]["user_code"], UNLINKED_ACCOUNT).status_code == 200
    assert child.wait(60) in (0, 1), child.stderr.read() if child.stderr else ""
    return lines


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


@pytest.mark.parametrize("same_pin", [True, False])
def test_kiosk_flow_prelink_reads_each_application_once(
        config: Path, reader: Reader, server: LiveServer, make_card: Callable[..., SimulatedCard],
        same_pin: bool) -> None:
    card = make_card("unlinked", cardinfo_pin="2580" if same_pin else "1357")
    reader.insert(card)
    desk = Staff(server)
    try:
        extra = ("--same-pin",) if same_pin else ("--cardinfo-pin-from-env", "CARDINFO_PIN")
        lines = kiosk_prelink(config, reader, server, "2580", *extra)
    finally:
        desk.stop()
    assert lines[-1]["step"] == "done", lines[-1]
    assert_prelink_read_once(card)


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


# -- a JPKI card without the card-info AP ------------------------------------------------------------

WITHOUT_CARD_INFO = [pytest.param({"card_info": False}, id="jpki-only"),
                     pytest.param({"resident_registry": True}, id="resident-registry")]


@pytest.mark.parametrize("kind", WITHOUT_CARD_INFO)
def test_card_status_reports_the_card_info_application_absent(
        reader: Reader, make_card: Callable[..., SimulatedCard], kind: dict[str, bool]) -> None:
    reader.insert(make_card("linked", **kind))
    as_json = subprocess.run([*KIOSK, "card", "status", "--json", "--reader", reader.name],
                             capture_output=True, text=True, timeout=60)
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    entry = json.loads(as_json.stdout)["readers"][0]
    assert entry["error"] is None
    assert entry["card"]["pin_tries_left"] == 3 and entry["card"]["cardinfo_pin_tries_left"] is None
    assert entry["card"]["auth_certificate"]["validity"] == "valid"
    text = subprocess.run([*KIOSK, "card", "status", "--reader", reader.name], capture_output=True,
                          text=True, timeout=60)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "not a My Number Card" not in text.stdout
    assert "card-info application: absent" in text.stdout


@pytest.mark.parametrize("kind", WITHOUT_CARD_INFO)
def test_kiosk_flow_prelink_refuses_a_card_without_card_info_before_the_pin(
        config: Path, reader: Reader, server: LiveServer, make_card: Callable[..., SimulatedCard],
        kind: dict[str, bool]) -> None:
    card = make_card("unlinked", **kind)
    reader.insert(card)
    last = kiosk_prelink(config, reader, server, "2580", "--same-pin")[-1]
    assert (last["step"], last["error"]) == ("card", "card.no_card_info")
    assert "card-info application" in last["message"]
    assert signed_or_verified(card) == []


def test_a_card_without_card_info_serves_what_needs_only_jpki(
        config: Path, reader: Reader, server: LiveServer, make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card("linked", card_info=False)
    reader.insert(card)
    desk = Staff(server)
    try:
        result = kiosk_flow(config, reader, "mfa_reset", LINKED)
    finally:
        desk.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert_read_once(card)
