"""Sizes in millimetres of the real screen: touch targets, and text by its cap height.

Both follow the screen's physical DPI, so a button is as wide under a finger and a letter as tall
to the eye on a dense 10" panel as on a 24" monitor. Text is given in *design points*: ``BODY_PT``
is body text, whose capital letters stand ``BODY_CAP_MM`` tall (ADA 707.7.2 asks 4.8 mm at least);
other sizes scale from it (a title at 28 is 1.4 times the body). The user's "larger text" choice
multiplies every text by ``LARGE_TEXT``, and a widget tree is re-sized in place by
``set_text_scale`` (each sized widget carries its design size in a property).
"""

from __future__ import annotations

import math
from functools import cache

from PySide6.QtGui import QFont, QFontMetricsF, QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

MM_PER_INCH = 25.4
#: Used when the screen reports no physical size, or an implausible one.
FALLBACK_DPI = 96.0
#: The smallest touch target, in millimetres, and in pixels whatever the panel (WCAG 2.5.5's 44).
TOUCH_MM = 9.0
TOUCH_PX = 44
#: Design points: the body, titles, and the keypads' key captions.
BODY_PT = 20
TITLE_PT = 28
KEY_PT = 26
#: Body text's cap height at the normal size.
BODY_CAP_MM = 4.8
#: The "larger text" choice: 7.2 mm capitals, above the 6.1 mm of EN 301 549 5.1.4.
LARGE_TEXT = 1.5
#: The property holding a widget's design size, read when the text scale changes.
TEXT_PROPERTY = "kiosk_text_pt"

_scale = 1.0


def _dpi(screen: QScreen | None = None) -> float:
    if screen is None:
        screen = QGuiApplication.primaryScreen()
    dpi = screen.physicalDotsPerInch() if screen is not None else FALLBACK_DPI
    if not math.isfinite(dpi) or not 50.0 <= dpi <= 1200.0:
        # Virtual and misconfigured displays report 0 or absurd sizes; 96 dpi is Qt's own default.
        return FALLBACK_DPI
    return dpi


def pixels_for_mm(millimetres: float, dpi: float) -> int:
    """``millimetres`` in whole pixels at ``dpi``, never rounded below the requested length."""
    if not math.isfinite(dpi) or not 50.0 <= dpi <= 1200.0:
        dpi = FALLBACK_DPI
    return math.ceil(millimetres * dpi / MM_PER_INCH)


def mm(millimetres: float, screen: QScreen | None = None) -> int:
    """``millimetres`` in pixels on ``screen`` (the primary screen by default), from its physical DPI."""
    return pixels_for_mm(millimetres, _dpi(screen))


def target(millimetres: float = TOUCH_MM) -> int:
    """A touch target's side: ``millimetres`` on this screen, and never under ``TOUCH_PX``."""
    return max(mm(max(millimetres, TOUCH_MM)), TOUCH_PX)


@cache
def cap_ratio(families: tuple[str, ...]) -> float:
    """The cap height of the font ``families`` as a share of its pixel size (about 0.73 for Noto)."""
    font = QFont()
    if families:
        font.setFamilies(list(families))
    font.setPixelSize(200)
    ratio = QFontMetricsF(font).capHeight() / 200
    return ratio if 0.4 <= ratio <= 1.0 else 0.7


def text_scale() -> float:
    return _scale


def text_pixels(points: float, font: QFont | None = None, screen: QScreen | None = None, *,
                dpi: float | None = None) -> int:
    """The pixel size of text at ``points`` design points, at the current text scale: body text's
    capitals are ``BODY_CAP_MM`` tall on ``screen`` (or at ``dpi``), whatever its density."""
    cap = BODY_CAP_MM * (dpi or _dpi(screen)) / MM_PER_INCH * points / BODY_PT * _scale
    probe = QFont(font) if font is not None else QFont()
    pixels = math.ceil(cap / cap_ratio(tuple(probe.families())))
    for _ in range(3):  # small sizes round their capitals down: one pixel more until they stand tall
        probe.setPixelSize(pixels)
        if QFontMetricsF(probe).capHeight() >= cap:
            break
        pixels += 1
    return pixels


def make_font(points: float = BODY_PT, *, bold: bool = False) -> QFont:
    """A font that sets only size and weight, so the family still follows the application's font."""
    font = QFont()
    font.setPixelSize(text_pixels(points, font))
    if bold:
        font.setBold(True)
    return font


def size_text(widget: QWidget, points: float = BODY_PT, *, bold: bool | None = None) -> None:
    """Give ``widget``'s text the design size ``points`` (kept for later changes of scale)."""
    widget.setProperty(TEXT_PROPERTY, float(points))
    font = widget.font()
    if bold is not None:
        font.setBold(bold)
    font.setPixelSize(text_pixels(points, font))
    widget.setFont(font)


def set_text_scale(root: QWidget, scale: float) -> None:
    """Scale every text (1.0 normal, ``LARGE_TEXT`` larger) and re-size the sized widgets under ``root``."""
    global _scale
    if not math.isfinite(scale) or not 0.5 <= scale <= 3.0:
        raise ValueError(f"a text scale between 0.5 and 3, not {scale!r}")
    _scale = scale
    for widget in (root, *root.findChildren(QWidget)):
        points = widget.property(TEXT_PROPERTY)
        if isinstance(points, float):
            size_text(widget, points)


def cap_height_mm(font: QFont, screen: QScreen | None = None) -> float:
    """How tall ``font``'s capital letters stand on ``screen``, in millimetres."""
    return QFontMetricsF(font).capHeight() * MM_PER_INCH / _dpi(screen)
