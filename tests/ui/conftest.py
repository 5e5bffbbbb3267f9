"""The window tests' counter: the reference server behind a relay that can cut it, the core, the window."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kiosk.config import load_config
from kiosk.nfc.events import EventKind, ReaderEvent
from kiosk.nfc.sim import TestHierarchy
from kiosk.services.core import KioskCore
from kiosk.ui.app import core_backend
from kiosk.ui.window import KioskWindow
from tests.helpers.kiosk import write_config
from tests.helpers.qt_state import QtStateGuard
from tests.linkserver.helpers import LiveServer
from tests.netfault import Relay
from tests.ui.counter import READER, Counter, Slot


@pytest.fixture(autouse=True)
def application(qapp: QApplication) -> Iterator[QApplication]:
    """Every window test has its QApplication, whichever of them a test worker runs first, and starts
    with it as the test before found it: whatever process-wide state a test changed (the font, the
    style, the layout direction, the default locale, the application's names, the clipboard, the
    environment, the kiosk's text scale) is put back after it, and the top-level widgets it made
    are deleted. A test that leaves a top-level window open or a translator installed fails
    (``tests/helpers/qt_state.py``)."""
    guard = QtStateGuard(qapp)
    yield qapp
    problems = guard.finish()
    if problems:
        pytest.fail("the test left process-wide Qt state behind:\n" + "\n".join(problems), pytrace=False)


class _ErrorRecords(logging.Handler):
    """Keeps every record at ERROR or above, from any logger and any thread."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _described(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    return "\n".join(formatter.format(record) for record in records)


@pytest.fixture(autouse=True)
def logged_errors(request: pytest.FixtureRequest) -> Iterator[list[logging.LogRecord]]:
    """Fails the test if anything logged an ERROR (or worse) during it, its fixtures included: an
    error a window only logs would otherwise leave the suite green. A test that provokes one on
    purpose is marked ``logs_errors`` and asserts the records (this fixture's value) itself."""
    handler = _ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("logs_errors") is None:
        pytest.fail(f"{len(handler.records)} record(s) at ERROR or above were logged:\n"
                    f"{_described(handler.records)}", pytrace=False)


@pytest.fixture
def relay(server: LiveServer) -> Iterator[Relay]:
    relay = Relay(int(server.base.rsplit(":", 1)[1]))
    yield relay
    relay.close()


@pytest.fixture
def core(tmp_path: Path, server: LiveServer, relay: Relay, hierarchy: TestHierarchy) -> Iterator[KioskCore]:
    built = KioskCore.build(load_config(write_config(tmp_path, server, hierarchy, relay.url))).start()
    yield built
    built.close()


@pytest.fixture
def open_window(qtbot: QtBot, core: KioskCore) -> Iterator[Callable[..., Counter]]:
    windows: list[KioskWindow] = []
    slots: list[Slot] = []

    def make(**options: object) -> Counter:
        slot = Slot()
        slots.append(slot)
        settings: dict[str, object] = {"language": "en", "idle_timeout_seconds": 60}
        settings.update(options)
        window = KioskWindow(core_backend(core, slot.open), **settings)  # type: ignore[arg-type]
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        windows.append(window)
        window.reader_event(ReaderEvent(EventKind.READER_ADDED, READER))
        return Counter(qtbot, window, slot)

    yield make
    for slot in slots:
        if slot.hold is not None:
            slot.hold.set()
    for window in windows:
        window.unlock_for_shutdown()
        window.shutdown()


