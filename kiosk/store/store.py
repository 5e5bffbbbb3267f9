"""The kiosk's durable store: offline counter, evidence outbox, audit chain, cache and retention.

One ``KioskStore`` wraps one SQLite file. Every method is one short transaction, committed (and,
with ``synchronous=FULL``, on disk) before it returns, so a crash or power cut right after a call
never loses what the call reported done. The object is safe to share between threads, and several
processes may open the same file: writers queue on SQLite's write lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, delete, func, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.clock import Clock, utc_now
from kiosk.store.audit import (
    GENESIS,
    AuditReport,
    canonical_details,
    check_entries,
    check_event,
    entry_hash,
)
from kiosk.store.db import Database, StoreError
from kiosk.store.models import (
    FATES,
    AuditCheckpoint,
    AuditRecord,
    CacheRecord,
    OfflineCounter,
    OutboxRecord,
    RosterMemberRecord,
    RosterRecord,
)

logger = logging.getLogger(__name__)

#: The longest error code kept for an attempt; codes are short, a longer text is cut, not refused.
MAX_ERROR_LENGTH = 64
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Rows per statement when a caller hands over many keys (SQLite limits bound parameters).
_CHUNK = 500
#: Audit entries read per query while checking the chain.
_CHECK_BATCH = 1000
#: The audit entry of an outbox item settled by the server's answer.
SYNCED_EVENT = "offline_evidence_synced"


class DuplicateEvidence(StoreError):
    """Evidence with this idempotency key (or this voucher) is already in the outbox."""

    def __init__(self, idempotency_key: str, what: str = "idempotency key") -> None:
        super().__init__(f"the outbox already holds evidence with this {what} ({idempotency_key!r})")
        self.idempotency_key = idempotency_key


@dataclass(frozen=True)
class OutboxItem:
    """One evidence bundle in the outbox, as staff and the drain see it."""

    idempotency_key: str
    kind: str
    account_hint: str
    voucher_hash: str
    created_at: dt.datetime
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime
    fate: str | None
    error_code: str | None
    evidence_id: str | None
    synced_at: dt.datetime | None
    #: When the voucher was shown to the user (None: never, or not yet).
    voucher_shown_at: dt.datetime | None
    #: The sealed bundle text; long, and of no use in a log line.
    sealed: str = field(repr=False)

    @classmethod
    def of(cls, record: OutboxRecord) -> OutboxItem:
        return cls(
            idempotency_key=record.idempotency_key, kind=record.kind, account_hint=record.account_hint,
            voucher_hash=record.voucher_hash, created_at=record.created_at, attempts=record.attempts,
            last_error=record.last_error, next_attempt_at=record.next_attempt_at, fate=record.fate,
            error_code=record.error_code, evidence_id=record.evidence_id, synced_at=record.synced_at,
            voucher_shown_at=record.voucher_shown_at, sealed=record.sealed,
        )


@dataclass(frozen=True)
class CacheEntry:
    """A cached value and when it was stored (so its age can be shown and judged)."""

    value: bytes
    stored_at: dt.datetime


@dataclass(frozen=True)
class RosterEntry:
    """A member of staff who may approve offline here, with the hash of their offline PIN."""

    staff_id: str
    display_name: str
    role: str
    offline_pin_hash: str = field(repr=False)


@dataclass(frozen=True)
class StoredRoster:
    """The staff roster as the server issued it (``issued_at``, its clock) and this kiosk stored it."""

    issued_at: dt.datetime
    stored_at: dt.datetime
    members: tuple[RosterEntry, ...]


@dataclass(frozen=True)
class PurgeReport:
    """What retention removed.

    ``audit_checkpoint`` is the sequence number the chain check now starts after (None while
    nothing was ever purged). ``audit_skipped`` says why old audit entries were kept although due:
    they do not verify, and removing them would destroy the evidence of tampering.
    """

    outbox_items: int
    audit_entries: int
    audit_checkpoint: int | None
    audit_skipped: str | None = None


class KioskStore:
    """The kiosk's SQLite store; opening it creates the folder and file and migrates the schema."""

    def __init__(self, path: Path, *, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        self._clock = clock
        # Owner-only when the store creates the folder itself; an existing folder is left as is.
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        database = Database(self.path)
        try:
            database.migrate()
        except BaseException:
            database.dispose()
            raise
        self._db: Database | None = database

    @classmethod
    def open(cls, path: Path, *, clock: Clock = utc_now) -> KioskStore:
        return cls(path, clock=clock)

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None

    def __enter__(self) -> KioskStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        """The underlying engine, for diagnostics; the store's methods are the way to change data."""
        return self._database().engine

    # The offline counter.

    def next_offline_counter(self) -> int:
        """The next value of the kiosk's offline counter, committed before it is returned.

        A value handed out is never handed out again, even if the caller crashes before using it:
        the server accepts each counter once and only going up, so a gap is harmless, a repeat not.
        """
        statement = (
            insert(OfflineCounter).values(id=1, value=1)
            .on_conflict_do_update(index_elements=[OfflineCounter.id],
                                   set_={"value": OfflineCounter.value + 1})
            .returning(OfflineCounter.value)
        )
        with self._write() as session:
            value = session.execute(statement).scalar_one()
        return value

    # The outbox.

    def add_evidence(self, idempotency_key: str, sealed: str, kind: str, account_hint: str,
                     voucher_hash: str) -> OutboxItem:
        """Put a sealed evidence bundle in the outbox; on disk when this returns.

        Raises ``DuplicateEvidence`` if the idempotency key (or the voucher hash) is already there.
        """
        _check_text("idempotency_key", idempotency_key, 128)
        _check_text("kind", kind, 32)
        _check_text("account_hint", account_hint, 64)
        if not isinstance(sealed, str) or not sealed:
            raise ValueError("sealed must be the non-empty sealed bundle text")
        voucher_hash = voucher_hash.lower() if isinstance(voucher_hash, str) else voucher_hash
        if not isinstance(voucher_hash, str) or not _HEX_SHA256.fullmatch(voucher_hash):
            # Also what stops the voucher itself from being stored by mistake.
            raise ValueError("voucher_hash must be the hex SHA-256 of the voucher")
        now = self._now()
        record = OutboxRecord(
            idempotency_key=idempotency_key, kind=kind, account_hint=account_hint,
            voucher_hash=voucher_hash, sealed=sealed, created_at=now, attempts=0,
            next_attempt_at=now,
        )
        try:
            with self._write() as session:
                # Under the write lock, so this check and the insert cannot be split by another writer.
                clash = session.execute(
                    select(OutboxRecord.idempotency_key, OutboxRecord.voucher_hash).where(
                        (OutboxRecord.idempotency_key == idempotency_key)
                        | (OutboxRecord.voucher_hash == voucher_hash))
                ).first()
                if clash is not None:
                    what = "idempotency key" if clash[0] == idempotency_key else "voucher hash"
                    raise DuplicateEvidence(idempotency_key, what)
                session.add(record)
                session.flush()
                item = OutboxItem.of(record)
        except IntegrityError as error:
            raise DuplicateEvidence(idempotency_key) from error
        return item

    def pending_evidence(self, limit: int = 50) -> list[OutboxItem]:
        """Items without a fate whose next attempt is due, oldest first."""
        now = self._now()
        with self._read() as session:
            records = session.scalars(
                select(OutboxRecord)
                .where(OutboxRecord.fate.is_(None), OutboxRecord.next_attempt_at <= now)
                .order_by(OutboxRecord.created_at, OutboxRecord.seq)
                .limit(_check_limit(limit))
            ).all()
            return [OutboxItem.of(record) for record in records]

    def record_attempt(self, keys: Sequence[str], error: str, retry_in: float) -> None:
        """Note a failed delivery of these items: one more attempt, its error code, the next try.

        Items that already have a fate, or are no longer in the outbox, are left alone.
        """
        keys = _check_keys(keys)
        if not isinstance(retry_in, int | float) or not math.isfinite(retry_in) or retry_in < 0:
            raise ValueError("retry_in is a number of seconds, zero or more")
        now = self._now()
        next_attempt = now + dt.timedelta(seconds=retry_in)
        with self._write() as session:
            for chunk in _chunks(keys):
                session.execute(
                    update(OutboxRecord)
                    .where(OutboxRecord.idempotency_key.in_(chunk), OutboxRecord.fate.is_(None))
                    .values(attempts=OutboxRecord.attempts + 1, last_error=str(error)[:MAX_ERROR_LENGTH],
                            next_attempt_at=next_attempt)
                )

    def record_fates(self, fates: Sequence[tuple[str, str, str | None, str | None]]) -> list[str]:
        """Record the server's answers: ``(idempotency_key, fate, error_code, evidence_id)``.

        The first fate recorded for an item stands: the same fate again changes nothing (a batch
        may be delivered twice), and a different one is logged and ignored, since the server
        gives each bundle exactly one fate. Each item settled here gets its audit entry
        (``offline_evidence_synced``) in the same transaction, so a crash can leave neither a fate
        without its entry nor an entry twice. Returns the keys settled by this call.
        """
        if isinstance(fates, str | bytes):
            raise TypeError("fates is a sequence of (key, fate, error_code, evidence_id) tuples")
        answers = list(fates)
        for key, fate, error_code, evidence_id in answers:
            _check_text("idempotency_key", key, 128)
            if fate not in FATES:
                raise ValueError(f"a fate is one of {FATES}, not {fate!r}")
            if error_code is not None:
                _check_text("error_code", error_code, 64)
            if evidence_id is not None:
                _check_text("evidence_id", evidence_id, 64)
        now = self._now()
        settled: list[str] = []
        with self._write() as session:
            for key, fate, error_code, evidence_id in answers:
                record = session.scalars(
                    select(OutboxRecord).where(OutboxRecord.idempotency_key == key)).one_or_none()
                if record is None:
                    logger.warning("a fate for evidence %s, which is not in the outbox", key)
                elif record.fate is None:
                    record.fate, record.error_code, record.evidence_id = fate, error_code, evidence_id
                    record.synced_at = now
                    _append_audit(session, now, SYNCED_EVENT, canonical_details(
                        {"item": key, "fate": fate, "code": error_code or "", "evidence": evidence_id}))
                    settled.append(key)
                elif record.fate != fate:
                    logger.warning("evidence %s was %s; ignoring a later %s", key, record.fate, fate)
        return settled

    def mark_voucher_shown(self, idempotency_key: str) -> None:
        """Note that the item's voucher is on the user's screen (the first time counts)."""
        _check_text("idempotency_key", idempotency_key, 128)
        now = self._now()
        with self._write() as session:
            session.execute(update(OutboxRecord).where(OutboxRecord.idempotency_key == idempotency_key,
                                                       OutboxRecord.voucher_shown_at.is_(None))
                            .values(voucher_shown_at=now))

    def make_due(self) -> int:
        """Make every item still waiting for a fate due now, backoff or not; how many there are."""
        now = self._now()
        with self._write() as session:
            return _rowcount(session.execute(
                update(OutboxRecord).where(OutboxRecord.fate.is_(None)).values(next_attempt_at=now)))

    def oldest_waiting(self) -> OutboxItem | None:
        """The oldest item still waiting for a fate."""
        with self._read() as session:
            record = session.scalars(
                select(OutboxRecord).where(OutboxRecord.fate.is_(None))
                .order_by(OutboxRecord.created_at, OutboxRecord.seq).limit(1)).first()
            return None if record is None else OutboxItem.of(record)

    def outbox_depth(self) -> int:
        """How many items still wait for a fate."""
        with self._read() as session:
            return session.execute(
                select(func.count()).select_from(OutboxRecord).where(OutboxRecord.fate.is_(None))
            ).scalar_one()

    def outbox_items(self, limit: int = 100) -> list[OutboxItem]:
        """The newest items, with or without a fate, for the staff view."""
        with self._read() as session:
            records = session.scalars(
                select(OutboxRecord).order_by(OutboxRecord.created_at.desc(), OutboxRecord.seq.desc())
                .limit(_check_limit(limit))
            ).all()
            return [OutboxItem.of(record) for record in records]

    def find_voucher(self, voucher_hash: str) -> OutboxItem | None:
        """The item a voucher belongs to, by the voucher's hex SHA-256."""
        with self._read() as session:
            record = session.scalars(
                select(OutboxRecord).where(OutboxRecord.voucher_hash == voucher_hash.lower())
            ).one_or_none()
            return None if record is None else OutboxItem.of(record)

    # The audit chain.

    def audit(self, event: str, /, **details: object) -> None:
        """Append an event to the hash chain, in its own transaction.

        Raises ``ValueError`` for a detail key that could carry a secret (``pin``, ``password``,
        ``certificate``, ``signature``, ``token``, ``voucher``, …), a value over 256 characters,
        or a value JSON cannot carry faithfully (bytes, NaN).
        """
        check_event(event)
        text = canonical_details(details)
        at = self._now()
        with self._write() as session:
            _append_audit(session, at, event, text)

    def check_audit(self) -> AuditReport:
        """Verify the chain from the retention checkpoint (or the start) to the newest entry."""
        with self._read() as session:
            checkpoint = session.get(AuditCheckpoint, 1)
            start = (checkpoint.seq, checkpoint.entry_hash) if checkpoint else (0, GENESIS)
            return check_entries(_stream_audit(session), after_seq=start[0], after_hash=start[1])

    # The cache.

    def put_cache(self, name: str, value: bytes) -> None:
        """Keep ``value`` under ``name``, replacing what was there."""
        _check_text("name", name, 64)
        if not isinstance(value, bytes):
            raise TypeError("a cached value is bytes")
        now = self._now()
        statement = insert(CacheRecord).values(name=name, value=value, stored_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[CacheRecord.name],
            set_={"value": statement.excluded.value, "stored_at": statement.excluded.stored_at})
        with self._write() as session:
            session.execute(statement)

    def get_cache(self, name: str) -> CacheEntry | None:
        with self._read() as session:
            record = session.get(CacheRecord, name)
            return None if record is None else CacheEntry(value=record.value, stored_at=record.stored_at)

    # The staff roster.

    def replace_roster(self, issued_at: dt.datetime, members: Sequence[RosterEntry]) -> None:
        """Keep this roster instead of the one held, in one transaction: a reader sees one or the other."""
        if issued_at.tzinfo is None:
            raise ValueError("the roster's issue time must be timezone-aware")
        if len({m.staff_id for m in members}) != len(members):
            raise ValueError("a staff ID appears twice in the roster")
        for member in members:
            _check_text("staff_id", member.staff_id, 64)
            _check_text("display_name", member.display_name, 200)
            _check_text("role", member.role, 16)
            _check_text("offline_pin_hash", member.offline_pin_hash, 200)
        now = self._now()
        with self._write() as session:
            session.execute(delete(RosterMemberRecord))
            session.execute(delete(RosterRecord))
            session.add(RosterRecord(id=1, issued_at=issued_at, stored_at=now))
            session.add_all(RosterMemberRecord(staff_id=m.staff_id, display_name=m.display_name, role=m.role,
                                               offline_pin_hash=m.offline_pin_hash) for m in members)

    def roster(self) -> StoredRoster | None:
        """The roster held, or None if the kiosk never received one."""
        with self._read() as session:
            head = session.get(RosterRecord, 1)
            if head is None:
                return None
            members = session.scalars(select(RosterMemberRecord).order_by(RosterMemberRecord.staff_id))
            return StoredRoster(head.issued_at, head.stored_at, tuple(
                RosterEntry(m.staff_id, m.display_name, m.role, m.offline_pin_hash) for m in members))

    # Retention.

    def purge(self, retention_days: int) -> PurgeReport:
        """Remove settled outbox items synced, and audit entries written, over N days ago.

        Items still waiting for a fate are never removed, however old. Audit entries go from the
        oldest up to the first one still within the period (so the rest stays one unbroken chain
        even if the clock once stepped back), and the last one removed becomes the checkpoint the
        chain check starts from.
        """
        if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 0:
            raise ValueError("retention_days is a whole number of days, zero or more")
        now = self._now()
        cutoff = now - dt.timedelta(days=retention_days)
        with self._write() as session:
            settled = _rowcount(session.execute(
                delete(OutboxRecord).where(OutboxRecord.fate.is_not(None), OutboxRecord.synced_at < cutoff)))
            removed, checkpoint_seq, skipped = _purge_audit(session, cutoff, now)
        if skipped:
            logger.warning("audit entries kept past retention: %s", skipped)
        return PurgeReport(outbox_items=settled, audit_entries=removed,
                           audit_checkpoint=checkpoint_seq, audit_skipped=skipped)

    # Plumbing.

    def _database(self) -> Database:
        if self._db is None:
            raise StoreError("the kiosk store is closed")
        return self._db

    def _write(self) -> AbstractContextManager[Session]:
        return self._database().write()

    def _read(self) -> AbstractContextManager[Session]:
        return self._database().read()

    def _now(self) -> dt.datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise StoreError("the store's clock must give timezone-aware times")
        return now.astimezone(dt.UTC)


def _append_audit(session: Session, at: dt.datetime, event: str, details: str) -> None:
    """Add the entry after the chain's head (or the retention checkpoint), in the caller's transaction."""
    head = session.execute(
        select(AuditRecord.seq, AuditRecord.entry_hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    if head is None:
        checkpoint = session.get(AuditCheckpoint, 1)
        seq, prev = (checkpoint.seq, checkpoint.entry_hash) if checkpoint else (0, GENESIS)
    else:
        seq, prev = head[0], head[1]
    seq += 1
    session.add(AuditRecord(seq=seq, at=at, event=event, details=details, prev_hash=prev,
                            entry_hash=entry_hash(prev, seq, at, event, details)))
    session.flush()


def _purge_audit(session: Session, cutoff: dt.datetime,
                 now: dt.datetime) -> tuple[int, int | None, str | None]:
    """Remove the due prefix of the chain and move the checkpoint: (removed, checkpoint, skipped)."""
    checkpoint = session.get(AuditCheckpoint, 1)
    current = checkpoint.seq if checkpoint else None
    first_kept = session.execute(
        select(func.min(AuditRecord.seq)).where(AuditRecord.at >= cutoff)).scalar_one()
    newest_due = select(func.max(AuditRecord.seq))
    if first_kept is not None:
        newest_due = newest_due.where(AuditRecord.seq < first_kept)
    last_due = session.execute(newest_due).scalar_one()
    if last_due is None:
        return 0, current, None
    due = session.scalars(
        select(AuditRecord).where(AuditRecord.seq <= last_due).order_by(AuditRecord.seq)).all()
    report = check_entries(due, after_seq=current or 0,
                           after_hash=checkpoint.entry_hash if checkpoint else GENESIS)
    if not report.ok:
        return 0, current, f"entry {report.broken_at}: {report.reason}"
    last = due[-1]
    if checkpoint is None:
        session.add(AuditCheckpoint(id=1, seq=last.seq, entry_hash=last.entry_hash, at=last.at,
                                    purged_at=now))
    else:
        checkpoint.seq, checkpoint.entry_hash, checkpoint.at = last.seq, last.entry_hash, last.at
        checkpoint.purged_at = now
    session.execute(delete(AuditRecord).where(AuditRecord.seq <= last_due))
    return len(due), last.seq, None


def _stream_audit(session: Session) -> Iterator[AuditRecord]:
    last: int | None = None
    while True:
        query = select(AuditRecord).order_by(AuditRecord.seq).limit(_CHECK_BATCH)
        if last is not None:
            query = query.where(AuditRecord.seq > last)
        rows = session.scalars(query).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def _check_text(name: str, value: object, longest: int) -> None:
    if not isinstance(value, str) or not value or len(value) > longest:
        raise ValueError(f"{name} must be text of 1 to {longest} characters")


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError("limit is a whole number, one or more")
    return limit


def _check_keys(keys: Sequence[str]) -> list[str]:
    # A lone string is a Sequence[str] too, and would be taken one character at a time.
    if isinstance(keys, str | bytes):
        raise TypeError("keys is a sequence of idempotency keys, not one key")
    checked = list(keys)
    for key in checked:
        _check_text("idempotency_key", key, 128)
    return checked


def _chunks(keys: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start:start + _CHUNK]


def _rowcount(result: Result[Any]) -> int:
    # A DML statement's result is a cursor result; the ORM's signature only promises a Result.
    return cast("CursorResult[Any]", result).rowcount
