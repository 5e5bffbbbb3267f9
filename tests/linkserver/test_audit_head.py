"""The audit chain's head (``audit_head``), on SQLite and on PostgreSQL: it follows every append,
a lock on it that had to wait reads it as the appender left it, a database without it audits
nothing, and the migration that brings it starts it at the log's newest entry."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from linkserver import audit
from linkserver.db import Database, alembic_config
from linkserver.models import AuditEntry, AuditHead, Challenge

KEY = b"the audit key of the head's tests, 32+ bytes"
T0 = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def audited(db: Database) -> Iterator[Database]:
    db.sessions.configure(info={audit.ANCHOR_INFO: audit.AuditAnchor(key=KEY)})
    yield db


def head(db: Database) -> tuple[int, str]:
    with db.transaction(write=False) as session:
        row = session.execute(select(AuditHead.seq, AuditHead.entry_hash)).one()
        return row.seq, row.entry_hash


def newest(db: Database) -> tuple[int, str]:
    with db.transaction(write=False) as session:
        row = session.execute(select(AuditEntry.seq, AuditEntry.entry_hash)
                              .order_by(AuditEntry.seq.desc()).limit(1)).one()
        return row.seq, row.entry_hash


def append(db: Database, *events: str) -> None:
    with db.transaction() as session:
        for name in events:
            audit.append(session, name, client_id="kiosk-01")


def test_the_head_starts_at_the_genesis_and_follows_every_append(audited: Database) -> None:
    assert head(audited) == (0, audit.GENESIS)
    append(audited, "first")
    assert head(audited) == newest(audited) and head(audited)[0] == 1
    append(audited, "second", "third", "fourth")  # several entries: the head moves to the last
    assert head(audited) == newest(audited) and head(audited)[0] == 4
    with audited.transaction(write=False) as session:
        assert audit.check_chain(session, KEY).entries == 4


def test_a_lock_that_waited_reads_the_head_as_the_appender_left_it(audited: Database) -> None:
    """Another transaction holds the head while this one wants to append: this one waits, and
    then chains after the entry the other added, though its own statement began before."""
    if not audited.postgresql:
        pytest.skip("SQLite's write lock is taken before a transaction reads anything")
    append(audited, "before")
    holder = audited.sessions()
    holder.begin()
    seq, prev = holder.execute(text("SELECT seq, entry_hash FROM audit_head FOR UPDATE")).one()
    failures: list[BaseException] = []

    def waiting() -> None:
        try:
            append(audited, "waited")
        except BaseException as exc:  # handed to the test's thread to fail on
            failures.append(exc)

    thread = threading.Thread(target=waiting)
    thread.start()
    with audited.engine.connect() as watcher:  # until the other append waits for the row lock
        for _ in range(2000):
            if watcher.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND query LIKE '%audit_head%'")):
                break
            watcher.rollback()
            thread.join(0.005)
        else:
            pytest.fail("the second append never waited for the head's lock")
    at = T0.astimezone(dt.UTC)
    added = audit.entry_hash(KEY, prev, seq + 1, at, "held", None, None, "{}")
    holder.execute(insert(AuditEntry), {"seq": seq + 1, "at": at, "event": "held", "client_id": None,
                                        "account_id": None, "details": "{}", "prev_hash": prev,
                                        "entry_hash": added})
    holder.execute(audit.MOVE_HEAD, {"seq": seq + 1, "entry_hash": added})
    holder.commit()
    holder.close()
    thread.join(30)
    assert not thread.is_alive() and failures == []
    with audited.transaction(write=False) as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
        assert (last.event, last.seq, last.prev_hash) == ("waited", seq + 2, added)
        assert audit.check_chain(session, KEY).ok


def test_without_its_head_row_nothing_is_audited_and_the_work_is_undone(audited: Database) -> None:
    append(audited, "before")
    with audited.transaction() as session:
        session.execute(delete(AuditHead))

    def work(session: Session) -> None:
        session.execute(insert(Challenge), {"nonce": b"h" * 32, "client_id": "kiosk-01",
                                            "created_at": T0, "expires_at": T0})
        audit.append(session, "lost", client_id="kiosk-01")

    with pytest.raises(RuntimeError, match="no head"):
        audited.run(work)
    with audited.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Challenge)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1


@pytest.mark.parametrize("entries", [0, 2])
def test_the_migration_starts_the_head_at_the_newest_entry(database_url: str, entries: int) -> None:
    db = Database(database_url)
    try:
        config = alembic_config(db.engine.url.render_as_string(hide_password=False))
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0008")
        prev = audit.GENESIS
        with db.engine.begin() as connection:
            for seq in range(1, entries + 1):
                entry_hash = audit.entry_hash(KEY, prev, seq, T0, "old", None, None, "{}")
                connection.execute(insert(AuditEntry), {
                    "seq": seq, "at": T0, "event": "old", "client_id": None, "account_id": None,
                    "details": "{}", "prev_hash": prev, "entry_hash": entry_hash})
                prev = entry_hash
        db.migrate()
        assert head(db) == (entries, prev)
    finally:
        db.dispose()
