"""The statements of a pipelined transaction, sent on libpq itself (``db.Database.run_kept``).

psycopg's own pipeline sends every statement the moment it is executed, asks the server to flush
with a message of its own before it reads an answer, and does so again after the Sync: five
writes to the socket and eight polls for a transaction of two statements whose first answer is
needed before the second is sent. Two writes are enough: the statement with its request to flush,
and the second statement with the Sync. Each write on loopback costs the sender the kernel's work
for both ends, and this is every pair's transaction, so it is driven here on psycopg's libpq
connection (``psycopg.pq.PGconn``), with psycopg's own adaptation of parameters and results
(``psycopg.adapt.Transformer``) and its own errors.

A statement is prepared on the connection the first time it runs there with its parameters'
types (as psycopg prepares one), in the same write as its first execution, under a name of this
module's (``linkserver_1``, ...), so as not to meet psycopg's own prepared statements. The names
are counted for the whole process, and a connection given back to the pool forgets its ``Wire``
(``forget``): in other hands psycopg may deallocate every prepared statement (it does so after
some rollbacks), so the connection prepares its statements again, under new names, when it is
kept again.
"""

from __future__ import annotations

import itertools
import re
import select
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

ExecStatus = pq.ExecStatus
#: Where a pooled connection's record keeps its ``Wire``.
_WIRE = "linkserver_wire"
#: The numbers of prepared statements' names, for the whole process.
_NAMES = itertools.count(1)
#: A statement prepared on a connection: its text and its parameters' types.
Key = tuple[bytes, tuple[int, ...] | None]
_PARAMETER = re.compile(r"%\((\w+)\)s|%%")


class WireStatement:
    """A statement in psycopg's ``%(name)s`` form, as libpq takes it: ``$1``, ... and the names
    of the parameters in that order."""

    __slots__ = ("_make_row", "names", "sql")

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "%"
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _PARAMETER.sub(number, sql).encode()
        self.names = tuple(names)
        self._make_row: Callable[[Any], Any] | None = None

    def make_row(self, result: pq.abc.PGresult) -> Callable[[Any], Any]:
        """The named tuple type of this statement's rows, made from its first result's columns."""
        if self._make_row is None:
            columns = [(result.fname(i) or b"").decode() for i in range(result.nfields)]
            row_type: Any = namedtuple("Row", columns, rename=True)  # type: ignore[misc]
            self._make_row = row_type._make
        return self._make_row


class Wire:
    """One connection's pipelined transactions: ``begin``, statements (``first_row``, ``send``),
    then ``commit`` or ``abandon``. Made once per connection (``Wire.of``): it keeps which
    statements the connection has prepared."""

    def __init__(self, driver: psycopg.Connection[Any]) -> None:
        self._driver = driver
        self._pgconn = driver.pgconn
        self._transformer = Transformer(driver)
        self._prepared: dict[Key, bytes] = {}
        #: What the server will answer, in order, not read yet: a statement being prepared (the
        #: key it is prepared under) or a statement run (None).
        self._awaited: list[Key | None] = []
        self._poll = select.poll()
        self._poll.register(self._pgconn.socket, select.POLLIN)

    def begin(self) -> None:
        self._awaited.clear()
        self._pgconn.enter_pipeline_mode()

    def first_row(self, statement: WireStatement, parameters: Mapping[str, Any]) -> Any:
        """Run ``statement`` and read its answer now: its first row (a named tuple), or None when it
        returned none. Raises the server's error, or that of an earlier statement not read yet."""
        self._queue(statement, parameters)
        self._pgconn.send_flush_request()
        self._flush()
        result = self._read_awaited()
        if result is None or result.status != ExecStatus.TUPLES_OK or result.ntuples == 0:
            return None
        transformer = self._transformer
        transformer.set_pgresult(result)
        return transformer.load_row(0, statement.make_row(result))

    def send(self, statement: WireStatement, parameters: Mapping[str, Any]) -> None:
        """Run ``statement`` without reading its answer: it goes with the next write (the Sync's)."""
        self._queue(statement, parameters)

    def commit(self) -> None:
        """End the transaction with a Sync, which commits it; raise the first error of a statement
        not read yet (then nothing was committed). The connection is out of pipeline mode after."""
        self._pgconn.pipeline_sync()
        self._flush()
        try:
            self._read_awaited()
        finally:
            self._finish()

    def abandon(self, *, rollback: bool) -> None:
        """End the transaction without committing it: ``rollback`` when no statement of it failed
        (the server would otherwise commit what ran at the Sync), then the Sync and every answer
        read, their errors ignored."""
        if rollback:
            self._pgconn.send_query_params(b"ROLLBACK", None)
            self._awaited.append(None)
        self._pgconn.pipeline_sync()
        self._flush()
        try:
            self._read_awaited(check=False)
        finally:
            self._finish()

    def _finish(self) -> None:
        """Read up to the Sync's answer and leave pipeline mode."""
        while True:
            result = self._next_result()
            if result.status == ExecStatus.PIPELINE_SYNC:
                break
        self._pgconn.exit_pipeline_mode()

    def _queue(self, statement: WireStatement, parameters: Mapping[str, Any]) -> None:
        values = [parameters[name] for name in statement.names]
        transformer = self._transformer
        dumped = transformer.dump_sequence(values, [PyFormat.AUTO] * len(values))
        types = transformer.types
        key = (statement.sql, types)
        name = self._prepared.get(key)
        if name is None:  # taken as prepared from now on; forgotten again if the server refuses it
            name = self._prepared[key] = b"linkserver_%d" % next(_NAMES)
            self._pgconn.send_prepare(name, statement.sql, types)
            self._awaited.append(key)
        self._pgconn.send_query_prepared(name, dumped, transformer.formats)
        self._awaited.append(None)

    def _read_awaited(self, *, check: bool = True) -> pq.abc.PGresult | None:
        """Read every answer awaited; return the last statement's (None when none was awaited).
        With ``check``, the first error among them is raised, after all of them were read."""
        failed: pq.abc.PGresult | None = None
        result: pq.abc.PGresult | None = None
        while self._awaited:
            key = self._awaited.pop(0)
            result = self._next_result()
            self._next_result(end=True)
            if result.status == ExecStatus.FATAL_ERROR and failed is None:
                failed = result
            if key is not None and result.status != ExecStatus.COMMAND_OK:
                self._prepared.pop(key, None)
        if check and failed is not None:
            raise errors.error_from_result(failed, encoding=self._driver.info.encoding)
        return result

    def _next_result(self, *, end: bool = False) -> Any:
        """The next result (or, with ``end``, the empty one that ends a statement's answer),
        waiting for the server as long as libpq needs more of its answer."""
        pgconn = self._pgconn
        while pgconn.is_busy():
            self._poll.poll()
            pgconn.consume_input()
        result = pgconn.get_result()
        if (result is None) != end:
            raise psycopg.OperationalError("the server's answer is out of step with the pipeline")
        return result

    def _flush(self) -> None:
        """Write what libpq holds, reading what the server sends meanwhile."""
        pgconn = self._pgconn
        while pgconn.flush():
            self._poll.modify(pgconn.socket, select.POLLIN | select.POLLOUT)
            try:
                if any(event & select.POLLIN for _fd, event in self._poll.poll()):
                    pgconn.consume_input()
            finally:
                self._poll.modify(pgconn.socket, select.POLLIN)

    @classmethod
    def of(cls, info: dict[Any, Any], driver: psycopg.Connection[Any]) -> Wire:
        """The ``Wire`` of ``driver``, kept in its pool record's ``info``: a replaced connection
        gets a new one."""
        kept = info.get(_WIRE)
        if kept is None or kept._driver is not driver:
            kept = info[_WIRE] = cls(driver)
        return kept


def forget(info: dict[Any, Any]) -> None:
    """Drop the ``Wire`` kept in a pool record's ``info``, as its connection goes back to the pool."""
    info.pop(_WIRE, None)
