"""The error screen: what went wrong and what to do next, in the words of ``kiosk.ui.errors``."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QWidget

from kiosk.flow import Intent, Screen, View
from kiosk.ui.base import screen
from kiosk.ui.errors import ErrorWords
from kiosk.ui.screens.frame import Frame
from kiosk.ui.screens.parts import boxed
from kiosk.ui.translations import fill
from kiosk.ui.widgets import ALERT_INK, Notice, StatusIcon, label


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
        self.body.addWidget(boxed(self.remedy_caption, self.remedy))
        self.body.addWidget(self.take_card)
        self.body.addStretch(1)
        self.body.addWidget(self.staff_code)
        self.ok_button = self.action(Intent.FINISH)
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
            staff = fill(self.tr("Code for staff: %1 (at: %2)"), code, view.error_step)
        else:
            staff = fill(self.tr("Code for staff: %1"), code)
        self.staff_code.setText(staff)
        self.take_card.set_message(self.tr("Take your card with you.") if view.card_present else "", "info")
