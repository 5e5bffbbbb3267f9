"""Token-bucket rate limits, per key (a kiosk, an account, a client address), kept in the database.

Every worker process counts in the same row (``rate_buckets``), so a deployment of N workers
allows exactly the configured rate, not N times it. A bucket is one row: its tokens and when they
were last counted; one ``INSERT ... ON CONFLICT DO UPDATE`` refills it for the time gone by, spends
a token if there is one, and says whether there was, under the row's lock. The hot path counts in
the transaction that does the request's own work, so a limit costs one statement, not a
transaction of its own.

Keys are stored as SHA-256 digests of the limiter's name and the key: a bucket says nothing of
whose it is, and a long claimed client ID costs the same 32 bytes as any other.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from sqlalchemy import TextClause, delete, text
from sqlalchemy.orm import Session

from linkserver.db import Database, UnitOfWork
from linkserver.errors import ApiError, ErrorCode
from linkserver.models import RateBucket

_CHECK = "SELECT tokens, updated_at FROM rate_buckets WHERE bucket = :bucket"
#: Each dialect's words for the smaller and the larger of two numbers.
_EXTREMES = {"postgresql": ("LEAST", "GREATEST"), "sqlite": ("min", "max")}


def spend_sql(dialect: str, prefix: str = "", rows: str | None = None) -> str:
    """The statement that counts one request in a bucket, returning its tokens and whether it was
    refused; its parameters are ``RateLimiter.parameters(key, prefix)``.

    It refills the bucket for the time since it was last counted, spends a token when at least one
    is there, and notes whether the request was refused;
    a new bucket starts full. A bucket's clock only moves forward (workers' clocks may differ by a
    little). ``rows`` replaces the ``VALUES`` row, so that a statement of several parts (on
    PostgreSQL) can count only when an earlier part found something.
    """
    least, greatest = _EXTREMES[dialect]

    def param(name: str) -> str:
        return f":{prefix}{name}"

    refilled = (f"{least}({param('capacity')}, rate_buckets.tokens + "
                f"{greatest}({param('now')} - rate_buckets.updated_at, 0) * {param('rate')})")
    rows = rows or f"VALUES ({param('bucket')}, {param('capacity')} - 1, {param('now')}, false)"
    return f"""INSERT INTO rate_buckets (bucket, tokens, updated_at, refused)
{rows}
ON CONFLICT (bucket) DO UPDATE SET
    tokens = CASE WHEN {refilled} >= 1 THEN {refilled} - 1 ELSE {refilled} END,
    refused = {refilled} < 1,
    updated_at = {greatest}({param('now')}, rate_buckets.updated_at)
RETURNING tokens, refused"""


def spend_statement(dialect: str) -> TextClause:
    """``spend_sql(dialect)``; SQLAlchemy compiles the same text once and reuses it."""
    return text(spend_sql(dialect))


CHECK = text(_CHECK)


class RateLimiter:
    """Allows ``capacity`` requests per ``period`` seconds for each key, refilled continuously.

    ``name`` keeps the buckets of different limiters apart (a kiosk's requests and an address's
    refusals may share a key's words).
    """

    def __init__(self, db: Database, name: str, capacity: int, period: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.name = name
        self.capacity = capacity
        self.period = period
        self.rate = capacity / period
        self._clock = clock

    def bucket(self, key: str) -> bytes:
        return hashlib.sha256(f"{self.name}\0{key}".encode()).digest()

    def take(self, key: str, what: str, session: UnitOfWork | None = None) -> None:
        """Spend one token for ``key`` or raise ApiError (``rate_limited``) with the seconds to wait.

        With ``session`` the token is counted in that transaction (and given back if it rolls
        back); without, in a transaction of its own.
        """
        if session is None:
            self.db.run(lambda own: self.take(key, what, own))
            return
        connection = session.connection()
        row = connection.execute(spend_statement(connection.dialect.name), self.parameters(key)).one()
        if row.refused:
            raise self.refusal(row.tokens, what)

    def check(self, key: str, what: str, session: Session | None = None) -> None:
        """Raise as ``take`` would when ``key`` has no token left, without spending one."""
        if session is None:
            self.db.run(lambda own: self.check(key, what, own), write=False)
            return
        row = session.connection().execute(CHECK, {"bucket": self.bucket(key)}).first()
        if row is not None:
            elapsed = max(self._clock() - row.updated_at, 0)
            tokens = min(float(self.capacity), row.tokens + elapsed * self.rate)
            if tokens < 1:
                raise self.refusal(tokens, what)

    def parameters(self, key: str, prefix: str = "") -> dict[str, object]:
        """The parameters of ``spend_sql(dialect, prefix)`` that count one request for ``key``."""
        return {f"{prefix}bucket": self.bucket(key), f"{prefix}capacity": float(self.capacity),
                f"{prefix}rate": self.rate, f"{prefix}now": self._clock()}

    def refusal(self, tokens: float, what: str) -> ApiError:
        """The 429 for a bucket left with ``tokens``: how long until the next token."""
        wait = max(1, math.ceil((1 - tokens) / self.rate))
        return ApiError(ErrorCode.RATE_LIMITED, 429, f"too many requests for this {what}; retry in {wait} s",
                        {"retry_after": wait})


def forget_full_buckets(session: Session, now: float, longest_period: float) -> None:
    """Delete the buckets nobody counted in for ``longest_period`` seconds: they are full again,
    which is what a missing bucket means."""
    session.execute(delete(RateBucket).where(RateBucket.updated_at < now - longest_period))
