"""How the server's database runs work, on SQLite and on PostgreSQL: a statement that commits by
itself (``Database.alone``), statements run by psycopg in a session's transaction
(``on_driver``), and pooled connections checked again only after they sat idle."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from linkserver import db as db_module
from linkserver.db import Database, KeptWork, UnitOfWork
from linkserver.models import Challenge

T0 = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


ADD_CHALLENGE = db_module.DriverStatement(text(
    "INSERT INTO challenges (nonce, client_id, created_at, expires_at) "
    "VALUES (:nonce, 'kiosk-01', :created_at, :expires_at)"))


def add_challenge(session: UnitOfWork, nonce: bytes) -> None:
    """A challenge stored in ``session``'s transaction: through psycopg on PostgreSQL, as work on
    a kept connection must (its transaction is pipelined)."""
    row = {"nonce": nonce, "client_id": "kiosk-01", "created_at": T0,
           "expires_at": T0 + dt.timedelta(minutes=2)}
    if session.connection().dialect.name == "postgresql":
        db_module.on_driver_many(session, ADD_CHALLENGE, [row])
    else:
        session.connection().execute(insert(Challenge), row)


def challenges(db: Database) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(Challenge)) or 0


STORE_ALONE = db_module.DriverStatement(text(
    "INSERT INTO challenges (nonce, client_id, created_at, expires_at) "
    "VALUES (:nonce, 'kiosk-01', :at, :at) RETURNING client_id"))


def test_a_statement_alone_commits_by_itself_or_not_at_all(db: Database) -> None:
    if not db.postgresql:
        with pytest.raises(RuntimeError, match="PostgreSQL's"):
            db.alone(STORE_ALONE, {"nonce": b"a" * 32, "at": T0})
        return
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert db.alone(STORE_ALONE, {"nonce": b"a" * 32, "at": T0}).client_id == "kiosk-01"
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert seen == [STORE_ALONE.sql]
    assert challenges(db) == 1  # seen by another transaction: committed, with no COMMIT sent
    with pytest.raises(IntegrityError):
        db.alone(STORE_ALONE, {"nonce": b"a" * 32, "at": T0})
    assert challenges(db) == 1
    with db.transaction() as session:  # the pool's connection is back to transactions of its own
        add_challenge(session, b"b" * 32)
        assert session.scalar(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL"))
        session.rollback()
    assert challenges(db) == 1


def test_a_statement_alone_is_tried_again_after_a_conflict_and_replaces_a_broken_connection(
        db: Database) -> None:
    postgresql_only(db)
    with db.transaction() as session:  # a sequence is not rolled back: the first try alone fails
        session.execute(text("DROP SEQUENCE IF EXISTS linkserver_test_tries"))
        session.execute(text("CREATE SEQUENCE linkserver_test_tries"))
        session.execute(text("""CREATE OR REPLACE FUNCTION linkserver_test_conflict_alone()
            RETURNS bigint LANGUAGE plpgsql AS $$ DECLARE attempt bigint := nextval('linkserver_test_tries');
            BEGIN
                IF attempt = 1 THEN RAISE EXCEPTION 'lost a race' USING ERRCODE = '40001'; END IF;
                RETURN attempt; END $$"""))
    raised = db_module.DriverStatement(text("SELECT linkserver_test_conflict_alone() AS attempt"))
    assert db.alone(raised, {}).attempt == 2
    own_pid = db_module.DriverStatement(text("SELECT pg_backend_pid() AS pid"))
    ended = db_module.DriverStatement(text("SELECT pg_terminate_backend(pg_backend_pid()) AS ended"))
    pid = db.alone(own_pid, {}).pid
    with pytest.raises(DBAPIError) as broken:
        db.alone(ended, {})
    assert broken.value.connection_invalidated
    assert db.alone(own_pid, {}).pid != pid


def terminate(database_url: str, pid: int) -> None:
    """End a connection's backend from another connection (another process, say, or a restart)."""
    admin = Database(database_url)
    try:
        with admin.transaction() as session:
            assert session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) is True
    finally:
        admin.dispose()


OWN_PID = db_module.DriverStatement(text("SELECT pg_backend_pid() AS pid"))


def test_statements_alone_keep_one_connection_per_thread_and_give_them_all_back(db: Database) -> None:
    postgresql_only(db)
    first = db.alone(OWN_PID, {}).pid
    assert db.alone(OWN_PID, {}).pid == first  # kept, not taken from the pool again
    other: list[int] = []
    thread = threading.Thread(target=lambda: other.extend(db.alone(OWN_PID, {}).pid for _ in range(2)))
    thread.start()
    thread.join()
    assert other[0] == other[1] != first  # its own, kept too
    pool = db.engine.pool
    assert pool.checkedout() == 2  # type: ignore[attr-defined]
    db.dispose()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]  # the ended thread's one as well


def test_work_on_a_kept_connection_is_a_transaction_of_its_own_each_time(db: Database) -> None:
    def store(nonce: bytes, fail: bool = False) -> int | None:
        def work(session: UnitOfWork) -> int | None:
            add_challenge(session, nonce)
            if fail:
                raise RuntimeError("undone")
            return db_module.on_driver(session, OWN_PID, {}).pid if db.postgresql else None
        return db.run_kept(work)

    first = store(b"e" * 32)
    assert challenges(db) == 1  # committed: another transaction sees it
    with pytest.raises(RuntimeError, match="undone"):
        store(b"f" * 32, fail=True)
    assert challenges(db) == 1  # rolled back whole
    assert store(b"g" * 32) == first  # the same connection each time (PostgreSQL), kept
    assert challenges(db) == 2
    if db.postgresql:
        with pytest.raises(RuntimeError, match="inside"):
            db.run_kept(lambda _session: db.run_kept(lambda inner: add_challenge(inner, b"h" * 32)))
        assert challenges(db) == 2
        pool = db.engine.pool
        assert pool.checkedout() == 1  # type: ignore[attr-defined]
        db.dispose()
        assert pool.checkedout() == 0  # type: ignore[attr-defined]


def test_work_on_a_kept_connection_runs_the_hooks_a_sessions_commit_would(db: Database) -> None:
    """``before_commit`` writes in the work's transaction (and a failure there undoes the work);
    ``after_commit`` runs once that transaction is committed, never after a rollback. Each unit
    starts with ``info`` of its own."""
    postgresql_only(db)
    seen: list[tuple[str, int]] = []

    def before(unit: KeptWork) -> None:
        if unit.info["refuse"]:
            raise RuntimeError("refused at commit")
        add_challenge(unit, unit.info["nonce"].upper())
        seen.append(("before", challenges(db)))

    def after(unit: KeptWork) -> None:
        seen.append(("after", challenges(db)))

    db.kept_hooks(before_commit=before, after_commit=after)

    def work(nonce: bytes, *, fail: bool = False, refuse: bool = False) -> Callable[[UnitOfWork], None]:
        def run(unit: UnitOfWork) -> None:
            assert "nonce" not in unit.info  # nothing left from the unit before
            unit.info.update(nonce=nonce, refuse=refuse)
            add_challenge(unit, nonce)
            if fail:
                raise RuntimeError("undone")
        return run

    db.run_kept(work(b"i" * 32))
    assert seen == [("before", 0), ("after", 2)]  # the work and the hook's row, committed together
    with pytest.raises(RuntimeError, match="undone"):
        db.run_kept(work(b"j" * 32, fail=True))
    with pytest.raises(RuntimeError, match="refused at commit"):
        db.run_kept(work(b"k" * 32, refuse=True))
    assert seen == [("before", 0), ("after", 2)] and challenges(db) == 2


def test_a_kept_connection_the_database_dropped_while_it_sat_idle_is_replaced(
        db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    postgresql_only(db)
    pid = db.alone(OWN_PID, {}).pid
    terminate(database_url, pid)
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)
    assert db.alone(OWN_PID, {}).pid != pid  # checked before use: replaced, not failed
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 3600.0)
    pid = db.alone(OWN_PID, {}).pid
    terminate(database_url, pid)
    with pytest.raises(DBAPIError) as broken:  # in steady use it is not checked: the error shows
        db.alone(OWN_PID, {})
    assert broken.value.connection_invalidated
    assert db.alone(OWN_PID, {}).pid != pid  # and the broken one is not kept


def test_a_kept_connection_given_back_while_its_thread_found_it_dropped_is_replaced(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's stop gives every kept connection back (``release_kept``); a thread that was
    checking its own at that moment, and found it no longer answers, takes a new one."""
    postgresql_only(db)
    db.alone(OWN_PID, {})

    def given_back_meanwhile(_held: object) -> bool:
        db.release_kept()
        return False

    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)
    monkeypatch.setattr(db_module.HeldConnections, "_still_answers", staticmethod(given_back_meanwhile))
    assert db.alone(OWN_PID, {}).pid > 0  # a connection taken again from the pool
    pool = db.engine.pool
    assert pool.checkedout() == 1  # type: ignore[attr-defined]  # that one only: the old one is back
    db.release_kept()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_connection_the_database_dropped_while_it_sat_idle_is_replaced(
        db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    with db.transaction() as session:
        pid = session.scalar(text("SELECT pg_backend_pid()"))
    terminate(database_url, pid)
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)
    with db.transaction() as session:
        assert session.scalar(text("SELECT pg_backend_pid()")) != pid


def postgresql_only(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("statements run on the driver are PostgreSQL's hot path")


def test_a_statement_on_the_driver_runs_in_the_sessions_transaction(db: Database) -> None:
    postgresql_only(db)
    store = db_module.DriverStatement(text(
        "INSERT INTO challenges (nonce, client_id, created_at, expires_at) "
        "VALUES (:nonce, 'kiosk-01', :at, :at) RETURNING client_id, nonce"))
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with pytest.raises(RuntimeError, match="undone"), db.transaction() as session:
            row = db_module.on_driver(session, store, {"nonce": b"c" * 32, "at": T0})
            assert (row.client_id, bytes(row.nonce)) == ("kiosk-01", b"c" * 32)
            raise RuntimeError("undone")  # the transaction rolls back: the row goes with it
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert challenges(db) == 0
    assert seen == [store.sql]  # the engine's cursor events see it, in psycopg's form
    assert "%(nonce)s" in store.sql


def test_rows_on_the_driver_are_named_tuples_of_one_type_per_statement(db: Database) -> None:
    postgresql_only(db)
    pair = db_module.DriverStatement(text("SELECT CAST(:a AS int) AS first, CAST(:b AS text) AS second"))
    other = db_module.DriverStatement(text("SELECT CAST(:a AS int) AS third"))
    store = db_module.DriverStatement(text(
        "INSERT INTO challenges (nonce, client_id, created_at, expires_at) "
        "VALUES (:nonce, 'kiosk-01', :at, :at)"))
    empty = db_module.DriverStatement(text("SELECT 1 AS one WHERE false"))
    with db.transaction() as session:
        one = db_module.on_driver(session, pair, {"a": 1, "b": "x"})
        two = db_module.on_driver(session, pair, {"a": 2, "b": "y"})
        assert (one.first, one.second, two.first, two.second) == (1, "x", 2, "y")
        assert type(one) is type(two)  # the type is made once, from the first result
        assert db_module.on_driver(session, other, {"a": 3})._fields == ("third",)
        assert db_module.on_driver(session, store, {"nonce": b"d" * 32, "at": T0}) is None  # no rows
        assert db_module.on_driver(session, empty, {}) is None  # rows, but none matched
    assert challenges(db) == 1


def test_a_conflict_on_the_driver_is_tried_again_as_any_other(db: Database) -> None:
    postgresql_only(db)
    busy = db_module.DriverStatement(text(
        "SELECT CASE WHEN :busy THEN CAST(1 / 0 AS text) ELSE 'done' END AS answer"))
    raised = db_module.DriverStatement(text("SELECT linkserver_test_conflict(:first) AS answer"))
    with db.transaction() as session:
        session.execute(text("""CREATE OR REPLACE FUNCTION linkserver_test_conflict(first boolean)
            RETURNS text LANGUAGE plpgsql AS $$ BEGIN
                IF first THEN RAISE EXCEPTION 'lost a race' USING ERRCODE = '40P01'; END IF;
                RETURN 'done'; END $$"""))
    tries: list[bool] = []

    def work(session: Session) -> str:
        tries.append(len(tries) == 0)
        return str(db_module.on_driver(session, raised, {"first": tries[-1]}).answer)

    assert db.run(work) == "done"
    assert tries == [True, False]
    with pytest.raises(DBAPIError) as refused, db.transaction() as session:
        db_module.on_driver(session, busy, {"busy": True})
    assert isinstance(refused.value.orig, psycopg.errors.DivisionByZero)
    assert not db_module.is_conflict(refused.value)
    assert not refused.value.connection_invalidated


def test_a_connection_that_breaks_on_the_driver_is_not_reused(db: Database) -> None:
    postgresql_only(db)
    own_pid = db_module.DriverStatement(text("SELECT pg_backend_pid() AS pid"))
    ended = db_module.DriverStatement(text("SELECT pg_terminate_backend(pg_backend_pid()) AS ended"))
    with db.transaction() as session:
        pid = db_module.on_driver(session, own_pid, {}).pid
    with pytest.raises(DBAPIError) as broken, db.transaction() as session:
        db_module.on_driver(session, ended, {})
    assert broken.value.connection_invalidated
    with db.transaction() as session:
        assert db_module.on_driver(session, own_pid, {}).pid != pid


@pytest.mark.parametrize("count", [0, 1, 3])
def test_rows_on_the_driver_are_stored_together_or_not_at_all(db: Database, count: int) -> None:
    postgresql_only(db)
    store = db_module.DriverStatement(text(
        "INSERT INTO challenges (nonce, client_id, created_at, expires_at) "
        "VALUES (:nonce, 'kiosk-01', :at, :at)"))
    rows = [{"nonce": bytes([index]) * 32, "at": T0} for index in range(count)]
    with db.transaction() as session:
        db_module.on_driver_many(session, store, rows)
    assert challenges(db) == count
    with pytest.raises(IntegrityError), db.transaction() as session:
        fresh = {"nonce": b"new" * 11, "at": T0}
        db_module.on_driver_many(session, store, [fresh, *rows, fresh])
    assert challenges(db) == count  # the first rows went with the last one's failure


def test_a_statement_keeps_its_cursor_on_its_connection_until_it_fails_there(db: Database) -> None:
    """On the connection a thread keeps for statements alone (a pipelined transaction has none)."""
    postgresql_only(db)
    own_pid = db_module.DriverStatement(text("SELECT pg_backend_pid() AS pid"))
    other = db_module.DriverStatement(text("SELECT CAST(:a AS int) AS a"))
    failing = db_module.DriverStatement(text("SELECT CAST(1 / CAST(:d AS int) AS int) AS a"))
    cursors: list[object] = []

    def record(_conn: object, cursor: object, *_args: object) -> None:
        cursors.append(cursor)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        def run_on_one_connection(statement: db_module.DriverStatement, parameters: dict[str, int]) -> int:
            return int(db.alone(statement, parameters)[0])

        pid = run_on_one_connection(own_pid, {})
        assert run_on_one_connection(own_pid, {}) == pid  # the same kept connection
        assert run_on_one_connection(other, {"a": 7}) == 7
        assert run_on_one_connection(failing, {"d": 1}) == 1
        with pytest.raises(DBAPIError):
            run_on_one_connection(failing, {"d": 0})
        assert run_on_one_connection(failing, {"d": 2}) == 0
        assert run_on_one_connection(own_pid, {}) == pid
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    pid_cursor, again, other_cursor, before_failure, failed, after_failure, last = cursors
    assert pid_cursor is again is last  # one cursor for a statement, across transactions
    assert other_cursor is not pid_cursor
    assert before_failure is failed and failed.closed  # type: ignore[attr-defined]
    assert after_failure is not failed and not after_failure.closed  # type: ignore[attr-defined]
