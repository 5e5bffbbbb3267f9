"""What the screens after the PIN share: boxed panels, large one-time codes, texts from the server."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from kiosk.ui.sizes import size_text
from kiosk.ui.widgets import label, mm

# A code, ticket or voucher: large enough to copy by hand from a step away.
CODE_PT = 40
# Texts from the server are shown, but never at any length it likes.
MAX_SHOWN = 128


def boxed(*widgets: QWidget) -> QFrame:
    """A bordered panel (the staff's part of a screen, or "take your card")."""
    frame = QFrame()
    frame.setFrameShape(QFrame.Shape.Box)
    frame.setLineWidth(3)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(mm(4), mm(3), mm(4), mm(3))
    for widget in widgets:
        layout.addWidget(widget)
    return frame


def code_label() -> QLabel:
    """A one-time code in large fixed-width type, so 0/O and 1/I stay apart."""
    widget = label(CODE_PT, bold=True, wrap=True)
    widget.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    size_text(widget, CODE_PT, bold=True)
    widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return widget


def shown(value: object) -> str:
    return str(value)[:MAX_SHOWN] if value is not None else ""


def local_time(moment: dt.datetime | None, pattern: str) -> str:
    """A time from the server as the kiosk's local time in ``pattern`` (empty if there is none)."""
    if moment is None:
        return ""
    return QDateTime.fromSecsSinceEpoch(int(moment.timestamp())).toString(pattern)
