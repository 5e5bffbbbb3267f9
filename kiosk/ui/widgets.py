"""Touch widgets shared by the kiosk's screens: sizes and colours, big buttons, notices, the QR code and more.

Every control here is sized in millimetres of the real screen (at least 9 mm, the touch-target
floor), uses large type, carries an accessible name, and works from a physical keyboard too.
State is never shown by colour alone: a painted icon of a distinct shape and words go with it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import (
    QEvent,
    QPointF,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHideEvent,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPolygonF,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QWidget,
)

from kiosk.ui.sizes import (
    BODY_PT,
    KEY_PT,
    TITLE_PT,
    TOUCH_MM,
    make_font,
    mm,
    pixels_for_mm,
    size_text,
    target,
    text_scale,
)
from kiosk.ui.style import FOCUS_PX
from kiosk.ui.translations import FONT_FAMILY

# The sizes are used by every screen through this module as well.
__all__ = ["BODY_PT", "KEY_PT", "TITLE_PT", "TOUCH_MM", "make_font", "mm", "pixels_for_mm"]

#: Colours, each at least 7:1 against ``PAPER`` (WCAG AAA); see ``contrast_ratio``.
INK = "#000000"
PAPER = "#ffffff"
ALERT_INK = "#7a0000"
GOOD_INK = "#0b4a0b"
DISABLED_INK = "#595959"


# -- type and colour ------------------------------------------------------------------------

def label(points: int = BODY_PT, *, bold: bool = False, wrap: bool = True) -> QLabel:
    """A plain-text label in large type."""
    widget = QLabel()
    widget.setTextFormat(Qt.TextFormat.PlainText)
    size_text(widget, points, bold=bold)
    widget.setWordWrap(wrap)
    return widget


def _luminance(colour: str) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    c = QColor(colour)
    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast_ratio(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    a, b = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def high_contrast(widget: QWidget) -> None:
    """Black on white for ``widget`` and its children; disabled text stays above 7:1 as well."""
    palette = widget.palette()
    for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base, QPalette.ColorRole.Button):
        palette.setColor(role, QColor(PAPER))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(role, QColor(INK))
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(DISABLED_INK))
    # A field's hint ("Staff ID") is read before anything is typed: 7:1 as well.
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor(DISABLED_INK))
    widget.setPalette(palette)
    widget.setAutoFillBackground(True)


def _ink(widget: QWidget, colour: str) -> None:
    palette = widget.palette()
    palette.setColor(widget.foregroundRole(), QColor(colour))
    widget.setPalette(palette)


# -- translated widgets ----------------------------------------------------------


class Translated(QWidget):
    """A widget whose words follow the language: Qt tells it with a LanguageChange event."""

    def retranslate(self) -> None:
        """Set every text again in the current language."""

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


# -- buttons ---------------------------------------------------------------------------------------

class BigButton(QPushButton):
    """A push button for fingers: at least 9 mm each way, large type, named by its caption.

    Enter and Return press it when it has the focus (Qt only does Space), unless ``enter_clicks``
    is false: the PIN pad's and keyboard's keys leave Enter to their pad, which submits.
    A click also emits ``triggered(value)``, so a row of buttons can share one slot: connecting
    bound methods rather than lambdas that hold their screen keeps widget teardown orderly.
    """

    triggered = Signal(object)

    def __init__(self, text: str = "", parent: QWidget | None = None, *, points: int = BODY_PT,
                 min_mm: float = TOUCH_MM, enter_clicks: bool = True, value: object = None) -> None:
        super().__init__(parent)
        self._enter_clicks = enter_clicks
        self.value = value
        self.clicked.connect(self._trigger)
        self._spoken: str | None = None
        self._side = target(min_mm)
        self._floor = self._side
        self.setMinimumSize(self._side, self._side)
        size_text(self, points)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAutoDefault(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str, /) -> None:
        super().setText(text)
        self._update_name()
        self._fit_caption()

    def setMinimumWidth(self, width: int, /) -> None:
        self._floor = width
        self._fit_caption()

    def _fit_caption(self) -> None:
        # A layout may squeeze a button down to its minimum width: never below its caption.
        floor = max(getattr(self, "_floor", 0), getattr(self, "_side", 0))
        super().setMinimumWidth(max(floor, QPushButton.sizeHint(self).width()))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_caption()
        super().changeEvent(event)

    def _trigger(self) -> None:
        self.triggered.emit(self.value)

    def set_spoken_name(self, name: str | None) -> None:
        """What the key does, in words, for a screen reader (``None``: the caption says it all).

        The accessible name always holds the caption, so that someone using speech input can say
        what they see (WCAG 2.5.3): words that contain the caption ("digit 1" for "1") are the name;
        other words ("Delete the last digit" for "Back space") become the description, and the
        caption stays the name."""
        self._spoken = name
        self._update_name()

    def _update_name(self) -> None:
        caption = self.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        spoken = self._spoken or ""
        if not caption or caption.casefold() in spoken.casefold():
            name, description = spoken or caption, ""
        else:
            name, description = caption, spoken
        self.setAccessibleName(name)
        self.setAccessibleDescription(description)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._enter_clicks and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) \
                and not event.isAutoRepeat():
            if self.isEnabled():
                self.click()
            event.accept()
            return
        super().keyPressEvent(event)


class TranslatedGroup(QGroupBox):
    """A named group of controls (announced as a group) whose words follow the language."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFlat(True)

    def retranslate(self) -> None:
        """Set every text again in the current language."""

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class ChoiceButton(QRadioButton):
    """One choice of several, drawn as a button: announced as a radio button with its checked state.

    As large as a ``BigButton``; Enter and Return choose it too.
    """

    triggered = Signal(object)

    def __init__(self, text: str, value: object, *, points: int = BODY_PT) -> None:
        super().__init__(text)
        self.value = value
        side = target()
        self.setMinimumSize(side, side)
        size_text(self, points)
        self.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Minimum)  # never cut its words
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(text)
        self.clicked.connect(self._trigger)

    def _trigger(self) -> None:
        self.triggered.emit(self.value)

    def sizeHint(self) -> QSize:
        # Its words in bold (as when chosen) inside the style sheet's edge, ring and padding: the
        # radio button's own hint leaves those out, and the words would be cut.
        font = QFont(self.font())
        font.setBold(True)
        metrics = QFontMetrics(font)
        side = target()
        frame = 2 * (FOCUS_PX + 10)
        return QSize(max(side, metrics.horizontalAdvance(self.text()) + frame),
                     max(side, metrics.height() + frame // 2))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.isAutoRepeat():
            self.click()
            event.accept()
            return
        super().keyPressEvent(event)


class LanguageSwitch(TranslatedGroup):
    """The 日本語 / English choice every screen shows in a corner: a group of two choice buttons.

    Each language is named in itself, so these captions are never translated; the current one is
    checked (announced as such), bold and white on black, not only differently coloured.
    """

    chosen = Signal(str)

    LANGUAGES = (("ja", "日本語"), ("en", "English"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Minimum)  # never cut a name
        # One is checked at a time, set by ``set_language`` from the view. Each button stands in
        # its own box: Qt's Tab stops at only one of the radio buttons that share a parent, and
        # both must be reachable (each is still announced as a radio button).
        self.buttons: dict[str, ChoiceButton] = {}
        for code, name in self.LANGUAGES:
            button = ChoiceButton(name, code)
            if code == "ja":
                font = button.font()
                font.setFamilies([FONT_FAMILY])
                button.setFont(font)
            button.triggered.connect(self._chosen)
            self.buttons[code] = button
            box = QWidget()
            alone = QHBoxLayout(box)
            alone.setContentsMargins(0, 0, 0, 0)
            alone.addWidget(button)
            layout.addWidget(box)
        self.retranslate()

    def _chosen(self, code: object) -> None:
        self.set_language(str(code))
        self.chosen.emit(str(code))

    def set_language(self, code: str) -> None:
        for each, button in self.buttons.items():
            button.setChecked(each == code)
            font = button.font()
            font.setBold(each == code)
            button.setFont(font)

    def retranslate(self) -> None:
        self.setAccessibleName(self.tr("Language"))


class TextSizeToggle(BigButton):
    """"Larger text" beside the language choice: a toggle, checked (white on black) while text is large."""

    chosen = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setCheckable(True)
        self.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Minimum)  # never cut its words
        self.clicked.connect(self._chosen)
        self.retranslate()

    def _chosen(self, checked: bool) -> None:
        self.chosen.emit(checked)

    def set_large(self, large: bool) -> None:
        self.setChecked(large)

    def retranslate(self) -> None:
        self.setText(self.tr("Larger text"))
        self.set_spoken_name(None)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


# -- icons and notices -------------------------------------------------------------------------------

class StatusIcon(QWidget):
    """A painted icon whose shape carries the meaning: a tick, a cross, a warning triangle, an "i".

    Painted rather than taken from a font, so it looks the same whatever fonts are installed.
    It is decorative for screen readers: the words beside it say the same. It grows with the
    text beside it when the user asks for larger text.
    """

    KINDS = ("ok", "no", "warning", "info")

    def __init__(self, kind: str = "info", parent: QWidget | None = None, *, size_mm: float = 7.0) -> None:
        super().__init__(parent)
        self._kind = "info"
        self._size_mm = size_mm
        size_text(self, BODY_PT)  # follows the text scale, as the words beside it do
        self._fit()
        self.set_kind(kind)

    def _fit(self) -> None:
        side = mm(self._size_mm * text_scale())
        self.setFixedSize(side, side)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._fit()
        super().changeEvent(event)

    @property
    def kind(self) -> str:
        return self._kind

    def set_kind(self, kind: str) -> None:
        if kind not in self.KINDS:
            raise ValueError(kind)
        self._kind = kind
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = float(min(self.width(), self.height()))
        colour = QColor({"ok": GOOD_INK, "no": ALERT_INK, "warning": ALERT_INK}.get(self._kind, INK))
        pen = QPen(colour, max(2.0, side / 10))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        m = side * 0.12
        box = QRectF(m, m, side - 2 * m, side - 2 * m)
        if self._kind == "warning":
            painter.drawPolygon(QPolygonF([QPointF(side / 2, m), QPointF(side - m, side - m),
                                           QPointF(m, side - m)]))
            painter.drawLine(QPointF(side / 2, side * 0.38), QPointF(side / 2, side * 0.62))
            painter.drawPoint(QPointF(side / 2, side * 0.76))
        else:
            painter.drawEllipse(box)
            if self._kind == "ok":
                painter.drawPolyline(QPolygonF([QPointF(side * 0.3, side * 0.52),
                                                QPointF(side * 0.45, side * 0.67),
                                                QPointF(side * 0.72, side * 0.36)]))
            elif self._kind == "no":
                painter.drawLine(QPointF(side * 0.34, side * 0.34), QPointF(side * 0.66, side * 0.66))
                painter.drawLine(QPointF(side * 0.66, side * 0.34), QPointF(side * 0.34, side * 0.66))
            else:
                painter.drawPoint(QPointF(side / 2, side * 0.32))
                painter.drawLine(QPointF(side / 2, side * 0.46), QPointF(side / 2, side * 0.7))
        painter.end()


class Notice(QWidget):
    """An icon and a sentence: an error, a warning or a note. Hidden while it has nothing to say."""

    def __init__(self, kind: str = "info", parent: QWidget | None = None, *, points: int = BODY_PT) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.icon = StatusIcon(kind)
        self.text_label = label(points)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.text_label, 1)
        self.set_message("", kind)

    def text(self) -> str:
        return self.text_label.text()

    def set_message(self, text: str, kind: str | None = None) -> None:
        if kind is not None:
            self.icon.set_kind(kind)
            _ink(self.text_label, ALERT_INK if kind in ("no", "warning") else INK)
        self.text_label.setText(text)
        self.setAccessibleName(text)
        self.setVisible(bool(text))


class ReaderStatus(Translated):
    """Whether the card reader is connected and a card is on it, each as an icon and words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.reader_icon = StatusIcon("no")
        self.reader_label = label()
        self.card_icon = StatusIcon("no")
        self.card_label = label()
        layout.addWidget(self.reader_icon, 0, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.reader_label, 0, 1)
        layout.addWidget(self.card_icon, 1, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.card_label, 1, 1)
        layout.setColumnStretch(1, 1)
        self._reader_ready = False
        self._card_present = False
        self.retranslate()

    def set_status(self, reader_ready: bool, card_present: bool) -> None:
        self._reader_ready = reader_ready
        self._card_present = card_present
        self.retranslate()

    def retranslate(self) -> None:
        self.setAccessibleName(self.tr("Card reader status"))
        if self._reader_ready:
            self.reader_icon.set_kind("ok")
            self.reader_label.setText(self.tr("Card reader connected"))
        else:
            self.reader_icon.set_kind("warning")
            self.reader_label.setText(self.tr("No card reader found. Please call a staff member."))
        if self._card_present:
            self.card_icon.set_kind("ok")
            self.card_label.setText(self.tr("A card is on the reader"))
        else:
            self.card_icon.set_kind("info")
            self.card_label.setText(self.tr("No card on the reader"))
        self.reader_label.setAccessibleName(self.reader_label.text())
        self.card_label.setAccessibleName(self.card_label.text())


# -- waiting -----------------------------------------------------------------------------------------

class _Spinner(QWidget):
    """A ring of dots, one of them bold, that moves on each step."""

    DOTS = 8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        side = mm(10)
        self.setFixedSize(side, side)
        self.step = 0

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        side = float(min(self.width(), self.height()))
        centre = QPointF(side / 2, side / 2)
        radius = side * 0.38
        for i in range(self.DOTS):
            angle = 2 * math.pi * i / self.DOTS
            point = centre + QPointF(math.cos(angle) * radius, math.sin(angle) * radius)
            lit = i == self.step % self.DOTS
            painter.setBrush(QColor(INK if lit else "#767676"))
            dot = side * (0.11 if lit else 0.07)
            painter.drawEllipse(point, dot, dot)
        painter.end()


class BusyIndicator(Translated):
    """A moving ring beside a sentence saying what the kiosk is waiting for.

    The sentence carries the meaning, so a still screenshot or a screen reader loses nothing; the
    ring only shows that the kiosk is alive, and its timer runs only while it can be seen.
    """

    INTERVAL_MS = 125

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.spinner = _Spinner()
        self.text_label = label()
        layout.addWidget(self.spinner, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.text_label, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(self.INTERVAL_MS)
        self._timer.timeout.connect(self._advance)
        self._custom = text
        self.retranslate()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def text(self) -> str:
        return self.text_label.text()

    def set_text(self, text: str) -> None:
        """The sentence to show (empty: the general "Please wait")."""
        self._custom = text
        self.retranslate()

    def retranslate(self) -> None:
        text = self._custom or self.tr("Please wait…")
        self.text_label.setText(text)
        self.setAccessibleName(text)

    def _advance(self) -> None:
        self.spinner.step = (self.spinner.step + 1) % _Spinner.DOTS
        self.spinner.update()

    def showEvent(self, event: QShowEvent) -> None:
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)
