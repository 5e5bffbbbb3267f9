"""The window benchmark runs end to end with tiny settings: one cold start, six sessions, the table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ui_bench.py"
OPERATIONS = ("link_status", "password_reset", "mfa_reset", "salvage", "prelink", "unlink")
PROBE = ("import sys\nfrom PySide6.QtCore import QObject, Signal\n"
         "class A(QObject):\n    s = Signal()\n"
         "a = A()\nbefore = sys.getrefcount(True)\nfor _ in range(100):\n    a.s.emit()\n"
         "print(before - sys.getrefcount(True))\n")


def emit_releases_true() -> bool:
    """Whether this PySide6 releases a reference to True it does not hold on every emit()."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=30,
                         check=False, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    return out.returncode != 0 or int(out.stdout.strip() or 0) >= 50


@pytest.mark.timeout(90)
def test_ui_bench_reports_cold_start_memory_and_the_operations_table(
        tmp_path: Path, hierarchy: TestHierarchy) -> None:
    out = tmp_path / "ui.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--runs", "1", "--sessions", "6", "--hierarchy", str(hierarchy.path),
         "--json", str(out)],
        capture_output=True, text=True, timeout=80, check=False,
    )
    text = result.stdout
    report = json.loads(out.read_text())
    if emit_releases_true():
        # A PySide6 refcount bug (fatal before Python 3.12): the bench must name it, and only it.
        assert result.returncode == 1, text + result.stderr
        assert report["failures"] and all("reference count" in f for f in report["failures"]), text
    else:
        # Six sessions are too few to judge growth (caches still fill): the full run judges that.
        # Here every check but the growth one must pass.
        assert result.returncode in (0, 1), text + result.stderr
        assert all(f.startswith("memory: Python objects grow") for f in report["failures"]), text
    assert "QT_QPA_PLATFORM=offscreen" in text and "kiosk-linkserver --config" in text, text
    assert re.search(r"START screen shown and painted: median +\d+\.\d", text), text
    assert re.search(r"import PySide6\.QtWidgets'?: +median +\d+\.\d", text), text
    assert "2. Memory over 6 sessions" in text, text
    for operation in OPERATIONS:
        assert re.search(rf"^   {operation} +\d+ +\d+ +\d+  ", text, re.MULTILINE), text
    assert re.search(r"^   password_reset +[1-8] ", text, re.MULTILINE), text
    assert re.search(r"^Server: clean ", text, re.MULTILINE), text

    assert report["cold_start"]["first_screen_median_ms"] > 0
    assert report["memory"]["sessions"] == 6 and len(report["memory"]["checkpoints"]) >= 2
    rows = {row["operation"]: row for row in report["operations"]}
    assert list(rows) == list(OPERATIONS)
    assert rows["password_reset"]["screens"] <= 8 and rows["password_reset"]["taps"] >= 3
    assert rows["link_status"]["sequence"][-1] == "done"
