"""The kiosk database: a SQLite engine in WAL mode, read and write transactions, and migrations.

Every connection runs with ``journal_mode=WAL`` (readers never block the writer),
``synchronous=FULL`` (a commit is on disk, WAL fsynced, before it returns: the outbox's promise),
``foreign_keys=ON`` and a busy timeout. A transaction that may write starts with
``BEGIN IMMEDIATE``: it takes the write lock before reading anything, so two threads or processes
never both read the audit chain's head or the counter and then fight over who writes (a deferred
transaction upgrading its lock fails at once with "database is locked" instead of waiting).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
#: The newest migration's revision. A store already there opens without loading Alembic (a test
#: checks this is the migrations' head).
HEAD_REVISION = "0003"
#: How long a transaction waits for another writer before giving up, in seconds.
BUSY_TIMEOUT = 30.0
#: The execution option that marks an engine's transactions as writers.
WRITE_OPTION = "kiosk_store_write"


class StoreError(Exception):
    """The kiosk store cannot do what was asked (closed, unusable file, bad configuration)."""


def make_engine(path: Path | str) -> Engine:
    """An engine for the SQLite file at ``path`` with the pragmas and transaction control above."""
    path = Path(path)
    _create_private(path)
    engine = create_engine(
        URL.create("sqlite", database=str(path)),
        connect_args={"timeout": BUSY_TIMEOUT, "check_same_thread": False},
    )
    _configure(engine)
    return engine


def _create_private(path: Path) -> None:
    # SQLite gives the -wal and -shm files the main file's mode, so creating it owner-only keeps
    # sealed evidence and the audit log away from other local users.
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _configure(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # Take transaction control from the driver, so the BEGIN below is what starts one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # The busy timeout first: switching a new file to WAL needs a lock another process
            # opening the same file at the same moment may hold.
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
            mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StoreError(f"the database cannot use WAL (journal mode {mode!r})")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # A plain BEGIN still gives a read a consistent snapshot across its statements.
            connection.exec_driver_sql("BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions begin with ``BEGIN IMMEDIATE``."""
    return engine.execution_options(**{WRITE_OPTION: True})


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string().replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration, under the write lock.

    Several processes opening the same file at once take turns: the first migrates, the others
    then find the schema current and do nothing.
    """
    from alembic import command

    config = alembic_config(engine)
    with writer(engine).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def at_head(engine: Engine) -> bool:
    """Whether the schema is already at ``HEAD_REVISION`` (read with one query, no Alembic)."""
    try:
        with engine.connect() as connection:
            revisions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except OperationalError:  # no schema yet
        return False
    return revisions == [HEAD_REVISION]


def schema_is_current(engine: Engine) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(script.get_heads())


class Database:
    """One engine for the kiosk file and short transactions on it; safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.engine = make_engine(self.path)
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(writer(self.engine), expire_on_commit=False)

    def migrate(self) -> None:
        if not at_head(self.engine):
            upgrade(self.engine)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work on a consistent snapshot."""
        with self._reads() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work holding the write lock from its first statement; committed on exit."""
        with self._writes() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
