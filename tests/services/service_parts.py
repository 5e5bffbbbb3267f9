"""What the services' own tests share: a clock to set, and a linkage port answered in process.

``FakeLinkage`` stands in for ``LinkageClient`` at the HTTP boundary: it answers the calls the
services make as the server would (a challenge it remembers, a verification that checks the card's
signature over the nonce, the kiosk and the account, operations under a session key) and records
every call with its arguments, so a test can see what was sent and what never was. The card is
the simulated one, in process; the slow tiers test the real client over the real server.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kiosk.linkage import (
    Challenge,
    DeviceAuthorization,
    LinkageClient,
    Operation,
    OperationKind,
    OperationStatus,
    ServerRefused,
    VerificationResult,
    signed_message,
)
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.offline import LocalValidator
from kiosk.services.verification import VerificationSession
from tests.helpers.certs import hierarchy_validator

KIOSK_ID = "kiosk-test-01"
ACCOUNT = "2024000001"
NAME_ON_RECORD = "佐藤 花子"
SESSION_KEY = "session-key-1"
#: How long the fake server's challenges live unless a test says otherwise.
CHALLENGE_LIFE = dt.timedelta(minutes=5)


class Clock:
    """A clock the test sets: ``clock()`` is ``clock.now``."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now


def operation(status: OperationStatus, kind: OperationKind = OperationKind.PASSWORD_RESET, *,
              session_key: str | None = SESSION_KEY, error_code: str | None = None,
              operation_id: str = "op-1") -> Operation:
    """An operation as the server reports it."""
    at = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
    return Operation(operation_id, kind, status, ACCOUNT, {}, error_code, None, at, at,
                     session_key=session_key)


class FakeLinkage:
    """The linkage port the services call, answered in process; ``calls`` holds every call made.

    ``fail[name]`` lists errors that the next calls of ``name`` raise, one each, before it answers.
    """

    def __init__(self, clock: Callable[[], dt.datetime], *, match: bool = True) -> None:
        self.clock = clock
        self.match = match
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: The name of the thread each call was made on.
        self.threads: list[str] = []
        self.fail: dict[str, list[Exception]] = {}
        #: The lifetime of each next challenge, in order; then ``CHALLENGE_LIFE``.
        self.lives: list[dt.timedelta] = []
        self.nonces: list[bytes] = []
        #: What ``wait_for_decision`` answers (the operation as staff left it).
        self.decision = operation(OperationStatus.APPROVED)

    def _call(self, name: str, **arguments: Any) -> None:
        self.calls.append((name, arguments))
        self.threads.append(threading.current_thread().name)
        errors = self.fail.get(name)
        if errors:
            raise errors.pop(0)

    def named(self, name: str) -> list[dict[str, Any]]:
        """The arguments of every call of ``name``, in order."""
        return [arguments for called, arguments in self.calls if called == name]

    @property
    def port(self) -> LinkageClient:
        """This fake, typed as the client the services take."""
        return cast(LinkageClient, self)

    # -- verification -------------------------------------------------------------------------

    def challenge(self) -> Challenge:
        self._call("challenge")
        nonce = secrets.token_bytes(32)
        self.nonces.append(nonce)
        life = self.lives.pop(0) if self.lives else CHALLENGE_LIFE
        return Challenge(nonce, self.clock() + life)

    def verify(self, account_id: str, nonce: bytes, certificate: bytes,
               signature: bytes) -> VerificationResult:
        self._call("verify", account_id=account_id, nonce=nonce, certificate=certificate, signature=signature)
        if nonce not in self.nonces:
            raise ServerRefused("bad_challenge", "no such challenge", status=400)
        cert = x509.load_der_x509_certificate(certificate)
        if not signed_by(cert, signed_message(nonce, KIOSK_ID, account_id), signature):
            raise ServerRefused("bad_signature", "the signature does not verify", status=400)
        return VerificationResult("ver-1", self.match, NAME_ON_RECORD, cert.not_valid_after_utc,
                                  self.clock() + dt.timedelta(minutes=10))

    # -- operations ---------------------------------------------------------------------------

    def create_operation(self, kind: str, verification_id: str, params: dict[str, object],
                         idempotency_key: str) -> Operation:
        self._call("create_operation", kind=kind, verification_id=verification_id, params=params,
                   idempotency_key=idempotency_key)
        return operation(OperationStatus.AWAITING_APPROVAL, OperationKind(kind))

    def wait_for_decision(self, operation_id: str, session_key: str, *, cancel: Any,
                          timeout: float) -> Operation:
        self._call("wait_for_decision", operation_id=operation_id, session_key=session_key, cancel=cancel,
                   timeout=timeout)
        return self.decision

    def set_password(self, operation_id: str, new_password: str, session_key: str) -> Operation:
        self._call("set_password", operation_id=operation_id, new_password=new_password,
                   session_key=session_key)
        return operation(OperationStatus.COMPLETED)

    def cancel_operation(self, operation_id: str, session_key: str, reason: str | None = None) -> Operation:
        self._call("cancel_operation", operation_id=operation_id, session_key=session_key, reason=reason)
        return operation(OperationStatus.CANCELLED)

    # -- pre-link -----------------------------------------------------------------------------

    def device_authorize(self) -> DeviceAuthorization:
        self._call("device_authorize")
        return DeviceAuthorization("device-code", "WDJB-MJHT", "https://id.example/device",
                                   "https://id.example/device?user_code=WDJB-MJHT", 600, 5)

    def wait_for_device_token(self, authorization: DeviceAuthorization, *, cancel: Any) -> str:
        self._call("wait_for_device_token", authorization=authorization, cancel=cancel)
        return "account-token"


def signed_by(cert: x509.Certificate, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the certificate's key's PKCS#1 v1.5 / SHA-256 signature of ``message``."""
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class Counter:
    """The kiosk's offline counter as the session takes it: the next value on each call."""

    def __init__(self, start: int = 41) -> None:
        self.value = start

    def __call__(self) -> int:
        self.value += 1
        return self.value


def session(card: SimulatedCard, linkage: FakeLinkage | None, clock: Clock, *,
            validator: LocalValidator | None = None, account: str = ACCOUNT,
            next_counter: Callable[[], int] | None = None) -> VerificationSession:
    """A verification of ``account`` on the card, over the fake port (``None``: no server set up)."""
    return VerificationSession(card, account, KIOSK_ID, linkage=None if linkage is None else linkage.port,
                               validator=validator, next_counter=next_counter or Counter(), clock=clock)


def prepared(card: SimulatedCard, linkage: FakeLinkage | None, clock: Clock, *, card_info: bool = False,
             **options: Any) -> VerificationSession:
    """A verification whose ``prepare`` has run (``options`` as for ``session``)."""
    verification = session(card, linkage, clock, **options)
    verification.prepare(card_info=card_info)
    return verification


def validator_for(hierarchy: TestHierarchy) -> LocalValidator:
    """The kiosk's offline validator over the test hierarchy's anchors and CRLs."""
    return hierarchy_validator(hierarchy)


def with_key_of(card: SimulatedCard, other: SimulatedCard) -> SimulatedCard:
    """A card that signs with ``other``'s key under its own certificate: every signature is wrong."""
    return SimulatedCard(replace(card.profile, auth_key=other.profile.auth_key))


def pin(digits: str = "1234") -> bytearray:
    return bytearray(digits.encode())
