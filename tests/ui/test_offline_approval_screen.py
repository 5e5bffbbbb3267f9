"""The offline approval screen, offscreen: staff type their staff ID and offline PIN on the one
keyboard, the PIN is shown only as dots and forgotten as it is sent, and each refusal is told in
words (with the roster's age when it was too old).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from kiosk.flow import Screen, StaffCredential, View
from kiosk.services.errors import ServiceCode
from kiosk.ui.errors import describe
from kiosk.ui.screens.outcome import OfflineApprovalScreen

Intents = list[tuple[str, object]]
PIN = "246810"


def view(**changes: Any) -> View:
    return View(Screen.OFFLINE_APPROVAL, "en", online=False, account="12******90", **changes)


@pytest.fixture
def page(qtbot: QtBot) -> tuple[OfflineApprovalScreen, Intents]:
    widget = OfflineApprovalScreen()
    qtbot.addWidget(widget)
    intents: Intents = []
    widget.intent.connect(lambda name, argument: intents.append((name, argument)))
    widget.render(view())
    widget.show()
    return widget, intents


def type_credential(qtbot: QtBot, screen: OfflineApprovalScreen, staff_id: str, pin: str) -> None:
    """As staff would: the ID on the letter keys, a touch on the PIN field, the PIN on the digits."""
    for letter in staff_id:
        screen.keyboard.letter_keys[letter].click()
    qtbot.mouseClick(screen.offline_pin, Qt.MouseButton.LeftButton)
    assert screen.keyboard.page == "digits"
    for digit in pin:
        screen.keyboard.digit_keys[digit].click()


def test_the_id_and_the_pin_are_typed_and_sent_together(
        qtbot: QtBot, page: tuple[OfflineApprovalScreen, Intents]) -> None:
    screen, intents = page
    assert "offline" in screen.title.text() and "offline PIN" in screen.staff_caption.text()
    assert screen.keyboard.page == "letters" and not screen.approve_button.isEnabled()
    for letter in "sato":
        screen.keyboard.letter_keys[letter].click()
    assert screen.staff_id.text() == "sato" and not screen.approve_button.isEnabled()  # no PIN yet
    type_credential(qtbot, screen, "", PIN)
    assert screen.staff_id.text() == "sato" and screen.offline_pin.text() == PIN
    assert screen.offline_pin.echoMode() is QLineEdit.EchoMode.Password
    assert screen.offline_pin.displayText() != PIN
    qtbot.mouseClick(screen.staff_id, Qt.MouseButton.LeftButton)  # back to the ID: it is kept
    assert screen.keyboard.text() == "sato" and screen.keyboard.page == "letters"
    screen.keyboard.back_key.click()
    screen.approve_button.click()
    [(name, credential)] = intents
    assert name == "approve_offline" and isinstance(credential, StaffCredential)
    assert (credential.staff_id, bytes(credential.pin)) == ("sat", PIN.encode())
    assert PIN not in repr(credential)
    assert screen.offline_pin.text() == "" and screen.keyboard.text() == ""  # the PIN is forgotten
    assert not screen.approve_button.isEnabled()


def test_enter_goes_from_the_id_to_the_pin_and_then_approves(
        qtbot: QtBot, page: tuple[OfflineApprovalScreen, Intents]) -> None:
    screen, intents = page
    screen.keyboard.setFocus()
    qtbot.keyClicks(screen.keyboard, "desk")
    qtbot.keyClick(screen.keyboard, Qt.Key.Key_Return)
    assert screen.keyboard.page == "digits" and screen.staff_id.text() == "desk"
    qtbot.keyClicks(screen.keyboard, PIN)
    qtbot.keyClick(screen.keyboard, Qt.Key.Key_Return)
    [(_name, credential)] = intents
    assert isinstance(credential, StaffCredential) and credential.staff_id == "desk"


def test_hiding_the_screen_forgets_what_was_typed(qtbot: QtBot,
                                                  page: tuple[OfflineApprovalScreen, Intents]) -> None:
    screen, _intents = page
    type_credential(qtbot, screen, "sato", PIN)
    screen.hide()
    screen.show()
    assert (screen.staff_id.text(), screen.offline_pin.text(), screen.keyboard.text()) == ("", "", "")
    assert screen.keyboard.page == "letters"


@pytest.mark.parametrize("code", [ServiceCode.OFFLINE_STAFF_REFUSED, ServiceCode.OFFLINE_STAFF_LOCKED,
                                  ServiceCode.OFFLINE_NO_ROSTER, "staff.invalid"])
def test_a_refusal_is_told_in_words(page: tuple[OfflineApprovalScreen, Intents], code: str) -> None:
    screen, _intents = page
    assert not screen.error.isVisible()
    screen.render(view(error=code))
    words = describe(code)
    assert screen.error.isVisible() and words.title in screen.error.text()
    assert words.explanation in screen.error.text() and "hours old" not in screen.error.text()


def test_a_stale_roster_is_refused_with_its_age(page: tuple[OfflineApprovalScreen, Intents]) -> None:
    screen, _intents = page
    screen.render(view(error=ServiceCode.OFFLINE_ROSTER_STALE, roster_age=dt.timedelta(hours=80, minutes=10)))
    assert describe(ServiceCode.OFFLINE_ROSTER_STALE).title in screen.error.text()
    assert "The staff roster on this kiosk is 80 hours old." in screen.error.text()
    assert all(PIN not in label.text() for label in screen.findChildren(QLabel))
