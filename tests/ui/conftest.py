"""The window tests' counter: the reference server behind a relay that can cut it, the core, the window."""

from __future__ import annotations

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
from tests.linkserver.helpers import LiveServer
from tests.netfault import Relay
from tests.ui.counter import READER, Counter, Slot


@pytest.fixture(autouse=True)
def application(qapp: QApplication) -> QApplication:
    """Every window test has its QApplication, whichever of them a test worker runs first."""
    return qapp


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


