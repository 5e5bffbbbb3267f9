"""The flow's handlers: what each transition of ``kiosk.flow.table.TABLE`` does.

Each takes the controller and the event's argument, changes the session and shows the next screen
(or starts work whose value comes back as a ``Work`` event). Which handler runs in which state, and
which states it may lead to, is the table's business, not theirs.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kiosk.flow.intents import StaffCredential, Work
from kiosk.flow.ports import Verification
from kiosk.flow.session import (
    MAX_ACCOUNT_LENGTH,
    PIN_LENGTH,
    Session,
    close_card,
    error_code,
)
from kiosk.flow.view import (
    FlowCode,
    Screen,
    Step,
    VoucherIssued,
    result_of,
)
from kiosk.linkage import DeviceAuthorization, Operation, OperationKind, OperationStatus, ServerRefused
from kiosk.nfc import CardConnection
from kiosk.nfc.errors import CardCode, CardRemovedError, InvalidPinError
from kiosk.services.errors import OperationError, ServiceCode
from kiosk.services.operations import NEEDS_STAFF, OFFLINE_CAPABLE, EndReason, withdrawn_because
from kiosk.services.outbox import Voucher
from kiosk.services.roster import RosterRefused
from kiosk.services.verification import CardReady, VerificationResult, wipe

if TYPE_CHECKING:
    from kiosk.flow.machine import FlowController

logger = logging.getLogger(__name__)

Prepared = tuple[CardConnection, Verification, CardReady]
#: Screens past the card steps: the user may pocket the card, the request goes on.
PAST_THE_CARD = (Screen.STAFF_WAIT, Screen.NEW_PASSWORD, Screen.WORKING)


# -- on every screen ------------------------------------------------------------------------------

def set_language(flow: FlowController, language: str) -> None:
    if language not in ("ja", "en"):
        raise ValueError(language)
    flow.show(flow.view.screen, language=language)


def set_large_text(flow: FlowController, large: bool) -> None:
    flow.show(flow.view.screen, large_text=bool(large))


def reader_status(flow: FlowController, ready: bool) -> None:
    flow.reader_ready = bool(ready)
    flow.show(flow.view.screen)


def cancel(flow: FlowController, _argument: object = None, reason: str = "user_cancelled") -> None:
    """The user (or staff) gave up: back to the start with nothing kept."""
    flow.end_session(EndReason(reason))
    flow.show(Screen.START)


def idle_timeout(flow: FlowController, _argument: object = None) -> None:
    """Nobody is at the counter: the session goes, and the next person meets the normal text size."""
    flow.end_session(EndReason.IDLE_TIMEOUT)
    flow.show(Screen.START, large_text=False)


def finish(flow: FlowController, _argument: object = None) -> None:
    """From the done or error screen: the next person's start screen."""
    cancel(flow, reason="finished")


def card_inserted(flow: FlowController, _argument: object = None) -> None:
    flow.card_present = True
    if flow.view.screen is Screen.PLACE_CARD and flow.session is not None:
        read_card(flow)
    else:
        flow.show(flow.view.screen)


def card_removed(flow: FlowController, _argument: object = None) -> None:
    flow.card_present = False
    view, session = flow.view, flow.session
    if session is not None and view.screen is Screen.PLACE_CARD and view.busy:
        # Lifted while it was being read (a card slides easily on an NFC reader): drop the read and
        # ask for the card again, keeping what the user typed.
        flow.generation += 1
        flow.show(view.screen, busy=False, error=CardCode.REMOVED)
    elif session is None or view.screen in (Screen.ACCOUNT, Screen.DEVICE_GRANT, Screen.PLACE_CARD):
        flow.show(view.screen)
    elif view.screen is Screen.DONE:
        cancel(flow)  # "take your card" was the last step
    elif session.result is not None and view.screen in PAST_THE_CARD:
        flow.show(view.screen)
    else:
        flow.end_session("card_removed")
        flow.show(Screen.ERROR, error=CardCode.REMOVED, error_step=view.screen.value)


def display_failed(flow: FlowController, where: str) -> None:
    """The window could not show a screen: the session ends as on any error (its request withdrawn),
    and the error screen says so, naming for staff the screen that failed."""
    flow.end_session(EndReason.ERROR)
    flow.show(Screen.ERROR, busy=False, error=FlowCode.DISPLAY_FAILED, error_step=str(where))


def failed(flow: FlowController, failure: tuple[BaseException, Step]) -> None:
    exc, step = failure
    fail(flow, exc, step)


#: The new-password screen's "refusal" when the directory did not answer at all.
DIRECTORY_DOWN = "directory_unavailable"
#: How much of the directory's own words the new-password screen shows.
MAX_REFUSAL = 200


def _refused_password(flow: FlowController, exc: BaseException, step: Step) -> bool:
    """The account directory refused the new password (its policy: history, age, strength), or did
    not answer: the operation stays approved, and the user chooses another password on the
    new-password screen, or sends it again."""
    if step is not Step.PASSWORD or not isinstance(exc, ServerRefused) or flow.session is None \
            or flow.session.op is None:
        return False
    if exc.code == "directory_unavailable":
        # The directory did not answer: nothing changed and the approval stands, so the user can
        # send the password again in a moment instead of starting over.
        flow.show(Screen.NEW_PASSWORD, busy=False, password_problems=(), error=None,
                  password_refused=(DIRECTORY_DOWN,), password_refusal=None)
        return True
    if exc.code != "password_policy":
        return False
    problems = exc.extra.get("problems")
    rules = tuple(str(p)[:40] for p in problems[:8]) if isinstance(problems, list) else ()
    reason = exc.extra.get("reason")
    flow.show(Screen.NEW_PASSWORD, busy=False, password_problems=(), error=None,
              password_refused=rules or ("directory_refused",),
              password_refusal=str(reason)[:MAX_REFUSAL] if isinstance(reason, str) and reason else None)
    return True


def fail(flow: FlowController, exc: BaseException, step: Step) -> None:
    """Show a failure: a wrong PIN goes back to its pad, anything else ends the session."""
    code = error_code(exc)
    if code == FlowCode.INTERNAL:
        logger.error("unexpected failure at %s: %s", step.value, type(exc).__name__, exc_info=exc)
    session = flow.session
    wrong_pin = isinstance(exc, InvalidPinError) and exc.tries_left > 0
    if wrong_pin and step is Step.CARD_INFO:
        assert isinstance(exc, InvalidPinError)
        flow.show(Screen.CARDINFO_PIN, busy=False, cardinfo_tries_left=exc.tries_left, error=code,
                  error_step=step)
        return
    if _refused_password(flow, exc, step):
        return
    if isinstance(exc, RosterRefused) and session is not None and session.result is not None:
        # No valid staff credential: nothing was recorded; staff may try again (or cancel).
        flow.show(Screen.OFFLINE_APPROVAL, busy=False, error=code, error_step=step, roster_age=exc.age)
        return
    if wrong_pin and step is Step.VERIFY and session is not None and session.ready is not None:
        assert isinstance(exc, InvalidPinError)
        session.ready = replace(session.ready, tries_left=exc.tries_left)
        session.last_try_confirmed = False
        flow.show(Screen.PIN, busy=False, tries_left=exc.tries_left, error=code, error_step=step)
        return
    flow.end_session(withdrawn_because(code))
    flow.show(Screen.ERROR, busy=False, error=code, error_step=step)


# -- start, account, phone sign-in ------------------------------------------------------------------

def choose(flow: FlowController, operation: str) -> None:
    kind = OperationKind(operation)  # ValueError for anything else
    flow.end_session()
    flow.session = Session(kind)
    flow.show(Screen.ACCOUNT, operation=kind)


def submit_account(flow: FlowController, account_id: str) -> None:
    session = flow.require()
    account_id = account_id.strip()
    if len(account_id) > MAX_ACCOUNT_LENGTH or not flow.backend.account_ok(account_id):
        flow.show(Screen.ACCOUNT, error=FlowCode.INVALID_ACCOUNT)
        return
    session.account = account_id
    if session.operation is OperationKind.PRELINK:
        flow.show(Screen.DEVICE_GRANT, account=account_id, busy=True, error=None)
        flow.work(flow.backend.operations.begin_prelink, Work.DEVICE_STARTED, Step.DEVICE_GRANT)
        return
    place_card(flow, account_id)


def device_started(flow: FlowController, authorization: DeviceAuthorization) -> None:
    session = flow.require()
    session.device = authorization
    flow.show(Screen.DEVICE_GRANT, busy=True, device_user_code=authorization.user_code,
              device_uri=authorization.verification_uri_complete, wait_seconds=authorization.expires_in)
    cancel_event, operations = session.cancel, flow.backend.operations
    flow.work(lambda: operations.wait_for_account(authorization, cancel_event), Work.ACCOUNT_PROVED,
              Step.DEVICE_GRANT)


def account_proved(flow: FlowController, token: str) -> None:
    session = flow.require()
    session.account_token = token
    place_card(flow, session.account)


def place_card(flow: FlowController, account_id: str) -> None:
    flow.show(Screen.PLACE_CARD, account=account_id, busy=False, error=None, device_user_code=None,
              device_uri=None, wait_seconds=None)
    if flow.card_present:
        read_card(flow)


# -- the card and the PIN ---------------------------------------------------------------------------

def read_card(flow: FlowController) -> None:
    session = flow.require()
    backend, generation = flow.backend, flow.generation

    def stale() -> None:
        # The card was lifted since this read began: a card on the reader now is another read's.
        if generation != flow.generation:
            raise CardRemovedError("the card was taken off before it could be read")

    def prepare() -> Prepared:
        with flow.card_lock:
            stale()
            card = backend.open_card()
            try:
                stale()
                verification = backend.verification(card, session.account)
                ready = verification.prepare(card_info=session.operation is OperationKind.PRELINK)
                return card, verification, ready
            except BaseException:
                close_card(card)  # a read that failed leaves no connection open
                raise

    def close(prepared: Prepared) -> None:
        close_card(prepared[0])

    flow.show(Screen.PLACE_CARD, busy=True, error=None)
    flow.work(prepare, Work.CARD_READ, Step.CARD, discard=close)


def card_read(flow: FlowController, prepared: Prepared) -> None:
    session = flow.require()
    session.card, session.verification, session.ready = prepared
    ready = session.ready
    refusal = ready.refusal()
    if refusal is None and not ready.online and session.operation not in OFFLINE_CAPABLE:
        refusal = ServiceCode.OFFLINE_NOT_FOR_OPERATION
    if refusal is not None:
        flow.end_session()
        flow.show(Screen.ERROR, error=refusal, error_step=Step.CARD)
        return
    flow.show(Screen.PIN, busy=False, tries_left=ready.tries_left, online=ready.online, error=None)


def pin_digit(flow: FlowController, digit: str) -> None:
    if flow.view.busy or len(digit) != 1 or digit not in "0123456789" or len(flow.pin) >= PIN_LENGTH:
        return
    flow.pin.append(ord(digit))
    flow.show(flow.view.screen, error=None)


def pin_backspace(flow: FlowController, _argument: object = None) -> None:
    if flow.pin:
        flow.pin[-1] = 0
        del flow.pin[-1]
    flow.show(flow.view.screen)


def pin_clear(flow: FlowController, _argument: object = None) -> None:
    flow.clear_pin()
    flow.show(flow.view.screen)


def pin_submit(flow: FlowController, _argument: object = None) -> None:
    session = flow.session
    if len(flow.pin) != PIN_LENGTH or session is None or session.ready is None:
        return
    if flow.view.screen is Screen.CARDINFO_PIN:
        submit_cardinfo_pin(flow)
    else:
        after_pin(flow)


def after_pin(flow: FlowController) -> None:
    session = flow.require()
    assert session.ready is not None
    if session.ready.tries_left == 1 and not session.last_try_confirmed:
        flow.show(Screen.LAST_TRY)  # the PIN waits in its buffer for the explicit confirmation
    elif session.operation is OperationKind.PRELINK:
        flow.show(Screen.CARDINFO_QUESTION)
    else:
        verify(flow)


def confirm_last_try(flow: FlowController, go_on: bool) -> None:
    session = flow.require()
    if not go_on:
        flow.clear_pin()
        flow.show(Screen.PIN)
        return
    session.last_try_confirmed = True
    after_pin(flow)


def answer_same_pin(flow: FlowController, same: bool) -> None:
    flow.require().same_pin = bool(same)
    verify(flow)


def verify(flow: FlowController) -> None:
    session = flow.require()
    assert session.verification is not None
    confirm, same, verification = session.last_try_confirmed, session.same_pin, session.verification
    pin = flow.take_pin()
    flow.show(Screen.VERIFYING, busy=True, error=None)

    def submit() -> VerificationResult:
        try:
            return verification.submit(pin, confirm_last_try=confirm, same_pin_for_name=same)
        finally:
            wipe(pin)

    flow.work(submit, Work.VERIFIED, Step.VERIFY)


def _common(result: VerificationResult) -> dict[str, Any]:
    return {"busy": False, "account": result.masked_account, "online": result.online,
            "name_on_record": result.name_on_record}


def verified(flow: FlowController, result: VerificationResult) -> None:
    session = flow.require()
    session.result = result
    common = _common(result)
    prelink = session.operation is OperationKind.PRELINK
    if not result.online:
        flow.show(Screen.OFFLINE_APPROVAL, **common)
    elif not prelink and result.match is not True:
        flow.end_session()
        flow.show(Screen.ERROR, error=ServiceCode.NO_MATCH, error_step=Step.VERIFY)
    elif prelink and result.name_on_card is None:
        assert session.verification is not None
        flow.work(session.verification.cardinfo_tries_left, Work.CARDINFO_TRIES, Step.CARD_INFO)
    elif session.operation is OperationKind.UNLINK:
        flow.show(Screen.UNLINK_CONFIRM, **common)
    else:
        request(flow, common)


def cardinfo_tries(flow: FlowController, tries: int) -> None:
    session = flow.require()
    assert session.result is not None
    flow.show(Screen.CARDINFO_PIN, cardinfo_tries_left=tries, **_common(session.result))


def submit_cardinfo_pin(flow: FlowController) -> None:
    session = flow.require()
    assert session.verification is not None
    verification = session.verification
    # The card-info PIN screen shows its tries left; typing on at one try left is the confirmation.
    last_try = flow.view.cardinfo_tries_left == 1
    pin = flow.take_pin()
    flow.show(Screen.WORKING, busy=True)

    def read() -> str:
        try:
            return verification.read_name(pin, confirm_last_try=last_try)
        finally:
            wipe(pin)

    flow.work(read, Work.NAME_READ, Step.CARD_INFO)


def name_read(flow: FlowController, name: str) -> None:
    session = flow.require()
    assert session.result is not None
    session.result = replace(session.result, name_on_card=name)
    request(flow, {"busy": False})


def confirm_unlink(flow: FlowController, yes: bool) -> None:
    flow.require()
    if not yes:
        cancel(flow)
        return
    request(flow, {})


# -- the operation ------------------------------------------------------------------------------------

def request(flow: FlowController, common: dict[str, Any]) -> None:
    session = flow.require()
    assert session.result is not None
    params: dict[str, Any] = {}
    if session.operation is OperationKind.PRELINK:
        params = {"account_token": session.account_token, "name_on_card": session.result.name_on_card}
    elif session.operation is OperationKind.SALVAGE:
        params = {"mode": "backup"}
    operations = flow.backend.operations
    try:
        session.request = pending = operations.request(session.operation, session.result, **params)
    except OperationError as exc:
        fail(flow, exc, Step.REQUEST)
        return
    cancel_event = session.cancel
    screen = Screen.STAFF_WAIT if session.operation in NEEDS_STAFF else Screen.WORKING
    limit = operations.approval_timeout if screen is Screen.STAFF_WAIT else None
    flow.show(screen, busy=True, wait_seconds=limit, **{k: v for k, v in common.items() if k != "busy"})

    def run() -> Operation:
        session.op = op = operations.submit(pending)
        if cancel_event.is_set():  # the session ended while the request was on its way
            operations.abandon(op, session.ended_because)
        return operations.wait_for_staff(op, cancel_event)

    flow.work(run, Work.DECIDED, Step.APPROVAL)


def decided(flow: FlowController, op: Operation) -> None:
    session = flow.require()
    session.op = op
    if session.operation is OperationKind.PASSWORD_RESET and op.status is OperationStatus.APPROVED:
        flow.show(Screen.NEW_PASSWORD, busy=False, password_policy=flow.backend.password_policy(),
                  password_problems=(), wait_seconds=None)
        return
    flow.show(Screen.DONE, busy=False, result=result_of(session.operation, op.result), wait_seconds=None)


def password_changed(flow: FlowController, password: str) -> None:
    """As the user types: which rules the password still breaks (the text itself is not kept)."""
    problems = tuple(flow.backend.password_problems(password))
    flow.show(Screen.NEW_PASSWORD, password_problems=problems)


def submit_password(flow: FlowController, password: bytearray) -> None:
    session = flow.require()
    problems = flow.backend.password_problems(password.decode("utf-8", "replace"))
    if problems:
        wipe(password)
        flow.show(Screen.NEW_PASSWORD, password_problems=tuple(problems))
        return
    assert session.op is not None
    op, operations = session.op, flow.backend.operations
    flow.show(Screen.WORKING, busy=True, password_problems=(), password_refused=(), password_refusal=None)
    flow.work(lambda: operations.set_password(op, password), Work.PASSWORD_SET, Step.PASSWORD)


def password_set(flow: FlowController, op: Operation) -> None:
    session = flow.require()
    session.op = op
    flow.show(Screen.DONE, busy=False, result=result_of(session.operation, op.result))


# -- offline --------------------------------------------------------------------------------------------

def approve_offline(flow: FlowController, credential: StaffCredential) -> None:
    """Staff approve offline: their staff ID and offline PIN are checked against the kiosk's roster
    (off this thread: the check hashes), and the evidence records the member the roster names."""
    session = flow.require()
    staff_id, pin = credential.staff_id.strip(), credential.pin
    if not staff_id or len(staff_id) > 64 or not pin:
        wipe(pin)
        flow.show(Screen.OFFLINE_APPROVAL, error=FlowCode.STAFF_INVALID, roster_age=None)
        return
    assert session.result is not None
    result, operation = session.result, session.operation
    outbox, roster = flow.backend.outbox, flow.backend.roster
    approved_at = int(flow.backend.now().timestamp())
    params = {"mode": "backup"} if operation is OperationKind.SALVAGE else {}

    def record() -> Voucher:
        approver = roster.approve(staff_id, pin)  # wipes the PIN; refuses without a valid credential
        return outbox.record(operation, result, approver, approved_at, params)

    flow.show(Screen.WORKING, busy=True, error=None, roster_age=None)
    flow.work(record, Work.RECORDED, Step.OFFLINE_RECORD)


def recorded(flow: FlowController, voucher: Voucher) -> None:
    outbox = flow.backend.outbox
    page = flow.backend.voucher_page(voucher.code)
    flow.show(Screen.DONE, busy=False, online=False, result=VoucherIssued(voucher.code, page or None))
    # On the screen now: the store notes it (off this thread), so the item is not reported as a
    # voucher nobody holds.
    flow.runner.submit(lambda: outbox.voucher_shown(voucher.idempotency_key), lambda _: None,
                       lambda exc: logger.warning("could not note the voucher as shown: %s",
                                                  type(exc).__name__))
