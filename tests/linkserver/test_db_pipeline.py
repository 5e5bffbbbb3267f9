"""A pair's verification on PostgreSQL: a pipelined transaction (``Database.run_kept``), sent on
libpq itself (``linkserver.wire``). Its messages are read with libpq's own trace."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import pq
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from linkserver import db as db_module
from linkserver import hotpath
from linkserver import wire as wire_module
from linkserver.db import Database, UnitOfWork
from linkserver.tokens import Caller
from tests.linkserver.test_db_statements import (
    ADD_CHALLENGE,
    OWN_PID,
    T0,
    add_challenge,
    challenges,
    postgresql_only,
)


@contextlib.contextmanager
def traced(driver: Any) -> Iterator[list[tuple[str, str]]]:
    """The protocol messages a psycopg connection exchanges meanwhile, as libpq traces them: who
    sent each (``F``, the client; ``B``, the server) and its name, with a simple query's text
    (``Query "BEGIN"``)."""
    messages: list[tuple[str, str]] = []
    with tempfile.TemporaryFile("w+") as trace:
        driver.pgconn.trace(trace.fileno())
        driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield messages
        finally:
            driver.pgconn.untrace()
            trace.seek(0)
            for line in trace.read().splitlines():  # a statement's text may go on over lines
                direction, _length, name, *rest = [*line.split("\t"), "", "", ""][:4]
                if direction in ("F", "B") and name:
                    messages.append((direction, f"{name} {rest[0].strip()}" if name == "Query" else name))


def round_trips(messages: list[tuple[str, str]]) -> int:
    """How often the client sent something and then read the server's answer."""
    return sum(1 for (before, _), (after, _) in itertools.pairwise(messages)
               if before == "F" and after == "B")


def sent(messages: list[tuple[str, str]], name: str) -> list[str]:
    return [message for direction, message in messages if direction == "F" and message.startswith(name)]


LOCKED = db_module.DriverStatement(text("SELECT pg_backend_pid() AS pid FROM challenges FOR UPDATE"))


def test_work_on_a_kept_connection_takes_a_round_trip_per_answer_read_and_one_to_commit(db: Database) -> None:
    """No BEGIN and no COMMIT: the statements up to the Sync are one transaction on the server,
    and the Sync that ends the pipeline commits it with the last statements, unread."""
    postgresql_only(db)
    drivers: list[Any] = []

    def made(unit: UnitOfWork) -> int:
        drivers.append(unit.connection().connection.driver_connection)
        return int(db_module.on_driver(unit, OWN_PID, {}).pid)

    def stored_around_a_lock(unit: UnitOfWork) -> int:
        add_challenge(unit, b"q" * 32)
        locked = db_module.on_driver(unit, LOCKED, {})
        add_challenge(unit, b"r" * 32)
        return int(locked.pid)

    pid = db.run_kept(made)  # the kept connection, made
    with traced(drivers[0]) as messages:
        assert db.run_kept(stored_around_a_lock) == pid
    assert round_trips(messages) == 2  # the locked rows read; the last row with the commit
    assert len(sent(messages, "Execute")) == 3
    assert sent(messages, "Query") == [] and len(sent(messages, "Sync")) == 1  # no BEGIN, no COMMIT
    assert challenges(db) == 2  # committed: another connection sees them


def test_a_pipelined_statement_is_prepared_once_on_its_connection_for_its_parameters_types(
        db: Database) -> None:
    """Prepared with its first execution, in the same write; again only for other parameter types
    (psycopg sends a small integer as int2, a larger one as int4), or after the server refused to
    prepare it. A transaction that failed keeps what it prepared: statements are not transactional."""
    postgresql_only(db)
    cast = db_module.DriverStatement(text("SELECT CAST(:a AS int) AS a"))
    broken = db_module.DriverStatement(text("SELECT CAST(1 / CAST(:d AS int) AS int) AS a"))
    later = db_module.DriverStatement(text("SELECT a FROM linkserver_test_later"))
    drivers: list[Any] = []
    db.run_kept(lambda unit: drivers.append(unit.connection().connection.driver_connection))

    def run(statement: db_module.DriverStatement, parameters: dict[str, int]) -> tuple[Any, list[str]]:
        with traced(drivers[0]) as messages:
            row = db.run_kept(lambda unit: db_module.on_driver(unit, statement, parameters))
        return row, sent(messages, "Parse")

    assert run(cast, {"a": 7}) == ((7,), ["Parse"])
    assert run(cast, {"a": 8}) == ((8,), [])
    assert run(cast, {"a": 70000}) == ((70000,), ["Parse"])
    assert run(cast, {"a": 9}) == ((9,), [])
    assert run(broken, {"d": 1}) == ((1,), ["Parse"])
    with pytest.raises(DBAPIError, match="division by zero"):
        run(broken, {"d": 0})
    assert run(broken, {"d": 2}) == ((0,), [])
    with db.transaction() as session:
        session.execute(text("DROP TABLE IF EXISTS linkserver_test_later"))
    with pytest.raises(DBAPIError, match="linkserver_test_later"):
        run(later, {})
    with db.transaction() as session:
        session.execute(text("CREATE TABLE linkserver_test_later (a int)"))
        session.execute(text("INSERT INTO linkserver_test_later VALUES (5)"))
    try:
        assert run(later, {}) == ((5,), ["Parse"])
        assert run(later, {}) == ((5,), [])
    finally:
        with db.transaction() as session:
            session.execute(text("DROP TABLE linkserver_test_later"))


def test_a_pipelined_statement_without_rows_reads_as_none(db: Database) -> None:
    postgresql_only(db)
    row = {"nonce": b"v" * 32, "created_at": T0, "expires_at": T0}
    empty = db_module.DriverStatement(text("SELECT 1 AS one WHERE false"))
    assert db.run_kept(lambda unit: (db_module.on_driver(unit, ADD_CHALLENGE, row),  # a command: no rows
                                     db_module.on_driver(unit, empty, {}))) == (None, None)
    assert challenges(db) == 1


@pytest.mark.parametrize("failure", ["read", "unread", "raised", "sqlalchemy"])
def test_pipelined_work_that_fails_leaves_nothing_and_the_connection_ready(db: Database,
                                                                         failure: str) -> None:
    """Whatever fails, nothing of the work stays: a statement the server refused (its answer read
    at once, or only at the commit), an exception of the work's own (a ROLLBACK goes before the
    Sync), or a statement run through SQLAlchemy, whose answer a pipeline would hide."""
    postgresql_only(db)
    broken = db_module.DriverStatement(text("SELECT CAST(1 / CAST(:d AS int) AS int) AS a"))
    db.run_kept(lambda unit: add_challenge(unit, b"s" * 32))
    pid = db.run_kept(lambda unit: db_module.on_driver(unit, OWN_PID, {}).pid)

    def work(unit: UnitOfWork) -> None:
        add_challenge(unit, b"t" * 32)
        db_module.on_driver(unit, LOCKED, {})  # rows locked: released with the rest
        if failure == "read":
            db_module.on_driver(unit, broken, {"d": 0})
        elif failure == "unread":
            add_challenge(unit, b"s" * 32)  # taken: refused, and known only when the Sync is answered
        elif failure == "raised":
            raise ValueError("the work's own")
        else:
            unit.connection().execute(text("SELECT 1"))

    expected: dict[str, tuple[type[BaseException], str]] = {
        "read": (DBAPIError, "division by zero"), "unread": (IntegrityError, "challenges_pkey"),
        "raised": (ValueError, "the work's own"), "sqlalchemy": (RuntimeError, "on_driver")}
    kind, message = expected[failure]
    with pytest.raises(kind, match=message):
        db.run_kept(work)
    assert challenges(db) == 1  # the first row of the work went with the failure
    with db.transaction() as session:  # and its locks: another transaction takes them at once
        session.execute(text("SET LOCAL lock_timeout = '2s'"))
        session.execute(text("SELECT 1 FROM challenges FOR UPDATE")).all()
    db.run_kept(lambda unit: add_challenge(unit, b"u" * 32))
    assert challenges(db) == 2
    assert db.run_kept(lambda unit: db_module.on_driver(unit, OWN_PID, {}).pid) == pid  # the same connection


def test_a_pipelined_statement_larger_than_the_socket_takes_at_once_is_sent_whole(db: Database) -> None:
    """libpq writes what the socket takes; the rest is written as the socket drains. (The kept
    connection's send buffer is made small, so that a write cannot take it all at once.)"""
    postgresql_only(db)
    length = db_module.DriverStatement(text(
        "SELECT length(CAST(:b AS bytea)) AS n, md5(CAST(:b AS bytea)) AS h"))
    fds = db.run_kept(lambda unit: unit.connection().connection.driver_connection.pgconn.socket)
    with socket.socket(fileno=os.dup(fds)) as kept:
        kept.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    data = bytes(range(256)) * (4 * 1024 + 1)  # 1 MiB and a little more
    row = db.run_kept(lambda unit: db_module.on_driver(unit, length, {"b": data}))
    assert row == (len(data), hashlib.md5(data).hexdigest())


def test_a_kept_connection_left_in_the_middle_of_a_pipeline_is_replaced(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should reading the Sync's answer fail, the connection is still in pipeline mode, with
    answers unread: it is invalidated, and the next transaction has a connection of its own."""
    postgresql_only(db)
    pid = db.run_kept(lambda unit: db_module.on_driver(unit, OWN_PID, {}).pid)

    def fails(_wire: object) -> None:
        raise psycopg.OperationalError("the answer broke off")

    monkeypatch.setattr(wire_module.Wire, "_finish", fails)
    with pytest.raises(DBAPIError, match="broke off"):
        db.run_kept(lambda unit: add_challenge(unit, b"w" * 32))
    monkeypatch.undo()
    assert db.run_kept(lambda unit: db_module.on_driver(unit, OWN_PID, {}).pid) != pid
    db.run_kept(lambda unit: add_challenge(unit, b"x" * 32))
    # The server had the Sync and committed the first, as after a COMMIT whose answer was lost.
    assert challenges(db) == 2


def test_a_kept_connection_given_back_and_kept_again_prepares_its_statements_again(db: Database) -> None:
    """In the pool's other hands, psycopg may deallocate every prepared statement of a connection
    (after some rollbacks); kept again, it prepares its statements anew."""
    postgresql_only(db)
    cast = db_module.DriverStatement(text("SELECT CAST(:a AS int) AS a"))
    pid = db.run_kept(lambda unit: db_module.on_driver(unit, OWN_PID, {}).pid)
    assert db.run_kept(lambda unit: db_module.on_driver(unit, cast, {"a": 1}).a) == 1
    db.release_kept()
    pooled = [db.engine.connect() for _ in range(db.engine.pool.checkedin())]  # type: ignore[attr-defined]
    pooled.sort(key=lambda connection: connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid)
    for connection in pooled:
        connection.exec_driver_sql("DEALLOCATE ALL")
        connection.close()  # the kept one first: the pool hands out the first given back
    assert db.run_kept(lambda unit: db_module.on_driver(unit, OWN_PID, {}).pid) == pid
    assert db.run_kept(lambda unit: db_module.on_driver(unit, cast, {"a": 2}).a) == 2


def test_a_verification_on_postgresql_is_two_round_trips_after_its_challenge(live: Any) -> None:
    """The kiosk's verification, as the server runs it: its claim with its answer (the link and
    the chain's head, locked), then its audit entry with the commit. No BEGIN, no COMMIT."""
    server = live.server
    if not server.parts.db.postgresql:
        pytest.skip("a pipelined transaction is PostgreSQL's")
    caller = Caller(live.setup.kiosk_id, frozenset({"verify"}))
    drivers: list[Any] = []

    def kept(conn: Any, _cursor: object, statement: str, *_args: object) -> None:
        if statement == hotpath.CLAIM_AND_RECORD.sql:
            drivers.append(conn.connection.driver_connection)

    def verified() -> bool:
        nonce = server.verification.new_challenge(caller).nonce
        cert, signature = live.sign("linked", nonce, "2024000001")
        return bool(server.verification.verify(caller, "2024000001", nonce, cert, signature).match)

    event.listen(server.parts.db.engine, "before_cursor_execute", kept)
    try:
        assert verified()  # the kept connection, made
        with traced(drivers[0]) as messages:
            assert verified()
    finally:
        event.remove(server.parts.db.engine, "before_cursor_execute", kept)
    assert drivers[0] is drivers[1]
    assert round_trips(messages) == 2
    assert len(sent(messages, "Execute")) == 2  # the claim and record; the audit entry with the head moved
    assert sent(messages, "Query") == [] and len(sent(messages, "Sync")) == 1  # no BEGIN, no COMMIT
    assert sent(messages, "Parse") == []  # prepared by the first verification on this connection
    # Asked to flush once, for the claim's answer; the entry goes with the Sync, which is the end.
    client = [message for direction, message in messages if direction == "F"]
    assert client == ["Bind", "Describe", "Execute", "Flush", "Bind", "Describe", "Execute", "Sync"]
