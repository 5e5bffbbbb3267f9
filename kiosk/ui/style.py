"""The kiosk window's style sheet: edges that can be seen, a focus ring, and disabled buttons that look it.

- Every button and field has a 2 px edge of ``EDGE_INK``, 7:1 against the white around it (WCAG 1.4.11
  asks 3:1 for the boundary of a control).
- The control with the keyboard focus gets a black ring ``FOCUS_PX`` wide: its edge thickens
  outwards into a margin that is white otherwise, so the ring changes pixels from white to black
  (21:1) without moving the caption (WCAG 2.4.7, and 2.4.13's 2 px at 3:1).
- A disabled button has a dashed edge as well as grey words, so it differs by more than colour.
- A checked choice (the current language, larger text) is white on black: not only bolder.
- Scroll bars are a finger wide.
The style sheet sets no fonts: text sizes come from ``kiosk.ui.sizes``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from kiosk.ui.sizes import TOUCH_PX

EDGE_INK = "#595959"
INK = "#000000"
PAPER = "#ffffff"
PRESSED = "#d9d9d9"
CHOSEN = "#fff4c2"
#: The edge, and the ring that replaces it while focused: the margin takes up the difference.
EDGE_PX = 2
FOCUS_PX = 5
#: The controls that share the look: push buttons, choice buttons (radio buttons drawn as
#: buttons) and text fields.
_CONTROLS = ("QPushButton", "QRadioButton", "QLineEdit")


def _rule(selectors: str, **properties: str) -> str:
    body = "; ".join(f"{name.replace('_', '-')}: {value}" for name, value in properties.items())
    return f"{selectors} {{ {body} }}"


def _each(state: str = "") -> str:
    return ", ".join(f"{control}{state}" for control in _CONTROLS)


def style_sheet() -> str:
    margin = FOCUS_PX - EDGE_PX
    rules = [
        _rule(_each(), background=PAPER, color=INK, border=f"{EDGE_PX}px solid {EDGE_INK}",
              border_radius="6px", margin=f"{margin}px", padding="1px 8px"),
        _rule(_each(":focus"), border=f"{FOCUS_PX}px solid {INK}", margin="0px"),
        _rule("QPushButton:pressed, QRadioButton:pressed", background=PRESSED),
        _rule("QPushButton:checked, QRadioButton:checked", background=INK, color=PAPER),
        _rule("QPushButton:disabled, QRadioButton:disabled",
              border=f"{EDGE_PX}px dashed {EDGE_INK}", color=EDGE_INK),
        # The field an on-screen keyboard types into: a black edge and a pale fill, focused or not.
        _rule('QLineEdit[chosen="true"]', border=f"{FOCUS_PX - 2}px solid {INK}", margin="2px",
              background=CHOSEN),
        _rule('QLineEdit[chosen="true"]:focus', border=f"{FOCUS_PX}px solid {INK}", margin="0px"),
        _rule("QRadioButton", spacing="0px"),
        _rule("QRadioButton::indicator", width="0px", height="0px", border="none", image="none"),
        _rule("QGroupBox", border="none", margin="0px", padding="0px"),
        _rule("QScrollArea", border="none"),
        # The viewport and the body inside it are the screen's paper, not the style's grey.
        _rule("QScrollArea > QWidget, QScrollArea > QWidget > QWidget", background=PAPER),
        _rule("QScrollBar:vertical", width=f"{TOUCH_PX}px", background=PAPER,
              border=f"{EDGE_PX}px solid {EDGE_INK}"),
        _rule("QScrollBar::handle:vertical", background=EDGE_INK, min_height=f"{TOUCH_PX}px"),
        _rule("QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical", height="0px"),
        _rule("QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical", background=PAPER),
    ]
    return "\n".join(rules)


def apply_style(widget: QWidget) -> None:
    """Style ``widget`` and everything in it (the window, or a screen shown on its own)."""
    widget.setStyleSheet(style_sheet())
