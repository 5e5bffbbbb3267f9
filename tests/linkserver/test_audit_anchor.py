"""The audit chain checked by the real ``kiosk-linkserver check-audit`` command, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.linkserver.helpers import LiveServer
from tests.linkserver.test_api_operations import decide, verified


def check_audit_command(config: Path) -> subprocess.CompletedProcess[str]:
    """``kiosk-linkserver check-audit`` as administrators run it (the installed command if there is one)."""
    installed = Path(sys.executable).with_name("kiosk-linkserver")
    program = [str(installed)] if installed.is_file() else [sys.executable, "-m", "linkserver.cli"]
    return subprocess.run([*program, "check-audit", "--config", str(config)], capture_output=True, text=True,
                          timeout=120)


def some_history(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    op = live.operation(kiosk, "unlink", verified(live, kiosk)).json()["operation_id"]
    decide(live, staff, op)


def test_check_audit_prints_only_its_verdict(live: LiveServer) -> None:
    some_history(live)
    result = check_audit_command(live.setup.config_path)
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout
    assert "alembic" not in result.stdout + result.stderr
    assert "INFO" not in result.stdout + result.stderr
