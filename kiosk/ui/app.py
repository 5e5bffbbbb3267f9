"""Starts the kiosk's window: the Qt application and ``kiosk run`` at a real counter.

This is the window's composition root: settings in, the core services, the card's source (the
PC/SC readers) and the window built once here and passed on. ``kiosk demo`` (``kiosk.ui.demo``)
builds on it; nothing here loads the simulated card.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QMessageLogContext,
    QObject,
    Qt,
    QTimer,
    QtMsgType,
    qInstallMessageHandler,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.config import KioskSettings
from kiosk.flow.machine import Backend
from kiosk.nfc import CardConnection
from kiosk.nfc.errors import CardAbsentError
from kiosk.ui.translations import kiosk_font
from kiosk.ui.window import KioskWindow

if TYPE_CHECKING:
    from kiosk.services.core import KioskCore

logger = logging.getLogger(__name__)

APPLICATION_NAME = "mynumber-kiosk"


_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}
#: Qt warnings that say nothing about the kiosk (the offscreen platform of tests and screenshots).
_QT_NOISE = ("does not support propagateSizeHints",)


def _qt_message(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    level = _QT_LEVELS.get(kind, logging.WARNING)
    if any(noise in message for noise in _QT_NOISE):
        level = logging.DEBUG
    logging.getLogger("qt").log(level, "%s", message)


def display_problem() -> str | None:
    """Why no window can open here (no display on Linux), or None; Qt itself would abort."""
    if sys.platform.startswith("linux") and not any(
            os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return ("no display: run it in a desktop session, under xvfb-run, or with "
                "QT_QPA_PLATFORM=offscreen")
    return None


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (made once): high-DPI scaling, its names and the Japanese font. The language
    is the window's (``KioskWindow`` installs its translator and sets its locale)."""
    existing = QCoreApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        # Fractional scale factors keep the large type crisp on a 125 % or 150 % kiosk screen.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
        qInstallMessageHandler(_qt_message)  # Qt's own warnings go to the kiosk's log
    app.setApplicationName(APPLICATION_NAME)
    app.setApplicationDisplayName("My Number Card kiosk")
    app.setFont(kiosk_font())
    return app


def finish_qt() -> None:
    """Leave Qt tidy before the interpreter exits.

    Delivers what arrived while closing, deletes the windows under Qt's control rather than in the
    interpreter's teardown, and hands Qt's messages back to Qt.
    """
    QCoreApplication.sendPostedEvents()
    for widget in QApplication.topLevelWidgets():
        widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    # Qt still talks while Python tears its objects down; a Python handler must not hear that.
    qInstallMessageHandler(None)


@contextlib.contextmanager
def signals_quit(app: QApplication, window: KioskWindow) -> Iterator[list[int]]:
    """SIGINT, SIGTERM and SIGHUP end the application cleanly (systemd stopping the kiosk, Ctrl-C in
    the demo, its terminal closed); the list yielded gets the signals that did."""
    caught: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)
        window.unlock_for_shutdown()
        window.close()
        # Queued, not called: a signal that lands before the event loop runs (while the window is
        # being shown) would otherwise quit a loop not yet started, which then never ends.
        QTimer.singleShot(0, app.quit)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    # Python runs signal handlers only between bytecodes: a timer lets it in while Qt waits.
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    try:
        yield caught
    finally:
        ticker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def core_backend(core: KioskCore, open_card: Callable[[], CardConnection]) -> Backend:
    """The flow's backend over the core services."""
    from kiosk.flow.backend import CoreBackend

    # CoreBackend offers ``operations`` and ``outbox`` as read-only properties, which is all the
    # flow reads; the protocol declares them as plain attributes, so the checker needs telling.
    return cast(Backend, CoreBackend(core, open_card))


# -- kiosk run -------------------------------------------------------------------------------------


def dispose(widget: QWidget) -> None:
    """Close a top-level widget for good (a kiosk window too: its staff lock is lifted) and delete it.

    Its workers are waited for while it closes; Qt deletes it when the event loop next runs.
    """
    if isinstance(widget, KioskWindow):
        widget.unlock_for_shutdown()
    widget.close()
    if isinstance(widget, KioskWindow):
        widget.shutdown()  # a window never shown gets no close event
    widget.deleteLater()


@contextlib.contextmanager
def open_counter(settings: KioskSettings, *, kiosk_mode: bool = True,
                 staff_unlock_pin: str | None = None) -> Iterator[KioskWindow]:
    """The counter's window over the PC/SC readers and the configured server, running until the block ends.

    The window hears of readers and cards from a ``CardWatcher`` and opens the card with
    ``PcscConnection``; the core starts on a worker, as the server may be slow or away.
    """
    from kiosk.nfc.pcsc import CardWatcher, PcscConnection
    from kiosk.services.core import KioskCore

    core = KioskCore.build(settings)
    window: KioskWindow | None = None

    def open_card() -> CardConnection:
        reader = window.readers.card_reader if window is not None else None
        if reader is None:
            raise CardAbsentError("no card on the reader")
        return PcscConnection(reader, timeout=settings.reader.timeout_seconds)

    with contextlib.ExitStack() as stack:
        stack.callback(core.close)
        window = KioskWindow(core_backend(core, open_card), language=settings.language,
                             idle_timeout_seconds=settings.idle_timeout_seconds, kiosk_mode=kiosk_mode,
                             staff_unlock_pin=staff_unlock_pin,
                             staff_unlock_hash=settings.staff_unlock or None,
                             reader_name=settings.reader.name)
        stack.callback(dispose, window)
        core.heartbeat.reader = window.readers.report  # the heartbeat tells the server of the reader
        window.runner.submit(core.start, lambda _core: None,
                             lambda exc: logger.warning("starting the core failed: %s", exc))
        watcher = CardWatcher(window.reader_event, deliver=window.deliver)
        watcher.start()
        stack.callback(watcher.stop)  # first: no event may be posted to a window that is going away
        yield window


class FirstScreenLog(QObject):
    """Logs once, when the window's first screen is painted, that the kiosk is showing it: the
    journal then tells when a start was done (and the package's start-up figure is measured to it)."""

    MESSAGE = "the first screen is showing"

    def __init__(self, page: QWidget) -> None:
        super().__init__(page)
        self._page = page
        page.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self._page.removeEventFilter(self)
            logger.info(self.MESSAGE)
        return False


def run_kiosk(settings: KioskSettings, *, kiosk_mode: bool = True,
              staff_unlock_pin: str | None = None) -> int:
    """``kiosk run``: the kiosk at a real counter, full screen, until it is closed or stopped."""
    app = create_app()
    with open_counter(settings, kiosk_mode=kiosk_mode, staff_unlock_pin=staff_unlock_pin) as window:
        window.closed.connect(app.quit)
        with signals_quit(app, window):
            FirstScreenLog(window.current_page or window)
            window.present()
            code = app.exec()
    finish_qt()
    return code
