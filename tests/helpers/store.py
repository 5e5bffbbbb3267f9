"""The kiosk store under test: a clock moved by hand, and outbox items made in one line."""

from __future__ import annotations

import datetime as dt
import hashlib

from kiosk.store import KioskStore, OutboxItem

T0 = dt.datetime(2030, 4, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def voucher_hash(voucher: str) -> str:
    return hashlib.sha256(voucher.encode()).hexdigest()


def add(store: KioskStore, key: str, kind: str = "password_reset") -> OutboxItem:
    return store.add_evidence(key, f"sealed-bundle-{key}", kind, "20******01", voucher_hash(f"V-{key}"))
