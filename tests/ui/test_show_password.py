"""The new-password screen's "Show password" toggle: the user can read what they typed before it is
sent; it is announced, large enough to touch, in both languages, starts hidden for every new
password, and the clipboard stays shut while the password is shown."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QTranslator
from PySide6.QtGui import QAccessible, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from kiosk.flow import Screen
from kiosk.ui.screens.outcome import NewPasswordScreen
from kiosk.ui.translations import translation_file
from tests.ui import test_outcome_screens as outcome
from tests.ui.test_outcome_screens import PASSWORD, POLICY, Intents, exposed_texts, view

# The new-password screen's fixtures, shared with the screen's other tests.
make, clipboard, password_page = outcome.make, outcome.clipboard, outcome.password_page

Page = tuple[NewPasswordScreen, Intents]
HIDDEN, SHOWN = QLineEdit.EchoMode.Password, QLineEdit.EchoMode.Normal


def checked_for_assistive_tools(page: NewPasswordScreen) -> bool:
    interface = QAccessible.queryAccessibleInterface(page.show_button)
    assert interface is not None
    return bool(interface.state().checked)


def test_the_toggle_shows_and_hides_what_was_typed(password_page: Page, qtbot: QtBot) -> None:
    page, _ = password_page
    toggle = page.show_button
    assert toggle.isCheckable() and toggle.text() == "Show password"
    assert toggle.accessibleName() == "Show password"
    assert min(toggle.minimumSizeHint().width(), toggle.minimumSize().height()) >= 44
    qtbot.keyClicks(page.field, PASSWORD)
    assert page.field.echoMode() is HIDDEN and not checked_for_assistive_tools(page)
    assert page.field.accessibleDescription() == "The characters you type are hidden."
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert page.field.echoMode() is SHOWN and page.field.displayText() == PASSWORD
    assert checked_for_assistive_tools(page)
    assert page.field.accessibleDescription() == "The characters you type are shown."
    assert toggle.accessibleDescription() == "On: your password is shown on the screen."
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert page.field.echoMode() is HIDDEN and page.field.displayText() != PASSWORD
    assert toggle.accessibleDescription() == "Off: your password is hidden."
    assert not any(PASSWORD in text for text in exposed_texts(page))


def test_the_clipboard_stays_shut_while_the_password_is_shown(password_page: Page, qtbot: QtBot,
                                                               clipboard: Any) -> None:
    page, _ = password_page
    page.show_button.click()
    page.field.setFocus()
    qtbot.keyClicks(page.field, PASSWORD)
    page.field.selectAll()
    clipboard.setText("on the clipboard before")
    keys = (QKeySequence.StandardKey.Copy, QKeySequence.StandardKey.Cut, QKeySequence.StandardKey.Paste)
    for binding in (binding for key in keys for binding in QKeySequence.keyBindings(key)):
        QTest.keySequence(page.field, binding)  # copying or cutting would replace it, pasting type it
    assert (clipboard.text(), page.field.text()) == ("on the clipboard before", PASSWORD)


def test_every_new_password_starts_hidden(password_page: Page, qtbot: QtBot) -> None:
    page, intents = password_page
    for leave in (page.set_button.click, page.cancel_button.click, page.hide):
        page.show()
        page.show_button.click()
        qtbot.keyClicks(page.field, PASSWORD)
        assert page.field.echoMode() is SHOWN
        leave()
        assert page.field.text() == ""
        assert page.field.echoMode() is HIDDEN and not page.show_button.isChecked()
        assert page.field.accessibleDescription() == "The characters you type are hidden."
    assert [name for name, _ in intents if name in ("submit_password", "cancel")] == ["submit_password",
                                                                                     "cancel"]


def test_the_toggle_speaks_japanese(make: Any) -> None:
    page, _ = make(NewPasswordScreen, view(Screen.NEW_PASSWORD, password_policy=POLICY))
    catalogue = translation_file("ja")
    assert catalogue is not None
    translator = QTranslator()
    assert translator.load(str(catalogue))
    QCoreApplication.installTranslator(translator)
    try:
        page.retranslate()
        assert page.show_button.text() == "パスワードを表示"
        assert page.show_button.accessibleDescription() == "オフ：パスワードは隠されています。"
        page.show_button.click()
        assert page.field.accessibleDescription() == "入力した文字は表示されています。"
    finally:
        QCoreApplication.removeTranslator(translator)
    page.retranslate()
    assert page.show_button.text() == "Show password"
