"""The code checks that keep the project readable: ruff and mypy (strict) are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import repo_root


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).with_name(name)
    return subprocess.run([str(tool), *args], cwd=repo_root(), capture_output=True, text=True,
                          timeout=300)


def test_ruff_is_clean() -> None:
    result = run_tool("ruff", "check", "kiosk", "linkserver", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_tool("mypy", "linkserver/linkserver")
    assert result.returncode == 0, result.stdout + result.stderr
