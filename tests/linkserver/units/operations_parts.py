"""The server's operations over its own database in this process: no HTTP, no card, a pinned clock.

``make_desk`` gives an ``OperationService`` on a fresh SQLite file with the real schema (migrated
once per process into a template, copied for each test), a few accounts of the reference
directory, and the kiosks and staff console that call it. Verifications are stored as rows: the
card's part is the verification service's, tested elsewhere; what matters here is what an
operation does with one.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey
from sqlalchemy import select

from linkserver.anchor import install
from linkserver.audit import AuditAnchor, check_chain
from linkserver.config import Lifetimes, Policy
from linkserver.db import Database
from linkserver.directory import LinkStore, SqlDirectory, code_hash
from linkserver.errors import ApiError, ErrorCode
from linkserver.models import Account, AuditEntry, Link, MailOutbox, Operation, SalvageTicket, Verification
from linkserver.notifier import MailOutboxNotifier
from linkserver.operations import OperationService, OperationView
from linkserver.ppid import PpidDeriver, RenewalTable
from linkserver.ratelimit import RateLimiter
from linkserver.revocation import OcspChecker
from linkserver.service import ServerParts, new_id
from linkserver.tokens import Caller, TokenService
from linkserver.trust import TrustAnchor, TrustStore
from linkserver.verifier import JpkiVerifier
from linkserver.words import OperationKind

AUDIT_KEY = b"the audit key of these tests, 32+ bytes"
ISSUER = "https://link.example.ac.jp"
T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
TINY = dt.timedelta(microseconds=1)
#: A session key no operation handed out.
WRONG_KEY = "not-the-session-key"

KIOSK, OTHER_KIOSK, CONSOLE = "kiosk-hongo-01", "kiosk-komaba-02", "staff-console"
#: Active and linked to the card ``LINKED_PPID``; active and unlinked; suspended; former members.
LINKED, FREE, SUSPENDED = "2024000001", "2024000002", "2024000011"
LEFT, LONG_GONE = "2019000003", "2017000010"
LINKED_PPID, FREE_PPID, OTHER_PPID = "ppid-linked-card", "ppid-new-card", "ppid-someone-else"
#: What the accounts' password column holds before any reset (no real hash: never checked here).
OLD_HASH = "old-password-hash"
LEFT_DAYS = {LEFT: 30, LONG_GONE: 400}
MFA_METHODS = 2
GOOD_PASSWORD = "Correct-Horse-42"
LIFETIMES = Lifetimes(keepalive_timeout_seconds=15, password_window_seconds=120, enrolment_code_minutes=60,
                      salvage_ticket_days=14)


KIOSK_CALLER = Caller(KIOSK, frozenset({"verify", "operate", "offline"}))
OTHER_CALLER = Caller(OTHER_KIOSK, frozenset({"verify", "operate"}))
STAFF_CALLER = Caller(CONSOLE, frozenset({"staff"}))


class PinnedClock:
    """The server's clock, still until a test moves it."""

    def __init__(self, at: dt.datetime = T0) -> None:
        self.now = at

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


def _migrate(url: str) -> None:
    db = Database(url)
    db.migrate()
    db.dispose()


@functools.cache
def template() -> Path:
    """A migrated, empty database file, made once per process (and kept by forked children)."""
    folder = Path(tempfile.mkdtemp(prefix="operations-units-"))
    owner = os.getpid()
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(folder, ignore_errors=True))
    _migrate(f"sqlite:///{folder / 'template.db'}")
    return folder / "template.db"


def _seed(db: Database) -> None:
    with db.transaction() as session:
        for account_id, status in ((LINKED, "active"), (FREE, "active"), (LEFT, "left"),
                                   (LONG_GONE, "left"), (SUSPENDED, "suspended")):
            left_days = LEFT_DAYS.get(account_id)
            session.add(Account(account_id=account_id, display_name=f"Holder {account_id}",
                                email=f"{account_id}@mail.example.ac.jp", status=status,
                                left_at=T0 - dt.timedelta(days=left_days) if left_days else None,
                                password_hash=OLD_HASH, mfa_methods=MFA_METHODS))
        session.flush()
        session.add(Link(account_id=LINKED, ppid=LINKED_PPID, name_on_card="SATO HANAKO",
                         created_at=T0 - dt.timedelta(days=90), created_by_kiosk="smartphone-app"))


@functools.cache
def _anchor() -> TrustAnchor:
    """A self-signed CA for the verifier the parts must hold; no operation verifies a card."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Operations test CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(T0 - dt.timedelta(days=1))
            .not_valid_after(T0 + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return TrustAnchor(cert, "operations-test-ca")


def _no_ocsp(url: str, body: bytes) -> bytes:
    raise AssertionError("no operation verifies a card")


def _parts(db: Database, clock: PinnedClock) -> ServerParts:
    revocation = OcspChecker("http://ocsp.invalid/", _no_ocsp, clock=clock)
    verifier = JpkiVerifier(TrustStore([_anchor()]), revocation, PpidDeriver(b"s" * 32, RenewalTable()))
    tokens = TokenService(ECKey.generate_key("P-256"), ISSUER, ISSUER + "/oauth/token", 300, 300, clock)
    return ServerParts(db=db, verifier=verifier, tokens=tokens, directory=SqlDirectory(), links=LinkStore(),
                       notifier=MailOutboxNotifier(language="en"), policy=Policy(salvage_days=180),
                       challenge_seconds=120, verification_seconds=600,
                       kiosk_limiter=RateLimiter(db, "kiosk", 1000, 60),
                       account_limiter=RateLimiter(db, "account", 1000, 3600),
                       refusal_limiter=RateLimiter(db, "refused assertion", 10, 60), clock=clock)


@dataclass
class Desk:
    """An operation service with its database, clock and callers."""

    service: OperationService
    parts: ServerParts
    clock: PinnedClock
    kiosk: Caller = KIOSK_CALLER
    other_kiosk: Caller = OTHER_CALLER
    staff: Caller = STAFF_CALLER

    # -- setting up --------------------------------------------------------------------------

    def verification(self, account_id: str = LINKED, *, ppid: str = LINKED_PPID, matched: bool = True,
                     client_id: str = KIOSK, lasts: dt.timedelta = dt.timedelta(minutes=10)) -> str:
        """A stored card verification of ``ppid`` claiming ``account_id``, made now by ``client_id``."""
        verification_id = new_id("ver")
        now = self.clock()
        with self.parts.db.transaction() as session:
            session.add(Verification(verification_id=verification_id, client_id=client_id,
                                     account_id=account_id, ppid=ppid, matched=matched,
                                     certificate_serial="1a2b",
                                     certificate_not_after=now + dt.timedelta(days=900),
                                     created_at=now, expires_at=now + lasts))
        return verification_id

    def account_token(self, account_id: str = FREE, client_id: str = KIOSK,
                      scopes: tuple[str, ...] = ("account",)) -> str:
        """What the device grant hands the kiosk once the user proved ``account_id``."""
        return self.parts.tokens.issue(client_id, list(scopes), account_id=account_id)[0]

    def prelink_params(self, account_id: str = FREE, name: str = "SUZUKI ICHIRO") -> dict[str, object]:
        return {"name_on_card": name, "account_token": self.account_token(account_id)}

    def create(self, kind: OperationKind, account_id: str = LINKED, *,
               params: Mapping[str, object] | None = None, key: str | None = None,
               caller: Caller | None = None, ppid: str | None = None) -> OperationView:
        """A new operation of ``kind`` on a fresh verification of ``account_id``'s card."""
        caller = caller or self.kiosk
        if ppid is None:
            ppid = LINKED_PPID if account_id == LINKED else f"ppid-of-{account_id}"
        verification_id = self.verification(account_id, ppid=ppid, client_id=caller.client_id)
        key = key or new_id("idem")
        view, created = self.service.create(caller, key, kind, verification_id, params or {})
        assert created
        return view

    def approve(self, view: OperationView, staff_id: str = "desk-tanaka") -> OperationView:
        return self.service.decide(self.staff, view.operation_id, True, staff_id, "card and face match")

    # -- looking at the database -------------------------------------------------------------

    def row(self, operation_id: str) -> Operation:
        with self.parts.db.transaction() as session:
            op = session.get(Operation, operation_id)
            assert op is not None
            return op

    def account(self, account_id: str) -> Account:
        with self.parts.db.transaction() as session:
            row = session.get(Account, account_id)
            assert row is not None
            return row

    def links(self) -> dict[str, str]:
        """Account ID -> linked PPID."""
        with self.parts.db.transaction() as session:
            return {link.account_id: link.ppid for link in session.scalars(select(Link))}

    def link(self, account_id: str) -> Link | None:
        with self.parts.db.transaction() as session:
            return session.get(Link, account_id)

    def mails(self) -> list[tuple[str, str, str]]:
        """Every queued notification: (recipient, subject, body)."""
        with self.parts.db.transaction() as session:
            return [(m.recipient, m.subject, m.body)
                    for m in session.scalars(select(MailOutbox).order_by(MailOutbox.mail_id))]

    def tickets(self) -> list[SalvageTicket]:
        with self.parts.db.transaction() as session:
            return list(session.scalars(select(SalvageTicket)))

    def verification_row(self, verification_id: str) -> Verification:
        with self.parts.db.transaction() as session:
            row = session.get(Verification, verification_id)
            assert row is not None
            return row

    def audit(self, *events: str) -> list[tuple[str, str | None, str | None, dict[str, Any]]]:
        """The audit chain's entries (of ``events``, or all): (event, client, account, details).

        The chain is checked whole first: every entry an operation writes must extend it.
        """
        with self.parts.db.transaction() as session:
            assert check_chain(session, AUDIT_KEY).ok
            entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
            return [(e.event, e.client_id, e.account_id, json.loads(e.details))
                    for e in entries if not events or e.event in events]


def make_desk(folder: Path, lifetimes: Lifetimes = LIFETIMES) -> Desk:
    """A desk on a fresh copy of the migrated database in ``folder``, seeded with the accounts."""
    path = folder / "linkserver.db"
    shutil.copyfile(template(), path)
    db = Database(f"sqlite:///{path}")
    install(db, AuditAnchor(key=AUDIT_KEY))
    _seed(db)
    clock = PinnedClock()
    parts = _parts(db, clock)
    return Desk(OperationService(parts, lifetimes), parts, clock)


def session_key_ok(desk: Desk, view: OperationView) -> bool:
    """Whether the database keeps (only the hash of) the session key ``view`` handed out."""
    assert view.session_key is not None
    return desk.row(view.operation_id).session_key_hash == code_hash(view.session_key)


@contextlib.contextmanager
def refused(code: ErrorCode, status: int,
            words: str | None = None) -> Iterator[pytest.ExceptionInfo[ApiError]]:
    """The block raises ``ApiError`` with ``code``, the HTTP ``status`` and ``words`` (by default the
    code's documented meaning)."""
    expected = f"{code.value}: {words or code.meaning}"
    with pytest.raises(ApiError, match=f"^{re.escape(expected)}$") as caught:
        yield caught
    assert caught.value.code is code
    assert caught.value.status == status


def assert_untouched(desk: Desk, account_id: str = LINKED) -> None:
    """The account as seeded: its link (if any), password, MFA methods and no enrolment code."""
    assert desk.links() == {LINKED: LINKED_PPID}
    account = desk.account(account_id)
    assert (account.password_hash, account.password_changed_at) == (OLD_HASH, None)
    assert (account.mfa_methods, account.enrolment_code_hash, account.enrolment_expires_at) == (
        MFA_METHODS, None, None)
