"""``kiosk-linkserver --workers 2`` on PostgreSQL keeps what one worker guarantees: a nonce and a
client assertion's ``jti`` are used once, whichever worker each copy reaches; a rate limit is
reached at the same count as with one worker; and after thousands of concurrent verifications
every accepted one is stored and audited once, on one unbroken audit chain.

Requests race over connections from loopback addresses of their own, opened so that they reach
both worker processes (``workers_parts.open_connections``); after each burst the test looks up
which worker holds each connection, so that it knows which worker gave each answer.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc.jwk import ECKey
from sqlalchemy import func, select

from bench.server_process import BENCH_LIMITS, process_cpu_seconds
from kiosk.nfc.sim import TestHierarchy
from linkserver import signed_message
from linkserver.admin import check_audit
from linkserver.anchor import open_database
from linkserver.models import AuditEntry, UsedAssertion, Verification
from tests.helpers.server_api import ASSERTION_TYPE, LINKED, UNLINKED
from tests.linkserver.helpers import b64, postgres_schema, unb64
from tests.linkserver.workers_parts import (
    Connection,
    WorkersServer,
    burst,
    close,
    connection_owners,
    open_connections,
    workers_server,
)

RACERS = 16
ROUNDS = 4
#: The concurrent run's size; a smaller one (say 500) while working on this module.
PAIRS = int(os.environ.get("KIOSK_TEST_WORKER_PAIRS", "10000"))
PAIR_THREADS = 16
#: Limits the shared server never reaches: what it is tested on is not counting.
ROOMY = {**BENCH_LIMITS, "failed_client_assertions_per_minute": 1_000_000_000}
KIOSK_LIMIT = 20
ACCOUNT_LIMIT = 6
#: Kiosks verifying for one account at once in the account limit's test.
LIMIT_RACERS = 8
#: Renew an access token (which lives 300 s) once it is this old.
TOKEN_RENEW_SECONDS = 200
PKCS1 = padding.PKCS1v15()


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, hierarchy: TestHierarchy,
                postgres_base: str) -> Iterator[WorkersServer]:
    """The demo on a fresh PostgreSQL schema, two workers, rate limits out of the way, and kiosk
    clients for the nonce race (the first) and the concurrent run (the others)."""
    folder = tmp_path_factory.mktemp("workers")
    with postgres_schema(postgres_base) as url, \
            workers_server(folder, hierarchy, url, workers=2, limits=ROOMY,
                           kiosks=1 + PAIR_THREADS) as server:
        yield server


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def limited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            hierarchy: TestHierarchy, postgres_base: str) -> Iterator[WorkersServer]:
    """The demo with low kiosk and account limits, served by one worker and by two."""
    folder = tmp_path_factory.mktemp("limited")
    limits = {"kiosk_requests_per_minute": KIOSK_LIMIT, "account_verifications_per_hour": ACCOUNT_LIMIT}
    with postgres_schema(postgres_base) as url, \
            workers_server(folder, hierarchy, url, workers=request.param, limits=limits,
                           kiosks=1 + LIMIT_RACERS) as server:
        yield server


def client_assertion(server: WorkersServer, client_id: str, key_path: Path, jti: str | None = None) -> str:
    key = ECKey.import_key(key_path.read_bytes())
    now = int(time.time())
    return str(private_key_jwt_sign(key, client_id=client_id, token_endpoint=server.setup.settings.token_url,
                                alg="ES256", expires_in=60,
                                claims={"iat": now, "exp": now + 60, "jti": jti or uuid.uuid4().hex}))


def token_form(assertion: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion}


def access_token(server: WorkersServer, client_id: str, key_path: Path) -> str:
    answer = httpx2.post(server.setup.settings.token_url,
                         data=token_form(client_assertion(server, client_id, key_path)), timeout=60)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Holder:
    """The linked test holder's card, signing with its key directly."""

    key: rsa.RSAPrivateKey
    certificate: str

    @classmethod
    def of(cls, hierarchy: TestHierarchy) -> Holder:
        holder = hierarchy.holder("linked")
        return cls(holder.auth_key, b64(holder.auth_certificate.public_bytes(Encoding.DER)))

    def claim(self, nonce: bytes, kiosk_id: str, account: str) -> dict[str, str]:
        signature = self.key.sign(signed_message(nonce, kiosk_id, account), PKCS1, hashes.SHA256())
        return {"account_id": account, "nonce": b64(nonce), "certificate": self.certificate,
                "signature": b64(signature)}


def new_nonce(server: WorkersServer, connection: Connection) -> bytes:
    answer = connection.client.post(server.base + "/v1/challenges")
    assert answer.status_code == 201, answer.text
    return unb64(answer.json()["nonce"])


def posting(url: str, **body: Any) -> Callable[[Connection], httpx2.Response]:
    """What each connection of a burst sends: the same request."""
    return lambda connection: connection.client.post(url, **body)


def answered_by_both(server: WorkersServer, connections: list[Connection], answers: list[httpx2.Response],
                     winner_status: int) -> bool:
    """Whether the one answer with ``winner_status`` and at least one refusal came from different
    workers (the worker holding each connection just after the burst answered on it)."""
    owners = connection_owners(server)
    winner = {owners.get(c.address) for c, a in zip(connections, answers, strict=True)
              if a.status_code == winner_status}
    refusers = {owners.get(c.address) for c, a in zip(connections, answers, strict=True)
                if a.status_code != winner_status}
    return len(winner) == 1 and None not in winner | refusers and bool(refusers - winner)


def count_rows(server: WorkersServer, statement: object) -> int:
    db = open_database(server.setup.settings)
    try:
        with db.transaction() as session:
            return int(session.scalar(statement))  # type: ignore[call-overload]
    finally:
        db.dispose()


def test_one_nonce_sent_to_both_workers_at_once_is_accepted_once(two_workers: WorkersServer,
                                                                 hierarchy: TestHierarchy) -> None:
    kiosk_id, key_path = two_workers.kiosks[0]
    holder = Holder.of(hierarchy)
    connections = open_connections(two_workers, RACERS, net=1, workers=2,
                                   headers=bearer(access_token(two_workers, kiosk_id, key_path)))
    try:
        for _round in range(ROUNDS):
            body = holder.claim(new_nonce(two_workers, connections[0]), kiosk_id, LINKED)
            answers = burst(connections, posting(two_workers.base + "/v1/verifications", json=body))
            assert sorted(a.status_code for a in answers) == [200] + [403] * (RACERS - 1)
            assert {a.json()["error"] for a in answers if a.status_code == 403} == {"replayed_nonce"}
            assert answered_by_both(two_workers, connections, answers, 200)
    finally:
        close(connections)
    stored = select(func.count()).select_from(Verification).where(Verification.client_id == kiosk_id)
    assert count_rows(two_workers, stored) == ROUNDS
    refused = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.event == "verification_refused", AuditEntry.client_id == kiosk_id,
        AuditEntry.details.contains("replayed_nonce"))
    assert count_rows(two_workers, refused) == ROUNDS * (RACERS - 1)


def test_one_client_assertion_sent_to_both_workers_at_once_gets_one_token(two_workers: WorkersServer) -> None:
    setup = two_workers.setup
    connections = open_connections(two_workers, RACERS, net=2, workers=2)
    jtis = [f"race-{uuid.uuid4().hex}" for _ in range(ROUNDS)]
    try:
        for jti in jtis:
            form = token_form(client_assertion(two_workers, setup.kiosk_id, setup.kiosk_key_path, jti))
            answers = burst(connections, posting(setup.settings.token_url, data=form))
            assert sorted(a.status_code for a in answers) == [200] + [401] * (RACERS - 1)
            refusals = [a.json() for a in answers if a.status_code == 401]
            assert {r["error"] for r in refusals} == {"invalid_client"}
            assert {r["error_description"] for r in refusals} == {"the client assertion was already used"}
            assert answered_by_both(two_workers, connections, answers, 200)
            token = next(a.json()["access_token"] for a in answers if a.status_code == 200)
            works = connections[0].client.post(two_workers.base + "/v1/challenges", headers=bearer(token))
            assert works.status_code == 201, works.text
    finally:
        close(connections)
    used = select(func.count()).select_from(UsedAssertion).where(UsedAssertion.jti.in_(jtis))
    assert count_rows(two_workers, used) == ROUNDS


def allowed(limit: int, per_seconds: float, elapsed: float) -> range:
    """How many requests a bucket of ``limit`` per ``per_seconds`` lets through in ``elapsed`` seconds."""
    return range(limit, limit + math.floor(elapsed * limit / per_seconds) + 1)


def until_refused(connections: list[Connection], send: Callable[[Connection], httpx2.Response]) -> list[int]:
    """Bursts of ``send`` on every connection until one burst is refused (429) on all of them; the
    status of every answer before."""
    statuses: list[int] = []
    for _ in range(KIOSK_LIMIT * 4):
        answers = burst(connections, send)
        refused = [a for a in answers if a.status_code == 429]
        assert {a.json()["error"] for a in refused} <= {"rate_limited"}
        if len(refused) == len(answers):
            return statuses
        statuses += [a.status_code for a in answers]
    raise AssertionError(f"still not limited after {len(statuses)} requests")


def test_a_kiosk_is_limited_at_the_same_count_on_one_worker_or_two(limited: WorkersServer) -> None:
    """The kiosk's bucket of KIOSK_LIMIT requests, spent over connections to every worker: its token
    request and then challenges, until every connection is refused. One worker or two, the same
    count gets through (plus what the bucket refilled meanwhile)."""
    kiosk_id, key_path = limited.kiosks[0]
    started = time.monotonic()
    token = access_token(limited, kiosk_id, key_path)  # counted as the kiosk's first request
    connections = open_connections(limited, RACERS, net=4, workers=limited.workers, headers=bearer(token))
    try:
        statuses = until_refused(connections, lambda c: c.client.post(limited.base + "/v1/challenges"))
    finally:
        close(connections)
    elapsed = time.monotonic() - started
    assert set(statuses) <= {201, 429}
    passed = 1 + statuses.count(201)
    assert passed in allowed(KIOSK_LIMIT, 60, elapsed), \
        f"{passed} requests of a kiosk limited to {KIOSK_LIMIT} a minute passed {limited.workers} worker(s)"


def test_an_account_is_limited_at_the_same_count_on_one_worker_or_two(limited: WorkersServer,
                                                                      hierarchy: TestHierarchy) -> None:
    """Verifications naming one account from several kiosks at once, over connections to every
    worker, until every one is refused: ACCOUNT_LIMIT get through, one worker or two."""
    holder = Holder.of(hierarchy)
    kiosks = limited.kiosks[1:1 + LIMIT_RACERS]
    started = time.monotonic()
    connections = open_connections(limited, LIMIT_RACERS, net=5, workers=limited.workers)
    for connection, (kiosk_id, key_path) in zip(connections, kiosks, strict=True):
        connection.client.headers.update(bearer(access_token(limited, kiosk_id, key_path)))
    kiosk_of = {c.address: kiosk_id for c, (kiosk_id, _) in zip(connections, kiosks, strict=True)}

    def verify(connection: Connection) -> httpx2.Response:
        body = holder.claim(new_nonce(limited, connection), kiosk_of[connection.address], LINKED)
        return connection.client.post(limited.base + "/v1/verifications", json=body)

    try:
        statuses = until_refused(connections, verify)
    finally:
        close(connections)
    elapsed = time.monotonic() - started
    assert set(statuses) <= {200, 429}
    passed = statuses.count(200)
    assert passed in allowed(ACCOUNT_LIMIT, 3600, elapsed), \
        f"{passed} verifications of an account limited to {ACCOUNT_LIMIT} an hour passed {limited.workers} " \
        "worker(s)"


@dataclass
class Tally:
    """What one kiosk thread of the concurrent run saw."""

    answered: int = 0
    #: verification_id -> the match the server answered
    accepted: dict[str, bool] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class PairNumbers:
    """The run's pair numbers, handed out one at a time to whichever kiosk thread asks, so that the
    threads share the work as the server serves them and end together."""

    def __init__(self, count: int) -> None:
        self._numbers = iter(range(count))
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            return next(self._numbers, None)


def pairs_on(server: WorkersServer, connection: Connection, kiosk: tuple[str, Path], holder: Holder,
             numbers: PairNumbers) -> Tally:
    """Challenge + verification pairs from one kiosk while numbers last, claiming the holder's own
    account three times in four and an account not linked to the card the fourth."""
    kiosk_id, key_path = kiosk
    tally = Tally()
    token_at = -math.inf
    while (n := numbers.take()) is not None:
        if time.monotonic() - token_at > TOKEN_RENEW_SECONDS:
            connection.client.headers.update(bearer(access_token(server, kiosk_id, key_path)))
            token_at = time.monotonic()
        account = UNLINKED if n % 4 == 3 else LINKED
        body = holder.claim(new_nonce(server, connection), kiosk_id, account)
        answer = connection.client.post(server.base + "/v1/verifications", json=body)
        if answer.status_code != 200:
            tally.failures.append(f"{answer.status_code} {answer.text}")
            continue
        outcome = answer.json()
        tally.answered += 1
        tally.accepted[outcome["verification_id"]] = outcome["match"]
        if outcome["match"] is not (account == LINKED):
            tally.failures.append(f"{account}: match {outcome['match']}")
    return tally


def stored_and_audited(server: WorkersServer, kiosk_ids: list[str]) -> tuple[dict[str, bool], Counter[str]]:
    """The kiosks' stored verifications (ID -> match), and how many 'verification' audit entries name
    each verification ID."""
    db = open_database(server.setup.settings)
    try:
        with db.transaction() as session:
            stored = dict(session.execute(select(Verification.verification_id, Verification.matched)
                                          .where(Verification.client_id.in_(kiosk_ids))).all())
            audited = Counter(json.loads(details)["verification_id"] for details in session.scalars(
                select(AuditEntry.details).where(AuditEntry.event == "verification",
                                                 AuditEntry.client_id.in_(kiosk_ids))))
    finally:
        db.dispose()
    return {key: bool(value) for key, value in stored.items()}, audited


@pytest.mark.long
@pytest.mark.timeout(600)  # 10,000 pairs: a minute alone, longer beside the rest of the suite
def test_a_concurrent_run_stores_and_audits_each_verification_once(two_workers: WorkersServer,
                                                                   hierarchy: TestHierarchy) -> None:
    """Both workers serve the run: the connections reach both, and each worker's own CPU counters
    show it did a share of the work. The kernel need not split the connections evenly, so the share
    asked for is small; a worker that served none would show next to no CPU at all."""
    holder = Holder.of(hierarchy)
    kiosks, numbers = two_workers.kiosks[1:], PairNumbers(PAIRS)
    connections = open_connections(two_workers, PAIR_THREADS, net=3, workers=2)
    kiosk_of = {c.address: kiosk for c, kiosk in zip(connections, kiosks, strict=True)}
    workers = set(connection_owners(two_workers).values())
    cpu_before = {pid: process_cpu_seconds(pid) for pid in workers}
    try:
        tallies = burst(connections, lambda c: pairs_on(two_workers, c, kiosk_of[c.address], holder, numbers))
        cpu = {pid: process_cpu_seconds(pid) - cpu_before[pid] for pid in workers}
    finally:
        close(connections)
    assert len(cpu) == 2 and min(cpu.values()) > sum(cpu.values()) / 100, cpu
    assert [failure for tally in tallies for failure in tally.failures] == []
    accepted = {key: value for tally in tallies for key, value in tally.accepted.items()}
    assert sum(tally.answered for tally in tallies) == len(accepted) == PAIRS
    stored, audited = stored_and_audited(two_workers, [kiosk_id for kiosk_id, _ in kiosks])
    assert stored == accepted
    assert audited == Counter(accepted.keys())
    db = open_database(two_workers.setup.settings)
    try:
        report = check_audit(db)
    finally:
        db.dispose()
    assert report.ok, report.reason
