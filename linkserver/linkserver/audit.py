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
from sqlalchemy import select
from sqlalchemy.orm import Session

from linkserver.db import lock_audit_chain
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
MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class AuditAnchor:
    """What ties the chain to secrets outside the database: the HMAC key, and the checkpoints
    (every ``every`` entries, signed with the server's token-signing key) with their file."""

    key: bytes = field(repr=False)
    checkpoint_file: Path | None = None
    every: int = 1000
    signing_key: ECKey | None = field(default=None, repr=False)


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


def anchor_of(session: Session) -> AuditAnchor:
    anchor = session.info.get(ANCHOR_INFO)
    if not isinstance(anchor, AuditAnchor):
        raise RuntimeError("this database has no audit key (secrets.audit_key_file): nothing may be audited")
    return anchor


def append(session: Session, event: str, *, client_id: str | None = None,
           account_id: str | None = None, details: Mapping[str, object] | None = None,
           at: dt.datetime | None = None) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction."""
    details = dict(details or {})
    leaked = SECRET_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details may not carry {sorted(leaked)}")
    anchor = anchor_of(session)
    lock_audit_chain(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    text = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    entry = AuditEntry(seq=seq, at=at, event=event, client_id=client_id, account_id=account_id,
                       details=text, prev_hash=prev,
                       entry_hash=entry_hash(anchor.key, prev, seq, at, event, client_id, account_id, text))
    session.add(entry)
    session.flush()
    if anchor.checkpoint_file is not None and seq % anchor.every == 0:
        # Written once the transaction commits (linkserver.anchor), by the one process whose
        # transaction took this sequence number.
        session.info.setdefault(PENDING_INFO, []).append((seq, entry.entry_hash))
    return entry


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
