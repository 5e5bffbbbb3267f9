"""The counter's flow as a plain state machine: screens, intents, transitions, no Qt.

Screens are passive: they render a ``View`` and send intents (``choose``, ``submit_account``,
``pin_digit``, ...). The controller owns the session: it runs card and network work through a
``Runner`` (worker threads in the window, the calling thread in tests), moves between screens,
wipes the PIN buffer at the end of every step, and wipes the whole session on cancel, idle
timeout, card removal or the end. A view never carries a PIN digit, a password or a card's
certificate; the PIN screen learns only how many digits were typed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Protocol, TypeVar

from kiosk.linkage import DeviceAuthorization, LinkageError, Operation
from kiosk.nfc import CardConnection
from kiosk.nfc.errors import CardError, InvalidPinError
from kiosk.offline import OfflineRefused
from kiosk.services.errors import OperationError, OutboxError, VerificationError
from kiosk.services.operations import OPEN_STATUSES, OPERATIONS, OperationService, Request
from kiosk.services.outbox import OfflineOutbox
from kiosk.services.verification import (
    CardReady,
    VerificationResult,
    VerificationSession,
    wipe,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
PIN_LENGTH = 4
MAX_ACCOUNT_LENGTH = 64
#: Operations that change nothing and need no staff.
NO_STAFF = frozenset({"link_status"})
OFFLINE_CAPABLE = frozenset({"password_reset", "mfa_reset", "salvage"})


class Screen(Enum):
    START = "start"
    ACCOUNT = "account"
    DEVICE_GRANT = "device_grant"
    PLACE_CARD = "place_card"
    PIN = "pin"
    LAST_TRY = "last_try"
    CARDINFO_QUESTION = "cardinfo_question"
    CARDINFO_PIN = "cardinfo_pin"
    VERIFYING = "verifying"
    UNLINK_CONFIRM = "unlink_confirm"
    STAFF_WAIT = "staff_wait"
    OFFLINE_APPROVAL = "offline_approval"
    NEW_PASSWORD = "new_password"
    WORKING = "working"
    DONE = "done"
    ERROR = "error"


@dataclass(frozen=True)
class View:
    """Everything a screen may show; frozen, and free of secrets."""

    screen: Screen
    language: str
    operation: str | None = None
    account: str | None = None  # masked once verified, as typed before
    reader_ready: bool = False
    card_present: bool = False
    busy: bool = False
    online: bool = True
    tries_left: int | None = None
    pin_digits: int = 0
    cardinfo_tries_left: int | None = None
    device_user_code: str | None = None
    device_uri: str | None = None
    name_on_record: str | None = None
    password_problems: tuple[str, ...] = ()
    password_policy: dict[str, Any] = field(default_factory=dict)
    #: What the user takes away: enrolment code, salvage ticket, link status, voucher...
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: The step an error happened at, for the remedy's wording.
    error_step: str | None = None


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


class Backend(Protocol):
    """What the flow needs from the kiosk's services."""

    @property
    def operations(self) -> OperationService: ...

    @property
    def outbox(self) -> OfflineOutbox: ...

    def account_ok(self, account_id: str) -> bool: ...

    def open_card(self) -> CardConnection: ...

    def verification(self, card: CardConnection, account_id: str) -> VerificationSession: ...

    def password_problems(self, password: str) -> list[str]: ...

    def password_policy(self) -> dict[str, Any]: ...

    def now(self) -> dt.datetime: ...

    def voucher_page(self, code: str) -> str | None:
        """The address where the user finishes with this voucher (None: the help desk says where)."""


#: Failures that carry a stable code for the screen's words; anything else is shown as "internal".
CODED = (CardError, LinkageError, VerificationError, OperationError, OutboxError, OfflineRefused)


def error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None) if isinstance(exc, CODED) else None
    return code if isinstance(code, str) and code else "internal"


#: The reason the server records when a failure ends a session whose request still waited.
WITHDRAWN_BECAUSE = {"approval.timeout": "approval_timeout"}


def _ignore(_value: object) -> None:
    """The outcome of work nobody waits for (withdrawing a request is best effort)."""


def _close_card(card: CardConnection) -> None:
    close = getattr(card, "close", None)
    if close is not None:
        close()


@dataclass
class _Session:
    """One user's personal values; dropped as a whole."""

    operation: str
    account: str = ""
    card: CardConnection | None = None
    verification: VerificationSession | None = None
    ready: CardReady | None = None
    result: VerificationResult | None = None
    request: Request | None = None
    op: Operation | None = None
    device: DeviceAuthorization | None = None
    account_token: str | None = None
    same_pin: bool = False
    last_try_confirmed: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)


class FlowController:
    def __init__(self, backend: Backend, runner: Runner, on_view: Callable[[View], None], *,
                 language: str = "ja") -> None:
        self._backend = backend
        self._runner = runner
        self._on_view = on_view
        self._view = View(Screen.START, language)
        self._session: _Session | None = None
        self._pin = bytearray()
        self._generation = 0  # results of a wiped session's work are dropped
        self._reader_ready = False
        self._card_present = False

    # -- state ----------------------------------------------------------------------------------

    @property
    def view(self) -> View:
        return self._view

    def _show(self, screen: Screen, **changes: Any) -> None:
        self._view = replace(self._view, screen=screen, reader_ready=self._reader_ready,
                             card_present=self._card_present, pin_digits=len(self._pin), **changes)
        self._on_view(self._view)

    def _work(self, work: Callable[[], T], done: Callable[[T], None], step: str,
              discard: Callable[[T], None] | None = None) -> None:
        """Run ``work``; its result goes to ``done``, or to ``discard`` if the session moved on meanwhile."""
        generation = self._generation

        def on_done(value: T) -> None:
            if generation == self._generation:
                done(value)
            elif discard is not None:
                discard(value)

        def on_failed(exc: BaseException) -> None:
            if generation == self._generation:
                self._fail(exc, step)

        self._runner.submit(work, on_done, on_failed)

    def _fail(self, exc: BaseException, step: str) -> None:
        code = error_code(exc)
        if code == "internal":
            logger.error("unexpected failure at %s: %s", step, type(exc).__name__, exc_info=exc)
        session = self._session
        if isinstance(exc, InvalidPinError) and exc.tries_left > 0 and step == "card_info":
            self._show(Screen.CARDINFO_PIN, busy=False, cardinfo_tries_left=exc.tries_left, error=code,
                       error_step=step)
            return
        if isinstance(exc, InvalidPinError) and exc.tries_left > 0 and session is not None \
                and session.ready is not None:
            tries = exc.tries_left
            session.ready = replace(session.ready, tries_left=tries)
            session.last_try_confirmed = False
            self._show(Screen.PIN, busy=False, tries_left=tries, error=code, error_step=step)
            return
        self._end_session(WITHDRAWN_BECAUSE.get(code, "error"))
        self._show(Screen.ERROR, busy=False, error=code, error_step=step)

    def _end_session(self, reason: str = "user_cancelled") -> None:
        """Wipe every personal value, drop the results of work still running, and withdraw the
        session's request on the server if it still waits (``reason`` is recorded there)."""
        wipe(self._pin)
        self._pin = bytearray()
        session, self._session = self._session, None
        self._generation += 1
        if session is not None:
            session.cancel.set()
            if session.card is not None:
                _close_card(session.card)
            if session.op is not None and session.op.status in OPEN_STATUSES:
                op, operations = session.op, self._backend.operations
                self._runner.submit(lambda: operations.abandon(op, reason), _ignore, _ignore)
        self._view = View(Screen.START, self._view.language)

    # -- intents from every screen ------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        if language not in ("ja", "en"):
            raise ValueError(language)
        self._view = replace(self._view, language=language)
        self._on_view(self._view)

    def cancel(self, reason: str = "user_cancelled") -> None:
        """The user (or staff) gave up: back to the start with nothing kept."""
        self._end_session(reason)
        self._show(Screen.START)

    def idle_timeout(self) -> None:
        self.cancel("idle_timeout")

    def finish(self) -> None:
        """From the done or error screen: the next person's start screen."""
        self.cancel("finished")

    # -- reader events ---------------------------------------------------------------------------------

    def reader_status(self, ready: bool) -> None:
        self._reader_ready = ready
        self._show(self._view.screen)

    def card_inserted(self) -> None:
        self._card_present = True
        if self._view.screen is Screen.PLACE_CARD and self._session is not None:
            self._read_card()
        else:
            self._show(self._view.screen)

    def card_removed(self) -> None:
        self._card_present = False
        screen = self._view.screen
        if self._session is not None and screen is Screen.PLACE_CARD and self._view.busy:
            # Lifted while it was being read (a card slides easily on an NFC reader): drop the
            # read and ask for the card again, keeping what the user typed.
            self._generation += 1
            self._show(screen, busy=False, error="card.removed")
            return
        if self._session is None or screen in (Screen.START, Screen.ACCOUNT, Screen.DEVICE_GRANT,
                                                Screen.PLACE_CARD):
            self._show(screen)
            return
        if screen is Screen.DONE:
            self.cancel()  # "take your card" was the last step
            return
        if self._session.result is not None and screen in (Screen.STAFF_WAIT, Screen.NEW_PASSWORD,
                                                           Screen.WORKING):
            # Past the card steps: the user may pocket the card; the request goes on.
            self._show(screen)
            return
        self._end_session("card_removed")
        self._show(Screen.ERROR, error="card.removed", error_step=screen.value)

    # -- start and account ----------------------------------------------------------------------------

    def choose(self, operation: str) -> None:
        if operation not in OPERATIONS:
            raise ValueError(operation)
        self._end_session()
        self._session = _Session(operation)
        self._show(Screen.ACCOUNT, operation=operation)

    def submit_account(self, account_id: str) -> None:
        session = self._require(Screen.ACCOUNT)
        account_id = account_id.strip()
        if len(account_id) > MAX_ACCOUNT_LENGTH or not self._backend.account_ok(account_id):
            self._show(Screen.ACCOUNT, error="invalid_account")
            return
        session.account = account_id
        if session.operation == "prelink":
            self._show(Screen.DEVICE_GRANT, account=account_id, busy=True, error=None)
            self._work(self._backend.operations.begin_prelink, self._device_started, "device_grant")
            return
        self._place_card(account_id)

    def _device_started(self, authorization: DeviceAuthorization) -> None:
        session = self._session
        assert session is not None
        session.device = authorization
        self._show(Screen.DEVICE_GRANT, busy=True, device_user_code=authorization.user_code,
                   device_uri=authorization.verification_uri_complete)
        cancel = session.cancel
        self._work(lambda: self._backend.operations.wait_for_account(authorization, cancel),
                   self._account_proved, "device_grant")

    def _account_proved(self, token: str) -> None:
        session = self._session
        assert session is not None
        session.account_token = token
        self._place_card(session.account)

    def _place_card(self, account_id: str) -> None:
        self._show(Screen.PLACE_CARD, account=account_id, busy=False, error=None,
                   device_user_code=None, device_uri=None)
        if self._card_present:
            self._read_card()

    # -- the card -------------------------------------------------------------------------------------

    def _read_card(self) -> None:
        session = self._session
        assert session is not None

        def prepare() -> tuple[CardConnection, VerificationSession, CardReady]:
            card = self._backend.open_card()
            verification = self._backend.verification(card, session.account)
            return card, verification, verification.prepare(card_info=session.operation == "prelink")

        def close(prepared: tuple[CardConnection, VerificationSession, CardReady]) -> None:
            _close_card(prepared[0])

        self._show(Screen.PLACE_CARD, busy=True, error=None)
        self._work(prepare, self._card_ready, "card", discard=close)

    def _card_ready(self, prepared: tuple[CardConnection, VerificationSession, CardReady]) -> None:
        session = self._session
        assert session is not None
        session.card, session.verification, session.ready = prepared
        ready = session.ready
        refusal = ready.refusal()
        if refusal is None and not ready.online and session.operation not in OFFLINE_CAPABLE:
            refusal = "offline.not_for_operation"
        if refusal is not None:
            self._end_session()
            self._show(Screen.ERROR, error=refusal, error_step="card")
            return
        self._show(Screen.PIN, busy=False, tries_left=ready.tries_left, online=ready.online, error=None)

    # -- the PIN pad --------------------------------------------------------------------------------------

    def pin_digit(self, digit: str) -> None:
        if self._view.screen not in (Screen.PIN, Screen.CARDINFO_PIN) or self._view.busy:
            return
        if len(digit) != 1 or digit not in "0123456789" or len(self._pin) >= PIN_LENGTH:
            return
        self._pin.append(ord(digit))
        self._show(self._view.screen, error=None)

    def pin_backspace(self) -> None:
        if self._pin:
            self._pin[-1] = 0
            del self._pin[-1]
        self._show(self._view.screen)

    def pin_clear(self) -> None:
        wipe(self._pin)
        self._pin = bytearray()
        self._show(self._view.screen)

    def pin_submit(self) -> None:
        if len(self._pin) != PIN_LENGTH or self._session is None or self._session.ready is None:
            return
        if self._view.screen is Screen.CARDINFO_PIN:
            self._submit_cardinfo_pin()
        elif self._view.screen is Screen.PIN:
            self._after_pin(self._session)

    def _after_pin(self, session: _Session) -> None:
        assert session.ready is not None
        if session.ready.tries_left == 1 and not session.last_try_confirmed:
            self._show(Screen.LAST_TRY)  # the PIN waits in its buffer for the explicit confirmation
        elif session.operation == "prelink":
            self._show(Screen.CARDINFO_QUESTION)
        else:
            self._verify()

    def confirm_last_try(self, go_on: bool) -> None:
        session = self._require(Screen.LAST_TRY)
        if not go_on:
            self.pin_clear()
            self._show(Screen.PIN)
            return
        session.last_try_confirmed = True
        self._after_pin(session)

    def answer_same_pin(self, same: bool) -> None:
        session = self._require(Screen.CARDINFO_QUESTION)
        session.same_pin = same
        self._verify()

    def _verify(self) -> None:
        session = self._session
        assert session is not None and session.verification is not None
        confirm_last_try = session.last_try_confirmed
        pin, self._pin = self._pin, bytearray()
        verification = session.verification
        same = session.same_pin
        self._show(Screen.VERIFYING, busy=True, error=None)

        def submit() -> VerificationResult:
            try:
                return verification.submit(pin, confirm_last_try=confirm_last_try, same_pin_for_name=same)
            finally:
                wipe(pin)

        self._work(submit, self._verified, "verify")

    def _verified(self, result: VerificationResult) -> None:
        session = self._session
        assert session is not None
        session.result = result
        common = {"busy": False, "account": result.masked_account, "online": result.online,
                  "name_on_record": result.name_on_record}
        if not result.online:
            self._show(Screen.OFFLINE_APPROVAL, **common)
            return
        if session.operation != "prelink" and result.match is not True:
            self._end_session()
            self._show(Screen.ERROR, error="no_match", error_step="verify")
            return
        if session.operation == "prelink" and result.name_on_card is None:
            assert session.verification is not None
            verification = session.verification
            self._work(verification.cardinfo_tries_left, lambda tries: self._show(
                Screen.CARDINFO_PIN, cardinfo_tries_left=tries, **common), "card_info")
            return
        if session.operation == "unlink":
            self._show(Screen.UNLINK_CONFIRM, **common)
            return
        self._request(common)

    def _submit_cardinfo_pin(self) -> None:
        session = self._session
        assert session is not None and session.verification is not None
        pin, self._pin = self._pin, bytearray()
        verification = session.verification
        self._show(Screen.WORKING, busy=True)

        # The card-info PIN screen shows its tries left; typing on at one try left is the confirmation.
        last_try = self._view.cardinfo_tries_left == 1

        def read() -> str:
            try:
                return verification.read_name(pin, confirm_last_try=last_try)
            finally:
                wipe(pin)

        def named(name: str) -> None:
            assert session.result is not None
            session.result = replace(session.result, name_on_card=name)
            self._request({"busy": False})

        self._work(read, named, "card_info")

    def confirm_unlink(self, yes: bool) -> None:
        self._require(Screen.UNLINK_CONFIRM)
        if not yes:
            self.cancel()
            return
        self._request({})

    # -- the operation --------------------------------------------------------------------------------------

    def _request(self, common: dict[str, Any]) -> None:
        session = self._session
        assert session is not None and session.result is not None
        params: dict[str, Any] = {}
        if session.operation == "prelink":
            params = {"account_token": session.account_token, "name_on_card": session.result.name_on_card}
        elif session.operation == "salvage":
            params = {"mode": "backup"}
        operations = self._backend.operations
        try:
            session.request = operations.request(session.operation, session.result, **params)
        except OperationError as exc:
            self._fail(exc, "request")
            return
        request = session.request
        cancel = session.cancel
        screen = Screen.WORKING if session.operation in NO_STAFF else Screen.STAFF_WAIT
        self._show(screen, busy=True, **{k: v for k, v in common.items() if k != "busy"})

        def run() -> Operation:
            session.op = op = operations.submit(request)
            if cancel.is_set():  # the session ended while the request was on its way
                operations.abandon(op, "user_cancelled")
            return operations.wait_for_staff(op, cancel)

        self._work(run, self._decided, "approval")

    def _decided(self, op: Operation) -> None:
        session = self._session
        assert session is not None
        session.op = op
        if session.operation == "password_reset" and op.status == "approved":
            self._show(Screen.NEW_PASSWORD, busy=False, password_policy=self._backend.password_policy(),
                       password_problems=())
            return
        self._show(Screen.DONE, busy=False, result=dict(op.result))

    def password_changed(self, password: str) -> None:
        """As the user types: which rules the password still breaks (the text itself is not kept)."""
        if self._view.screen is Screen.NEW_PASSWORD:
            problems = tuple(self._backend.password_problems(password))
            self._show(Screen.NEW_PASSWORD, password_problems=problems)

    def submit_password(self, password: bytearray) -> None:
        session = self._require(Screen.NEW_PASSWORD)
        problems = self._backend.password_problems(password.decode("utf-8", "replace"))
        if problems:
            wipe(password)
            self._show(Screen.NEW_PASSWORD, password_problems=tuple(problems))
            return
        assert session.op is not None
        op = session.op
        operations = self._backend.operations
        self._show(Screen.WORKING, busy=True, password_problems=())
        self._work(lambda: operations.set_password(op, password), self._password_set, "password")

    def _password_set(self, op: Operation) -> None:
        assert self._session is not None
        self._session.op = op
        self._show(Screen.DONE, busy=False, result=dict(op.result))

    # -- offline -------------------------------------------------------------------------------------------

    def approve_offline(self, staff_id: str) -> None:
        session = self._require(Screen.OFFLINE_APPROVAL)
        staff_id = staff_id.strip()
        if not staff_id or len(staff_id) > 64:
            self._show(Screen.OFFLINE_APPROVAL, error="staff.invalid")
            return
        assert session.result is not None
        result = session.result
        outbox = self._backend.outbox
        approved_at = int(self._backend.now().timestamp())
        params = {"mode": "backup"} if session.operation == "salvage" else {}
        operation = session.operation
        self._show(Screen.WORKING, busy=True, error=None)
        def recorded(voucher: Any) -> None:
            shown: dict[str, Any] = {"voucher": voucher.code}
            page = self._backend.voucher_page(voucher.code)
            if page:
                shown["voucher_url"] = page
            self._show(Screen.DONE, busy=False, online=False, result=shown)
            # On the screen now: the store notes it (off this thread), so the item is not reported
            # as a voucher nobody holds.
            self._runner.submit(lambda: outbox.voucher_shown(voucher.idempotency_key), lambda _: None,
                                lambda exc: logger.warning("could not note the voucher as shown: %s",
                                                           type(exc).__name__))

        self._work(lambda: outbox.record(operation, result, staff_id, approved_at, params), recorded,
                   "offline_record")

    # -- helpers ---------------------------------------------------------------------------------------------

    def _require(self, screen: Screen) -> _Session:
        if self._view.screen is not screen or self._session is None:
            raise RuntimeError(f"not on the {screen.value} screen")
        return self._session
