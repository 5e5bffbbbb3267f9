"""Requests racing each other: one winner where there may be only one, nothing lost, the chain intact."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx2
from sqlalchemy import func, select

from linkserver.admin import check_audit
from linkserver.models import AuditEntry, MailOutbox, Operation
from tests.helpers.server_api import LINKED, decide, verified
from tests.linkserver.helpers import LiveServer

RACERS = 6
T = TypeVar("T")


def race(action: Callable[[int], T], racers: int = RACERS) -> list[T]:
    """Run ``action(i)`` on ``racers`` threads released at the same moment."""
    start = threading.Barrier(racers)

    def run(i: int) -> T:
        start.wait(10)
        return action(i)

    with ThreadPoolExecutor(racers) as pool:
        return list(pool.map(run, range(racers)))


def count(live: LiveServer, statement: object) -> int:
    with live.server.parts.db.transaction() as session:
        return int(session.scalar(statement))  # type: ignore[call-overload]


def test_one_idempotency_key_sent_at_once_makes_one_operation(live: LiveServer) -> None:
    clients = [live.minted() for _ in range(RACERS)]
    verification = verified(live, clients[0])
    answers = race(lambda i: live.operation(clients[i], "mfa_reset", verification, key="same-key-0001"))
    assert sorted(a.status_code for a in answers) == [200] * (RACERS - 1) + [201]
    assert len({a.json()["operation_id"] for a in answers}) == 1
    assert count(live, select(func.count()).select_from(Operation)) == 1


def test_one_verification_backs_one_operation_however_many_ask(live: LiveServer) -> None:
    clients = [live.minted() for _ in range(RACERS)]
    verification = verified(live, clients[0])
    answers = race(lambda i: live.operation(clients[i], "mfa_reset", verification, key=f"racing-key-{i:04d}"))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * (RACERS - 1)
    assert {a.json()["error"] for a in answers if a.status_code == 409} == {"verification_used"}
    assert count(live, select(func.count()).select_from(Operation)) == 1


def test_staff_approving_twice_at_once_applies_the_change_once(live: LiveServer) -> None:
    kiosk = live.minted()
    op = live.operation(kiosk, "mfa_reset", verified(live, kiosk)).json()["operation_id"]
    staff = [live.minted_staff() for _ in range(RACERS)]
    answers = race(lambda i: decide(live, staff[i], op))
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["status"] for a in answers} == {"completed"}
    assert not any("enrolment_code" in a.json()["result"] for a in answers)  # staff never see the code
    mails = select(func.count()).select_from(MailOutbox).where(MailOutbox.account_id == LINKED)
    assert count(live, mails) == 1
    completed = select(func.count()).select_from(AuditEntry).where(AuditEntry.event == "operation_completed")
    assert count(live, completed) == 1


def test_many_kiosks_at_once_lose_nothing(live: LiveServer) -> None:
    clients = [live.minted() for _ in range(RACERS)]

    def session(i: int) -> list[str]:
        accepted = []
        for _round in range(3):
            answer = live.operation(clients[i], "link_status", verified(live, clients[i]))
            assert answer.status_code == 201, answer.text
            accepted.append(answer.json()["operation_id"])
        return accepted

    accepted = [op for ops in race(session) for op in ops]
    with live.server.parts.db.transaction() as db:
        stored = set(db.scalars(select(Operation.operation_id).where(Operation.status == "completed")))
    assert stored == set(accepted) and len(accepted) == 3 * RACERS
    report = check_audit(live.server.parts.db)
    assert report.ok and report.entries >= 3 * 3 * RACERS


def test_a_nonce_raced_by_two_requests_is_used_once(live: LiveServer) -> None:
    clients = [live.minted() for _ in range(RACERS)]
    nonce = live.challenge(clients[0])
    cert, signature = live.sign("linked", nonce, LINKED)
    from tests.helpers.server_api import claim

    body = claim(LINKED, nonce, cert, signature)
    answers: list[httpx2.Response] = race(
        lambda i: clients[i].post(live.url("/v1/verifications"), json=body))
    assert sorted(a.status_code for a in answers) == [200] + [403] * (RACERS - 1)
    assert {a.json()["error"] for a in answers if a.status_code == 403} == {"replayed_nonce"}
