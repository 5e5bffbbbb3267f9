"""The kiosk's window end to end: real widgets tapped by pytest-qt, the reference server, a simulated card."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint, Qt, QThread, QTimer
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from kiosk.flow import LinkStatus, PasswordSet, Screen, Unlinked
from kiosk.nfc.apdu import INS_COMPUTE_DIGITAL_SIGNATURE, INS_VERIFY
from kiosk.nfc.connection import TRACE
from kiosk.nfc.events import EventKind, ReaderEvent
from kiosk.nfc.sim import SimulatedCard
from kiosk.ui.runner import QtRunner
from kiosk.ui.unlock import StaffUnlockDialog
from linkserver.passwords import password_matches
from tests.helpers.card_reads import assert_read_once, card_reads
from tests.helpers.server_api import LINKED, NEW_PASSWORD
from tests.linkserver.helpers import LiveServer, Staff
from tests.ui.counter import READER, Counter, account, visible_texts

# -- the whole flow ---------------------------------------------------------------------------------


def test_a_password_reset_by_touch_from_start_to_done(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard], server: LiveServer,
        staff: Staff, caplog: pytest.LogCaptureFixture) -> None:
    for name in (None, "kiosk", "linkserver"):  # every level: the APDU trace (5) is below DEBUG
        caplog.set_level(1, logger=name)
    counter = open_window()
    assert counter.screen is Screen.START and counter.window.view.reader_ready
    counter.tap("Reset my password")
    counter.wait_for(Screen.ACCOUNT)
    counter.type_digits(LINKED)
    counter.tap("OK")
    counter.wait_for(Screen.PLACE_CARD)
    card = make_card("linked")
    counter.place(card)
    counter.wait_for(Screen.PIN)
    assert counter.window.view.tries_left == 3
    counter.type_digits("1234")
    assert counter.window.view.pin_digits == 4
    counter.tap("OK")
    counter.wait_for(Screen.NEW_PASSWORD)
    field = next(f for f in counter.window.current_page.findChildren(QLineEdit)  # type: ignore[union-attr]
                 if f.accessibleName() == "New password")
    counter.qtbot.keyClicks(field, NEW_PASSWORD)
    counter.qtbot.waitUntil(lambda: counter.window.view.password_problems == (), timeout=5_000)
    counter.tap("Set password")
    counter.wait_for(Screen.DONE)
    assert counter.window.view.result == PasswordSet()
    assert password_matches(account(server, LINKED).password_hash, NEW_PASSWORD)
    assert counter.screens() == [Screen.ACCOUNT, Screen.PLACE_CARD, Screen.PIN, Screen.VERIFYING,
                                 Screen.STAFF_WAIT, Screen.NEW_PASSWORD, Screen.WORKING, Screen.DONE]
    assert len(staff.decided) == 1
    assert_read_once(card)
    counter.take_off()  # "take your card" was the last step
    counter.wait_for(Screen.START)
    assert counter.window.view.account is None and counter.window.view.operation is None
    text = "\n".join(repr(view) for view in counter.views)
    assert "1234" not in text and NEW_PASSWORD not in text
    # The card's commands were logged (so the check below sees them), each below DEBUG.
    assert any(r.levelno == TRACE and r.name == "kiosk.nfc.connection" for r in caplog.records)
    # The PIN alone (not a part of a port number or a time), or its bytes in hex.
    pin = re.compile(r"(?<!\d)1234(?!\d)|31[ :]?32[ :]?33[ :]?34")
    for record in caplog.records:
        text = f"{record.getMessage()} {record.exc_text or ''}"
        assert not pin.search(text) and NEW_PASSWORD not in text, record


def test_the_pin_pads_back_space_and_clear_edit_the_pin_the_card_gets(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard]) -> None:
    """The real flow behind the pad's own keys: a wrong digit taken back, a wrong start cleared, and
    the card is sent the PIN that is left, once."""
    counter = open_window()
    card = make_card("linked")
    counter.up_to_pin("link_status", card, LINKED)
    page = counter.window.current_page
    pad = page.pad  # type: ignore[union-attr]

    def shown(count: int) -> None:
        assert counter.window.view.pin_digits == count and pad.dots.text() == "●" * count + "○" * (4 - count)

    counter.type_digits("98")
    shown(2)
    counter.tap("Clear all digits")
    shown(0)
    assert counter.button("Clear all digits") is None and counter.button("Delete the last digit") is None
    counter.type_digits("129")
    counter.tap("Delete the last digit")
    shown(2)
    counter.type_digits("34")
    shown(4)
    counter.tap("OK")
    counter.wait_for(Screen.DONE)
    assert isinstance(counter.window.view.result, LinkStatus) and counter.window.view.result.linked
    assert card_reads(card).secrets == [INS_VERIFY, INS_COMPUTE_DIGITAL_SIGNATURE]  # one VERIFY: 1234
    assert card.pin_state().tries == 3


# -- timeouts, removal, language, kiosk mode ----------------------------------------------------------


def test_the_idle_timeout_wipes_the_session_and_the_screen(open_window: Callable[..., Counter]) -> None:
    counter = open_window(idle_timeout_seconds=0.5)
    counter.tap("Check my card link")
    counter.wait_for(Screen.ACCOUNT)
    counter.type_digits("2024")
    # The reader reporting in does not count as someone at the counter.
    ticker = QTimer()
    ticker.timeout.connect(lambda: counter.window.reader_event(ReaderEvent(EventKind.READER_ADDED, READER)))
    ticker.start(100)
    counter.wait_for(Screen.START, timeout=5_000)
    ticker.stop()
    assert counter.window.view.operation is None and counter.window.view.account is None
    assert not counter.window.idle_timer.isActive()  # the start screen never times out
    counter.tap("Check my card link")
    counter.wait_for(Screen.ACCOUNT)
    shown = " ".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]
    assert "2024" not in shown, "the next person sees what the last one typed"
    counter.tap("Cancel")
    counter.wait_for(Screen.START)
    counter.tap("日本語")  # and leaves: the next person meets the kiosk's own language
    counter.qtbot.waitUntil(lambda: counter.window.language == "ja", timeout=5_000)
    counter.qtbot.waitUntil(lambda: counter.window.language == "en", timeout=5_000)
    assert counter.screen is Screen.START


def test_taking_the_card_off_on_the_pin_screen_ends_on_the_error_screen(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard]) -> None:
    counter = open_window()
    counter.up_to_pin("mfa_reset", make_card("linked"), LINKED)
    counter.type_digits("12")
    # As the card watcher does: the event comes from its own thread, delivered onto the GUI thread.
    event = ReaderEvent(EventKind.CARD_REMOVED, READER)
    thread = threading.Thread(target=counter.window.deliver,
                              args=(lambda: counter.window.reader_event(event),))
    thread.start()
    thread.join()
    counter.wait_for(Screen.ERROR)
    assert counter.window.view.error == "card.removed"
    assert counter.window.view.pin_digits == 0 and counter.window.view.account is None


def test_switching_the_language_on_a_screen_retranslates_it(open_window: Callable[..., Counter]) -> None:
    counter = open_window()
    counter.tap("Salvage my cloud data (former members)")
    counter.wait_for(Screen.ACCOUNT)
    counter.type_digits("2019")
    page = counter.window.current_page
    assert page is not None
    english = visible_texts(page)
    counter.tap("日本語")
    counter.qtbot.waitUntil(lambda: counter.window.language == "ja", timeout=5_000)
    japanese = visible_texts(page)
    assert counter.screen is Screen.ACCOUNT and counter.window.view.operation == "salvage"
    assert japanese != english
    assert any("\u3040" <= ch <= "\u30ff" for text in japanese for ch in text)  # kana on screen
    assert counter.window.windowTitle() != "My Number Card kiosk"
    assert (counter.window.font().family(), counter.window.locale().name()) == ("Noto Sans CJK JP", "ja_JP")
    counter.tap("English")
    counter.qtbot.waitUntil(lambda: visible_texts(page) == english, timeout=5_000)
    assert (counter.window.font().family(), counter.window.locale().name()) == ("Noto Sans CJK JP", "en_US")


#: The staff unlock chord of the README: Ctrl+Alt+Shift+Q.
UNLOCK_CHORD = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                | Qt.KeyboardModifier.ShiftModifier)


def press_unlock_chord(counter: Counter) -> None:
    """Ctrl+Alt+Shift+Q as real key events, on whatever in the window has the focus."""
    counter.window.activateWindow()
    counter.qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=5_000)
    counter.qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Q, UNLOCK_CHORD)


def test_kiosk_mode_refuses_to_close_until_staff_unlock(open_window: Callable[..., Counter]) -> None:
    counter = open_window(kiosk_mode=True, staff_unlock_pin="2468")
    window = counter.window
    flags = window.windowFlags()
    assert flags & Qt.WindowType.FramelessWindowHint and flags & Qt.WindowType.WindowStaysOnTopHint
    assert not window.close() and window.isVisible()
    # The hidden way out: a long press in the top-left corner (held for less time here).
    window._corner.setInterval(50)
    counter.qtbot.mousePress(window, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    counter.qtbot.waitUntil(lambda: window.findChild(StaffUnlockDialog) is not None, timeout=5_000)
    counter.qtbot.mouseRelease(window, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    dialog = window.findChild(StaffUnlockDialog)
    assert dialog is not None
    counter.qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    entry = dialog.findChild(QLineEdit)
    counter.qtbot.keyClicks(entry, "1111")
    dialog.accept()
    assert window.isVisible() and dialog.isVisible()  # a wrong PIN: the dialog asks again
    assert not window.close()
    with counter.qtbot.waitSignal(window.closed, timeout=5_000):
        counter.qtbot.keyClicks(entry, "2468")
        dialog.accept()
    assert not window.isVisible()


def test_outside_kiosk_mode_the_unlock_chord_just_closes(open_window: Callable[..., Counter]) -> None:
    counter = open_window()
    window = counter.window
    assert not window.windowFlags() & Qt.WindowType.FramelessWindowHint
    with counter.qtbot.waitSignal(window.closed, timeout=5_000):
        press_unlock_chord(counter)
    assert not window.isVisible()


def test_in_kiosk_mode_the_unlock_chord_asks_for_the_staff_pin(open_window: Callable[..., Counter]) -> None:
    counter = open_window(kiosk_mode=True, staff_unlock_pin="2468")
    window = counter.window
    press_unlock_chord(counter)
    counter.qtbot.waitUntil(lambda: (d := window.findChild(StaffUnlockDialog)) is not None and d.isVisible(),
                            timeout=5_000)
    dialog = window.findChild(StaffUnlockDialog)
    assert dialog is not None and window.isVisible()
    entry = dialog.findChild(QLineEdit)
    with counter.qtbot.waitSignal(window.closed, timeout=5_000):
        counter.qtbot.keyClicks(entry, "2468")
        counter.qtbot.keyClick(entry, Qt.Key.Key_Return)
    assert not window.isVisible()


def test_in_kiosk_mode_without_a_staff_pin_the_chord_opens_nothing(open_window: Callable[..., Counter],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    counter = open_window(kiosk_mode=True)
    with caplog.at_level(logging.WARNING, logger="kiosk.ui.window"):
        press_unlock_chord(counter)
    assert [r.getMessage() for r in caplog.records if r.name == "kiosk.ui.window"] == [
        "staff unlock asked for, but no staff PIN is configured"]
    assert counter.window.isVisible() and counter.window.findChild(StaffUnlockDialog) is None


# -- the window's own parts ---------------------------------------------------------------------------


def test_the_runner_works_off_the_gui_thread_and_hands_every_failure_back(qtbot: QtBot) -> None:
    runner = QtRunner()
    gui = QThread.currentThread()
    seen: dict[str, object] = {}

    def work() -> bool:
        return QThread.currentThread() is not gui

    def done(off_gui: bool) -> None:
        seen["done"] = (off_gui, QThread.currentThread() is gui)

    def fail() -> None:
        raise KeyboardInterrupt  # even a BaseException comes back instead of killing a thread

    def unexpected(exc: BaseException) -> None:
        seen["unexpected"] = exc

    def failed(exc: BaseException) -> None:
        seen["failed"] = (exc, QThread.currentThread())

    runner.submit(work, done, unexpected)
    runner.submit(fail, lambda _value: None, failed)
    qtbot.waitUntil(lambda: "done" in seen and "failed" in seen, timeout=5_000)
    assert seen["done"] == (True, True)
    failure = seen["failed"]
    assert isinstance(failure, tuple) and isinstance(failure[0], KeyboardInterrupt) and failure[1] is gui
    assert runner.wait_idle(5) and runner.close()


# -- the other operations by touch ---------------------------------------------------------------------


@pytest.mark.parametrize(("operation", "holder", "account_id", "card_pin", "extra_taps", "expected"), [
    ("link_status", "linked", LINKED, "1234", (), "linked"),
    ("mfa_reset", "linked", LINKED, "1234", (), "code"),
    ("salvage", "latin", "2019000003", "9021", (), "code"),
    ("unlink", "linked", LINKED, "1234", ("Delete the link",), Unlinked()),
])
def test_each_operation_by_touch(open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard],
                                 staff: Staff, operation: str, holder: str, account_id: str, card_pin: str,
                                 extra_taps: tuple[str, ...], expected: object) -> None:
    counter = open_window()
    counter.up_to_pin(operation, make_card(holder), account_id)
    counter.type_digits(card_pin)
    counter.tap("OK")
    for label in extra_taps:
        counter.wait_for(Screen.UNLINK_CONFIRM)
        counter.tap(label)
    counter.wait_for(Screen.DONE)
    result = counter.window.view.result
    if isinstance(expected, str):
        assert getattr(result, expected)
    else:
        assert result == expected
    counter.take_off()
    counter.wait_for(Screen.START)
    assert "".join(repr(view) for view in counter.views).count(card_pin) == 0


def test_a_card_that_is_not_linked_ends_on_the_no_match_screen(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard]) -> None:
    counter = open_window()
    counter.up_to_pin("mfa_reset", make_card("unlinked"), LINKED)
    counter.enter_pin("2580", then=Screen.ERROR)
    assert counter.window.view.error == "no_match"
    page_text = "\n".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]
    assert "not linked to this account" in page_text and "Traceback" not in page_text


# -- the keyboard alone -----------------------------------------------------------------------------------


def press(counter: Counter, key: Qt.Key) -> None:
    """A key on a physical keyboard, to whatever has the focus (the window if nothing has)."""
    counter.qtbot.keyClick(QApplication.focusWidget() or counter.window, key)


def tab_to(counter: Counter, name: str) -> None:
    for _ in range(40):
        focused = QApplication.focusWidget()
        if focused is not None and focused.accessibleName() == name:
            return
        press(counter, Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reached {name!r}")


def test_a_whole_operation_with_the_keyboard_alone(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard]) -> None:
    counter = open_window()
    counter.window.activateWindow()
    counter.qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=5_000)
    tab_to(counter, "Check my card link")
    press(counter, Qt.Key.Key_Return)
    counter.wait_for(Screen.ACCOUNT)
    for digit in LINKED:
        press(counter, getattr(Qt.Key, f"Key_{digit}"))
    press(counter, Qt.Key.Key_Return)
    counter.wait_for(Screen.PLACE_CARD)
    counter.place(make_card("linked"))
    counter.wait_for(Screen.PIN)
    for digit in "1234":
        press(counter, getattr(Qt.Key, f"Key_{digit}"))
    assert counter.window.view.pin_digits == 4
    press(counter, Qt.Key.Key_Return)
    counter.wait_for(Screen.DONE)
    assert isinstance(counter.window.view.result, LinkStatus) and counter.window.view.result.linked
    tab_to(counter, "Finish")
    press(counter, Qt.Key.Key_Return)
    counter.wait_for(Screen.START)
