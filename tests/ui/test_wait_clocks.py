"""The screens that wait on someone else show the time waited and the time left, on the real window.

The clocks read a clock the test moves by hand; the waits themselves are the real ones (the
reference server, a simulated card, nobody deciding or signing in).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtGui import QAccessible, QAccessibleEvent

from kiosk.flow import Screen
from kiosk.nfc.sim import SimulatedCard
from kiosk.services.core import KioskCore
from kiosk.ui.screens.entry import DeviceGrantScreen
from kiosk.ui.screens.waiting import StaffWaitScreen
from kiosk.ui.waitclock import WaitClock
from tests.helpers.manual_clock import ManualClock
from tests.helpers.server_api import LINKED
from tests.ui.counter import Counter

WAIT_MS = 5_000


def short(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def spoken(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    words = [f"{minutes} minute{'s' if minutes != 1 else ''}"] if minutes else []
    if rest or not minutes:
        words.append(f"{rest} second{'s' if rest != 1 else ''}")
    return " ".join(words)


def shows(counter: Counter, clock: WaitClock, waited: str, left: str) -> None:
    counter.qtbot.waitUntil(lambda: (clock.waited.text(), clock.left.text()) == (waited, left),
                            timeout=WAIT_MS)
    assert clock.waited.isVisible() and clock.left.isVisible()


def test_the_wait_for_staff_shows_the_time_waited_and_left(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard], core: KioskCore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    counter = open_window()
    page = counter.window.page(Screen.STAFF_WAIT)
    assert isinstance(page, StaffWaitScreen)
    now = ManualClock()
    page.clock.now = now
    counter.up_to_pin("password_reset", make_card("linked"), LINKED)
    counter.enter_pin("1234", Screen.STAFF_WAIT)
    limit = core.operations.approval_timeout
    assert counter.window.view.wait_seconds == limit
    shows(counter, page.clock, "Waiting for 0 s", f"Time left: {short(int(limit))}")

    events: list[QAccessible.Event] = []

    def record(event: QAccessibleEvent) -> None:
        if event.object() in (page.clock.waited, page.clock.left):
            events.append(event.type())

    monkeypatch.setattr(QAccessible, "updateAccessibility", record)
    now.advance(5.4)
    shows(counter, page.clock, "Waiting for 5 s", f"Time left: {short(int(limit) - 5)}")
    # Read in whole words when asked for; never announced as it changes.
    assert page.clock.waited.accessibleName() == "Waiting for 5 seconds"
    assert page.clock.left.accessibleName() == f"Time left: {spoken(int(limit) - 5)}"
    assert not {QAccessible.Event.Alert, QAccessible.Event.Announcement} & set(events)
    now.advance(60.0)
    shows(counter, page.clock, "Waiting for 1 min 05 s", "Time left: 0 s")  # no time below nothing
    assert page.clock.waited.accessibleName() == "Waiting for 1 minute 5 seconds"

    counter.window.set_language("ja")
    counter.qtbot.waitUntil(lambda: counter.window.language == "ja", timeout=WAIT_MS)
    assert (page.clock.waited.text(), page.clock.left.text()) == ("経過時間：1分05秒", "残り時間：0秒")

    # The next person's wait has its own time waited and its whole time left.
    counter.tap("中止")
    counter.wait_for(Screen.START)
    counter.take_off()
    counter.window.set_language("en")
    counter.up_to_pin("password_reset", make_card("linked"), LINKED)
    counter.enter_pin("1234", Screen.STAFF_WAIT)
    shows(counter, page.clock, "Waiting for 0 s", f"Time left: {short(int(limit))}")


def test_the_phone_sign_in_counts_from_the_code_and_starts_afresh(
        open_window: Callable[..., Counter]) -> None:
    counter = open_window()
    page = counter.window.page(Screen.DEVICE_GRANT)
    assert isinstance(page, DeviceGrantScreen)
    now = ManualClock()
    page.clock.now = now
    counter.begin("prelink", "2024000002")
    counter.wait_for(Screen.DEVICE_GRANT)
    counter.qtbot.waitUntil(lambda: counter.window.view.device_user_code is not None, timeout=10_000)
    lifetime = counter.window.view.wait_seconds
    assert isinstance(lifetime, int) and lifetime > 0  # the code's lifetime, from the server
    shows(counter, page.clock, "Waiting for 0 s", f"Time left: {short(lifetime)}")
    now.advance(75.0)
    shows(counter, page.clock, "Waiting for 1 min 15 s", f"Time left: {short(lifetime - 75)}")

    counter.tap("Cancel")
    counter.wait_for(Screen.START)
    counter.begin("prelink", "2024000002")
    counter.wait_for(Screen.DEVICE_GRANT)
    counter.qtbot.waitUntil(lambda: counter.window.view.device_user_code is not None, timeout=10_000)
    # A new code: its own lifetime and its own time waited.
    shows(counter, page.clock, "Waiting for 0 s", f"Time left: {short(lifetime)}")
