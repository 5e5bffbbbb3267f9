"""The hash-chained audit log: every decision, in order, each entry sealing the one before.

An entry's hash covers its sequence number, time, event, parties and details, and the previous
entry's hash, so removing, reordering or editing any entry breaks the chain from there on. The
log records events, never secrets: callers pass identifiers and codes, not PINs, passwords,
tokens or whole certificates (``SECRET_KEYS`` are refused outright).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from linkserver.db import lock_audit_chain
from linkserver.models import AuditEntry

GENESIS = "0" * 64
#: Detail keys that would put a secret in the log; an entry carrying one is a programming error.
SECRET_KEYS = frozenset({
    "pin", "password", "new_password", "token", "access_token", "client_assertion", "device_code",
    "enrolment_code", "ticket", "voucher", "secret", "certificate", "signature",
})


def entry_hash(prev_hash: str, seq: int, at: dt.datetime, event: str, client_id: str | None,
               account_id: str | None, details: str) -> str:
    payload = json.dumps(
        [prev_hash, seq, at.astimezone(dt.UTC).isoformat(timespec="microseconds"), event,
         client_id, account_id, details],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(session: Session, event: str, *, client_id: str | None = None,
           account_id: str | None = None, details: Mapping[str, object] | None = None,
           at: dt.datetime | None = None) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction."""
    details = dict(details or {})
    leaked = SECRET_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details may not carry {sorted(leaked)}")
    lock_audit_chain(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    text = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    entry = AuditEntry(seq=seq, at=at, event=event, client_id=client_id, account_id=account_id,
                       details=text, prev_hash=prev,
                       entry_hash=entry_hash(prev, seq, at, event, client_id, account_id, text))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    """The outcome of checking the chain: how many entries, and the first break if any."""

    entries: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def check_entries(entries: Iterable[AuditEntry]) -> ChainReport:
    """Walk entries in sequence order and report the first one that does not follow."""
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            return ChainReport(count, entry.seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return ChainReport(count, entry.seq, "it does not point at the entry before it")
        recomputed = entry_hash(entry.prev_hash, entry.seq, entry.at, entry.event, entry.client_id,
                                entry.account_id, entry.details)
        if recomputed != entry.entry_hash:
            return ChainReport(count, entry.seq, "its contents do not match its hash")
        prev, expected_seq = entry.entry_hash, expected_seq + 1
    return ChainReport(count)


def check_chain(session: Session, batch: int = 1000) -> ChainReport:
    """Check the whole stored chain, reading it in batches."""
    return check_entries(_stream(session, batch))


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
