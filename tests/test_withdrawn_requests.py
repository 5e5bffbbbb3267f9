"""Every way out of a ``kiosk flow`` run withdraws its request on the server: a signal, or staff who
never decide. Nothing is left for staff to approve, and no password can follow later."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from tests.conftest import Reader
from tests.helpers.kiosk import write_config
from tests.helpers.server_api import LINKED
from tests.linkserver.helpers import LiveServer

KIOSK = [sys.executable, "-m", "kiosk"]


def start_flow(config: Path, reader: Reader, operation: str = "password_reset") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*KIOSK, "flow", operation, "--account", LINKED, "--pin-from-env", "CARD_PIN",
         "--new-password-from-env", "NEW_PW", "--config", str(config), "--reader", reader.name, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CARD_PIN": "1234", "NEW_PW": "Counter-Passw0rd!"})


def until_step(process: subprocess.Popen[str], name: str) -> dict[str, object]:
    """Read the flow's JSON lines until the step ``name`` (the staff wait begins right after "request")."""
    assert process.stdout is not None
    for line in process.stdout:
        step = json.loads(line)
        if step.get("step") == name:
            return step
    raise AssertionError(f"the flow ended before {name}: {process.wait(10)} {process.stderr.read()}")  # type: ignore[union-attr]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_withdraws_the_request_and_exits_130(tmp_path: Path, server: LiveServer, reader: Reader,
                                                      hierarchy: TestHierarchy, sig: signal.Signals,
                                                      make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    process = start_flow(write_config(tmp_path, server, hierarchy, server.base), reader)
    try:
        operation_id = str(until_step(process, "request")["operation_id"])
        assert server.latest_operation(LINKED) == (operation_id, "awaiting_approval", None)
        process.send_signal(sig)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, out + err
    assert json.loads(out.splitlines()[-1]) == {"step": "cancelled", "signal": sig.name}
    assert "Traceback" not in err
    assert server.latest_operation(LINKED) == (operation_id, "cancelled", "interrupted")


def test_staff_who_never_decide_leave_nothing_to_approve(tmp_path: Path, server: LiveServer, reader: Reader,
                                                         hierarchy: TestHierarchy,
                                                         make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    # server.approval_timeout_seconds at its shortest (10 s): the run must end well before the
    # 60 s this test waits for it.
    process = start_flow(write_config(tmp_path, server, hierarchy, server.base, approval_timeout=10), reader,
                         "mfa_reset")
    try:
        operation_id = str(until_step(process, "request")["operation_id"])
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1, out + err
    assert json.loads(out.splitlines()[-1]) == {"step": "approval", "error": "approval.timeout",
                                                "message": "staff did not decide in time"}
    assert "Traceback" not in err
    assert server.latest_operation(LINKED) == (operation_id, "cancelled", "approval_timeout")
    staff = server.staff()
    decision = staff.post(server.url(f"/v1/staff/operations/{operation_id}/decision"),
                          json={"approve": True, "staff_id": "tanaka.h"})
    assert decision.status_code == 409 and decision.json()["error"] == "operation_cancelled"

