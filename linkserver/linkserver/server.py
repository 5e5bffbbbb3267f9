"""The composition root: settings in, a ready server (services and the ASGI app) out."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from linkserver.admin import load_renewals
from linkserver.anchor import checkpoint_head, open_database
from linkserver.app import create_app
from linkserver.config import Settings, load_settings
from linkserver.console.app import create_console
from linkserver.console.queue import ConsoleQueue
from linkserver.console.sessions import ConsoleSessions
from linkserver.console.web import ConsoleParts
from linkserver.db import Database
from linkserver.device import DeviceGrant
from linkserver.directory import AccountDirectory, LinkStore, SqlDirectory
from linkserver.http_guard import install as install_http_guard
from linkserver.mailer import build_sender, start_in_thread
from linkserver.mfa import backend_for
from linkserver.notifier import MailOutboxNotifier
from linkserver.offline import OfflineService
from linkserver.operations import OperationService
from linkserver.ppid import PpidDeriver, RenewalTable, load_renewals_csv
from linkserver.ratelimit import RateLimiter
from linkserver.revocation import CrlFileChecker, OcspChecker, RevocationChecker
from linkserver.service import ServerParts, VerificationService, utc_now
from linkserver.staff import StaffDirectory, TotpSealer
from linkserver.tokens import TokenService, load_ec_private_key
from linkserver.trust import TrustStore
from linkserver.verifier import JpkiVerifier
from linkserver.wakeups import Wakeups

logger = logging.getLogger(__name__)

OCSP_TIMEOUT = 5.0


@dataclass
class LinkServer:
    settings: Settings
    parts: ServerParts
    verification: VerificationService
    operations: OperationService
    device: DeviceGrant
    offline: OfflineService
    console: ConsoleParts
    app: FastAPI


def ocsp_post(url: str, body: bytes) -> bytes:
    """The server's OCSP transport: the DER request POSTed to ``url``, the response body back."""
    response = httpx2.post(url, content=body, timeout=OCSP_TIMEOUT,
                           headers={"Content-Type": "application/ocsp-request"})
    response.raise_for_status()
    return response.content


def revocation_checker(settings: Settings, clock: Callable[[], dt.datetime]) -> RevocationChecker:
    if settings.ocsp_url:
        return OcspChecker(settings.ocsp_url, ocsp_post, clock=clock)
    return CrlFileChecker(settings.crl_files, clock=clock)


def build_server(settings: Settings, *, clock: Callable[[], dt.datetime] = utc_now,
                 migrate: bool = True, revocation: RevocationChecker | None = None) -> LinkServer:
    """Everything the server needs, wired once; ``migrate`` brings the schema up to date first."""
    db = open_database(settings)
    if migrate:
        db.migrate()
    secret = settings.ppid_secret_file.read_bytes().strip()
    with db.transaction() as session:
        pairs = list(load_renewals(session).renewals.items())
    if settings.renewals_file:
        pairs += load_renewals_csv(settings.renewals_file).renewals.items()
    renewals = RenewalTable(pairs)
    verifier = JpkiVerifier(TrustStore.from_pem_files(settings.trust_anchors),
                            revocation or revocation_checker(settings, clock), PpidDeriver(secret, renewals))
    lifetimes = settings.lifetimes
    tokens = TokenService(load_ec_private_key(settings.signing_key_file), settings.issuer, settings.token_url,
                          lifetimes.access_token_seconds, lifetimes.client_assertion_seconds, clock)
    limits = settings.limits
    parts = ServerParts(
        db=db, verifier=verifier, tokens=tokens, directory=directory_for(settings), links=LinkStore(),
        notifier=notifier_for(settings), policy=settings.policy,
        challenge_seconds=lifetimes.challenge_seconds, verification_seconds=lifetimes.verification_seconds,
        kiosk_limiter=RateLimiter(db, "kiosk", limits.kiosk_requests_per_minute, 60),
        account_limiter=RateLimiter(db, "account", limits.account_verifications_per_hour, 3600),
        refusal_limiter=RateLimiter(db, "refused assertion", limits.failed_client_assertions_per_minute, 60),
        clock=clock,
    )
    verification = VerificationService(parts)
    operations = OperationService(parts, lifetimes, backend_for(
        settings.mfa, parts.directory, secret, dt.timedelta(minutes=lifetimes.enrolment_code_minutes)),
        server_secret=secret)
    device = DeviceGrant(parts, lifetimes, settings.issuer)
    offline = OfflineService(operations, load_ec_private_key(settings.sealing_key_file), lifetimes)
    wakeups = Wakeups()
    public = RateLimiter(db, "public", limits.public_requests_per_minute, 60)
    app = create_app(verification, operations, device, offline, max_request_bytes=limits.max_request_bytes,
                     public_limiter=public, docs=settings.docs, wakeups=wakeups)
    console = ConsoleParts(StaffDirectory(db, TotpSealer(secret), clock), ConsoleSessions(db, clock),
                           ConsoleQueue(operations), wakeups)
    mount_console(app, console)
    install_http_guard(app, settings)
    # Each process checkpoints the audit chain's head as it stops, so a clean shutdown leaves no
    # entry that could be cut off without trace.
    app.router.add_event_handler("shutdown", lambda: checkpoint_head(db))
    # The connections the event loop kept for every pair's work go back to the pool as the
    # process stops, rather than being left checked out.
    app.router.add_event_handler("shutdown", db.release_kept)
    start_sender(app, settings, db, clock)
    return LinkServer(settings, parts, verification, operations, device, offline, console, app)


def start_sender(app: FastAPI, settings: Settings, db: Database, clock: Callable[[], dt.datetime]) -> None:
    """With ``notifier.backend = "smtp"`` or a salvage webhook, the sender runs in this process from
    the app's start to its stop (each worker process runs one; their claims keep them apart)."""
    sender = build_sender(settings, db, clock=clock)
    if sender is None:
        return
    running: list[threading.Event] = []
    app.router.add_event_handler("startup", lambda: running.append(start_in_thread(sender)[1]))

    def stop() -> None:
        for event in running:
            event.set()

    app.router.add_event_handler("shutdown", stop)


def notifier_for(settings: Settings) -> MailOutboxNotifier:
    """The outbox notifier in the configured language, with the configured salvage hand-off."""
    notifier = settings.notifier
    return MailOutboxNotifier(notifier.language, notifier.message_id_domain, settings.salvage)


def directory_for(settings: Settings) -> AccountDirectory:
    """The configured account directory: the server's own tables, or the LDAP directory."""
    if settings.directory is None:
        return SqlDirectory()
    from linkserver.ldapdir import LdapDirectory  # python-ldap only where an LDAP directory is used

    return LdapDirectory(settings.directory, settings.policy.password)


def mount_console(app: FastAPI, console: ConsoleParts) -> None:
    """The staff console at ``/console/`` (``/console`` leads there); it is not in the OpenAPI document."""
    app.add_api_route("/console", lambda: RedirectResponse("/console/", status_code=308),
                      include_in_schema=False)
    app.mount("/console", create_console(console), name="console")


#: Names the configuration file for worker processes, which start from ``worker_app``.
CONFIG_ENV = "KIOSK_LINKSERVER_CONFIG"


def worker_app() -> FastAPI:
    """The app of one worker process; the parent migrated the schema before starting the workers."""
    return app_to_serve(load_settings(os.environ[CONFIG_ENV]), migrate=False)


def app_to_serve(settings: Settings, *, migrate: bool = True) -> FastAPI:
    """The app a server process serves until it stops (``kiosk-linkserver``, each of its workers).

    What the process built to get here (modules, the app, its services, about 110,000 objects)
    lives as long as the process, so it is moved out of the garbage collector's sight
    (``gc.freeze``), after a collection so that no garbage goes with it. A full collection then
    walks only what serving made since: about 75 ms to 110 ms of one core less, each time one
    runs, and every request in flight would wait for it."""
    app = build_server(settings, migrate=migrate).app
    gc.collect()
    gc.freeze()
    return app


@contextmanager
def serving(app: FastAPI, sock: socket.socket) -> Iterator[None]:
    """``app`` served by uvicorn in a thread of this process on ``sock`` (bound already, so that no
    other process can take its port), from its start until the block ends; then the socket closes."""
    import uvicorn

    from linkserver.http_guard import UVICORN_OPTIONS

    runner = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **UVICORN_OPTIONS))
    started = threading.Event()
    original_startup = runner.startup

    async def startup(*args: Any, **kwargs: Any) -> None:
        await original_startup(*args, **kwargs)
        started.set()

    runner.startup = startup  # type: ignore[method-assign]
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, name="linkserver", daemon=True)
    thread.start()
    try:
        if not started.wait(30):
            raise RuntimeError("the linkage server did not start")
        yield
    finally:
        runner.should_exit = True
        thread.join(10)
        sock.close()
