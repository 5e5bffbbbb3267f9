"""The window benchmark runs end to end with tiny settings: one cold start, six sessions, the table.

Six sessions are too few to judge the growth of Python objects (caches still fill): the bench says
it did not judge it, and every other check must pass. A PySide6 that releases references it does
not own (6.12.0; pyproject.toml pins below it) fails the run, naming the reference count."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kiosk.nfc.sim import TestHierarchy

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ui_bench.py"
NOT_JUDGED = "(Python objects not judged over 3 session(s) after the warm-up: 20 at least)"
OPERATIONS = ("link_status", "password_reset", "mfa_reset", "salvage", "prelink", "unlink")


def load_bench() -> Any:
    spec = importlib.util.spec_from_file_location("ui_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ui_bench"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_the_memory_verdict_tells_a_steady_reference_drain_from_a_one_off_drop() -> None:
    bench = load_bench()

    def points(nones: list[int]) -> list[Any]:
        return [bench.Checkpoint(3 + i, 100_000, 150_000, 40, 12, 300,
                                 {"None": n, "True": 16_000, "False": 18_000}) for i, n in enumerate(nones)]

    ok, verdict, _ = bench.memory_verdict(points([79_427, 79_433, 79_432, 79_433]))
    assert ok and verdict == "no growth"
    # Something held at the first checkpoint and freed later: once, not a leak.
    ok, verdict, _ = bench.memory_verdict(points([79_427, 79_416, 79_417, 79_416]))
    assert ok, verdict
    # Four references released at every session: the interpreter will abort one day.
    ok, verdict, figures = bench.memory_verdict(points([79_427, 79_423, 79_419, 79_415]))
    assert not ok and "reference count of None falls by 4 per session" in verdict
    assert figures["refs None"] == -4
    # Objects rising at every checkpoint: a leak when judged, not over too few sessions.
    growing = [bench.Checkpoint(3 + i, 100_000, 150_000 + 30 * i, 40, 12, 300,
                                {"None": 79_427, "True": 16_000, "False": 18_000}) for i in range(4)]
    ok, verdict, _ = bench.memory_verdict(growing)
    assert not ok
    assert verdict == "Python objects grow linearly: +30.0 per session, rising at 3 of 3 checkpoints"
    ok, verdict, _ = bench.memory_verdict(growing, judge_objects=False)
    assert ok and verdict == f"no growth {NOT_JUDGED}"


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
    assert result.returncode == 0, text + result.stderr
    assert report["ok"] is True and report["failures"] == [], text
    assert report["memory"]["verdict"] == f"no growth {NOT_JUDGED}", text
    assert text.rstrip().endswith("all checks passed"), text
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
