"""The done screen of an MFA reset whose result is an authenticator app's enrolment: its QR code, its
key for typing, said once; and the enrolment code as before when the server hands out a code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from kiosk.flow import MfaEnrolment, Screen
from kiosk.linkage import OperationKind
from kiosk.ui.screens.outcome import DoneScreen
from tests.ui.test_outcome_screens import EXPIRES, exposed_texts, view


@pytest.fixture
def done(qtbot: QtBot) -> Callable[[MfaEnrolment], Any]:
    """The done screen, shown, rendering an MFA reset's ``result``."""

    def factory(result: MfaEnrolment) -> Any:
        page = DoneScreen()
        qtbot.addWidget(page)
        page.render(view(Screen.DONE, operation=OperationKind.MFA_RESET, card_present=True, result=result))
        page.show()
        return page

    return factory


ENROLMENT_URI = ("otpauth://totp/University:2024000001?secret=JBSWY3DPEHPK3PXPKRSXG5CTMVRXEZLU"
                 "&issuer=University")


def test_an_authenticator_enrolment_shows_its_qr_code_and_its_key_once(done: Callable[..., Any]) -> None:
    page = done(MfaEnrolment("", EXPIRES, ENROLMENT_URI))
    assert page.title.text() == "Register your authenticator app"
    assert "scan this QR code" in page.message.text() and "type in this key" in page.message.text()
    assert page.qr.isVisible() and page.qr.text() == ENROLMENT_URI
    assert page.code.isVisible() and page.code.text() == "JBSW Y3DP EHPK 3PXP KRSX G5CT MVRX EZLU"
    assert "Valid until 2026-11-2" in page.expiry.text()
    assert "shown only once" in page.once.text()
    assert "six-digit code" in page.instructions.text()
    assert not any(ENROLMENT_URI in text for text in exposed_texts(page))  # drawn, never spoken or copied


def test_without_a_uri_the_mfa_result_is_the_enrolment_code_as_before(done: Callable[..., Any]) -> None:
    page = done(MfaEnrolment("K7QM-3XHD-9HTP-CW4N", EXPIRES))
    assert (page.title.text(), page.qr.text()) == ("Your MFA enrolment code", "K7QM-3XHD-9HTP-CW4N")
