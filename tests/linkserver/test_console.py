"""The staff console over real HTTP: sign-in with a password and TOTP, the queue of one's counters,
decisions in the signed-in member's name, and what it refuses (stale forms, expired sessions,
another counter's request, an auditor's decision)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest
from sqlalchemy import select

from linkserver.console.queue import mask_account
from linkserver.models import AuditEntry, Operation
from tests.helpers.server_api import LINKED, verified
from tests.linkserver.console_parts import PASSWORD, ConsoleUser, seat_staff, staff_of
from tests.linkserver.helpers import LiveServer


@pytest.fixture
def counters(live: LiveServer) -> LiveServer:
    return seat_staff(live)


def waiting_request(live: LiveServer, kind: str = "mfa_reset") -> str:
    kiosk = live.kiosk()
    created = live.operation(kiosk, kind, verified(live, kiosk)).json()
    assert created["status"] == "awaiting_approval", created
    return str(created["operation_id"])


def status_of(live: LiveServer, operation_id: str) -> tuple[str, str | None]:
    with live.server.parts.db.transaction() as session:
        op = session.get(Operation, operation_id)
        assert op is not None
        return op.status, op.approved_by


DECISIONS = ("operation_approved", "operation_refused_by_staff")


def decisions(live: LiveServer) -> list[tuple[str | None, dict[str, object]]]:
    with live.server.parts.db.transaction() as session:
        return [(e.client_id, json.loads(e.details)) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.event.in_(DECISIONS)).order_by(AuditEntry.seq))]


def test_the_first_sign_in_enrols_totp_and_sets_strict_cookies(counters: LiveServer) -> None:
    hanako = ConsoleUser(counters, "hanako")
    assert hanako.get("/").headers["location"] == "/console/sign-in"
    answer = hanako.password_step()
    cookie = answer.headers["set-cookie"]
    assert "console_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/console" in cookie and "Secure" not in cookie  # plain HTTP on loopback only
    enrol = hanako.get("/second-factor")
    assert "<svg" in enrol.text and 'class="secret"' in enrol.text
    queue = hanako.sign_in()
    assert queue.status_code == 200 and "承認待ちの申請" in queue.text
    assert staff_of(counters).info("hanako").enrolled
    again = ConsoleUser(counters, "hanako")
    again.secret = hanako.secret
    again.password_step()
    assert 'class="secret"' not in again.get("/second-factor").text  # the key is never shown again
    assert again.post("/second-factor", code=hanako.last_code).status_code == 401  # each code works once
    assert again.post("/second-factor", code=again.code(steps=1)).headers["location"] == "/console/"


def test_every_console_page_carries_the_security_headers(counters: LiveServer) -> None:
    hanako = ConsoleUser(counters, "hanako")
    for answer in (hanako.get("/sign-in"), hanako.password_step(), hanako.get("/second-factor"),
                   hanako.sign_in()):
        if answer.status_code == 200:
            policy = answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
            assert "unsafe-inline" not in policy
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["cache-control"] == "no-store"


def test_a_request_on_my_counter_is_approved_in_my_name(counters: LiveServer) -> None:
    operation_id = waiting_request(counters)
    hanako = ConsoleUser(counters, "hanako")
    queue = hanako.sign_in()
    assert operation_id in queue.text and mask_account(LINKED) in queue.text
    assert LINKED not in queue.text and mask_account(LINKED) != LINKED  # the account is masked
    answer = hanako.decide(operation_id, "approve")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/?done=approved"
    assert status_of(counters, operation_id) == ("completed", "hanako")
    assert decisions(counters)[-1][0] == "staff-console"
    assert decisions(counters)[-1][1]["staff"] == "hanako"
    assert operation_id not in hanako.get("/").text


def test_a_refusal_needs_a_reason_from_the_list(counters: LiveServer) -> None:
    operation_id = waiting_request(counters)
    hanako = ConsoleUser(counters, "hanako")
    hanako.sign_in()
    for reason in (None, "because"):
        assert hanako.decide(operation_id, "refuse", reason).status_code == 400
    assert status_of(counters, operation_id) == ("awaiting_approval", None)
    assert hanako.decide(operation_id, "refuse", "photo_mismatch").headers["location"].endswith("refused")
    assert status_of(counters, operation_id) == ("refused", "hanako")
    assert decisions(counters)[-1][1]["reason"] == "photo_mismatch"
    twice = hanako.decide(operation_id, "approve")
    assert twice.status_code == 409 and "already" in twice.text


def test_another_counters_desk_neither_sees_nor_decides_it(counters: LiveServer) -> None:
    operation_id = waiting_request(counters)
    jiro = ConsoleUser(counters, "jiro")
    assert operation_id not in jiro.sign_in().text
    refused = jiro.decide(operation_id, "approve")
    assert refused.status_code == 403 and "not on your counters" not in refused.text  # Japanese by default
    assert "担当窓口のものではありません" in refused.text
    assert status_of(counters, operation_id) == ("awaiting_approval", None)
    boss = ConsoleUser(counters, "boss")
    assert operation_id in boss.sign_in().text
    assert boss.decide(operation_id, "approve").status_code == 303


def test_an_auditor_decides_nothing(counters: LiveServer) -> None:
    operation_id = waiting_request(counters)
    kansa = ConsoleUser(counters, "kansa")
    assert operation_id not in kansa.sign_in().text
    assert kansa.decide(operation_id, "approve").status_code == 403
    assert status_of(counters, operation_id) == ("awaiting_approval", None)


def test_a_stale_form_gets_403_and_changes_nothing(counters: LiveServer) -> None:
    operation_id = waiting_request(counters)
    hanako = ConsoleUser(counters, "hanako")
    hanako.sign_in()
    hanako.csrf = "not-the-token"
    assert hanako.decide(operation_id, "approve").status_code == 403
    assert status_of(counters, operation_id) == ("awaiting_approval", None)
    signing_in = ConsoleUser(counters, "hanako")
    signing_in.get("/sign-in")
    signing_in.csrf = "forged"
    assert signing_in.post("/sign-in", staff_id="hanako", password=PASSWORD).status_code == 403


def test_an_idle_session_goes_back_to_sign_in_and_loses_no_request(counters: LiveServer) -> None:
    operation_id = waiting_request(counters)
    hanako = ConsoleUser(counters, "hanako")
    hanako.sign_in()
    counters.clock.advance(14 * 60)
    assert hanako.get("/").status_code == 200  # a request restarts the idle time
    counters.clock.advance(15 * 60)
    answer = hanako.decide(operation_id, "approve")
    assert answer.headers["location"] == "/console/sign-in?expired=1"
    assert status_of(counters, operation_id)[1] is None  # nobody decided it
    assert "もう一度サインイン" in hanako.get("/sign-in?expired=1").text


def test_wrong_passwords_lock_the_sign_in_with_words(counters: LiveServer) -> None:
    hanako = ConsoleUser(counters, "hanako")
    for _ in range(5):
        answer = hanako.password_step("wrong password!")
        assert answer.status_code == 401 and "違います" in answer.text
    locked = hanako.password_step()
    assert locked.status_code == 401 and "までサインインできません" in locked.text
    english = httpx2.get(counters.url("/console/sign-in?lang=en"))
    assert english.status_code == 200 and 'lang="en"' in english.text and "Staff ID" in english.text


def test_the_console_is_not_in_the_openapi_document(counters: LiveServer) -> None:
    paths = httpx2.get(counters.url("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/console")]
    assert httpx2.get(counters.url("/console")).headers["location"] == "/console/"


def next_event(lines: Iterator[str]) -> tuple[str, str]:
    """The next server-sent event's name and data (comments, the keep-alive pings, skipped)."""
    name = data = ""
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
        elif not line and name:
            return name, data
    raise AssertionError("the event stream ended")


def test_the_live_queue_tells_of_each_change_and_a_dropped_stream_costs_nothing(counters: LiveServer) -> None:
    hanako = ConsoleUser(counters, "hanako")
    hanako.sign_in()
    wakeups = counters.server.console.wakeups
    with hanako.http.stream("GET", "/console/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next_event(lines) == ("queue", "0")
        operation_id = waiting_request(counters)
        assert next_event(lines) == ("queue", "1")
        fragment = hanako.http.get("/console/queue")
        assert f'id="op-{operation_id}"' in fragment.text and "<html" not in fragment.text
    assert wakeups.until_waiters(lambda n: n == 0, 30)  # the server noticed the client left
    assert hanako.decide(operation_id, "approve").status_code == 303  # the session lived on


def test_the_live_queue_ends_with_the_session(counters: LiveServer) -> None:
    hanako = ConsoleUser(counters, "hanako")
    hanako.sign_in()
    with hanako.http.stream("GET", "/console/events") as stream:
        lines = stream.iter_lines()
        assert next_event(lines) == ("queue", "0")
        counters.clock.advance(15 * 60)  # the stream itself is no activity: the session idles out
        assert next_event(lines) == ("signed-out", "")
    assert hanako.http.get("/console/events").status_code == 204  # and a browser stops reconnecting
    assert hanako.http.get("/console/queue").status_code == 401


def test_the_reason_is_kept_for_the_kiosk_only_when_it_is_one_of_the_list(counters: LiveServer) -> None:
    picked, free_text = waiting_request(counters), waiting_request(counters)
    hanako = ConsoleUser(counters, "hanako")
    hanako.sign_in()
    hanako.decide(picked, "refuse", "needs_documents")
    with counters.minted_staff() as machine:  # the automation client may still write its own words
        answer = machine.post(counters.url(f"/v1/staff/operations/{free_text}/decision"),
                              json={"approve": False, "reason": "caller hung up"})
    assert answer.status_code == 200 and answer.json()["result"] == {}
    with counters.server.parts.db.transaction() as session:
        results = {op_id: session.get(Operation, op_id).result for op_id in (picked, free_text)}  # type: ignore[union-attr]
    assert results == {picked: {"refusal_reason": "needs_documents"}, free_text: {}}
    assert decisions(counters)[-1][1]["reason"] == "caller hung up"  # kept in the audit only


def test_a_disabled_member_is_told_so_only_after_the_right_password(counters: LiveServer) -> None:
    staff_of(counters).set_enabled("hanako", False, by="boss")
    hanako = ConsoleUser(counters, "hanako")
    wrong = hanako.password_step("not the password")
    assert wrong.status_code == 401 and "無効" not in wrong.text and "違います" in wrong.text
    right = hanako.password_step()
    assert right.status_code == 401 and "この職員アカウントは無効です" in right.text
    assert "console_session=" not in right.headers.get("set-cookie", "")
