"""Offline evidence: sealed into the durable outbox with a one-time voucher, and sent when the server is back.

Recording evidence changes no account: it writes the sealed bundle (verification, requested
operation, staff approval) to the kiosk's store before the voucher is shown, keeping only the
voucher's hash. The sync worker drains the outbox in the background with backoff, and records
each item's fate as the server gives it; an item is sent under the same idempotency key every
time, so a sync interrupted at any point is simply repeated. The tests kill it at each of its
crash points (``kiosk.crashpoints``, test only) to prove it.

Whoever shows the voucher says so (``OfflineOutbox.voucher_shown``), and the store keeps when. An
item whose voucher was never shown (the kiosk stopped in between) is sent with
``voucher_shown: false``, so the server's record says that nobody holds its voucher; one still on
its way to the screen in this process is sent without saying.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.clock import utc_now
from kiosk.crashpoints import crash_point
from kiosk.linkage import LinkageClient, LinkageCode, LinkageError, ServerRefused, ServerUnreachable
from kiosk.offline import OFFLINE_OPERATIONS
from kiosk.services.errors import OutboxError, ServiceCode
from kiosk.services.verification import VerificationResult
from kiosk.store import KioskStore

logger = logging.getLogger(__name__)

SEALING_KEY_CACHE = "server.sealing_key"


def age_words(age: dt.timedelta) -> str:
    """An item's age for a person: seconds, minutes, hours or days."""
    seconds = max(0.0, age.total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@dataclass(frozen=True)
class Voucher:
    """What the user takes away: the code (shown once, never stored) and the outbox item's key."""

    code: str
    idempotency_key: str
    kind: str


def remember_sealing_key(store: KioskStore, linkage: LinkageClient) -> dict[str, Any]:
    """Fetch the server's sealing key while online and keep it for offline use."""
    return keep_sealing_key(store, linkage.server_info().sealing_key)


def keep_sealing_key(store: KioskStore, key: Mapping[str, object]) -> dict[str, Any]:
    kept = dict(key)
    store.put_cache(SEALING_KEY_CACHE, json.dumps(kept, sort_keys=True).encode("utf-8"))
    return kept


class OfflineOutbox:
    """Seals offline evidence to the server's key and writes it to the store."""

    def __init__(self, store: KioskStore, kiosk_id: str, device_key_pem: bytes) -> None:
        self._store = store
        self.kiosk_id = kiosk_id
        self._device_key_pem = device_key_pem
        #: Items recorded by this process whose voucher is on its way to the screen.
        self._showing: set[str] = set()
        self._lock = threading.Lock()
        #: Called once a voucher was shown (the sync worker's wake, so the item goes out at once).
        self.on_shown: Callable[[], None] | None = None

    def voucher_shown(self, idempotency_key: str) -> None:
        """The voucher of this item is on the user's screen (or printed): note it in the store."""
        self._store.mark_voucher_shown(idempotency_key)
        with self._lock:
            self._showing.discard(idempotency_key)
        if self.on_shown is not None:
            self.on_shown()

    def being_shown(self) -> frozenset[str]:
        """Items recorded by this process whose voucher has not been shown yet, but may still be."""
        with self._lock:
            return frozenset(self._showing)

    def sealing_key(self) -> Mapping[str, object]:
        cached = self._store.get_cache(SEALING_KEY_CACHE)
        if cached is None:
            raise OutboxError(ServiceCode.OFFLINE_NO_SERVER_KEY,
                              "the kiosk has never reached the server, so it cannot seal evidence for it")
        key: dict[str, object] = json.loads(cached.value)
        return key

    def record(self, kind: str, result: VerificationResult, staff_id: str, approved_at: int,
               params: Mapping[str, Any] | None = None) -> Voucher:
        """Seal the evidence, make it durable, and only then hand out the voucher."""
        from kiosk.offline.evidence import Evidence, new_voucher, seal, voucher_hash

        if kind not in OFFLINE_OPERATIONS:
            raise OutboxError(ServiceCode.OFFLINE_NOT_FOR_OPERATION, f"{kind} cannot be done while offline")
        proof = result.offline
        if proof is None:
            raise OutboxError(ServiceCode.OFFLINE_NO_PROOF, "no offline verification to record")
        code = new_voucher()
        evidence = Evidence(
            kiosk_id=self.kiosk_id, counter=proof.counter, issued_at=proof.issued_at,
            challenge=proof.challenge, account_id=result.account_id, operation=kind,
            params=dict(params or {}), certificate=proof.certificate, signature=proof.signature,
            staff_id=staff_id, staff_approved_at=approved_at, voucher_hash=voucher_hash(code),
        )
        sealed = seal(evidence, self._device_key_pem, self.sealing_key())
        key = f"{self.kiosk_id}-{proof.counter}-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self._showing.add(key)
        self._store.add_evidence(key, sealed, kind, result.masked_account, voucher_hash(code))
        self._store.audit("offline_evidence_recorded", kind=kind, account=result.masked_account,
                          counter=proof.counter, staff=staff_id)
        return Voucher(code, key, kind)


class SyncWorker:
    """Drains the outbox in the background: at an interval, at once when woken, with backoff on failure."""

    def __init__(self, store: KioskStore, linkage: LinkageClient, *, interval: float = 30.0,
                 max_backoff: float = 900.0, on_change: Callable[[], None] | None = None,
                 being_shown: Callable[[], Collection[str]] = frozenset,
                 clock: Callable[[], dt.datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock
        #: When a sync last sent everything that was due (None: not since the kiosk started).
        self.last_success: dt.datetime | None = None
        self._linkage = linkage
        self._being_shown = being_shown
        self.interval = interval
        self.max_backoff = max_backoff
        self.on_change = on_change
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failures = 0
        self._thread = threading.Thread(target=self._run, name="outbox-sync", daemon=True)

    def start(self) -> SyncWorker:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.interval
            try:
                if self.sync_once():
                    self._failures = 0
            except ServerUnreachable:
                self._failures += 1
                delay = min(self.max_backoff, self.interval * 2 ** min(self._failures, 16))
            except Exception:  # never let the worker die; the next round tries again
                logger.exception("outbox sync failed")
                self._failures += 1
                delay = min(self.max_backoff, self.interval * 2 ** min(self._failures, 16))
            self._wake.wait(delay)
            self._wake.clear()

    def sync_once(self, batch: int = 50) -> int:
        """Send what is due; returns how many items got a fate. ServerUnreachable propagates."""
        done = 0
        while True:
            items = self._store.pending_evidence(batch)
            if not items:
                self.last_success = self._clock()
                return done
            keys = [item.idempotency_key for item in items]
            on_the_way = self._being_shown()
            shown = {item.idempotency_key: item.voucher_shown_at is not None for item in items
                     if item.idempotency_key not in on_the_way}
            crash_point("outbox.before_upload")
            try:
                fates = self._linkage.upload_evidence([(item.idempotency_key, item.sealed) for item in items],
                                                      voucher_shown=shown)
            except ServerUnreachable:
                self._store.record_attempt(keys, LinkageCode.SERVER_UNREACHABLE, self._retry_in())
                raise
            except (ServerRefused, LinkageError) as exc:
                self._store.record_attempt(keys, exc.code, self._retry_in())
                return done
            crash_point("outbox.after_upload")
            final = [f for f in fates if f.fate != "retry"]
            again = [f for f in fates if f.fate == "retry"]
            if again:
                self._store.record_attempt([f.idempotency_key for f in again],
                                           again[0].error_code or "retry", self._retry_in())
            # Each fate and its audit entry in one transaction.
            self._store.record_fates([(f.idempotency_key, f.fate, f.error_code, f.evidence_id)
                                      for f in final])
            crash_point("outbox.after_record")
            done += len(final)
            if self.on_change is not None:
                self.on_change()
            if len(items) < batch:
                self.last_success = self._clock()
                return done

    def sync_now(self) -> None:
        """Send every waiting item now, backoff or not (a sync by hand); a server that cannot be
        reached is noted on each item, as the background sync does."""
        self._store.make_due()
        with contextlib.suppress(ServerUnreachable):
            self.sync_once()

    def _retry_in(self) -> float:
        return float(min(self.max_backoff, self.interval * 2 ** min(self._failures + 1, 16)))
