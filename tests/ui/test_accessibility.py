"""What makes each screen usable by everyone at the counter, tested on the real window (offscreen):
text sized in millimetres of the panel and the user's larger text, the roles and states assistive
technology hears, the keyboard's way through a screen, the focus ring, and the scrolling body.

The every-screen measurement of the same rules is ``tests/ui/test_accessibility_audit.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import cast

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAccessible, QColor, QFont, QFontMetricsF
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from kiosk.flow import Intent, Screen, View
from kiosk.flow.machine import Backend
from kiosk.ui.keypads import OnScreenKeyboard, PinPad
from kiosk.ui.screens.frame import Frame
from kiosk.ui.screenshots import representative_views
from kiosk.ui.sizes import (
    BODY_CAP_MM,
    BODY_PT,
    LARGE_TEXT,
    MM_PER_INCH,
    TOUCH_PX,
    set_text_scale,
    text_pixels,
)
from kiosk.ui.style import EDGE_INK, FOCUS_PX
from kiosk.ui.widgets import BigButton, LanguageSwitch, contrast_ratio
from kiosk.ui.window import KioskWindow
from tests.fast.fakes import FakeBackend

SIZE = (1280, 800)


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[KioskWindow]:
    """The counter's window at the panel's size, driven by views (the flow has no work to do)."""
    shown = KioskWindow(cast(Backend, FakeBackend()), language="en", idle_timeout_seconds=3600)
    qtbot.addWidget(shown)
    shown.setFixedSize(*SIZE)
    shown.show()
    qtbot.waitExposed(shown)
    yield shown
    shown.unlock_for_shutdown()
    shown.close()


def view_of(stem: str, language: str = "en", **changes: object) -> View:
    found = dict(representative_views(language))[stem]
    return dataclasses.replace(found, **changes)


def frame(window: KioskWindow) -> Frame:
    page = window.current_page
    assert isinstance(page, Frame)
    return page


# -- text in millimetres ------------------------------------------------------------------------------

@pytest.mark.parametrize("dpi", [96.0, 125.0, 149.0, 220.0])  # a monitor, 12.1" and 10.1" 1280×800, a tablet
def test_body_text_stands_4_8_mm_and_larger_text_6_1_mm_on_any_panel(dpi: float, qapp: QApplication) -> None:
    font = QFont()
    for scale, floor in ((1.0, 4.8), (LARGE_TEXT, 6.1)):
        set_text_scale(QWidget(), scale)
        try:
            font.setPixelSize(text_pixels(BODY_PT, font, dpi=dpi))
        finally:
            set_text_scale(QWidget(), 1.0)
        cap_mm = QFontMetricsF(font).capHeight() * MM_PER_INCH / dpi
        aimed = BODY_CAP_MM * scale
        assert floor <= aimed <= cap_mm < aimed * 1.15, (dpi, scale, cap_mm)


def test_larger_text_grows_every_text_keeps_for_the_session_and_idle_returns_it(
        window: KioskWindow, qtbot: QtBot) -> None:
    start = frame(window)
    texts = [*start.findChildren(QLabel), start.text_size]
    normal = {id(w): w.font().pixelSize() for w in texts}
    assert not start.text_size.isChecked()
    start.text_size.click()
    assert window.view.large_text and window.text_scale == LARGE_TEXT
    assert start.text_size.isChecked()
    toggle = QAccessible.queryAccessibleInterface(start.text_size)
    assert toggle.state().checkable and toggle.state().checked
    assert toggle.text(QAccessible.Text.Name) == "Larger text"
    for widget in texts:
        assert widget.font().pixelSize() >= normal[id(widget)] * LARGE_TEXT - 1, widget.objectName()
    window.controller.intent(Intent.CHOOSE.value, "password_reset")
    assert frame(window).text_size.isChecked() and window.text_scale == LARGE_TEXT
    window.idle_timer.setInterval(1)
    window.idle_timer.start()
    qtbot.waitUntil(lambda: not window.view.large_text)
    assert window.view.screen is Screen.START and window.text_scale == 1.0
    assert start.title.font().pixelSize() == text_pixels(28, start.title.font())


# -- roles and states -----------------------------------------------------------------------------------

def test_the_language_pair_is_a_named_group_of_two_radio_buttons_one_checked(window: KioskWindow) -> None:
    switch = frame(window).languages
    group = QAccessible.queryAccessibleInterface(switch)
    assert (group.role(), group.text(QAccessible.Text.Name)) == (QAccessible.Role.Grouping, "Language")
    states = {}
    for code, button in switch.buttons.items():
        face = QAccessible.queryAccessibleInterface(button)
        assert face.role() == QAccessible.Role.RadioButton
        states[code] = bool(face.state().checked)
    assert states == {"ja": False, "en": True}
    switch.buttons["en"].click()  # a second touch on the current language keeps it chosen
    assert switch.buttons["en"].isChecked() and window.language == "en"
    switch.buttons["ja"].click()
    assert window.language == "ja" and group.text(QAccessible.Text.Name) == "言語"
    assert switch.buttons["ja"].isChecked() and not switch.buttons["en"].isChecked()


def test_the_pin_pad_and_the_keyboard_are_named_groups(qapp: QApplication) -> None:
    for pad, name in ((PinPad(), "PIN pad"), (OnScreenKeyboard(), "On-screen keyboard")):
        face = QAccessible.queryAccessibleInterface(pad)
        assert (face.role(), face.text(QAccessible.Text.Name)) == (QAccessible.Role.Grouping, name)
        assert pad.focusPolicy() == Qt.FocusPolicy.NoFocus  # its keys take the focus, and show it
        pad.deleteLater()


def test_english_screens_tell_assistive_technology_english(window: KioskWindow) -> None:
    for language, expected in (("en", "en_US"), ("ja", "ja_JP"), ("en", "en_US")):
        window.show_view(view_of("pin", language))
        for widget in (window, frame(window), frame(window).pad.keys["1"], frame(window).title):
            face = QAccessible.queryAccessibleInterface(widget)
            locale = face.attributesInterface().attributeValue(QAccessible.Attribute.Locale)
            assert locale.name() == expected, (language, type(widget).__name__)


# -- the keyboard's way -------------------------------------------------------------------------------

def tab_stops(window: KioskWindow) -> list[QWidget]:
    """The focus stops Tab visits from the screen's first focus until it comes round again."""
    first = QApplication.focusWidget()
    assert first is not None
    stops, widget = [first], first
    for _ in range(100):
        QTest.keyClick(widget, Qt.Key.Key_Tab)
        widget = QApplication.focusWidget()
        if widget is None or widget is first:
            return stops
        stops.append(widget)
    raise AssertionError("Tab never came round")


@pytest.mark.parametrize("stem", ["start", "pin-wrong", "last_try", "cardinfo_question", "account"])
def test_tab_reaches_the_language_larger_text_and_cancel_from_the_first_focus(
        window: KioskWindow, stem: str) -> None:
    window.show_view(view_of(stem))
    page = frame(window)
    assert page.first_focus() is QApplication.focusWidget()
    stops = tab_stops(window)
    wanted = [page.text_size, *page.languages.buttons.values()]
    wanted += [b for b in page.findChildren(BigButton) if b.isVisible() and b.isEnabled()]
    assert not [w.accessibleName() for w in wanted if w not in stops]


def test_the_new_password_field_has_the_focus_as_soon_as_the_screen_shows(window: KioskWindow) -> None:
    window.show_view(view_of("start"))
    window.show_view(view_of("new_password"))
    page = frame(window)
    assert QApplication.focusWidget() is page.field  # type: ignore[attr-defined]
    key = next(b for b in page.findChildren(BigButton) if b.text() == "q" and b.isVisible())
    assert key.focusPolicy() == Qt.FocusPolicy.TabFocus  # a touch leaves the focus in the field


def test_staff_type_their_id_on_a_physical_keyboard_as_soon_as_the_screen_shows(window: KioskWindow) -> None:
    window.show_view(view_of("start"))
    window.show_view(view_of("offline_approval"))
    page = frame(window)
    field = QApplication.focusWidget()
    assert field is page.staff_id  # type: ignore[attr-defined]
    QTest.keyClicks(field, "Ab1")
    assert page.staff_id.text() == "Ab1"  # type: ignore[attr-defined]
    key = next(b for b in page.findChildren(BigButton) if b.text() == "q" and b.isVisible())
    key.click()  # a touch on the screen's keyboard leaves the focus, and the typing, in the field
    assert QApplication.focusWidget() is field and page.staff_id.text() == "Ab1q"  # type: ignore[attr-defined]
    QTest.keyClick(field, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is page.offline_pin  # type: ignore[attr-defined]
    QTest.keyClicks(page.offline_pin, "1234")  # type: ignore[attr-defined]
    assert page.offline_pin.text() == "1234" and page.staff_id.text() == "Ab1q"  # type: ignore[attr-defined]


def test_the_focus_ring_is_black_and_at_least_2_px_outside_the_edge(window: KioskWindow) -> None:
    window.show_view(view_of("start"))
    cancel_less = frame(window).text_size
    frame(window).languages.buttons["en"].setFocus()
    unfocused = window.grab().toImage()
    cancel_less.setFocus()
    focused = window.grab().toImage()
    corner = cancel_less.mapTo(window, QPoint(0, 0))
    middle = corner.y() + cancel_less.height() // 2
    for x in range(corner.x(), corner.x() + FOCUS_PX - 2):  # the margin the ring grows into
        before, after = unfocused.pixelColor(x, middle), focused.pixelColor(x, middle)
        assert before == QColor("#ffffff") and after == QColor("#000000"), x
    edge = unfocused.pixelColor(corner.x() + FOCUS_PX - 1, middle).name()
    assert edge == EDGE_INK and contrast_ratio(edge, "#ffffff") >= 3.0


# -- room on the screen ---------------------------------------------------------------------------------

def test_large_text_scrolls_the_body_and_keeps_cancel_and_every_key_reachable(
        window: KioskWindow, qtbot: QtBot) -> None:
    window.show_view(view_of("pin-wrong", "ja", large_text=True, tries_left=1))
    window.set_text_scale(2.0)  # 200 %: more than any panel holds
    page = frame(window)
    bar = page.body_area.verticalScrollBar()
    qtbot.waitUntil(bar.isVisible)
    assert bar.width() >= TOUCH_PX
    cancel = next(b for b in page.findChildren(BigButton) if b.accessibleName() == "中止")
    assert window.rect().contains(cancel.geometry().translated(cancel.mapTo(window, QPoint(0, 0))
                                                               - cancel.pos()))
    page.pad.ok_key.setEnabled(True)
    page.pad.ok_key.setFocus(Qt.FocusReason.TabFocusReason)
    viewport = page.body_area.viewport()
    qtbot.waitUntil(lambda: viewport.rect().contains(
        page.pad.ok_key.rect().translated(page.pad.ok_key.mapTo(viewport, QPoint(0, 0)))))


def test_a_language_switch_keeps_its_own_size(qapp: QApplication) -> None:
    switch = LanguageSwitch()
    for button in switch.buttons.values():
        assert button.minimumHeight() >= TOUCH_PX and button.minimumWidth() >= TOUCH_PX
    switch.deleteLater()


def test_the_scrolled_body_is_white_paper_as_the_frame_around_it(window: KioskWindow) -> None:
    """The body's own background, not the style's grey: text contrast is measured against white."""
    window.show_view(view_of("pin"))
    viewport = frame(window).body_area.viewport()
    corner = viewport.mapTo(window, QPoint(4, viewport.height() - 4))  # below the words, left of the pad
    image = window.grab().toImage()
    assert image.pixelColor(corner).name() == "#ffffff"
