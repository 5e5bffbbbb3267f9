"""``kiosk sim`` and ``kiosk card status`` as processes, over the test pcscd."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509

from kiosk.nfc import JpkiSession
from kiosk.nfc.errors import InvalidPinError
from kiosk.nfc.pcsc import PcscConnection, wait_for_card
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.nfc.sim.pcscd import PcscdProcess
from tests.conftest import Reader
from tests.helpers.secret_forms import RARE_PIN, leaks
from tests.helpers.tripwire import assert_my_number_untouched, trips

KIOSK = [sys.executable, "-m", "kiosk"]
CARD_INFO_SELECT = "00A4040C0AD3921000310001010408"


def run_kiosk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KIOSK, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def sim_process(
    pcscd: PcscdProcess, hierarchy: TestHierarchy, tmp_path: Path
) -> Iterator[Callable[..., Path]]:
    """Start ``kiosk sim`` on the test reader; returns its export folder."""
    processes: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> Path:
        export = tmp_path / "export"
        process = subprocess.Popen(
            [*KIOSK, "sim", "--port", str(pcscd.port), "--hierarchy", str(hierarchy.path),
             "--export-dir", str(export), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        processes.append(process)
        assert wait_for_card(pcscd.readers[0], present=True, timeout=20), process.stderr
        return export

    yield start
    for process in processes:
        process.send_signal(signal.SIGINT)
        process.wait(10)
    assert wait_for_card(pcscd.readers[0], present=False, timeout=10)


def test_sim_serves_the_card_it_exports(
    sim_process: Callable[..., Path], pcscd: PcscdProcess, tmp_path: Path
) -> None:
    log = tmp_path / "apdu.log"
    export = sim_process("--holder", "unlinked", "--pin", RARE_PIN, "--apdu-log", str(log))
    exported = x509.load_pem_x509_certificate((export / "auth-cert.pem").read_bytes())
    anchors = x509.load_pem_x509_certificates((export / "trust-anchors.pem").read_bytes())
    assert len(anchors) == 3
    issuer = x509.load_pem_x509_certificate((export / "auth-ca.pem").read_bytes())
    exported.verify_directly_issued_by(issuer)

    result = run_kiosk("card", "status", "--json", "--reader", pcscd.readers[0])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    card = report["readers"][0]["card"]
    assert card["card_kind"] == "my_number_card"
    assert card["auth_certificate"]["serial"] == f"{exported.serial_number:X}"
    assert card["auth_certificate"]["validity"] == "valid"
    assert card["pin_tries_left"] == 3

    with PcscConnection(pcscd.readers[0]) as connection:
        session = JpkiSession(connection)
        with pytest.raises(InvalidPinError, match=r"^wrong PIN, 2 tries left$"):
            session.verify_pin("2580")  # the holder's own PIN was replaced by --pin
        session.verify_pin(RARE_PIN)
    text = log.read_text()
    assert "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01" in text
    assert "00 20 00 80 [4 secret bytes]" in text
    assert leaks({"the PIN": RARE_PIN}, text) == []


@pytest.mark.my_number_asked
def test_a_card_served_by_another_process_reports_its_trips(sim_process: Callable[..., Path],
                                                            pcscd: PcscdProcess) -> None:
    """``kiosk sim`` in its own process: reading the card-info AP leaves the trip file empty, and
    asking it for the My Number EF writes a line there, naming that process."""
    sim_process()
    status = run_kiosk("card", "status", "--json", "--reader", pcscd.readers[0])
    assert json.loads(status.stdout)["readers"][0]["card"]["cardinfo_pin_tries_left"] == 3
    assert_my_number_untouched()
    with PcscConnection(pcscd.readers[0]) as connection:
        connection.transmit(bytes.fromhex(CARD_INFO_SELECT))
        connection.transmit(bytes.fromhex("00A4020C020001"))
    [trip] = trips()
    process, command = trip.split(": ")
    assert command == "00 A4 02 0C 02 00 01"
    assert process.startswith("process ") and process != f"process {os.getpid()}"


def test_status_reports_each_reader(sim_process: Callable[..., Path], pcscd: PcscdProcess) -> None:
    sim_process("--no-extended")
    result = run_kiosk("card", "status")
    assert result.returncode == 0, result.stderr
    assert f"Reader: {pcscd.readers[0]}" in result.stdout
    assert f"Reader: {pcscd.readers[1]}\n  No card" in result.stdout
    assert "3 tries left of 3 (authentication)" in result.stdout


def test_status_of_an_expired_card(reader: Reader, make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("expired"))
    result = run_kiosk("card", "status", "--json", "--reader", reader.name)
    card = json.loads(result.stdout)["readers"][0]["card"]
    assert card["auth_certificate"]["validity"] == "expired"


def test_status_names_a_missing_reader(pcscd: PcscdProcess) -> None:
    result = run_kiosk("card", "status", "--reader", "Nope 00 00")
    assert result.returncode != 0
    assert "no reader named 'Nope 00 00'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("pin", ["12a4", "123"])
def test_sim_refuses_a_malformed_pin(hierarchy: TestHierarchy, pin: str) -> None:
    result = run_kiosk("sim", "--hierarchy", str(hierarchy.path), "--pin", pin, "--port", "1")
    assert result.returncode == 2
    assert "4 digits" in result.stderr and "Traceback" not in result.stderr


def test_sim_refuses_an_unknown_holder(hierarchy: TestHierarchy) -> None:
    result = run_kiosk("sim", "--hierarchy", str(hierarchy.path), "--holder", "nobody")
    assert result.returncode == 2
    assert "no holder 'nobody'" in result.stderr


def test_sim_lists_holders(hierarchy: TestHierarchy) -> None:
    result = run_kiosk("sim", "--hierarchy", str(hierarchy.path), "--list-holders")
    assert result.returncode == 0
    assert "linked" in result.stdout and "revoked" in result.stdout


def test_status_without_pcscd_is_a_clear_message() -> None:
    env = dict(os.environ, PCSCLITE_CSOCK_NAME="/nonexistent/pcscd.comm")
    result = subprocess.run([*KIOSK, "card", "status"], capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode == 1
    assert "pcscd" in result.stderr and "Traceback" not in result.stderr


def test_status_of_a_card_that_is_not_a_my_number_card(
    reader: Reader, make_card: Callable[..., SimulatedCard]
) -> None:
    card = make_card()
    card._apps.pop(bytes.fromhex("D392F000260100000001"))  # e.g. a transit or bank card
    reader.insert(card)
    result = run_kiosk("card", "status", "--reader", reader.name)
    assert result.returncode == 1
    assert "This is not a My Number Card. [card.unknown]" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_demo_status_only_puts_a_card_behind_its_own_pcscd_and_reports_it(
        hierarchy: TestHierarchy, tmp_path: Path) -> None:
    """No display and no pcscd of ours: the demo starts its own, and prints the card's status."""
    shutil.copytree(hierarchy.path, tmp_path / "cache" / "kiosk" / "test-jpki")  # its default folder
    env = {key: value for key, value in os.environ.items()
           if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([*KIOSK, "demo", "--status-only"], capture_output=True, text=True, timeout=120,
                            env={**env, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "A simulated My Number Card (holder: 佐藤 花子) is on the virtual reader."
    serial = hierarchy.holder("linked").serial
    for expected in ("Reader: Virtual PCD 00 00", "  Card:      My Number Card (JPKIAPICCTOKEN2)",
                     f"    Serial:  {serial:X}",
                     "  PIN:       3 tries left of 3 (authentication), 3 tries left of 3 (card info)"):
        assert expected in lines, result.stdout
