"""The console's sessions over the server's database: a new token at each step, the idle and the
absolute expiry at their exact moments, an unfinished sign-in's shorter life, nothing but a hash
stored."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from linkserver.anchor import install
from linkserver.audit import AuditAnchor
from linkserver.console.sessions import ABSOLUTE, IDLE, SIGNED_IN, UNFINISHED, ConsoleSessions
from linkserver.db import Database
from linkserver.models import ConsoleSession
from linkserver.staff import StaffDirectory, TotpSealer
from tests.linkserver.helpers import Clock

T0 = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(follows=lambda: T0)


@pytest.fixture
def sessions(tmp_path: Path, clock: Clock) -> Iterator[ConsoleSessions]:
    db = Database(f"sqlite:///{tmp_path / 'console.db'}")
    db.migrate()
    install(db, AuditAnchor(key=b"k" * 32))
    StaffDirectory(db, TotpSealer(b"s" * 32), clock).add("hanako", "Hanako", "desk", "a long passphrase")
    yield ConsoleSessions(db, clock)
    db.dispose()


def test_each_step_has_a_new_token_and_only_hashes_are_stored(sessions: ConsoleSessions) -> None:
    unfinished = sessions.start("hanako", "second_factor")
    signed_in = sessions.advance(unfinished, SIGNED_IN)
    assert signed_in.token != unfinished.token and signed_in.csrf != unfinished.csrf
    assert sessions.find(unfinished.token) is None  # the token of the step before works no more
    found = sessions.find(signed_in.token)
    assert found is not None and found.signed_in and found.staff_id == "hanako"
    with sessions.db.transaction() as session:
        stored = session.scalars(select(ConsoleSession.token_hash)).all()
    assert stored == [hashlib.sha256(signed_in.token.encode()).hexdigest()]
    assert found.csrf_ok(signed_in.csrf) and not found.csrf_ok(unfinished.csrf) and not found.csrf_ok(None)


def test_an_unfinished_sign_in_lasts_ten_minutes(sessions: ConsoleSessions, clock: Clock) -> None:
    user = sessions.start("hanako", "enrol", b"sealed")
    clock.advance(UNFINISHED.total_seconds() - 1)
    found = sessions.find(user.token)
    assert found is not None and found.pending_totp == b"sealed"
    clock.advance(1)
    assert sessions.find(user.token) is None


def test_the_idle_expiry_restarts_only_with_the_members_own_requests(sessions: ConsoleSessions,
                                                                    clock: Clock) -> None:
    user = sessions.advance(sessions.start("hanako", "second_factor"), SIGNED_IN)
    clock.advance(IDLE.total_seconds() - 1)
    assert sessions.find(user.token, touch=False) is not None  # the live queue's look: no activity
    clock.advance(1)
    assert sessions.find(user.token) is None


def test_activity_keeps_a_session_only_up_to_its_absolute_end(sessions: ConsoleSessions,
                                                              clock: Clock) -> None:
    user = sessions.advance(sessions.start("hanako", "second_factor"), SIGNED_IN)
    step = IDLE.total_seconds() - 60
    while clock() + dt.timedelta(seconds=step) < T0 + ABSOLUTE:
        clock.advance(step)
        assert sessions.find(user.token) is not None
    clock.offset = ABSOLUTE
    assert sessions.find(user.token) is None


def test_signing_out_ends_the_session(sessions: ConsoleSessions) -> None:
    user = sessions.advance(sessions.start("hanako", "second_factor"), SIGNED_IN)
    sessions.end(user)
    assert sessions.find(user.token) is None
    assert sessions.find("") is None and sessions.find(None) is None
