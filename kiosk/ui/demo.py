"""``kiosk demo``: the whole counter on one machine, for trying the kiosk and for development.

The reference linkage server runs as a separate process (the kiosk never imports it), the
simulated card behind pcscd's vpcd reader (or in process when pcscd cannot be used), with a kiosk
configuration of its own, the window, and the developer panel that puts cards on the reader and
answers as staff. ``kiosk run`` never loads this module.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import segno
from PySide6.QtGui import QGuiApplication

from kiosk.config import load_config, write_config
from kiosk.linkage.readiness import wait_until_healthy
from kiosk.nfc import CardConnection, TimedConnection
from kiosk.nfc.errors import CardAbsentError
from kiosk.nfc.events import EventKind, ReaderEvent
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.nfc.sim.pcscd import stop_process
from kiosk.stopping import last_resort
from kiosk.ui.app import core_backend, create_app, dispose, finish_qt, signals_quit
from kiosk.ui.window import KioskWindow

if TYPE_CHECKING:
    from kiosk.ui.devpanel import DevPanel

logger = logging.getLogger(__name__)

DEMO_KIOSK_ID = "kiosk-demo-01"
DEMO_STAFF_ID = "staff-automation-demo"
#: Where the demo server writes the staff console's address and its desk member's sign-in.
CONSOLE_SIGN_IN_FILE = "staff-console.txt"
DEMO_WINDOW_SIZE = (1280, 800)
IN_PROCESS_READER = "Simulated reader (in process)"
SERVER_START_SECONDS = 60.0
PR_SET_PDEATHSIG = 1


# -- kiosk demo: the reference server ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before exec: Linux ends it when the demo ends, even if the demo was killed."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class DemoServer:
    """``kiosk-linkserver --demo`` in a child process, with its state folder."""

    def __init__(self, state: Path, process: subprocess.Popen[bytes], base_url: str) -> None:
        self.state = state
        self.process = process
        self.base_url = base_url

    @classmethod
    def start(cls, state: Path, hierarchy_dir: Path, *, timeout: float = SERVER_START_SECONDS) -> DemoServer:

        command = Path(sys.executable).with_name("kiosk-linkserver")
        program = str(command) if command.is_file() else shutil.which("kiosk-linkserver")
        if program is None:
            raise RuntimeError("the reference server (kiosk-linkserver) is not installed; run scripts/setup")
        port = free_port()
        state.mkdir(parents=True, exist_ok=True)
        log = state.parent / "linkserver.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [program, "--demo", "--host", "127.0.0.1", "--port", str(port), "--state", str(state),
                 "--hierarchy", str(hierarchy_dir), "--log-level", "warning"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        server = cls(state, process, f"http://127.0.0.1:{port}")
        try:
            healthy = wait_until_healthy(server.base_url, timeout=timeout,
                                         alive=lambda: process.poll() is None)
        except BaseException:  # a signal while it starts: it must not write on into a folder being removed
            server.stop()
            raise
        if healthy:
            return server
        if process.poll() is not None:
            tail = log.read_text("utf-8", "replace")[-2000:]
            raise RuntimeError(f"the reference server exited: {tail}")
        server.stop()
        raise RuntimeError("the reference server did not answer in time")

    @property
    def kiosk_key(self) -> Path:
        return self.state / "kiosk-demo.pem"

    @property
    def staff_key(self) -> Path:
        return self.state / "staff-demo.pem"

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        """End it at once (the last-resort clean-up, which cannot wait for a graceful stop)."""
        self.process.kill()
        self.process.wait()

    def console_sign_in(self) -> str:
        """The staff console's address and the demo desk member's sign-in, as the server wrote them,
        with the TOTP key's address drawn as a QR code for an authenticator app."""
        try:
            words = (self.state / CONSOLE_SIGN_IN_FILE).read_text("utf-8").rstrip()
        except OSError:
            return "The staff console's sign-in was not written by the server."
        lines = (line.strip() for line in words.splitlines())
        address = next((line for line in lines if line.startswith("otpauth://")), "")
        if not address:
            return words
        drawing = io.StringIO()
        segno.make(address, error="m").terminal(out=drawing, compact=True)
        return f"{words}\n{drawing.getvalue()}"


def write_demo_config(folder: Path, server: DemoServer, hierarchy: TestHierarchy, *,
                      language: str = "ja", reader: str = "") -> Path:
    """A kiosk configuration for the demo server: its kiosk key, the hierarchy's anchors, its CRLs."""
    return write_config(folder / "kiosk.toml", {
        "kiosk": {"id": DEMO_KIOSK_ID, "key_file": str(server.kiosk_key),
                  "data_dir": str(folder / "kiosk-data"), "language": language},
        "server": {"url": server.base_url, "connect_timeout_seconds": 2.0, "read_timeout_seconds": 10.0,
                   "retries": 1},
        "reader": {"name": reader},
        "offline": {"trust_anchors": [str(p) for p in hierarchy.trust_anchor_paths()],
                    "crl_files": [str(p) for p in sorted(server.state.glob("auth-*.crl"))],
                    "sync_interval_seconds": 10.0, "max_backoff_seconds": 60.0},
    }, comment="The demo kiosk, written by `kiosk demo`.")


# -- kiosk demo: the card's slot -------------------------------------------------------------------


class CardSlot(Protocol):
    """Where the demo's simulated card goes: a reader the window hears of, and a way to open it."""

    reader_name: str
    description: str

    def start(self, window: KioskWindow) -> None: ...

    def insert(self, card: SimulatedCard) -> None: ...

    def remove(self) -> None: ...

    def open_card(self) -> CardConnection: ...

    def close(self) -> None: ...


class InProcessSlot:
    """The card in this process, its events straight to the window (no pcscd needed)."""

    reader_name = IN_PROCESS_READER
    description = "the simulated card in process (no pcscd)"

    def __init__(self) -> None:
        self._window: KioskWindow | None = None
        self._card: SimulatedCard | None = None

    def start(self, window: KioskWindow) -> None:
        self._window = window
        window.reader_event(ReaderEvent(EventKind.READER_ADDED, self.reader_name))

    def insert(self, card: SimulatedCard) -> None:
        self.remove()
        card.insert()
        self._card = card
        if self._window is not None:
            self._window.reader_event(ReaderEvent(EventKind.CARD_INSERTED, self.reader_name, card.atr))

    def remove(self) -> None:
        card, self._card = self._card, None
        if card is None:
            return
        card.remove()
        if self._window is not None:
            self._window.reader_event(ReaderEvent(EventKind.CARD_REMOVED, self.reader_name))

    def open_card(self) -> CardConnection:
        card = self._card
        if card is None or not card.present:
            raise CardAbsentError("no card on the reader")
        return TimedConnection(card)

    def close(self) -> None:
        self.remove()


class PcscSlot:
    """The card served to pcscd's vpcd reader; the window hears of it through a ``CardWatcher``."""

    def __init__(self, port: int, reader_name: str) -> None:
        self.port = port
        self.reader_name = reader_name
        self.description = f"the simulated card on the PC/SC reader {reader_name!r}"
        self._bridge: object | None = None
        self._watcher: object | None = None
        self._window: KioskWindow | None = None

    def start(self, window: KioskWindow) -> None:
        from kiosk.nfc.pcsc import CardWatcher

        self._window = window
        watcher = CardWatcher(window.reader_event, deliver=window.deliver)
        watcher.start()
        self._watcher = watcher

    def insert(self, card: SimulatedCard) -> None:
        from kiosk.nfc.sim.vpcd import VpcdBridge

        self.remove()
        bridge = VpcdBridge(card, port=self.port)
        bridge.insert(timeout=5)
        self._bridge = bridge

    def remove(self) -> None:
        from kiosk.nfc.sim.vpcd import VpcdBridge

        bridge, self._bridge = self._bridge, None
        if isinstance(bridge, VpcdBridge):
            bridge.remove()

    def open_card(self) -> CardConnection:
        from kiosk.nfc.pcsc import PcscConnection

        reader = self._window.readers.card_reader if self._window is not None else None
        if reader is None:
            raise CardAbsentError("no card on the reader")
        return PcscConnection(reader)

    def close(self) -> None:
        from kiosk.nfc.pcsc import CardWatcher

        watcher, self._watcher = self._watcher, None
        if isinstance(watcher, CardWatcher):
            watcher.stop()  # first: no event may be posted to a window that is going away
        self.remove()


def _pcsc_slot(stack: contextlib.ExitStack) -> CardSlot | str:
    """The vpcd reader of a private pcscd started here (beside any other pcscd), or why not."""
    from kiosk.nfc.sim.pcscd import PcscdProcess

    pcscd = PcscdProcess()
    try:
        pcscd.start()
    except RuntimeError as exc:
        return str(exc)
    stack.callback(pcscd.stop)
    return PcscSlot(pcscd.port, pcscd.readers[0])


# -- kiosk demo ------------------------------------------------------------------------------------------


@dataclass
class Demo:
    """What ``open_demo`` sets up: the window, the developer panel, the server, the card's slot."""

    window: KioskWindow
    panel: DevPanel
    server: DemoServer
    slot: CardSlot


@contextlib.contextmanager
def open_demo(*, language: str = "ja", use_pcscd: bool = True, holder: str = "linked",
              out: Callable[[str], None] = print) -> Iterator[Demo | None]:
    """The demo's parts, running until the block ends; None (and why, through ``out``) if it cannot start."""
    from kiosk.services.core import KioskCore
    from kiosk.ui.devpanel import DemoCards, DevPanel, StaffConsole

    with contextlib.ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
        stack.callback(shutil.rmtree, folder, True)
        stack.enter_context(last_resort(lambda: shutil.rmtree(folder, True)))
        out(f"The demo's keys, configuration and database are in {folder}; it is removed when the demo "
            "stops (closed, Ctrl-C, SIGTERM or SIGHUP).")
        hierarchy = TestHierarchy.ensure()
        out("Starting the reference linkage server…")
        try:
            server = DemoServer.start(folder / "server", hierarchy.path)
        except RuntimeError as exc:
            out(f"kiosk demo: {exc}")
            yield None
            return
        stack.callback(server.stop)
        stack.enter_context(last_resort(server.kill))  # before the folder goes: it writes there

        slot: CardSlot = InProcessSlot()
        if use_pcscd:
            found = _pcsc_slot(stack)
            if isinstance(found, str):
                out(f"kiosk demo: {found}; the card stays in this process instead.")
            else:
                slot = found
        settings = load_config(write_demo_config(folder, server, hierarchy, language=language,
                                                 reader="" if isinstance(slot, InProcessSlot)
                                                 else slot.reader_name))
        core = KioskCore.build(settings)
        stack.callback(core.close)
        window = KioskWindow(core_backend(core, slot.open_card), language=language,
                             idle_timeout_seconds=settings.idle_timeout_seconds, kiosk_mode=False,
                             reader_name=settings.reader.name)
        stack.callback(dispose, window)
        core.heartbeat.reader = window.readers.report
        window.runner.submit(core.start, lambda _core: None,
                             lambda exc: logger.warning("starting the core failed: %s", exc))
        slot.start(window)
        stack.callback(slot.close)

        console = StaffConsole(server.base_url, DEMO_STAFF_ID, server.staff_key)
        stack.callback(console.close)
        panel = DevPanel(DemoCards(hierarchy), slot, console, window.runner,
                         server_url=server.base_url, state=server.state)
        stack.callback(dispose, panel)
        panel.select_holder(holder)
        window.view_shown.connect(panel.show_view)
        window.resize(*DEMO_WINDOW_SIZE)
        window.closed.connect(panel.close)
        out(server.console_sign_in())
        out(f"The kiosk is open with {slot.description}, against {server.base_url}.\n"
            "Use the developer panel to put a card on the reader and to answer as staff; "
            "close the kiosk window (or Ctrl-C) to stop.")
        yield Demo(window, panel, server, slot)


def show_side_by_side(window: KioskWindow, panel: DevPanel) -> None:
    """The kiosk window at the screen's top left (no larger than the screen), and the developer
    panel beside it where there is room, over it where there is not: always on the screen."""
    from kiosk.ui.devpanel import panel_geometry

    screen = (window.screen() or QGuiApplication.primaryScreen()).availableGeometry()
    window.resize(min(DEMO_WINDOW_SIZE[0], screen.width()), min(DEMO_WINDOW_SIZE[1], screen.height()))
    window.move(screen.topLeft())
    window.present()
    panel.adjustSize()  # its size before it is shown, so that it appears where it belongs
    panel.setGeometry(panel_geometry(window.frameGeometry(), panel.size(), screen))
    panel.show()


def run_demo(*, language: str = "ja", use_pcscd: bool = True, holder: str = "linked",
             out: Callable[[str], None] = print) -> int:
    """``kiosk demo``: the whole kiosk on this machine, with the developer panel beside it."""
    app = create_app()
    with open_demo(language=language, use_pcscd=use_pcscd, holder=holder, out=out) as demo:
        if demo is None:
            return 1
        demo.window.closed.connect(app.quit)
        with signals_quit(app, demo.window) as caught:
            show_side_by_side(demo.window, demo.panel)
            code = app.exec()
    finish_qt()
    return 128 + caught[0] if caught and caught[0] != signal.SIGINT else code
