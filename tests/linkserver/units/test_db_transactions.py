"""The server's units of work: a transaction the database aborted for concurrent work runs whole
again, a bounded number of times; anything else is not retried; and on SQLite a reader does not
take the write lock that a writer holds.

The server's own database code on a temporary SQLite file, in this process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg.errors
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from linkserver import db as db_module
from linkserver.db import ATTEMPTS, Database, is_conflict
from linkserver.models import Challenge


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setattr(db_module, "FIRST_PAUSE", 0.001)
    opened = Database(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        opened.migrate()
        yield opened
    finally:
        opened.dispose()


def aborted(orig: Exception) -> OperationalError:
    """What SQLAlchemy raises when the driver reports ``orig``."""
    return OperationalError("UPDATE accounts ...", {}, orig)


def test_what_counts_as_an_abort_for_concurrent_work() -> None:
    assert is_conflict(aborted(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert is_conflict(aborted(psycopg.errors.SerializationFailure("could not serialize access")))
    assert is_conflict(aborted(sqlite3.OperationalError("database is locked")))
    assert not is_conflict(aborted(sqlite3.OperationalError("no such table: accounts")))
    assert not is_conflict(IntegrityError("INSERT ...", {}, psycopg.errors.UniqueViolation("duplicate key")))
    assert not is_conflict(RuntimeError("deadlock detected"))


def count_challenges(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Challenge)) or 0)


def test_a_unit_aborted_as_a_deadlock_runs_again_whole_and_keeps_only_its_last_run(db: Database) -> None:
    runs: list[int] = []

    def work(session: Session) -> str:
        runs.append(len(runs))
        session.execute(text("INSERT INTO challenges (nonce, client_id, created_at, expires_at) "
                             "VALUES (:nonce, 'kiosk', '2030-01-01', '2030-01-02')"),
                        {"nonce": bytes([len(runs)])})
        if len(runs) < 3:
            raise aborted(psycopg.errors.DeadlockDetected("deadlock detected"))
        return "done"

    assert db.run(work) == "done"
    assert runs == [0, 1, 2]
    assert count_challenges(db) == 1  # the aborted runs were rolled back


def test_retries_are_bounded(db: Database) -> None:
    runs: list[int] = []

    def work(session: Session) -> None:
        runs.append(1)
        raise aborted(psycopg.errors.SerializationFailure("could not serialize access"))

    with pytest.raises(OperationalError, match="could not serialize access"):
        db.run(work)
    assert len(runs) == ATTEMPTS


def test_other_failures_are_not_retried(db: Database) -> None:
    runs: list[int] = []

    def work(session: Session) -> None:
        runs.append(1)
        raise aborted(sqlite3.OperationalError("no such table: accounts"))

    with pytest.raises(OperationalError, match="no such table: accounts"):
        db.run(work)
    assert runs == [1]


def test_a_reader_reads_while_a_writer_holds_the_write_lock(db: Database) -> None:
    with db.transaction() as writer:
        writer.execute(text("INSERT INTO challenges (nonce, client_id, created_at, expires_at) "
                            "VALUES (x'01', 'kiosk', '2030-01-01', '2030-01-02')"))
        # Same process, another connection: a reader taking the write lock would wait for the
        # writer above, which waits for it (up to the busy timeout) and then fail.
        seen = db.run(lambda reader: reader.scalar(select(func.count()).select_from(Challenge)), write=False)
        assert seen == 0  # its snapshot, from before the writer's commit
    assert count_challenges(db) == 1
