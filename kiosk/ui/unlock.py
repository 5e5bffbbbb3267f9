"""The staff unlock: a keypad asking for the staff PIN before the kiosk window may close."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from kiosk.staffpin import STAFF_PIN_MAX


class StaffUnlockDialog(QDialog):
    """Asks for the staff PIN on a keypad (a touch screen has no keyboard); the digits stay masked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(True)
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint)
        self.setAttribute(Qt.WidgetAttribute.WA_WindowPropagation)  # the window's font and locale
        layout = QVBoxLayout(self)
        self._title = QLabel()
        self._entry = QLineEdit()
        self._entry.setEchoMode(QLineEdit.EchoMode.Password)
        self._entry.setMaxLength(STAFF_PIN_MAX)
        self._message = QLabel()
        self._message.setWordWrap(True)
        layout.addWidget(self._title)
        layout.addWidget(self._entry)
        layout.addWidget(self._message)
        keys = QGridLayout()
        for index, digit in enumerate("1234567890"):
            button = QPushButton(digit)
            button.setMinimumSize(72, 72)
            button.setAccessibleName(digit)
            button.clicked.connect(lambda _=False, d=digit: self._entry.insert(d))
            keys.addWidget(button, index // 3, index % 3 if digit != "0" else 1)
        layout.addLayout(keys)
        self._unlock = QPushButton()
        self._unlock.setDefault(True)
        self._unlock.clicked.connect(self.accept)
        self._cancel = QPushButton()
        self._cancel.clicked.connect(self.reject)
        for button in (self._unlock, self._cancel):
            button.setMinimumHeight(72)
            layout.addWidget(button)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Staff unlock"))
        self._title.setText(self.tr("Staff only: enter the staff PIN to close the kiosk."))
        self._entry.setAccessibleName(self.tr("Staff PIN"))
        self._unlock.setText(self.tr("Unlock"))
        self._unlock.setAccessibleName(self.tr("Unlock"))
        self._cancel.setText(self.tr("Cancel"))
        self._cancel.setAccessibleName(self.tr("Cancel"))

    def take_pin(self) -> str:
        """The PIN typed, once; the field is cleared."""
        pin = self._entry.text()
        self._entry.clear()
        return pin

    def refuse(self, locked: bool) -> None:
        self._message.setText(self.tr("Too many wrong PINs. Try again later.") if locked
                              else self.tr("Wrong PIN."))
