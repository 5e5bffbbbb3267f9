"""The accessibility checks of ``kiosk audit-screens``, each on one rendered widget tree.

Every check takes the top-level window (and what it needs besides) and returns ``Finding``s: the
widget at fault and what is wrong, with the numbers. They measure what a person meets: widget
geometry in window coordinates, font metrics, the accessibility interfaces Qt hands to assistive
technology, real key events, and the rendered pixels. ``kiosk.ui.audit`` runs them on every
screen state; the tests run them on small widget trees with one defect each.
"""

from __future__ import annotations

import array
import functools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PySide6.QtCore import QLocale, QPoint, QRect, Qt
from PySide6.QtGui import QAccessible, QFontMetrics, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

#: The smallest target (WCAG 2.5.5-style, as the project's screens promise), in pixels.
MIN_TARGET_PX = 44
TEXT_CONTRAST = 4.5
BOUNDARY_CONTRAST = 3.0
#: Below this, nothing in a widget's area is taken for text (only the background's shading).
NO_INK_CONTRAST = 1.2
FOCUS_CONTRAST = 3.0
FOCUS_THICKNESS_PX = 2
#: How far around a control its focus indicator is looked for.
FOCUS_MARGIN_PX = 4
_INPUTS = (QAbstractButton, QLineEdit, QTextEdit, QPlainTextEdit, QComboBox, QAbstractSpinBox,
           QAbstractSlider)


@dataclass(frozen=True)
class Finding:
    """One defect: the widget (class and name) and what is wrong with it, numbers included."""

    widget: str
    problem: str


# -- the widget tree ----------------------------------------------------------------------------------


def describe(widget: QWidget) -> str:
    name = widget.objectName() or widget.accessibleName() or caption(widget)
    return f"{type(widget).__name__}({name})" if name else type(widget).__name__


def caption(widget: QWidget) -> str:
    """The visible caption of a button (mnemonic ampersands taken out), else ''."""
    if isinstance(widget, QAbstractButton):
        return widget.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
    return ""


def visible_widgets(root: QWidget) -> list[QWidget]:
    return [w for w in root.findChildren(QWidget) if w.isVisibleTo(root) and not w.isWindow()]


def is_control(widget: QWidget) -> bool:
    """Something a person operates: an input widget, or anything that takes the focus."""
    return isinstance(widget, _INPUTS) or widget.focusPolicy() != Qt.FocusPolicy.NoFocus


def is_text_label(widget: QWidget) -> bool:
    return isinstance(widget, QLabel) and bool(widget.text().strip())


def controls(root: QWidget) -> list[QWidget]:
    """The visible enabled controls under ``root``, in tree order."""
    return [w for w in visible_widgets(root) if is_control(w) and w.isEnabled()]


def window_rect(widget: QWidget) -> QRect:
    top = widget.window()
    return QRect(widget.mapTo(top, QPoint(0, 0)), widget.size())


def shown_rect(widget: QWidget) -> QRect:
    """The part of ``widget`` its ancestors let be seen (a scroll area's viewport clips its content),
    in window coordinates; siblings drawn over it are not taken off."""
    rect = window_rect(widget)
    parent = widget.parentWidget()
    while parent is not None and not widget.isWindow():
        rect = rect.intersected(window_rect(parent))
        widget, parent = parent, parent.parentWidget()
    return rect


def _related(a: QWidget, b: QWidget) -> bool:
    return a.isAncestorOf(b) or b.isAncestorOf(a)


def _in_scroll_content(widget: QWidget) -> bool:
    """The widget's parent is a scroll area's viewport: it may lie beyond it and be scrolled to."""
    parent = widget.parentWidget()
    area = parent.parentWidget() if parent is not None else None
    return isinstance(area, QAbstractScrollArea) and area.viewport() is parent


# -- a. overlap and clipping ----------------------------------------------------------------------------


def check_layout(root: QWidget) -> list[Finding]:
    """Controls and text labels that overlap, widgets outside their parent, text that does not fit."""
    findings: list[Finding] = []
    seen = visible_widgets(root)
    items = [(w, shown_rect(w)) for w in seen if is_control(w) or is_text_label(w)]
    for i, (a, ra) in enumerate(items):
        for b, rb in items[i + 1:]:
            if ra.intersects(rb) and not _related(a, b):
                common = ra.intersected(rb)
                findings.append(Finding(describe(a), f"overlaps {describe(b)} by "
                                                     f"{common.width()}×{common.height()} px"))
    for widget in seen:
        parent = widget.parentWidget()
        if parent is None or _in_scroll_content(widget):
            continue
        inside = QRect(QPoint(0, 0), parent.size())
        if not inside.contains(widget.geometry()):
            g = widget.geometry()
            findings.append(Finding(describe(widget), f"lies outside {describe(parent)}: "
                                    f"{g.x()},{g.y()} {g.width()}×{g.height()} in {parent.width()}×"
                                    f"{parent.height()}"))
        findings += _text_fit(widget)
    return findings


def _text_fit(widget: QWidget) -> list[Finding]:
    if is_text_label(widget):
        assert isinstance(widget, QLabel)
        return _label_fit(widget)
    text = caption(widget)
    if not text:
        return []
    metrics = QFontMetrics(widget.font())
    lines = text.split("\n")
    need_w = max(metrics.horizontalAdvance(line) for line in lines)
    findings = []
    if need_w > widget.width():
        findings.append(Finding(describe(widget), f"caption needs {need_w} px of width, the button is "
                                                  f"{widget.width()}"))
    if len(lines) > 1:
        need_h = metrics.height() * len(lines)
        top, bottom = (widget.height() - need_h) // 2, (widget.height() + need_h) // 2
    else:
        # One line is drawn centred on the font's height; its ink (descenders too) must be inside.
        baseline = (widget.height() - metrics.height()) // 2 + metrics.ascent()
        ink = metrics.tightBoundingRect(text)
        top, bottom = baseline + ink.top(), baseline + ink.bottom()
    if top < 0 or bottom >= widget.height():
        findings.append(Finding(describe(widget), f"caption drawn from y {top} to {bottom}, "
                                                  f"the button is {widget.height()} px high"))
    return findings


def _label_fit(label: QLabel) -> list[Finding]:
    from kiosk.ui.screenshots import _plain

    if label.wordWrap():
        need = label.heightForWidth(label.width())
        if need > label.height():
            return [Finding(describe(label), f"wrapped text needs {need} px of height, "
                                             f"has {label.height()}")]
        return []
    metrics = QFontMetrics(label.font())
    lines = _plain(label.text()).split("\n")
    room = label.contentsRect()
    need_w = max(metrics.horizontalAdvance(line) for line in lines)
    need_h = metrics.height() * len(lines)
    if need_w > room.width() or need_h > room.height():
        return [Finding(describe(label), f"text needs {need_w}×{need_h} px, "
                                         f"has {room.width()}×{room.height()}")]
    return []


# -- b. targets -------------------------------------------------------------------------------------------


def check_targets(root: QWidget) -> list[Finding]:
    least = MIN_TARGET_PX
    return [Finding(describe(w), f"target {w.width()}×{w.height()} px, less than {least}×{least}")
            for w in controls(root) if w.width() < least or w.height() < least]


# -- d. language for assistive technology ------------------------------------------------------------------


def accessible_locale(widget: QWidget) -> str:
    """The locale AT-SPI's GetLocale reports for ``widget``: the attributes interface's Locale, else
    the process's default locale (as Qt's adaptor falls back)."""
    interface = QAccessible.queryAccessibleInterface(widget)
    attributes = interface.attributesInterface() if interface is not None else None
    if attributes is not None:
        value = attributes.attributeValue(QAccessible.Attribute.Locale)
        if isinstance(value, QLocale):
            return value.name()
    return QLocale().name()


def check_locale(root: QWidget, page: QWidget, language: str) -> list[Finding]:
    """The application, the window, the page and each control and text tell AT the screen's language."""
    findings: list[Finding] = []
    application = QLocale().name()  # what AT-SPI's Application.GetLocale answers
    if not application.startswith(language):
        findings.append(Finding("application", f"locale {application}, not {language}"))
    targets = [root, page, *(w for w in visible_widgets(page) if is_control(w) or is_text_label(w))]
    for widget in targets:
        name = accessible_locale(widget)
        if not name.startswith(language):
            findings.append(Finding(describe(widget), f"locale {name}, not {language}"))
    return findings


# -- e. names -----------------------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def check_names(root: QWidget) -> list[Finding]:
    """Each control's accessible name contains its visible caption (WCAG 2.5.3)."""
    findings: list[Finding] = []
    for widget in controls(root):
        shown = _normal(caption(widget))
        if not shown:
            continue
        interface = QAccessible.queryAccessibleInterface(widget)
        name = interface.text(QAccessible.Text.Name) if interface is not None else ""
        if shown not in _normal(name):
            findings.append(Finding(describe(widget), f"name {name!r} lacks its caption {caption(widget)!r}"))
    return findings


# -- f. contrast from pixels ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def luminance(rgb: int) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel((rgb >> 16) & 255) + 0.7152 * channel((rgb >> 8) & 255)
            + 0.0722 * channel(rgb & 255))


def contrast(a: int, b: int) -> float:
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


class Pixels:
    """A rendered image's pixels as 0xAARRGGBB integers, read without a call into Qt per pixel."""

    def __init__(self, image: QImage) -> None:
        image = image.convertToFormat(QImage.Format.Format_RGB32)
        self.width, self.height = image.width(), image.height()
        self._stride = image.bytesPerLine() // 4
        # The alpha byte is left in: luminance() reads only the colour bytes.
        self._data = array.array("I", bytes(image.constBits()))

    def at(self, x: int, y: int) -> int | None:
        if 0 <= x < self.width and 0 <= y < self.height:
            return self._data[y * self._stride + x]
        return None

    def colours(self, rect: QRect) -> Counter[int]:
        r = rect.intersected(QRect(0, 0, self.width, self.height))
        counts: Counter[int] = Counter()
        for y in range(r.top(), r.bottom() + 1):
            row = y * self._stride
            counts.update(self._data[row + r.left():row + r.right() + 1])
        return counts


def text_contrast(pixels: Pixels, rect: QRect) -> float | None:
    """Text against its background in ``rect``: the commonest colour against the farthest from it."""
    counts = pixels.colours(rect)
    if len(counts) < 2:
        return None
    background = counts.most_common(1)[0][0]
    ratio = max(contrast(background, colour) for colour in counts)
    # Nothing stands out: no text is drawn here (cut off: the layout check says so), or none at all.
    return ratio if ratio >= NO_INK_CONTRAST else None


def boundary_contrast(pixels: Pixels, rect: QRect) -> float:
    """A control's edge against what lies just outside it, at the middle of each side (the lowest)."""
    mid_x, mid_y = rect.center().x(), rect.center().y()
    sides = [((mid_x, rect.top()), (0, 1)), ((mid_x, rect.bottom()), (0, -1)),
             ((rect.left(), mid_y), (1, 0)), ((rect.right(), mid_y), (-1, 0))]
    worst = 21.0
    for (x, y), (dx, dy) in sides:
        outside = pixels.at(x - 3 * dx, y - 3 * dy)
        if outside is None:
            continue
        edge = [pixels.at(x + k * dx, y + k * dy) for k in range(4)]
        worst = min(worst, max(contrast(outside, c) for c in edge if c is not None))
    return worst


def _visible_rect(widget: QWidget) -> QRect:
    region = widget.visibleRegion().boundingRect()
    return QRect(widget.mapTo(widget.window(), region.topLeft()), region.size())


def check_contrast(root: QWidget, pixels: Pixels) -> list[Finding]:
    """Text 4.5:1 on labels and buttons; the edge 3:1 on buttons and text fields (from the pixels)."""
    findings: list[Finding] = []
    for widget in visible_widgets(root):
        rect = _visible_rect(widget)
        if rect.isEmpty():
            continue
        if is_text_label(widget) or (caption(widget) and widget.isEnabled()):
            inner = rect.adjusted(3, 3, -3, -3) if isinstance(widget, QAbstractButton) else rect  # no edge
            ratio = text_contrast(pixels, inner)
            if ratio is not None and ratio < TEXT_CONTRAST:
                findings.append(Finding(describe(widget), f"text contrast {ratio:.2f}:1, less than 4.5:1"))
        if isinstance(widget, QAbstractButton | QLineEdit) and widget.isEnabled() \
                and rect == window_rect(widget):
            ratio = boundary_contrast(pixels, rect)
            if ratio < BOUNDARY_CONTRAST:
                findings.append(Finding(describe(widget), f"boundary contrast {ratio:.2f}:1, less than 3:1"))
    return findings


# -- c. keyboard and focus ---------------------------------------------------------------------------------


def _grab(window: QWidget, rect: QRect) -> Pixels:
    return Pixels(window.grab(rect).toImage())


def focus_indicator(unfocused: Pixels, focused: Pixels, margin: int = FOCUS_MARGIN_PX) -> tuple[int, float]:
    """(thickness, best contrast) of the focus indicator from two grabs of a control plus ``margin``.

    The indicator is the pixels that change by at least 3:1; across each side, at a quarter, half
    and three quarters of it, the longest run of them within ``margin`` + 8 px of the edge is
    measured; the thickness is the thinnest side's middle value (a ring must go all round)."""
    w, h = focused.width, focused.height
    band = margin + 8
    best = 1.0
    sides: list[int] = []
    for axis in ("top", "bottom", "left", "right"):
        runs = []
        for fraction in (0.25, 0.5, 0.75):
            if axis in ("top", "bottom"):
                x = int(w * fraction)
                ys = range(band) if axis == "top" else range(h - 1, h - 1 - band, -1)
                points = [(x, y) for y in ys]
            else:
                y = int(h * fraction)
                xs = range(band) if axis == "left" else range(w - 1, w - 1 - band, -1)
                points = [(x, y) for x in xs]
            run = longest = 0
            for x, y in points:
                a, b = focused.at(x, y), unfocused.at(x, y)
                ratio = contrast(a, b) if a is not None and b is not None else 1.0
                best = max(best, ratio)
                run = run + 1 if ratio >= FOCUS_CONTRAST else 0
                longest = max(longest, run)
            runs.append(longest)
        sides.append(sorted(runs)[1])
    return min(sides), best


def focus_stops(window: QWidget, limit: int) -> Iterator[QWidget]:
    """The focus widget, then each one Tab (a real key event to the focused widget) moves to."""
    for _ in range(limit):
        focused = QApplication.focusWidget()
        if focused is None:
            return
        yield focused
        QTest.keyClick(focused, Qt.Key.Key_Tab)
        QApplication.processEvents()


def check_keyboard(window: QWidget, page: QWidget, *, text_field_first: bool = False) -> list[Finding]:
    """Focus starts in the page (in a text field where one is to be typed in), Tab reaches every
    enabled control that takes the focus before cycling, and each stop shows a ring 2 px thick at 3:1."""
    findings: list[Finding] = []
    first = QApplication.focusWidget()
    if first is None or not (first is page or page.isAncestorOf(first)):
        where = describe(first) if first is not None else "nowhere"
        findings.append(Finding(describe(page), f"first focus is {where}, not in the screen"))
    elif text_field_first and not isinstance(first, QLineEdit | QTextEdit | QPlainTextEdit):
        findings.append(Finding(describe(page), f"first focus is {describe(first)}, not the text field"))
    # A key that never takes the focus (the on-screen keyboard's, beside a field typed in) is for touch.
    wanted = [w for w in controls(window) if w.focusPolicy() != Qt.FocusPolicy.NoFocus]
    hidden: set[int] = set()
    visited = _tab_walk(window, 2 * len(wanted) + 4, findings,
                        lambda: hidden.update(id(w) for w in wanted if not w.isVisibleTo(window)))
    reached = {_choice(w) for w in visited}
    # A control the walk itself hid (a keyboard turned to its digits as Tab reached the PIN field)
    # gave way to what Tab moved to.
    findings += [Finding(describe(w), "Tab never reaches it") for w in wanted
                 if w not in visited and id(w) not in hidden
                 and (_choice(w) is None or _choice(w) not in reached)]
    return findings


def _choice(widget: QWidget) -> tuple[str, int] | None:
    """The choice of one a button belongs to (an exclusive group): Tab stops at one of its buttons
    and the arrow keys move between them, as between radio buttons."""
    if not isinstance(widget, QAbstractButton) or not widget.isCheckable():
        return None
    group = widget.group()
    if group is not None and group.exclusive():
        return ("group", id(group))
    parent = widget.parentWidget()
    if widget.autoExclusive() and parent is not None:
        return ("parent", id(parent))
    return None


def _look(window: QWidget, widget: QWidget) -> Pixels | None:
    """The window's pixels around ``widget`` where it is now (a scroll area may have moved it), or
    None when part of it is out of sight."""
    if shown_rect(widget) != window_rect(widget):
        return None
    m = FOCUS_MARGIN_PX
    return _grab(window, window_rect(widget).adjusted(-m, -m, m, m).intersected(window.rect()))


def _tab_walk(window: QWidget, limit: int, findings: list[Finding],
              each_stop: Callable[[], None]) -> list[QWidget]:
    """Tab round the window; each stop's look focused against its look once Tab has left it.

    The first stop got its focus from the screen, not from a key, and a style may draw its ring only
    once the keyboard is in use; so it is measured again when Tab comes back round to it."""
    visited: list[QWidget] = []
    focused: dict[int, Pixels | None] = {}
    left_first: Pixels | None = None
    for stop in focus_stops(window, limit):
        each_stop()
        if visited and visited[-1] is not stop:  # Tab moved on: the last stop is unfocused now
            last = visited[-1]
            if last is visited[0]:
                left_first = _look(window, last)
            else:
                findings += _indicator_finding(last, focused[id(last)], _look(window, last))
        if stop in visited:
            break
        visited.append(stop)
        focused[id(stop)] = _look(window, stop)
        if focused[id(stop)] is None:
            findings.append(Finding(describe(stop), "has the focus but is not wholly in view"))
    if visited and left_first is not None:
        first = visited[0]
        look = focused[id(first)]
        if QApplication.focusWidget() is first:  # back round by Tab: its look now
            look = _look(window, first)
        findings += _indicator_finding(first, look, left_first)
    return visited


def _indicator_finding(widget: QWidget, focused: Pixels | None, unfocused: Pixels | None) -> list[Finding]:
    if focused is None or unfocused is None or (focused.width, focused.height) != (unfocused.width,
                                                                                    unfocused.height):
        return []  # out of sight in one of them (told when focused): nothing to compare
    thickness, best = focus_indicator(unfocused, focused)
    if thickness >= FOCUS_THICKNESS_PX:
        return []
    return [Finding(describe(widget), f"focus indicator {thickness} px thick at 3:1 (at least "
                                      f"{FOCUS_THICKNESS_PX}); the strongest change is {best:.2f}:1")]
