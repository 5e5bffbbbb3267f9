"""``kiosk flow`` and ``kiosk doctor`` as processes, and the PIN's privacy over a whole flow. (A kiosk
killed while it syncs its outbox: ``tests/test_outbox_commands.py``.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.config import load_config
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.services.core import KioskCore
from kiosk.services.headless import FlowInput
from kiosk.store import KioskStore
from tests.conftest import Reader
from tests.helpers.kiosk import pin, place, run, write_config
from tests.helpers.secret_forms import RARE_PASSWORD, RARE_PIN, leaks
from tests.helpers.server_api import LINKED
from tests.linkserver.helpers import LiveServer, Staff

KIOSK = [sys.executable, "-m", "kiosk"]


@pytest.fixture
def config(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy) -> Path:
    return write_config(tmp_path, server, hierarchy, server.base)


def test_kiosk_flow_prints_each_step_as_json(config: Path, reader: Reader, server: LiveServer,
                                             make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked", pin=RARE_PIN))
    desk = Staff(server)
    try:
        result = subprocess.run(
            [*KIOSK, "flow", "mfa_reset", "--account", LINKED, "--pin-from-env", "CARD_PIN",
             "--config", str(config), "--reader", reader.name, "--json"],
            capture_output=True, text=True, timeout=120, env={**os.environ, "CARD_PIN": RARE_PIN})
    finally:
        desk.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["step"] for line in lines] == ["card", "verify", "request", "approval", "done"]
    assert all(line["ms"] >= 0 for line in lines[:-1])
    assert lines[-1]["result"]["status"] == "completed"
    assert leaks({"the PIN": RARE_PIN}, result.stdout + result.stderr) == []


def test_kiosk_flow_exits_with_the_errors_code(config: Path, reader: Reader,
                                               make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    result = subprocess.run(
        [*KIOSK, "flow", "link_status", "--account", LINKED, "--pin-from-env", "CARD_PIN",
         "--config", str(config), "--reader", reader.name, "--json"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "CARD_PIN": "0000"})
    assert result.returncode == 1
    last = json.loads(result.stdout.splitlines()[-1])
    assert (last["step"], last["error"]) == ("verify", "pin.wrong")
    assert "Traceback" not in result.stderr


def test_kiosk_flow_names_a_bad_configuration(tmp_path: Path) -> None:
    broken = tmp_path / "kiosk.toml"
    broken.write_text("[kiosk]\nid = 'k'\n", "utf-8")
    result = subprocess.run([*KIOSK, "flow", "link_status", "--account", LINKED, "--pin-from-env", "X",
                             "--config", str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "kiosk.key_file is missing" in result.stdout and str(broken) in result.stdout
    assert "Traceback" not in result.stderr


def test_kiosk_doctor_reports_each_part(config: Path, reader: Reader, tmp_path: Path, server: LiveServer,
                                        hierarchy: TestHierarchy) -> None:
    KioskCore.build(load_config(config)).start().close()  # a kiosk that has run: its store, roster, key
    result = subprocess.run([*KIOSK, "doctor", "--config", str(config)], capture_output=True, text=True,
                            timeout=120)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    names = [line.split(":")[0] for line in lines]
    for expected in ("OK   reader", "OK   server", "OK   clock", "OK   kiosk client", "OK   heartbeat",
                     "OK   sealing key", "OK   staff roster", "OK   database", "OK   outbox"):
        assert expected in names, lines
    assert any(line.startswith("OK   CRL ") for line in lines)
    (tmp_path / "down").mkdir()
    unreachable = write_config(tmp_path / "down", server, hierarchy, "http://127.0.0.1:9")
    down = subprocess.run([*KIOSK, "doctor", "--config", str(unreachable)], capture_output=True, text=True,
                          timeout=120)
    assert down.returncode == 1
    assert any(line.startswith("FAIL server") and "server.unreachable" in line
               for line in down.stdout.splitlines())
    assert any(line.startswith("FAIL staff roster") and "nobody can approve offline" in line
               for line in down.stdout.splitlines())


def test_the_pin_and_password_never_reach_a_log(config: Path, reader: Reader, server: LiveServer,
                                                make_card: Callable[..., SimulatedCard],
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(1)  # everything, APDU traffic included
    core = KioskCore.build(load_config(config)).start()
    desk = Staff(server)
    try:
        given = FlowInput("password_reset", LINKED, pin(RARE_PIN),
                          new_password=bytearray(RARE_PASSWORD.encode()))
        result, _ = run(core, place(reader, make_card, "linked", pin=RARE_PIN), given)
    finally:
        desk.stop()
        core.close()
    assert result["status"] == "completed"
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "secret bytes]" in text  # the APDU trace was on, VERIFY's data left out
    assert leaks({"the PIN": RARE_PIN, "the new password": RARE_PASSWORD}, text) == []
    store = KioskStore(load_config(config).store_path)
    try:
        assert store.check_audit().ok
    finally:
        store.close()
