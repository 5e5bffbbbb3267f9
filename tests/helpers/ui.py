"""What the README promises of every screen's size, checked the same way for every screen module."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

#: The README: the bottom row's buttons are at least 14 mm tall (and 40 mm wide: they end or
#: decide a step), on the screen's real millimetres.
BOTTOM_ROW_MM = 14.0
BOTTOM_ROW_WIDTH_MM = 40.0


def physical_pixels(millimetres: float) -> int:
    """``millimetres`` in pixels of the primary screen, from its physical DPI (96 when the display
    reports none that is plausible), never rounded down."""
    dpi = QApplication.primaryScreen().physicalDotsPerInch()
    if not math.isfinite(dpi) or not 50 <= dpi <= 1200:
        dpi = 96.0
    return math.ceil(millimetres * dpi / 25.4)


def bottom_row_buttons(screen: QWidget) -> list[QAbstractButton]:
    """The visible buttons of the screen's bottom row (the frame's ``bottom`` layout)."""
    row = screen.bottom  # type: ignore[attr-defined]
    items = (row.itemAt(i).widget() for i in range(row.count()))
    return [w for w in items if isinstance(w, QAbstractButton) and w.isVisibleTo(screen)]


def assert_bottom_row_is_large(screen: QWidget) -> None:
    """Every bottom-row button of ``screen`` is at least 14 mm tall and 40 mm wide, as laid out."""
    tall, wide = physical_pixels(BOTTOM_ROW_MM), physical_pixels(BOTTOM_ROW_WIDTH_MM)
    for button in bottom_row_buttons(screen):
        name = f"{type(screen).__name__}: {button.accessibleName()}"
        assert button.minimumHeight() >= tall and button.height() >= tall, (name, button.height(), tall)
        assert button.minimumWidth() >= wide and button.width() >= wide, (name, button.width(), wide)
