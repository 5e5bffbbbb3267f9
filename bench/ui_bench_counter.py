"""The window benchmark's kiosk at the counter: the window with an in-process reader slot, a staff
thread approving what comes in, and each operation driven from START to DONE by taps and typing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


class SessionFailed(Exception):
    """A session that did not go as it must."""


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
