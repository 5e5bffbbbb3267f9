"""An operation belongs to the kiosk session that asked for it, over HTTP on SQLite and PostgreSQL.

The session gets a one-time key with the operation; keep-alives, cancelling and the password need
it. An operation ends when the kiosk cancels it, when its keep-alives stop, or when an approved
password is not sent within its window; a staff decision arriving after that is refused (and a
password, each way it can be: ``test_api_password_refusals.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select, text

from kiosk.nfc.sim import TestHierarchy
from linkserver.config import Lifetimes
from linkserver.models import AuditEntry, Operation
from tests.helpers.server_api import (
    FORMER,
    LINKED,
    NEW_PASSWORD,
    decide,
    link_of,
    second_kiosk,
    stored_password,
    verified,
)
from tests.linkserver.helpers import LiveServer, live_server

SESSION_HEADER = "Session-Key"


def started(live: LiveServer, kiosk: httpx2.Client, kind: str = "unlink") -> tuple[str, str]:
    """A new operation awaiting staff: its ID and the session key that came with it."""
    answer = live.operation(kiosk, kind, verified(live, kiosk))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "awaiting_approval"
    return str(body["operation_id"]), str(body["session_key"])


def call(live: LiveServer, kiosk: httpx2.Client, op: str, action: str, key: str | None,
         **body: Any) -> httpx2.Response:
    headers = {SESSION_HEADER: key} if key is not None else {}
    return kiosk.post(live.url(f"/v1/operations/{op}/{action}"), headers=headers, json=body or None)


def audited(live: LiveServer, event: str) -> list[dict[str, Any]]:
    with live.server.parts.db.transaction() as session:
        rows = session.scalars(select(AuditEntry.details).where(AuditEntry.event == event)
                               .order_by(AuditEntry.seq))
        return [json.loads(row) for row in rows]


def test_creating_an_operation_hands_out_a_session_key_kept_only_as_a_hash(live: LiveServer) -> None:
    kiosk = live.kiosk()
    op, key = started(live, kiosk)
    assert len(key) == 43  # 32 random bytes, base64url
    with live.server.parts.db.transaction() as session:
        row = session.execute(select(*Operation.__table__.columns).where(Operation.operation_id == op)).one()
        details = " ".join(session.scalars(select(AuditEntry.details)))
    assert key not in str(tuple(row)) + details
    assert hashlib.sha256(key.encode()).hexdigest() in str(tuple(row))
    seen = kiosk.get(live.url(f"/v1/operations/{op}")).json()
    assert seen.get("session_key") is None  # handed out with the creation only


def test_cancel_ends_the_operation_once_and_is_audited(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    op, key = started(live, kiosk)
    first = call(live, kiosk, op, "cancel", key, reason="user_cancelled")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "cancelled"
    again = call(live, kiosk, op, "cancel", key, reason="interrupted")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    entries = [e for e in audited(live, "operation_cancelled") if e["operation_id"] == op]
    assert len(entries) == 1 and entries[0]["reason"] == "user_cancelled"
    assert staff.get(live.url("/v1/staff/operations")).json()["operations"] == []
    late = decide(live, staff, op)
    assert late.status_code == 409 and late.json()["error"] == "operation_cancelled"
    assert link_of(live, LINKED) is not None  # the unlink never ran


def test_cancelling_a_finished_operation_changes_nothing(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    op, key = started(live, kiosk)
    assert decide(live, staff, op).json()["status"] == "completed"
    before = len(audited(live, "operation_cancelled"))
    answer = call(live, kiosk, op, "cancel", key)
    assert answer.status_code == 200 and answer.json()["status"] == "completed"
    assert len(audited(live, "operation_cancelled")) == before


def test_only_the_session_that_asked_may_act(live: LiveServer, tmp_path: Path) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    op, key = started(live, kiosk, "password_reset")
    _other_op, other_key = started(live, kiosk, "mfa_reset")
    assert decide(live, staff, op).json()["status"] == "approved"
    before = stored_password(live)
    for wrong in (None, other_key, "A" * 43):
        for action, body in (("password", {"new_password": NEW_PASSWORD}), ("keepalive", {}), ("cancel", {})):
            answer = call(live, kiosk, op, action, wrong, **body)
            assert answer.status_code == 403, (action, answer.text)
            assert answer.json()["error"] == "session_key_invalid"
    stranger = second_kiosk(live, tmp_path)
    for action, body in (("password", {"new_password": NEW_PASSWORD}), ("keepalive", {}), ("cancel", {})):
        answer = call(live, stranger, op, action, key, **body)
        assert answer.status_code == 404 and answer.json()["error"] == "operation_unknown"
    assert stored_password(live) == before
    done = call(live, kiosk, op, "password", key, new_password=NEW_PASSWORD)
    assert done.status_code == 200 and done.json()["status"] == "completed"


def test_a_replayed_creation_hands_out_a_new_key_in_place_of_the_first(live: LiveServer) -> None:
    kiosk = live.kiosk()
    verification = verified(live, kiosk)
    first = live.operation(kiosk, "unlink", verification, key="replay-key-0001").json()
    again = live.operation(kiosk, "unlink", verification, key="replay-key-0001")
    assert again.status_code == 200 and again.json()["operation_id"] == first["operation_id"]
    fresh = again.json()["session_key"]
    assert fresh and fresh != first["session_key"]
    op = first["operation_id"]
    assert call(live, kiosk, op, "keepalive", first["session_key"]).status_code == 403
    assert call(live, kiosk, op, "keepalive", fresh).json()["status"] == "awaiting_approval"


def test_an_operation_expires_when_its_keepalives_stop(tmp_path: Path, hierarchy: TestHierarchy,
                                                       database_url: str) -> None:
    with live_server(tmp_path / "s", hierarchy, database_url,
                     lifetimes=Lifetimes(keepalive_timeout_seconds=2)) as live:
        kiosk, staff = live.kiosk(), live.staff()
        op, key = started(live, kiosk)
        waited_until = time.monotonic() + 3  # longer than the timeout, kept alive all along
        while time.monotonic() < waited_until:
            alive = call(live, kiosk, op, "keepalive", key)
            assert alive.status_code == 200 and alive.json()["status"] == "awaiting_approval"
            time.sleep(0.5)  # the kiosk's keep-alive interval
        deadline = time.monotonic() + 15
        state = kiosk.get(live.url(f"/v1/operations/{op}")).json()
        while state["status"] == "awaiting_approval" and time.monotonic() < deadline:
            time.sleep(0.2)
            state = kiosk.get(live.url(f"/v1/operations/{op}")).json()
        assert state["status"] == "expired" and state["error_code"] == "kiosk_gone"
        assert staff.get(live.url("/v1/staff/operations")).json()["operations"] == []
        late = decide(live, staff, op)
        assert late.status_code == 409 and late.json()["error"] == "operation_expired"
        assert link_of(live, LINKED) is not None
        assert [e["reason"] for e in audited(live, "operation_expired") if e["operation_id"] == op] == [
            "kiosk_gone"]
        assert call(live, kiosk, op, "keepalive", key).json()["status"] == "expired"


def test_the_staff_list_never_shows_an_abandoned_operation(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "s", hierarchy, lifetimes=Lifetimes(keepalive_timeout_seconds=5)) as live:
        kiosk, staff = live.kiosk(), live.staff()
        op, _key = started(live, kiosk)
        listed = staff.get(live.url("/v1/staff/operations")).json()["operations"]
        assert [o["operation_id"] for o in listed] == [op]
        live.clock.advance(6)
        assert live.minted_staff().get(live.url("/v1/staff/operations")).json()["operations"] == []


# -- codes shown once ---------------------------------------------------------------------------------


def operations_table_text(live: LiveServer) -> str:
    """Every row of the operations table as the database holds it, read with plain SQL."""
    with live.server.parts.db.engine.connect() as connection:
        return " ".join(str(tuple(row)) for row in connection.execute(text("SELECT * FROM operations")))


@pytest.mark.parametrize(("kind", "holder", "account", "field", "params"), [
    ("mfa_reset", "linked", LINKED, "enrolment_code", {}),
    ("salvage", "latin", FORMER, "ticket", {"mode": "backup"}),
])
def test_a_code_is_shown_once_to_the_session_and_not_kept(
        live: LiveServer, kind: str, holder: str, account: str, field: str, params: dict[str, str]) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    created = live.operation(kiosk, kind, verified(live, kiosk, holder, account), **params).json()
    op, key = created["operation_id"], created["session_key"]
    decided = decide(live, staff, op).json()
    assert decided["status"] == "completed" and field not in decided["result"]  # staff never see it
    unkeyed = kiosk.get(live.url(f"/v1/operations/{op}")).json()
    assert field not in unkeyed["result"]  # nor a read without the session key
    shown = call(live, kiosk, op, "keepalive", key).json()
    code = shown["result"][field]
    assert re.fullmatch(r"([A-Z2-9]{4}-){3,4}[A-Z2-9]{4}", code)
    assert code not in operations_table_text(live)
    again = call(live, kiosk, op, "keepalive", key).json()
    assert field not in again["result"] and again["result"]["shown"] is True
    assert field not in kiosk.get(live.url(f"/v1/operations/{op}")).json()["result"]
    assert code not in operations_table_text(live)
