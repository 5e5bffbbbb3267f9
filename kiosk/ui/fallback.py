"""The page the window shows when a screen cannot be shown, the error screen included.

It is the last resort, so it stands on as little as possible: plain Qt labels and a button, and the
words of ``kiosk.ui.errors`` (the error screen's own texts for the staff code and OK). The window
shows it at once when a screen fails, until the flow has ended the session on the error screen;
when the error screen is the one that fails, it stays.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from kiosk.flow import FlowCode
from kiosk.ui.errors import ErrorWords
from kiosk.ui.sizes import BODY_PT, TITLE_PT, size_text
from kiosk.ui.translations import fill


class FallbackErrorPage(QWidget):
    """An error's title, explanation, remedy and code for staff, with OK (``finished``)."""

    finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 36, 48, 36)
        layout.setSpacing(18)
        size_text(self, BODY_PT)
        self.title = QLabel()
        size_text(self.title, TITLE_PT, bold=True)
        self.explanation = QLabel()
        self.remedy = QLabel()
        self.staff_code = QLabel()
        for text in (self.title, self.explanation, self.remedy, self.staff_code):
            text.setWordWrap(True)
            layout.addWidget(text)
        layout.addStretch(1)
        self.ok_button = QPushButton()
        self.ok_button.setMinimumSize(200, 72)
        self.ok_button.clicked.connect(self.finished)
        layout.addWidget(self.ok_button, 0, Qt.AlignmentFlag.AlignRight)
        self.setFocusProxy(self.ok_button)
        self.code: str = FlowCode.DISPLAY_FAILED
        self.where = ""
        self.retranslate()

    def show_error(self, code: str, where: str) -> None:
        """Say that ``code`` happened at ``where`` (a screen's name), in the current language."""
        self.code, self.where = code, where
        self.retranslate()

    def retranslate(self) -> None:
        words = ErrorWords.describe(self.code)
        self.title.setText(words.title)
        self.explanation.setText(words.explanation)
        self.remedy.setText(words.remedy)
        # The error screen's own words (its translation context) for the code and OK.
        staff = QCoreApplication.translate("ErrorScreen", "Code for staff: %1 (at: %2)")
        self.staff_code.setText(fill(staff, self.code, self.where))
        ok = QCoreApplication.translate("ErrorScreen", "OK")
        self.ok_button.setText(ok)
        self.ok_button.setAccessibleName(ok)
