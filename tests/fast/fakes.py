"""A fake backend for the flow: the card, the server and the store as plain values, no I/O.

``FakeBackend`` answers as the services would; a test sets what the card holds, whether the server
is there, what staff decide, and which step fails with which error (``fail``). ``HeldRunner``
keeps the flow's work until the test lets it run, so that every state that waits can be looked at.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.flow import FlowController, View
from kiosk.flow.intents import Event, Intent
from kiosk.flow.table import TABLE
from kiosk.flow.view import Screen
from kiosk.linkage import DeviceAuthorization, Operation, OperationKind, OperationStatus
from kiosk.nfc.errors import InvalidPinError
from kiosk.services.errors import ServiceCode
from kiosk.services.operations import NEEDS_STAFF, Request
from kiosk.services.outbox import Voucher
from kiosk.services.roster import RosterRefused
from kiosk.services.verification import CardReady, OfflineProof, VerificationResult

NOW = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
PIN = "1234"
CARDINFO_PIN = "5678"
ACCOUNT = "2024000001"
STRONG_PASSWORD = "Kiosk-Pass-2024"
#: The one member on the fake roster, and their offline PIN.
STAFF_ID, OFFLINE_PIN = "tanaka.h", "135790"

#: The steps a test can make fail, by the backend call that raises.
STEPS = ("begin_prelink", "wait_for_account", "open_card", "prepare", "submit", "cardinfo_tries_left",
         "read_name", "request", "submit_request", "wait_for_staff", "set_password", "approve", "record")


class FakeCard:
    """A card connection the flow opens and closes; nothing is ever sent to it here."""

    def __init__(self) -> None:
        self.closed = False

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        raise AssertionError("the flow itself never talks to the card")

    def close(self) -> None:
        self.closed = True


@dataclass
class Card:
    """What the card on the reader holds, as the fake verification sees it."""

    tries_left: int = 3
    cardinfo_tries_left: int = 3
    expired: bool = False
    not_yet_valid: bool = False
    linked: bool = True
    name: str = "YAMADA TARO"


class FakeVerification:
    def __init__(self, backend: FakeBackend, account_id: str) -> None:
        self.backend = backend
        self.account_id = account_id
        self.card = backend.card

    def prepare(self, *, card_info: bool = False) -> CardReady:
        self.backend.step("prepare")
        self.backend.reads += 1
        return CardReady(serial=1, not_after=NOW + dt.timedelta(days=900), expired=self.card.expired,
                         tries_left=self.card.tries_left, online=self.backend.online,
                         not_yet_valid=self.card.not_yet_valid)

    def submit(self, pin: bytearray, *, confirm_last_try: bool = False,
               same_pin_for_name: bool = False) -> VerificationResult:
        typed = bytes(pin).decode()
        self.backend.step("submit")
        if typed != PIN:
            self.card.tries_left -= 1
            raise InvalidPinError(self.card.tries_left)
        name = self.card.name if same_pin_for_name and self.backend.same_pin else None
        masked = self.account_id[:2] + "******" + self.account_id[-2:]
        if not self.backend.online:
            proof = OfflineProof(counter=1, issued_at=0, challenge=b"c", certificate=b"x", signature=b"s")
            return VerificationResult(self.account_id, masked, None, None, NOW, False, offline=proof)
        return VerificationResult(self.account_id, masked, self.card.linked, "Yamada Taro", NOW, True,
                                  verification_id="v-1", name_on_card=name)

    def cardinfo_tries_left(self) -> int:
        self.backend.step("cardinfo_tries_left")
        return self.card.cardinfo_tries_left

    def read_name(self, pin: bytearray, *, confirm_last_try: bool = False) -> str:
        self.backend.step("read_name")
        if bytes(pin).decode() != CARDINFO_PIN:
            self.card.cardinfo_tries_left -= 1
            raise InvalidPinError(self.card.cardinfo_tries_left)
        return self.card.name


def operation(kind: OperationKind, status: OperationStatus, result: Mapping[str, object] | None = None,
              ) -> Operation:
    return Operation("op-1", kind, status, ACCOUNT, dict(result or {}), None, None, NOW, NOW,
                     session_key="key")


#: What the server answers each operation with once it is done.
RESULTS: dict[OperationKind, dict[str, object]] = {
    OperationKind.PASSWORD_RESET: {"password_set": True},
    OperationKind.MFA_RESET: {"enrolment_code": "K7QM-3XHD-9HTP-CW4N",
                              "expires_at": "2026-05-01T10:00:00+00:00"},
    OperationKind.SALVAGE: {"ticket": "AB2C-DE3F", "mode": "backup",
                            "expires_at": "2026-05-08T09:00:00+00:00"},
    OperationKind.PRELINK: {"linked": True},
    OperationKind.LINK_STATUS: {"linked": True, "linked_at": "2026-04-01T09:00:00+00:00",
                                "name_on_card": "YAMADA TARO"},
    OperationKind.UNLINK: {"unlinked": True},
}


class FakeOperations:
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.approval_timeout = 600.0
        self.abandoned: list[tuple[str, str]] = []
        self.passwords: list[str] = []
        #: What the server answers each operation with once it is done (a case may change one).
        self.results = {kind: dict(result) for kind, result in RESULTS.items()}

    def request(self, kind: str, verification: VerificationResult, **params: Any) -> Request:
        self.backend.step("request")
        return Request(OperationKind(kind), "v-1", params, "kiosk-0123456789")

    def submit(self, request: Request) -> Operation:
        self.backend.step("submit_request")
        if request.kind in NEEDS_STAFF:
            return operation(request.kind, OperationStatus.AWAITING_APPROVAL)
        return operation(request.kind, OperationStatus.COMPLETED, self.results[request.kind])

    def wait_for_staff(self, op: Operation, cancel: threading.Event) -> Operation:
        self.backend.step("wait_for_staff")
        if op.status is not OperationStatus.AWAITING_APPROVAL:
            return op
        if op.kind is OperationKind.PASSWORD_RESET:
            return operation(op.kind, OperationStatus.APPROVED)
        return operation(op.kind, OperationStatus.COMPLETED, self.results[op.kind])

    def set_password(self, op: Operation, new_password: bytearray) -> Operation:
        self.backend.step("set_password")
        self.passwords.append(new_password.decode())
        new_password[:] = bytes(len(new_password))
        return operation(op.kind, OperationStatus.COMPLETED, self.results[op.kind])

    def abandon(self, op: Operation | None, reason: str) -> None:
        if op is not None and op.status in (OperationStatus.AWAITING_APPROVAL, OperationStatus.APPROVED):
            self.abandoned.append((op.operation_id, reason))

    def begin_prelink(self) -> DeviceAuthorization:
        self.backend.step("begin_prelink")
        return DeviceAuthorization("device", "WDJB-MJHT", "https://id.example/device",
                                   "https://id.example/device?user_code=WDJB-MJHT", 600, 5)

    def wait_for_account(self, authorization: DeviceAuthorization, cancel: threading.Event) -> str:
        self.backend.step("wait_for_account")
        return "account-token"


class FakeOutbox:
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.recorded: list[tuple[str, str]] = []
        self.shown: list[str] = []

    def record(self, kind: str, result: VerificationResult, staff_id: str, approved_at: int,
               params: Mapping[str, Any] | None = None) -> Voucher:
        self.backend.step("record")
        self.recorded.append((kind, staff_id))
        return Voucher("K7QM-2XRD-9HTP-CW4N", "item-1", kind)

    def voucher_shown(self, idempotency_key: str) -> None:
        self.shown.append(idempotency_key)


class FakeRoster:
    """The staff roster with one member; it hears each PIN as the flow hands it over, then wipes it."""

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        #: Every PIN buffer handed over, kept to check that each was wiped.
        self.pins: list[bytearray] = []
        #: How old the roster is; over ``max_age`` it is refused as stale.
        self.age = dt.timedelta(hours=1)
        self.max_age = dt.timedelta(hours=72)

    def approve(self, staff_id: str, pin: bytearray) -> str:
        self.pins.append(pin)
        try:
            self.backend.step("approve")
            if self.age > self.max_age:
                raise RosterRefused(ServiceCode.OFFLINE_ROSTER_STALE, "stale", self.age)
            if (staff_id.strip().lower(), bytes(pin)) != (STAFF_ID, OFFLINE_PIN.encode()):
                raise RosterRefused(ServiceCode.OFFLINE_STAFF_REFUSED, "no such staff ID and PIN")
            return STAFF_ID
        finally:
            pin[:] = bytes(len(pin))


@dataclass
class FakeBackend:
    """``kiosk.flow.ports.Backend`` with the card, the server and the store as plain values."""

    card: Card = field(default_factory=Card)
    online: bool = True
    #: The user says the card-information PIN is the identification PIN, and it is.
    same_pin: bool = True
    #: step name -> the error that step raises (once).
    fail: dict[str, BaseException] = field(default_factory=dict)
    cards: list[FakeCard] = field(default_factory=list)
    #: Called as a card is opened: what happens at the reader meanwhile (opening can be slow).
    opening: Callable[[], None] | None = None
    #: How many times a card was read (its verification prepared).
    reads: int = 0

    def __post_init__(self) -> None:
        self.operations = FakeOperations(self)
        self.outbox = FakeOutbox(self)
        self.roster = FakeRoster(self)

    def step(self, name: str) -> None:
        error = self.fail.pop(name, None)
        if error is not None:
            raise error

    def account_ok(self, account_id: str) -> bool:
        return account_id.isdigit() and len(account_id) == 10

    def open_card(self) -> FakeCard:
        self.step("open_card")
        if self.opening is not None:
            self.opening()
        self.cards.append(FakeCard())
        return self.cards[-1]

    def verification(self, card: Any, account_id: str) -> FakeVerification:
        return FakeVerification(self, account_id)

    def password_problems(self, password: str) -> list[str]:
        problems = [] if len(password) >= 12 else ["too_short"]
        return problems + ([] if any(c.isdigit() for c in password) else ["too_few_classes"])

    def password_policy(self) -> dict[str, Any]:
        return {"min_length": 12, "max_length": 64, "min_classes": 3}

    def now(self) -> dt.datetime:
        return NOW

    def voucher_page(self, code: str) -> str | None:
        return f"https://id.example/voucher#code={code}"


class HeldRunner:
    """Keeps the flow's work until the test runs it, in the order it was submitted."""

    def __init__(self) -> None:
        self.held: list[tuple[Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]]] = []

    def submit(self, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[BaseException], None]) -> None:
        self.held.append((work, done, failed))

    def run_one(self) -> None:
        work, done, failed = self.held.pop(0)
        try:
            value = work()
        except Exception as exc:
            failed(exc)
            return
        done(value)

    def run_but_hold(self) -> None:
        """Run the next work now, but keep its answer back until it is run again."""
        work, done, failed = self.held.pop(0)
        try:
            value = work()
        except Exception as exc:
            self.held.insert(0, (_raise(exc), done, failed))
            return
        self.held.insert(0, (lambda: value, done, failed))

    def run_all(self) -> None:
        while self.held:
            self.run_one()


def _raise(exc: Exception) -> Callable[[], Any]:
    def again() -> Any:
        raise exc

    return again


Transition = tuple[Screen, Event, Screen]
#: Every transition any ``Kiosk`` took since the last ``TAKEN.clear()``.
TAKEN: set[Transition] = set()


class Kiosk:
    """The flow over the fake backend, recording its views and every transition it takes."""

    def __init__(self, backend: FakeBackend | None = None) -> None:
        self.backend = backend or FakeBackend()
        self.runner = HeldRunner()
        self.views: list[View] = []
        self.taken: list[Transition] = []
        self.flow = FlowController(self.backend, self.runner, self.views.append, language="en",
                                   on_transition=self._took)

    def _took(self, state: Screen, event: Event, landed: Screen) -> None:
        assert landed in TABLE[(state, event)].to, f"{state} --{event}--> {landed} is not in the table"
        self.taken.append((state, event, landed))
        TAKEN.add((state, event, landed))

    @property
    def view(self) -> View:
        return self.flow.view

    @property
    def screen(self) -> Screen:
        return self.flow.view.screen

    def do(self, intent: Intent, argument: object = None) -> Kiosk:
        self.flow.dispatch(intent, argument)
        return self

    def settle(self) -> Kiosk:
        self.runner.run_all()
        return self

    def type_pin(self, digits: str) -> Kiosk:
        for digit in digits:
            self.do(Intent.PIN_DIGIT, digit)
        return self.do(Intent.PIN_SUBMIT)
