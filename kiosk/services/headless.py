"""One whole operation without a window: card, PIN, server, staff, result, each step timed.

``kiosk flow`` runs this for scripts, support and benchmarks; the window drives the same services
step by step. Every failure is a ``FlowFailed`` carrying a stable code, never a traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kiosk.linkage import LinkageError, Operation
from kiosk.linkage.models import OPERATION_KINDS
from kiosk.nfc import CardConnection
from kiosk.nfc.errors import CardError, InvalidPinFormatError
from kiosk.nfc.session import pin_bytes
from kiosk.offline import OFFLINE_OPERATIONS, OfflineRefused
from kiosk.services.core import KioskCore
from kiosk.services.errors import OperationError, OutboxError, ServiceCode, VerificationError
from kiosk.services.operations import EndReason, withdrawn_because
from kiosk.services.passwords import DEFAULT_POLICY, password_problems, problem_words, server_policy
from kiosk.services.verification import REFUSALS, VerificationResult, VerificationSession, wipe


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


class FlowFailed(Exception):
    """A step failed with a stable code.

    ``bad_input``: what was given was refused before any operation was requested (a malformed
    PIN, a missing or weak new password); ``problems``: the password rules broken, as codes, and
    ``problem_words`` each as the rule to follow.
    """

    def __init__(self, step: str, code: str, message: str, *, bad_input: bool = False,
                 problems: Sequence[str] = (), problem_words: Sequence[str] = ()) -> None:
        super().__init__(f"{step}: {code}: {message}")
        self.step = step
        self.code = code
        self.message = message
        self.bad_input = bad_input
        self.problems = tuple(problems)
        self.problem_words = tuple(problem_words)


def check_pin(pin: bytearray) -> None:
    """A PIN the card would refuse unread is refused here, before the card or the server is touched."""
    try:
        wipe(pin_bytes(pin, 4))
    except InvalidPinFormatError as exc:
        raise FlowFailed("start", exc.code, "the PIN must be 4 digits", bad_input=True) from None


def check_password(password: bytearray, policy: Mapping[str, Any]) -> None:
    """The new password against the policy the server publishes (which checks it again itself)."""
    problems = password_problems(password.decode("utf-8", "replace"), policy)
    if problems:
        words = [problem_words(p, policy) for p in problems]
        raise FlowFailed("password", "password_policy", "the new password breaks the policy", bad_input=True,
                         problems=problems, problem_words=words)


@dataclass
class FlowInput:
    """What the user (and staff) would give at the counter; buffers are wiped once used."""

    operation: str
    account_id: str
    pin: bytearray
    new_password: bytearray | None = None
    cardinfo_pin: bytearray | None = None
    same_pin_for_name: bool = False
    confirm_last_try: bool = False
    mode: str | None = None
    #: The staff member approving at the counter when the kiosk is offline, and their offline PIN.
    offline_staff_id: str | None = None
    offline_pin: bytearray | None = None
    #: Called with the device authorization's user code and URI, for pre-link.
    on_user_code: Callable[[str, str], None] | None = None

    def wipe(self) -> None:
        for buffer in (self.pin, self.new_password, self.cardinfo_pin, self.offline_pin):
            if buffer is not None:
                wipe(buffer)


T = TypeVar("T")
#: Failures with a stable code, which become a FlowFailed; anything else is a bug and propagates.
KNOWN_FAILURES = (CardError, LinkageError, VerificationError, OperationError, OutboxError, OfflineRefused)


class Flow:
    def __init__(self, core: KioskCore, emit: Callable[[Step], None],
                 cancel: threading.Event | None = None) -> None:
        self.core = core
        self.emit = emit
        self.cancel = cancel or threading.Event()
        #: The operation this run asked for, as last seen: cancelled on the server if the run
        #: ends while it still waits (for staff or for the password).
        self.operation: Operation | None = None

    def _step(self, name: str, action: Callable[[], T],
              describe: Callable[[T], dict[str, Any]] = lambda _value: {}, *, report: bool = True) -> T:
        """Run one step, time it and report it (unless told not to); a known failure becomes
        FlowFailed with its code."""
        if self.cancel.is_set():
            raise FlowFailed(name, "cancelled", "the session was cancelled")
        started = time.perf_counter()
        try:
            value = action()
        except KNOWN_FAILURES as exc:
            raise FlowFailed(name, exc.code, getattr(exc, "message", str(exc))) from None
        if report:
            self.emit(Step(name, time.perf_counter() - started, describe(value)))
        return value

    def run(self, card: CardConnection, given: FlowInput) -> dict[str, Any]:
        reason = EndReason.ERROR
        try:
            return self._run(card, given)
        except FlowFailed as exc:
            reason = withdrawn_because(exc.code)
            raise
        finally:
            given.wipe()
            if self.cancel.is_set():
                reason = EndReason.INTERRUPTED
            self.core.operations.abandon(self.operation, reason)

    def _run(self, card: CardConnection, given: FlowInput) -> dict[str, Any]:
        self._check_input(given)
        account_token = self._sign_in(given) if given.operation == "prelink" else None
        session = self.core.verification(card, given.account_id)
        prelink = given.operation == "prelink"
        ready = self._step("card", lambda: session.prepare(card_info=prelink), lambda r: {
            "tries_left": r.tries_left, "expired": r.expired, "online": r.online,
            "offline_reason": r.offline_reason, "not_after": r.not_after.isoformat()})
        refusal = ready.refusal()
        if refusal is not None:
            raise FlowFailed("card", refusal, REFUSALS[refusal])
        same = given.same_pin_for_name and given.operation == "prelink"
        result = self._step("verify", lambda: session.submit(
            given.pin, confirm_last_try=given.confirm_last_try, same_pin_for_name=same),
            lambda r: {"online": r.online, "match": r.match, "account": r.masked_account})
        if not result.online:
            return self._offline(result, given)
        return self._online(session, result, given, account_token)

    def _check_input(self, given: FlowInput) -> None:
        """What can be refused before the card or the server is asked anything."""
        if given.operation not in OPERATION_KINDS:
            raise FlowFailed("start", "operation.unknown", f"no operation {given.operation!r}")
        if not self.core.settings.account_id_ok(given.account_id):
            raise FlowFailed("start", "invalid_account", "the account ID does not have the right format",
                             bad_input=True)
        check_pin(given.pin)
        if given.operation == "password_reset" and given.new_password is not None:
            check_password(given.new_password, server_policy(self.core.linkage) or DEFAULT_POLICY)

    def _sign_in(self, given: FlowInput) -> str:
        """Pre-link: the user signs in on their phone; the account token."""
        ops = self.core.operations
        authorization = self._step("device_authorization", ops.begin_prelink, lambda a: {
            "user_code": a.user_code, "verification_uri_complete": a.verification_uri_complete})
        if given.on_user_code is not None:
            given.on_user_code(authorization.user_code, authorization.verification_uri_complete)
        return self._step("account_sign_in", lambda: ops.wait_for_account(authorization, self.cancel))

    def _online(self, session: VerificationSession, result: VerificationResult, given: FlowInput,
                account_token: str | None) -> dict[str, Any]:
        ops = self.core.operations
        params: dict[str, Any] = {}
        if given.operation == "prelink":
            name = result.name_on_card
            if name is None:
                pin = given.cardinfo_pin
                if pin is None:
                    raise FlowFailed("card_info", "pin.cardinfo_needed", "the card-info PIN is needed")
                name = self._step("card_info", lambda: session.read_name(pin))
            params = {"account_token": account_token, "name_on_card": name}
        elif given.operation == "salvage":
            params = {"mode": given.mode or "backup"}
        if given.operation != "prelink" and result.match is not True:
            raise FlowFailed("verify", "no_match", "the card is not linked to this account")
        password = given.new_password
        if given.operation == "password_reset" and password is None:
            raise FlowFailed("password", "password.missing", "a new password is needed", bad_input=True,
                             problems=["missing"], problem_words=[problem_words("missing", {})])
        request = ops.request(given.operation, result, **params)
        describe = _describe_operation
        operation = self.operation = self._step("request", lambda: ops.submit(request), describe)
        # An operation answered at once (link_status) has no approval to wait for, nor to report.
        operation = self.operation = self._step(
            "approval", lambda: ops.wait_for_staff(operation, self.cancel), describe,
            report=operation.status == "awaiting_approval")
        if password is not None and given.operation == "password_reset":
            operation = self.operation = self._step(
                "password", lambda: ops.set_password(operation, password), describe)
        return {"online": True, "match": result.match, "account": result.masked_account,
                "name_on_record": result.name_on_record, "operation_id": operation.operation_id,
                "status": operation.status, "result": dict(operation.result)}

    def _offline(self, result: VerificationResult, given: FlowInput) -> dict[str, Any]:
        staff, pin = given.offline_staff_id, given.offline_pin
        if given.operation not in OFFLINE_OPERATIONS:  # before staff spend their PIN on it
            raise FlowFailed("offline_record", ServiceCode.OFFLINE_NOT_FOR_OPERATION,
                             f"{given.operation} cannot be done while offline")
        if staff is None or pin is None:
            raise FlowFailed("approval", "offline.staff_needed", "offline, a staff member must approve here "
                             "with their staff ID and offline PIN")
        params = {"mode": given.mode or "backup"} if given.operation == "salvage" else {}
        approved_at = int(self.core.clock().timestamp())
        approver = self._step("offline_staff", lambda: self.core.roster.approve(staff, pin),
                              lambda a: {"staff_id": a})
        voucher = self._step("offline_record", lambda: self.core.outbox.record(
            given.operation, result, approver, approved_at, params),
            lambda v: {"outbox_key": v.idempotency_key})
        self.core.sync.wake()
        return {"online": False, "account": result.masked_account, "voucher": voucher.code,
                "outbox_key": voucher.idempotency_key}


def _describe_operation(operation: Operation) -> dict[str, Any]:
    return {"operation_id": operation.operation_id, "status": operation.status}
