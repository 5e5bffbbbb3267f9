"""A screen the window cannot show is never only logged: the person at the counter reads the error in
words, the session ends (a request still waiting is withdrawn on the server), and the failure is
logged in full. Each test provokes such a failure, so each is marked ``logs_errors`` and checks the
records itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from kiosk.flow import Screen, View
from kiosk.flow.machine import FlowController
from kiosk.nfc.sim import SimulatedCard
from kiosk.ui import screens  # noqa: F401  (each screen registers in SCREENS as it is imported)
from kiosk.ui.base import SCREENS
from tests.helpers.server_api import LINKED
from tests.linkserver.helpers import LiveServer
from tests.ui.counter import Counter, visible_texts

pytestmark = pytest.mark.logs_errors

DISPLAY_FAILED = "display.failed"
WORDS = "The kiosk could not show the next screen"


class Broken(RuntimeError):
    """What a screen with a bug raises here."""


def break_render(monkeypatch: pytest.MonkeyPatch, counter: Counter, state: Screen) -> None:
    """The window's screen for ``state`` draws part of the view, then raises (only for that state;
    screens of other windows alive in this process are left alone)."""
    page = counter.window.page(state)
    render = page.render  # type: ignore[attr-defined]

    def half_drawn(view: View) -> None:
        render(view)
        if view.screen is state:
            raise Broken(f"the {state.value} screen is half drawn")

    monkeypatch.setattr(page, "render", half_drawn)


def page_text(counter: Counter) -> str:
    page = counter.window.current_page
    assert page is not None
    return "\n".join(visible_texts(page))


def messages(records: list[logging.LogRecord]) -> list[str]:
    return [record.getMessage() for record in records]


def assert_on_the_error_screen(counter: Counter, where: str) -> None:
    """The flow ended the session on the error screen, which names the failure in words."""
    counter.wait_for(Screen.ERROR)
    view = counter.window.view
    assert (view.error, view.error_step) == (DISPLAY_FAILED, where)
    assert view.operation is None and view.account is None and view.pin_digits == 0
    text = page_text(counter)
    assert WORDS in text and f"{DISPLAY_FAILED} (at: {where})" in text, text


def test_a_screen_that_fails_to_render_ends_the_session_and_withdraws_its_request(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard], server: LiveServer,
        monkeypatch: pytest.MonkeyPatch, logged_errors: list[logging.LogRecord]) -> None:
    counter = open_window()
    break_render(monkeypatch, counter, Screen.STAFF_WAIT)
    counter.up_to_pin("mfa_reset", make_card("linked"), LINKED)  # nobody at the staff console
    counter.enter_pin("1234", then=Screen.ERROR)
    assert_on_the_error_screen(counter, "staff_wait")
    counter.qtbot.waitUntil(lambda: (server.latest_operation(LINKED) or ())[1:] == ("cancelled", "error"),
                            timeout=10_000)
    assert messages(logged_errors) == ["the staff_wait screen failed to render"]
    assert logged_errors[0].exc_info is not None and logged_errors[0].exc_info[0] is Broken
    counter.tap("OK")
    counter.wait_for(Screen.START)


def test_a_state_without_a_screen_ends_on_the_error_screen(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard],
        monkeypatch: pytest.MonkeyPatch, logged_errors: list[logging.LogRecord]) -> None:
    monkeypatch.delitem(SCREENS, Screen.UNLINK_CONFIRM)
    counter = open_window()
    assert counter.window.page(Screen.UNLINK_CONFIRM) is counter.window.fallback
    counter.up_to_pin("unlink", make_card("linked"), LINKED)
    counter.enter_pin("1234", then=Screen.ERROR)
    assert_on_the_error_screen(counter, "unlink_confirm")
    assert messages(logged_errors) == ["no screen could be built for the unlink_confirm state"]
    # A late tap for the screen that never showed is refused, and changes nothing.
    counter.window._dispatch("confirm_unlink", True)
    assert counter.screen is Screen.ERROR and counter.window.current_page is counter.window.page(Screen.ERROR)


def test_when_the_error_screen_itself_fails_the_fallback_page_says_it(
        open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard],
        monkeypatch: pytest.MonkeyPatch, logged_errors: list[logging.LogRecord]) -> None:
    counter = open_window()
    break_render(monkeypatch, counter, Screen.ERROR)
    counter.up_to_pin("mfa_reset", make_card("unlinked"), LINKED)
    counter.type_digits("2580")
    counter.tap("OK")  # not linked: the error screen is due, and it breaks
    window = counter.window
    counter.qtbot.waitUntil(lambda: window.view.error == DISPLAY_FAILED, timeout=15_000)
    assert window.current_page is window.fallback and window.view.account is None
    text = page_text(counter)
    assert WORDS in text and f"{DISPLAY_FAILED} (at: error)" in text, text
    # The no-match error screen failed, then the display failure's own: the page stays.
    assert messages(logged_errors) == ["the error screen failed to render"] * 2
    counter.tap("OK")
    counter.wait_for(Screen.START)


def test_a_screen_that_fails_to_translate_ends_on_the_error_screen_in_the_new_language(
        open_window: Callable[..., Counter], monkeypatch: pytest.MonkeyPatch,
        logged_errors: list[logging.LogRecord]) -> None:
    counter = open_window()
    counter.begin("salvage")
    page = counter.window.page(Screen.ACCOUNT)
    retranslate = page.retranslate  # type: ignore[attr-defined]

    def broken() -> None:
        retranslate()
        raise Broken("half translated")

    monkeypatch.setattr(page, "retranslate", broken)
    counter.tap("日本語")
    counter.wait_for(Screen.ERROR)
    view = counter.window.view
    assert (view.error, view.error_step, view.language) == (DISPLAY_FAILED, "account", "ja")
    assert "次の画面を表示できませんでした" in page_text(counter)
    assert set(messages(logged_errors)) == {"the AccountScreen screen failed to retranslate"}


def test_the_flow_failing_on_a_tap_or_a_timer_ends_on_the_error_screen(
        open_window: Callable[..., Counter], monkeypatch: pytest.MonkeyPatch,
        logged_errors: list[logging.LogRecord]) -> None:
    counter = open_window()
    controller = counter.window.controller

    def account_ok(_account_id: str) -> bool:
        raise Broken("a bug behind the OK button")

    monkeypatch.setattr(controller.backend, "account_ok", account_ok)
    counter.begin("mfa_reset", LINKED)  # a tap the flow raises on
    assert_on_the_error_screen(counter, "account")
    assert messages(logged_errors) == ["the flow failed on the intent submit_account"]

    counter.tap("OK")
    counter.wait_for(Screen.START)
    counter.begin("salvage")
    end_session = FlowController.end_session
    fails = [Broken("a bug when the session ends")]

    def end_once(self: FlowController, reason: str = "user_cancelled") -> None:
        if fails:
            raise fails.pop()
        end_session(self, reason)

    monkeypatch.setattr(FlowController, "end_session", end_once)
    counter.window.idle_timer.setInterval(50)
    counter.window.idle_timer.start()  # the idle timeout, which the flow raises on
    assert_on_the_error_screen(counter, "account")
    assert messages(logged_errors)[1:] == ["the flow failed on idle timeout"]
