"""How long a wait has lasted and how long it may still last, on the screens that wait on someone.

The wait for a staff decision and the phone sign-in show the time waited since the clock came on
screen and, when the view says how long the wait may last (``View.wait_seconds``), the time left,
counted from when that became known. Both change each second while they can be seen, read from a
monotonic clock (``now``, replaceable in tests). A screen reader finds the current time in each
label's accessible name, in whole words; nothing is announced as it changes, since a voice every
second would drown everything else on the screen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QWidget

from kiosk.ui.translations import fill
from kiosk.ui.widgets import Translated, label, mm

#: The clock wakes at least this often (a clock that jumped is shown right within it).
MAX_WAKE_MS = 1000


class WaitClock(Translated):
    """"Waiting for 1 min 05 s" and, with a limit, "Time left: 3 min 20 s"."""

    def __init__(self, parent: QWidget | None = None, *, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.now = now
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(mm(8))
        self.waited = label()
        self.left = label()
        layout.addWidget(self.waited)
        layout.addWidget(self.left)
        layout.addStretch(1)
        self._shown_at: float | None = None
        self._limit: float | None = None
        self._limit_from = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._update)
        self._update()

    def set_limit(self, seconds: float | None) -> None:
        """How long the wait may last from now (None: no limit known); the same limit again keeps
        its count. Either way the words are set again (a screen renders after a language change)."""
        if seconds != self._limit:
            self._limit = seconds
            self._limit_from = self.now()
        self._update()

    @property
    def waited_seconds(self) -> int:
        """Whole seconds since the clock came on screen (0 while it is hidden)."""
        if self._shown_at is None:
            return 0
        return max(0, math.floor(self.now() - self._shown_at))

    @property
    def left_seconds(self) -> int | None:
        """Seconds left before the limit (rounded up, never below 0), or None without a limit."""
        if self._limit is None:
            return None
        return max(0, math.ceil(self._limit - (self.now() - self._limit_from)))

    def retranslate(self) -> None:
        self._update()

    def _update(self) -> None:
        waited, left = self.waited_seconds, self.left_seconds
        self.waited.setText(fill(self.tr("Waiting for %1"), self._short(waited)))
        self.waited.setAccessibleName(fill(self.tr("Waiting for %1"), self._spoken(waited)))
        self.left.setVisible(left is not None)
        if left is not None:
            self.left.setText(fill(self.tr("Time left: %1"), self._short(left)))
            self.left.setAccessibleName(fill(self.tr("Time left: %1"), self._spoken(left)))
        if self._shown_at is not None:
            self._timer.start(max(1, min(MAX_WAKE_MS, math.ceil(self._next_change() * 1000))))

    def _next_change(self) -> float:
        """Seconds until either number shown turns over."""
        now = self.now()
        assert self._shown_at is not None
        soonest = 1 - (now - self._shown_at) % 1
        if self._limit is not None:
            soonest = min(soonest, (self._limit - (now - self._limit_from)) % 1 or 1.0)
        return soonest

    def _short(self, seconds: int) -> str:
        minutes, rest = divmod(seconds, 60)
        if minutes == 0:
            return fill(self.tr("%1 s"), str(rest))
        return fill(self.tr("%1 min %2 s"), str(minutes), f"{rest:02d}")

    def _spoken(self, seconds: int) -> str:
        minutes, rest = divmod(seconds, 60)
        words = [self.tr("%n minutes", "", minutes)] if minutes else []
        if rest or not minutes:
            words.append(self.tr("%n seconds", "", rest))
        return " ".join(words)

    def showEvent(self, event: QShowEvent) -> None:
        self._shown_at = self.now()
        self._update()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        # The next wait starts afresh: its own time waited, and a limit its view sets again.
        self._timer.stop()
        self._shown_at = None
        self._limit = None
        self._update()
        super().hideEvent(event)
