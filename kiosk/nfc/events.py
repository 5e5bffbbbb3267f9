"""Reader and card events, shared by every backend and by whoever listens to them."""

from __future__ import annotations

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
