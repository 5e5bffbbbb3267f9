"""A morning's mix on PostgreSQL with two server workers: staff approving password and MFA resets
while kiosks set new passwords, all for the same account at once. Every request is answered
without a server error, every operation ends completed, and the audit chain stays whole.

Staff approval locks the operation, audits the decision and changes the account; a password set
changes the account and then audits its completion. With the audit lock taken in the middle of a
transaction the two waited for each other and PostgreSQL aborted one (a 500).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import func, select

from bench.server_process import ServerProcess, start_server, write_bench_limits
from kiosk.nfc.sim import TestHierarchy
from linkserver.admin import check_audit
from linkserver.anchor import open_database
from linkserver.demo import DemoSetup, prepare_demo
from linkserver.models import AuditEntry, Operation
from tests.helpers.server_api import LINKED
from tests.linkserver.helpers import free_port, oauth_client, postgres_schema, verify_with_card

THREADS = 8
ROUNDS = 3


@dataclass
class MixServer:
    setup: DemoSetup
    server: ServerProcess
    hierarchy: TestHierarchy

    def kiosk(self) -> httpx2.Client:
        return oauth_client(self.setup.kiosk_id, self.setup.kiosk_key_path, self.setup.settings.token_url)

    def staff(self) -> httpx2.Client:
        return oauth_client(self.setup.staff_id, self.setup.staff_key_path, self.setup.settings.token_url)


@dataclass
class Outcome:
    """What one thread saw: every answer's status by step, and the operations it made."""

    answers: list[tuple[str, int, str]] = field(default_factory=list)
    operations: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def mix_server(tmp_path: Path, hierarchy: TestHierarchy, postgres_base: str) -> Iterator[MixServer]:
    """The demo on a fresh PostgreSQL schema, served by ``kiosk-linkserver --workers 2``."""
    with postgres_schema(postgres_base) as url:
        port = free_port()
        setup = prepare_demo(tmp_path / "state", hierarchy.path, issuer=f"http://127.0.0.1:{port}",
                             database_url=url)
        write_bench_limits(setup.config_path)  # the rate limits are not what this test is about
        server = start_server(setup.config_path, port, tmp_path / "server.log", workers=2)
        try:
            yield MixServer(setup, server, hierarchy)
        finally:
            server.stop()


def one_operation(mix: MixServer, kiosk: httpx2.Client, staff: httpx2.Client, kind: str, password: str,
                  seen: Outcome) -> None:
    """A verification, the operation, the staff approval and, for a password reset, the password."""
    base = mix.server.base
    verified = verify_with_card(kiosk, base, mix.hierarchy, mix.setup.kiosk_id, "linked", LINKED)
    seen.answers.append(("verification", verified.status_code, verified.text))
    if verified.status_code != 200:
        return
    created = kiosk.post(base + "/v1/operations", headers={"Idempotency-Key": f"mix-{password}"},
                         json={"kind": kind, "verification_id": verified.json()["verification_id"],
                               "params": {}})
    seen.answers.append(("operation", created.status_code, created.text))
    if created.status_code != 201:
        return
    op, session_key = created.json()["operation_id"], created.json()["session_key"]
    seen.operations[op] = kind
    decided = staff.post(f"{base}/v1/staff/operations/{op}/decision",
                         json={"approve": True, "staff_id": "yamada.t"})
    seen.answers.append(("decision", decided.status_code, decided.text))
    if kind == "password_reset" and decided.status_code == 200:
        answer = kiosk.post(f"{base}/v1/operations/{op}/password", json={"new_password": password},
                            headers={"Session-Key": session_key})
        seen.answers.append(("password", answer.status_code, answer.text))


def test_approvals_and_password_sets_for_one_account_at_once_all_succeed(mix_server: MixServer) -> None:
    start = threading.Barrier(THREADS)

    def run(i: int) -> Outcome:
        seen = Outcome()
        kiosk, staff = mix_server.kiosk(), mix_server.staff()
        start.wait(30)
        for round_ in range(ROUNDS):
            kind = "password_reset" if (i + round_) % 2 else "mfa_reset"
            one_operation(mix_server, kiosk, staff, kind, f"Sakura-2026-{i}-{round_}-spring", seen)
        return seen

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(run, range(THREADS)))
    answers = [answer for outcome in outcomes for answer in outcome.answers]
    failed = [answer for answer in answers if answer[1] >= 500]
    assert failed == [], "\n".join(f"{step}: {code} {text}" for step, code, text in failed)
    expected = {"verification": 200, "operation": 201, "decision": 200, "password": 200}
    wrong = [answer for answer in answers if answer[1] != expected[answer[0]]]
    assert wrong == []
    made = {op: kind for outcome in outcomes for op, kind in outcome.operations.items()}
    assert len(made) == THREADS * ROUNDS
    db = open_database(mix_server.setup.settings)
    try:
        with db.transaction() as session:
            rows = session.execute(select(Operation.operation_id, Operation.status))
            ended = {op: status for op, status in rows}
            completed = session.scalar(select(func.count()).select_from(AuditEntry)
                                       .where(AuditEntry.event == "operation_completed"))
        assert ended == dict.fromkeys(made, "completed")
        assert completed == len(made)
        report = check_audit(db)
        assert report.ok, report.reason
    finally:
        db.dispose()
