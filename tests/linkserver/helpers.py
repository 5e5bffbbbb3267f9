"""A kiosk's side of the linkage protocol for tests and benchmarks: a live server and its clients.

The clients are what a kiosk does: authlib's client-credentials grant with ``private_key_jwt``
(assertions kept short, as the server demands), then plain JSON calls. Cards are the simulated
card, signing for real.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import ECKey
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from kiosk.linkage.readiness import wait_until_healthy
from kiosk.nfc import JpkiSession
from kiosk.nfc.sim import CardProfile, SimulatedCard, TestHierarchy
from kiosk.nfc.sim.pcscd import free_port_pair
from linkserver import signed_message
from linkserver.config import Lifetimes, Limits
from linkserver.demo import DEMO_PASSWORD, DemoSetup, prepare_demo
from linkserver.models import AuditEntry, Operation
from linkserver.revocation import CrlFileChecker
from linkserver.server import LinkServer, build_server, serving

POSTGRES_ENV = "KIOSK_TEST_POSTGRES_URL"
ASSERTION_SECONDS = 60


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ShortAssertion(PrivateKeyJWT):
    """authlib's private_key_jwt, with assertions living one minute instead of an hour."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return private_key_jwt_sign(auth.client_secret, client_id=auth.client_id,
                                    token_endpoint=token_endpoint, alg=self.alg, header=self.headers,
                                    expires_in=ASSERTION_SECONDS)


def oauth_client(client_id: str, key_path: Path, token_url: str) -> OAuth2Client:
    """A client that fetches (and renews) its access token by itself."""
    key = ECKey.import_key(key_path.read_bytes())
    client = OAuth2Client(client_id, key, token_endpoint_auth_method=ShortAssertion(token_url, alg="ES256"),
                          grant_type="client_credentials", token_endpoint=token_url, timeout=30)
    client.fetch_token()
    return client


def free_port() -> int:
    """A loopback port for a server a test starts, reserved for this test process (below the
    ephemeral range, with a lock file), so that no other test worker or outgoing connection takes
    it before the server listens."""
    return free_port_pair()


def listening_socket() -> socket.socket:
    """A socket already bound to a free loopback port, for a server started in this process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A database URL whose tables live in a new, empty schema, dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(base_url)
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


#: Starts Debian's PostgreSQL cluster and prints its URL last (scripts/run-tests runs it too).
POSTGRES_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres"
#: Another script in its place, for the tests of this fixture alone (to count how often it runs).
POSTGRES_SCRIPT_ENV = "KIOSK_TEST_POSTGRES_SCRIPT"
#: What to run when the tests cannot start PostgreSQL themselves.
POSTGRES_HOWTO = (f"run scripts/run-tests, or start PostgreSQL with scripts/postgres and run pytest with "
                  f"{POSTGRES_ENV}=\"$(scripts/postgres | tail -n 1)\"")


def postgres_from_script(*, unattended: bool, timeout: float = 600) -> tuple[str | None, str]:
    """PostgreSQL's URL from ``scripts/postgres``, or None and why not.

    ``unattended`` (a test run): the script is run only where it neither installs anything nor
    asks for a password: PostgreSQL is installed, and this is root or sudo needs no password. It
    runs without a terminal either way, so nothing it calls can stop to ask.
    """
    if unattended:
        servers = list(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
        if shutil.which("pg_lsclusters") is None or not servers:
            return None, "PostgreSQL is not installed (scripts/postgres would install it)"
        if os.geteuid() != 0 and subprocess.run(["sudo", "-n", "true"], capture_output=True,
                                                timeout=30, check=False).returncode != 0:
            return None, "scripts/postgres needs sudo here, and sudo would ask for a password"
    script = os.environ.get(POSTGRES_SCRIPT_ENV) or str(POSTGRES_SCRIPT)
    try:
        result = subprocess.run([script], capture_output=True, text=True, timeout=timeout,
                                check=False, stdin=subprocess.DEVNULL, start_new_session=unattended)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"scripts/postgres could not run ({exc})"
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return None, f"scripts/postgres failed ({result.returncode}): {result.stderr.strip()[-300:]}"
    return lines[-1], "scripts/postgres"


class Clock:
    """The server's clock: real time (or the time of the clock it follows) plus an offset a test can
    move forward."""

    def __init__(self, follows: Callable[[], dt.datetime] | None = None) -> None:
        self.offset = dt.timedelta()
        self._follows = follows

    def __call__(self) -> dt.datetime:
        return (self._follows() if self._follows is not None else dt.datetime.now(dt.UTC)) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


@dataclass
class LiveServer:
    """A linkage server on loopback over real HTTP, with the demo's data and clients."""

    base: str
    setup: DemoSetup
    server: LinkServer
    hierarchy: TestHierarchy
    clock: Clock
    #: The time the server's CRLs are judged by: its clock plus an offset of their own, so a test can
    #: let them go past their next update (revocation unknown) while tokens and challenges live on.
    crl_clock: Clock

    def url(self, path: str) -> str:
        return self.base + path

    def latest_operation(self, account_id: str) -> tuple[str, str, str | None] | None:
        """The account's newest operation: its ID, its status, and the reason its cancellation gave."""
        with self.server.parts.db.transaction() as session:
            op = session.scalars(select(Operation).where(Operation.account_id == account_id)
                                 .order_by(Operation.created_at.desc()).limit(1)).one_or_none()
            if op is None:
                return None
            cancelled = [json.loads(entry.details) for entry in session.scalars(
                select(AuditEntry).where(AuditEntry.event == "operation_cancelled"))]
            reasons = [d["reason"] for d in cancelled if d["operation_id"] == op.operation_id]
            assert len(reasons) <= 1, reasons
            return op.operation_id, op.status, (reasons[0] if reasons else None)

    def kiosk(self) -> OAuth2Client:
        return oauth_client(self.setup.kiosk_id, self.setup.kiosk_key_path, self.setup.settings.token_url)

    def staff(self) -> OAuth2Client:
        return oauth_client(self.setup.staff_id, self.setup.staff_key_path, self.setup.settings.token_url)

    def minted(self, client_id: str | None = None, scopes: tuple[str, ...] = ("verify", "operate", "offline"),
               ) -> httpx2.Client:
        """A client with a token issued on the server's own (possibly advanced) clock."""
        token, _ = self.server.parts.tokens.issue(client_id or self.setup.kiosk_id, list(scopes))
        return httpx2.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def minted_staff(self) -> httpx2.Client:
        return self.minted(self.setup.staff_id, ("staff",))

    def card(self, holder: str) -> SimulatedCard:
        return SimulatedCard(CardProfile.from_holder(self.hierarchy, holder))

    def sign_in_on_phone(self, user_code: str, account: str = "2024000002", password: str = DEMO_PASSWORD,
                         action: str = "approve") -> httpx2.Response:
        """The user's phone posting the pre-link sign-in form (by default the unlinked demo account)."""
        return httpx2.post(self.url("/device"), data={"user_code": user_code, "account_id": account,
                                                      "password": password, "action": action})

    def sign(self, holder: str, nonce: bytes, account: str,
             kiosk_id: str | None = None) -> tuple[bytes, bytes]:
        """The card's certificate and its signature over the protocol message."""
        card = self.card(holder)
        session = JpkiSession(card)
        session.verify_pin(card.profile.pin)
        message = signed_message(nonce, kiosk_id or self.setup.kiosk_id, account)
        return card.profile.auth_cert_der, session.sign_sha256(message)

    def challenge(self, client: httpx2.Client) -> bytes:
        response = client.post(self.url("/v1/challenges"))
        assert response.status_code == 201, response.text
        return unb64(response.json()["nonce"])

    def verify(self, client: httpx2.Client, holder: str, account: str, **override: Any) -> httpx2.Response:
        """Challenge, card signature, verification: the kiosk's whole verification step."""
        return verify_with_card(client, self.base, self.hierarchy, self.setup.kiosk_id, holder, account,
                                **override)

    def operation(self, client: httpx2.Client, kind: str, verification_id: str, key: str | None = None,
                  **params: Any) -> httpx2.Response:
        return client.post(self.url("/v1/operations"),
                           json={"kind": kind, "verification_id": verification_id, "params": params},
                           headers={"Idempotency-Key": key or uuid.uuid4().hex})


def verify_with_card(client: httpx2.Client, base: str, hierarchy: TestHierarchy, kiosk_id: str, holder: str,
                     account: str, **override: Any) -> httpx2.Response:
    """Ask ``base`` for a challenge, have the holder's simulated card sign it, submit the verification."""
    answer = client.post(base + "/v1/challenges")
    assert answer.status_code == 201, answer.text
    nonce = unb64(answer.json()["nonce"])
    card = SimulatedCard(CardProfile.from_holder(hierarchy, holder))
    session = JpkiSession(card)
    session.verify_pin(card.profile.pin)
    signature = session.sign_sha256(signed_message(nonce, kiosk_id, account))
    body = {"account_id": account, "nonce": b64(nonce), "certificate": b64(card.profile.auth_cert_der),
            "signature": b64(signature)}
    body.update(override)
    return client.post(base + "/v1/verifications", json=body)


@contextlib.contextmanager
def live_server(state: Path, hierarchy: TestHierarchy, database_url: str | None = None, *,
                limits: Limits | None = None, lifetimes: Lifetimes | None = None,
                ocsp_url: str | None = None, checkpoint_every: int | None = None,
                settings: dict[str, Any] | None = None, **build_options: Any) -> Iterator[LiveServer]:
    """Prepare the demo data in ``state`` and serve it with uvicorn on a free loopback port.

    ``limits``, ``lifetimes``, ``ocsp_url``, ``checkpoint_every`` (the audit chain's) and
    ``settings`` (by name) replace the demo's settings (an OCSP URL replaces its CRLs). The CRLs are
    read as the server reads them, on the ``crl_clock`` (the server's clock unless moved).
    """
    sock = listening_socket()  # bound before the server starts: no other process can take the port
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    setup = prepare_demo(state, hierarchy.path, issuer=base, database_url=database_url)
    changes = {name: value for name, value in (("limits", limits), ("lifetimes", lifetimes),
                                               ("ocsp_url", ocsp_url)) if value}
    if checkpoint_every:
        changes["audit"] = dataclasses.replace(setup.settings.audit, checkpoint_every=checkpoint_every)
    changes.update(settings or {})
    setup = dataclasses.replace(setup, settings=dataclasses.replace(setup.settings, **changes))
    clock = build_options.setdefault("clock", Clock())
    crl_clock = Clock(follows=clock)
    if not setup.settings.ocsp_url:
        build_options.setdefault("revocation", CrlFileChecker(setup.settings.crl_files, clock=crl_clock))
    server = build_server(setup.settings, **build_options)
    try:
        with serving(server.app, sock):
            yield LiveServer(base, setup, server, hierarchy, clock, crl_clock)
    finally:
        server.parts.db.dispose()


@contextlib.contextmanager
def demo_command(state: Path, hierarchy: TestHierarchy, *extra: str) -> Iterator[tuple[str, list[str]]]:
    """``kiosk-linkserver --demo`` as its own process: its base URL and its output so far."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "linkserver.cli", "--demo", "--host", "127.0.0.1", "--port", str(port),
         "--hierarchy", str(hierarchy.path), "--state", str(state), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_healthy(base, timeout=60, alive=lambda: process.poll() is None), "".join(output)
        yield base, output
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
        reader.join(10)


class Staff:
    """A staff member at the console, approving (or refusing) whatever comes in."""

    def __init__(self, live: LiveServer, approve: bool = True) -> None:
        self.live = live
        self.approve = approve
        self.decided: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        client = self.live.minted_staff()
        while not self._stop.is_set():
            answer = client.get(self.live.url("/v1/staff/operations"))
            for op in answer.json().get("operations", []) if answer.status_code == 200 else []:
                client.post(self.live.url(f"/v1/staff/operations/{op['operation_id']}/decision"),
                            json={"approve": self.approve, "staff_id": "tanaka.h"})
                self.decided.append(op["operation_id"])
            self._stop.wait(0.2)  # the console refreshes its list (within the per-client rate limit)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
