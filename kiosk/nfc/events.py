"""Reader and card events, shared by every backend and whoever listens, and the state they add up to."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum


class EventKind(Enum):
    CARD_INSERTED = "card_inserted"
    CARD_REMOVED = "card_removed"
    READER_ADDED = "reader_added"
    READER_REMOVED = "reader_removed"
    SERVICE_LOST = "service_lost"  # the PC/SC service stopped; the watcher keeps trying


@dataclass(frozen=True, slots=True)
class ReaderEvent:
    """Something changed on a reader. ``atr`` is set for an inserted card."""

    kind: EventKind
    reader: str
    atr: bytes = b""


class ReaderState:
    """Which readers are there and which one holds the card; read from worker threads too."""

    def __init__(self, wanted: str = "") -> None:
        self.wanted = wanted
        self._lock = threading.Lock()
        self._readers: set[str] = set()
        self._card: str | None = None
        self._lost = False

    def _relevant(self, reader: str) -> bool:
        return not self.wanted or reader == self.wanted

    @property
    def ready(self) -> bool:
        with self._lock:
            return any(self._relevant(r) for r in self._readers)

    @property
    def card_reader(self) -> str | None:
        with self._lock:
            return self._card

    def report(self) -> tuple[str, str | None]:
        """For the heartbeat: ``present`` with the reader's name, ``absent``, or ``error`` when the
        PC/SC service was lost and no reader has come back since."""
        with self._lock:
            if self._lost:
                return "error", self.wanted or None
            present = sorted(r for r in self._readers if self._relevant(r))
            if present:
                return "present", self._card if self._card in present else present[0]
            return "absent", self.wanted or None

    def update(self, event: ReaderEvent) -> bool:
        """Take in ``event``; whether it concerns the reader this kiosk uses."""
        with self._lock:
            if event.kind is EventKind.SERVICE_LOST:
                self._readers.clear()
                self._card = None
                self._lost = True
                return True
            self._lost = False
            if not self._relevant(event.reader):
                return False
            if event.kind is EventKind.READER_ADDED:
                self._readers.add(event.reader)
            elif event.kind is EventKind.READER_REMOVED:
                self._readers.discard(event.reader)
                if self._card == event.reader:
                    self._card = None
            elif event.kind is EventKind.CARD_INSERTED:
                self._readers.add(event.reader)
                if self._card is not None and self._card != event.reader:
                    return False  # a second card elsewhere: the one in use stays
                self._card = event.reader
            elif event.kind is EventKind.CARD_REMOVED:
                if self._card != event.reader:
                    return False
                self._card = None
            return True
