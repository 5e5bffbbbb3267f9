"""The user's password is checked before the device grant's row is locked: argon2 (or a bind to
the directory) takes a tenth of a second, and under the lock every other request for the grant (on
SQLite, every other writer) would wait for it.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from linkserver.demo import DEMO_PASSWORD
from linkserver.models import DeviceAuthorization
from tests.helpers.server_api import UNLINKED, DeviceFlow
from tests.linkserver.helpers import LiveServer


def grant_free(live: LiveServer) -> bool:
    """Whether another writer could take the grant's row now, without waiting."""
    url = live.setup.settings.database_url
    if url.startswith("sqlite"):
        other = sqlite3.connect(str(make_url(url).database), timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError as exc:
            assert "database is locked" in str(exc)
            return False
        finally:
            other.close()
    with live.server.parts.db.transaction() as session:
        try:
            session.execute(select(DeviceAuthorization).with_for_update(nowait=True))
            return True
        except OperationalError as exc:
            assert "could not obtain lock" in str(exc)
            return False


def test_the_password_is_checked_with_no_lock_held(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = live.server.parts.directory
    real_check = directory.check_password
    free_while_checking: list[bool] = []

    def spied(session: Session, account_id: str, password: str) -> bool:
        free_while_checking.append(grant_free(live))
        return real_check(session, account_id, password)

    monkeypatch.setattr(directory, "check_password", spied)
    flow = DeviceFlow(live)
    grant = flow.start()
    assert flow.sign_in(grant["user_code"], UNLINKED, "not the password").status_code == 403  # wrong
    assert flow.sign_in(grant["user_code"], UNLINKED, DEMO_PASSWORD).status_code == 200
    assert free_while_checking == [True, True]
    answer = flow.poll(grant["device_code"])
    assert answer.status_code == 200, answer.text
