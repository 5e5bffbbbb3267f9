"""The linkage-server load benchmark runs end to end: a tiny load on SQLite, every check passing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy

BENCH = Path(__file__).resolve().parents[2] / "bench" / "linkserver_bench.py"
PAIRS = 5


@pytest.mark.timeout(60)
def test_bench_runs_on_sqlite_and_finds_nothing_lost(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--backends", "sqlite", "--concurrency", "1,2",
         "--requests", str(PAIRS), "--warmup", "1", "--floor-repeat", "100",
         "--hierarchy", str(hierarchy.path), "--json", str(out)],
        capture_output=True, text=True, timeout=50, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    for kiosks in (1, 2):
        assert re.search(rf"^sqlite +{kiosks} +{PAIRS} +\d+\.\d +\d", text, re.MULTILINE), text
    assert re.search(r"^floor +\d+ +\d+\.\d{4} +1x$", text, re.MULTILINE), text
    assert "client-side signing" in text and "kiosk_requests_per_minute = 1000000000" in text
    for check in ("accepted verifications stored", "accepted verifications audited",
                  "audit entries >= accepted", "audit chain verifies", "no failed requests"):
        assert re.search(rf"^  ok +{check}: ", text, re.MULTILINE), text
    assert "FAIL" not in text and text.rstrip().endswith("all checks passed")

    report = json.loads(out.read_text())
    (run,) = report["runs"]
    assert [(row["kiosks"], row["verifications"], row["errors"]) for row in run["rows"]] == [
        (1, PAIRS, 0), (2, PAIRS, 0)]
    accepted = 2 * PAIRS + 1 + 2  # the timed pairs and one warm-up pair per kiosk per level
    assert f"{accepted}/{accepted} in the verifications table" in text
    assert all(check["ok"] for check in run["checks"])
