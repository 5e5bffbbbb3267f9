"""The kiosk's keypads: the PIN pad and the on-screen keyboard, worked by touch or a physical keyboard."""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QStackedLayout, QVBoxLayout, QWidget

from kiosk.ui.sizes import text_scale
from kiosk.ui.translations import fill
from kiosk.ui.widgets import BODY_PT, KEY_PT, BigButton, TranslatedGroup, label, mm


class KeyOperated(TranslatedGroup):
    """A named group of keys (announced as a group), also worked from a physical keyboard:
    ``handle_key`` takes the keys it knows, pressed while one of its keys has the focus."""

    def handle_key(self, event: QKeyEvent) -> bool:
        """Act on a physical key; true if it was one of this widget's. Screens forward their keys here."""
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.handle_key(event):
            event.accept()
        else:
            super().keyPressEvent(event)


# -- the PIN pad -------------------------------------------------------------------------------------

_DIGIT_KEYS: dict[int, str] = {Qt.Key.Key_0 + i: str(i) for i in range(10)}


class PinPad(KeyOperated):
    """A PIN pad laid out like the convenience-store terminal's: 1-9, then clear, 0, back space; OK.

    It never holds the digits: each key press leaves as a ``digit`` signal and the pad shows only
    how many the flow reports (``set_count``) as dots. No text property, accessible name or
    clipboard ever sees a digit that was entered; a screen reader hears "2 of 4 digits entered".
    Physical keys work too: digits, Backspace, Delete (clear) and Enter (OK).
    """

    digit = Signal(str)
    backspace = Signal()
    clear = Signal()
    submit = Signal()

    def __init__(self, parent: QWidget | None = None, *, length: int = 4, key_mm: float = 15.0) -> None:
        super().__init__(parent)
        self._length = length
        self._count = 0
        outer = QVBoxLayout(self)
        self.dots = label(40, wrap=False)
        self.dots.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(self.dots)
        grid = QGridLayout()
        self.keys: dict[str, BigButton] = {}
        for index, d in enumerate("1234567890"):
            key = BigButton(d, points=KEY_PT + 6, min_mm=key_mm, enter_clicks=False, value=d)
            key.setObjectName(f"pin-digit-{d}")
            key.triggered.connect(self._digit_key)
            self.keys[d] = key
            row, column = (3, 1) if d == "0" else divmod(index, 3)
            grid.addWidget(key, row, column)
        self.clear_key = BigButton(points=BODY_PT, min_mm=key_mm, enter_clicks=False)
        self.back_key = BigButton(points=BODY_PT, min_mm=key_mm, enter_clicks=False)
        self.ok_key = BigButton(points=KEY_PT, min_mm=key_mm, enter_clicks=True)
        self.clear_key.clicked.connect(self.clear)
        self.back_key.clicked.connect(self.backspace)
        self.ok_key.clicked.connect(self.submit)
        grid.addWidget(self.clear_key, 3, 0)
        grid.addWidget(self.back_key, 3, 2)
        grid.addWidget(self.ok_key, 4, 0, 1, 3)
        outer.addLayout(grid)
        order = [self.keys[d] for d in "1234567890"] + [self.clear_key, self.back_key, self.ok_key]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        self.retranslate()

    def _digit_key(self, value: object) -> None:
        self.digit.emit(str(value))

    @property
    def count(self) -> int:
        return self._count

    @property
    def length(self) -> int:
        return self._length

    def set_count(self, count: int) -> None:
        """Show that ``count`` digits are entered (the number only: the pad never sees them)."""
        self._count = max(0, min(count, self._length))
        self._show_count()

    def _show_count(self) -> None:
        self.dots.setText("●" * self._count + "○" * (self._length - self._count))
        spoken = fill(self.tr("%n of %1 digits entered", "", self._count), str(self._length))
        self.dots.setAccessibleName(spoken)
        self.dots.setAccessibleDescription(spoken)
        self.setAccessibleDescription(spoken)
        self.ok_key.setEnabled(self._count == self._length)
        self.back_key.setEnabled(self._count > 0)
        self.clear_key.setEnabled(self._count > 0)

    def retranslate(self) -> None:
        self.setAccessibleName(self.tr("PIN pad"))
        for d, key in self.keys.items():
            key.set_spoken_name(fill(self.tr("digit %1"), d))
        self.clear_key.setText(self.tr("Clear"))
        self.clear_key.set_spoken_name(self.tr("Clear all digits"))
        self.back_key.setText(self.tr("Back space"))
        self.back_key.set_spoken_name(self.tr("Delete the last digit"))
        self.ok_key.setText(self.tr("OK"))
        # Equal columns whatever the captions' length in the current language.
        width = max(key.sizeHint().width() for key in (*self.keys.values(), self.clear_key, self.back_key))
        for key in (*self.keys.values(), self.clear_key, self.back_key):
            key.setMinimumWidth(max(width, key.minimumHeight()))
        self._show_count()

    def handle_key(self, event: QKeyEvent) -> bool:
        """Act on a physical key; true if it was one of the pad's. Screens forward their keys here."""
        key = event.key()
        if event.isAutoRepeat():
            # A held key would enter the same digit several times without the user noticing.
            return key in _DIGIT_KEYS or key in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if key in _DIGIT_KEYS:
            self.digit.emit(_DIGIT_KEYS[key])
        elif key == Qt.Key.Key_Backspace:
            self.backspace.emit()
        elif key == Qt.Key.Key_Delete:
            self.clear.emit()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self._count == self._length:
                self.submit.emit()
        else:
            return False
        return True


# -- the on-screen keyboard --------------------------------------------------------------------------

#: Symbols an account ID may contain in other formats, with the words a screen reader says.
_SYMBOLS = (".", "-", "_", "@")


class OnScreenKeyboard(KeyOperated):
    """A digits-first keyboard for account IDs, with a page of letters for other ID formats.

    It keeps its own text (an account ID is not a secret) and emits ``text_changed`` on every
    change and ``submitted`` on OK. Physical keys work too: the same characters, Backspace,
    Delete (clear) and Enter (OK).
    """

    text_changed = Signal(str)
    submitted = Signal(str)

    LETTER_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")

    def __init__(self, parent: QWidget | None = None, *, max_length: int = 64, key_mm: float = 12.0,
                 keep_focus: bool = False) -> None:
        """``keep_focus``: a touch on a key leaves the focus where it is (a field typed into); Tab
        still reaches every key."""
        super().__init__(parent)
        self._text = ""
        self._max_length = max_length
        self._upper = False
        self._allowed = set(string.ascii_letters + string.digits + "".join(_SYMBOLS))
        outer = QVBoxLayout(self)
        self._pages = QStackedLayout()
        outer.addLayout(self._pages)

        def key(caption: str, points: int = KEY_PT, value: str | None = None) -> BigButton:
            button = BigButton(caption, points=points, min_mm=key_mm, enter_clicks=False, value=value)
            if keep_focus:
                button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            if value is not None:
                button.triggered.connect(self._typed)
            return button

        self._pages.addWidget(self._digits_page(key))
        self._pages.addWidget(self._letters_page(key))
        outer.addLayout(self._actions(key, key_mm))
        self._key_mm = key_mm
        self.retranslate()
        self._update_keys()

    def _digits_page(self, key: Callable[..., BigButton]) -> QWidget:
        digits_page = QWidget()
        grid = QGridLayout(digits_page)
        self.digit_keys: dict[str, BigButton] = {}
        for index, d in enumerate("1234567890"):
            button = key(d, KEY_PT + 4, value=d)
            self.digit_keys[d] = button
            row, column = (3, 1) if d == "0" else divmod(index, 3)
            grid.addWidget(button, row, column)
        self.letters_key = key("ABC")
        self.letters_key.clicked.connect(self._show_letters)
        grid.addWidget(self.letters_key, 3, 0)
        return digits_page

    def _letters_page(self, key: Callable[..., BigButton]) -> QWidget:
        letters_page = QWidget()
        rows = QVBoxLayout(letters_page)
        self.letter_keys: dict[str, BigButton] = {}
        for letters in self.LETTER_ROWS:
            row_layout = QHBoxLayout()
            for letter in letters:
                button = key(letter, value=letter)
                self.letter_keys[letter] = button
                row_layout.addWidget(button)
            rows.addLayout(row_layout)
        last = QHBoxLayout()
        self.digits_key = key("123")
        self.digits_key.clicked.connect(self._show_digits)
        self.case_key = key("ABC")
        self.case_key.clicked.connect(self._toggle_case)
        last.addWidget(self.digits_key)
        last.addWidget(self.case_key)
        self.symbol_keys: dict[str, BigButton] = {}
        for symbol in _SYMBOLS:
            button = key(symbol, value=symbol)
            self.symbol_keys[symbol] = button
            last.addWidget(button)
        rows.addLayout(last)
        return letters_page

    def _actions(self, key: Callable[..., BigButton], key_mm: float) -> QHBoxLayout:
        actions = QHBoxLayout()
        self.clear_key = key("", BODY_PT)
        self.back_key = key("", BODY_PT)
        self.ok_key = BigButton(points=KEY_PT, min_mm=key_mm, enter_clicks=True)
        self.clear_key.clicked.connect(self.clear_text)
        self.back_key.clicked.connect(self.backspace)
        self.ok_key.clicked.connect(self.submit)
        actions.addWidget(self.clear_key, 1)
        actions.addWidget(self.back_key, 1)
        actions.addWidget(self.ok_key, 2)
        return actions

    def first_key(self) -> BigButton:
        """The key the focus starts on: the first digit, or the first letter."""
        return self.digit_keys["1"] if self.page == "digits" else self.letter_keys["q"]

    # -- the buffer --

    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        text = "".join(c for c in text if c in self._allowed)[: self._max_length]
        if text != self._text:
            self._text = text
            self._update_keys()
            self.text_changed.emit(text)

    def type_text(self, characters: str) -> None:
        self.set_text(self._text + characters)

    def _typed(self, value: object) -> None:
        text = str(value)
        self.type_text(text.upper() if self._upper and text.isalpha() else text)

    def backspace(self) -> None:
        self.set_text(self._text[:-1])

    def clear_text(self) -> None:
        self.set_text("")

    def submit(self) -> None:
        if self._text:
            self.submitted.emit(self._text)

    def _update_keys(self) -> None:
        has_text = bool(self._text)
        self.ok_key.setEnabled(has_text)
        self.back_key.setEnabled(has_text)
        self.clear_key.setEnabled(has_text)

    # -- pages --

    @property
    def page(self) -> str:
        return "digits" if self._pages.currentIndex() == 0 else "letters"

    def set_page(self, page: str) -> None:
        """Show the ``"digits"`` or the ``"letters"`` keys."""
        # The switch key pressed is about to disappear; its focus goes to the key that switches back.
        had_focus = self.letters_key.hasFocus() or self.digits_key.hasFocus()
        self._pages.setCurrentIndex(0 if page == "digits" else 1)
        if had_focus:
            (self.letters_key if page == "digits" else self.digits_key).setFocus()

    def _show_letters(self) -> None:
        self.set_page("letters")

    def _show_digits(self) -> None:
        self.set_page("digits")

    def _toggle_case(self) -> None:
        self._upper = not self._upper
        self.retranslate()

    def retranslate(self) -> None:
        # Ten letter keys a row at their touch size (growing with larger text); wider only
        # stretches the keys away from each other.
        self.setMaximumWidth(mm(self._key_mm * 16 * text_scale()))
        self.setAccessibleName(self.tr("On-screen keyboard"))
        for d, button in self.digit_keys.items():
            button.set_spoken_name(fill(self.tr("digit %1"), d))
        for letter, button in self.letter_keys.items():
            button.setText(letter.upper() if self._upper else letter)
        self.letters_key.set_spoken_name(self.tr("Show letters"))
        self.digits_key.set_spoken_name(self.tr("Show digits"))
        self.case_key.setText("abc" if self._upper else "ABC")
        self.case_key.set_spoken_name(self.tr("Small letters") if self._upper else self.tr("Capital letters"))
        spoken = {".": self.tr("Full stop"), "-": self.tr("Hyphen"), "_": self.tr("Underscore"),
                  "@": self.tr("At sign")}
        for symbol, button in self.symbol_keys.items():
            button.set_spoken_name(spoken[symbol])
        self.clear_key.setText(self.tr("Clear"))
        self.clear_key.set_spoken_name(self.tr("Clear everything typed"))
        self.back_key.setText(self.tr("Back space"))
        self.back_key.set_spoken_name(self.tr("Delete the last character"))
        self.ok_key.setText(self.tr("OK"))

    def handle_key(self, event: QKeyEvent) -> bool:
        """Act on a physical key; true if it was one of the keyboard's. Screens forward their keys here."""
        key = event.key()
        typed = event.text()
        if key == Qt.Key.Key_Backspace:
            self.backspace()
        elif key == Qt.Key.Key_Delete:
            self.set_text("")
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submit()
        elif len(typed) == 1 and typed in self._allowed:
            self.type_text(typed)
        else:
            return False
        return True
