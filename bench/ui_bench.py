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
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

# The bench and every child it starts use Qt's offscreen platform; set before Qt is imported.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ui_bench_counter import (  # noqa: E402
    OPERATION_CASES,
    UNLINKED,
    WINDOW_SIZE,
    Counter,
    Operations,
    SessionFailed,
    StaffDesk,
)
from bench.ui_bench_memory import (  # noqa: E402
    OBJECTS_PER_SESSION_LIMIT,
    RSS_GROWTH_LIMIT,
    SESSION_TEXT,
    Memory,
    memory,
    print_memory,
)

# The memory checkpoints and their verdict, also reachable from here (this script's own names).
from bench.ui_bench_memory import Checkpoint as Checkpoint  # noqa: E402
from bench.ui_bench_memory import memory_verdict as memory_verdict  # noqa: E402

if TYPE_CHECKING:
    from kiosk.nfc import CardConnection
    from kiosk.nfc.sim import TestHierarchy
    from kiosk.services.core import KioskCore

FIRST_SCREEN = "first-screen"
MAX_PASSWORD_RESET_SCREENS = 8


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
    app = create_app()
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

    app = create_app()

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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold starts to time (default 5)")
    parser.add_argument("--sessions", type=int, default=100, help="memory sessions (default 100)")
    parser.add_argument("--hierarchy", type=Path, default=Path(tempfile.gettempdir()) / "kiosk-bench-jpki",
                        help="the test JPKI hierarchy folder (created if missing)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--cold-start-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold_start_child is None and (args.runs < 1 or args.sessions < 2):
        parser.error("--runs must be 1 or more and --sessions 2 or more")
    return args


@dataclass
class Results:
    """What the three parts measured, the problems met on the way, and how the server ended."""

    cold: ColdStart | None = None
    mem: Memory | None = None
    rows: list[OperationRow] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    clean: bool = False
    clean_detail: str = ""


def run_bench(args: argparse.Namespace) -> Results:
    """Start the demo server, then time the cold starts and drive the window in this process."""
    from bench.kiosk_bench import server_clean, write_kiosk_config
    from bench.server_process import start_server, write_bench_limits
    from kiosk.config import load_config
    from kiosk.nfc.sim import TestHierarchy
    from kiosk.services.core import KioskCore
    from linkserver.demo import prepare_demo
    from tests.linkserver.helpers import free_port

    hierarchy = TestHierarchy.ensure(args.hierarchy)
    state = Path(tempfile.mkdtemp(prefix="kiosk-ui-bench-"))
    results = Results()
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
                results.cold = cold_start(cold_config, args.runs)
                print_cold(results.cold)
            except RuntimeError as exc:
                results.failures.append(f"cold start: {exc}")
            core = KioskCore.build(load_config(config)).start()
            staff = StaffDesk(server.base, setup.staff_id, setup.staff_key_path)
            try:
                results.mem, results.rows = run_window_parts(args, core, hierarchy, server.base, staff)
            except SessionFailed as exc:
                results.failures.append(str(exc))
            finally:
                staff.stop()
                core.close()
            results.failures += [f"staff: {e}" for e in sorted(set(staff.errors))]
        finally:
            exit_code = server.stop()
        results.clean, results.clean_detail = server_clean(server, exit_code)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return results


def report(args: argparse.Namespace, results: Results) -> bool:
    """Print the memory and operations tables and the verdict (and write the JSON when asked)."""
    cold, mem, rows, failures = results.cold, results.mem, results.rows, results.failures
    clean, clean_detail = results.clean, results.clean_detail
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
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cold_start_child is not None:
        return cold_start_child(args.cold_start_child)
    return 0 if report(args, run_bench(args)) else 1


if __name__ == "__main__":
    sys.exit(main())
