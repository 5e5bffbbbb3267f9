"""Fixtures for the linkage server's verification core, built on the test JPKI hierarchy."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from kiosk.nfc import JpkiSession
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.nfc.sim.hierarchy import GENERATIONS
from linkserver import (
    CrlFileChecker,
    JpkiVerifier,
    PpidDeriver,
    RenewalTable,
    TrustStore,
    VerifiedIdentity,
    load_renewals_csv,
    signed_message,
)
from linkserver.db import Database
from linkserver.revocation import build_ocsp_response
from tests.helpers.linkage_client import ROOMY
from tests.helpers.privacyidea import PrivacyIdea, running_privacyidea
from tests.linkserver.helpers import (
    POSTGRES_HOWTO,
    LiveServer,
    live_server,
    postgres_from_script,
    postgres_schema,
    postgres_url,
)

SECRET = b"service secret A: 32 bytes long!"
OTHER_SECRET = b"service secret B: 32 bytes long!"
NONCE = bytes.fromhex("00112233445566778899aabbccddeeff")
KIOSK_ID = "kiosk-hongo-01"
ACCOUNT = "hanako.sato@example.ac.jp"
OCSP_URL = "http://jpki-test.invalid/ocsp/auth"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ca_cert(hierarchy: TestHierarchy, generation: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(hierarchy.auth_ca_path(generation).read_bytes())


@dataclass(frozen=True)
class CardAnswer:
    """What a kiosk sends after the card signed the challenge."""

    cert_der: bytes
    signature: bytes
    nonce: bytes = NONCE
    kiosk_id: str = KIOSK_ID
    account: str = ACCOUNT


SignWithCard = Callable[..., CardAnswer]


@pytest.fixture
def sign_with_card(make_card: Callable[..., SimulatedCard]) -> SignWithCard:
    """``sign_with_card(holder, nonce=..., kiosk_id=..., account=...)``: a real card signature."""

    def sign(holder: str = "linked", *, nonce: bytes = NONCE, kiosk_id: str = KIOSK_ID,
             account: str = ACCOUNT) -> CardAnswer:
        card = make_card(holder)
        session = JpkiSession(card)
        session.verify_pin(card.profile.pin)
        signature = session.sign_sha256(signed_message(nonce, kiosk_id, account))
        return CardAnswer(card.profile.auth_cert_der, signature, nonce, kiosk_id, account)

    return sign


@pytest.fixture(scope="session")
def trust(hierarchy: TestHierarchy) -> TrustStore:
    return TrustStore.from_pem_files(hierarchy.trust_anchor_paths())


@pytest.fixture(scope="session")
def renewals(hierarchy: TestHierarchy) -> RenewalTable:
    return load_renewals_csv(hierarchy.path / "renewals.csv")


@pytest.fixture(scope="session")
def ppid(renewals: RenewalTable) -> PpidDeriver:
    return PpidDeriver(SECRET, renewals)


@pytest.fixture(scope="session")
def crl_checker(hierarchy: TestHierarchy) -> CrlFileChecker:
    return CrlFileChecker([hierarchy.crl_path(g) for g in GENERATIONS])


@pytest.fixture
def verifier(trust: TrustStore, crl_checker: CrlFileChecker, ppid: PpidDeriver) -> JpkiVerifier:
    return JpkiVerifier(trust, crl_checker, ppid)


def verify(
    verifier: JpkiVerifier, answer: CardAnswer, *, cert_der: bytes | None = None,
    signature: bytes | None = None, nonce: bytes | None = None, kiosk_id: str | None = None,
    account: str | None = None, signed_at: dt.datetime | None = None,
) -> VerifiedIdentity:
    """Run ``verifier.verify`` on a card answer, with any argument replaced."""
    return verifier.verify(
        cert_der=answer.cert_der if cert_der is None else cert_der,
        signature=answer.signature if signature is None else signature,
        nonce=answer.nonce if nonce is None else nonce,
        kiosk_id=answer.kiosk_id if kiosk_id is None else kiosk_id,
        account=answer.account if account is None else account,
        signed_at=signed_at or now(),
    )


class OcspResponder:
    """The test hierarchy's OCSP responder for every root generation, reached in memory."""

    def __init__(self, hierarchy: TestHierarchy, revoked: set[int],
                 clock: Callable[[], dt.datetime] = now) -> None:
        self.issuers = [(ca_cert(hierarchy, g), hierarchy.auth_ca_key(g)) for g in GENERATIONS]
        self.revoked = revoked
        self.clock = clock
        self.requests: list[tuple[str, ocsp.OCSPRequest]] = []

    def post(self, url: str, body: bytes) -> bytes:
        self.requests.append((url, ocsp.load_der_ocsp_request(body)))
        answer = b""
        for cert, key in self.issuers:
            answer = build_ocsp_response(body, cert, key, self.revoked, self.clock())
            if ocsp.load_der_ocsp_response(answer).response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
                break
        return answer


@pytest.fixture(scope="session")
def postgres_base(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The PostgreSQL of the run: ``KIOSK_TEST_POSTGRES_URL``'s, or the one ``scripts/postgres`` starts
    as scripts/run-tests does. Under xdist the first worker to ask runs the script, holding a lock
    the others wait on, and leaves what it found (the URL, or why there is none) for them. With no
    PostgreSQL every case that needs one fails, saying what to run; none is skipped."""
    url = postgres_url()
    if url is not None:
        return url
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        url, why = postgres_from_script(unattended=True)
    else:
        shared = tmp_path_factory.getbasetemp().parent  # this run's, shared by its workers
        with open(shared / "postgres.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = shared / "postgres.json"
            if not found.exists():
                found.write_text(json.dumps(postgres_from_script(unattended=True)), "utf-8")
            url, why = json.loads(found.read_text("utf-8"))
    if url is None:
        pytest.fail(f"PostgreSQL is not running and the tests could not start it: {why}; {POSTGRES_HOWTO}",
                    pytrace=False)
    return str(url)


DATABASES = ["sqlite", "postgresql"]


@contextlib.contextmanager
def database(request: pytest.FixtureRequest, kind: str, folder: Path) -> Iterator[str]:
    """A database URL of ``kind``: a SQLite file in ``folder``, or a new schema on the run's
    PostgreSQL (``postgres_base``), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'linkserver.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_base")) as url:
        yield url


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each API test runs on SQLite and on PostgreSQL."""
    with database(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The server's database on SQLite and on PostgreSQL, migrated, without a server."""
    opened = Database(database_url)
    opened.migrate()
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture(scope="module", params=DATABASES)
def shared_live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    """One demo server for a whole module on each database, with limits it never reaches. Its tests
    must not depend on each other's data, and use tokens minted on its clock (``live.minted()``),
    which a test may move on."""
    folder = tmp_path_factory.mktemp("shared")
    with database(request, request.param, folder) as url, \
            live_server(folder / "state", hierarchy, url, limits=ROOMY) as server:
        yield server


@pytest.fixture
def live(tmp_path: Path, hierarchy: TestHierarchy, database_url: str) -> Iterator[LiveServer]:
    """The demo linkage server on loopback, on the parametrised database."""
    with live_server(tmp_path / "state", hierarchy, database_url) as server:
        yield server


@pytest.fixture(scope="session")
def privacyidea(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivacyIdea]:
    """One privacyIDEA for the test process (it takes seconds to start), its realm on its own slapd."""
    with running_privacyidea(tmp_path_factory.mktemp("privacyidea")) as server:
        yield server
