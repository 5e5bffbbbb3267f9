"""The load benchmark's rows, and their ratios to an earlier run's.

A ``Row`` is one level's figures for one server (its code, database and workers); ``ratios``
divides this tree's rows by the baseline's rows for the same database, workers and load, whether
the baseline ran in the same run (``--baseline-commit``) or comes from a kept JSON report
(``--baseline``, read by ``read_baseline``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.linkserver_codes import NOW


@dataclass(frozen=True)
class Load:
    """A level: ``kiosks`` at once, each sending its next pair as soon as the last is answered, or
    with ``rate``, pairs offered at that many per second in all, each at its scheduled time."""

    kiosks: int
    rate: float | None = None

    @property
    def name(self) -> str:
        return f"{self.kiosks}" if self.rate is None else f"{self.kiosks}@{self.rate:g}/s"


@dataclass
class Row:
    #: "now" (this tree's server) or the earlier commit the baseline ran
    code: str
    backend: str
    workers: int
    kiosks: int
    #: pairs per second offered in all (a fixed load), or None (a closed load)
    offered_per_second: float | None
    verifications: int
    seconds: float
    per_second: float
    pair_p50_ms: float
    pair_p99_ms: float
    verify_p50_ms: float
    verify_p99_ms: float
    #: CPU time of the server process and its workers per timed pair, from their own counters
    server_cpu_ms_per_pair: float
    #: CPU used by the server (with its workers) and by this load generator, in % of one core
    server_cpu_pct: float
    client_cpu_pct: float
    errors: int
    wrong_answers: int
    error_kinds: dict[str, int]

    @property
    def load(self) -> str:
        return Load(self.kiosks, self.offered_per_second).name


#: The figures compared with the baseline, and whether a smaller one is better.
RATIO_FIGURES = (("server_cpu_ms_per_pair", True), ("per_second", False), ("pair_p50_ms", True),
                 ("pair_p99_ms", True))


def row_key(row: Row) -> tuple[str, int, int, float | None]:
    return row.backend, row.workers, row.kiosks, row.offered_per_second


def ratios(rows: list[Row], baseline: list[Row]) -> list[dict[str, Any]]:
    """Each of this tree's rows with a baseline row for the same backend, workers and load: every
    compared figure divided by the baseline's. A level run more than once (``--workers 1,1,1``)
    is compared run by run: the n-th run of this tree with the n-th of the baseline, which ran
    beside it; a baseline read from a file with one run of the level serves every run."""
    before: dict[tuple[str, int, int, float | None], list[Row]] = {}
    for row in baseline:
        before.setdefault(row_key(row), []).append(row)
    seen: dict[tuple[str, int, int, float | None], int] = {}
    compared = []
    for row in rows:
        key = row_key(row)
        if not (runs := before.get(key)):
            continue
        turn = seen[key] = seen.get(key, -1) + 1
        earlier = runs[min(turn, len(runs) - 1)]
        entry: dict[str, Any] = {"backend": row.backend, "workers": row.workers, "load": row.load,
                                 "baseline": earlier.code}
        for name, _ in RATIO_FIGURES:
            now, then = getattr(row, name), getattr(earlier, name)
            entry[name] = now / then if then and not math.isnan(then) else math.nan
        compared.append(entry)
    return compared


def print_ratios(compared: list[dict[str, Any]]) -> None:
    if not compared:
        return
    print(f"\nNow / before ({compared[0]['baseline']}): below 1 is better for the CPU and the latencies, "
          "above 1 for pairs/s")
    header = (f"{'backend':10} {'workers':>7} {'kiosks':>9} {'srv ms/pair':>11} {'pairs/s':>8} "
              f"{'pair p50':>9} {'pair p99':>9}")
    print(header)
    print("-" * len(header))
    for entry in compared:
        print(f"{entry['backend']:10} {entry['workers']:7d} {entry['load']:>9} "
              f"{entry['server_cpu_ms_per_pair']:10.2f}x {entry['per_second']:7.2f}x "
              f"{entry['pair_p50_ms']:8.2f}x {entry['pair_p99_ms']:8.2f}x")


def read_baseline(path: Path) -> list[Row]:
    """An earlier JSON report's rows to compare with: its baseline commit's rows when it ran one,
    else its own, named by the commit it ran."""
    try:
        report = json.loads(path.read_text("utf-8"))
        runs = report["runs"]
        commit = report.get("commit", "earlier")
        rows = [Row(**{**row, "code": row["code"] if row["code"] != NOW.label else commit})
                for run in runs for row in run["rows"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"--baseline {path}: not a report of this benchmark ({exc})") from exc
    earlier = [row for row in rows if row.code != report.get("commit")]
    return earlier or rows
