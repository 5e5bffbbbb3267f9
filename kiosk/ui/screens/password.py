"""The new password: a masked field that never gives its text away, a keyboard for it, and the
policy as a checklist that follows every edit.

The new password lives only in its masked field: it reaches the flow as the text of each edit (for
the policy checklist) and once as a ``bytearray`` on submit, and the field is emptied right after;
no label, accessible name or clipboard ever holds it.
"""

from __future__ import annotations

import string
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QContextMenuEvent,
    QDragEnterEvent,
    QDropEvent,
    QHideEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
)
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QStackedLayout, QVBoxLayout, QWidget

from kiosk.flow import Intent, Screen, View
from kiosk.ui.base import screen
from kiosk.ui.screens.frame import Frame
from kiosk.ui.sizes import size_text
from kiosk.ui.translations import fill
from kiosk.ui.widgets import BODY_PT, KEY_PT, BigButton, Notice, StatusIcon, label, mm


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
        size_text(self, KEY_PT)
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

    It holds no text: each key goes straight into the field it types into. A touch on a key leaves
    the focus in the field, so a physical keyboard works as well; Tab still reaches every key.
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
        key.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        key.clicked.connect(lambda _checked=False, c=character: self._type(
            c.upper() if self._shift and c in string.ascii_lowercase else c))
        self.keys[character] = key
        return key

    def _control(self, press: Callable[[], object]) -> BigButton:
        key = BigButton(points=BODY_PT, min_mm=10.0, enter_clicks=False)
        key.setFocusPolicy(Qt.FocusPolicy.TabFocus)
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
            key.set_spoken_name(fill(self.tr("Capital %1"), letter.upper()) if self._shift else None)
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
        self.refused = Notice("no")
        self.keyboard = PasswordKeyboard(self.field)
        self.body.addWidget(self.intro)
        self.body.addWidget(self.refused)
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
        self._show_refusal()
        self._show_rules()

    def _show_refusal(self) -> None:
        """Why the university's directory refused the password just sent, in the screen's language,
        with the directory's own words after it when it gave some."""
        view = self.view
        if view is None or not view.password_refused:
            self.refused.set_message("")
            return
        if "directory_unavailable" in view.password_refused:
            self.refused.set_message(self.tr(
                "The university's account directory did not answer, so your password was not changed. "
                "Your request is still approved: please wait a moment, then type your new password "
                "again and press \"Set password\"."), "warning")
            return
        words = {
            "in_history": self.tr("You have used this password before. Choose one you have not used."),
            "too_young": self.tr("The password was changed too recently to change it again now. "
                                 "Please ask a staff member."),
            "too_short": self.tr("The password is shorter than the directory allows."),
            "too_weak": self.tr("The password is too easy to guess."),
        }
        reasons = [words.get(rule, self.tr("It does not meet the university's password rules."))
                   for rule in dict.fromkeys(view.password_refused)]
        text = self.tr("The university's account directory did not accept this password.") + "\n" \
            + " ".join(dict.fromkeys(reasons))
        if view.password_refusal:
            text += "\n" + fill(self.tr("(The directory says: %1)"), view.password_refusal)
        self.refused.set_message(text, "no")

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
            fill(self.tr("%1 to %2 characters"), str(low), str(high)),
            not problems & _LENGTH_PROBLEMS, done, not_yet)
        self.class_rule.show_rule(
            fill(self.tr("At least %1 of: capital letters, small letters, digits, symbols"), str(classes)),
            not problems & _CLASS_PROBLEMS, done, not_yet)
        self.charset_rule.show_rule(
            self.tr("Only letters, digits, symbols and spaces from this keyboard (no Japanese characters)"),
            not problems & _CHARSET_PROBLEMS, done, not_yet)
        others = sorted(problems - _KNOWN_PROBLEMS)
        if others:
            self.other_problems.set_message(fill(self.tr("The password breaks another rule of the university "
                                                         "(%1)."), ", ".join(others)), "no")
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
        self.emit_intent(Intent.PASSWORD_CHANGED, text)

    def _submit(self) -> None:
        self._show_rules()
        if not self.set_button.isEnabled():
            return
        secret = bytearray(self.field.text().encode("utf-8"))
        self.clear_field()
        self.emit_intent(Intent.SUBMIT_PASSWORD, secret)

    def _cancel(self) -> None:
        self.clear_field()
        self.emit_intent(Intent.CANCEL)

    def clear_field(self) -> None:
        """Empty the field without telling the flow (there is nothing left to judge)."""
        self._quiet = True
        try:
            self.field.clear()
        finally:
            self._quiet = False
        self.keyboard.reset()
        self._show_rules()

    def first_focus(self) -> QWidget | None:
        return self.field  # the keys take no focus: a physical keyboard types here too

    def hideEvent(self, event: QHideEvent) -> None:
        self.clear_field()
        super().hideEvent(event)


