"""The kiosk's own durable store (SQLite in WAL mode): offline outbox, audit chain, counter, cache,
staff roster.

Qt-free and independent of the card layer and the linkage client; the services build one
``KioskStore`` and hand it to whoever needs it.
"""

from __future__ import annotations

from kiosk.store.audit import AuditReport
from kiosk.store.db import StoreError
from kiosk.store.store import (
    CacheEntry,
    DuplicateEvidence,
    KioskStore,
    OutboxItem,
    PurgeReport,
    RosterEntry,
    StoredRoster,
)

__all__ = [
    "AuditReport",
    "CacheEntry",
    "DuplicateEvidence",
    "KioskStore",
    "OutboxItem",
    "PurgeReport",
    "RosterEntry",
    "StoreError",
    "StoredRoster",
]
