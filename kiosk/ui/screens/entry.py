"""The screens before verification: start, account ID, device sign-in, place the card, the PINs.

Each screen renders a ``View`` and emits intents, nothing more (see ``kiosk.ui.base``). Every
one but the start screen has a Cancel button (and Escape), and every one has the language
switch in its top corner.
"""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QHideEvent, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.flow import Intent, Screen, View
from kiosk.flow.session import MAX_ACCOUNT_LENGTH, PIN_LENGTH
from kiosk.linkage import OperationKind
from kiosk.services.operations import OFFLINE_CAPABLE
from kiosk.ui.base import screen
from kiosk.ui.errors import describe
from kiosk.ui.keypads import OnScreenKeyboard, PinPad
from kiosk.ui.qrcode import QrCode
from kiosk.ui.screens.frame import Frame
from kiosk.ui.sizes import TOUCH_PX
from kiosk.ui.translations import fill
from kiosk.ui.waitclock import WaitClock
from kiosk.ui.widgets import (
    BODY_PT,
    TITLE_PT,
    BigButton,
    BusyIndicator,
    Notice,
    ReaderStatus,
    label,
    mm,
)

#: The start screen's operations, in the order shown.
OPERATION_KINDS = tuple(OperationKind)


def operation_title(kind: str | None) -> str:
    """The operation's name as the start screen's button says it, in the current language."""
    titles = {
        "password_reset": QCoreApplication.translate("Operation", "Reset my password"),
        "mfa_reset": QCoreApplication.translate("Operation", "Re-register multi-factor authentication"),
        "salvage": QCoreApplication.translate("Operation", "Salvage my cloud data (former members)"),
        "prelink": QCoreApplication.translate("Operation", "Link my card to my account"),
        "link_status": QCoreApplication.translate("Operation", "Check my card link"),
        "unlink": QCoreApplication.translate("Operation", "Delete my card link"),
    }
    return titles.get(kind or "", "")


def error_words(code: str | None) -> str:
    """An error code as the sentences of the kiosk's one error table (empty for no error)."""
    if code is None:
        return ""
    words = describe(code)
    return "\n".join(part for part in words if part)


class EntryScreen(Frame):
    """The frame with a Cancel button at the bottom left (and Escape), unless ``has_cancel`` is off."""

    has_cancel: ClassVar[bool] = True

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cancel_button: BigButton | None = None
        if self.has_cancel:
            self.cancel_button = self.action(Intent.CANCEL)
            self.bottom.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.bottom.addStretch(1)

    def retranslate(self) -> None:
        super().retranslate()
        if self.cancel_button is not None:
            self.cancel_button.setText(self.tr("Cancel"))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.cancel_button is not None:
            event.accept()
            self.emit_intent(Intent.CANCEL)
            return
        super().keyPressEvent(event)


def _two_lines(caption: str) -> str:
    """``caption`` broken in two near its middle: at a space, before a bracket, or between characters."""
    middle = len(caption) // 2
    breaks = [i for i, ch in enumerate(caption) if ch in " （("] or [middle]
    at = min(breaks, key=lambda i: abs(i - middle))
    return caption[:at].rstrip() + "\n" + caption[at:].lstrip()


@screen(Screen.START)
class StartScreen(EntryScreen):
    """Choose what to do, and the language; says when the kiosk is offline and how the reader is."""

    has_cancel = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.intro = label()
        self.body.addWidget(self.intro)
        self.offline_notice = Notice("warning")
        self.body.addWidget(self.offline_notice)
        self._grid = QGridLayout()
        self._grid.setSpacing(mm(4))
        self._columns = 0
        self.operation_buttons: dict[str, BigButton] = {}
        for kind in OPERATION_KINDS:
            button = BigButton(points=BODY_PT + 4, min_mm=18, value=kind)
            button.triggered.connect(self._choose)
            self.operation_buttons[kind] = button
        self.body.addLayout(self._grid, 1)
        self.reader = ReaderStatus()
        self.body.addWidget(self.reader)
        self._online = True
        self.retranslate()

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self.reader.set_status(view.reader_ready, view.card_present)
        self._online = view.online
        self._show_offline()

    def _choose(self, kind: object) -> None:
        self.emit_intent(Intent.CHOOSE, kind)

    def _show_offline(self) -> None:
        online = self._online
        self.offline_notice.set_message("" if online else self.tr(
            "The kiosk cannot reach the server right now. Password reset, multi-factor "
            "re-registration and data salvage still work: staff approve here and you get a voucher "
            "to finish on your own device once the connection is back. The other operations are "
            "unavailable until then."))
        for kind, button in self.operation_buttons.items():
            button.setEnabled(online or kind in OFFLINE_CAPABLE)

    def _arrange(self) -> None:
        """Two columns of choices while their words fit side by side; one column with larger text,
        and a caption too long even for one column on two lines."""
        room = self.window().width() - 2 * mm(6) - TOUCH_PX  # the margins, and a scroll bar
        for kind, button in self.operation_buttons.items():
            button.setText(operation_title(kind))
            if button.sizeHint().width() > room:
                button.setText(_two_lines(operation_title(kind)))
        widest = max(button.sizeHint().width() for button in self.operation_buttons.values())
        columns = 2 if 2 * widest + self._grid.horizontalSpacing() <= room else 1
        if columns == self._columns:
            return
        self._columns = columns
        for index, kind in enumerate(OPERATION_KINDS):
            self._grid.addWidget(self.operation_buttons[kind], *divmod(index, columns))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._arrange()
        super().resizeEvent(event)

    def first_focus(self) -> QWidget | None:
        return self.operation_buttons[OPERATION_KINDS[0]]

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("What would you like to do?"))
        self.intro.setText(self.tr("Identity check with your My Number Card. Touch one of the buttons."))
        self._arrange()
        self.reader.retranslate()
        self._show_offline()


@screen(Screen.ACCOUNT)
class AccountScreen(EntryScreen):
    """Type the account ID the request is for, on the on-screen keyboard.

    The typed ID stays while the screen is shown (so a refused ID can be corrected) and is dropped
    when the screen goes away or a new request begins.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.operation_label = label(bold=True)
        self.body.addWidget(self.operation_label)
        self.instruction = label()
        self.body.addWidget(self.instruction)
        self.display = label(TITLE_PT + 4, wrap=False)
        self.display.setFrameShape(QFrame.Shape.Box)
        self.display.setLineWidth(2)
        self.display.setMinimumHeight(mm(14))
        self.display.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.body.addWidget(self.display)
        self.error = Notice("no")
        self.body.addWidget(self.error)
        self.keyboard = OnScreenKeyboard(max_length=MAX_ACCOUNT_LENGTH)
        self.keyboard.text_changed.connect(self._show_text)
        self.keyboard.submitted.connect(self._submit)
        self.body.addWidget(self.keyboard, 1, Qt.AlignmentFlag.AlignHCenter)
        self._operation: str | None = None
        self._error: str | None = None
        self.retranslate()

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        if view.operation != self._operation:
            # A new request: nothing typed for the previous one carries over.
            self.keyboard.set_text("")
            self.keyboard.set_page("digits")
        self._operation = view.operation
        self._error = view.error
        self.operation_label.setText(operation_title(view.operation))
        self._show_error()

    def _submit(self, text: str) -> None:
        self.emit_intent(Intent.SUBMIT_ACCOUNT, text)

    def _show_error(self) -> None:
        self.error.set_message(error_words(self._error))

    def _show_text(self, text: str) -> None:
        self.display.setText(text)
        self.display.setAccessibleDescription(text or self.tr("Nothing typed yet"))

    def first_focus(self) -> QWidget | None:
        return self.keyboard.first_key()

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("Enter your account ID"))
        self.instruction.setText(self.tr(
            "Type the university account ID this request is for, then touch OK."))
        self.display.setAccessibleName(self.tr("Account ID"))
        self._show_text(self.keyboard.text())
        self.keyboard.retranslate()
        self.operation_label.setText(operation_title(self._operation))
        self._show_error()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Typing while another control (Cancel, the language) has the focus still reaches the ID.
        if event.key() not in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter) \
                and self.keyboard.handle_key(event):
            event.accept()
            return
        super().keyPressEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        if not event.spontaneous():
            self.keyboard.set_text("")
            self.keyboard.set_page("digits")
            self._operation = None
        super().hideEvent(event)


@screen(Screen.DEVICE_GRANT)
class DeviceGrantScreen(EntryScreen):
    """Pre-link: prove the account by signing in on one's own phone (a QR code and a user code)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preparing = BusyIndicator()
        self.body.addWidget(self.preparing)
        self.content = QWidget()
        row = QHBoxLayout(self.content)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(mm(6))
        self.qr = QrCode(min_mm=45)
        row.addWidget(self.qr, 1)
        column = QVBoxLayout()
        self.instruction = label()
        self.code_caption = label()
        self.user_code = label(TITLE_PT + 12, bold=True, wrap=False)
        self.user_code.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.address = label()
        self.waiting = BusyIndicator()
        self.clock = WaitClock()
        for widget in (self.instruction, self.code_caption, self.user_code, self.address):
            column.addWidget(widget)
        column.addStretch(1)
        column.addWidget(self.waiting)
        column.addWidget(self.clock)
        row.addLayout(column, 1)
        self.body.addWidget(self.content, 1)
        self._code: str | None = None
        self._uri: str | None = None
        self.retranslate()

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self._code = view.device_user_code
        self._uri = view.device_uri
        ready = bool(view.device_uri)
        self.preparing.setVisible(not ready)
        self.content.setVisible(ready)
        self.qr.set_text(view.device_uri)
        self.waiting.setVisible(ready and view.busy)
        self.clock.setVisible(ready and view.busy)
        self.clock.set_limit(view.wait_seconds)
        self._show_code()

    def _show_code(self) -> None:
        code = self._code or ""
        self.user_code.setText(code)
        # Read out one character at a time, as the phone will ask for them.
        self.user_code.setAccessibleDescription(" ".join(code))
        self.address.setText(fill(self.tr("Or open this address on your phone: %1"), self._uri or ""))
        self.address.setVisible(bool(self._uri))

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("Sign in with your university account"))
        self.preparing.set_text(self.tr("Preparing the sign-in code…"))
        self.instruction.setText(self.tr(
            "Scan this QR code with your phone and sign in with your university account."))
        self.code_caption.setText(self.tr("Your phone will show this code. Check that it is the same:"))
        self.user_code.setAccessibleName(self.tr("Sign-in code"))
        self.qr.retranslate()
        self.qr.setAccessibleName(self.tr("QR code to sign in on your phone"))
        self.waiting.set_text(self.tr("Waiting for you to sign in on your phone…"))
        self._show_code()


@screen(Screen.PLACE_CARD)
class PlaceCardScreen(EntryScreen):
    """Place the card and leave it on the reader; shows the reader's state and the reading."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.instruction = label()
        self.body.addWidget(self.instruction)
        self.reader = ReaderStatus()
        self.body.addWidget(self.reader)
        self.moved = Notice("warning")
        self.body.addWidget(self.moved)
        self.body.addStretch(1)
        self.reading = BusyIndicator()
        self.body.addWidget(self.reading)
        self._moved = False
        self.retranslate()

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self.reader.set_status(view.reader_ready, view.card_present)
        self.reading.setVisible(view.busy)
        self._moved = view.error == "card.removed"
        self._say_moved()

    def _say_moved(self) -> None:
        self.moved.set_message(self.tr(
            "The card was taken off before it could be read. Place it again and keep it still.")
            if self._moved else "")

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("Place your My Number Card on the reader and leave it there"))
        self.instruction.setText(self.tr(
            "Keep the card on the reader until the kiosk tells you to take it."))
        self.reading.set_text(self.tr("Reading your card. Please do not move it…"))
        self.reader.retranslate()
        self._say_moved()


@screen(Screen.PIN, Screen.CARDINFO_PIN)
class PinScreen(EntryScreen):
    """The PIN pad, for the user-authentication PIN or the card-information PIN (both 4 digits).

    The screen sees only how many digits were typed; each key goes straight out as an intent.
    The words (the tries left, a wrong PIN, the last-try warning) stand on the left and the pad on
    the right, so that every message fits beside the whole pad, OK included.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        columns = QHBoxLayout()
        columns.setSpacing(mm(6))
        words = QVBoxLayout()
        self.instruction = label()
        words.addWidget(self.instruction)
        self.tries = label(bold=True)
        words.addWidget(self.tries)
        self.error = Notice("no")
        words.addWidget(self.error)
        self.warning = Notice("warning")
        words.addWidget(self.warning)
        words.addStretch(1)
        columns.addLayout(words, 1)
        self.pad = PinPad(length=PIN_LENGTH)
        self.pad.digit.connect(self._pin_digit)
        self.pad.backspace.connect(self._pin_backspace)
        self.pad.clear.connect(self._pin_clear)
        self.pad.submit.connect(self._pin_submit)
        columns.addWidget(self.pad, 0, Qt.AlignmentFlag.AlignTop)
        self.body.addLayout(columns, 1)
        self._cardinfo = False
        self._tries: int | None = None
        self._error: str | None = None
        self.retranslate()

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self._cardinfo = view.screen is Screen.CARDINFO_PIN
        self._tries = view.cardinfo_tries_left if self._cardinfo else view.tries_left
        self._error = view.error
        self.pad.set_count(view.pin_digits)
        self._show_state()

    def _pin_digit(self, digit: str) -> None:
        self.emit_intent(Intent.PIN_DIGIT, digit)

    def _pin_backspace(self) -> None:
        self.emit_intent(Intent.PIN_BACKSPACE)

    def _pin_clear(self) -> None:
        self.emit_intent(Intent.PIN_CLEAR)

    def _pin_submit(self) -> None:
        self.emit_intent(Intent.PIN_SUBMIT)

    def _show_state(self) -> None:
        if self._cardinfo:
            self.title.setText(self.tr("Enter the 4-digit PIN for the card information"))
            self.instruction.setText(self.tr(
                "This is your card's second 4-digit PIN, the one for the card information. "
                "The kiosk reads only your name with it. Only dots are shown."))
        else:
            self.title.setText(self.tr("Enter your card's 4-digit PIN"))
            self.instruction.setText(self.tr(
                "The 4-digit PIN for user authentication. Only dots are shown, and the PIN goes "
                "to your card only."))
        tries = self._tries
        self.tries.setVisible(tries is not None)
        if tries == 1:
            # Not only grammar: the last try is worth its own words.
            self.tries.setText(self.tr("This is your last try"))
        else:
            self.tries.setText(self.tr("%n tries left", "", tries) if tries is not None else "")
        # The tries left are on their own line above, and the keypad needs the height: the title
        # of the error says enough here ("Wrong PIN"); the last-try warning has its own line.
        self.error.set_message(describe(self._error)[0] if self._error else "")
        self.warning.set_message(self.tr(
            "Only one try is left: a wrong PIN will block this PIN, and it will then have to be reset "
            "at your municipal office or a convenience store.") if tries == 1 else "")

    def first_focus(self) -> QWidget | None:
        return self.pad.keys["1"]

    def retranslate(self) -> None:
        super().retranslate()
        self.pad.retranslate()
        self._show_state()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Digits typed while another control (Cancel, the language) has the focus still reach the pad.
        if event.key() != Qt.Key.Key_Escape and self.pad.handle_key(event):
            event.accept()
            return
        super().keyPressEvent(event)


@screen(Screen.LAST_TRY)
class LastTryScreen(EntryScreen):
    """The explicit confirmation before the PIN's last try; "Go back" has the focus, so Enter is safe."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.warning = Notice("warning", points=BODY_PT + 2)
        self.body.addWidget(self.warning)
        self.question = label(bold=True)
        self.body.addWidget(self.question)
        buttons = QHBoxLayout()
        buttons.setSpacing(mm(6))
        self.go_back = BigButton(points=BODY_PT + 2, min_mm=20, value=False)
        self.use_last_try = BigButton(points=BODY_PT + 2, min_mm=20, value=True)
        self.go_back.triggered.connect(self._confirm)
        self.use_last_try.triggered.connect(self._confirm)
        buttons.addWidget(self.go_back)
        buttons.addWidget(self.use_last_try)
        self.body.addLayout(buttons)
        self.body.addStretch(1)
        QWidget.setTabOrder(self.go_back, self.use_last_try)
        self.retranslate()

    def _confirm(self, go_on: object) -> None:
        self.emit_intent(Intent.CONFIRM_LAST_TRY, bool(go_on))

    def first_focus(self) -> QWidget | None:
        return self.go_back  # Enter is safe: it does not spend the last try

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("Only one PIN try is left"))
        self.warning.set_message(self.tr(
            "If this PIN is wrong, it will be blocked and the card cannot be used here until the PIN "
            "is reset at your municipal office or a convenience store."), "warning")
        self.question.setText(self.tr("Do you want to use your last try?"))
        self.go_back.setText(self.tr("Go back"))
        self.use_last_try.setText(self.tr("Use my last try"))


@screen(Screen.CARDINFO_QUESTION)
class CardInfoQuestionScreen(EntryScreen):
    """Pre-link: is the card-information PIN the same as the one just entered (then it is reused)?"""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explanation = label()
        self.body.addWidget(self.explanation)
        buttons = QHBoxLayout()
        buttons.setSpacing(mm(6))
        self.yes = BigButton(points=BODY_PT + 2, min_mm=20, value=True)
        self.no = BigButton(points=BODY_PT + 2, min_mm=20, value=False)
        self.yes.triggered.connect(self._answer)
        self.no.triggered.connect(self._answer)
        buttons.addWidget(self.yes)
        buttons.addWidget(self.no)
        self.body.addLayout(buttons)
        self.body.addStretch(1)
        self.retranslate()

    def _answer(self, same: object) -> None:
        self.emit_intent(Intent.ANSWER_SAME_PIN, bool(same))

    def first_focus(self) -> QWidget | None:
        return self.yes

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("Is your card-information PIN the same as the PIN you just entered?"))
        self.explanation.setText(self.tr(
            "To store the name on your card with the link, the kiosk reads the card information, "
            "which has its own 4-digit PIN. If it is the same, you do not need to enter it again."))
        self.yes.setText(self.tr("Yes, it is the same"))
        self.no.setText(self.tr("No, it is different"))


__all__ = [
    "OPERATION_KINDS",
    "AccountScreen",
    "CardInfoQuestionScreen",
    "DeviceGrantScreen",
    "EntryScreen",
    "LastTryScreen",
    "PinScreen",
    "PlaceCardScreen",
    "StartScreen",
    "error_words",
    "operation_title",
]
