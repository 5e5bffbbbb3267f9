"""The screens after the PIN: verifying, unlink confirmation, staff approval, new password, done and errors.

Each is a passive ``ScreenWidget``: it renders the flow's ``View`` and emits intents. What the
user takes away (a code, a ticket, a voucher) is shown here once and never logged. The new
password lives only in its masked field: it reaches the flow as the text of each edit (for the
policy checklist) and once as a ``bytearray`` on submit, and the field is emptied right after;
no label, accessible name or clipboard ever holds it.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QDragEnterEvent,
    QDropEvent,
    QFontDatabase,
    QHideEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPalette,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from kiosk.flow import Screen, View
from kiosk.ui.base import screen
from kiosk.ui.errors import ErrorWords
from kiosk.ui.keypads import OnScreenKeyboard
from kiosk.ui.screens.frame import Frame
from kiosk.ui.widgets import (
    ALERT_INK,
    BODY_PT,
    KEY_PT,
    TITLE_PT,
    BigButton,
    BusyIndicator,
    Notice,
    QrCode,
    StatusIcon,
    label,
    make_font,
    mm,
)

# A code, ticket or voucher: large enough to copy by hand from a step away.
CODE_PT = 40
# Texts from the server are shown, but never at any length it likes.
MAX_SHOWN = 128


def _boxed(*widgets: QWidget) -> QFrame:
    """A bordered panel (the staff's part of a screen, or "take your card")."""
    frame = QFrame()
    frame.setFrameShape(QFrame.Shape.Box)
    frame.setLineWidth(3)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(mm(4), mm(3), mm(4), mm(3))
    for widget in widgets:
        layout.addWidget(widget)
    return frame


def _code_label() -> QLabel:
    """A one-time code in large fixed-width type, so 0/O and 1/I stay apart."""
    widget = label(CODE_PT, bold=True, wrap=True)
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSize(CODE_PT)
    font.setBold(True)
    widget.setFont(font)
    widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return widget


def _shown(value: object) -> str:
    return str(value)[:MAX_SHOWN] if value is not None else ""


def _local_time(value: object, pattern: str) -> str:
    """An ISO 8601 time from the server as the kiosk's local time in ``pattern`` (empty if unreadable)."""
    if not isinstance(value, str):
        return ""
    try:
        moment = dt.datetime.fromisoformat(value[:64])
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return QDateTime.fromSecsSinceEpoch(int(moment.timestamp())).toString(pattern)


# -- waiting -----------------------------------------------------------------------------------------

@screen(Screen.VERIFYING, Screen.WORKING)
class VerifyingScreen(Frame):
    """The card is being checked, or the request sent or saved: what is happening, and a busy sign."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.busy = BusyIndicator()
        self.detail = label()
        self.body.addWidget(self.busy)
        self.body.addWidget(self.detail)
        self.body.addStretch(1)
        self.cancel_button = self.action("cancel")
        self.bottom.addWidget(self.cancel_button)
        self.bottom.addStretch(1)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.cancel_button.setText(self.tr("Cancel"))
        self.busy.set_text(self.tr("Please wait"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        verifying = view.screen is Screen.VERIFYING
        if verifying and view.online:
            self.title.setText(self.tr("Checking your card with the university's server"))
            self.detail.setText(self.tr("This takes a few seconds. Leave your card on the reader."))
        elif verifying:
            self.title.setText(self.tr("Checking your card here at the kiosk"))
            self.detail.setText(self.tr("The university's server cannot be reached just now, so the kiosk "
                                        "checks your card by itself. Leave your card on the reader."))
        elif view.online:
            self.title.setText(self.tr("Working on your request"))
            self.detail.setText(self.tr("This takes a few seconds."))
        else:
            self.title.setText(self.tr("Saving your request on this kiosk"))
            self.detail.setText(self.tr("The kiosk is offline: your request is kept safely here and sent "
                                        "to the university's server when the connection is back."))
        # Once the request is on its way, stopping it half-way would leave the user unsure of the result.
        self.cancel_button.setVisible(verifying)


@screen(Screen.STAFF_WAIT)
class StaffWaitScreen(Frame):
    """Waiting for a staff decision; shows staff the account and the name on record to compare."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.busy = BusyIndicator()
        self.detail = label()
        self.staff_caption = label(bold=True)
        self.account = label()
        self.name = label()
        self.compare = label()
        self.body.addWidget(self.busy)
        self.body.addWidget(self.detail)
        self.body.addWidget(_boxed(self.staff_caption, self.account, self.name, self.compare))
        self.body.addStretch(1)
        self.cancel_button = self.action("cancel")
        self.bottom.addWidget(self.cancel_button)
        self.bottom.addStretch(1)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("A staff member is checking your request"))
        self.busy.set_text(self.tr("Please wait here"))
        self.detail.setText(self.tr("Nothing is changed until a staff member approves."))
        self.staff_caption.setText(self.tr("For staff"))
        self.compare.setText(self.tr("Compare the name with the name on the card, and the person with the "
                                     "photo on the card."))
        self.cancel_button.setText(self.tr("Cancel"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self.account.setText(self.tr("Account: %1").replace("%1", _shown(view.account)))
        if view.name_on_record:
            self.name.setText(self.tr("Name on record: %1").replace("%1", _shown(view.name_on_record)))
        else:
            self.name.setText(self.tr("No name on record for this account."))


# -- unlink --------------------------------------------------------------------------------------------

@screen(Screen.UNLINK_CONFIRM)
class UnlinkConfirmScreen(Frame):
    """The explicit question before a link is deleted: Delete or Keep."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = label(bold=True)
        self.account = label()
        self.name = label()
        self.consequence = label()
        self.body.addWidget(self.question)
        self.body.addWidget(_boxed(self.account, self.name))
        self.body.addWidget(self.consequence)
        self.body.addStretch(1)
        self.keep_button = self.action("confirm_unlink", False)
        self.delete_button = self.action("confirm_unlink", True)
        self.bottom.addWidget(self.keep_button)
        self.bottom.addStretch(1)
        self.bottom.addWidget(self.delete_button)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("Delete the link?"))
        self.question.setText(self.tr("Delete the link between this card and this account?"))
        self.consequence.setText(self.tr("After this, your My Number Card cannot be used for this account "
                                         "until you link it again. A staff member approves the deletion."))
        self.keep_button.setText(self.tr("Keep the link"))
        self.delete_button.setText(self.tr("Delete the link"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self.account.setText(self.tr("Account: %1").replace("%1", _shown(view.account)))
        if view.name_on_record:
            self.name.setText(self.tr("Name on record: %1").replace("%1", _shown(view.name_on_record)))
        else:
            self.name.setText(self.tr("No name on record for this account."))
        self.delete_button.setEnabled(not view.busy)


# -- offline approval ------------------------------------------------------------------------------------

@screen(Screen.OFFLINE_APPROVAL)
class OfflineApprovalScreen(Frame):
    """The server is away: staff approve here with their staff ID; the request waits in the outbox."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explanation = label()
        self.staff_caption = label(bold=True)
        self.account = label()
        self.staff_id = QLineEdit()
        self.staff_id.setReadOnly(True)
        self.staff_id.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.staff_id.setFont(make_font(KEY_PT))
        self.staff_id.setMinimumHeight(mm(12))
        self.error = Notice("no")
        self.keyboard = OnScreenKeyboard()
        self.keyboard.set_page("letters")
        # The screen's own "Approve as staff" is the one way to send; a second OK would only confuse.
        self.keyboard.ok_key.hide()
        self.keyboard.text_changed.connect(self._typed)
        self.keyboard.submitted.connect(lambda _text: self._approve())
        self.body.addWidget(self.explanation)
        self.body.addWidget(_boxed(self.staff_caption, self.account, self.staff_id, self.error))
        self.body.addWidget(self.keyboard, 1)
        self.cancel_button = self.action("cancel")
        self.approve_button = self.action()
        self.approve_button.clicked.connect(self._approve)
        self.bottom.addWidget(self.cancel_button)
        self.bottom.addStretch(1)
        self.bottom.addWidget(self.approve_button)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("The kiosk is offline"))
        self.explanation.setText(self.tr(
            "Your card has been checked here at the kiosk. The university's server cannot be reached just "
            "now, so a staff member approves your request here. It is kept safely on this kiosk and sent "
            "to the server when the connection is back; you then finish it on your phone or computer "
            "with a voucher code."))
        self.staff_caption.setText(self.tr("For staff: compare the person with the photo on the card, then "
                                           "enter your staff ID and approve."))
        self.staff_id.setAccessibleName(self.tr("Staff ID"))
        self.staff_id.setPlaceholderText(self.tr("Staff ID"))
        self.cancel_button.setText(self.tr("Cancel"))
        self.approve_button.setText(self.tr("Approve as staff"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self.account.setText(self.tr("Account: %1").replace("%1", _shown(view.account)))
        if view.error:
            words = ErrorWords.describe(view.error)
            self.error.set_message(f"{words.title}\n{words.explanation} {words.remedy}", "no")
        else:
            self.error.set_message("")
        self._update()

    def _typed(self, text: str) -> None:
        self.staff_id.setText(text)
        self._update()

    def _update(self) -> None:
        busy = self.view is not None and self.view.busy
        self.approve_button.setEnabled(bool(self.keyboard.text().strip()) and not busy)

    def _approve(self) -> None:
        staff_id = self.keyboard.text().strip()
        if not staff_id or not self.approve_button.isEnabled():
            return
        self.keyboard.set_text("")
        self.emit_intent("approve_offline", staff_id)

    def showEvent(self, event: QShowEvent) -> None:
        self.keyboard.setFocus()  # so a physical keyboard types the staff ID too
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self.keyboard.set_text("")
        super().hideEvent(event)


# -- the new password --------------------------------------------------------------------------------------

class PasswordField(QLineEdit):
    """A masked entry that never gives its text away: no copy, cut, paste, drag, drop or context menu."""

    _BLOCKED = (QKeySequence.StandardKey.Copy, QKeySequence.StandardKey.Cut, QKeySequence.StandardKey.Paste,
                QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setDragEnabled(False)
        self.setAcceptDrops(False)
        hints = (Qt.InputMethodHint.ImhHiddenText | Qt.InputMethodHint.ImhSensitiveData
                 | Qt.InputMethodHint.ImhNoPredictiveText | Qt.InputMethodHint.ImhNoAutoUppercase)
        self.setInputMethodHints(hints)
        self.setFont(make_font(KEY_PT))
        self.setMinimumHeight(mm(12))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, modifiers = event.key(), event.modifiers()
        legacy_clipboard = (key == Qt.Key.Key_Insert and modifiers & (Qt.KeyboardModifier.ControlModifier
                                                                       | Qt.KeyboardModifier.ShiftModifier)) \
            or (key == Qt.Key.Key_Delete and modifiers & Qt.KeyboardModifier.ShiftModifier)
        if legacy_clipboard or any(event.matches(sequence) for sequence in self._BLOCKED):
            event.accept()  # swallowed: the password never goes to or comes from the clipboard
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            event.accept()  # X11 pastes the selection on a middle click
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        event.ignore()


# The keyboard's pages: every printable ASCII letter and symbol (digits have a row of their own).
_SYMBOL_ROWS = ("!\"#$%&'()*+", ",-./:;<=>?@", "[\\]^_`{|}~")
_LETTER_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


class PasswordKeyboard(QWidget):
    """Letters (with shift), digits and every symbol of printable ASCII, for a password on a touch screen.

    It holds no text: each key goes straight into the field it types into. Its keys take no focus,
    so the field keeps it and a physical keyboard works as well.
    """

    def __init__(self, field: QLineEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._field = field
        self._shift = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.keys: dict[str, BigButton] = {}
        digits = QHBoxLayout()
        for d in string.digits[1:] + "0":
            digits.addWidget(self._key(d))
        outer.addLayout(digits)
        self._pages = QStackedLayout()
        for rows in (_LETTER_ROWS, _SYMBOL_ROWS):
            page = QWidget()
            grid = QVBoxLayout(page)
            grid.setContentsMargins(0, 0, 0, 0)
            for characters in rows:
                row = QHBoxLayout()
                for ch in characters:
                    row.addWidget(self._key(ch))
                grid.addLayout(row)
            self._pages.addWidget(page)
        outer.addLayout(self._pages)
        last = QHBoxLayout()
        self.shift_key = self._control(self._toggle_shift)
        self.shift_key.setCheckable(True)
        self.page_key = self._control(self._toggle_page)
        self.space_key = self._control(lambda: self._type(" "))
        self.back_key = self._control(self._field.backspace)
        last.addWidget(self.shift_key)
        last.addWidget(self.page_key)
        last.addWidget(self.space_key, 3)
        last.addWidget(self.back_key, 2)
        outer.addLayout(last)
        self.retranslate()

    def _key(self, character: str) -> BigButton:
        key = BigButton(character, points=KEY_PT, min_mm=10.0, enter_clicks=False)
        key.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        key.clicked.connect(lambda _checked=False, c=character: self._type(
            c.upper() if self._shift and c in string.ascii_lowercase else c))
        self.keys[character] = key
        return key

    def _control(self, press: Callable[[], object]) -> BigButton:
        key = BigButton(points=BODY_PT, min_mm=10.0, enter_clicks=False)
        key.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        key.clicked.connect(lambda _checked=False: press())
        return key

    @property
    def symbols_shown(self) -> bool:
        return self._pages.currentIndex() == 1

    def _type(self, characters: str) -> None:
        self._field.insert(characters)
        if self._shift:
            # Shift holds for one letter, as on a phone.
            self._toggle_shift()

    def _toggle_shift(self) -> None:
        self._shift = not self._shift
        self.retranslate()

    def _toggle_page(self) -> None:
        self._pages.setCurrentIndex(0 if self.symbols_shown else 1)
        self.retranslate()

    def reset(self) -> None:
        self._shift = False
        self._pages.setCurrentIndex(0)
        self.retranslate()

    def retranslate(self) -> None:
        self.setAccessibleName(self.tr("On-screen keyboard for the password"))
        for letter in string.ascii_lowercase:
            key = self.keys[letter]
            key.setText(letter.upper() if self._shift else letter)
            key.set_spoken_name(self.tr("Capital %1").replace("%1", letter.upper()) if self._shift else None)
        names = self._symbol_names()
        for symbol, name in names.items():
            self.keys[symbol].set_spoken_name(name)
            # A lone "&" would otherwise be taken as a mnemonic marker.
            self.keys[symbol].setText("&&" if symbol == "&" else symbol)
        self.shift_key.setChecked(self._shift)
        self.shift_key.setText(self.tr("Shift"))
        self.shift_key.set_spoken_name(self.tr("Shift: the next letter is a capital"))
        self.shift_key.setEnabled(not self.symbols_shown)
        self.page_key.setText(self.tr("abc") if self.symbols_shown else "#+=")
        self.page_key.set_spoken_name(self.tr("Show letters") if self.symbols_shown
                                      else self.tr("Show symbols"))
        self.space_key.setText(self.tr("Space"))
        self.back_key.setText(self.tr("Back space"))
        self.back_key.set_spoken_name(self.tr("Delete the last character"))

    def _symbol_names(self) -> dict[str, str]:
        return {
            "!": self.tr("Exclamation mark"), '"': self.tr("Quotation mark"),
            "#": self.tr("Number sign"), "$": self.tr("Dollar sign"), "%": self.tr("Percent sign"),
            "&": self.tr("Ampersand"), "'": self.tr("Apostrophe"), "(": self.tr("Left parenthesis"),
            ")": self.tr("Right parenthesis"), "*": self.tr("Asterisk"), "+": self.tr("Plus sign"),
            ",": self.tr("Comma"), "-": self.tr("Hyphen"), ".": self.tr("Full stop"), "/": self.tr("Slash"),
            ":": self.tr("Colon"), ";": self.tr("Semicolon"), "<": self.tr("Less-than sign"),
            "=": self.tr("Equals sign"), ">": self.tr("Greater-than sign"), "?": self.tr("Question mark"),
            "@": self.tr("At sign"), "[": self.tr("Left square bracket"), "\\": self.tr("Backslash"),
            "]": self.tr("Right square bracket"), "^": self.tr("Circumflex"), "_": self.tr("Underscore"),
            "`": self.tr("Grave accent"), "{": self.tr("Left curly bracket"), "|": self.tr("Vertical bar"),
            "}": self.tr("Right curly bracket"), "~": self.tr("Tilde"),
        }


class _Rule(QWidget):
    """One line of the password checklist: a tick or cross icon, the rule, and met / not met in words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.icon = StatusIcon("no")
        self.rule = label()
        self.state = label(bold=True, wrap=False)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.rule, 1)
        layout.addWidget(self.state, 0, Qt.AlignmentFlag.AlignTop)
        self.met = False

    def show_rule(self, rule: str, met: bool, met_words: str, unmet_words: str) -> None:
        self.met = met
        self.icon.set_kind("ok" if met else "no")
        self.rule.setText(rule)
        self.state.setText(met_words if met else unmet_words)
        self.setAccessibleName(f"{rule}: {self.state.text()}")


# Which of the flow's problem codes breaks which rule of the checklist.
_LENGTH_PROBLEMS = frozenset({"too_short", "too_long"})
_CLASS_PROBLEMS = frozenset({"too_few_classes"})
_CHARSET_PROBLEMS = frozenset({"invalid_character"})
_KNOWN_PROBLEMS = _LENGTH_PROBLEMS | _CLASS_PROBLEMS | _CHARSET_PROBLEMS


@screen(Screen.NEW_PASSWORD)
class NewPasswordScreen(Frame):
    """The user types their own new password; the policy is a checklist that follows every edit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._quiet = False
        # True from an edit until the flow has judged it: stale answers must not enable "Set password".
        self._awaiting_judgement = False
        self.intro = label()
        self.field = PasswordField()
        self.field.textChanged.connect(self._edited)
        self.field.returnPressed.connect(self._submit)
        self.length_rule = _Rule()
        self.class_rule = _Rule()
        self.charset_rule = _Rule()
        self.other_problems = Notice("no")
        self.keyboard = PasswordKeyboard(self.field)
        self.body.addWidget(self.intro)
        self.body.addWidget(self.field)
        for rule in (self.length_rule, self.class_rule, self.charset_rule):
            self.body.addWidget(rule)
        self.body.addWidget(self.other_problems)
        self.body.addWidget(self.keyboard, 1)
        self.cancel_button = self.action()
        self.cancel_button.clicked.connect(self._cancel)
        self.set_button = self.action()
        self.set_button.clicked.connect(self._submit)
        self.bottom.addWidget(self.cancel_button)
        self.bottom.addStretch(1)
        self.bottom.addWidget(self.set_button)
        self.set_button.setEnabled(False)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("Choose your new password"))
        self.intro.setText(self.tr("Only you choose it: nobody else sees it, and the kiosk does not keep it. "
                                   "Each rule below turns to \"done\" as you type."))
        self.field.setAccessibleName(self.tr("New password"))
        self.field.setAccessibleDescription(self.tr("The characters you type are hidden."))
        self.cancel_button.setText(self.tr("Cancel"))
        self.set_button.setText(self.tr("Set password"))
        self.keyboard.retranslate()
        self._show_rules()

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self._awaiting_judgement = False
        maximum = self._policy_number("max_length", 64)
        if self.field.maxLength() != maximum:
            self.field.setMaxLength(maximum)
        self._show_rules()

    def _policy_number(self, key: str, default: int) -> int:
        policy = self.view.password_policy if self.view is not None else {}
        value = policy.get(key, default)
        return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 1024 \
            else default

    def problems(self) -> frozenset[str]:
        """The rules still broken: the flow's answer, or before the first edit the empty field's."""
        if not self.field.text():
            # The flow has not judged an empty field; it breaks the length and variety rules.
            return frozenset({"too_short", "too_few_classes"})
        return frozenset(self.view.password_problems) if self.view is not None else frozenset()

    def _show_rules(self) -> None:
        problems = self.problems()
        low, high = self._policy_number("min_length", 12), self._policy_number("max_length", 64)
        classes = self._policy_number("min_classes", 3)
        done, not_yet = self.tr("done"), self.tr("not yet")
        self.length_rule.show_rule(
            self.tr("%1 to %2 characters").replace("%1", str(low)).replace("%2", str(high)),
            not problems & _LENGTH_PROBLEMS, done, not_yet)
        self.class_rule.show_rule(
            self.tr("At least %1 of: capital letters, small letters, digits, symbols")
            .replace("%1", str(classes)),
            not problems & _CLASS_PROBLEMS, done, not_yet)
        self.charset_rule.show_rule(
            self.tr("Only letters, digits, symbols and spaces from this keyboard (no Japanese characters)"),
            not problems & _CHARSET_PROBLEMS, done, not_yet)
        others = sorted(problems - _KNOWN_PROBLEMS)
        if others:
            self.other_problems.set_message(self.tr("The password breaks another rule of the university "
                                                    "(%1).").replace("%1", ", ".join(others)), "no")
        else:
            self.other_problems.set_message("")
        busy = self.view is not None and self.view.busy
        self.set_button.setEnabled(bool(self.field.text()) and not problems and not busy
                                   and not self._awaiting_judgement)

    def _edited(self, text: str) -> None:
        if self._quiet:
            return
        self._awaiting_judgement = True
        self._show_rules()
        self.emit_intent("password_changed", text)

    def _submit(self) -> None:
        self._show_rules()
        if not self.set_button.isEnabled():
            return
        secret = bytearray(self.field.text().encode("utf-8"))
        self.clear_field()
        self.emit_intent("submit_password", secret)

    def _cancel(self) -> None:
        self.clear_field()
        self.emit_intent("cancel")

    def clear_field(self) -> None:
        """Empty the field without telling the flow (there is nothing left to judge)."""
        self._quiet = True
        try:
            self.field.clear()
        finally:
            self._quiet = False
        self.keyboard.reset()
        self._show_rules()

    def showEvent(self, event: QShowEvent) -> None:
        self.field.setFocus()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self.clear_field()
        super().hideEvent(event)


# -- done -----------------------------------------------------------------------------------------------

def done_kind(view: View) -> str:
    """Which result the done screen shows, from what the result holds and the operation."""
    result = view.result
    if "voucher" in result:
        return "voucher"
    if result.get("password_set") or (view.operation == "password_reset" and not result):
        return "password"
    if "enrolment_code" in result or view.operation == "mfa_reset":
        return "mfa"
    if "ticket" in result or view.operation == "salvage":
        return "salvage"
    if result.get("unlinked") or view.operation == "unlink":
        return "unlinked"
    if view.operation == "link_status":
        return "link_status"
    if view.operation == "prelink" or result.get("linked"):
        return "prelinked"
    return "done"


@screen(Screen.DONE)
class DoneScreen(Frame):
    """What the user takes away, by operation, then "take your card" and Finish."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = label()
        self.code = _code_label()
        self.qr = QrCode(min_mm=45.0)
        self.expiry = label(bold=True)
        self.once = Notice("warning")
        self.instructions = label()
        codes = QHBoxLayout()
        column = QVBoxLayout()
        column.addWidget(self.code)
        column.addWidget(self.expiry)
        column.addWidget(self.once)
        codes.addLayout(column, 2)
        codes.addWidget(self.qr, 1)
        self.body.addWidget(self.message)
        self.body.addLayout(codes)
        self.body.addWidget(self.instructions)
        self.body.addStretch(1)
        self.take_icon = StatusIcon("info", size_mm=10.0)
        self.take_card = label(TITLE_PT + 4, bold=True)
        self.take_detail = label()
        take = QFrame()
        take.setFrameShape(QFrame.Shape.Box)
        take.setLineWidth(4)
        take_layout = QGridLayout(take)
        take_layout.addWidget(self.take_icon, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        take_layout.addWidget(self.take_card, 0, 1)
        take_layout.addWidget(self.take_detail, 1, 1)
        take_layout.setColumnStretch(1, 1)
        self.body.addWidget(take)
        self.finish_button = self.action("finish")
        self.bottom.addStretch(1)
        self.bottom.addWidget(self.finish_button)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.finish_button.setText(self.tr("Finish"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        kind = done_kind(view)
        result = view.result
        code, qr, expiry, once, instructions = "", "", "", "", ""
        when = self.tr("yyyy-MM-dd HH:mm")
        if kind == "voucher":
            self.title.setText(self.tr("Your voucher code"))
            self.message.setText(self.tr("Staff approved your request. The kiosk is offline, so it keeps the "
                                         "request and sends it to the university's server when the "
                                         "connection is back."))
            code = _shown(result.get("voucher"))
            once = self.tr("Write it down or photograph it now: it is shown only once, and it disappears "
                           "when you take your card.")
            url = result.get("voucher_url")
            if isinstance(url, str) and url:
                qr = _shown(url)
                instructions = self.tr("Later, open the voucher page on your phone or computer (%1), enter "
                                       "this code and your account ID, and finish there.").replace("%1", qr)
            else:
                instructions = self.tr("Later, open the university's voucher page on your phone or computer, "
                                       "enter this code and your account ID, and finish there. The help "
                                       "desk can tell you where to find it.")
        elif kind == "password":
            self.title.setText(self.tr("Your new password is set"))
            self.message.setText(self.tr("Use it from now on to sign in. You will receive a notice of this "
                                         "change."))
        elif kind == "mfa":
            self.title.setText(self.tr("Your MFA enrolment code"))
            code = _shown(result.get("enrolment_code"))
            if code:
                self.message.setText(self.tr("Your registered sign-in methods were cleared. Use this code on "
                                             "the university's MFA registration page to register a new "
                                             "one."))
                qr = code
                once = self.tr("Write it down or photograph it now: it is shown only once.")
            else:
                self.message.setText(self.tr("Your registered sign-in methods were cleared, but the code can "
                                             "no longer be shown. Please ask a staff member."))
            shown_expiry = _local_time(result.get("expires_at"), when)
            expiry = self.tr("Valid until %1").replace("%1", shown_expiry) if shown_expiry and code else ""
        elif kind == "salvage":
            self.title.setText(self.tr("Your salvage ticket"))
            code = _shown(result.get("ticket"))
            mode = result.get("mode")
            if mode == "forwarding":
                what = self.tr("It sets up forwarding of your cloud mail.")
            elif mode == "backup":
                what = self.tr("It gives you access to back up your cloud mail and cloud drive data.")
            else:
                what = self.tr("It gives you access to your cloud data (%1).").replace("%1", _shown(mode))
            if code:
                self.message.setText(what)
                qr = code
                once = self.tr("Write it down or photograph it now: it is shown only once.")
            else:
                self.message.setText(self.tr("The ticket can no longer be shown. Please ask a staff member."))
            shown_expiry = _local_time(result.get("expires_at"), when)
            expiry = self.tr("Valid until %1").replace("%1", shown_expiry) if shown_expiry and code else ""
        elif kind == "unlinked":
            self.title.setText(self.tr("The link is deleted"))
            self.message.setText(self.tr("This card is no longer linked to your account. You can link a card "
                                         "again at any time with \"Link my card\"."))
        elif kind == "link_status":
            if result.get("linked"):
                self.title.setText(self.tr("Your card is linked"))
                name = _shown(result.get("name_on_card"))
                since = _local_time(result.get("linked_at"), self.tr("yyyy-MM-dd"))
                self.message.setText(self.tr("Linked for %1 since %2.").replace("%1", name or "-")
                                     .replace("%2", since or "-"))
            else:
                self.title.setText(self.tr("Your card is not linked"))
                self.message.setText(self.tr("No card is linked to this account. Choose \"Link my card\" to "
                                             "link one."))
        elif kind == "prelinked":
            self.title.setText(self.tr("Your card is linked"))
            self.message.setText(self.tr("From now on you can use your My Number Card to reset your "
                                         "password, re-register MFA or salvage your data."))
        else:
            self.title.setText(self.tr("Done"))
            self.message.setText(self.tr("Your request is complete."))
        self.code.setText(code)
        self.code.setVisible(bool(code))
        self.code.setAccessibleName(self.tr("Code: %1").replace("%1", " ".join(code)) if code else "")
        self.qr.set_text(qr or None)
        self.qr.setVisible(bool(qr))
        self.expiry.setText(expiry)
        self.expiry.setVisible(bool(expiry))
        self.once.set_message(once, "warning")
        self.instructions.setText(instructions)
        self.instructions.setVisible(bool(instructions))
        if view.card_present:
            self.take_icon.set_kind("warning")
            self.take_card.setText(self.tr("Take your card"))
            self.take_detail.setText(self.tr("The kiosk finishes when you take your card off the reader."))
        else:
            self.take_icon.set_kind("info")
            self.take_card.setText(self.tr("Do not forget your card"))
            self.take_detail.setText(self.tr("Press Finish when you are done."))


# -- errors ----------------------------------------------------------------------------------------------

@screen(Screen.ERROR)
class ErrorScreen(Frame):
    """What went wrong and what to do next, in words from ``ErrorWords``; never an exception's text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = StatusIcon("warning", size_mm=12.0)
        self.explanation = label()
        self.remedy_caption = label(bold=True)
        self.remedy = label()
        self.staff_code = label()
        self.take_card = Notice("info")
        # The title in dark red beside a warning sign; the shape and the words carry it, not the colour.
        palette = self.title.palette()
        palette.setColor(QPalette.ColorRole.WindowText, QColor(ALERT_INK))
        self.title.setPalette(palette)
        top = QHBoxLayout()
        top.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.explanation, 1)
        self.body.addLayout(top)
        self.body.addWidget(_boxed(self.remedy_caption, self.remedy))
        self.body.addWidget(self.take_card)
        self.body.addStretch(1)
        self.body.addWidget(self.staff_code)
        self.ok_button = self.action("finish")
        self.bottom.addStretch(1)
        self.bottom.addWidget(self.ok_button)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.remedy_caption.setText(self.tr("What to do"))
        self.ok_button.setText(self.tr("OK"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        code = view.error or "internal"
        words = ErrorWords.describe(code, tries_left=view.tries_left)
        self.title.setText(words.title)
        self.explanation.setText(words.explanation)
        self.remedy.setText(words.remedy)
        if view.error_step:
            staff = self.tr("Code for staff: %1 (at: %2)").replace("%1", code).replace("%2", view.error_step)
        else:
            staff = self.tr("Code for staff: %1").replace("%1", code)
        self.staff_code.setText(staff)
        self.take_card.set_message(self.tr("Take your card with you.") if view.card_present else "", "info")
