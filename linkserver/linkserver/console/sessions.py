"""The console's sessions: a random token in an HttpOnly cookie, only its hash in the database.

A session passes through stages: ``second_factor`` or ``enrol`` once the password was right, then
``signed_in`` once the TOTP code was. The token is replaced at each stage (no fixation), and each
session has its own CSRF token. A signed-in session ends after ``IDLE`` without a request or
``ABSOLUTE`` after the sign-in, whichever comes first; an unfinished one after ``UNFINISHED``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete

from linkserver.db import Database
from linkserver.models import ConsoleSession

IDLE = dt.timedelta(minutes=15)
ABSOLUTE = dt.timedelta(hours=10)
UNFINISHED = dt.timedelta(minutes=10)
SIGNED_IN = "signed_in"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class ConsoleUser:
    """The session a request's cookie names, as it stands."""

    token: str
    staff_id: str
    stage: str
    csrf: str
    pending_totp: bytes | None

    @property
    def signed_in(self) -> bool:
        return self.stage == SIGNED_IN

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and secrets.compare_digest(given.encode(), self.csrf.encode())


class ConsoleSessions:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime]) -> None:
        self.db = db
        self.clock = clock

    def start(self, staff_id: str, stage: str, pending_totp: bytes | None = None) -> ConsoleUser:
        token, now = secrets.token_urlsafe(32), self.clock()
        csrf = secrets.token_urlsafe(32)
        with self.db.transaction() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
            session.add(ConsoleSession(token_hash=_hash(token), staff_id=staff_id, stage=stage,
                                       csrf_token=csrf, pending_totp=pending_totp, created_at=now,
                                       last_seen_at=now, expires_at=now + UNFINISHED))
        return ConsoleUser(token, staff_id, stage, csrf, pending_totp)

    def find(self, token: str | None, touch: bool = True) -> ConsoleUser | None:
        """The live session of ``token``, or None; an expired one is removed. With ``touch`` (a
        request the member made, not the live queue's own) its idle time restarts."""
        if not token:
            return None
        now = self.clock()
        with self.db.transaction() as session:
            row = session.get(ConsoleSession, _hash(token), with_for_update=True)
            if row is None:
                return None
            idle_out = row.stage == SIGNED_IN and now - row.last_seen_at >= IDLE
            if row.expires_at <= now or idle_out:
                session.delete(row)
                return None
            if touch:
                row.last_seen_at = now
            return ConsoleUser(token, row.staff_id, row.stage, row.csrf_token, row.pending_totp)

    def advance(self, user: ConsoleUser, stage: str) -> ConsoleUser:
        """The next stage under a new token (and a new CSRF token); the old token stops working."""
        with self.db.transaction() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(user.token)))
        if stage != SIGNED_IN:
            return self.start(user.staff_id, stage, user.pending_totp)
        fresh = self.start(user.staff_id, stage)
        with self.db.transaction() as session:
            row = session.get(ConsoleSession, _hash(fresh.token))
            assert row is not None
            row.expires_at = row.created_at + ABSOLUTE
        return fresh

    def end(self, user: ConsoleUser) -> None:
        with self.db.transaction() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(user.token)))
