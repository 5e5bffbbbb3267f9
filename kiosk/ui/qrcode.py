"""Text drawn as a QR code for a phone's camera: the sign-in address, an enrolment code."""

from __future__ import annotations

import io

import segno
from PySide6.QtCore import QByteArray, QRectF, QSize
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QSizePolicy, QWidget

from kiosk.ui.sizes import mm
from kiosk.ui.widgets import INK, PAPER, Translated


class QrCode(Translated):
    """Text drawn as a QR code (segno's SVG through ``QSvgRenderer``), as large as the space allows.

    The side is snapped to a whole number of pixels per module, so phone cameras get crisp edges.
    """

    BORDER = 4  # the quiet zone the QR specification asks for, in modules

    def __init__(self, parent: QWidget | None = None, *, min_mm: float = 35.0) -> None:
        super().__init__(parent)
        self._renderer = QSvgRenderer(self)
        self._text = ""
        self._modules = 0
        self._min = mm(min_mm)
        self.setMinimumSize(self._min, self._min)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.retranslate()

    def text(self) -> str:
        return self._text

    @property
    def modules(self) -> int:
        """The code's side in modules, quiet zone included (0 without a code)."""
        return self._modules

    def set_text(self, text: str | None) -> None:
        text = text or ""
        if text == self._text:
            return
        self._text = text
        if text:
            code = segno.make_qr(text, error="m")
            svg = io.BytesIO()
            code.save(svg, kind="svg", border=self.BORDER, dark=INK, light=PAPER, xmldecl=False)
            self._modules = int(code.symbol_size(border=self.BORDER)[0])
            self._renderer.load(QByteArray(svg.getvalue()))
        else:
            self._modules = 0
            self._renderer.load(QByteArray())
        self.update()

    def retranslate(self) -> None:
        self.setAccessibleName(self.tr("QR code"))
        self.setAccessibleDescription(self.tr("QR code"))

    def sizeHint(self) -> QSize:
        side = max(self._min, mm(50))
        return QSize(side, side)

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self._modules or not self._renderer.isValid():
            return
        painter = QPainter(self)
        side = min(self.width(), self.height())
        side -= side % self._modules if side >= self._modules else 0
        x = (self.width() - side) // 2
        y = (self.height() - side) // 2
        painter.fillRect(x, y, side, side, QColor(PAPER))
        self._renderer.render(painter, QRectF(x, y, side, side))
        painter.end()
