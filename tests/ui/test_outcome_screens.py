"""The screens after the PIN, offscreen: what they show, the intents they emit, and the error words.

Covers every error code the kiosk and the linkage server can produce (the enums of each layer and
the server's documented codes), every result the done screen can show, and the new-password screen's promises:
the checklist follows the flow's problems, and the password reaches no label, accessible text or
clipboard, and is gone from the field once submitted.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, Qt, QTranslator
from PySide6.QtGui import QAccessible, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

import kiosk.linkage.errors as linkage_errors
import kiosk.nfc.errors as nfc_errors
import kiosk.offline.validate as offline_validate
import kiosk.services.operations as operations
import linkserver.errors as server_errors
from kiosk.flow import (
    FlowCode,
    LinkStatus,
    MfaEnrolment,
    Outcome,
    PasswordSet,
    Prelinked,
    Result,
    SalvageTicket,
    Screen,
    Unlinked,
    View,
    VoucherIssued,
)
from kiosk.flow.backend import password_problems
from kiosk.linkage import LinkageCode, OperationKind
from kiosk.nfc.errors import CardCode
from kiosk.services.errors import ServiceCode
from kiosk.ui.base import INTENTS, SCREENS, ScreenWidget
from kiosk.ui.errors import ErrorWords, describe
from kiosk.ui.screens.outcome import (
    DoneScreen,
    ErrorScreen,
    NewPasswordScreen,
    OfflineApprovalScreen,
    StaffWaitScreen,
    UnlinkConfirmScreen,
    VerifyingScreen,
)
from kiosk.ui.sizes import BODY_CAP_MM, cap_height_mm
from kiosk.ui.translations import translation_file
from kiosk.ui.widgets import BigButton, mm
from tests.helpers.ui import assert_bottom_row_is_large, bottom_row_buttons

Intents = list[tuple[str, object]]
POLICY = {"min_length": 12, "max_length": 64, "min_classes": 3}
PASSWORD = "Kiosk-Pass-2024"
OUTCOME = (VerifyingScreen, StaffWaitScreen, UnlinkConfirmScreen, OfflineApprovalScreen, NewPasswordScreen,
           DoneScreen, ErrorScreen)


def view(screen: Screen, **changes: Any) -> View:
    return View(screen, "en", **changes)


@pytest.fixture
def make(qtbot: QtBot) -> Callable[[type[ScreenWidget], View], tuple[Any, Intents]]:
    """A shown screen rendering ``view``, and the list its intents land in."""

    def factory(cls: type[ScreenWidget], first: View) -> tuple[Any, Intents]:
        widget = cls()
        qtbot.addWidget(widget)
        intents: Intents = []
        widget.intent.connect(lambda name, argument: intents.append((name, argument)))
        widget.render(first)
        widget.show()
        return widget, intents

    return factory


@pytest.fixture
def clipboard() -> Iterator[Any]:
    board = QApplication.clipboard()
    board.clear()
    yield board
    board.clear()


def exposed_texts(root: QWidget) -> list[str]:
    """Everything a person, a screen reader or a tool can read off ``root`` and its children."""
    texts: list[str] = []
    for widget in [root, *root.findChildren(QWidget)]:
        texts += [widget.accessibleName(), widget.accessibleDescription(), widget.toolTip(),
                  widget.whatsThis(), widget.statusTip(), widget.windowTitle()]
        if isinstance(widget, (QLabel, QAbstractButton)):
            texts.append(widget.text())
        if isinstance(widget, QLineEdit):
            texts += [widget.displayText(), widget.placeholderText()]
            if widget.echoMode() is QLineEdit.EchoMode.Normal:
                texts.append(widget.text())
        interface = QAccessible.queryAccessibleInterface(widget)
        if interface is not None:
            texts += [interface.text(t) for t in (QAccessible.Text.Name, QAccessible.Text.Description,
                                                  QAccessible.Text.Value, QAccessible.Text.Help)]
    return texts


# -- error words --------------------------------------------------------------------------------------

#: The OAuth error codes (RFC 6749 section 5.2, RFC 8628 section 3.5) the server's token and device
#: endpoints answer with.
OAUTH_CODES = frozenset({"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                         "unsupported_grant_type", "invalid_scope", "authorization_pending", "slow_down",
                         "access_denied", "expired_token"})


def core_error_codes() -> set[str]:
    """Every code the kiosk can show: the card layer's, the linkage client's, the services' and the
    flow's (their enums), the offline checks' refusals, and every code the server documents."""
    codes: set[str] = {*CardCode, *LinkageCode, *ServiceCode, *FlowCode}
    codes |= set(offline_validate.MESSAGES)
    codes |= set(server_errors.CODES) | set(server_errors.API_CODES) | OAUTH_CODES
    return codes


def test_every_error_class_has_a_code_of_its_layers_enum() -> None:
    for module, base, enum in ((nfc_errors, nfc_errors.CardError, CardCode),
                               (linkage_errors, linkage_errors.LinkageError, LinkageCode)):
        classes = [obj for obj in vars(module).values() if isinstance(obj, type) and issubclass(obj, base)]
        assert {cls.code for cls in classes} <= set(enum), module.__name__
    assert set(operations.ENDED_WITHOUT_EFFECT.values()) <= set(ServiceCode)


def test_the_enumeration_finds_the_codes_the_brief_names() -> None:
    codes = core_error_codes()
    for expected in ("reader.none", "card.unknown", "card.removed", "expired", "not_yet_valid", "revoked",
                     "pin.blocked", "pin.wrong", "no_match", "server.unreachable", "rate_limited",
                     "password_policy", "salvage_not_eligible", "account_already_linked",
                     "card_already_linked", "internal", "cancelled", "refused", "approval.timeout",
                     "staff.invalid", "offline.not_for_operation", "invalid_account", "access_denied",
                     "server.not_configured", "failed", "offline.no_server_key"):
        assert expected in codes, expected
    assert len(codes) > 80


def test_every_error_code_has_words_of_its_own() -> None:
    fallback = describe("no.such.code.anywhere")
    missing = sorted(code for code in core_error_codes() if not ErrorWords.known(code))
    assert missing == []
    for code in core_error_codes():
        title, explanation, remedy = describe(code)
        assert title and explanation and remedy, code
        assert title != fallback.title or explanation != fallback.explanation, code
        assert "%1" not in explanation + remedy, code
        assert "Traceback" not in explanation and "Exception" not in explanation, code


def test_an_unknown_code_falls_back_to_words_that_show_the_code() -> None:
    words = describe("brand_new_refusal")
    assert "brand_new_refusal" in words.explanation
    assert words.remedy
    assert describe(None).title == describe("internal").title


def test_the_remedies_say_what_to_do() -> None:
    assert "municipal office" in describe("pin.blocked").remedy
    assert "card" in describe("pin.blocked").remedy
    assert "municipal office" in describe("expired").remedy
    assert "municipal office" in describe("revoked").remedy
    assert "Link my card" in describe("no_match").remedy
    assert "voucher" in describe("server.unreachable").remedy
    assert "staff" in describe("reader.none").remedy.lower()
    assert "not a My Number Card" in describe("card.unknown").title
    assert "leave it there" in describe("card.removed").remedy
    assert "Staff have been notified" in describe("internal").explanation
    assert "2 tries left" in describe("pin.wrong", tries_left=2).explanation
    assert "1 try left" in describe("pin.wrong", tries_left=1).explanation or \
        "1 tries left" in describe("pin.wrong", tries_left=1).explanation
    assert "revoked" in describe("revoked").title
    assert "unknown_issuer" in describe("unknown_issuer").explanation  # a refusal shows its code


def test_the_error_screen_shows_every_code_in_words_and_never_a_traceback(
        make: Callable[..., tuple[Any, Intents]]) -> None:
    page, intents = make(ErrorScreen, view(Screen.ERROR, error="internal"))
    for code in sorted(ErrorWords.codes() | {"zz.unheard_of"}):
        page.render(view(Screen.ERROR, error=code, error_step="verify"))
        words = describe(code)
        assert page.title.text() == words.title
        assert page.explanation.text() == words.explanation
        assert page.remedy.text() == words.remedy
        assert code in page.staff_code.text() and "verify" in page.staff_code.text()
        assert not any("Traceback" in text for text in exposed_texts(page))
    page.render(view(Screen.ERROR, error=None))
    assert page.title.text() == describe("internal").title
    assert not page.take_card.isVisible()
    page.render(view(Screen.ERROR, error="pin.blocked", card_present=True))
    assert page.take_card.isVisible() and "Take your card" in page.take_card.text()
    page.ok_button.click()
    assert intents == [("finish", None)]


# -- waiting, unlink, staff ----------------------------------------------------------------------------

def test_verifying_says_what_is_happening_online_and_offline(
        make: Callable[..., tuple[Any, Intents]]) -> None:
    page, intents = make(VerifyingScreen, view(Screen.VERIFYING, busy=True))
    assert "university's server" in page.title.text()
    assert page.busy.text() == "Please wait"
    assert page.cancel_button.isVisible()
    headings = {page.title.text()}
    page.render(view(Screen.VERIFYING, busy=True, online=False))
    assert "here at the kiosk" in page.title.text()
    headings.add(page.title.text())
    page.render(view(Screen.WORKING, busy=True))
    headings.add(page.title.text())
    assert not page.cancel_button.isVisible()
    page.render(view(Screen.WORKING, busy=True, online=False))
    headings.add(page.title.text())
    assert "offline" in page.detail.text()
    assert len(headings) == 4
    page.render(view(Screen.VERIFYING, busy=True))
    page.cancel_button.click()
    assert intents == [("cancel", None)]


def test_unlink_asks_with_explicit_delete_and_keep(make: Callable[..., tuple[Any, Intents]]) -> None:
    page, intents = make(UnlinkConfirmScreen, view(Screen.UNLINK_CONFIRM, account="12******90",
                                                   name_on_record="山田 太郎"))
    assert page.question.text() == "Delete the link between this card and this account?"
    assert "12******90" in page.account.text()
    assert "山田 太郎" in page.name.text()
    page.delete_button.click()
    page.keep_button.click()
    assert intents == [("confirm_unlink", True), ("confirm_unlink", False)]


def test_staff_wait_shows_staff_what_to_compare(make: Callable[..., tuple[Any, Intents]]) -> None:
    page, intents = make(StaffWaitScreen, view(Screen.STAFF_WAIT, busy=True, account="12******90",
                                               name_on_record="Taro Yamada"))
    assert page.title.text() == "A staff member is checking your request"
    assert "12******90" in page.account.text() and "Taro Yamada" in page.name.text()
    assert page.busy.isVisible()
    page.render(view(Screen.STAFF_WAIT, busy=True, account="12******90"))
    assert "No name on record" in page.name.text()
    page.cancel_button.click()
    assert intents == [("cancel", None)]


# -- the new password ----------------------------------------------------------------------------------

@pytest.fixture
def password_page(make: Callable[..., tuple[Any, Intents]]) -> tuple[NewPasswordScreen, Intents]:
    """The new-password screen wired to a stand-in for the flow: every edit is judged and rendered back."""
    page, intents = make(NewPasswordScreen, view(Screen.NEW_PASSWORD, password_policy=POLICY))

    def flow(name: str, argument: object) -> None:
        if name == "password_changed":
            assert isinstance(argument, str)
            page.render(view(Screen.NEW_PASSWORD, password_policy=POLICY,
                             password_problems=tuple(password_problems(argument, POLICY))))

    page.intent.connect(flow)
    return page, intents


def rule_states(page: NewPasswordScreen) -> tuple[bool, bool, bool]:
    return page.length_rule.met, page.class_rule.met, page.charset_rule.met


def test_the_checklist_follows_the_flows_problems(password_page: tuple[NewPasswordScreen, Intents]) -> None:
    page, _ = password_page
    assert rule_states(page) == (False, False, True)  # an empty field breaks length and variety
    assert not page.set_button.isEnabled()
    assert "12 to 64 characters" in page.length_rule.rule.text()
    base = {"password_policy": POLICY}
    page.field.setText("x")  # the flow's answer decides from here on
    for problems, states in (((), (True, True, True)), (("too_short",), (False, True, True)),
                             (("too_few_classes",), (True, False, True)),
                             (("invalid_character", "too_long"), (False, True, False))):
        page.render(view(Screen.NEW_PASSWORD, password_problems=problems, **base))
        assert rule_states(page) == states
        assert page.set_button.isEnabled() == (not problems)
        for rule in (page.length_rule, page.class_rule, page.charset_rule):
            # Words and a shaped icon, not colour alone.
            assert rule.state.text() == ("done" if rule.met else "not yet")
            assert rule.icon.kind == ("ok" if rule.met else "no")
            assert rule.state.text() in rule.accessibleName()
    page.render(view(Screen.NEW_PASSWORD, password_problems=("dictionary_word",), **base))
    assert not page.set_button.isEnabled()
    assert "dictionary_word" in page.other_problems.text()


def test_set_waits_for_the_flows_judgement_of_the_latest_edit(
        make: Callable[..., tuple[Any, Intents]]) -> None:
    page, intents = make(NewPasswordScreen, view(Screen.NEW_PASSWORD, password_policy=POLICY))
    page.field.setText(PASSWORD)  # no flow answers here: the last judgement is stale
    assert intents == [("password_changed", PASSWORD)]
    assert not page.set_button.isEnabled()
    page.set_button.click()
    page.render(view(Screen.NEW_PASSWORD, password_policy=POLICY, password_problems=()))
    assert page.set_button.isEnabled()
    assert [name for name, _ in intents] == ["password_changed"]


def test_a_password_the_directory_refused_is_explained_with_its_own_words(
        password_page: tuple[NewPasswordScreen, Intents]) -> None:
    page, _ = password_page
    assert not page.refused.isVisibleTo(page)
    refused = {"password_policy": POLICY, "password_refused": ("in_history",),
               "password_refusal": "Password is in history of old passwords"}
    page.render(view(Screen.NEW_PASSWORD, **refused))
    said = page.refused.text()
    assert page.refused.isVisibleTo(page) and page.refused.icon.kind == "no"
    assert "did not accept" in said and "used this password before" in said
    assert "Password is in history of old passwords" in said and said in page.refused.accessibleName()
    page.render(view(Screen.NEW_PASSWORD, **{**refused, "password_refused": ("something_new",),
                                               "password_refusal": None}))
    assert "password rules" in page.refused.text() and "says" not in page.refused.text()
    page.render(view(Screen.NEW_PASSWORD, password_policy=POLICY))
    assert not page.refused.isVisibleTo(page)


def test_a_directory_that_did_not_answer_asks_for_the_password_again(
        password_page: tuple[NewPasswordScreen, Intents]) -> None:
    page, _ = password_page
    page.render(view(Screen.NEW_PASSWORD, password_policy=POLICY,
                     password_refused=("directory_unavailable",)))
    said = page.refused.text()
    assert page.refused.isVisibleTo(page) and page.refused.icon.kind == "warning"
    assert "did not answer" in said and "not changed" in said and "still approved" in said
    assert "did not accept" not in said and said in page.refused.accessibleName()


def test_typing_updates_the_flow_and_the_set_button(password_page: tuple[NewPasswordScreen, Intents],
                                                     qtbot: QtBot) -> None:
    page, intents = password_page
    keyboard = page.keyboard
    keyboard.shift_key.click()
    keyboard.keys["k"].click()  # shift gives one capital
    keyboard.keys["i"].click()
    assert page.field.text() == "Ki"
    keyboard.page_key.click()
    assert keyboard.symbols_shown
    assert not keyboard.shift_key.isEnabled()
    ampersand = keyboard.keys["&"]
    assert (ampersand.accessibleName(), ampersand.accessibleDescription()) == ("&", "Ampersand")
    keyboard.keys["-"].click()
    keyboard.keys["&"].click()
    keyboard.back_key.click()
    keyboard.page_key.click()
    keyboard.keys["1"].click()
    keyboard.back_key.click()
    keyboard.space_key.click()
    assert page.field.text() == "Ki- "
    assert intents[-1] == ("password_changed", "Ki- ")
    assert not page.set_button.isEnabled()
    assert not page.length_rule.met
    page.field.clear()
    page.field.setFocus()
    qtbot.keyClicks(page.field, PASSWORD)
    assert intents[-1] == ("password_changed", PASSWORD)
    assert rule_states(page) == (True, True, True)
    assert page.set_button.isEnabled()


def test_submitting_sends_bytes_once_and_leaves_nothing_behind(
        password_page: tuple[NewPasswordScreen, Intents], qtbot: QtBot, clipboard: Any) -> None:
    page, intents = password_page
    page.field.setFocus()
    qtbot.keyClicks(page.field, PASSWORD)
    # Every way out of the field is shut: copy, cut, the context menu, dragging.
    page.field.selectAll()
    for sequence in (QKeySequence.StandardKey.Copy, QKeySequence.StandardKey.Cut):
        for binding in QKeySequence.keyBindings(sequence):
            QTest.keySequence(page.field, binding)
    qtbot.keyClick(page.field, Qt.Key.Key_Insert, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == ""
    assert page.field.text() == PASSWORD
    assert page.field.contextMenuPolicy() is Qt.ContextMenuPolicy.NoContextMenu
    assert not page.field.dragEnabled() and not page.field.acceptDrops()
    assert page.field.echoMode() is QLineEdit.EchoMode.Password
    assert not any(PASSWORD in text for text in exposed_texts(page))

    page.set_button.click()
    submitted = [argument for name, argument in intents if name == "submit_password"]
    assert submitted == [bytearray(PASSWORD.encode())]
    assert isinstance(submitted[0], bytearray)
    assert page.field.text() == ""
    assert intents[-1][0] == "submit_password"  # clearing the field told the flow nothing
    assert clipboard.text() == ""
    assert not page.set_button.isEnabled()
    assert not any(PASSWORD in text for text in exposed_texts(page))


def test_enter_submits_and_paste_does_nothing(password_page: tuple[NewPasswordScreen, Intents],
                                              qtbot: QtBot, clipboard: Any) -> None:
    page, intents = password_page
    clipboard.setText("pasted-Secret-99")
    page.field.setFocus()
    for binding in QKeySequence.keyBindings(QKeySequence.StandardKey.Paste):
        QTest.keySequence(page.field, binding)
    assert page.field.text() == ""
    qtbot.keyClicks(page.field, "short")
    qtbot.keyClick(page.field, Qt.Key.Key_Return)
    assert not any(name == "submit_password" for name, _ in intents)
    qtbot.keyClicks(page.field, "-Enough-99")
    qtbot.keyClick(page.field, Qt.Key.Key_Return)
    assert intents[-1] == ("submit_password", bytearray(b"short-Enough-99"))
    assert page.field.text() == ""


def test_leaving_the_password_screen_empties_the_field(password_page: tuple[NewPasswordScreen, Intents],
                                                       qtbot: QtBot) -> None:
    page, intents = password_page
    qtbot.keyClicks(page.field, PASSWORD)
    page.hide()
    assert page.field.text() == ""
    page.show()
    qtbot.keyClicks(page.field, "abc")
    page.cancel_button.click()
    assert page.field.text() == ""
    assert intents[-1] == ("cancel", None)


# -- done ------------------------------------------------------------------------------------------------

K = OperationKind
EXPIRES = dt.datetime(2026, 11, 25, 14, 30, tzinfo=dt.UTC)
TICKET_EXPIRES = dt.datetime(2026, 12, 9, 14, 30, tzinfo=dt.UTC)
DONE_CASES: list[tuple[OperationKind | None, Result | None, str, str | None, bool]] = [
    # operation, result, words in the heading or message, the code shown, QR shown
    (K.PASSWORD_RESET, PasswordSet(), "Your new password is set", None, False),
    (K.MFA_RESET, MfaEnrolment("K7QM-3XHD-9HTP-CW4N", EXPIRES), "MFA enrolment code", "K7QM-3XHD-9HTP-CW4N",
     True),
    (K.MFA_RESET, MfaEnrolment(""), "can no longer be shown", None, False),
    (K.SALVAGE, SalvageTicket("AB2C-DE3F-GH4J-KL5M-NP6Q", "backup", TICKET_EXPIRES),
     "back up your cloud mail", "AB2C-DE3F-GH4J-KL5M-NP6Q", True),
    (K.SALVAGE, SalvageTicket("AB2C-DE3F-GH4J-KL5M-NP6Q", "forwarding", TICKET_EXPIRES), "forwarding",
     "AB2C-DE3F-GH4J-KL5M-NP6Q", True),
    (K.LINK_STATUS, LinkStatus(True, "山田 太郎", dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)),
     "山田 太郎 since 2026-04-0", None, False),
    (K.LINK_STATUS, LinkStatus(False), "not linked", None, False),
    (K.UNLINK, Unlinked(), "The link is deleted", None, False),
    (K.PRELINK, Prelinked(), "Your card is linked", None, False),
    (K.PASSWORD_RESET, VoucherIssued("K7QM-2XRD-9HTP-CW4N"), "voucher", "K7QM-2XRD-9HTP-CW4N", False),
    (K.SALVAGE, VoucherIssued("K7QM-2XRD-9HTP-CW4N", "https://id.example.ac.jp/voucher"),
     "https://id.example.ac.jp/voucher", "K7QM-2XRD-9HTP-CW4N", True),
    (None, None, "Done", None, False),
]


def test_the_done_cases_take_every_outcome() -> None:
    assert {type(result).outcome for _, result, *_ in DONE_CASES if result is not None} == set(Outcome)


@pytest.mark.parametrize(("operation", "result", "words", "code", "qr"), DONE_CASES)
def test_done_shows_each_result(make: Callable[..., tuple[Any, Intents]], operation: OperationKind | None,
                                result: Result | None, words: str, code: str | None, qr: bool) -> None:
    online = not isinstance(result, VoucherIssued)
    page, intents = make(DoneScreen, view(Screen.DONE, operation=operation, result=result, online=online,
                                          card_present=True))
    shown = " ".join([page.title.text(), page.message.text(), page.instructions.text()])
    assert words in shown
    assert page.code.isVisible() == bool(code)
    if code:
        assert page.code.text() == code
        assert page.once.isVisible() and "only once" in page.once.text()
        assert "Valid until" in page.expiry.text() or not online
    assert page.qr.isVisible() == qr
    if qr and online:
        assert page.qr.text() == code
    assert page.take_card.text() == "Take your card"
    page.finish_button.click()
    assert intents == [("finish", None)]


def test_the_voucher_says_it_is_shown_once_and_where_to_finish(
        make: Callable[..., tuple[Any, Intents]]) -> None:
    page, _ = make(DoneScreen, view(Screen.DONE, operation=OperationKind.MFA_RESET, online=False,
                                    result=VoucherIssued("K7QM-2XRD-9HTP-CW4N")))
    assert "shown only once" in page.once.text()
    assert "voucher page" in page.instructions.text()
    assert "account ID" in page.instructions.text()
    assert page.take_card.text() != "Take your card"  # the card already left: Finish ends it
    assert "Finish" in page.take_detail.text()


# -- what every screen shares --------------------------------------------------------------------------

def representative(cls: type[ScreenWidget]) -> View:
    return view(cls.states[0], account="12******90", name_on_record="Taro Yamada", password_policy=POLICY,
                result=MfaEnrolment("K7QM-3XHD-9HTP-CW4N"), operation=OperationKind.MFA_RESET,
                error="revoked", card_present=True)


def test_the_outcome_screens_are_registered_for_their_states() -> None:
    for cls in OUTCOME:
        for state in cls.states:
            assert SCREENS[state] is cls
    assert set(VerifyingScreen.states) == {Screen.VERIFYING, Screen.WORKING}


@pytest.mark.parametrize("cls", OUTCOME, ids=lambda cls: cls.__name__)
def test_every_screen_switches_language_names_its_controls_and_uses_large_targets(
        make: Callable[..., tuple[Any, Intents]], cls: type[ScreenWidget]) -> None:
    page, intents = make(cls, representative(cls))
    page.languages.buttons["ja"].click()
    page.languages.buttons["en"].click()
    assert intents == [("set_language", "ja"), ("set_language", "en")]
    assert all(name in INTENTS for name, _ in intents)
    assert page.languages.buttons["en"].isChecked()
    floor = mm(9)
    for control in page.findChildren(QWidget):
        if not control.isVisibleTo(page):
            continue
        if isinstance(control, (QAbstractButton, QLineEdit)):
            assert control.accessibleName(), (cls.__name__, control)
            assert control.minimumHeight() >= floor or control.height() >= floor, (cls.__name__, control)
        if isinstance(control, BigButton):
            assert control.minimumWidth() >= floor
        if isinstance(control, QLabel) and control.text():
            assert cap_height_mm(control.font()) >= BODY_CAP_MM, (cls.__name__, control.text())
    assert bottom_row_buttons(page), cls.__name__  # each ends or decides its step down there
    assert_bottom_row_is_large(page)


def test_the_locked_pin_screen_names_both_ways_to_reset_the_pin() -> None:
    """The municipal office, and a convenience store with J-LIS's app and the signature password."""
    english = describe("pin.blocked").remedy
    for words in ("municipal office", "convenience store", "smartphone app",
                  "signature certificate's password"):
        assert words in english
    catalogue = translation_file("ja")
    assert catalogue is not None
    translator = QTranslator()
    assert translator.load(str(catalogue))
    QCoreApplication.installTranslator(translator)
    try:
        japanese = describe("pin.blocked").remedy
    finally:
        QCoreApplication.removeTranslator(translator)
    for words in ("市区町村の窓口", "コンビニ", "JPKI暗証番号リセット", "署名用電子証明書のパスワード"):
        assert words in japanese


def test_the_words_come_through_the_translator(make: Callable[..., tuple[Any, Intents]],
                                               tmp_path: Path) -> None:
    ts = tmp_path / "kiosk_xx.ts"
    ts.write_text(
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE TS><TS version="2.1" language="ja_JP">'
        "<context><name>ErrorWords</name><message><source>The PIN is locked</source>"
        "<translation>暗証番号がロックされています</translation></message></context>"
        "<context><name>NewPasswordScreen</name><message><source>Set password</source>"
        "<translation>パスワードを設定</translation></message></context>"
        "<context><name>ErrorScreen</name><message><source>OK</source>"
        "<translation>確認</translation></message></context></TS>", "utf-8")
    qm = tmp_path / "kiosk_xx.qm"
    lrelease = Path(sys.executable).with_name("pyside6-lrelease")
    subprocess.run([str(lrelease), str(ts), "-qm", str(qm)], check=True, capture_output=True, timeout=60)
    password, _ = make(NewPasswordScreen, view(Screen.NEW_PASSWORD, password_policy=POLICY))
    error, _ = make(ErrorScreen, view(Screen.ERROR, error="pin.blocked"))
    translator = QTranslator()
    assert translator.load(str(qm))
    QCoreApplication.installTranslator(translator)
    try:
        assert describe("pin.blocked").title == "暗証番号がロックされています"
        password.retranslate()
        error.retranslate()
        assert password.set_button.text() == "パスワードを設定"
        assert password.set_button.accessibleName() == "パスワードを設定"
        assert error.title.text() == "暗証番号がロックされています"
        assert error.ok_button.text() == "確認"
    finally:
        QCoreApplication.removeTranslator(translator)
    error.retranslate()
    assert error.title.text() == "The PIN is locked"
