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


MIX_ROUNDS = 8


@pytest.mark.timeout(90)
def test_the_mix_bench_runs_on_sqlite_with_no_5xx_and_the_chain_whole(tmp_path: Path,
                                                                      hierarchy: TestHierarchy) -> None:
    out = tmp_path / "mix.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--mix", "--backends", "sqlite", "--workers", "1", "--concurrency", "2",
         "--rounds", str(MIX_ROUNDS), "--hierarchy", str(hierarchy.path), "--json", str(out)],
        capture_output=True, text=True, timeout=80, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   no 5xx: 0 in all" in result.stdout
    assert "ok   the audit chain verifies (sqlite, 1 worker(s))" in result.stdout
    report = json.loads(out.read_text())
    (row,) = report["rows"]
    assert (row["backend"], row["workers"], row["kiosks"]) == ("sqlite", 1, 2)
    assert (row["server_errors"], row["wrong_answers"], row["error_kinds"]) == (0, 0, {})
    # Every round makes a challenge and a verification; what follows them depends on the draw.
    assert set(row["latency_ms"]) >= {"challenge", "verification", "operation"}
    assert row["requests"] >= 2 * 2 * MIX_ROUNDS
    spreads = row["latency_ms"].values()
    assert all(len(spread) == 3 and spread[0] <= spread[1] <= spread[2] for spread in spreads)
    assert row["rss_end_mb"] > 0 and row["rss_start_mb"] > 0
    assert report["chains"] == {"sqlite, 1 worker(s)": True}
