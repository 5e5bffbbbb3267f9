"""The frame every screen shares: its title and the language switch on top, its body, its buttons below.

Black on white with large type, the same margins on every screen, and bottom-row buttons at least
14 mm tall and 40 mm wide: they end or decide a step. Cancel (or the way back) sits at the bottom
left on every screen, the step's way forward at the bottom right. Subclasses add to ``body`` and ``bottom``,
call ``retranslate()`` at the end of their ``__init__`` and call the frame's ``render`` and
``retranslate`` from theirs.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from kiosk.flow import Intent, View
from kiosk.ui.base import ScreenWidget
from kiosk.ui.widgets import BODY_PT, TITLE_PT, BigButton, LanguageSwitch, high_contrast, label, make_font, mm

#: Bottom-row buttons: tall and wide, as they end or decide a step.
ACTION_MM = 14.0
ACTION_WIDTH_MM = 40.0


class Frame(ScreenWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: The view last rendered (a language change renders it again).
        self.view: View | None = None
        high_contrast(self)
        self.setFont(make_font(BODY_PT))
        outer = QVBoxLayout(self)
        outer.setContentsMargins(mm(8), mm(6), mm(8), mm(6))
        outer.setSpacing(mm(3))
        top = QHBoxLayout()
        self.title = label(TITLE_PT, bold=True)
        top.addWidget(self.title, 1)
        self.languages = LanguageSwitch()
        self.languages.chosen.connect(self._set_language)
        top.addWidget(self.languages, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight)
        outer.addLayout(top)
        self.body = QVBoxLayout()
        self.body.setSpacing(mm(3))
        outer.addLayout(self.body, 1)
        self.bottom = QHBoxLayout()
        self.bottom.setSpacing(mm(6))
        outer.addLayout(self.bottom)

    def action(self, name: str | None = None, argument: object = None) -> BigButton:
        """A bottom-row button; with ``name``, it emits that intent (with ``argument``) when pressed."""
        button = BigButton(min_mm=ACTION_MM)
        button.setMinimumWidth(mm(ACTION_WIDTH_MM))
        button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        if name is not None:
            button.clicked.connect(lambda _checked=False: self.emit_intent(name, argument))
        return button

    # The contract's ``render(view)`` shadows QWidget.render, which type checkers flag on every override.
    def render(self, view: View) -> None:  # type: ignore[override]
        self.view = view
        self.languages.set_language(view.language)

    def retranslate(self) -> None:
        # Subclasses reach here from their own retranslate, at the end of their __init__.
        self._translated = True
        self.languages.retranslate()

    # A slot is a bound method, never a lambda holding the screen, so Qt can tear screens down cleanly.
    def _set_language(self, code: str) -> None:
        self.emit_intent(Intent.SET_LANGUAGE, code)

    def changeEvent(self, event: QEvent) -> None:
        # Not before the subclass has built its widgets (its first retranslate says so), nor twice
        # when its owner retranslates it.
        if (event.type() == QEvent.Type.LanguageChange and getattr(self, "_translated", False)
                and not self.retranslated_by_owner):
            self.retranslate()
        super().changeEvent(event)
