"""What the flow needs from the rest of the kiosk, as interfaces: a way to run work, and the backend.

Every backend method returns an interface, never a service class, so that a fake backend can
stand in for the card, the server and the store (``CoreBackend`` is the real one).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from kiosk.linkage import DeviceAuthorization, Operation
from kiosk.nfc import CardConnection
from kiosk.services.operations import Request
from kiosk.services.outbox import Voucher
from kiosk.services.verification import CardReady, VerificationResult

T = TypeVar("T")


class Runner(Protocol):
    """Runs work off the screen's thread and calls back on it."""

    def submit(self, work: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[BaseException], None]) -> None: ...


class ImmediateRunner:
    """Runs work at once on the calling thread (for tests and headless use)."""

    def submit(self, work: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[BaseException], None]) -> None:
        try:
            value = work()
        except BaseException as exc:  # handed to the controller, which shows it
            failed(exc)
            return
        done(value)


class Verification(Protocol):
    """One card's verification for one account (``kiosk.services.verification.VerificationSession``)."""

    def prepare(self, *, card_info: bool = False) -> CardReady: ...

    def submit(self, pin: bytearray, *, confirm_last_try: bool = False,
               same_pin_for_name: bool = False) -> VerificationResult: ...

    def cardinfo_tries_left(self) -> int: ...

    def read_name(self, pin: bytearray, *, confirm_last_try: bool = False) -> str: ...


class Operations(Protocol):
    """The operations on the server (``kiosk.services.operations.OperationService``)."""

    #: How long the kiosk waits for a staff decision, in seconds.
    approval_timeout: float

    def request(self, kind: str, verification: VerificationResult, **params: Any) -> Request: ...

    def submit(self, request: Request) -> Operation: ...

    def wait_for_staff(self, operation: Operation, cancel: threading.Event) -> Operation: ...

    def set_password(self, operation: Operation, new_password: bytearray) -> Operation: ...

    def abandon(self, operation: Operation | None, reason: str) -> None: ...

    def begin_prelink(self) -> DeviceAuthorization: ...

    def wait_for_account(self, authorization: DeviceAuthorization, cancel: threading.Event) -> str: ...


class Outbox(Protocol):
    """Offline approvals kept for the server (``kiosk.services.outbox.OfflineOutbox``)."""

    def record(self, kind: str, result: VerificationResult, staff_id: str, approved_at: int,
               params: Mapping[str, Any] | None = None) -> Voucher: ...

    def voucher_shown(self, idempotency_key: str) -> None: ...


class Roster(Protocol):
    """The staff who may approve offline (``kiosk.services.roster.StaffRoster``)."""

    def approve(self, staff_id: str, pin: bytearray) -> str:
        """The approving member's staff ID; ``RosterRefused`` without a valid credential. Wipes ``pin``."""


class Backend(Protocol):
    """What the flow needs from the kiosk's services."""

    @property
    def operations(self) -> Operations: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def roster(self) -> Roster: ...

    def account_ok(self, account_id: str) -> bool: ...

    def open_card(self) -> CardConnection: ...

    def verification(self, card: CardConnection, account_id: str) -> Verification: ...

    def password_problems(self, password: str) -> list[str]: ...

    def password_policy(self) -> dict[str, Any]: ...

    def now(self) -> dt.datetime: ...

    def voucher_page(self, code: str) -> str | None:
        """The address where the user finishes with this voucher (None: the help desk says where)."""
