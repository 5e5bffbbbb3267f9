"""The screens before verification and their shared widgets: taps and keys become intents, every
control is named and big enough, and the PIN pad never lets a digit out."""

from __future__ import annotations

import gc
import math
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAccessible, QColor
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from kiosk.flow import Screen, View
from kiosk.ui.base import SCREENS, ScreenWidget
from kiosk.ui.keypads import OnScreenKeyboard, PinPad
from kiosk.ui.qrcode import QrCode
from kiosk.ui.screens import entry
from kiosk.ui.screens.entry import (
    AccountScreen,
    CardInfoQuestionScreen,
    DeviceGrantScreen,
    LastTryScreen,
    PinScreen,
    PlaceCardScreen,
    StartScreen,
    error_words,
)
from kiosk.ui.sizes import BODY_CAP_MM, cap_height_mm, text_pixels
from kiosk.ui.widgets import (
    ALERT_INK,
    DISABLED_INK,
    GOOD_INK,
    INK,
    PAPER,
    TITLE_PT,
    BigButton,
    BusyIndicator,
    LanguageSwitch,
    contrast_ratio,
    mm,
    pixels_for_mm,
)
from tests.helpers.ui import assert_bottom_row_is_large, bottom_row_buttons

Intents = list[tuple[str, object]]
Opener = Callable[[type[ScreenWidget], View], tuple[ScreenWidget, Intents]]

LEFT = Qt.MouseButton.LeftButton
URI = "https://id.example.ac.jp/device?user_code=WDJB-MJHT"

#: One representative view per screen state this module renders.
VIEWS: dict[Screen, View] = {
    Screen.START: View(Screen.START, "en", reader_ready=True),
    Screen.ACCOUNT: View(Screen.ACCOUNT, "en", operation="password_reset"),
    Screen.DEVICE_GRANT: View(Screen.DEVICE_GRANT, "en", operation="prelink", busy=True,
                              device_user_code="WDJB-MJHT", device_uri=URI),
    Screen.PLACE_CARD: View(Screen.PLACE_CARD, "en", reader_ready=True, busy=True),
    Screen.PIN: View(Screen.PIN, "en", tries_left=3),
    Screen.CARDINFO_PIN: View(Screen.CARDINFO_PIN, "en", cardinfo_tries_left=5),
    Screen.LAST_TRY: View(Screen.LAST_TRY, "en", tries_left=1, pin_digits=4),
    Screen.CARDINFO_QUESTION: View(Screen.CARDINFO_QUESTION, "en", operation="prelink"),
}


@pytest.fixture
def open_screen(qtbot: QtBot) -> Opener:
    """Build a screen, collect its intents, render ``view`` and show it as the window would."""

    def factory(cls: type[ScreenWidget], view: View) -> tuple[ScreenWidget, Intents]:
        screen = cls()
        qtbot.addWidget(screen)
        intents: Intents = []
        screen.intent.connect(lambda name, argument: intents.append((name, argument)))
        screen.resize(1280, 1024)
        screen.render(view)
        screen.show()
        qtbot.waitExposed(screen)
        return screen, intents

    return factory


def click(qtbot: QtBot, button: QAbstractButton) -> None:
    assert button.isVisible() and button.isEnabled(), button.accessibleName()
    qtbot.mouseClick(button, LEFT)


def widgets(root: QWidget) -> Iterator[QWidget]:
    yield root
    yield from root.findChildren(QWidget)


# -- registration and the shared frame ---------------------------------------------------------------

def test_each_entry_state_has_its_screen() -> None:
    assert SCREENS[Screen.START] is StartScreen
    assert SCREENS[Screen.ACCOUNT] is AccountScreen
    assert SCREENS[Screen.DEVICE_GRANT] is DeviceGrantScreen
    assert SCREENS[Screen.PLACE_CARD] is PlaceCardScreen
    assert SCREENS[Screen.PIN] is PinScreen and SCREENS[Screen.CARDINFO_PIN] is PinScreen
    assert SCREENS[Screen.LAST_TRY] is LastTryScreen
    assert SCREENS[Screen.CARDINFO_QUESTION] is CardInfoQuestionScreen


@pytest.mark.parametrize("state", list(VIEWS), ids=lambda s: s.value)
def test_every_screen_is_accessible_switchable_and_cancellable(qtbot: QtBot, open_screen: Opener,
                                                               state: Screen) -> None:
    screen, intents = open_screen(SCREENS[state], VIEWS[state])
    screen.retranslate()
    screen.render(VIEWS[state])
    target = mm(9)
    interactive = [w for w in widgets(screen) if w.isVisible()
                   and (isinstance(w, QAbstractButton) or w.focusPolicy() & Qt.FocusPolicy.TabFocus)]
    assert interactive
    for widget in interactive:
        assert widget.accessibleName().strip(), type(widget).__name__
        if isinstance(widget, QAbstractButton):
            name = widget.accessibleName()
            assert widget.minimumWidth() >= target and widget.minimumHeight() >= target, name
            assert widget.width() >= target and widget.height() >= target, name
    for text_label in (w for w in widgets(screen) if isinstance(w, QLabel) and w.isVisible() and w.text()):
        assert cap_height_mm(text_label.font()) >= BODY_CAP_MM, text_label.text()
    # Every screen but the start screen has Cancel at the bottom left, as large as the README says.
    assert len(bottom_row_buttons(screen)) == (0 if state is Screen.START else 1)
    assert_bottom_row_is_large(screen)
    title = screen.title  # type: ignore[attr-defined]
    assert title.text() and title.font().pixelSize() >= text_pixels(TITLE_PT, title.font())

    switch = screen.findChild(LanguageSwitch)
    assert switch is not None and switch.isVisible()
    assert switch.buttons["en"].isChecked() and not switch.buttons["ja"].isChecked()
    click(qtbot, switch.buttons["ja"])
    assert intents[-1] == ("set_language", "ja")

    qtbot.keyClick(screen, Qt.Key.Key_Escape)
    if state is Screen.START:
        assert ("cancel", None) not in intents
    else:
        assert intents[-1] == ("cancel", None)
        click(qtbot, screen.cancel_button)  # type: ignore[attr-defined]
        assert intents[-1] == ("cancel", None)


def test_language_change_event_retranslates(qtbot: QtBot, open_screen: Opener) -> None:
    screen, _ = open_screen(PinScreen, VIEWS[Screen.PIN])
    screen.tries.setText("")
    QApplication.sendEvent(screen, QEvent(QEvent.Type.LanguageChange))
    assert screen.tries.text() == "3 tries left"


# -- start -------------------------------------------------------------------------------------------

def test_start_offers_the_six_operations(qtbot: QtBot, open_screen: Opener) -> None:
    screen, intents = open_screen(StartScreen, VIEWS[Screen.START])
    assert isinstance(screen, StartScreen)
    for kind in entry.OPERATION_KINDS:
        button = screen.operation_buttons[kind]
        assert button.text() == entry.operation_title(kind) and button.accessibleName() == button.text()
        click(qtbot, button)
        assert intents[-1] == ("choose", kind)
    assert len(intents) == 6
    qtbot.keyClick(screen.operation_buttons["unlink"], Qt.Key.Key_Return)
    assert intents[-1] == ("choose", "unlink")
    click(qtbot, screen.languages.buttons["en"])
    assert intents[-1] == ("set_language", "en")
    assert not screen.offline_notice.isVisible()


def test_start_says_when_offline_and_how_the_reader_is(open_screen: Opener) -> None:
    screen, _ = open_screen(StartScreen, View(Screen.START, "en", online=False))
    assert isinstance(screen, StartScreen)
    assert screen.offline_notice.isVisible() and "server" in screen.offline_notice.text()
    assert screen.offline_notice.icon.kind == "warning"
    enabled = {kind for kind, button in screen.operation_buttons.items() if button.isEnabled()}
    assert enabled == {"password_reset", "mfa_reset", "salvage"}
    reader = screen.reader
    assert reader.reader_icon.kind == "warning" and "No card reader" in reader.reader_label.text()
    assert reader.card_icon.kind == "info" and reader.card_label.text() == "No card on the reader"
    screen.render(View(Screen.START, "en", reader_ready=True, card_present=True))
    assert not screen.offline_notice.isVisible()
    assert all(button.isEnabled() for button in screen.operation_buttons.values())
    assert reader.reader_icon.kind == "ok" and reader.reader_label.text() == "Card reader connected"
    assert reader.card_icon.kind == "ok" and reader.card_label.text() == "A card is on the reader"


# -- account -----------------------------------------------------------------------------------------

def test_account_id_typed_on_screen_and_submitted(qtbot: QtBot, open_screen: Opener) -> None:
    screen, intents = open_screen(AccountScreen, VIEWS[Screen.ACCOUNT])
    assert isinstance(screen, AccountScreen)
    keyboard = screen.keyboard
    assert keyboard.page == "digits" and not keyboard.ok_key.isEnabled()
    assert screen.operation_label.text() == "Reset my password"
    for digit in "0123456789":
        click(qtbot, keyboard.digit_keys[digit])
    assert screen.display.text() == "0123456789"
    assert screen.display.accessibleDescription() == "0123456789"
    click(qtbot, keyboard.back_key)
    assert screen.display.text() == "012345678"
    click(qtbot, keyboard.ok_key)
    assert intents == [("submit_account", "012345678")]

    click(qtbot, keyboard.clear_key)
    assert screen.display.text() == "" and not keyboard.ok_key.isEnabled()
    click(qtbot, keyboard.letters_key)
    assert keyboard.page == "letters"
    click(qtbot, keyboard.letter_keys["s"])
    click(qtbot, keyboard.case_key)
    click(qtbot, keyboard.letter_keys["t"])
    click(qtbot, keyboard.symbol_keys["."])
    click(qtbot, keyboard.digits_key)
    click(qtbot, keyboard.digit_keys["7"])
    assert keyboard.text() == "sT.7"
    dot = keyboard.symbol_keys["."]
    assert (dot.accessibleName(), dot.accessibleDescription()) == (".", "Full stop")  # the caption, named
    case = keyboard.case_key
    assert (case.accessibleName(), case.accessibleDescription()) == (case.text(), "Small letters")

    # A physical keyboard works as well; Enter submits, Escape cancels.
    qtbot.keyClicks(keyboard, "x1")
    qtbot.keyClick(keyboard, Qt.Key.Key_Backspace)
    qtbot.keyClick(keyboard, Qt.Key.Key_Return)
    assert intents[-1] == ("submit_account", "sT.7x")
    qtbot.keyClicks(keyboard, " /")  # not part of any account ID
    assert keyboard.text() == "sT.7x"
    qtbot.keyClicks(screen.cancel_button, "9")  # type: ignore[arg-type]
    assert keyboard.text() == "sT.7x9"
    qtbot.keyClick(keyboard, Qt.Key.Key_Escape)
    assert intents[-1] == ("cancel", None)


def test_account_error_in_words_and_nothing_kept_for_the_next_person(qtbot: QtBot,
                                                                     open_screen: Opener) -> None:
    screen, _ = open_screen(AccountScreen, VIEWS[Screen.ACCOUNT])
    assert isinstance(screen, AccountScreen)
    assert not screen.error.isVisible()
    screen.keyboard.type_text("12345")
    screen.render(replace(VIEWS[Screen.ACCOUNT], error="invalid_account"))
    assert screen.error.isVisible() and screen.error.text() == error_words("invalid_account")
    assert screen.error.icon.kind == "no" and screen.error.accessibleName() == screen.error.text()
    assert screen.display.text() == "12345"  # kept, to be corrected
    screen.render(VIEWS[Screen.ACCOUNT])  # e.g. the reader's state changed
    assert screen.display.text() == "12345"
    screen.hide()
    assert screen.keyboard.text() == "" and screen.display.text() == ""
    screen.show()
    screen.keyboard.type_text("999")
    screen.render(replace(VIEWS[Screen.ACCOUNT], operation="unlink"))
    assert screen.keyboard.text() == "" and screen.operation_label.text() == "Delete my card link"


def test_keyboard_bounds_its_text() -> None:
    keyboard = OnScreenKeyboard(max_length=5)
    seen: list[str] = []
    keyboard.text_changed.connect(seen.append)
    keyboard.set_text("ab/c d\u00e9123456")
    assert keyboard.text() == "abcd1" and seen == ["abcd1"]
    keyboard.deleteLater()


# -- device sign-in ------------------------------------------------------------------------------------

def test_device_grant_prepares_then_shows_code_and_qr(qtbot: QtBot, open_screen: Opener) -> None:
    screen, intents = open_screen(DeviceGrantScreen, View(Screen.DEVICE_GRANT, "en", busy=True))
    assert isinstance(screen, DeviceGrantScreen)
    assert screen.preparing.isVisible() and screen.preparing.running
    assert screen.preparing.text() == "Preparing the sign-in code…"
    assert not screen.content.isVisible()

    screen.render(VIEWS[Screen.DEVICE_GRANT])
    assert not screen.preparing.isVisible() and not screen.preparing.running
    assert screen.qr.isVisible() and screen.qr.text() == URI
    assert screen.user_code.text() == "WDJB-MJHT"
    assert screen.user_code.accessibleDescription() == "W D J B - M J H T"
    assert screen.user_code.font().pixelSize() > text_pixels(TITLE_PT, screen.user_code.font())
    assert "Scan this QR code with your phone" in screen.instruction.text()
    assert screen.waiting.isVisible() and screen.waiting.running
    assert screen.qr.accessibleDescription() == "QR code"
    click(qtbot, screen.cancel_button)  # type: ignore[arg-type]
    assert intents == [("cancel", None)]


# -- place the card ------------------------------------------------------------------------------------

def test_place_card_shows_reader_and_reading(open_screen: Opener) -> None:
    screen, _ = open_screen(PlaceCardScreen, View(Screen.PLACE_CARD, "en"))
    assert isinstance(screen, PlaceCardScreen)
    assert screen.title.text() == "Place your My Number Card on the reader and leave it there"
    assert not screen.reading.isVisible()
    assert screen.reader.reader_icon.kind == "warning"
    screen.render(VIEWS[Screen.PLACE_CARD])
    assert screen.reading.isVisible() and screen.reading.running and screen.reading.text()
    assert screen.reader.reader_icon.kind == "ok"


# -- the PIN -------------------------------------------------------------------------------------------

class FakeFlow:
    """Counts PIN digits like the controller (and keeps nothing else) and renders the screen again."""

    def __init__(self, screen: ScreenWidget, view: View) -> None:
        self.screen = screen
        self.view = view
        self.intents: Intents = []
        screen.intent.connect(self.on_intent)

    def on_intent(self, name: str, argument: object) -> None:
        self.intents.append((name, argument))
        count = self.view.pin_digits
        count = {"pin_digit": min(count + 1, 4), "pin_backspace": max(count - 1, 0),
                 "pin_clear": 0}.get(name, count)
        self.view = replace(self.view, pin_digits=count)
        self.screen.render(self.view)


def test_pin_pad_keys_become_intents(qtbot: QtBot, open_screen: Opener) -> None:
    screen, intents = open_screen(PinScreen, VIEWS[Screen.PIN])
    assert isinstance(screen, PinScreen)
    pad = screen.pad
    flow = FakeFlow(screen, VIEWS[Screen.PIN])
    assert not pad.ok_key.isEnabled() and not pad.back_key.isEnabled() and not pad.clear_key.isEnabled()
    for digit in "9870":
        click(qtbot, pad.keys[digit])
    assert intents == [("pin_digit", d) for d in "9870"]
    assert pad.count == 4 and pad.dots.text() == "●●●●" and pad.ok_key.isEnabled()
    click(qtbot, pad.ok_key)
    assert intents[-1] == ("pin_submit", None)
    click(qtbot, pad.back_key)
    assert intents[-1] == ("pin_backspace", None) and pad.dots.text() == "●●●○"
    click(qtbot, pad.clear_key)
    assert intents[-1] == ("pin_clear", None) and pad.dots.text() == "○○○○"

    # The physical keyboard: digits (keypad too), Backspace, Delete, Enter; Enter waits for 4 digits.
    qtbot.keyClick(pad, Qt.Key.Key_5)
    qtbot.keyClick(pad, Qt.Key.Key_6, Qt.KeyboardModifier.KeypadModifier)
    qtbot.keyClick(pad, Qt.Key.Key_Return)  # two digits: nothing to submit yet
    assert intents[-2:] == [("pin_digit", "5"), ("pin_digit", "6")]
    qtbot.keyClick(pad, Qt.Key.Key_Backspace)
    qtbot.keyClick(pad, Qt.Key.Key_Delete)
    assert intents[-2:] == [("pin_backspace", None), ("pin_clear", None)]
    # Digits typed while Cancel has the focus still go to the pad; the digit key itself does not
    # swallow Enter, which submits.
    qtbot.keyClicks(screen.cancel_button, "1234")  # type: ignore[arg-type]
    qtbot.keyClick(pad.keys["4"], Qt.Key.Key_Enter)
    assert intents[-5:] == [("pin_digit", d) for d in "1234"] + [("pin_submit", None)]
    assert flow.view.pin_digits == 4
    qtbot.keyClick(pad, Qt.Key.Key_Escape)
    assert intents[-1] == ("cancel", None)


def test_pin_screen_words(open_screen: Opener) -> None:
    screen, _ = open_screen(PinScreen, VIEWS[Screen.PIN])
    assert isinstance(screen, PinScreen)
    assert screen.tries.text() == "3 tries left" and not screen.warning.isVisible()
    assert not screen.error.isVisible()
    pin_title = screen.title.text()
    assert "4-digit PIN" in pin_title
    screen.render(replace(VIEWS[Screen.PIN], tries_left=1, error="pin.wrong", pin_digits=2))
    assert screen.tries.text() == "This is your last try"
    assert screen.warning.isVisible() and "municipal office" in screen.warning.text()
    assert screen.error.isVisible() and screen.error.text() == "Wrong PIN"  # the keypad keeps its height
    assert screen.pad.dots.accessibleName() == "2 of 4 digits entered"
    assert screen.pad.accessibleDescription() == "2 of 4 digits entered"

    screen.render(VIEWS[Screen.CARDINFO_PIN])
    assert screen.title.text() == "Enter the 4-digit PIN for the card information"
    assert screen.title.text() != pin_title
    assert screen.tries.text() == "5 tries left" and not screen.error.isVisible()
    screen.render(replace(VIEWS[Screen.CARDINFO_PIN], cardinfo_tries_left=None))
    assert not screen.tries.isVisible()


def _exposed_strings(widget: QWidget) -> Iterator[str]:
    for getter in ("text", "windowTitle", "accessibleName", "accessibleDescription", "toolTip",
                   "statusTip", "whatsThis", "placeholderText"):
        method = getattr(widget, getter, None)
        if callable(method):
            try:
                value = method()
            except TypeError:
                continue
            if isinstance(value, str):
                yield value
    interface = QAccessible.queryAccessibleInterface(widget)
    if interface is not None:
        for kind in (QAccessible.Text.Name, QAccessible.Text.Description, QAccessible.Text.Value,
                     QAccessible.Text.Help):
            yield interface.text(kind)
    for value in vars(widget).values():
        if isinstance(value, str | bytes | bytearray):
            yield value if isinstance(value, str) else bytes(value).decode("latin-1")


def test_pin_pad_never_exposes_the_digits(qtbot: QtBot, open_screen: Opener) -> None:
    clipboard = QApplication.clipboard()
    clipboard.clear()
    screen, intents = open_screen(PinScreen, VIEWS[Screen.PIN])
    assert isinstance(screen, PinScreen)
    flow = FakeFlow(screen, VIEWS[Screen.PIN])
    for digit in "12":
        click(qtbot, screen.pad.keys[digit])
    qtbot.keyClicks(screen.pad, "34")
    assert [a for n, a in intents if n == "pin_digit"] == ["1", "2", "3", "4"]
    assert screen.pad.dots.accessibleName() == "4 of 4 digits entered"

    in_sequence = re.compile(r"1\D{0,3}2\D{0,3}3\D{0,3}4")
    assert not screen.findChildren(QLineEdit)
    for widget in widgets(screen):
        for text in _exposed_strings(widget):
            assert "1234" not in text and not in_sequence.search(text), (type(widget).__name__, text)
    assert clipboard.text() == ""
    data = clipboard.mimeData()
    assert data is None or not data.formats()
    assert flow.view.pin_digits == 4


def test_taps_keep_the_interpreter_sound(qtbot: QtBot, open_screen: Opener) -> None:
    """Signals emitted from Python must not drain references from ``True`` (see ``widgets.emit``)."""
    screen, intents = open_screen(PinScreen, VIEWS[Screen.PIN])
    assert isinstance(screen, PinScreen)
    flow = FakeFlow(screen, VIEWS[Screen.PIN])
    # The collector freeing earlier tests' garbage (dicts holding True) would look like a drain.
    gc.collect()
    gc.disable()
    try:
        before = sys.getrefcount(True)
        for _ in range(100):
            click(qtbot, screen.pad.keys["5"])
            qtbot.keyClick(screen.pad, Qt.Key.Key_Backspace)
            click(qtbot, screen.languages.buttons["en"])
        after = sys.getrefcount(True)
    finally:
        gc.enable()
    assert len(intents) == 300 and flow.view.pin_digits == 0
    assert after >= before - 100  # a leak per emit would be 300 or more


def test_last_try_needs_an_explicit_choice(qtbot: QtBot, open_screen: Opener) -> None:
    screen, intents = open_screen(LastTryScreen, VIEWS[Screen.LAST_TRY])
    assert isinstance(screen, LastTryScreen)
    assert screen.warning.isVisible() and "municipal office" in screen.warning.text()
    assert screen.warning.icon.kind == "warning"
    # Enter on the screen's first focus goes back, never spends the last try.
    assert screen.first_focus() is screen.go_back
    qtbot.keyClick(screen.go_back, Qt.Key.Key_Return)
    assert intents == [("confirm_last_try", False)]
    click(qtbot, screen.use_last_try)
    assert intents[-1] == ("confirm_last_try", True)
    assert screen.use_last_try.text() == "Use my last try" and screen.go_back.text() == "Go back"


def test_card_info_question(qtbot: QtBot, open_screen: Opener) -> None:
    screen, intents = open_screen(CardInfoQuestionScreen, VIEWS[Screen.CARDINFO_QUESTION])
    assert isinstance(screen, CardInfoQuestionScreen)
    assert screen.title.text() == "Is your card-information PIN the same as the PIN you just entered?"
    click(qtbot, screen.yes)
    click(qtbot, screen.no)
    assert intents == [("answer_same_pin", True), ("answer_same_pin", False)]


# -- the shared widgets ----------------------------------------------------------------------------------

def test_millimetres_follow_the_physical_dpi() -> None:
    assert pixels_for_mm(25.4, 200) == 200
    assert pixels_for_mm(9, 96) == math.ceil(9 * 96 / 25.4) == 35
    for nonsense in (0.0, -1.0, float("nan"), float("inf"), 5000.0):
        assert pixels_for_mm(9, nonsense) == 35
    screen = QApplication.primaryScreen()
    dpi = screen.physicalDotsPerInch()
    assert mm(9) == pixels_for_mm(9, dpi) and mm(9) * 25.4 / (dpi if 50 <= dpi <= 1200 else 96) >= 9


def test_colours_reach_seven_to_one() -> None:
    for ink in (INK, ALERT_INK, GOOD_INK, DISABLED_INK):
        assert contrast_ratio(ink, PAPER) >= 7, ink
    assert contrast_ratio(INK, PAPER) == pytest.approx(21)


def test_big_button(qtbot: QtBot) -> None:
    button = BigButton("&Save && go", value=7)
    qtbot.addWidget(button)
    assert button.accessibleName() == "Save & go"
    assert button.minimumWidth() >= mm(9) and button.minimumHeight() >= mm(9)
    assert cap_height_mm(button.font()) >= BODY_CAP_MM
    values: list[object] = []
    button.triggered.connect(values.append)
    qtbot.keyClick(button, Qt.Key.Key_Return)
    qtbot.mouseClick(button, LEFT)
    assert values == [7, 7]
    button.set_spoken_name("Save the file")
    button.setText("Keep")  # the caption stays in the name (WCAG 2.5.3); the words describe it
    assert (button.accessibleName(), button.accessibleDescription()) == ("Keep", "Save the file")
    button.setText("1")
    button.set_spoken_name("digit 1")  # words that hold the caption are the name
    assert (button.accessibleName(), button.accessibleDescription()) == ("digit 1", "")
    button.set_spoken_name(None)
    assert (button.accessibleName(), button.accessibleDescription()) == ("1", "")


def test_busy_indicator_animates_only_while_shown(qtbot: QtBot) -> None:
    busy = BusyIndicator("Reading your card")
    qtbot.addWidget(busy)
    assert not busy.running and busy.text() == "Reading your card"
    assert busy.accessibleName() == "Reading your card"
    busy.show()
    assert busy.running
    qtbot.waitUntil(lambda: busy.spinner.step != 0, timeout=2000)
    busy.hide()
    assert not busy.running
    busy.set_text("")
    assert busy.text() == "Please wait…"


def test_qr_code_renders_black_on_white(qtbot: QtBot) -> None:
    code = QrCode(min_mm=30)
    qtbot.addWidget(code)
    code.resize(400, 300)
    code.set_text(URI)
    assert code.modules >= 21 + 8 and (code.modules - 8 - 21) % 4 == 0
    image = code.grab().toImage()
    colours = {QColor(image.pixel(x, y)).name() for x in range(0, image.width(), 3)
               for y in range(0, image.height(), 3)}
    assert "#000000" in colours and "#ffffff" in colours
    code.set_text(None)
    assert code.modules == 0 and code.text() == ""


def test_language_switch_marks_the_current_language_without_colour(qtbot: QtBot) -> None:
    switch = LanguageSwitch()
    qtbot.addWidget(switch)
    switch.set_language("ja")
    ja, en = switch.buttons["ja"], switch.buttons["en"]
    assert ja.isChecked() and ja.font().bold() and not en.isChecked() and not en.font().bold()
    assert ja.text() == "日本語" and en.text() == "English"
    assert "Noto Sans CJK JP" in ja.font().families()


def test_pin_pad_alone_keeps_only_a_count(qtbot: QtBot) -> None:
    pad = PinPad()
    qtbot.addWidget(pad)
    pad.set_count(9)
    assert pad.count == 4 and pad.dots.text() == "●●●●"
    pad.set_count(-1)
    assert pad.count == 0
    assert [pad.keys[d].accessibleName() for d in "10"] == ["digit 1", "digit 0"]
    back = pad.back_key
    assert (back.accessibleName(), back.accessibleDescription()) == (back.text(), "Delete the last digit")
    submitted: list[bool] = []
    pad.submit.connect(lambda: submitted.append(True))
    qtbot.keyClick(pad, Qt.Key.Key_Enter)
    assert not submitted  # not before four digits
