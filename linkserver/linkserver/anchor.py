"""The audit chain's anchors outside the database: signed checkpoints in an append-only file.

Every ``audit.checkpoint_every`` entries, and when a server process shuts down, one line is
appended to ``audit.checkpoint_file``: a compact JWS, signed with the server's token-signing
key, of the head's sequence number and hash and the time. ``check-audit`` walks the chain with
the audit key and then compares it with every checkpoint: a chain shorter than a checkpoint was
cut short, and an entry whose hash is not the one checkpointed was rewritten.

What this catches and what it does not, for someone who can write the database:

* without the audit key, any edit (even with every later hash recomputed with plain SHA-256)
  breaks the chain;
* cutting off the last entries is caught once a checkpoint lies beyond the new end: entries
  written after the latest checkpoint (at most ``checkpoint_every`` - 1 while the server runs;
  none after a clean shutdown) can be cut without trace;
* with the audit key, an edit at or before the latest checkpoint is caught; one after it, with
  every later hash recomputed, is not.

The file should live where the database's writers cannot reach it (another disk, another
machine's mount, or shipped on to syslog). Appends take an exclusive ``flock`` and use
``O_APPEND``, so the processes of a multi-worker server never interleave lines; a checkpoint at
a multiple of N is written only by the process whose transaction took that sequence number,
after that transaction committed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlalchemy import event
from sqlalchemy.orm import Session

from linkserver.audit import (
    ANCHOR_INFO,
    PENDING_INFO,
    AuditAnchor,
    ChainReport,
    check_chain,
    locked_head,
    seal,
)
from linkserver.config import Settings
from linkserver.db import Database, UnitOfWork
from linkserver.tokens import TOKEN_ALGORITHM, load_ec_private_key


class CheckpointError(ValueError):
    """The checkpoint file cannot be read, or a line in it is not a valid signed checkpoint."""


def anchor_for(settings: Settings) -> AuditAnchor:
    """The audit key and checkpoint settings of a configuration (the key was checked on load)."""
    if settings.audit.key_file is None:
        raise ValueError("the configuration names no audit key (secrets.audit_key_file)")
    return AuditAnchor(key=settings.audit.key_file.read_bytes().strip(),
                       checkpoint_file=settings.audit.checkpoint_file, every=settings.audit.checkpoint_every,
                       signing_key=load_ec_private_key(settings.signing_key_file))


def open_database(settings: Settings) -> Database:
    """The configured database, its sessions able to append to the audit chain."""
    db = Database(settings.database_url)
    install(db, anchor_for(settings))
    return db


def install(db: Database, anchor: AuditAnchor) -> None:
    """Give ``db``'s sessions the audit key, and write their checkpoints when they commit."""
    db.sessions.configure(info={ANCHOR_INFO: anchor})
    event.listen(db.sessions, "after_commit", _write_pending)
    event.listen(db.sessions, "after_rollback", _drop_pending)
    db.kept_hooks(before_commit=seal, after_commit=_write_pending)  # the session's, for a KeptWork


def _write_pending(session: UnitOfWork) -> None:
    pending: list[tuple[int, str]] = session.info.pop(PENDING_INFO, [])
    anchor = session.info.get(ANCHOR_INFO)
    if isinstance(anchor, AuditAnchor):
        for seq, head in pending:
            write_checkpoint(anchor, seq, head)


def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING_INFO, None)


def write_checkpoint(anchor: AuditAnchor, seq: int, head: str, at: dt.datetime | None = None) -> None:
    """Append one signed checkpoint line (nothing without a checkpoint file or signing key)."""
    if anchor.checkpoint_file is None or anchor.signing_key is None:
        return
    claims = {"seq": seq, "entry_hash": head,
              "at": (at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")}
    line = jws.serialize_compact({"alg": TOKEN_ALGORITHM, "typ": "audit-checkpoint"},
                                 json.dumps(claims, separators=(",", ":")), anchor.signing_key,
                                 algorithms=[TOKEN_ALGORITHM])
    fd = os.open(anchor.checkpoint_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (line + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint_head(db: Database) -> None:
    """Checkpoint the chain's head as it stands (a server process does this when it stops)."""
    with db.transaction() as session:
        anchor = session.info.get(ANCHOR_INFO)
        seq, entry_hash = locked_head(session)
    if isinstance(anchor, AuditAnchor) and seq > 0:
        write_checkpoint(anchor, seq, entry_hash)


def read_checkpoints(anchor: AuditAnchor) -> dict[int, str]:
    """Every checkpoint in the file, each signature checked: sequence number -> entry hash."""
    path = anchor.checkpoint_file
    if path is None or anchor.signing_key is None or not path.exists():
        return {}
    try:
        lines = path.read_text("ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"the checkpoint file {path} cannot be read ({exc})") from None
    checkpoints: dict[int, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        claims = _verified(anchor.signing_key, line.strip())
        if claims is None:
            raise CheckpointError(f"line {number} of the checkpoint file {path} is not a checkpoint "
                                  "signed with this server's key")
        seq, head = claims["seq"], claims["entry_hash"]
        if checkpoints.get(seq, head) != head:
            raise CheckpointError(f"the checkpoint file {path} records two hashes for entry {seq}")
        checkpoints[seq] = head
    return checkpoints


def _verified(key: ECKey, line: str) -> dict[str, Any] | None:
    try:
        payload = json.loads(jws.deserialize_compact(line, key, algorithms=[TOKEN_ALGORITHM]).payload)
    except (JoseError, ValueError, UnicodeError):
        return None
    if (not isinstance(payload, dict) or not isinstance(payload.get("seq"), int)
            or not isinstance(payload.get("entry_hash"), str)):
        return None
    return payload


def check_anchored(db: Database) -> ChainReport:
    """The chain checked with the audit key and against every signed checkpoint."""
    with db.transaction(write=False) as session:
        anchor = session.info.get(ANCHOR_INFO)
        if not isinstance(anchor, AuditAnchor):
            raise ValueError("this database has no audit key to check the chain with")
        return check_chain(session, anchor.key, read_checkpoints(anchor))
