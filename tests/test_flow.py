"""The counter's flow without Qt: screens and transitions over the real services and the reference server."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.config import load_config
from kiosk.flow import (
    FlowController,
    ImmediateRunner,
    Intent,
    LinkStatus,
    PasswordSet,
    Prelinked,
    Screen,
    StaffCredential,
    View,
    VoucherIssued,
)
from kiosk.flow.backend import CoreBackend, password_problems
from kiosk.nfc import CardConnection, TimedConnection
from kiosk.nfc.apdu import INS_COMPUTE_DIGITAL_SIGNATURE, INS_VERIFY
from kiosk.nfc.pcsc import PcscConnection
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.services.core import KioskCore
from tests.conftest import Reader, distinct_screens
from tests.fast.fakes import HeldRunner
from tests.helpers.card_reads import card_reads
from tests.helpers.kiosk import write_config
from tests.helpers.roster import DESK, keep_roster
from tests.helpers.server_api import LINKED, NEW_PASSWORD
from tests.linkserver.helpers import LiveServer, Staff


class Counter:
    """The flow controller with a card slot (or ``open_card``: a reader), recording every view it shows."""

    def __init__(self, core: KioskCore, make_card: Callable[..., SimulatedCard],
                 open_card: Callable[[], CardConnection] | None = None) -> None:
        self.make_card = make_card
        self.card: SimulatedCard | None = None
        self.views: list[View] = []
        #: The device grant's user code, set (with the event) when a screen first shows it.
        self.device_code: str | None = None
        self.device_code_shown = threading.Event()
        self.backend = CoreBackend(core, open_card or self._open)
        self.flow = FlowController(self.backend, ImmediateRunner(), self._show, language="en")

    def _show(self, view: View) -> None:
        self.views.append(view)
        if view.device_user_code is not None and not self.device_code_shown.is_set():
            self.device_code = view.device_user_code
            self.device_code_shown.set()

    def _open(self) -> TimedConnection:
        assert self.card is not None
        return TimedConnection(self.card)

    def place(self, holder: str, **options: object) -> None:
        self.card = self.make_card(holder, **options)
        self.flow.dispatch(Intent.CARD_INSERTED)

    def type_pin(self, digits: str) -> None:
        for digit in digits:
            self.flow.dispatch(Intent.PIN_DIGIT, digit)
        self.flow.dispatch(Intent.PIN_SUBMIT)

    @property
    def screen(self) -> Screen:
        return self.flow.view.screen

    def screens(self) -> list[Screen]:
        return distinct_screens(self.views)


def make_counter(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy, url: str,
                 make_card: Callable[..., SimulatedCard],
                 open_card: Callable[[], CardConnection] | None = None) -> Iterator[Counter]:
    core = KioskCore.build(load_config(write_config(tmp_path, server, hierarchy, url))).start()
    try:
        yield Counter(core, make_card, open_card)
    finally:
        core.close()


@pytest.fixture
def counter(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy,
            make_card: Callable[..., SimulatedCard]) -> Iterator[Counter]:
    yield from make_counter(tmp_path, server, hierarchy, server.base, make_card)




def test_a_password_reset_in_eight_screens(counter: Counter, server: LiveServer, staff: Staff) -> None:
    counter.flow.dispatch(Intent.CHOOSE, "password_reset")
    counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
    assert counter.screen is Screen.PLACE_CARD
    counter.place("linked")
    assert counter.screen is Screen.PIN and counter.flow.view.tries_left == 3
    for typed, digit in enumerate("1234", start=1):
        counter.flow.dispatch(Intent.PIN_DIGIT, digit)
        assert counter.flow.view.pin_digits == typed
    counter.flow.dispatch(Intent.PIN_SUBMIT)
    assert counter.screen is Screen.NEW_PASSWORD
    counter.flow.dispatch(Intent.PASSWORD_CHANGED, "short")
    assert set(counter.flow.view.password_problems) == {"too_short", "too_few_classes"}
    counter.flow.dispatch(Intent.PASSWORD_CHANGED, NEW_PASSWORD)
    assert counter.flow.view.password_problems == ()
    password = bytearray(NEW_PASSWORD.encode())
    counter.flow.dispatch(Intent.SUBMIT_PASSWORD, password)
    assert counter.screen is Screen.DONE
    assert counter.flow.view.result == PasswordSet()
    assert password == bytearray(len(NEW_PASSWORD))  # the buffer was wiped after sending
    screens = counter.screens()
    assert screens == [Screen.ACCOUNT, Screen.PLACE_CARD, Screen.PIN, Screen.VERIFYING, Screen.STAFF_WAIT,
                       Screen.NEW_PASSWORD, Screen.WORKING, Screen.DONE]
    assert len(set(screens) | {Screen.START}) <= 9
    counter.flow.dispatch(Intent.CARD_REMOVED)
    assert counter.screen is Screen.START and counter.flow.view.account is None


def test_no_view_ever_holds_a_pin_digit_or_the_password(counter: Counter, staff: Staff) -> None:
    counter.flow.dispatch(Intent.CHOOSE, "password_reset")
    counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
    counter.place("linked")
    counter.type_pin("1234")
    counter.flow.dispatch(Intent.PASSWORD_CHANGED, NEW_PASSWORD)
    counter.flow.dispatch(Intent.SUBMIT_PASSWORD, bytearray(NEW_PASSWORD.encode()))
    text = "\n".join(repr(view) for view in counter.views)
    assert "1234" not in text and NEW_PASSWORD not in text


def test_wrong_pins_then_the_last_try_needs_a_confirmation(counter: Counter) -> None:
    counter.flow.dispatch(Intent.CHOOSE, "link_status")
    counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
    counter.place("linked")
    counter.type_pin("9999")
    view = counter.flow.view
    assert (view.screen, view.error, view.tries_left) == (Screen.PIN, "pin.wrong", 2)
    assert counter.flow.view.pin_digits == 0
    counter.type_pin("9999")
    assert counter.flow.view.tries_left == 1
    counter.type_pin("1234")
    assert counter.screen is Screen.LAST_TRY
    counter.flow.dispatch(Intent.CONFIRM_LAST_TRY, False)
    assert counter.screen is Screen.PIN and counter.flow.view.pin_digits == 0
    assert counter.card is not None and counter.card.pin_state().tries == 1  # nothing was sent
    counter.type_pin("1234")
    counter.flow.dispatch(Intent.CONFIRM_LAST_TRY, True)
    result = counter.flow.view.result
    assert counter.screen is Screen.DONE and isinstance(result, LinkStatus) and result.linked


@pytest.mark.parametrize(("holder", "account", "error"), [
    ("unlinked", LINKED, "no_match"),
    ("expired", "2019000008", "expired"),
    ("blocked", "2024000004", "pin.blocked"),
    ("revoked", "2024000007", "revoked"),
])
def test_each_refusal_ends_on_the_error_screen(counter: Counter, holder: str, account: str,
                                               error: str) -> None:
    counter.flow.dispatch(Intent.CHOOSE, "mfa_reset")
    counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, account)
    counter.place(holder)
    if counter.screen is Screen.PIN:
        counter.type_pin(counter.card.profile.pin if counter.card else "1234")
    assert (counter.screen, counter.flow.view.error) == (Screen.ERROR, error)
    assert counter.flow.view.account is None  # the session is gone
    counter.flow.dispatch(Intent.FINISH)
    assert counter.screen is Screen.START


@pytest.mark.parametrize("screen", [Screen.ACCOUNT, Screen.PIN, Screen.LAST_TRY])
def test_idle_timeout_and_card_removal_wipe_the_session(counter: Counter, screen: Screen) -> None:
    counter.flow.dispatch(Intent.CHOOSE, "mfa_reset")
    if screen is not Screen.ACCOUNT:
        counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
        counter.place("last-try" if screen is Screen.LAST_TRY else "linked")
        counter.flow.dispatch(Intent.PIN_DIGIT, "1")
        if screen is Screen.LAST_TRY:
            counter.type_pin("234")
        assert counter.screen is screen
        counter.flow.dispatch(Intent.CARD_REMOVED)
        assert (counter.screen, counter.flow.view.error) == (Screen.ERROR, "card.removed")
        return
    counter.flow.dispatch(Intent.IDLE_TIMEOUT)
    assert counter.screen is Screen.START and counter.flow.view.operation is None


def test_an_account_id_of_the_wrong_format_stays_on_the_screen(counter: Counter) -> None:
    counter.flow.dispatch(Intent.CHOOSE, "mfa_reset")
    counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, "hanako")
    assert (counter.screen, counter.flow.view.error) == (Screen.ACCOUNT, "invalid_account")


def test_unlink_asks_before_it_acts(counter: Counter, server: LiveServer) -> None:
    counter.flow.dispatch(Intent.CHOOSE, "unlink")
    counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
    counter.place("linked")
    counter.type_pin("1234")
    assert counter.screen is Screen.UNLINK_CONFIRM
    assert counter.flow.view.name_on_record == "佐藤　花子" and counter.flow.view.account == "20******01"
    counter.flow.dispatch(Intent.CONFIRM_UNLINK, False)
    assert counter.screen is Screen.START


def phone_signs_in(counter: Counter, server: LiveServer) -> Callable[[], int]:
    """The user reads the code off the screen once it shows and signs in on their phone (a thread).

    Returns what waits for the phone: the status of its sign-in (0: the code never showed)."""
    answers: list[int] = []

    def phone() -> None:
        if counter.device_code_shown.wait(30):
            assert counter.device_code is not None
            answers.append(server.sign_in_on_phone(counter.device_code).status_code)

    thread = threading.Thread(target=phone, daemon=True)
    thread.start()

    def signed_in() -> int:
        thread.join(30)
        return answers[0] if answers else 0

    return signed_in


def test_prelink_with_the_phone_and_the_card_info_pin(counter: Counter, server: LiveServer,
                                                      staff: Staff) -> None:
    signed_in = phone_signs_in(counter, server)
    counter.flow.dispatch(Intent.CHOOSE, "prelink")
    counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, "2024000002")
    assert counter.screen is Screen.PLACE_CARD
    assert Screen.DEVICE_GRANT in counter.screens()
    counter.place("unlinked")
    counter.type_pin("2580")
    assert counter.screen is Screen.CARDINFO_QUESTION
    counter.flow.dispatch(Intent.ANSWER_SAME_PIN, False)
    assert counter.screen is Screen.CARDINFO_PIN and counter.flow.view.cardinfo_tries_left == 3
    counter.type_pin("1357")
    assert counter.screen is Screen.DONE and counter.flow.view.result == Prelinked()
    assert signed_in() == 200


def refused(offline: Counter, pin: str) -> tuple[str | None, dt.timedelta | None]:
    """The demo desk member approves offline with ``pin`` and is refused: the screen stays, with its
    error (and the roster's age), and nothing is recorded."""
    offline.flow.dispatch(Intent.APPROVE_OFFLINE, StaffCredential(DESK[0], bytearray(pin.encode())))
    assert offline.screen is Screen.OFFLINE_APPROVAL and offline.backend.core.store.outbox_depth() == 0
    return offline.flow.view.error, offline.flow.view.roster_age


def test_offline_the_staff_approve_here_and_the_user_gets_a_voucher(
        tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy,
        make_card: Callable[..., SimulatedCard]) -> None:
    for offline in make_counter(tmp_path, server, hierarchy, "http://127.0.0.1:9", make_card):
        # The sealing key, as an earlier day online would have left it.
        sealing = json.dumps(server.server.offline.sealing_public_jwk()).encode()
        offline.backend.core.store.put_cache("server.sealing_key", sealing)
        offline.flow.dispatch(Intent.CHOOSE, "mfa_reset")
        offline.flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
        offline.place("linked")
        assert offline.flow.view.online is False
        offline.type_pin("1234")
        assert offline.screen is Screen.OFFLINE_APPROVAL
        roster = offline.backend.core.roster
        assert refused(offline, DESK[1]) == ("offline.no_roster", None)  # never online: no roster yet
        keep_roster(roster, issued_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=80))
        error, age = refused(offline, DESK[1])
        assert error == "offline.roster_stale" and age is not None and age > dt.timedelta(hours=80)
        keep_roster(roster)  # as a recent heartbeat left it
        assert refused(offline, "000000") == ("offline.staff_refused", None)
        assert refused(offline, "") == ("staff.invalid", None)
        offline.flow.dispatch(Intent.APPROVE_OFFLINE, StaffCredential(DESK[0], bytearray(DESK[1].encode())))
        assert offline.screen is Screen.DONE
        result = offline.flow.view.result
        assert isinstance(result, VoucherIssued) and len(result.code) == 19
        assert offline.backend.core.store.outbox_depth() == 1


def test_the_done_screen_records_that_the_voucher_was_shown(
        tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy,
        make_card: Callable[..., SimulatedCard]) -> None:
    for offline in make_counter(tmp_path, server, hierarchy, "http://127.0.0.1:9", make_card):
        store = offline.backend.core.store
        store.put_cache("server.sealing_key", json.dumps(server.server.offline.sealing_public_jwk()).encode())
        offline.flow.dispatch(Intent.CHOOSE, "mfa_reset")
        offline.flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
        offline.place("linked")
        keep_roster(offline.backend.core.roster)
        offline.type_pin("1234")
        offline.flow.dispatch(Intent.APPROVE_OFFLINE, StaffCredential(DESK[0], bytearray(DESK[1].encode())))
        assert offline.screen is Screen.DONE
        assert store.outbox_items()[0].voucher_shown_at is not None


def test_the_password_rules_as_the_user_types() -> None:
    policy = {"min_length": 12, "max_length": 64, "min_classes": 3}
    assert password_problems("Sakura-2026-spring", policy) == []
    assert password_problems("sakura-spring", policy) == ["too_few_classes"]
    assert password_problems("Ab1-", policy) == ["too_short"]
    assert password_problems("Ab1-" * 20, policy) == ["too_long"]
    assert password_problems("Ab1-Ab1-Ab1-さ", policy) == ["invalid_character"]


def test_a_challenge_that_expired_while_the_user_typed_is_replaced(
        tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy,
        make_card: Callable[..., SimulatedCard]) -> None:
    from tests.linkserver.helpers import Clock

    clock = Clock()
    core = KioskCore.build(load_config(write_config(tmp_path, server, hierarchy, server.base)), clock=clock)
    try:
        session = core.verification(TimedConnection(make_card("linked")), LINKED)
        assert session.prepare().online
        clock.advance(130)  # a slow PIN: the server's challenge lives 120 s
        server.clock.advance(130)
        result = session.submit(bytearray(b"1234"))
        assert result.online and result.match is True
    finally:
        core.close()


def test_a_wrong_card_info_pin_stays_on_its_own_screen(counter: Counter, server: LiveServer,
                                                       staff: Staff) -> None:
    signed_in = phone_signs_in(counter, server)
    counter.flow.dispatch(Intent.CHOOSE, "prelink")
    counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, "2024000002")
    counter.place("unlinked")
    counter.type_pin("2580")
    counter.flow.dispatch(Intent.ANSWER_SAME_PIN, False)
    counter.type_pin("0000")
    view = counter.flow.view
    assert (view.screen, view.error, view.cardinfo_tries_left, view.tries_left) == (
        Screen.CARDINFO_PIN, "pin.wrong", 2, 3)
    counter.type_pin("1357")
    assert counter.screen is Screen.DONE
    assert signed_in() == 200


#: Keys on a PIN pad: a digit, or these.
BACK, CLEAR = "back space", "clear"


def press(counter: Counter, *keys: str) -> list[int]:
    """Each key pressed on the PIN pad shown; how many digits the pad showed after each."""
    shown = []
    for key in keys:
        if key == BACK:
            counter.flow.dispatch(Intent.PIN_BACKSPACE)
        elif key == CLEAR:
            counter.flow.dispatch(Intent.PIN_CLEAR)
        else:
            counter.flow.dispatch(Intent.PIN_DIGIT, key)
        shown.append(counter.flow.view.pin_digits)
    return shown


def test_the_pin_pads_back_space_and_clear_over_a_card_behind_pcscd(
        tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy, reader: Reader, staff: Staff,
        make_card: Callable[..., SimulatedCard]) -> None:
    """kiosk flow takes each PIN whole (from the environment: no keys to edit), so both pads' back
    space and clear go through the flow controller here, over the simulated card behind the private
    pcscd: the card is sent the PINs left after the edits, once each."""
    card = make_card("unlinked", cardinfo_pin="1357")
    reader.insert(card)
    for counter in make_counter(tmp_path, server, hierarchy, server.base, make_card,
                                open_card=lambda: PcscConnection(reader.name)):
        phone_signs_in(counter, server)
        counter.flow.dispatch(Intent.CHOOSE, "prelink")
        counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, "2024000002")
        counter.flow.dispatch(Intent.CARD_INSERTED)
        assert counter.screen is Screen.PIN
        shown = press(counter, "9", "8", CLEAR, BACK, "2", "5", "7", BACK, "8", "0")
        assert shown == [1, 2, 0, 0, 1, 2, 3, 2, 3, 4]
        counter.flow.dispatch(Intent.PIN_SUBMIT)
        assert counter.screen is Screen.CARDINFO_QUESTION
        counter.flow.dispatch(Intent.ANSWER_SAME_PIN, False)
        assert counter.screen is Screen.CARDINFO_PIN
        assert press(counter, "1", "3", "9", "9", BACK, BACK, "5", CLEAR, "1", "3", "5", "7") == [
            1, 2, 3, 4, 3, 2, 3, 0, 1, 2, 3, 4]
        counter.flow.dispatch(Intent.PIN_SUBMIT)
        assert counter.screen is Screen.DONE and counter.flow.view.result == Prelinked()
    assert (card.pin_state().tries, card.pin_state("cardinfo").tries) == (3, 3)  # no wrong PIN sent
    assert card_reads(card).secrets == [INS_VERIFY, INS_COMPUTE_DIGITAL_SIGNATURE, INS_VERIFY]


class ClosingConnection(TimedConnection):
    """The card connection the flow opened, remembering whether it was closed."""

    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def test_a_card_lifted_while_it_is_read_is_asked_for_again(tmp_path: Path, server: LiveServer,
                                                            hierarchy: TestHierarchy,
                                                            make_card: Callable[..., SimulatedCard]) -> None:
    opened: list[ClosingConnection] = []
    card = make_card("linked")

    def open_card() -> ClosingConnection:
        opened.append(ClosingConnection(card))
        return opened[-1]

    runner = HeldRunner()
    views: list[View] = []
    core = KioskCore.build(load_config(write_config(tmp_path, server, hierarchy, server.base))).start()
    try:
        flow = FlowController(CoreBackend(core, open_card), runner, views.append, language="en")
        flow.dispatch(Intent.CHOOSE, "link_status")
        flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
        flow.dispatch(Intent.CARD_INSERTED)
        assert (flow.view.screen, flow.view.busy) == (Screen.PLACE_CARD, True)
        flow.dispatch(Intent.CARD_REMOVED)  # lifted before the read finished
        view = flow.view
        assert (view.screen, view.busy, view.error, view.card_present) == (
            Screen.PLACE_CARD, False, "card.removed", False)
        assert view.account == LINKED and view.operation == "link_status"  # what was typed is kept
        runner.run_all()  # the read starts late: its card was lifted, so it opens none and is dropped
        assert flow.view == view and not opened
        flow.dispatch(Intent.CARD_INSERTED)
        assert (flow.view.screen, flow.view.busy, flow.view.error) == (Screen.PLACE_CARD, True, None)
        runner.run_all()
        assert flow.view.screen is Screen.PIN and flow.view.tries_left == 3
        assert len(opened) == 1 and not opened[0].closed
        flow.dispatch(Intent.CANCEL)
        assert opened[0].closed
    finally:
        core.close()
