"""The kiosk's window at the counter as the window tests drive it: a reader slot, taps by accessible name.

The card is in process (no pcscd); the reader's events are the window's own entry points, called
as the card watcher would.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget
from pytestqt.qtbot import QtBot

from kiosk.flow import Screen, View
from kiosk.nfc import CardConnection, TimedConnection
from kiosk.nfc.errors import CardAbsentError
from kiosk.nfc.events import EventKind, ReaderEvent
from kiosk.nfc.sim import SimulatedCard
from kiosk.ui.window import KioskWindow
from linkserver.models import Account
from tests.conftest import distinct_screens
from tests.linkserver.helpers import LiveServer

READER = "Test reader"
#: The start screen's buttons, by the operation each starts.
BUTTONS = {
    "password_reset": "Reset my password",
    "mfa_reset": "Re-register multi-factor authentication",
    "salvage": "Salvage my cloud data (former members)",
    "prelink": "Link my card to my account",
    "link_status": "Check my card link",
    "unlink": "Delete my card link",
}
WAIT_MS = 15_000


class Slot:
    """The reader's slot: the card on it, opened in process.

    ``hold`` set to a cleared event makes opening the card wait for it: a slow first read, the
    moment to lift the card early.
    """

    def __init__(self) -> None:
        self.card: SimulatedCard | None = None
        self.hold: threading.Event | None = None
        self.opening = threading.Event()

    def open(self) -> CardConnection:
        self.opening.set()
        if self.hold is not None:
            self.hold.wait(30)
        if self.card is None:
            raise CardAbsentError("no card on the reader")
        return TimedConnection(self.card)


class Counter:
    """The window at the counter, with its slot and every view it showed."""

    def __init__(self, qtbot: QtBot, window: KioskWindow, slot: Slot) -> None:
        self.qtbot = qtbot
        self.window = window
        self.slot = slot
        self.views: list[View] = []
        window.view_shown.connect(self.views.append)

    @property
    def screen(self) -> Screen:
        return self.window.view.screen

    def wait_for(self, screen: Screen, timeout: int = WAIT_MS) -> None:
        self.qtbot.waitUntil(lambda: self.screen is screen, timeout=timeout)
        assert self.window.current_page is self.window.page(screen)

    def button(self, name: str) -> QAbstractButton | None:
        page = self.window.current_page
        assert page is not None
        for button in page.findChildren(QAbstractButton):
            said = (button.accessibleName(), button.accessibleDescription())
            if name in said and button.isVisibleTo(page) and button.isEnabled():
                return button
        return None

    def tap(self, name: str) -> None:
        """Tap the visible, enabled button a screen reader calls (or describes as) ``name`` on the
        screen shown."""
        self.qtbot.waitUntil(lambda: self.button(name) is not None, timeout=5_000)
        button = self.button(name)
        assert button is not None
        self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    def type_digits(self, digits: str) -> None:
        for digit in digits:
            self.tap(f"digit {digit}")

    def begin(self, operation: str, account_id: str | None = None) -> None:
        """From the start screen: the operation's button, then the account ID typed and sent."""
        self.tap(BUTTONS[operation])
        self.wait_for(Screen.ACCOUNT)
        if account_id is not None:
            self.type_digits(account_id)
            self.tap("OK")

    def up_to_pin(self, operation: str, card: SimulatedCard, account_id: str) -> None:
        """From the start screen to the PIN pad, with ``card`` placed when the kiosk asks for it."""
        self.begin(operation, account_id)
        self.wait_for(Screen.PLACE_CARD)
        self.place(card)
        self.wait_for(Screen.PIN)

    def enter_pin(self, digits: str, then: Screen) -> None:
        self.type_digits(digits)
        self.tap("OK")
        self.wait_for(then)

    def place(self, card: SimulatedCard) -> None:
        self.slot.card = card
        self.window.reader_event(ReaderEvent(EventKind.CARD_INSERTED, READER, card.atr))

    def take_off(self) -> None:
        if self.slot.card is not None:
            self.slot.card.remove()
        self.slot.card = None
        self.window.reader_event(ReaderEvent(EventKind.CARD_REMOVED, READER))

    def screens(self) -> list[Screen]:
        return distinct_screens(self.views)


def account(server: LiveServer, account_id: str) -> Account:
    with server.server.parts.db.transaction() as session:
        row = session.get(Account, account_id)
        assert row is not None
        session.expunge(row)
        return row


def visible_texts(page: QWidget) -> list[str]:
    return [w.text() for w in page.findChildren(QLabel) if w.isVisibleTo(page) and w.text()]


