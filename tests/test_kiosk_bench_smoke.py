"""The kiosk benchmark runs end to end: two sessions with no card latency, the card in process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy

BENCH = Path(__file__).resolve().parents[1] / "bench" / "kiosk_bench.py"
SESSIONS = 2
MS = r"-?\d+\.\d\d"
APDUS = r"\d+(?:-\d+)?"


@pytest.mark.timeout(60)
def test_kiosk_bench_reports_both_steps_beside_their_floors(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--repeat", str(SESSIONS), "--latency", "none",
         "--transport", "inprocess", "--hierarchy", str(hierarchy.path), "--json", str(out)],
        capture_output=True, text=True, timeout=45, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    assert f"{SESSIONS} timed session(s) per latency setting" in text, text
    assert "TimedConnection" in text and "kiosk-linkserver --config" in text, text
    for step, minimum in (("A card placed -> PIN ready", 5), ("B PIN submitted -> result", 3)):
        pattern = (rf"^none +{re.escape(step)} +{APDUS} +{minimum} +{MS} +{MS} +{MS} +{MS} +{MS} "
                   rf"+-?\d+\.\d% +{MS}$")
        assert re.search(pattern, text, re.MULTILINE), text
    for part, minimum in (("card reads", "5"), ("challenge", "-"), ("card VERIFY", "1"),
                          ("card SIGN", "2"), ("verification", "-")):
        apdus = APDUS if minimum != "-" else "-"
        assert re.search(rf"^none +{part} +{apdus} +{minimum} +{MS} +{MS}  \S", text, re.MULTILINE), text
    # The whole session's APDUs, counted in the simulated card's APDU log, beside the fewest a
    # reader could send (certificate 3, tries left 2, VERIFY 1, SIGN 2).
    assert re.search(rf"^none +whole session +{SESSIONS} +{APDUS} +8  \S", text, re.MULTILINE), text
    assert "typical NFC  " not in text and "behind a real pcscd" not in text, text
    # The linkage client's ways out, timed here and not in its tests, each beside its floor.
    ways = [("closed port", "ServerUnreachable"), ("silent server", "ServerUnreachable"),
            ("cancelled wait", "Cancelled"), ("cancel_operation", "(status cancelled)")]
    for way, error in ways:
        assert re.search(rf"^{way} +{re.escape(error)} +\d+ +{MS} +{MS}$", text, re.MULTILINE), text
    assert re.search(r"^Server: clean ", text, re.MULTILINE), text
    assert text.rstrip().endswith("all sessions passed"), text

    report = json.loads(out.read_text())
    assert report["ok"] is True and report["failures"] == {"none": {}}
    assert report["settings"]["transport"] == "inprocess"
    assert [(row["latency"], row["step"][0], row["sessions"]) for row in report["steps"]] == [
        ("none", "A", SESSIONS), ("none", "B", SESSIONS)]
    for row in report["steps"]:
        assert row["median_ms"] > 0 and row["floor_median_ms"] > 0
        assert row["overhead_ms"] == pytest.approx(row["median_ms"] - row["floor_median_ms"])
    assert [row["part"] for row in report["parts"]] == [
        "card reads", "challenge", "card VERIFY", "card SIGN", "verification"]
    assert [(row["way"], row["error"]) for row in report["exits"]] == ways
    assert [row["floor_ms"] for row in report["exits"]] == pytest.approx([600, 610, 0, 0])
    assert all(0 < row["median_ms"] <= row["max_ms"] for row in report["exits"])
    [whole] = report["whole_sessions"]
    assert (whole["latency"], whole["sessions"], whole["minimum"]) == ("none", SESSIONS, 8)
    assert whole["minimum"] <= whole["apdus_min"] <= whole["apdus_max"] <= 10


@pytest.mark.timeout(120)
def test_card_bench_prints_what_it_measured_when_a_transport_fails(tmp_path: Path) -> None:
    """pcscd cannot start (no ``unshare`` on the PATH): the in-process rows are still printed."""
    out = tmp_path / "rows.json"
    result = subprocess.run(
        [sys.executable, str(BENCH.with_name("card_bench.py")), "--repeat", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=100, check=False,
        env={"PATH": str(tmp_path), "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stopped after 16 step rows and 26 fault rows" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(out.read_text())
    rows, faults = report["steps"], report["faults"]
    assert {row["transport"] for row in rows} == {"in process"} and len(rows) == 16
    steps = re.findall(r"^in process +(?:extended|chunked) ", result.stdout, re.MULTILINE)
    assert len(steps) == 16, result.stdout
    # Each fault on each instruction, in process, ends in the one code tests/test_hostile_card.py
    # expects, and its time is reported beside the card thread's deadline.
    expected = {"remove": "card.removed", "silence": "card.timeout", "status": "card.unexpected_status"}
    assert len(faults) == 26 and {row["transport"] for row in faults} == {"in process"}
    for row in faults:
        assert row["code"] == expected.get(row["fault"], "card.malformed_response"), row
        assert row["deadline_ms"] == 500 and 0 < row["median_ms"] <= row["max_ms"], row
        line = rf"^in process +{row['fault']} +{row['instruction']} +{re.escape(row['code'])} "
        line += rf" +500 +{MS} +{MS}$"
        assert re.search(line, result.stdout, re.MULTILINE), result.stdout
