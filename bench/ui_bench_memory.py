"""The window benchmark's memory part: many sessions in one window, checkpoints of RSS, Python
objects, widgets and the reference counts of None, True and False, and the verdict on growth."""

from __future__ import annotations

import gc
import itertools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.ui_bench_counter import IDLE_MS, Counter, Operations, SessionFailed

#: Memory criteria: RSS may grow by this fraction from after the warm-up to the end ...
RSS_GROWTH_LIMIT = 0.20
#: ... and the Python objects must not grow linearly: they may not rise at (nearly) every checkpoint
#: with a least-squares slope above this many objects per session.
OBJECTS_PER_SESSION_LIMIT = 10.0
#: ... judged only over at least this many sessions after the warm-up: over fewer, caches still fill
#: (a run of a few sessions rises at every checkpoint), so the growth of Python objects is not judged.
MIN_SESSIONS_TO_JUDGE_OBJECTS = 20
#: One round of the memory sessions (repeated): the kinds in the order they run.
SESSION_MIX = ("password_reset", "link_status", "mfa_reset", "cancelled", "link_status",
               "idle_timeout", "link_status", "password_reset", "mfa_reset", "link_status")
SESSION_TEXT = {
    "link_status": "link status (no staff) to DONE, card taken off",
    "password_reset": "password reset approved by the staff thread, new password typed, DONE",
    "mfa_reset": "MFA re-registration approved by the staff thread, DONE",
    "cancelled": "link status cancelled by a tap on the PIN screen (2 digits typed)",
    "idle_timeout": "MFA re-registration left on the PIN screen until the idle timeout "
                    f"({IDLE_MS} ms there)",
}


@dataclass
class Checkpoint:
    sessions: int
    rss_kib: int
    gc_objects: int
    widgets: int
    screen_widgets: int
    window_qobjects: int
    #: sys.getrefcount of None, True and False (not immortal before Python 3.12)
    singleton_refs: dict[str, int] = field(default_factory=dict)


@dataclass
class Memory:
    sessions: int
    warmup: int
    kinds: dict[str, int]
    seconds: float
    checkpoints: list[Checkpoint]
    rss_growth_pct: float
    rss_kib_per_session: float
    gc_objects_per_session: float
    gc_objects_slope: float
    gc_rises: int
    gc_intervals: int
    ok: bool
    verdict: str
    #: None, True, False: change of sys.getrefcount per session after the warm-up
    singleton_refs_per_session: dict[str, float] = field(default_factory=dict)
    #: why the sessions stopped before --sessions, if they did
    stopped: str | None = None


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def checkpoint(counter: Counter, sessions: int) -> Checkpoint:
    from PySide6.QtCore import QCoreApplication, QEvent, QObject
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from kiosk.ui.base import ScreenWidget

    QTest.qWait(20)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    widgets = QApplication.allWidgets()
    return Checkpoint(sessions, rss_kib(), len(gc.get_objects()), len(widgets),
                      sum(isinstance(w, ScreenWidget) for w in widgets),
                      len(counter.window.findChildren(QObject)), singleton_refs())


SINGLETONS: dict[str, object] = {"None": None, "True": True, "False": False}
#: Sessions' worth of references of None, True and False kept in hand (the operations' table after).
REF_MARGIN_SESSIONS = 20


def singleton_refs() -> dict[str, int]:
    return {name: sys.getrefcount(value) for name, value in SINGLETONS.items()}


def slope(points: list[tuple[int, int]]) -> float:
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def memory_verdict(points: list[Checkpoint],
                   judge_objects: bool = True) -> tuple[bool, str, dict[str, float]]:
    """Growth from the first checkpoint (after the warm-up) to the last, and whether it is a leak.

    A leak is: the reference count of None, True or False falling at every interval (a C extension
    releasing references it does not own: before Python 3.12 the interpreter aborts when one
    reaches zero);
    RSS more than RSS_GROWTH_LIMIT above the warm-up's; or the window's QObjects, the
    application's widgets or the screen widgets changing in number; or Python objects growing
    linearly: rising at all but at most one checkpoint interval with a least-squares slope above
    OBJECTS_PER_SESSION_LIMIT objects per session (unless ``judge_objects`` is false: too few
    sessions to tell; the verdict says so).
    """
    first, last = points[0], points[-1]
    done = max(1, last.sessions - first.sessions)
    rises = sum(b.gc_objects > a.gc_objects for a, b in itertools.pairwise(points))
    intervals = len(points) - 1
    gc_slope = slope([(p.sessions, p.gc_objects) for p in points])
    figures = {"rss_growth_pct": (last.rss_kib - first.rss_kib) / first.rss_kib * 100,
               "rss_kib_per_session": (last.rss_kib - first.rss_kib) / done,
               "gc_objects_per_session": (last.gc_objects - first.gc_objects) / done,
               "gc_objects_slope": gc_slope, "gc_rises": rises, "gc_intervals": intervals}
    problems = []
    for name in SINGLETONS:
        change = (last.singleton_refs[name] - first.singleton_refs[name]) / done
        figures[f"refs {name}"] = change
        # Objects freed late (a worker's last frame, a closed connection) lower these counts once;
        # a C extension releasing what it does not hold lowers them at every interval.
        falls_throughout = all(b.singleton_refs[name] < a.singleton_refs[name]
                               for a, b in itertools.pairwise(points))
        if change < -1 and falls_throughout:
            problems.append(f"the reference count of {name} falls by {-change:.0f} per session "
                            f"({first.singleton_refs[name]} -> {last.singleton_refs[name]}): a C extension "
                            "releases references it does not hold")
    if last.rss_kib > first.rss_kib * (1 + RSS_GROWTH_LIMIT):
        problems.append(f"RSS grew {figures['rss_growth_pct']:.1f}% (> {RSS_GROWTH_LIMIT:.0%})")
    for name in ("screen_widgets", "widgets", "window_qobjects"):
        values = sorted({getattr(p, name) for p in points})
        if len(values) > 1:
            problems.append(f"{name} changed: {values[0]}..{values[-1]}")
    if judge_objects and intervals >= 2 and rises >= intervals - 1 and gc_slope > OBJECTS_PER_SESSION_LIMIT:
        problems.append(f"Python objects grow linearly: +{gc_slope:.1f} per session, rising at "
                        f"{rises} of {intervals} checkpoints")
    verdict = "; ".join(problems) or "no growth"
    if not judge_objects:
        verdict += (f" (Python objects not judged over {done} session(s) after the warm-up: "
                    f"{MIN_SESSIONS_TO_JUDGE_OBJECTS} at least)")
    return not problems, verdict, figures


def memory(ops: Operations, sessions: int) -> Memory:
    warmup = 10 if sessions >= 20 else max(1, sessions // 2)
    step = 10 if sessions - warmup >= 20 else 1
    kinds: dict[str, int] = {}
    points: list[Checkpoint] = []
    start = time.monotonic()
    stopped: str | None = None
    refs = singleton_refs()
    drain = dict.fromkeys(SINGLETONS, 0)
    for n in range(sessions):
        kind = SESSION_MIX[n % len(SESSION_MIX)]
        try:
            ops.session(kind)
        except SessionFailed as exc:
            raise SessionFailed(f"memory session {n + 1} ({kind}): {exc}") from exc
        kinds[kind] = kinds.get(kind, 0) + 1
        done = n + 1
        if done >= warmup and ((done - warmup) % step == 0 or done == sessions):
            points.append(checkpoint(ops.counter, done))
        print(f"  session {done}/{sessions} {kind}: ok", file=sys.stderr, flush=True)
        now = singleton_refs()
        for name in SINGLETONS:
            drain[name] = max(drain[name], refs[name] - now[name])
        refs = now
        short = [name for name in SINGLETONS if now[name] <= drain[name] * REF_MARGIN_SESSIONS]
        if short and done < sessions:
            stopped = (f"stopped after {done} sessions: the reference count of {', '.join(short)} fell to "
                       + ", ".join(f"{now[name]}" for name in short) + " (up to "
                       + ", ".join(f"{drain[name]}" for name in short) + " per session); the interpreter "
                       "would abort when it reaches zero")
            if not points or points[-1].sessions != done:
                points.append(checkpoint(ops.counter, done))
            break
    seconds = time.monotonic() - start
    if len(points) < 2:
        points.insert(0, points[0]) if points else points.append(checkpoint(ops.counter, sessions))
    judged = points[-1].sessions - warmup >= MIN_SESSIONS_TO_JUDGE_OBJECTS
    ok, verdict, figures = memory_verdict(points, judged)
    if stopped:
        ok = False
        verdict = f"{stopped}; {verdict}"
    return Memory(points[-1].sessions, warmup, kinds, seconds, points, figures["rss_growth_pct"],
                  figures["rss_kib_per_session"], figures["gc_objects_per_session"],
                  figures["gc_objects_slope"], int(figures["gc_rises"]), int(figures["gc_intervals"]),
                  ok, verdict, {name: figures[f"refs {name}"] for name in SINGLETONS}, stopped)


def print_memory(mem: Memory) -> None:
    print(f"2. Memory over {mem.sessions} sessions ({mem.warmup} warm-up; "
          + ", ".join(f"{k} {v}" for k, v in mem.kinds.items()) + f"; {mem.seconds:.1f} s)\n")
    header = (f"   {'after':>8} {'VmRSS KiB':>10} {'gc objects':>11} {'widgets':>8} {'screens':>8} "
              f"{'window QObj':>12} {'refs None':>10} {'refs True':>10}")
    print(header)
    print("   " + "-" * (len(header) - 3))
    for p in mem.checkpoints:
        print(f"   {p.sessions:8d} {p.rss_kib:10d} {p.gc_objects:11d} {p.widgets:8d} {p.screen_widgets:8d} "
              f"{p.window_qobjects:12d} {p.singleton_refs['None']:10d} {p.singleton_refs['True']:10d}")
    print(f"\n   growth after the warm-up: RSS {mem.rss_growth_pct:+.2f}% "
          f"({mem.rss_kib_per_session:+.1f} KiB per session),\n"
          f"   gc objects {mem.gc_objects_per_session:+.2f} per session (slope {mem.gc_objects_slope:+.2f}, "
          f"rising at {mem.gc_rises} of {mem.gc_intervals} checkpoint intervals)")
    print("   reference counts per session: "
          + ", ".join(f"{name} {change:+.1f}" for name, change in mem.singleton_refs_per_session.items()))
    print(f"   criterion: RSS <= +{RSS_GROWTH_LIMIT:.0%}, widget and QObject counts unchanged,\n"
          f"   None/True/False reference counts not falling, gc objects not rising at all but one interval\n"
          f"   with a slope > {OBJECTS_PER_SESSION_LIMIT:g}/session (judged over "
          f"{MIN_SESSIONS_TO_JUDGE_OBJECTS} sessions after the warm-up at least)")
    print(f"   {'OK' if mem.ok else 'FAILED'}: {mem.verdict}\n")
