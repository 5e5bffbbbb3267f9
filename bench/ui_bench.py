"""Kiosk window benchmark: cold start to the first screen, memory over many sessions, screens and taps.

The demo linkage server runs in its own process on loopback (``kiosk-linkserver --config FILE``,
SQLite, over the data of ``linkserver.demo.prepare_demo``); the window is ``KioskWindow`` on Qt's
offscreen platform, over ``KioskCore`` and the flow, with the simulated card in process behind the
kiosk's card thread (``TimedConnection``). No pcscd is started or used.

  1  Cold start: a fresh Python process builds what ``kiosk run`` builds (the Qt application, the
     core, the window; the core's start on a worker) and prints a timestamp once the START screen
     has been shown and painted once; the time from just before ``subprocess.Popen`` to that
     timestamp, median of ``--runs``. Beside it, a fresh process that only imports
     ``PySide6.QtWidgets``.
  2  Memory: ``--sessions`` complete sessions in this process, one window (password resets and MFA
     re-registrations approved by a staff thread, link-status checks, sessions cancelled on the PIN
     screen and sessions left to the idle timeout); VmRSS, ``gc.get_objects()`` and the live
     widgets after the warm-up sessions and at checkpoints up to the end.
  3  Screens and taps: each of the six operations driven from the START screen to DONE with real
     clicks on the window's buttons (found by their accessible names); a tap is a click on a
     button, the digits and characters a user types are not counted.

It exits non-zero if a session fails, memory grows (see ``memory_verdict``), or a password reset
needs more than eight screens.

    .venv/bin/python bench/ui_bench.py [--runs N] [--sessions N] [--hierarchy DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The bench and every child it starts use Qt's offscreen platform; set before Qt is imported.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from PySide6.QtWidgets import QAbstractButton, QApplication

    from kiosk.flow import Screen, View
    from kiosk.nfc import CardConnection
    from kiosk.nfc.sim import SimulatedCard, TestHierarchy
    from kiosk.services.core import KioskCore
    from kiosk.ui.window import KioskWindow

READER = "Bench reader (in process)"
WINDOW_SIZE = (1280, 800)
#: The window's idle timeout in the sessions; the idle-timeout sessions shorten it to IDLE_MS.
IDLE_SECONDS = 120
IDLE_MS = 300
WAIT_MS = 30_000
FIRST_SCREEN = "first-screen"
#: Memory criteria: RSS may grow by this fraction from after the warm-up to the end ...
RSS_GROWTH_LIMIT = 0.20
#: ... and the Python objects must not grow linearly: they may not rise at (nearly) every checkpoint
#: with a least-squares slope above this many objects per session.
OBJECTS_PER_SESSION_LIMIT = 10.0
MAX_PASSWORD_RESET_SCREENS = 8

LINKED = "2024000001"
UNLINKED = "2024000002"
FORMER = "2019000003"
#: Operation -> (account ID, card holder, PIN); prelink's card-information PIN is the card's default.
OPERATION_CASES: dict[str, tuple[str, str, str]] = {
    "link_status": (LINKED, "linked", "1234"),
    "password_reset": (LINKED, "linked", "1234"),
    "mfa_reset": (LINKED, "linked", "1234"),
    "salvage": (FORMER, "latin", "9021"),
    "prelink": (UNLINKED, "unlinked", "2580"),
    "unlink": (LINKED, "linked", "1234"),  # last: it unlinks the card of the other rows
}
CARDINFO_PIN = "1357"
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


class SessionFailed(Exception):
    """A session that did not go as it must."""


def mark(name: str) -> None:
    print(f"{name} {time.monotonic():.6f}", flush=True)


# -- 1. cold start (the child) ----------------------------------------------------------------------


def cold_start_child(config: Path) -> int:
    """What ``kiosk run`` builds, minus PC/SC: prints a timestamp once START is shown and painted."""
    mark("started")
    from PySide6.QtCore import QEvent, QObject, QTimer

    from kiosk.config import load_config
    from kiosk.flow import Screen
    from kiosk.nfc.errors import CardAbsentError
    from kiosk.services.core import KioskCore
    from kiosk.ui.app import core_backend, create_app
    from kiosk.ui.window import KioskWindow
    mark("imported")

    settings = load_config(config)
    app = create_app(language=settings.language)
    mark("app")
    core = KioskCore.build(settings)

    def open_card() -> CardConnection:
        raise CardAbsentError("no card on the reader")

    window = KioskWindow(core_backend(core, open_card), language=settings.language,
                         idle_timeout_seconds=settings.idle_timeout_seconds, kiosk_mode=False)
    window.runner.submit(core.start, lambda _core: None, lambda _exc: None)
    page = window.page(Screen.START)
    mark("window")

    def painted() -> None:
        if window.view.screen is Screen.START and window.current_page is page and page.isVisible():
            mark(FIRST_SCREEN)
        else:
            print(f"wrong first screen: {window.view.screen.value}", flush=True)
        window.unlock_for_shutdown()
        window.close()
        app.quit()

    class FirstPaint(QObject):
        seen = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not self.seen:
                self.seen = True
                QTimer.singleShot(0, painted)  # once this paint has been done
            return False

    watcher = FirstPaint()
    page.installEventFilter(watcher)
    window.resize(*WINDOW_SIZE)
    window.show()
    code = app.exec()
    core.close()
    return code


# -- 1. cold start (the parent) ---------------------------------------------------------------------


@dataclass
class ColdRun:
    #: seconds from just before Popen to each mark of the child
    marks: dict[str, float]


def launch(command: list[str], until: str, timeout: float = 60) -> ColdRun:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=ROOT)
    marks: dict[str, float] = {}
    assert process.stdout is not None
    for line in process.stdout:
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                marks[parts[0]] = float(parts[1]) - start
        if until in marks:
            break
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    if until not in marks or process.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} exited {process.returncode} without {until!r}:\n"
                           f"{err[-3000:]}")
    return ColdRun(marks)


IMPORT_ONLY = ("import time; t = time.monotonic(); print('started', t, flush=True); "
               "import PySide6.QtWidgets; print('imported', time.monotonic(), flush=True)")


@dataclass
class ColdStart:
    runs: int
    first_screen_ms: list[float]
    first_screen_median_ms: float
    #: median ms from Popen to each of the child's marks
    phases_median_ms: dict[str, float]
    import_qtwidgets_process_ms: list[float]
    import_qtwidgets_process_median_ms: float
    import_qtwidgets_alone_median_ms: float


def cold_start(config: Path, runs: int) -> ColdStart:
    child = [sys.executable, str(Path(__file__).resolve()), "--cold-start-child", str(config)]
    screens = [launch(child, FIRST_SCREEN) for _ in range(runs)]
    imports = [launch([sys.executable, "-c", IMPORT_ONLY], "imported") for _ in range(runs)]
    ms = [r.marks[FIRST_SCREEN] * 1000 for r in screens]
    phases = {name: statistics.median(r.marks[name] * 1000 for r in screens)
              for name in ("started", "imported", "app", "window", FIRST_SCREEN)}
    import_ms = [r.marks["imported"] * 1000 for r in imports]
    alone = [(r.marks["imported"] - r.marks["started"]) * 1000 for r in imports]
    return ColdStart(runs, ms, statistics.median(ms), phases, import_ms, statistics.median(import_ms),
                     statistics.median(alone))


# -- the window at the counter ------------------------------------------------------------------------


class StaffDesk:
    """A staff member at the console (the demo's staff client), approving whatever comes in."""

    def __init__(self, base_url: str, client_id: str, key: Path) -> None:
        from kiosk.ui.devpanel import StaffConsole

        self.console = StaffConsole(base_url, client_id, key)
        self.decided = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="staff", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for op in self.console.pending():
                    self.console.decide(str(op["operation_id"]), True)
                    self.decided += 1
            except Exception as exc:  # reported at the end; the kiosk then times out waiting
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.console.close()


class Counter:
    """The kiosk window, its in-process reader slot and the bench's hands."""

    def __init__(self, app: QApplication, core: KioskCore, hierarchy: TestHierarchy, base_url: str) -> None:
        from kiosk.nfc.events import EventKind, ReaderEvent
        from kiosk.ui.app import core_backend
        from kiosk.ui.window import KioskWindow

        self.app = app
        self.hierarchy = hierarchy
        self.base_url = base_url
        self.card: SimulatedCard | None = None
        self.window: KioskWindow = KioskWindow(core_backend(core, self.open_card), language="en",
                                               idle_timeout_seconds=IDLE_SECONDS)
        self.window.resize(*WINDOW_SIZE)
        self.window.show()
        self.window.reader_event(ReaderEvent(EventKind.READER_ADDED, READER))
        self.recording: list[Screen] | None = None
        self.taps: list[str] = []
        self.window.view_shown.connect(self._shown)

    def _shown(self, view: View) -> None:
        if self.recording is not None and (not self.recording or self.recording[-1] is not view.screen):
            self.recording.append(view.screen)

    # -- the reader --

    def open_card(self) -> CardConnection:
        from kiosk.nfc import TimedConnection
        from kiosk.nfc.errors import CardAbsentError

        if self.card is None or not self.card.present:
            raise CardAbsentError("no card on the reader")
        return TimedConnection(self.card)

    def make_card(self, holder: str, cardinfo_pin: str | None = None) -> SimulatedCard:
        from kiosk.nfc.sim import CardProfile, SimulatedCard

        return SimulatedCard(CardProfile.from_holder(self.hierarchy, holder, cardinfo_pin=cardinfo_pin))

    def place(self, card: SimulatedCard) -> None:
        from kiosk.nfc.events import EventKind, ReaderEvent

        card.insert()
        self.card = card
        self.window.reader_event(ReaderEvent(EventKind.CARD_INSERTED, READER, card.atr))

    def take_off(self) -> None:
        from kiosk.nfc.events import EventKind, ReaderEvent

        card, self.card = self.card, None
        if card is not None:
            card.remove()
            self.window.reader_event(ReaderEvent(EventKind.CARD_REMOVED, READER))

    # -- waiting and tapping --

    def wait_until(self, condition: Callable[[], bool], what: str, timeout_ms: int = WAIT_MS) -> None:
        from PySide6.QtTest import QTest

        deadline = time.monotonic() + timeout_ms / 1000
        while not condition():
            if time.monotonic() > deadline:
                view = self.window.view
                raise SessionFailed(f"waited {timeout_ms} ms for {what}; on {view.screen.value}"
                                    + (f" (error {view.error} at {view.error_step})" if view.error else ""))
            QTest.qWait(5)

    def wait_for(self, screen: Screen, timeout_ms: int = WAIT_MS) -> None:
        self.wait_until(lambda: self.window.view.screen is screen and
                        self.window.current_page is self.window.page(screen), screen.value, timeout_ms)

    def button(self, name: str) -> QAbstractButton | None:
        from PySide6.QtWidgets import QAbstractButton

        page = self.window.current_page
        if page is None:
            return None
        for button in page.findChildren(QAbstractButton):
            if button.accessibleName() == name and button.isVisibleTo(page) and button.isEnabled():
                return button
        return None

    def tap(self, name: str, *, typing: bool = False) -> None:
        """Click the visible, enabled button called ``name``; a tap unless it is typing."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        self.wait_until(lambda: self.button(name) is not None, f"a button {name!r}", 10_000)
        button = self.button(name)
        assert button is not None
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        if not typing:
            self.taps.append(name)

    def type_digits(self, digits: str) -> None:
        for digit in digits:
            self.tap(f"digit {digit}", typing=True)

    def type_password(self, password: str) -> None:
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QLineEdit

        page = self.window.current_page
        assert page is not None
        entry = next(f for f in page.findChildren(QLineEdit) if f.accessibleName() == "New password")
        QTest.keyClicks(entry, password)
        self.wait_until(lambda: self.window.view.password_problems == (), "an acceptable password", 5_000)

    def check_done(self, operation: str) -> Any:
        from kiosk.flow import Screen

        self.wait_for(Screen.DONE)
        view = self.window.view
        if view.operation != operation:
            raise SessionFailed(f"DONE for {view.operation}, not {operation}")
        return view.result

    def finish(self) -> None:
        """The card taken off the reader: the next person's START screen."""
        from kiosk.flow import Screen

        self.take_off()
        self.wait_for(Screen.START)
        if self.window.view.account is not None or self.window.view.operation is not None:
            raise SessionFailed("the session was not wiped")


def start_button(operation: str) -> str:
    """The accessible name of the start screen's button for ``operation`` (its caption)."""
    from kiosk.ui.screens.entry import operation_title

    return operation_title(operation)


# -- one operation from START to DONE ----------------------------------------------------------------------


class Operations:
    """Each operation driven through the window, START to DONE, by taps and typing."""

    def __init__(self, counter: Counter, phone_sign_in: Callable[[str], None]) -> None:
        self.counter = counter
        self.phone_sign_in = phone_sign_in
        self.passwords = 0

    def up_to_pin(self, operation: str) -> str:
        """From START to the PIN pad: the operation, its account ID, the phone for pre-link, the card.

        Returns the card's PIN.
        """
        from kiosk.flow import Screen

        c = self.counter
        account, holder, pin = OPERATION_CASES[operation]
        c.tap(start_button(operation))
        c.wait_for(Screen.ACCOUNT)
        c.type_digits(account)
        c.tap("OK")
        if operation == "prelink":
            c.wait_until(lambda: c.window.view.device_user_code is not None, "the sign-in code")
            code = c.window.view.device_user_code
            assert code is not None
            # On the user's own phone, not at the kiosk: no tap counted.
            threading.Thread(target=self.phone_sign_in, args=(code,), daemon=True).start()
        c.wait_for(Screen.PLACE_CARD)
        c.place(c.make_card(holder))
        c.wait_for(Screen.PIN)
        return pin

    def run(self, operation: str) -> dict[str, Any]:
        from kiosk.flow import Screen

        c = self.counter
        c.wait_for(Screen.START)
        pin = self.up_to_pin(operation)
        c.type_digits(pin)
        c.tap("OK")
        if operation == "prelink":
            c.wait_for(Screen.CARDINFO_QUESTION)
            c.tap("No, it is different")
            c.wait_for(Screen.CARDINFO_PIN)
            c.type_digits(CARDINFO_PIN)
            c.tap("OK")
        if operation == "unlink":
            c.wait_for(Screen.UNLINK_CONFIRM)
            c.tap("Delete the link")
        if operation == "password_reset":
            c.wait_for(Screen.NEW_PASSWORD)
            self.passwords += 1
            c.type_password(f"Sakura-{self.passwords:04d}-spring")
            c.tap("Set password")
        result = c.check_done(operation)
        # What each operation's result must hold (a code, a ticket, the link) to count as done.
        expected = {"link_status": "linked", "password_reset": None, "mfa_reset": "code",
                    "salvage": "code", "prelink": None, "unlink": None}[operation]
        if result is None or (expected is not None and not getattr(result, expected, None)):
            raise SessionFailed(f"{operation}: DONE without {expected!r} in its result: {result!r}")
        c.finish()
        return result

    def cancelled(self) -> None:
        from kiosk.flow import Screen

        c = self.counter
        self.up_to_pin("link_status")
        c.type_digits("12")
        c.tap("Cancel")
        c.wait_for(Screen.START)
        c.take_off()
        c.wait_for(Screen.START)

    def idle_timeout(self) -> None:
        from kiosk.flow import Screen

        c = self.counter
        self.up_to_pin("mfa_reset")
        c.type_digits("12")
        timer = c.window.idle_timer
        timer.setInterval(IDLE_MS)  # restarts the running timer with the short allowance
        try:
            c.wait_for(Screen.START, timeout_ms=IDLE_MS + 10_000)
        finally:
            timer.setInterval(IDLE_SECONDS * 1000)
        if c.window.view.pin_digits or c.window.view.account is not None:
            raise SessionFailed("the idle timeout did not wipe the session")
        c.take_off()
        c.wait_for(Screen.START)

    def session(self, kind: str) -> None:
        if kind == "cancelled":
            self.cancelled()
        elif kind == "idle_timeout":
            self.idle_timeout()
        else:
            self.run(kind)


# -- 2. memory --------------------------------------------------------------------------------------


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


def memory_verdict(points: list[Checkpoint]) -> tuple[bool, str, dict[str, float]]:
    """Growth from the first checkpoint (after the warm-up) to the last, and whether it is a leak.

    A leak is: the reference count of None, True or False falling at every interval (a C extension
    releasing references it does not own: before Python 3.12 the interpreter aborts when one
    reaches zero);
    RSS more than RSS_GROWTH_LIMIT above the warm-up's; or the window's QObjects, the
    application's widgets or the screen widgets changing in number; or Python objects growing
    linearly: rising at all but at most one checkpoint interval with a least-squares slope above
    OBJECTS_PER_SESSION_LIMIT objects per session.
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
    if intervals >= 2 and rises >= intervals - 1 and gc_slope > OBJECTS_PER_SESSION_LIMIT:
        problems.append(f"Python objects grow linearly: +{gc_slope:.1f} per session, rising at "
                        f"{rises} of {intervals} checkpoints")
    return not problems, "; ".join(problems) or "no growth", figures


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
    ok, verdict, figures = memory_verdict(points)
    if stopped:
        ok = False
        verdict = f"{stopped}; {verdict}"
    return Memory(points[-1].sessions, warmup, kinds, seconds, points, figures["rss_growth_pct"],
                  figures["rss_kib_per_session"], figures["gc_objects_per_session"],
                  figures["gc_objects_slope"], int(figures["gc_rises"]), int(figures["gc_intervals"]),
                  ok, verdict, {name: figures[f"refs {name}"] for name in SINGLETONS}, stopped)


# -- 3. screens and taps ------------------------------------------------------------------------------


@dataclass
class OperationRow:
    operation: str
    #: the screens shown after START, to DONE included (a screen shown twice in a row counts once)
    screens: int
    distinct_screens: int
    taps: int
    typed: str
    sequence: list[str]
    tap_names: list[str]
    seconds: float


TYPED = {"link_status": "account ID, PIN", "password_reset": "account ID, PIN, new password",
         "mfa_reset": "account ID, PIN", "salvage": "account ID, PIN",
         "prelink": "account ID, PIN, card-info PIN", "unlink": "account ID, PIN"}


def screens_and_taps(ops: Operations) -> list[OperationRow]:
    from kiosk.flow import Screen

    counter = ops.counter
    rows = []
    for operation in OPERATION_CASES:
        counter.recording = []
        counter.taps = []
        start = time.monotonic()
        try:
            ops.run(operation)
        except SessionFailed as exc:
            raise SessionFailed(f"{operation}: {exc}") from exc
        seconds = time.monotonic() - start
        shown = counter.recording
        counter.recording = None
        if Screen.DONE not in shown:
            raise SessionFailed(f"{operation}: DONE never shown")
        sequence = [s for s in shown[:shown.index(Screen.DONE) + 1] if s is not Screen.START]
        rows.append(OperationRow(operation, len(sequence), len(set(sequence)), len(counter.taps),
                                 TYPED[operation], [s.value for s in sequence], list(counter.taps), seconds))
    return rows


# -- the run ----------------------------------------------------------------------------------------


def describe(args: argparse.Namespace, server_command: str, hierarchy: Path) -> None:
    mix = "\n         ".join(f"{kind}: {text}" for kind, text in SESSION_TEXT.items())
    print(f"""Kiosk window benchmark: {args.runs} cold start(s), {args.sessions} memory session(s), the six \
operations once each
Run as:  {shlex.join([sys.executable, *sys.argv])}
Qt:      QT_QPA_PLATFORM=offscreen (here and in every child), window {WINDOW_SIZE[0]}x{WINDOW_SIZE[1]}, \
language en
Server:  {server_command}
         in its own process on loopback (SQLite), the demo data of linkserver.demo.prepare_demo,
         request limits raised so that none binds.
Kiosk:   KioskWindow over KioskCore (the demo's kiosk client, default timeouts: the kiosk asks for
         the staff's decision every second) and the flow; the simulated card in this process behind
         TimedConnection (hierarchy {hierarchy}); no pcscd. Staff: a thread with the demo's staff
         client approving every pending operation (polling every 0.1 s).
Cold:    a fresh `python bench/ui_bench.py --cold-start-child CONFIG`: imports, create_app, KioskCore,
         KioskWindow, core.start on a worker, show(); it prints a CLOCK_MONOTONIC timestamp once the
         START page got its first paint event and that paint finished (a zero timer after it).
         Measured from just before subprocess.Popen; median of {args.runs}. Beside it, a fresh
         `python -c "import PySide6.QtWidgets"` (from Popen, and the import alone inside it).
Memory:  sessions in a repeating mix of
         {mix}
         checkpoints (gc.collect() first): VmRSS, len(gc.get_objects()), QApplication.allWidgets(),
         the ScreenWidget instances among them, the window's QObject children.
Taps:    each operation from START to DONE; a tap = a click on a button other than a digit or a
         character key (the account ID, the PINs and the password are typing: not counted; the
         new password is typed into its field, the prelink's sign-in happens on the user's phone).
         Screens = the screens shown after START up to DONE (the START screen itself and taking the
         card off after DONE are not counted). Limit: a password reset in at most
         {MAX_PASSWORD_RESET_SCREENS} screens.
Machine: {os.cpu_count() or 0} CPU(s), Python {platform.python_version()}, {platform.platform()}.
""", flush=True)


def print_cold(cold: ColdStart) -> None:
    print("1. Cold start to the first screen (ms from Popen, offscreen)\n")
    print(f"   START screen shown and painted: median {cold.first_screen_median_ms:8.1f}   runs: "
          + ", ".join(f"{v:.1f}" for v in cold.first_screen_ms))
    phases = cold.phases_median_ms
    print(f"     phases (medians): interpreter up {phases['started']:.1f}, kiosk + Qt imported "
          f"{phases['imported']:.1f}, QApplication {phases['app']:.1f}, core + window built "
          f"{phases['window']:.1f}, first paint {phases[FIRST_SCREEN]:.1f}")
    print(f"   python -c 'import PySide6.QtWidgets':   median {cold.import_qtwidgets_process_median_ms:8.1f}"
          "   runs: " + ", ".join(f"{v:.1f}" for v in cold.import_qtwidgets_process_ms))
    print(f"     of which the import alone: median {cold.import_qtwidgets_alone_median_ms:.1f}\n")


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
          f"   with a slope > {OBJECTS_PER_SESSION_LIMIT:g}/session")
    print(f"   {'OK' if mem.ok else 'FAILED'}: {mem.verdict}\n")


def print_rows(rows: list[OperationRow]) -> None:
    print("3. Screens and taps from START to DONE (typing excluded)\n")
    header = (f"   {'operation':15} {'screens':>7} {'distinct':>8} {'taps':>4}  {'typed (not counted)':31} "
              "screens shown / taps")
    print(header)
    print("   " + "-" * (len(header) + 40))
    for r in rows:
        print(f"   {r.operation:15} {r.screens:7d} {r.distinct_screens:8d} {r.taps:4d}  {r.typed:31} "
              + " > ".join(r.sequence))
        print(f"   {'':15} {'':7} {'':8} {'':4}  {'':31} taps: " + ", ".join(r.tap_names))
    print()


def run_window_parts(args: argparse.Namespace, core: KioskCore, hierarchy: TestHierarchy, base_url: str,
                     staff: StaffDesk) -> tuple[Memory, list[OperationRow]]:
    import httpx2

    from kiosk.ui.app import create_app
    from linkserver.demo import DEMO_PASSWORD

    app = create_app(language="en")

    def phone_sign_in(user_code: str) -> None:
        httpx2.post(base_url + "/device", data={"user_code": user_code, "account_id": UNLINKED,
                                                "password": DEMO_PASSWORD}, timeout=30)

    counter = Counter(app, core, hierarchy, base_url)
    try:
        ops = Operations(counter, phone_sign_in)
        mem = memory(ops, args.sessions)
        rows = screens_and_taps(ops)
    finally:
        counter.window.unlock_for_shutdown()
        counter.window.close()
    return mem, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold starts to time (default 5)")
    parser.add_argument("--sessions", type=int, default=100, help="memory sessions (default 100)")
    parser.add_argument("--hierarchy", type=Path, default=Path(tempfile.gettempdir()) / "kiosk-bench-jpki",
                        help="the test JPKI hierarchy folder (created if missing)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--cold-start-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold_start_child is not None:
        return cold_start_child(args.cold_start_child)
    if args.runs < 1 or args.sessions < 2:
        parser.error("--runs must be 1 or more and --sessions 2 or more")

    from bench.kiosk_bench import server_clean, write_kiosk_config
    from bench.server_process import start_server, write_bench_limits
    from kiosk.config import load_config
    from kiosk.nfc.sim import TestHierarchy
    from kiosk.services.core import KioskCore
    from linkserver.demo import prepare_demo
    from tests.linkserver.helpers import free_port

    hierarchy = TestHierarchy.ensure(args.hierarchy)
    state = Path(tempfile.mkdtemp(prefix="kiosk-ui-bench-"))
    failures: list[str] = []
    cold: ColdStart | None = None
    mem: Memory | None = None
    rows: list[OperationRow] = []
    try:
        port = free_port()
        setup = prepare_demo(state / "server", hierarchy.path, issuer=f"http://127.0.0.1:{port}")
        write_bench_limits(setup.config_path)
        server = start_server(setup.config_path, port, state / "server.log")
        try:
            describe(args, shlex.join(server.command).replace(str(state), "<state>"), hierarchy.path)
            for folder in ("cold", "kiosk"):
                (state / folder).mkdir()
            cold_config = write_kiosk_config(state / "cold", setup, hierarchy, server.base)
            config = write_kiosk_config(state / "kiosk", setup, hierarchy, server.base)
            try:
                cold = cold_start(cold_config, args.runs)
                print_cold(cold)
            except RuntimeError as exc:
                failures.append(f"cold start: {exc}")
            core = KioskCore.build(load_config(config)).start()
            staff = StaffDesk(server.base, setup.staff_id, setup.staff_key_path)
            try:
                mem, rows = run_window_parts(args, core, hierarchy, server.base, staff)
            except SessionFailed as exc:
                failures.append(str(exc))
            finally:
                staff.stop()
                core.close()
            failures += [f"staff: {e}" for e in sorted(set(staff.errors))]
        finally:
            exit_code = server.stop()
        clean, clean_detail = server_clean(server, exit_code)
    finally:
        shutil.rmtree(state, ignore_errors=True)

    if mem is not None:
        print_memory(mem)
        if not mem.ok:
            failures.append(f"memory: {mem.verdict}")
    if rows:
        print_rows(rows)
        reset = next(r for r in rows if r.operation == "password_reset")
        if reset.screens > MAX_PASSWORD_RESET_SCREENS:
            failures.append(f"a password reset needs {reset.screens} screens "
                            f"(> {MAX_PASSWORD_RESET_SCREENS})")
        print(f"password reset: {reset.screens} screens (limit {MAX_PASSWORD_RESET_SCREENS}), "
              f"{reset.taps} taps\n")
    print(f"Server: {'clean' if clean else 'NOT CLEAN'} ({clean_detail})")
    if not clean:
        failures.append(f"server: {clean_detail}")
    ok = not failures and cold is not None and mem is not None and len(rows) == len(OPERATION_CASES)
    for text in failures:
        print(f"  FAILURE: {text}")
    print("all checks passed" if ok else f"FAILED: {len(failures)} problem(s)")
    if args.json:
        args.json.write_text(json.dumps({
            "settings": {"runs": args.runs, "sessions": args.sessions, "platform": "offscreen",
                         "rss_growth_limit": RSS_GROWTH_LIMIT,
                         "objects_per_session_limit": OBJECTS_PER_SESSION_LIMIT,
                         "max_password_reset_screens": MAX_PASSWORD_RESET_SCREENS},
            "cold_start": asdict(cold) if cold else None,
            "memory": asdict(mem) if mem else None,
            "operations": [asdict(r) for r in rows],
            "failures": failures,
            "server": {"clean": clean, "detail": clean_detail},
            "ok": ok,
        }, indent=2, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
