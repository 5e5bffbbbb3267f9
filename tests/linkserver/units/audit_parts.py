"""What the audit chain's tests share: the server's own database on a temporary SQLite file, its
sessions given an audit key (and, where asked, a checkpoint file and signing key), and ways to
write a chain and to tamper with it as someone with access to the database would.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import select

from linkserver import audit
from linkserver.db import Database
from linkserver.models import AuditEntry

KEY = b"the audit key of these tests: 32+ bytes"
OTHER_KEY = b"another audit key, also 32+ bytes long"
T0 = dt.datetime(2030, 4, 1, 9, 0, tzinfo=dt.UTC)
JST = dt.timezone(dt.timedelta(hours=9))


@contextmanager
def server_database(path: Path, anchor: audit.AuditAnchor | None) -> Iterator[Database]:
    """The server's database, migrated; its sessions carry ``anchor`` as the server's do."""
    db = Database(f"sqlite:///{path}")
    try:
        db.migrate()
        if anchor is not None:
            db.sessions.configure(info={audit.ANCHOR_INFO: anchor})
        yield db
    finally:
        db.dispose()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """The server's database with an audit key and no checkpoints."""
    with server_database(tmp_path / "server.db", audit.AuditAnchor(key=KEY)) as opened:
        yield opened


@pytest.fixture
def japan_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is Japan's, as a server's in Japan may be."""
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def signing_key() -> ECKey:
    return ECKey.generate_key("P-256")


def write_history(db: Database, count: int, start: int = 0) -> list[str]:
    """``count`` entries, each with a client, an account and details, a minute apart; their hashes."""
    hashes = []
    for n in range(start, start + count):
        with db.transaction() as session:
            entry = audit.append(session, f"event_{n}", client_id=f"kiosk-{n}", account_id=f"acct-{n}",
                                 details={"n": n, "code": f"c{n}"}, at=T0 + dt.timedelta(minutes=n))
        hashes.append(entry.entry_hash)  # chained as the transaction committed
    return hashes


def entries(db: Database) -> list[AuditEntry]:
    with db.transaction() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def check(db: Database, key: bytes = KEY, checkpoints: Mapping[int, str] | None = None,
          batch: int = 1000) -> audit.ChainReport:
    with db.transaction() as session:
        return audit.check_chain(session, key, checkpoints, batch=batch)


def edit(db: Database, seq: int, **values: object) -> None:
    """Change stored columns of one entry, as someone who can write the database but lacks the key."""
    with db.transaction() as session:
        entry = session.get(AuditEntry, seq)
        assert entry is not None
        for name, value in values.items():
            setattr(entry, name, value)


def remove(db: Database, *seqs: int) -> None:
    with db.transaction() as session:
        for seq in seqs:
            entry = session.get(AuditEntry, seq)
            assert entry is not None
            session.delete(entry)


def rehash_from(db: Database, seq: int, key: bytes = KEY) -> None:
    """Recompute every hash from entry ``seq`` on, as someone who holds the audit key could."""
    with db.transaction() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.seq >= seq).order_by(AuditEntry.seq)))
        before = session.get(AuditEntry, seq - 1)
        prev = before.entry_hash if before is not None else audit.GENESIS
        for entry in rows:
            entry.prev_hash = prev
            entry.entry_hash = audit.entry_hash(key, prev, entry.seq, entry.at, entry.event, entry.client_id,
                                                entry.account_id, entry.details)
            prev = entry.entry_hash
