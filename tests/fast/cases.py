"""The fast tier's cases: every journey, every event on every state, every error where work can fail.

Each case is a plain function that drives a ``Kiosk`` over the fake backend and checks what it
shows. ``CASES`` names them all: the tests run each one, and the table's test runs them together
to compare the transitions they took with the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from kiosk.flow import (
    FlowCode,
    Intent,
    IntentRefused,
    LinkStatus,
    MfaEnrolment,
    PasswordSet,
    Prelinked,
    SalvageTicket,
    Screen,
    StaffCredential,
    Unlinked,
    VoucherIssued,
)
from kiosk.flow.table import CARD_NEEDED, TABLE
from kiosk.flow.view import Step
from kiosk.linkage import LinkageCode, LinkageError, OperationKind
from kiosk.nfc.errors import CardCode, CardError, InvalidPinError
from kiosk.offline import OfflineRefused
from kiosk.offline.validate import MESSAGES as OFFLINE_CODES
from kiosk.services.errors import OperationError, ServiceCode
from tests.fast import routes
from tests.fast.fakes import (
    ACCOUNT,
    CARDINFO_PIN,
    OFFLINE_PIN,
    PIN,
    STAFF_ID,
    STRONG_PASSWORD,
    Card,
    FakeBackend,
    Kiosk,
)
from tests.fast.routes import K, reach

Case = Callable[[], None]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(function: Case) -> Case:
        assert name not in CASES, name
        CASES[name] = function
        return function

    return register


def assert_wiped(kiosk: Kiosk) -> None:
    assert kiosk.flow.session is None and kiosk.view.operation is None and kiosk.view.account is None
    assert kiosk.view.pin_digits == 0 and not kiosk.flow.pin


# -- the journeys --------------------------------------------------------------------------------------

def _done(kind: OperationKind) -> Kiosk:
    kiosk = routes.verified(kind).settle()
    assert kiosk.screen is Screen.DONE and not kiosk.view.busy
    return kiosk


@case("journey/mfa_reset")
def _mfa() -> None:
    result = _done(K.MFA_RESET).view.result
    assert isinstance(result, MfaEnrolment) and result.code == "K7QM-3XHD-9HTP-CW4N" and result.expires_at


@case("journey/salvage")
def _salvage() -> None:
    result = _done(K.SALVAGE).view.result
    assert isinstance(result, SalvageTicket) and (result.code, result.mode) == ("AB2C-DE3F", "backup")


@case("journey/link_status")
def _link_status() -> None:
    kiosk = routes.verified(K.LINK_STATUS)
    assert kiosk.screen is Screen.WORKING  # no staff
    result = kiosk.settle().view.result
    assert isinstance(result, LinkStatus) and result.linked and result.name_on_card == "YAMADA TARO"


@case("journey/unlink")
def _unlink() -> None:
    kiosk = routes.verified(K.UNLINK).do(Intent.CONFIRM_UNLINK, True)
    assert kiosk.screen is Screen.STAFF_WAIT
    assert kiosk.settle().view.result == Unlinked()


@case("journey/unlink kept")
def _unlink_kept() -> None:
    kiosk = routes.verified(K.UNLINK).do(Intent.CONFIRM_UNLINK, False)
    assert kiosk.screen is Screen.START
    assert_wiped(kiosk)


@case("journey/password_reset")
def _password_reset() -> None:
    kiosk = routes.new_password()
    assert kiosk.screen is Screen.NEW_PASSWORD and kiosk.view.password_policy["min_length"] == 12
    kiosk.do(Intent.PASSWORD_CHANGED, "short")
    assert set(kiosk.view.password_problems) == {"too_short", "too_few_classes"}
    kiosk.do(Intent.SUBMIT_PASSWORD, bytearray(b"still-short"))
    assert kiosk.screen is Screen.NEW_PASSWORD and kiosk.view.password_problems
    kiosk.do(Intent.PASSWORD_CHANGED, STRONG_PASSWORD)
    assert kiosk.view.password_problems == ()
    password = bytearray(STRONG_PASSWORD.encode())
    kiosk.do(Intent.SUBMIT_PASSWORD, password)
    assert kiosk.screen is Screen.WORKING
    kiosk.settle()
    assert kiosk.view.result == PasswordSet() and kiosk.backend.operations.passwords == [STRONG_PASSWORD]
    assert password == bytearray(len(STRONG_PASSWORD))
    assert STRONG_PASSWORD not in "".join(repr(view) for view in kiosk.views)


@case("journey/prelink, the same PIN")
def _prelink_same_pin() -> None:
    kiosk = routes.start(K.PRELINK).do(Intent.SUBMIT_ACCOUNT, ACCOUNT)
    assert (kiosk.screen, kiosk.view.busy) == (Screen.DEVICE_GRANT, True)
    kiosk.runner.run_one()
    assert kiosk.view.device_user_code == "WDJB-MJHT" and kiosk.view.device_uri
    kiosk.runner.run_one()
    assert kiosk.screen is Screen.PLACE_CARD and kiosk.view.device_user_code is None
    kiosk.do(Intent.CARD_INSERTED).settle().type_pin(PIN)
    assert kiosk.screen is Screen.CARDINFO_QUESTION
    kiosk.do(Intent.ANSWER_SAME_PIN, True)
    assert kiosk.screen is Screen.VERIFYING
    assert kiosk.settle().view.result == Prelinked()


@case("journey/prelink, another card-information PIN")
def _prelink_other_pin() -> None:
    kiosk = routes.cardinfo_pin()
    assert (kiosk.screen, kiosk.view.cardinfo_tries_left) == (Screen.CARDINFO_PIN, 3)
    kiosk.type_pin("0000")
    assert kiosk.screen is Screen.WORKING
    kiosk.settle()
    assert (kiosk.screen, kiosk.view.error, kiosk.view.cardinfo_tries_left) == (
        Screen.CARDINFO_PIN, CardCode.PIN_WRONG, 2)
    kiosk.type_pin("12")  # too short: nothing happens
    assert kiosk.screen is Screen.CARDINFO_PIN
    kiosk.do(Intent.PIN_DIGIT, "9").do(Intent.PIN_BACKSPACE)
    assert kiosk.view.pin_digits == 2
    kiosk.do(Intent.PIN_CLEAR).type_pin(CARDINFO_PIN).settle()
    assert kiosk.view.result == Prelinked()


@case("journey/the card read at once when it is already on the reader")
def _card_already_there() -> None:
    kiosk = routes.start(K.MFA_RESET).do(Intent.CARD_INSERTED).do(Intent.SUBMIT_ACCOUNT, ACCOUNT)
    assert (kiosk.screen, kiosk.view.busy) == (Screen.PLACE_CARD, True)
    assert kiosk.settle().screen is Screen.PIN


def credential(staff_id: str = STAFF_ID, pin: str = OFFLINE_PIN) -> StaffCredential:
    return StaffCredential(staff_id, bytearray(pin.encode()))


@case("journey/offline approval and voucher")
def _offline() -> None:
    kiosk = routes.offline_approval()
    assert kiosk.screen is Screen.OFFLINE_APPROVAL and kiosk.view.online is False
    for typed in (credential("   "), credential("x" * 65), credential(pin="")):
        kiosk.do(Intent.APPROVE_OFFLINE, typed)
        assert (kiosk.screen, kiosk.view.error) == (Screen.OFFLINE_APPROVAL, FlowCode.STAFF_INVALID)
        assert not any(typed.pin)
    kiosk.do(Intent.APPROVE_OFFLINE, credential(f" {STAFF_ID.upper()} "))  # as typed; the roster's ID kept
    assert kiosk.screen is Screen.WORKING
    kiosk.settle()
    assert kiosk.view.result == VoucherIssued("K7QM-2XRD-9HTP-CW4N", "https://id.example/voucher#code=K7QM-2XRD-9HTP-CW4N")
    assert kiosk.backend.outbox.recorded == [(K.MFA_RESET, STAFF_ID)]
    assert kiosk.backend.outbox.shown == ["item-1"]
    assert [bytes(pin) for pin in kiosk.backend.roster.pins] == [bytes(len(OFFLINE_PIN))]


@case("journey/offline approval refused without a valid credential, and for a stale roster")
def _offline_credential_refused() -> None:
    kiosk = routes.offline_approval()
    kiosk.do(Intent.APPROVE_OFFLINE, credential(pin="135791")).settle()
    assert (kiosk.screen, kiosk.view.error) == (Screen.OFFLINE_APPROVAL, ServiceCode.OFFLINE_STAFF_REFUSED)
    assert (kiosk.view.busy, kiosk.view.roster_age, kiosk.flow.session is not None) == (False, None, True)
    kiosk.do(Intent.APPROVE_OFFLINE, credential("sato.k")).settle()
    assert kiosk.view.error == ServiceCode.OFFLINE_STAFF_REFUSED
    kiosk.backend.roster.age = dt.timedelta(hours=80)
    kiosk.do(Intent.APPROVE_OFFLINE, credential()).settle()
    assert (kiosk.screen, kiosk.view.error) == (Screen.OFFLINE_APPROVAL, ServiceCode.OFFLINE_ROSTER_STALE)
    assert kiosk.view.roster_age == dt.timedelta(hours=80)
    assert kiosk.backend.outbox.recorded == [] and not any(any(pin) for pin in kiosk.backend.roster.pins)
    kiosk.backend.roster.age = dt.timedelta(hours=1)
    kiosk.do(Intent.APPROVE_OFFLINE, credential()).settle()
    assert kiosk.screen is Screen.DONE and kiosk.view.roster_age is None
    assert kiosk.backend.outbox.recorded == [(K.MFA_RESET, STAFF_ID)]


@case("journey/offline refuses what needs the server")
def _offline_refused() -> None:
    kiosk = routes.place_card(K.UNLINK, FakeBackend(online=False)).do(Intent.CARD_INSERTED).settle()
    assert (kiosk.screen, kiosk.view.error) == (Screen.ERROR, ServiceCode.OFFLINE_NOT_FOR_OPERATION)
    assert kiosk.backend.cards[0].closed


# -- the PIN ---------------------------------------------------------------------------------------------

@case("pin/digits, back space, clear and a short PIN")
def _pin_pad() -> None:
    kiosk = reach(Screen.PIN)
    for digit in "12345x":
        kiosk.do(Intent.PIN_DIGIT, digit)
    assert kiosk.view.pin_digits == 4  # a fifth digit and a letter are not typed
    kiosk.do(Intent.PIN_BACKSPACE)
    assert kiosk.view.pin_digits == 3
    kiosk.do(Intent.PIN_SUBMIT)
    assert kiosk.screen is Screen.PIN  # three digits are not a PIN
    kiosk.do(Intent.PIN_CLEAR).do(Intent.PIN_BACKSPACE)
    assert kiosk.view.pin_digits == 0


@case("pin/wrong, then the last try asked about")
def _wrong_then_last_try() -> None:
    kiosk = reach(Screen.PIN).type_pin("9999").settle()
    assert (kiosk.screen, kiosk.view.error, kiosk.view.tries_left) == (Screen.PIN, CardCode.PIN_WRONG, 2)
    kiosk.type_pin("9999").settle().type_pin(PIN)
    assert kiosk.screen is Screen.LAST_TRY and kiosk.view.pin_digits == 4
    kiosk.do(Intent.CONFIRM_LAST_TRY, False)
    assert (kiosk.screen, kiosk.view.pin_digits) == (Screen.PIN, 0)
    kiosk.type_pin(PIN).do(Intent.CONFIRM_LAST_TRY, True)
    assert kiosk.screen is Screen.VERIFYING
    assert kiosk.settle().screen is Screen.DONE


@case("pin/the last try on pre-link asks about the card-information PIN next")
def _last_try_prelink() -> None:
    kiosk = routes.pin(K.PRELINK, FakeBackend(card=Card(tries_left=1))).type_pin(PIN)
    assert kiosk.do(Intent.CONFIRM_LAST_TRY, True).screen is Screen.CARDINFO_QUESTION


@case("pin/no view holds a digit")
def _no_digits() -> None:
    kiosk = reach(Screen.DONE)
    assert PIN not in "".join(repr(view) for view in kiosk.views)




# -- refusals before the PIN -----------------------------------------------------------------------------

def _refused_before_pin(card: Card, code: str) -> Case:
    def run() -> None:
        kiosk = routes.place_card(backend=FakeBackend(card=card)).do(Intent.CARD_INSERTED).settle()
        assert (kiosk.screen, kiosk.view.error, kiosk.view.error_step) == (Screen.ERROR, code, Step.CARD)
        assert_wiped(kiosk)
    return run


CASES["refusal/blocked PIN"] = _refused_before_pin(Card(tries_left=0), CardCode.PIN_BLOCKED)
CASES["refusal/expired"] = _refused_before_pin(Card(expired=True), "expired")
CASES["refusal/not yet valid"] = _refused_before_pin(Card(not_yet_valid=True), "not_yet_valid")


@case("refusal/no match")
def _no_match() -> None:
    kiosk = reach(Screen.ERROR)
    assert (kiosk.view.error, kiosk.view.error_step) == (ServiceCode.NO_MATCH, Step.VERIFY)
    kiosk.do(Intent.FINISH)
    assert kiosk.screen is Screen.START


@case("refusal/an account ID of the wrong format")
def _bad_account() -> None:
    for typed in ("hanako", "1" * 65):
        kiosk = routes.start(K.MFA_RESET).do(Intent.SUBMIT_ACCOUNT, typed)
        assert (kiosk.screen, kiosk.view.error) == (Screen.ACCOUNT, FlowCode.INVALID_ACCOUNT)


@case("refusal/an unknown operation or language")
def _unknown_values() -> None:
    kiosk = Kiosk()
    for intent, argument in ((Intent.CHOOSE, "format_disk"), (Intent.SET_LANGUAGE, "fr")):
        try:
            kiosk.do(intent, argument)
        except ValueError:
            continue
        raise AssertionError(f"{intent} {argument} was taken")
    assert kiosk.screen is Screen.START


# -- every state: the events every screen takes, and the intents it refuses ---------------------------------

def _leaves_for_start(state: Screen, intent: Intent) -> Case:
    def run() -> None:
        kiosk = reach(state)
        kiosk.do(intent)
        assert kiosk.screen is Screen.START
        assert_wiped(kiosk)
        assert all(card.closed for card in kiosk.backend.cards)
    return run


def _stays(state: Screen, intent: Intent, argument: object) -> Case:
    def run() -> None:
        kiosk = reach(state)
        before = kiosk.view
        kiosk.do(intent, argument)
        assert kiosk.screen is state
        if intent is Intent.SET_LANGUAGE:
            assert kiosk.view.language == "ja"
        if intent is Intent.SET_LARGE_TEXT:
            assert kiosk.view.large_text is True and before.large_text is False
        if intent is Intent.READER_STATUS:
            assert kiosk.view.reader_ready is True and before.reader_ready is False
    return run


def _card_removed(state: Screen) -> Case:
    def run() -> None:
        kiosk = reach(state)
        kiosk.do(Intent.CARD_REMOVED)
        assert kiosk.view.card_present is False
        if state is Screen.DONE:
            assert kiosk.screen is Screen.START  # "take your card" was the last step
        elif state in CARD_NEEDED:
            assert (kiosk.screen, kiosk.view.error, kiosk.view.error_step) == (
                Screen.ERROR, CardCode.REMOVED, state.value)
            assert_wiped(kiosk)
        else:
            assert kiosk.screen is state
    return run


def _display_failed(state: Screen) -> Case:
    def run() -> None:
        kiosk = reach(state)
        kiosk.do(Intent.DISPLAY_FAILED, state.value)
        view = kiosk.view
        assert (view.screen, view.error, view.error_step, view.busy) == (
            Screen.ERROR, FlowCode.DISPLAY_FAILED, state.value, False)
        assert_wiped(kiosk)
        assert all(card.closed for card in kiosk.backend.cards)
    return run


def _refused(state: Screen, intent: Intent) -> Case:
    def run() -> None:
        kiosk = reach(state)
        before = kiosk.view
        try:
            kiosk.do(intent, None)
        except IntentRefused:
            assert kiosk.view == before
            return
        raise AssertionError(f"{intent} was taken on {state}")
    return run


for _state in Screen:
    for _intent in (Intent.CANCEL, Intent.IDLE_TIMEOUT):
        CASES[f"every state/{_state.value}/{_intent.value}"] = _leaves_for_start(_state, _intent)
    for _intent, _argument in ((Intent.SET_LANGUAGE, "ja"), (Intent.SET_LARGE_TEXT, True),
                               (Intent.READER_STATUS, True), (Intent.CARD_INSERTED, None)):
        CASES[f"every state/{_state.value}/{_intent.value}"] = _stays(_state, _intent, _argument)
    CASES[f"every state/{_state.value}/card_removed"] = _card_removed(_state)
    CASES[f"every state/{_state.value}/display_failed"] = _display_failed(_state)
    for _intent in Intent:
        if (_state, _intent) not in TABLE:
            CASES[f"refused/{_state.value}/{_intent.value}"] = _refused(_state, _intent)


@case("card/lifted while it is read: asked for again, what was typed kept")
def _lifted_while_read() -> None:
    kiosk = routes.place_card().do(Intent.CARD_INSERTED)
    assert (kiosk.screen, kiosk.view.busy) == (Screen.PLACE_CARD, True)
    kiosk.do(Intent.CARD_REMOVED)
    view = kiosk.view
    assert (view.screen, view.busy, view.error, view.account) == (Screen.PLACE_CARD, False, CardCode.REMOVED,
                                                                  ACCOUNT)
    kiosk.settle()  # the read starts late: it sees the card was lifted and never opens one
    assert kiosk.view == view and not kiosk.backend.cards
    kiosk.do(Intent.CARD_INSERTED).settle()
    assert kiosk.screen is Screen.PIN and len(kiosk.backend.cards) == 1 and not kiosk.backend.cards[0].closed


@case("card/lifted and put back while it is opened: the late read closes what it opened, unread")
def _lifted_while_opened() -> None:
    kiosk = routes.place_card().do(Intent.CARD_INSERTED)
    kiosk.backend.opening = lambda: kiosk.do(Intent.CARD_REMOVED).do(Intent.CARD_INSERTED)
    kiosk.runner.run_one()  # the late read: the card opened is the one put back, the fresh read's
    kiosk.backend.opening = None
    assert kiosk.backend.cards[0].closed and kiosk.backend.reads == 0
    assert kiosk.screen is Screen.PLACE_CARD and kiosk.view.busy
    kiosk.settle()
    assert kiosk.screen is Screen.PIN and len(kiosk.backend.cards) == 2 and not kiosk.backend.cards[1].closed
    assert kiosk.backend.reads == 1


@case("card/lifted once the request went to staff: the request goes on")
def _lifted_past_the_card() -> None:
    kiosk = reach(Screen.STAFF_WAIT).do(Intent.CARD_REMOVED)
    assert kiosk.screen is Screen.STAFF_WAIT
    assert kiosk.settle().view.result == MfaEnrolment("K7QM-3XHD-9HTP-CW4N", kiosk.view.result.expires_at)  # type: ignore[union-attr]


# -- every way out withdraws a waiting request ---------------------------------------------------------------

def _withdrawn(state: Screen, leave: Intent, reason: str) -> Case:
    def run() -> None:
        kiosk = routes.verified(K.PASSWORD_RESET)
        kiosk.runner.run_but_hold()  # the request is on the server, staff have not decided
        if state is Screen.NEW_PASSWORD:
            kiosk.settle()
        assert kiosk.screen is state
        kiosk.do(leave).settle()
        assert kiosk.backend.operations.abandoned == [("op-1", reason)]
        assert kiosk.screen is Screen.START
    return run


CASES["withdrawn/staff wait, cancel"] = _withdrawn(Screen.STAFF_WAIT, Intent.CANCEL, "user_cancelled")
CASES["withdrawn/staff wait, idle"] = _withdrawn(Screen.STAFF_WAIT, Intent.IDLE_TIMEOUT, "idle_timeout")
CASES["withdrawn/new password, cancel"] = _withdrawn(Screen.NEW_PASSWORD, Intent.CANCEL, "user_cancelled")
CASES["withdrawn/new password, idle"] = _withdrawn(Screen.NEW_PASSWORD, Intent.IDLE_TIMEOUT, "idle_timeout")


@case("withdrawn/staff never decide: withdrawn as an approval timeout")
def _approval_timeout() -> None:
    backend = FakeBackend(fail={"wait_for_staff": OperationError(ServiceCode.APPROVAL_TIMEOUT, "late")})
    kiosk = routes.verified(backend=backend).settle()
    assert (kiosk.screen, kiosk.view.error) == (Screen.ERROR, ServiceCode.APPROVAL_TIMEOUT)
    assert backend.operations.abandoned == [("op-1", "approval_timeout")]


@case("withdrawn/a screen the window could not show: withdrawn as an error")
def _display_failed_withdraws() -> None:
    kiosk = routes.verified(K.PASSWORD_RESET)
    kiosk.runner.run_but_hold()  # the request is on the server, staff have not decided
    kiosk.do(Intent.DISPLAY_FAILED, Screen.STAFF_WAIT.value).settle()
    assert kiosk.backend.operations.abandoned == [("op-1", "error")]
    assert (kiosk.screen, kiosk.view.error) == (Screen.ERROR, FlowCode.DISPLAY_FAILED)


def _ended_before_the_answer(leave: Intent, argument: object, reason: str) -> Case:
    def run() -> None:
        kiosk = routes.verified(K.PASSWORD_RESET)  # the request is on its way to the server
        assert kiosk.screen is Screen.STAFF_WAIT and kiosk.runner.held
        kiosk.do(leave, argument).settle()
        assert kiosk.backend.operations.abandoned == [("op-1", reason)]
    return run


CASES["withdrawn/on its way, idle"] = _ended_before_the_answer(Intent.IDLE_TIMEOUT, None, "idle_timeout")
CASES["withdrawn/on its way, display failed"] = _ended_before_the_answer(
    Intent.DISPLAY_FAILED, Screen.STAFF_WAIT.value, "error")
CASES["withdrawn/on its way, cancel"] = _ended_before_the_answer(Intent.CANCEL, None, "user_cancelled")


@case("withdrawn/a done request is not withdrawn")
def _done_not_withdrawn() -> None:
    kiosk = reach(Screen.DONE).do(Intent.FINISH).settle()
    assert kiosk.screen is Screen.START and kiosk.backend.operations.abandoned == []


# -- every error wherever work can fail ----------------------------------------------------------------------

#: Every code the kiosk's layers raise with (the server's own codes reach the flow the same way, as
#: a ``LinkageError``'s code).
CODES = sorted({*CardCode, *LinkageCode, *ServiceCode, *OFFLINE_CODES})


def coded(code: str) -> BaseException:
    """An error carrying ``code``, of the kind the layer that owns the code raises."""
    if code in OFFLINE_CODES:
        return OfflineRefused(code)
    if code in set(CardCode):
        error = CardError(code)
        error.code = CardCode(code)
        return error
    if code in set(ServiceCode):
        return OperationError(code, "refused")
    return LinkageError("refused", code=code)


def _at_device_grant(backend: FakeBackend) -> Kiosk:
    return routes.start(K.PRELINK, backend).do(Intent.SUBMIT_ACCOUNT, ACCOUNT)


def _at_place_card(backend: FakeBackend) -> Kiosk:
    return routes.place_card(backend=backend).do(Intent.CARD_INSERTED)


def _at_cardinfo_tries(backend: FakeBackend) -> Kiosk:
    backend.same_pin = False
    return routes.verifying(K.PRELINK, backend)


def _at_name(backend: FakeBackend) -> Kiosk:
    backend.same_pin = False
    kiosk = routes.verifying(K.PRELINK, backend).settle()
    return kiosk.type_pin(CARDINFO_PIN)


def _at_password(backend: FakeBackend) -> Kiosk:
    kiosk = routes.verified(K.PASSWORD_RESET, backend).settle()
    return kiosk.do(Intent.SUBMIT_PASSWORD, bytearray(STRONG_PASSWORD.encode()))


def _at_record(backend: FakeBackend) -> Kiosk:
    backend.online = False
    return routes.verified(K.MFA_RESET, backend).do(Intent.APPROVE_OFFLINE, credential())


#: Where work can fail: the state it is waiting in, the way there, the backend call that fails,
#: and the step the error screen names.
FAILURE_POINTS: dict[str, tuple[Screen, Callable[[FakeBackend], Kiosk], str, Step]] = {
    "device sign-in begins": (Screen.DEVICE_GRANT, _at_device_grant, "begin_prelink", Step.DEVICE_GRANT),
    "device sign-in awaited": (Screen.DEVICE_GRANT, _at_device_grant, "wait_for_account", Step.DEVICE_GRANT),
    "card opened": (Screen.PLACE_CARD, _at_place_card, "open_card", Step.CARD),
    "card read": (Screen.PLACE_CARD, _at_place_card, "prepare", Step.CARD),
    "PIN verified": (Screen.VERIFYING, lambda b: routes.verifying(backend=b), "submit", Step.VERIFY),
    "request made": (Screen.VERIFYING, lambda b: routes.verifying(backend=b), "request", Step.REQUEST),
    "card-info tries read": (Screen.VERIFYING, _at_cardinfo_tries, "cardinfo_tries_left", Step.CARD_INFO),
    "request sent": (Screen.STAFF_WAIT, routes.verified_with, "submit_request", Step.APPROVAL),
    "staff awaited": (Screen.STAFF_WAIT, routes.verified_with, "wait_for_staff", Step.APPROVAL),
    "answer awaited": (Screen.WORKING, lambda b: routes.verified(K.LINK_STATUS, b), "wait_for_staff",
                       Step.APPROVAL),
    "name read": (Screen.WORKING, _at_name, "read_name", Step.CARD_INFO),
    "password set": (Screen.WORKING, _at_password, "set_password", Step.PASSWORD),
    "offline approval kept": (Screen.WORKING, _at_record, "record", Step.OFFLINE_RECORD),
}


def _fails(point: str, code: str | None) -> Case:
    state, way, call, step = FAILURE_POINTS[point]

    def run() -> None:
        error = coded(code) if code is not None else RuntimeError("a bug")
        backend = FakeBackend(fail={call: error})
        kiosk = way(backend)
        assert kiosk.screen is state
        kiosk.settle()
        expected = code if code is not None else FlowCode.INTERNAL
        assert (kiosk.screen, kiosk.view.error, kiosk.view.error_step) == (Screen.ERROR, expected, step)
        assert_wiped(kiosk)
        assert all(card.closed for card in backend.cards)
    return run


def _wrong_pin(point: str, screen: Screen) -> Case:
    _state, way, call, step = FAILURE_POINTS[point]

    def run() -> None:
        kiosk = way(FakeBackend(fail={call: InvalidPinError(2)}))
        kiosk.settle()
        assert (kiosk.screen, kiosk.view.error, kiosk.view.error_step) == (screen, CardCode.PIN_WRONG, step)
        assert kiosk.flow.session is not None  # the user tries again
    return run


def _request_refused(way: Callable[[FakeBackend], Kiosk], go: Callable[[Kiosk], object]) -> Case:
    def run() -> None:
        backend = FakeBackend()
        kiosk = way(backend)
        backend.fail["request"] = OperationError(ServiceCode.OFFLINE_NOT_ONLINE, "needs the server")
        go(kiosk)
        view = kiosk.view
        assert (view.screen, view.error, view.error_step) == (Screen.ERROR, ServiceCode.OFFLINE_NOT_ONLINE,
                                                              Step.REQUEST)
        assert_wiped(kiosk)
    return run


CASES["error/request refused after the unlink question"] = _request_refused(
    lambda b: routes.verified(K.UNLINK, b), lambda k: k.do(Intent.CONFIRM_UNLINK, True))
CASES["error/request refused after the name was read"] = _request_refused(_at_name, Kiosk.settle)

for _point in FAILURE_POINTS:
    # Asking for the request checks only what the services check: its refusals are theirs.
    for _code in [*ServiceCode] if _point == "request made" else [*CODES, None]:
        CASES[f"error/{_point}/{_code or 'unexpected'}"] = _fails(_point, _code)
CASES["error/PIN verified/wrong PIN"] = _wrong_pin("PIN verified", Screen.PIN)
CASES["error/name read/wrong PIN"] = _wrong_pin("name read", Screen.CARDINFO_PIN)


# The cases of the larger text and of a password the directory refuses live beside this module.
from tests.fast import cases_mfa, cases_text_and_password  # noqa: E402,F401  (registers their cases)
