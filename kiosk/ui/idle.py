"""The warning before the idle timeout wipes a session (WCAG 2.2.1): a countdown and "More time".

The window wipes the session when nobody has touched the kiosk for its idle allowance (its own
timer does that). Shortly before, ``lead_seconds`` ahead (20 s, or half of a shorter allowance),
this panel covers the screen inside the window: a title, a sentence that counts the seconds down,
and a large "More time" button that gives the whole allowance again. Any touch or key does the
same, as it always restarts the window's clock.

The countdown is read from a monotonic clock (``clock``, replaceable in tests) against the
deadline set by ``arm``; a timer only wakes the panel when the number shown may change. When the
panel shows, the focus moves to its button and assistive technology is told (an alert and an
announcement); when it hides, the focus goes back where it was.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAccessible,
    QAccessibleAnnouncementEvent,
    QAccessibleEvent,
    QAccessibleInterface,
    QColor,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import QAccessibleWidget, QApplication, QFrame, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.ui.widgets import BODY_PT, TITLE_PT, BigButton, StatusIcon, Translated, high_contrast, label, mm

#: How long before the wipe the warning shows, for allowances of twice this or more.
WARNING_SECONDS = 20.0
#: The button's height: as large as the screens' bottom-row buttons.
BUTTON_MM = 14.0
#: The panel's width, unless the window is narrower.
PANEL_MM = 190.0
#: The panel wakes at least this often (a clock that jumped is noticed within it).
MAX_WAKE_MS = 1000
#: The backdrop that dims the screen beneath (black at about 60 %).
BACKDROP = QColor(0, 0, 0, 150)


def lead_seconds(allowance: float) -> float:
    """How long before the end of ``allowance`` the warning shows: 20 s, or half a shorter one."""
    return min(WARNING_SECONDS, allowance / 2)


class _AlertPanel(QFrame):
    """The warning's white panel; assistive technology is told its role is an alert."""


class _AlertAccess(QAccessibleWidget):
    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget, QAccessible.Role.AlertMessage)


def _alert_factory(_key: str, obj: QObject) -> QAccessibleInterface | None:
    return _AlertAccess(obj) if isinstance(obj, _AlertPanel) else None


_factory_installed = False


def _install_alert_role() -> None:
    # Qt asks each factory once per object; this one answers only for the warning's panel.
    global _factory_installed
    if not _factory_installed:
        QAccessible.installFactory(_alert_factory)
        _factory_installed = True


class IdleWarning(Translated):
    """The countdown over the window's screen before an idle wipe.

    ``arm(allowance)`` starts (or restarts) the count to the wipe, ``disarm()`` ends it; either
    hides the warning. ``more_time`` is emitted when the button is pressed: the window then gives
    the whole allowance again (and arms the warning anew).
    """

    #: The warning appeared (the seconds it shows).
    appeared = Signal(int)
    #: The countdown shows a new number of seconds (also emitted when it appears).
    counted = Signal(int)
    #: The warning was hidden (more time, other input, or the session ended).
    dismissed = Signal()
    #: The person asked for more time.
    more_time = Signal()

    def __init__(self, parent: QWidget, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        _install_alert_role()
        self._window = parent
        self.clock = clock
        self._deadline: float | None = None
        self._lead = 0.0
        self._seconds: int | None = None
        self._previous_focus: QWidget | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._wake)
        self.panel = _AlertPanel()
        high_contrast(self.panel)
        self.panel.setFrameShape(QFrame.Shape.Box)
        self.panel.setLineWidth(3)
        inner = QVBoxLayout(self.panel)
        inner.setContentsMargins(mm(8), mm(6), mm(8), mm(6))
        inner.setSpacing(mm(4))
        self.icon = StatusIcon("warning", size_mm=12)
        self.title = label(TITLE_PT, bold=True)
        self.countdown = label(BODY_PT)
        self.hint = label(BODY_PT)
        self.button = BigButton(min_mm=BUTTON_MM)
        self.button.clicked.connect(self._more_time)
        inner.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignHCenter)
        for widget in (self.title, self.countdown, self.hint, self.button):
            inner.addWidget(widget)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.panel)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)
        parent.installEventFilter(self)
        self._fit()
        self.hide()
        self.retranslate()

    # -- the count ------------------------------------------------------------------------------

    @property
    def seconds(self) -> int | None:
        """The seconds the warning shows, or None while it is hidden."""
        return None if self.isHidden() else self._seconds

    @property
    def armed(self) -> bool:
        return self._deadline is not None

    def arm(self, allowance: float) -> None:
        """Count ``allowance`` seconds from now to the wipe; the warning hides until it is due."""
        self._deadline = self.clock() + allowance
        self._lead = lead_seconds(allowance)
        self._dismiss()
        self._wake()

    def disarm(self) -> None:
        """No wipe is coming (a busy view, the start screen, the session ended): no warning."""
        self._deadline = None
        self._timer.stop()
        self._dismiss()

    def _wake(self) -> None:
        if self._deadline is None:
            return
        remaining = self._deadline - self.clock()
        if remaining > self._lead:
            self._sleep(remaining - self._lead)
            return
        seconds = max(1, math.ceil(remaining))
        if self.isHidden():  # hidden by its own choice, whether or not the window is on show
            self._present(seconds)
        elif seconds != self._seconds:
            self._show_seconds(seconds)
        if remaining > 0:  # at the deadline the window's own timer wipes the session
            self._sleep(remaining - (seconds - 1))

    def _sleep(self, seconds: float) -> None:
        self._timer.start(max(1, min(MAX_WAKE_MS, math.ceil(seconds * 1000))))

    def _show_seconds(self, seconds: int) -> None:
        self._seconds = seconds
        self._count_text()
        self.counted.emit(seconds)

    def _count_text(self) -> None:
        self.countdown.setText(self.tr("The screen will be cleared in %n seconds for your privacy.",
                                       "", self._seconds or 0))

    # -- showing and hiding -----------------------------------------------------------------------

    def _present(self, seconds: int) -> None:
        focus = QApplication.focusWidget()
        inside = focus is not None and self._window.isAncestorOf(focus) and not self.isAncestorOf(focus)
        self._previous_focus = focus if inside else None
        self._show_seconds(seconds)
        self._fit()
        self.raise_()
        self.show()
        self.button.setFocus(Qt.FocusReason.OtherFocusReason)
        self._announce()
        self.appeared.emit(seconds)

    def _announce(self) -> None:
        """Tell assistive technology once: an alert, and the words to speak at once."""
        QAccessible.updateAccessibility(QAccessibleEvent(self.panel, QAccessible.Event.Alert))
        announcement = QAccessibleAnnouncementEvent(self.panel,
                                                    f"{self.title.text()} {self.countdown.text()}")
        announcement.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive)
        QAccessible.updateAccessibility(announcement)

    def _dismiss(self) -> None:
        if self.isHidden():
            return
        self.hide()
        previous, self._previous_focus = self._previous_focus, None
        # Back to where the person was, if that is still on show (not after the screen changed).
        if previous is not None and shiboken6.isValid(previous) and previous.isVisible():
            previous.setFocus(Qt.FocusReason.OtherFocusReason)
        self.dismissed.emit()

    def _more_time(self) -> None:
        self.more_time.emit()

    def show_for_screenshot(self, seconds: int) -> None:
        """Show the warning with ``seconds`` on it, with no count running (``kiosk screenshots``)."""
        self.disarm()
        self._present(seconds)

    # -- words, size, backdrop --------------------------------------------------------------------

    def retranslate(self) -> None:
        self.title.setText(self.tr("Do you need more time?"))
        self.hint.setText(self.tr("To go on, touch More time. What you have entered is kept."))
        self.button.setText(self.tr("More time"))
        self.panel.setAccessibleName(self.title.text())
        self.panel.setAccessibleDescription(self.hint.text())
        if self._seconds is not None:
            self._count_text()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Resize:
            self._fit()
        return super().eventFilter(watched, event)

    def _fit(self) -> None:
        # A fixed width, so that the wrapped sentences take the height they need.
        self.setGeometry(self._window.rect())
        self.panel.setFixedWidth(max(mm(60), min(mm(PANEL_MM), self._window.width() - mm(16))))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKDROP)
        painter.end()
