"""``kiosk flow``, ``kiosk card status``, ``kiosk doctor`` and ``kiosk staff-pin-hash`` as processes:
input checked before anything is sent, the reader that has the card, words and JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import func, select

from kiosk.nfc import JpkiSession
from kiosk.nfc.errors import InvalidPinError, tries_left_words
from kiosk.nfc.pcsc import PcscConnection
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.nfc.sim.pcscd import PcscdProcess
from linkserver.demo import DEMO_DESK_ID, DEMO_DESK_OFFLINE_PIN
from linkserver.models import OfflineEvidence, Operation
from linkserver.passwords import password_matches
from tests.conftest import Reader
from tests.helpers.kiosk import write_config
from tests.helpers.server_api import LINKED, NEW_PASSWORD, account_row
from tests.linkserver.helpers import LiveServer, Staff

KIOSK = [sys.executable, "-m", "kiosk"]
#: A linkage server URL nothing listens on.
DOWN = "http://127.0.0.1:9"


@pytest.fixture
def config(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy) -> Path:
    return write_config(tmp_path, server, hierarchy, server.base)


def kiosk(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KIOSK, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env})


def flow(config: Path, operation: str, *args: str, pin: str = "1234",
         **env: str) -> subprocess.CompletedProcess[str]:
    return kiosk("flow", operation, "--account", LINKED, "--pin-from-env", "CARD_PIN",
                 "--config", str(config), *args, CARD_PIN=pin, **env)


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def operations_on_server(server: LiveServer) -> int:
    with server.server.parts.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Operation)) or 0)


def offline_fates(server: LiveServer) -> list[str | None]:
    with server.server.parts.db.transaction() as session:
        return [evidence.fate for evidence in session.scalars(select(OfflineEvidence))]


def spend_tries(reader: Reader, count: int) -> None:
    with PcscConnection(reader.name) as connection:
        session = JpkiSession(connection)
        for left in range(2, 2 - count, -1):
            with pytest.raises(InvalidPinError, match=f"^wrong PIN, {tries_left_words(left)}$"):
                session.verify_pin("0000")


# -- words ---------------------------------------------------------------------------------------------


def test_one_try_left_is_singular(config: Path, reader: Reader,
                                  make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    spend_tries(reader, 1)
    failed = flow(config, "link_status", "--reader", reader.name, pin="0000")
    assert failed.returncode == 1
    assert "1 try left" in failed.stdout and "1 tries" not in failed.stdout, failed.stdout
    status = kiosk("card", "status", "--reader", reader.name)
    assert "1 try left of 3 (authentication)" in status.stdout, status.stdout


def test_no_approval_step_for_an_operation_answered_at_once(config: Path, reader: Reader,
                                                           make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    result = flow(config, "link_status", "--reader", reader.name, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line["step"] for line in json_lines(result.stdout)] == ["card", "verify", "request", "done"]


def test_flow_help_describes_the_wait_and_every_exit_code() -> None:
    text = kiosk("flow", "--help").stdout
    assert "approval_timeout_seconds" in text
    for code in ("0", "1", "2", "130"):
        assert any(line.strip().startswith(f"{code} ") for line in text.splitlines()), text


def test_warnings_under_json_are_json_lines(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy,
                                            reader: Reader) -> None:
    down = write_config(tmp_path, server, hierarchy, "http://127.0.0.1:9")
    result = flow(down, "link_status", "--json", "--card-timeout", "0.5")
    assert result.returncode == 1
    assert result.stderr.strip(), "the unreachable server is warned about"
    for line in result.stderr.splitlines():
        document = json.loads(line)
        assert document["warning"] and document["code"]
    json_lines(result.stdout)


def test_doctor_says_which_reader_has_a_card(config: Path, reader: Reader,
                                             make_card: Callable[..., SimulatedCard]) -> None:
    empty = kiosk("doctor", "--config", str(config))
    assert any(line.startswith("OK   card: no card on any reader") for line in empty.stdout.splitlines()), \
        empty.stdout
    reader.insert(make_card("linked"))
    placed = kiosk("doctor", "--config", str(config))
    assert f"OK   card: a card is on {reader.name}" in placed.stdout.splitlines(), placed.stdout


# -- input checked before anything is sent -------------------------------------------------------------


@pytest.mark.parametrize("bad_pin", ["12a4", "123", ""])
def test_a_malformed_pin_is_refused_before_the_card_or_server(
        config: Path, reader: Reader, server: LiveServer, make_card: Callable[..., SimulatedCard],
        bad_pin: str) -> None:
    card = make_card("linked")
    reader.insert(card)
    result = flow(config, "mfa_reset", "--reader", reader.name, "--json", pin=bad_pin)
    assert result.returncode == 2
    last = json_lines(result.stdout)[-1]
    assert (last["step"], last["error"]) == ("start", "pin.format")
    assert card.commands == []
    assert operations_on_server(server) == 0


def test_password_reset_without_a_password_goes_nowhere_near_staff(
        config: Path, reader: Reader, server: LiveServer, make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    result = flow(config, "password_reset", "--reader", reader.name, "--json")
    assert result.returncode == 2, result.stdout
    last = json_lines(result.stdout)[-1]
    assert last["error"] == "password.missing"
    assert operations_on_server(server) == 0


def test_a_weak_password_is_refused_with_its_problems_listed(config: Path, reader: Reader,
                                                             server: LiveServer,
                                                             make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    args = ("password_reset", "--reader", reader.name, "--new-password-from-env", "NEW_PW")
    as_json = flow(config, *args, "--json", NEW_PW="short")
    assert as_json.returncode == 2, as_json.stdout
    last = json_lines(as_json.stdout)[-1]
    assert last["error"] == "password_policy"
    assert set(last["problems"]) == {"too_short", "too_few_classes"}  # type: ignore[arg-type]
    as_text = flow(config, *args, NEW_PW="short")
    assert as_text.returncode == 2
    assert "at least 12 characters" in as_text.stdout and "short" not in as_text.stdout.replace(
        "shorter", ""), as_text.stdout
    assert operations_on_server(server) == 0


# -- the environment variables' names ------------------------------------------------------------------


def test_a_pin_given_instead_of_the_variable_name_is_not_echoed(config: Path, reader: Reader) -> None:
    result = kiosk("flow", "link_status", "--account", LINKED, "--pin-from-env", "8371",
                   "--config", str(config), "--reader", reader.name)
    assert result.returncode == 2
    out = result.stdout + result.stderr
    assert "8371" not in out
    assert "--pin-from-env" in out and "name of the environment variable" in out, out
    unset = kiosk("flow", "password_reset", "--account", LINKED, "--pin-from-env", "CARD_PIN",
                  "--new-password-from-env", "Sakura-2026-spring", "--config", str(config), CARD_PIN="1234")
    assert unset.returncode == 2
    assert "Sakura" not in unset.stdout + unset.stderr
    assert "--new-password-from-env is not set" in unset.stdout, unset.stdout
    staff = kiosk("staff-pin-hash", "--pin-from-env", "834712")
    assert staff.returncode == 2
    assert "834712" not in staff.stdout + staff.stderr
    assert "name of the environment variable" in staff.stderr


# -- the reader ---------------------------------------------------------------------------------------


def test_flow_takes_the_first_reader_with_a_card(config: Path, pcscd: PcscdProcess,
                                                 make_card: Callable[..., SimulatedCard]) -> None:
    second = Reader(pcscd, slot=1)
    second.insert(make_card("linked"))
    try:
        result = flow(config, "link_status", "--json", "--card-timeout", "5")
    finally:
        second.remove()
    assert result.returncode == 0, result.stdout + result.stderr
    assert json_lines(result.stdout)[-1]["result"]["result"]["linked"] is True  # type: ignore[index]


def test_flow_waits_for_a_card_on_any_reader(config: Path, pcscd: PcscdProcess) -> None:
    result = flow(config, "link_status", "--json", "--card-timeout", "0.5")
    assert result.returncode == 1
    last = json_lines(result.stdout)[-1]
    assert last["error"] == "card.absent"
    assert "no card on any reader" in str(last["message"])


def test_a_wrong_reader_name_lists_the_readers(config: Path, pcscd: PcscdProcess) -> None:
    result = flow(config, "link_status", "--reader", "Nope 00 00", "--json")
    assert result.returncode == 2
    last = json_lines(result.stdout)[-1]
    assert last["error"] == "reader.unknown"
    assert all(name in str(last["message"]) for name in pcscd.readers)
    assert "0x" not in str(last["message"])
    status = kiosk("card", "status", "--reader", "Nope 00 00", "--json")
    assert status.returncode == 2
    assert json.loads(status.stdout)["error"]["code"] == "reader.unknown"


# -- the README's options, over the real stack ----------------------------------------------------------


def test_the_new_password_from_the_environment_is_set_once_staff_approve(
        config: Path, reader: Reader, server: LiveServer, staff: Staff,
        make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    result = flow(config, "password_reset", "--reader", reader.name, "--new-password-from-env", "NEW_PW",
                  "--json", NEW_PW=NEW_PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = json_lines(result.stdout)
    assert [line["step"] for line in lines] == ["card", "verify", "request", "approval", "password", "done"]
    assert lines[-1]["result"]["status"] == "completed"  # type: ignore[index]
    assert password_matches(account_row(server, LINKED).password_hash, NEW_PASSWORD)
    for secret in (NEW_PASSWORD, "NEW_PW"):  # neither the password nor the variable's name
        assert secret not in result.stdout + result.stderr


def test_server_replaces_the_configured_url(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy,
                                            reader: Reader, make_card: Callable[..., SimulatedCard]) -> None:
    down = write_config(tmp_path, server, hierarchy, DOWN)
    reader.insert(make_card("linked"))
    unreachable = flow(down, "link_status", "--reader", reader.name, "--json")
    assert unreachable.returncode == 1, unreachable.stdout
    # The server is not there, and a link status cannot be told offline.
    assert json_lines(unreachable.stdout)[-1]["error"] == "offline.not_for_operation"
    reached = flow(down, "link_status", "--reader", reader.name, "--server", server.base + "/", "--json")
    assert reached.returncode == 0, reached.stdout + reached.stderr
    assert json_lines(reached.stdout)[-1]["result"]["result"]["linked"] is True  # type: ignore[index]
    refused = flow(down, "link_status", "--reader", reader.name, "--server", "http://link.example.ac.jp")
    assert refused.returncode == 2
    assert refused.stdout == ("FAILED at start: config: --server: server.url must use https (plain http only "
                              "on this machine's loopback), not 'http://link.example.ac.jp'\n")


def test_offline_staff_approve_at_the_counter_and_the_outbox_takes_it_to_the_server(
        config: Path, reader: Reader, server: LiveServer, make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    # Online once: the kiosk learns the sealing key and, in its heartbeat's answer, the staff roster.
    assert flow(config, "link_status", "--reader", reader.name).returncode == 0
    offline = ("mfa_reset", "--reader", reader.name, "--server", DOWN, "--json")
    no_staff = flow(config, *offline, "--offline-staff", DEMO_DESK_ID)
    assert no_staff.returncode == 1, no_staff.stdout
    assert json_lines(no_staff.stdout)[-1]["error"] == "offline.staff_needed"
    wrong = flow(config, *offline, "--offline-staff", DEMO_DESK_ID, "--offline-pin-from-env", "STAFF_PIN",
                 STAFF_PIN="135799")
    assert wrong.returncode == 1, wrong.stdout
    assert json_lines(wrong.stdout)[-1]["error"] == "offline.staff_refused"
    assert "135799" not in wrong.stdout + wrong.stderr
    result = flow(config, *offline, "--offline-staff", DEMO_DESK_ID, "--offline-pin-from-env", "STAFF_PIN",
                  STAFF_PIN=DEMO_DESK_OFFLINE_PIN)
    assert result.returncode == 0, result.stdout + result.stderr
    done = json_lines(result.stdout)[-1]
    assert done["step"] == "done" and done["result"]["online"] is False  # type: ignore[index]
    voucher = str(done["result"]["voucher"])  # type: ignore[index]
    listed = json.loads(kiosk("outbox", "list", "--json", "--config", str(config)).stdout)["items"]
    assert [(item["fate"], item["voucher_shown"]) for item in listed] == [(None, True)]
    assert offline_fates(server) == []
    synced = kiosk("outbox", "sync", "--config", str(config))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert offline_fates(server) == ["accepted"]
    redeemed = httpx2.post(server.url("/v1/vouchers/redeem"), json={"voucher": voucher, "account_id": LINKED})
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["kind"] == "mfa_reset"
