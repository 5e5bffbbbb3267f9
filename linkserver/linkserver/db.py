"""The database: engine setup for SQLite and PostgreSQL, transactions, and Alembic migrations."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg.pq import ExecStatus
from psycopg.rows import RowMaker, no_result
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import TextClause

from linkserver.wire import Wire, WireStatement, forget

MIGRATIONS = Path(__file__).with_name("migrations")
#: How often ``Database.run`` tries a unit of work that the database aborted as a deadlock or a
#: serialisation failure, and the first pause between tries (doubled each time, with jitter).
ATTEMPTS = 4
FIRST_PAUSE = 0.01
#: PostgreSQL's SQLSTATEs for a serialisation failure and a deadlock: the work may simply run again.
CONFLICT_STATES = frozenset({"40001", "40P01"})
#: How long a pooled PostgreSQL connection may sit idle before it is checked again before use.
IDLE_PING_SECONDS = 2.0
IDLE_SINCE = "linkserver_idle_since"
#: The execution option that makes a SQLite transaction a reader (a plain, deferred BEGIN).
READ_ONLY = "linkserver_read_only"
#: Where a pooled PostgreSQL connection keeps the cursors of the statements run on its driver.
_CURSORS = "linkserver_driver_cursors"

logger = logging.getLogger(__name__)
T = TypeVar("T")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and serialised write transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            create_private(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection before use when it sat idle for ``IDLE_PING_SECONDS``: one that
    the database dropped meanwhile (a restart, an idle timeout) is replaced, not handed to a
    request. A connection in steady use is not pinged: that round trip would be one more per
    transaction. A connection given back also forgets what a pipelined transaction prepared on it
    (``linkserver.wire.forget``)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[IDLE_SINCE] = time.monotonic()
        forget(record.info)  # its prepared statements may not outlive other hands

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: object) -> None:
        since = record.info.get(IDLE_SINCE)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        if not _answers(dbapi_connection):
            raise DisconnectionError("the pooled connection no longer answers")


def _answers(dbapi_connection: Any) -> bool:
    """Whether a driver connection still answers a round trip."""
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception:
        return False
    return True


def create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600), before SQLite would create it
    with the umask's mode; its journal files take the same mode from it."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE below is what starts one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A transaction that may write takes the write lock up front, so two requests never both
        # read the audit chain's head and then fight over who appends. A reader takes none: in
        # WAL mode it reads its snapshot beside the writer.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def is_conflict(exc: BaseException) -> bool:
    """Whether the database aborted the work only because of concurrent work: a PostgreSQL
    deadlock or serialisation failure, or SQLite's write lock not had in time."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in CONFLICT_STATES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


_PSYCOPG = psycopg_dialect()  # type: ignore[no-untyped-call]


class DriverStatement:
    """A PostgreSQL statement of the hot path (``linkserver.hotpath``, the audit chain's head and
    insert), run by psycopg itself on a session's connection (``on_driver``): SQLAlchemy's
    execution layers cost about as much CPU again as the driver's.

    It is written as SQLAlchemy text (``:name`` parameters) and compiled once to psycopg's form
    (and to libpq's, for a pipelined transaction: ``wire``). Its rows are named tuples of one
    type, however it runs, made from the first result's column names and kept
    (``WireStatement.make_row``): psycopg's ``namedtuple_row`` would look the type up again from
    the names on every execution.
    """

    def __init__(self, statement: TextClause) -> None:
        self.sql = str(statement.compile(dialect=_PSYCOPG))
        self.wire = WireStatement(self.sql)

    def rows(self, cursor: Any) -> RowMaker[Any]:
        """psycopg's row factory for this statement's cursor."""
        return self.wire.make_row(cursor.pgresult) if _has_rows(cursor) else no_result


class UnitOfWork(Protocol):
    """What the work of every pair uses of its transaction: an ORM ``Session``, or, on a kept
    PostgreSQL connection, a ``KeptWork`` (``Database.run_kept``)."""

    @property
    def info(self) -> dict[Any, Any]:
        """Values the transaction's hooks share (the audit chain's queue)."""

    def connection(self) -> Connection:
        """The connection the transaction runs on."""

    def get_nested_transaction(self) -> object | None:
        """The innermost savepoint, if one is open."""

    def flush(self) -> None:
        """Send the changes to objects held, if any are."""


class KeptWork:
    """One transaction on a kept PostgreSQL connection (``Database.run_kept``), with no ORM
    session: a pipelined transaction (``_pipelined``), and the hooks a session's commit would
    run (``Database.kept_hooks``). It holds no objects, so nothing is flushed, and it opens no
    savepoints. Making and committing a session cost about as much CPU as a statement; the work
    of every pair needs neither its objects nor its savepoints."""

    __slots__ = ("_connection", "info", "wire")

    def __init__(self, connection: Connection, info: Mapping[Any, Any], wire: Wire) -> None:
        self._connection = connection
        self.info: dict[Any, Any] = dict(info)
        #: Where its statements go (``on_driver``, ``on_driver_many``).
        self.wire = wire

    def connection(self) -> Connection:
        return self._connection

    def get_nested_transaction(self) -> None:
        return None

    def flush(self) -> None:
        return None


def on_driver(session: UnitOfWork, statement: DriverStatement, parameters: Mapping[str, Any]) -> Any:
    """The first row (a named tuple) of ``statement`` run on the session's PostgreSQL connection,
    in its transaction; None when it returns no rows. What SQLAlchemy would do around it is kept:
    the engine's cursor events see the statement, a driver error comes out as SQLAlchemy's (so
    ``Database.run`` knows a conflict), and a connection the error broke is invalidated, not
    returned to the pool. In a pipelined transaction (a ``KeptWork``), the statement goes through
    its ``Wire``, and reading its answer is a round trip."""
    if type(session) is KeptWork:
        return _on_wire(session, statement, parameters)
    return _first_row(session.connection(), statement, parameters)


def _on_wire(unit: KeptWork, statement: DriverStatement, parameters: Mapping[str, Any],
             *, read: bool = True) -> Any:
    connection = unit.connection()
    _announce(connection, None, statement.sql, parameters, many=False)
    try:
        if read:
            return unit.wire.first_row(statement.wire, parameters)
        unit.wire.send(statement.wire, parameters)
        return None
    except psycopg.Error as exc:
        raise _driver_error(connection, exc, statement.sql, parameters) from exc


def _first_row(connection: Connection, statement: DriverStatement, parameters: Mapping[str, Any]) -> Any:
    with _driver_cursor(connection, statement, parameters, many=False) as cursor:
        cursor.execute(statement.sql, parameters)
        return cursor.fetchone() if _has_rows(cursor) else None


def _has_rows(cursor: Any) -> bool:
    """Whether the cursor's last result is one with rows (perhaps none of them), read from its
    status: psycopg's ``description`` would build the columns' descriptions to say the same."""
    result = cursor.pgresult
    return result is not None and result.status == ExecStatus.TUPLES_OK


def on_driver_many(session: UnitOfWork, statement: DriverStatement,
                   rows: Sequence[Mapping[str, Any]]) -> None:
    """``statement`` run once for each of ``rows`` (as ``on_driver``; one row is one plain execution).
    In a pipelined transaction, their answers are not read: they go with the Sync that commits."""
    if type(session) is KeptWork:
        for row in rows:
            _on_wire(session, statement, row, read=False)
        return
    with _driver_cursor(session.connection(), statement, rows, many=len(rows) > 1) as cursor:
        if len(rows) == 1:
            cursor.execute(statement.sql, rows[0])
        elif rows:
            cursor.executemany(statement.sql, rows)


@contextmanager
def _driver_cursor(connection: Connection, statement: DriverStatement, parameters: Any, *,
                   many: bool) -> Iterator[Any]:
    driver: Any = connection.connection.driver_connection  # a psycopg.Connection
    cursors = _kept_cursors(connection, driver)
    cursor = cursors.get(statement)
    if cursor is None:
        cursor = cursors[statement] = driver.cursor(row_factory=statement.rows)
    try:
        _announce(connection, cursor, statement.sql, parameters, many=many)
        yield cursor
    except psycopg.Error as exc:
        del cursors[statement]  # a cursor a statement failed on is not used again
        raise _driver_error(connection, exc, statement.sql, parameters, cursor) from exc


def _announce(connection: Connection, cursor: Any, sql: str, parameters: Any, *, many: bool) -> None:
    """Tell the engine's ``before_cursor_execute`` listeners of a statement run on the driver, as
    SQLAlchemy would (with no execution context: the statement is not SQLAlchemy's)."""
    if connection.dispatch.before_cursor_execute:
        connection.dispatch.before_cursor_execute(connection, cursor, sql, parameters, None, many)


def _driver_error(connection: Connection, exc: psycopg.Error, sql: str, parameters: Any,
                  cursor: Any = None) -> DBAPIError:
    """A psycopg error as SQLAlchemy would raise it, the cursor it came from closed, and the
    connection invalidated when the error broke it."""
    driver: Any = connection.connection.driver_connection
    broken = connection.dialect.is_disconnect(cast(Any, exc), driver, cursor)
    if cursor is not None:
        cursor.close()
    if broken:
        connection.invalidate(exc)
    return cast(DBAPIError, DBAPIError.instance(sql, parameters, exc, psycopg.Error,
                                                connection_invalidated=broken, dialect=connection.dialect))


def _kept_cursors(connection: Connection, driver: Any) -> dict[DriverStatement, Any]:
    """The cursors this psycopg connection keeps, one for each statement run on it. A fresh cursor
    looks up again how to send each parameter's type and read each column's: about 10 µs per
    statement of the hot path. The pool's record of the connection holds them; it is cleared when
    the connection is replaced, and the connection checked too, so no cursor outlives its own."""
    info = connection.connection.info
    kept = info.get(_CURSORS)
    if kept is None or kept[0] is not driver:
        kept = info[_CURSORS] = (driver, {})
    return cast(dict[DriverStatement, Any], kept[1])


@contextmanager
def _pipelined(connection: Connection) -> Iterator[Wire]:
    """One transaction of pipelined statements on an autocommit PostgreSQL connection, sent on its
    ``Wire``: the statements run (``on_driver``, ``on_driver_many``) are sent without a ``BEGIN``,
    each one's result read only when it is asked for, and the transaction is committed by the
    Sync that ends the pipeline, with the last statements' results. Every pair's verification thus
    takes two round trips (its statement with its answer; the audit entry with the commit) rather
    than four (``BEGIN``, statement, entry, ``COMMIT``), and two writes to the socket.

    The server runs everything up to the Sync as one transaction (PostgreSQL's protocol: "an
    implicit transaction block"); after an error it skips the rest, and the Sync rolls it back.
    When the work raises anything else, a ``ROLLBACK`` is sent before the Sync, which rolls it
    back (PostgreSQL notes it with the warning "there is no transaction in progress": the block
    had no ``BEGIN``). Statements run through SQLAlchemy would not see their results in a
    pipeline, so they are refused in it (``_not_pipelined``)."""
    driver: Any = connection.connection.driver_connection  # a psycopg.Connection, autocommit
    wire = Wire.of(connection.connection.info, driver)
    try:
        wire.begin()
        try:
            yield wire
        except BaseException as exc:
            if not (driver.closed or driver.broken):  # a broken connection has no transaction to end
                # After the database's own error, the Sync alone rolls the transaction back.
                wire.abandon(rollback=not isinstance(exc, DBAPIError | psycopg.Error))
            raise
        wire.commit()
    except psycopg.Error as exc:  # an error of a statement whose result was not read, or the connection's
        raise _driver_error(connection, exc, "(the statements of a pipelined transaction)", None) from exc
    finally:
        if not driver.closed and driver.pgconn.pipeline_status:  # left in the middle: of no more use
            connection.invalidate()


def _not_pipelined(connection: Connection, _cursor: Any, statement: str, _parameters: Any, context: Any,
                   _many: bool) -> None:
    """Refuse a statement run through SQLAlchemy (``context`` is its) in a pipelined transaction
    (``_pipelined``): its result would not have been read when SQLAlchemy looks at it."""
    if context is None:  # a statement of the driver's own (``_announce``)
        return
    driver: Any = connection.connection.driver_connection
    if driver.pgconn.pipeline_status:
        raise RuntimeError(f"a pipelined transaction runs its statements with on_driver, not: {statement}")


class HeldConnections:
    """PostgreSQL's connections for the work of every pair (``Database.alone``, ``Database.run_kept``):
    each thread that runs some keeps a connection of the pool for the next, rather than taking one
    and giving it back every time (which costs about as much CPU as a statement).

    As the pool does, a connection is checked with a round trip before use when it sat idle for
    ``IDLE_PING_SECONDS``, and one that no longer answers, or that an error broke, is dropped
    and replaced. ``close`` gives every kept connection back, its thread's or not.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._kept: list[Connection] = []

    def connection(self) -> Connection:
        """This thread's connection, checked or replaced as above."""
        local, now = self._local, time.monotonic()
        held: Connection | None = getattr(local, "connection", None)
        if held is not None and (held.invalidated or (now - local.used >= IDLE_PING_SECONDS
                                                     and not self._still_answers(held))):
            self._drop(held)
            held = None
        if held is None:
            held = self._engine.connect()
            with self._lock:
                self._kept.append(held)
            local.connection = held
        local.used = now
        return held

    @contextmanager
    def in_use(self) -> Iterator[Connection]:
        """This thread's connection, for one unit of work that may not start another on it."""
        local = self._local
        if getattr(local, "busy", False):
            raise RuntimeError("work run on a kept connection may not run more of it inside")
        connection = self.connection()
        local.busy = True
        try:
            yield connection
        finally:
            local.busy = False

    @staticmethod
    def _still_answers(held: Connection) -> bool:
        if _answers(held.connection.dbapi_connection):
            return True
        held.invalidate()
        return False

    def _drop(self, held: Connection) -> None:
        self._local.connection = None
        with self._lock:
            if held in self._kept:  # not when ``close`` gave it back meanwhile, from another thread
                self._kept.remove(held)
        held.close()

    def close(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, []
        for held in kept:
            held.close()
        self._local = threading.local()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_is_current(engine: Engine) -> bool:
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(script.get_heads())


class Database:
    """The engine and a session factory; ``transaction()`` is one unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = self.engine.execution_options(**{READ_ONLY: True})
        self.postgresql = is_postgresql(self.engine)
        # PostgreSQL only: a statement that commits by itself, with no BEGIN and COMMIT round trips,
        # and the (pipelined) transactions of every pair, each on connections their threads keep.
        self._alone: HeldConnections | None = None
        self._kept: HeldConnections | None = None
        if self.postgresql:
            self._alone = HeldConnections(self.engine.execution_options(isolation_level="AUTOCOMMIT"))
            pipelined = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            # On these connections only: they are the only ones ever pipelined.
            event.listen(pipelined, "before_cursor_execute", _not_pipelined)
            self._kept = HeldConnections(pipelined)
        self._before_kept_commit: list[Callable[[KeptWork], None]] = []
        self._after_kept_commit: list[Callable[[KeptWork], None]] = []

    def migrate(self) -> None:
        upgrade(self.engine)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction; ``write=False`` for work that only reads (on SQLite it then does not
        take the write lock)."""
        bind = self.engine if write else self._reader
        with self.sessions(bind=bind) as session, session.begin():
            yield session

    def run(self, work: Callable[[Session], T], *, write: bool = True) -> T:
        """``work(session)`` in a transaction of its own, run whole again (up to ``ATTEMPTS`` times,
        after a short random pause) when the database aborted it as a deadlock or a serialisation
        failure. ``work`` must do nothing outside its session that a second run would repeat."""

        def once() -> T:
            with self.transaction(write=write) as session:
                return work(session)

        return self._retrying(once)

    def run_kept(self, work: Callable[[UnitOfWork], T]) -> T:
        """``run`` (a writer), on PostgreSQL on the calling thread's kept connection
        (``HeldConnections``), in a ``KeptWork`` rather than a session, as a pipelined transaction
        (``_pipelined``): for the work every pair does. Its statements run through psycopg
        (``on_driver``, ``on_driver_many``). Work run this way may not run more of it inside (its
        transaction would be joined, not its own)."""
        if self._kept is None:
            return self.run(work)
        kept, info = self._kept, self.sessions.kw.get("info") or {}

        def once() -> T:
            with kept.in_use() as connection:
                with _pipelined(connection) as wire:
                    unit = KeptWork(connection, info, wire)
                    done = work(unit)
                    for hook in self._before_kept_commit:
                        hook(unit)
                for hook in self._after_kept_commit:
                    hook(unit)
                return done

        return self._retrying(once)

    def kept_hooks(self, *, before_commit: Callable[[KeptWork], None],
                   after_commit: Callable[[KeptWork], None]) -> None:
        """Run ``before_commit`` as each ``KeptWork`` is about to commit (its last statements go
        in its transaction) and ``after_commit`` once it has: what a session's ``before_commit``
        and ``after_commit`` events are to a session. A unit rolled back takes its ``info`` along."""
        self._before_kept_commit.append(before_commit)
        self._after_kept_commit.append(after_commit)

    def alone(self, statement: DriverStatement, parameters: Mapping[str, Any]) -> Any:
        """PostgreSQL only: the first row (a named tuple, or None) of ``statement``, run by psycopg
        as a transaction of its own (autocommit: no BEGIN or COMMIT round trip) on the calling
        thread's kept connection (``HeldConnections``), with no session; tried again as ``run``
        would. Nothing can be audited in it. What ``on_driver`` keeps of SQLAlchemy, it keeps."""
        if self._alone is None:
            raise RuntimeError("a statement alone is PostgreSQL's; SQLite runs its work in a transaction")
        alone = self._alone

        def once() -> Any:
            return _first_row(alone.connection(), statement, parameters)

        return self._retrying(once)

    def _retrying(self, once: Callable[[], T]) -> T:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return once()
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not is_conflict(exc):
                    raise
                logger.info("the database aborted a transaction for concurrent work (%s); trying again",
                            type(exc.orig).__name__)
                time.sleep(random.uniform(0.5, 1.0) * FIRST_PAUSE * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def ping(self) -> None:
        """A round trip to the database; raises when it does not answer."""
        with self.transaction(write=False) as session:
            session.execute(text("SELECT 1"))

    def release_kept(self) -> None:
        """Give back to the pool every connection threads kept (``HeldConnections``)."""
        for held in (self._alone, self._kept):
            if held is not None:
                held.close()

    def dispose(self) -> None:
        self.release_kept()
        self.engine.dispose()
