"""The warning before the idle timeout wipes a session (WCAG 2.2.1), on the real window.

The countdown reads a clock the test moves by hand, so the seconds shown are known exactly; the
wipe itself is the window's own timer, as at the counter.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QAccessibleEvent
from PySide6.QtWidgets import QApplication

from kiosk.flow import Screen
from kiosk.nfc.sim import SimulatedCard
from kiosk.ui.idle import WARNING_SECONDS, lead_seconds
from kiosk.ui.widgets import mm
from tests.helpers.manual_clock import ManualClock
from tests.helpers.server_api import LINKED
from tests.ui.counter import Counter, visible_texts

ALLOWANCE = 90.0
WAIT_MS = 5_000


def on_the_account_screen(open_window: Callable[..., Counter], clock: ManualClock,
                          **options: object) -> Counter:
    """A session under way: the account screen with 2024 typed, and the focus in the window."""
    counter = open_window(idle_timeout_seconds=ALLOWANCE, clock=clock, **options)
    counter.tap("Check my card link")
    counter.wait_for(Screen.ACCOUNT)
    counter.type_digits("2024")
    counter.window.activateWindow()
    counter.qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=WAIT_MS)
    return counter


def warn(counter: Counter, clock: ManualClock, after: float) -> int:
    """Move the clock ``after`` seconds on; the seconds the warning appears with."""
    with counter.qtbot.waitSignal(counter.window.idle_warning_shown, timeout=WAIT_MS) as shown:
        clock.advance(after)
    seconds = shown.args[0]
    assert isinstance(seconds, int)
    return seconds


def page_text(counter: Counter) -> str:
    return "\n".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]


def test_the_warning_counts_down_and_more_time_gives_the_whole_allowance_again(
        open_window: Callable[..., Counter]) -> None:
    clock = ManualClock()
    counter = on_the_account_screen(open_window, clock)
    window, warning = counter.window, counter.window.idle_warning
    before = QApplication.focusWidget()
    assert not warning.isVisible()
    seconds = warn(counter, clock, ALLOWANCE - WARNING_SECONDS + 1.2)
    assert seconds == math.ceil(WARNING_SECONDS - 1.2) == warning.seconds
    assert warning.isVisible() and warning.geometry() == window.rect()
    assert warning.countdown.text() == "The screen will be cleared in 19 seconds for your privacy."
    assert QApplication.focusWidget() is warning.button
    assert warning.button.height() >= mm(14) and warning.button.isVisible()
    with counter.qtbot.waitSignal(warning.counted, timeout=WAIT_MS) as counted:
        clock.advance(1.0)
    assert counted.args == [18] and "in 18 seconds" in warning.countdown.text()

    # The button's own press (as a screen reader's press action sends it, with no input event).
    with counter.qtbot.waitSignal(window.idle_warning_hidden, timeout=WAIT_MS):
        warning.button.click()
    assert not warning.isVisible() and QApplication.focusWidget() is before
    assert window.view.screen is Screen.ACCOUNT and "2024" in page_text(counter)
    assert window.idle_timer.isActive() and window.idle_timer.remainingTime() > (ALLOWANCE - 10) * 1000
    # The whole allowance again from the press: the warning is due 20 seconds before its new end.
    assert warn(counter, clock, ALLOWANCE - WARNING_SECONDS + 0.5) == WARNING_SECONDS


def test_a_touch_on_the_warning_gives_more_time_and_reaches_nothing_beneath(
        open_window: Callable[..., Counter]) -> None:
    clock = ManualClock()
    counter = on_the_account_screen(open_window, clock)
    window, warning = counter.window, counter.window.idle_warning
    warn(counter, clock, ALLOWANCE - 10)
    cancel = counter.button("Cancel")
    assert cancel is not None
    # A touch where Cancel is drawn, under the warning: it only says someone is there.
    where = warning.mapFromGlobal(cancel.mapToGlobal(cancel.rect().center()))
    with counter.qtbot.waitSignal(window.idle_warning_hidden, timeout=WAIT_MS):
        counter.qtbot.mouseClick(warning, Qt.MouseButton.LeftButton, pos=where)
    assert window.view.screen is Screen.ACCOUNT and "2024" in page_text(counter)
    assert warn(counter, clock, ALLOWANCE - 5) == 5
    with counter.qtbot.waitSignal(window.idle_warning_hidden, timeout=WAIT_MS):
        counter.qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Shift)
    assert window.view.screen is Screen.ACCOUNT and "2024" in page_text(counter)


def test_with_no_answer_the_session_is_wiped_at_the_end_of_the_allowance(
        open_window: Callable[..., Counter]) -> None:
    counter = open_window(idle_timeout_seconds=2)  # the real clock: the wipe as at the counter
    counter.tap("Check my card link")
    counter.wait_for(Screen.ACCOUNT)
    counter.type_digits("2024")
    # From the last touch on (a slow tap before it may have met the warning already).
    shown: list[int] = []
    counter.window.idle_warning_shown.connect(shown.append)
    views = len(counter.views)
    counter.wait_for(Screen.START)
    assert shown == [math.ceil(lead_seconds(2))]
    assert [view.screen for view in counter.views[views:]] == [Screen.START]
    assert counter.window.view.account is None and not counter.window.idle_warning.isVisible()
    assert not counter.window.idle_warning.armed


def test_no_warning_where_nothing_is_wiped(open_window: Callable[..., Counter]) -> None:
    clock = ManualClock()
    counter = open_window(idle_timeout_seconds=ALLOWANCE, clock=clock)
    warning = counter.window.idle_warning
    # The start screen in the kiosk's own language holds nothing to wipe.
    assert counter.screen is Screen.START and not warning.armed
    # In the other language it does: the language goes back for the next person.
    counter.tap("日本語")
    counter.qtbot.waitUntil(lambda: counter.window.language == "ja", timeout=WAIT_MS)
    assert warning.armed
    counter.tap("English")
    counter.qtbot.waitUntil(lambda: counter.window.language == "en", timeout=WAIT_MS)
    assert not warning.armed
    # A busy screen waits on someone else (here the phone sign-in): the person is not idle.
    counter.begin("prelink", "2024000002")
    counter.wait_for(Screen.DEVICE_GRANT)
    counter.qtbot.waitUntil(lambda: counter.window.view.device_user_code is not None, timeout=10_000)
    assert counter.window.view.busy and not warning.armed and not warning.isVisible()


def test_a_warning_on_show_leaves_when_the_kiosk_gets_busy(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard]) -> None:
    clock = ManualClock()
    counter = open_window(idle_timeout_seconds=ALLOWANCE, clock=clock)
    counter.begin("password_reset", LINKED)
    counter.wait_for(Screen.PLACE_CARD)
    warn(counter, clock, ALLOWANCE - 3)
    # The card placed is no touch on the screen, but the kiosk now reads it: no wipe is coming.
    with counter.qtbot.waitSignal(counter.window.idle_warning_hidden, timeout=WAIT_MS):
        counter.place(make_card("linked"))
    counter.wait_for(Screen.PIN)
    assert counter.window.idle_warning.armed and not counter.window.idle_warning.isVisible()


def test_the_warning_follows_the_language(open_window: Callable[..., Counter]) -> None:
    clock = ManualClock()
    counter = on_the_account_screen(open_window, clock)
    window, warning = counter.window, counter.window.idle_warning
    warn(counter, clock, ALLOWANCE - 12.5)
    assert warning.title.text() == "Do you need more time?" and warning.button.text() == "More time"
    window.set_language("ja")  # as the language switch does
    counter.qtbot.waitUntil(lambda: window.language == "ja", timeout=WAIT_MS)
    assert warning.isVisible() and warning.seconds == 13  # the same count goes on
    assert warning.countdown.text() == "個人情報を守るため、あと13秒で画面の内容を消去します。"
    assert warning.button.text() == "時間を延長する" == warning.button.accessibleName()
    assert warning.panel.accessibleName() == warning.title.text() == "まだご利用になりますか？"


def test_assistive_technology_hears_the_warning_once(open_window: Callable[..., Counter],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clock = ManualClock()
    counter = on_the_account_screen(open_window, clock)
    warning = counter.window.idle_warning
    events: list[tuple[QAccessible.Event, str]] = []

    def record(event: QAccessibleEvent) -> None:
        message = getattr(event, "message", None)
        if event.object() is warning.panel:
            events.append((event.type(), message() if message else ""))

    monkeypatch.setattr(QAccessible, "updateAccessibility", record)
    warn(counter, clock, ALLOWANCE - 15)
    said = "Do you need more time? The screen will be cleared in 15 seconds for your privacy."
    assert events == [(QAccessible.Event.Alert, ""), (QAccessible.Event.Announcement, said)]
    interface = QAccessible.queryAccessibleInterface(warning.panel)
    assert interface is not None and interface.role() == QAccessible.Role.AlertMessage
    assert interface.text(QAccessible.Text.Name) == "Do you need more time?"
    assert interface.text(QAccessible.Text.Description) == warning.hint.text() != ""
    with counter.qtbot.waitSignal(warning.counted, timeout=WAIT_MS):
        clock.advance(1.0)
    assert len(events) == 2, "each second would be announced"
