"""The linkage-server load benchmark runs end to end: a tiny load on SQLite, every check passing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.linkserver_rows import Row, ratios
from kiosk.nfc.sim import TestHierarchy

BENCH = Path(__file__).resolve().parents[2] / "bench" / "linkserver_bench.py"
PAIRS = 5


def earlier_report(path: Path) -> dict[str, Any]:
    """A kept report of an earlier commit with one row: one SQLite worker, one kiosk."""
    row = {"code": "now", "backend": "sqlite", "workers": 1, "kiosks": 1, "offered_per_second": None,
           "verifications": 100, "seconds": 10.0, "per_second": 10.0, "pair_p50_ms": 40.0,
           "pair_p99_ms": 80.0, "verify_p50_ms": 30.0, "verify_p99_ms": 60.0, "server_cpu_ms_per_pair": 20.0,
           "server_cpu_pct": 20.0, "client_cpu_pct": 5.0, "errors": 0, "wrong_answers": 0, "error_kinds": {}}
    run = {"code": "now", "backend": "sqlite", "workers": 1, "rows": [row]}
    report = {"commit": "abc1234", "runs": [run]}
    path.write_text(json.dumps(report))
    return row


@pytest.mark.timeout(90)
def test_bench_runs_on_sqlite_and_finds_nothing_lost(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    out, before = tmp_path / "bench.json", earlier_report(tmp_path / "earlier.json")
    result = subprocess.run(
        [sys.executable, str(BENCH), "--backends", "sqlite", "--workers", "1,2", "--concurrency", "1,2",
         "--fixed-rate", "40", "--fixed-kiosks", "2", "--requests", str(PAIRS), "--warmup", "1",
         "--floor-repeat", "100", "--hierarchy", str(hierarchy.path),
         "--baseline", str(tmp_path / "earlier.json"), "--json", str(out)],
        capture_output=True, text=True, timeout=80, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    for workers in (1, 2):
        for kiosks in ("1", "2", "2@40/s"):
            assert re.search(rf"^now +sqlite +{workers} +{re.escape(kiosks)} +{PAIRS} +\d+\.\d +\d", text,
                             re.MULTILINE), text
    assert re.search(r"^floor +RSA-2048 verification, one core +\d+/s \d+\.\d{4} ms$", text,
                     re.MULTILINE), text
    assert "client-side signing" in text and "kiosk_requests_per_minute = 1000000000" in text
    for check in ("accepted verifications stored", "accepted verifications audited",
                  "audit entries >= accepted", "audit chain verifies", "no failed requests"):
        assert len(re.findall(rf"^  ok +{check}: ", text, re.MULTILINE)) == 2, text
    assert "FAIL" not in text and text.rstrip().endswith("all checks passed")

    report = json.loads(out.read_text())
    assert [(run["workers"], [(row["kiosks"], row["offered_per_second"], row["verifications"], row["errors"])
                              for row in run["rows"]]) for run in report["runs"]] == [
        (workers, [(1, None, PAIRS, 0), (2, None, PAIRS, 0), (2, 40.0, PAIRS, 0)]) for workers in (1, 2)]
    for run in report["runs"]:
        # the timed pairs of three levels, and one warm-up pair per kiosk per level
        accepted = 3 * PAIRS + 1 + 2 + 2
        assert any(c["detail"] == f"{accepted}/{accepted} in the verifications table" for c in run["checks"])
        assert all(check["ok"] for check in run["checks"])
        assert all(0 < row["server_cpu_ms_per_pair"] < 1000 for row in run["rows"]), run["rows"]

    # Only the row the earlier report has is compared, figure by figure.
    (ratio,) = report["ratios"]
    now = report["runs"][0]["rows"][0]
    assert (ratio["backend"], ratio["workers"], ratio["load"]) == ("sqlite", 1, "1")
    assert ratio["baseline"] == "abc1234"
    for figure in ("server_cpu_ms_per_pair", "per_second", "pair_p50_ms", "pair_p99_ms"):
        assert ratio[figure] == pytest.approx(now[figure] / before[figure]), figure
    assert re.search(r"^Now / before \(abc1234\)", text, re.MULTILINE)
    assert re.search(r"^sqlite +1 +1 +\d+\.\d\dx", text, re.MULTILINE), text


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


def test_a_level_run_more_than_once_is_compared_with_the_baseline_run_beside_it() -> None:
    def row(code: str, cpu: float) -> Row:
        return Row(code=code, backend="postgresql", workers=1, kiosks=8, offered_per_second=None,
                   verifications=100, seconds=1.0, per_second=100.0, pair_p50_ms=1.0, pair_p99_ms=2.0,
                   verify_p50_ms=0.5, verify_p99_ms=1.0, server_cpu_ms_per_pair=cpu, server_cpu_pct=50.0,
                   client_cpu_pct=40.0, errors=0, wrong_answers=0, error_kinds={})

    now = [row("now", 1.0), row("now", 3.0), row("now", 1.5)]
    compared = ratios(now, [row("abc1234", 2.0), row("abc1234", 4.0), row("abc1234", 1.0)])
    assert [entry["server_cpu_ms_per_pair"] for entry in compared] == [0.5, 0.75, 1.5]
    once = ratios(now, [row("abc1234", 2.0)])  # a kept baseline with one run serves every run
    assert [entry["server_cpu_ms_per_pair"] for entry in once] == [0.5, 1.5, 0.75]
