"""No new password is taken unless its password reset is approved, still open, and sent by the
kiosk session that asked for it; over HTTP, on SQLite and on PostgreSQL.

Each way a password can come too early (staff have not decided), after the operation ended (staff
refused, the kiosk cancelled it while waiting or after approval, its keep-alives stopped, the
password window passed) or from the wrong place (no session key, another operation's key, another
kiosk) is refused with its code; right after the refusal the account's stored password (its hash
and when it last changed, as the directory's table holds them) is what it was before. Time passes
on the server's clock, so nothing here sleeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from linkserver.config import Lifetimes
from linkserver.passwords import password_matches
from tests.helpers.server_api import NEW_PASSWORD, decide, register_kiosk, stored_password, verified
from tests.linkserver.helpers import LiveServer

LIFETIMES = Lifetimes()  # the server's defaults, which the shared server keeps


@dataclass
class Pending:
    """A password reset as the kiosk session that asked for it holds it."""

    live: LiveServer
    folder: Path
    kiosk: httpx2.Client
    operation_id: str
    session_key: str

    def url(self, action: str = "") -> str:
        return self.live.url(f"/v1/operations/{self.operation_id}" + (f"/{action}" if action else ""))

    def decide(self, approve: bool = True) -> None:
        answer = decide(self.live, self.live.minted_staff(), self.operation_id, approve)
        assert answer.status_code == 200, answer.text

    def cancel(self) -> None:
        answer = self.kiosk.post(self.url("cancel"), headers={"Session-Key": self.session_key},
                                 json={"reason": "user_cancelled"})
        assert answer.status_code == 200 and answer.json()["status"] == "cancelled", answer.text


def requested(live: LiveServer, folder: Path) -> Pending:
    kiosk = live.minted()  # on the server's clock, which earlier tests may have moved on
    answer = live.operation(kiosk, "password_reset", verified(live, kiosk))
    assert answer.status_code == 201 and answer.json()["status"] == "awaiting_approval", answer.text
    return Pending(live, folder, kiosk, answer.json()["operation_id"], answer.json()["session_key"])


#: What happens before the password comes; who sends it then, with which session key.
Route = Callable[[Pending], tuple[httpx2.Client, str | None]]


def before_approval(op: Pending) -> tuple[httpx2.Client, str | None]:
    return op.kiosk, op.session_key


def refused_by_staff(op: Pending) -> tuple[httpx2.Client, str | None]:
    op.decide(approve=False)
    return op.kiosk, op.session_key


def cancelled_while_waiting(op: Pending) -> tuple[httpx2.Client, str | None]:
    op.cancel()
    return op.kiosk, op.session_key


def cancelled_after_approval(op: Pending) -> tuple[httpx2.Client, str | None]:
    op.decide()
    op.cancel()
    return op.kiosk, op.session_key


def keepalives_stopped(op: Pending) -> tuple[httpx2.Client, str | None]:
    op.live.clock.advance(LIFETIMES.keepalive_timeout_seconds + 1)
    return op.live.minted(), op.session_key


def window_passed(op: Pending) -> tuple[httpx2.Client, str | None]:
    op.decide()
    op.live.clock.advance(LIFETIMES.password_window_seconds + 1)
    return op.live.minted(), op.session_key


def no_session_key(op: Pending) -> tuple[httpx2.Client, str | None]:
    op.decide()
    return op.kiosk, None


def another_operations_key(op: Pending) -> tuple[httpx2.Client, str | None]:
    op.decide()
    return op.kiosk, requested(op.live, op.folder).session_key


def another_kiosk(op: Pending) -> tuple[httpx2.Client, str | None]:
    op.decide()
    client_id = f"kiosk-other-{uuid.uuid4().hex[:8]}"
    register_kiosk(op.live, op.folder, client_id)
    return op.live.minted(client_id), op.session_key  # with the right key, even


ROUTES = [  # the route; the answer's status and code; the operation's status and error code after it
    (before_approval, 409, "wrong_state", "awaiting_approval", None),
    (refused_by_staff, 409, "wrong_state", "refused", None),
    (cancelled_while_waiting, 409, "operation_cancelled", "cancelled", None),
    (cancelled_after_approval, 409, "operation_cancelled", "cancelled", None),
    (keepalives_stopped, 409, "operation_expired", "expired", "kiosk_gone"),
    (window_passed, 409, "operation_expired", "expired", "password_window_passed"),
    (no_session_key, 403, "session_key_invalid", "approved", None),
    (another_operations_key, 403, "session_key_invalid", "approved", None),
    (another_kiosk, 404, "operation_unknown", "approved", None),
]


@pytest.mark.parametrize(("route", "status", "error", "state", "reason"), ROUTES,
                         ids=[route[0].__name__ for route in ROUTES])
def test_a_refused_password_leaves_the_stored_one_as_it_was(
        shared_live: LiveServer, tmp_path: Path, route: Route, status: int, error: str, state: str,
        reason: str | None) -> None:
    op = requested(shared_live, tmp_path)
    client, key = route(op)
    password = f"{NEW_PASSWORD}-{uuid.uuid4().hex[:8]}"  # this test's own, whatever another left
    before = stored_password(shared_live)
    answer = client.post(op.url("password"), json={"new_password": password},
                         headers={"Session-Key": key} if key else {})
    assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
    assert stored_password(shared_live) == before  # right after the refusal
    assert not password_matches(before[0], password)
    seen = shared_live.minted().get(op.url()).json()
    assert (seen["status"], seen["error_code"]) == (state, reason)
