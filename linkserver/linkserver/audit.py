"""The hash-chained audit log: every decision, in order, each entry sealing the one before.

An entry's hash covers its sequence number, time, event, parties and details, and the previous
entry's hash, so removing, reordering or editing any entry breaks the chain from there on. The
hash is an HMAC-SHA-256 under the audit key, a secret kept outside the database
(``secrets.audit_key_file``): whoever can write the database but lacks the key cannot recompute
the chain after an edit. Cutting the chain's end short leaves a shorter chain that is still
whole; the signed checkpoints outside the database (``linkserver.anchor``) catch that.

The log records events, never secrets: callers pass identifiers and codes, not PINs, passwords,
tokens or whole certificates (``SECRET_KEYS`` are refused outright).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from joserfc.jwk import ECKey
from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session, SessionTransaction

from linkserver.db import DriverStatement, UnitOfWork, on_driver, on_driver_many
from linkserver.models import AuditEntry

GENESIS = "0" * 64
#: Detail keys that would put a secret in the log; an entry carrying one is a programming error.
SECRET_KEYS = frozenset({
    "pin", "password", "new_password", "token", "access_token", "client_assertion", "device_code",
    "enrolment_code", "enrolment_uri", "ticket", "voucher", "secret", "certificate", "signature",
})


#: Where a session finds the audit key (``Session.info``), and the checkpoints its commit writes.
ANCHOR_INFO = "linkserver.audit_anchor"
PENDING_INFO = "linkserver.audit_checkpoints"
#: The entries a transaction has appended and its commit will chain (``Session.info``).
QUEUE_INFO = "linkserver.audit_queue"
MIN_KEY_BYTES = 32
#: Where a statement that locked and read the chain's head itself (``hotpath.CLAIM_AND_RECORD``,
#: ``hotpath.RECORD``) leaves it for ``seal`` (``Session.info``).
HEAD_INFO = "linkserver.audit_head"
#: The chain's head (``models.AuditHead``): read under SQLite's write lock, locked on PostgreSQL.
HEAD = text("SELECT seq, entry_hash FROM audit_head WHERE id = 1")
LOCK_HEAD = DriverStatement(text("SELECT seq, entry_hash FROM audit_head WHERE id = 1 FOR UPDATE"))
MOVE_HEAD = text("UPDATE audit_head SET seq = :seq, entry_hash = :entry_hash WHERE id = 1")
#: The columns an entry is stored with.
COLUMNS = ("seq", "at", "event", "client_id", "account_id", "details", "prev_hash", "entry_hash")
ADD_ENTRIES = insert(AuditEntry)  # built once: every transaction that audits runs it
#: On PostgreSQL, run through psycopg itself (``db.on_driver``) as every pair's verification
#: runs them: an entry, and the last entry with the head moved to it, in one round trip.
_ADD = (f"INSERT INTO audit_log ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join(':' + column for column in COLUMNS)})")
ADD_ON_DRIVER = DriverStatement(text(_ADD))
ADD_LAST_ON_DRIVER = DriverStatement(text(f"WITH added AS ({_ADD}) {MOVE_HEAD.text}"))
NO_HEAD = "the audit chain has no head (the row of audit_head is gone): nothing may be audited"


@dataclass(frozen=True)
class AuditAnchor:
    """What ties the chain to secrets outside the database: the HMAC key, and the checkpoints
    (every ``every`` entries, signed with the server's token-signing key) with their file."""

    key: bytes = field(repr=False)
    checkpoint_file: Path | None = None
    every: int = 1000
    signing_key: ECKey | None = field(default=None, repr=False)


@dataclass(slots=True)
class QueuedEntry:
    """An entry a transaction appended; ``seal`` numbers and hashes it as the transaction commits
    and stores it as a row of ``audit_log`` (``AuditEntry``). A plain record, not a mapped object:
    nothing reads it back through the session, and a mapped one costs ten times as much to make."""

    at: dt.datetime
    event: str
    client_id: str | None
    account_id: str | None
    details: str
    seq: int | None = None
    prev_hash: str | None = None
    entry_hash: str | None = None


def entry_payload(prev_hash: str, seq: int, at: dt.datetime, event: str, client_id: str | None,
                  account_id: str | None, details: str) -> bytes:
    """The bytes an entry's hash covers."""
    return json.dumps(
        [prev_hash, seq, at.astimezone(dt.UTC).isoformat(timespec="microseconds"), event,
         client_id, account_id, details],
        ensure_ascii=False, separators=(",", ":"),
    ).encode("utf-8")


def entry_hash(key: bytes, prev_hash: str, seq: int, at: dt.datetime, event: str, client_id: str | None,
               account_id: str | None, details: str) -> str:
    payload = entry_payload(prev_hash, seq, at, event, client_id, account_id, details)
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def anchor_of(session: UnitOfWork) -> AuditAnchor:
    anchor = session.info.get(ANCHOR_INFO)
    if not isinstance(anchor, AuditAnchor):
        raise RuntimeError("this database has no audit key (secrets.audit_key_file): nothing may be audited")
    return anchor


def append(session: UnitOfWork, event: str, *, client_id: str | None = None,
           account_id: str | None = None, details: Mapping[str, object] | None = None,
           at: dt.datetime | None = None) -> QueuedEntry:
    """Queue one entry for the chain; the caller's transaction chains it when it commits.

    The entry is numbered and hashed (its ``seq``, ``prev_hash`` and ``entry_hash`` set) by
    ``seal``, which runs just before the commit: the audit lock is the last lock a transaction
    takes, so no transaction holding it ever waits for a row another one holds.
    """
    details = dict(details or {})
    leaked = SECRET_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details may not carry {sorted(leaked)}")
    anchor_of(session)
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    text = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    entry = QueuedEntry(at=at, event=event, client_id=client_id, account_id=account_id, details=text)
    # Noted with the savepoint it was queued in, so that rolling the savepoint back drops it.
    session.info.setdefault(QUEUE_INFO, []).append((entry, session.get_nested_transaction()))
    return entry


def head_locked(session: UnitOfWork, seq: int | None, entry_hash: str | None) -> None:
    """Note the chain's head as a statement of ``session``'s locked and read it (None: no row)."""
    session.info[HEAD_INFO] = (seq, entry_hash)


def locked_head(session: UnitOfWork) -> tuple[int, str]:
    """The chain's head, held for the rest of this transaction: as a statement of the
    transaction locked and read it, else locked and read now (SQLite's write lock already holds
    it)."""
    noted = session.info.pop(HEAD_INFO, None)
    if noted is not None and noted[0] is not None:
        return noted[0], noted[1]
    connection = session.connection()
    head = on_driver(session, LOCK_HEAD, {}) if connection.dialect.name == "postgresql" else \
        connection.execute(HEAD).first()
    if head is None:
        raise RuntimeError(NO_HEAD)
    return head[0], head[1]


def seal(session: UnitOfWork) -> None:
    """Chain the queued entries in order: flush every other change first (taking its row locks),
    then lock and read the head, add the entries after it and move the head to the last."""
    if session.get_nested_transaction() is not None:
        return  # a savepoint's commit: the entries wait for the transaction's own
    queued: list[tuple[QueuedEntry, SessionTransaction | None]] = session.info.pop(QUEUE_INFO, [])
    if not queued:
        session.info.pop(HEAD_INFO, None)
        return
    anchor = anchor_of(session)
    session.flush()
    seq, prev = locked_head(session)
    rows = []
    for entry, _savepoint in queued:
        seq += 1
        entry.seq, entry.prev_hash = seq, prev
        entry.entry_hash = entry_hash(anchor.key, prev, seq, entry.at, entry.event, entry.client_id,
                                      entry.account_id, entry.details)
        prev = entry.entry_hash
        rows.append({column: getattr(entry, column) for column in COLUMNS})
        if anchor.checkpoint_file is not None and seq % anchor.every == 0:
            # Written once the transaction commits (linkserver.anchor), by the one process whose
            # transaction took this sequence number.
            session.info.setdefault(PENDING_INFO, []).append((seq, entry.entry_hash))
    # Inserted as rows (through psycopg on PostgreSQL, SQLAlchemy Core on SQLite), not flushed as
    # objects: the entries are complete and nothing in the transaction reads them back.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Neither returns rows: in a pipelined transaction (db.run_kept) they go with its commit.
        if len(rows) > 1:
            on_driver_many(session, ADD_ON_DRIVER, rows[:-1])
        on_driver_many(session, ADD_LAST_ON_DRIVER, rows[-1:])
    else:
        connection.execute(ADD_ENTRIES, rows)
        connection.execute(MOVE_HEAD, {"seq": seq, "entry_hash": prev})


def _drop_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    """A savepoint rolled back takes the entries queued in it (and in savepoints inside it) along."""
    # A savepoint rolled back releases the row locks taken in it: the head is locked again at seal.
    session.info.pop(HEAD_INFO, None)
    queued: list[tuple[QueuedEntry, SessionTransaction | None]] = session.info.get(QUEUE_INFO, [])
    if not queued:
        return
    if transaction.parent is None:
        session.info.pop(QUEUE_INFO, None)
        return
    if not transaction.nested:
        return  # a flush's own inner transaction: what it rolls back, its savepoint or root does too

    def inside(savepoint: SessionTransaction | None) -> bool:
        while savepoint is not None:
            if savepoint is transaction:
                return True
            savepoint = savepoint.parent
        return False

    session.info[QUEUE_INFO] = [(entry, savepoint) for entry, savepoint in queued if not inside(savepoint)]


event.listen(Session, "before_commit", seal)
event.listen(Session, "after_soft_rollback", _drop_rolled_back)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of checking the chain: how many entries, and the first break if any.

    ``anchored`` is set when the chain is whole but does not match a signed checkpoint: cut
    short, or rewritten up to a checkpointed entry.
    """

    entries: int
    broken_at: int | None = None
    reason: str = ""
    anchored: bool = False

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def check_entries(entries: Iterable[AuditEntry], key: bytes) -> ChainReport:
    """Walk entries in sequence order and report the first one that does not follow."""
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            return ChainReport(count, entry.seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return ChainReport(count, entry.seq, "it does not point at the entry before it")
        recomputed = entry_hash(key, entry.prev_hash, entry.seq, entry.at, entry.event, entry.client_id,
                                entry.account_id, entry.details)
        if not hmac.compare_digest(recomputed, entry.entry_hash):
            return ChainReport(count, entry.seq, "its contents do not match its hash")
        prev, expected_seq = entry.entry_hash, expected_seq + 1
    return ChainReport(count)


def check_chain(session: Session, key: bytes, checkpoints: Mapping[int, str] | None = None,
                batch: int = 1000) -> ChainReport:
    """Check the whole stored chain, reading it in batches, and then against ``checkpoints``
    (sequence number -> the entry hash a signed checkpoint recorded)."""
    checkpoints = checkpoints or {}
    seen: dict[int, str] = {}

    def noting(entries: Iterable[AuditEntry]) -> Iterable[AuditEntry]:
        for entry in entries:
            if entry.seq in checkpoints:
                seen[entry.seq] = entry.entry_hash
            yield entry

    report = check_entries(noting(_stream(session, batch)), key)
    if not report.ok:
        return report
    for seq in sorted(checkpoints):
        if seq > report.entries:
            return ChainReport(report.entries, seq, f"TRUNCATED: the log ends at entry {report.entries}, "
                               f"but a signed checkpoint recorded entry {seq}", anchored=True)
        if not hmac.compare_digest(seen[seq], checkpoints[seq]):
            return ChainReport(report.entries, seq, f"REWRITTEN: entry {seq} is not the one its signed "
                               "checkpoint recorded", anchored=True)
    return report


def _stream(session: Session, batch: int) -> Iterable[AuditEntry]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
