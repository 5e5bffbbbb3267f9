"""How the server's database runs work, on SQLite and on PostgreSQL: statements that may stand alone
(``Database.run(work, atomic=False)``), which nothing may audit, and pooled connections checked
again only after they sat idle."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from linkserver import audit
from linkserver import db as db_module
from linkserver.audit import AuditAnchor
from linkserver.db import Database
from linkserver.models import Challenge

T0 = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def add_challenge(session: Session, nonce: bytes) -> None:
    session.connection().execute(insert(Challenge), {
        "nonce": nonce, "client_id": "kiosk-01", "created_at": T0,
        "expires_at": T0 + dt.timedelta(minutes=2)})


def challenges(db: Database) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(Challenge)) or 0


def test_statements_that_stand_alone_commit_each_on_postgresql_and_together_on_sqlite(db: Database) -> None:
    def work(session: Session) -> None:
        add_challenge(session, b"a" * 32)
        add_challenge(session, b"a" * 32)  # the same key again: this statement fails

    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        db.run(work, atomic=False)
    postgresql = db.engine.dialect.name == "postgresql"
    assert challenges(db) == (1 if postgresql else 0)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        db.run(work)  # one transaction on both: nothing of it is kept
    assert challenges(db) == (1 if postgresql else 0)


def test_nothing_is_audited_by_statements_that_stand_alone(db: Database) -> None:
    def work(session: Session) -> None:
        session.info[audit.ANCHOR_INFO] = AuditAnchor(key=b"k" * 32)
        add_challenge(session, b"b" * 32)
        audit.append(session, "verification", client_id="kiosk-01")

    if db.engine.dialect.name != "postgresql":
        db.run(work, atomic=False)  # SQLite keeps one transaction: the entry is chained in it
        return
    with pytest.raises(RuntimeError, match="an audit entry needs a transaction"):
        db.run(work, atomic=False)


def test_a_connection_the_database_dropped_while_it_sat_idle_is_replaced(
        db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    with db.transaction() as session:
        pid = session.scalar(text("SELECT pg_backend_pid()"))
    admin = Database(database_url)  # another process, say, or a restart of the database
    try:
        with admin.transaction() as session:
            assert session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) is True
    finally:
        admin.dispose()
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)
    with db.transaction() as session:
        assert session.scalar(text("SELECT pg_backend_pid()")) != pid
