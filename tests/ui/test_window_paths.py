"""Every screen of the window under the two things that can happen on any of them: the card is
lifted, or nobody touches the kiosk. Then pre-link and offline by touch, and the error screens a
real card and a real server lead to.

Each path is driven by taps over the reference server and a simulated card; slowness comes from
the relay in front of the server (it holds answers back) or from a slot that holds the first read.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter as CardCounter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx2
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from kiosk.flow import LinkStatus, Prelinked, Screen, VoucherIssued
from kiosk.nfc.apdu import INS_COMPUTE_DIGITAL_SIGNATURE, INS_VERIFY
from kiosk.nfc.events import EventKind, ReaderEvent
from kiosk.nfc.sim import SimulatedCard
from kiosk.services.core import KioskCore
from kiosk.ui.qrcode import QrCode
from kiosk.ui.widgets import BusyIndicator
from linkserver.demo import DEMO_DESK_ID, DEMO_DESK_OFFLINE_PIN
from linkserver.models import Link
from linkserver.pages import TEXTS
from linkserver.passwords import password_matches
from tests.helpers.card_reads import MINIMUM_APDUS, assert_prelink_read_once, card_reads
from tests.helpers.server_api import LINKED, NEW_PASSWORD
from tests.linkserver.helpers import LiveServer, Staff
from tests.netfault import Relay
from tests.ui.counter import BUTTONS, READER, Counter, account, visible_texts

UNLINKED_ACCOUNT = "2024000002"


@dataclass
class Desk:
    """What a path may need besides the window: cards, the server, the relay, a staff member."""

    counter: Counter
    make_card: Callable[..., SimulatedCard]
    server: LiveServer
    relay: Relay
    core: KioskCore
    staff: Staff | None = None

    def start_staff(self) -> None:
        if self.staff is None:
            self.staff = Staff(self.server)

    def stop(self) -> None:
        if self.staff is not None:
            self.staff.stop()


def to_account(desk: Desk, operation: str) -> None:
    desk.counter.begin(operation)


def to_place_card(desk: Desk, operation: str = "mfa_reset", account_id: str = LINKED) -> None:
    desk.counter.begin(operation, account_id)
    desk.counter.wait_for(Screen.PLACE_CARD)


def to_pin(desk: Desk, operation: str = "mfa_reset", holder: str = "linked",
           account_id: str = LINKED) -> None:
    desk.counter.up_to_pin(operation, desk.make_card(holder), account_id)


def sign_in_on_phone(desk: Desk) -> None:
    """What the user does on their phone once the device-grant screen shows its code."""
    code = desk.counter.window.view.device_user_code
    assert code
    answer = desk.server.sign_in_on_phone(code, UNLINKED_ACCOUNT)
    assert answer.status_code == 200, answer.text


def to_device_grant(desk: Desk) -> None:
    desk.counter.begin("prelink", UNLINKED_ACCOUNT)
    desk.counter.wait_for(Screen.DEVICE_GRANT)
    desk.counter.qtbot.waitUntil(lambda: desk.counter.window.view.device_user_code is not None,
                                 timeout=10_000)


def to_prelink_pin(desk: Desk) -> None:
    to_device_grant(desk)
    desk.counter.place(desk.make_card("unlinked"))
    sign_in_on_phone(desk)
    desk.counter.wait_for(Screen.PIN)


def to_cardinfo_question(desk: Desk) -> None:
    to_prelink_pin(desk)
    desk.counter.enter_pin("2580", then=Screen.CARDINFO_QUESTION)


def to_cardinfo_pin(desk: Desk) -> None:
    to_cardinfo_question(desk)
    desk.counter.tap("No, it is different")
    desk.counter.wait_for(Screen.CARDINFO_PIN)


def to_last_try(desk: Desk) -> None:
    to_pin(desk, "mfa_reset", "last-try", "2024000005")
    desk.counter.enter_pin("1234", then=Screen.LAST_TRY)


def to_reading(desk: Desk) -> None:
    to_place_card(desk)
    desk.counter.slot.hold = threading.Event()
    desk.counter.slot.opening.clear()
    desk.counter.place(desk.make_card("linked"))
    assert desk.counter.slot.opening.wait(10)
    assert desk.counter.window.view.busy


def to_verifying(desk: Desk) -> None:
    to_pin(desk, "link_status")
    desk.relay.delay = 2.0  # the server answers slowly from now on
    desk.counter.enter_pin("1234", then=Screen.VERIFYING)


def to_unlink_confirm(desk: Desk) -> None:
    to_pin(desk, "unlink")
    desk.counter.enter_pin("1234", then=Screen.UNLINK_CONFIRM)


def to_staff_wait(desk: Desk) -> None:
    to_pin(desk, "password_reset")  # nobody at the staff console yet
    desk.counter.enter_pin("1234", then=Screen.STAFF_WAIT)


def to_new_password(desk: Desk) -> None:
    desk.start_staff()
    to_staff_wait(desk)
    desk.counter.wait_for(Screen.NEW_PASSWORD)


def to_offline_approval(desk: Desk) -> None:
    desk.relay.down()
    to_pin(desk, "mfa_reset")
    assert not desk.counter.window.view.online
    desk.counter.enter_pin("1234", then=Screen.OFFLINE_APPROVAL)


def to_done(desk: Desk) -> None:
    to_pin(desk, "link_status")
    desk.counter.enter_pin("1234", then=Screen.DONE)


def to_error(desk: Desk) -> None:
    to_pin(desk, "mfa_reset", "unlinked")
    desk.counter.enter_pin("2580", then=Screen.ERROR)


PATHS: dict[str, Callable[[Desk], None]] = {
    "start": lambda desk: None,
    "account": lambda desk: to_account(desk, "salvage"),
    "device_grant": to_device_grant,
    "place_card": to_place_card,
    "place_card-reading": to_reading,
    "pin": to_pin,
    "last_try": to_last_try,
    "cardinfo_question": to_cardinfo_question,
    "cardinfo_pin": to_cardinfo_pin,
    "verifying": to_verifying,
    "unlink_confirm": to_unlink_confirm,
    "staff_wait": to_staff_wait,
    "new_password": to_new_password,
    "offline_approval": to_offline_approval,
    "done": to_done,
    "error": to_error,
}
#: Where lifting the card leads, from each screen: stay (nothing of the card is needed, or no
#: longer), ask for it again, back to the start (its last step), or the error screen.
AFTER_REMOVAL: dict[str, tuple[Screen, str | None]] = {
    "start": (Screen.START, None),
    "account": (Screen.ACCOUNT, None),
    "device_grant": (Screen.DEVICE_GRANT, None),
    "place_card": (Screen.PLACE_CARD, None),
    "place_card-reading": (Screen.PLACE_CARD, "card.removed"),
    "pin": (Screen.ERROR, "card.removed"),
    "last_try": (Screen.ERROR, "card.removed"),
    "cardinfo_question": (Screen.ERROR, "card.removed"),
    "cardinfo_pin": (Screen.ERROR, "card.removed"),
    "verifying": (Screen.ERROR, "card.removed"),
    "unlink_confirm": (Screen.ERROR, "card.removed"),
    "staff_wait": (Screen.STAFF_WAIT, None),
    "new_password": (Screen.NEW_PASSWORD, None),
    "offline_approval": (Screen.ERROR, "card.removed"),
    "done": (Screen.START, None),
    "error": (Screen.ERROR, "no_match"),
}
#: Screens on which the kiosk waits for something other than the person at the counter.
WAITING = {"device_grant", "place_card-reading", "verifying", "staff_wait"}


@pytest.fixture
def desk(open_window: Callable[..., Counter], make_card: Callable[..., SimulatedCard], server: LiveServer,
         relay: Relay, core: KioskCore) -> Iterator[Desk]:
    made = Desk(open_window(), make_card, server, relay, core)
    yield made
    made.relay.delay = 0.0
    made.stop()


@pytest.mark.parametrize("where", list(PATHS))
def test_lifting_the_card_on_each_screen(desk: Desk, where: str) -> None:
    counter = desk.counter
    PATHS[where](desk)
    before = counter.window.view
    if where == "start":
        counter.place(desk.make_card("linked"))
    counter.take_off()
    screen, error = AFTER_REMOVAL[where]
    counter.wait_for(screen)
    view = counter.window.view
    assert view.error == error and not view.card_present and view.pin_digits == 0
    if screen is Screen.ERROR and error == "card.removed":
        assert view.account is None and view.operation is None  # the session is gone
        page = "\n".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]
        assert "card was taken off" in page.lower() or "removed" in page.lower(), page
        counter.tap("OK")
        counter.wait_for(Screen.START)
    elif screen is before.screen and where != "start":
        assert view.operation == before.operation and view.account == before.account
    if where == "place_card-reading":
        page = "\n".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]
        assert "taken off before it could be read" in page
        assert counter.slot.hold is not None
        # The card goes back on while the late read still waits to open it: both reads go on at
        # once, and the late one must neither reach the card beside the fresh one nor be shown.
        hold = counter.slot.hold
        counter.place(desk.make_card("linked"))
        counter.slot.hold = None
        hold.set()
        counter.wait_for(Screen.PIN)
    if where == "staff_wait":  # the request goes on without the card: staff approve, the code is shown
        desk.start_staff()
        counter.wait_for(Screen.NEW_PASSWORD)
    if where == "new_password":
        field = next(f for f in counter.window.current_page.findChildren(QLineEdit)  # type: ignore[union-attr]
                     if f.accessibleName() == "New password")
        counter.qtbot.keyClicks(field, NEW_PASSWORD)
        counter.tap("Set password")
        counter.wait_for(Screen.DONE)
        assert password_matches(account(desk.server, LINKED).password_hash, NEW_PASSWORD)
        counter.tap("Finish")  # the card is already off: Finish ends it
        counter.wait_for(Screen.START)
    if where == "offline_approval":
        assert desk.core.store.outbox_depth() == 0  # nothing was recorded for a session that ended


@pytest.mark.parametrize("where", [w for w in PATHS if w != "start"])
def test_nobody_at_the_counter_on_each_screen(desk: Desk, where: str) -> None:
    counter = desk.counter
    window = counter.window
    PATHS[where](desk)
    if where in WAITING:
        # Waiting on the card, the server, the phone or the staff is not idleness: each wait has
        # its own deadline, and the screen shows that it is working and what it waits for.
        assert window.view.busy and not window.idle_timer.isActive()
        page = window.current_page
        assert page is not None
        busy = [w for w in page.findChildren(BusyIndicator) if w.isVisibleTo(page)]
        assert busy and all(w.text() and w.running for w in busy), where
        return
    assert window.idle_timer.isActive()
    operation = window.view.operation
    window.idle_timer.setInterval(100)
    window.idle_timer.start()
    counter.wait_for(Screen.START)
    view = window.view
    assert view.operation is None and view.account is None and view.pin_digits == 0 and view.result is None
    assert not window.idle_timer.isActive()
    if operation is not None:
        counter.tap(BUTTONS[operation])
        counter.wait_for(Screen.ACCOUNT)
        assert "".join(visible_texts(counter.window.current_page)).count(LINKED) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize("how", ["cancel", "idle", "approval_timeout"])
def test_leaving_a_waiting_request_withdraws_it(desk: Desk, how: str) -> None:
    """Cancel, the idle timeout, or staff who never decide: nothing is left for staff to approve,
    and no password can follow."""
    counter, window = desk.counter, desk.counter.window
    if how == "cancel":
        to_staff_wait(desk)
        counter.qtbot.waitUntil(lambda: (desk.server.latest_operation(LINKED) or ("", ""))[1]
                                == "awaiting_approval", timeout=10_000)
        counter.tap("Cancel")
        counter.wait_for(Screen.START)
        reason = "user_cancelled"
    elif how == "idle":
        to_new_password(desk)  # approved: the server waits for the password
        window.idle_timer.setInterval(100)
        window.idle_timer.start()
        counter.wait_for(Screen.START)
        reason = "idle_timeout"
    else:
        # server.approval_timeout_seconds (60 in the tests' configuration) is the wait; shortened here.
        assert desk.core.operations.approval_timeout == 60
        desk.core.operations.approval_timeout = 0.5
        to_staff_wait(desk)
        counter.wait_for(Screen.ERROR)
        assert (window.view.error, window.view.error_step) == ("approval.timeout", "approval")
        page = "\n".join(visible_texts(window.current_page))  # type: ignore[arg-type]
        assert "No staff decision in time" in page and "waited too long for a staff member" in page, page
        reason = "approval_timeout"
    counter.qtbot.waitUntil(lambda: (desk.server.latest_operation(LINKED) or ())[1:] == ("cancelled", reason),
                            timeout=10_000)
    operation_id = (desk.server.latest_operation(LINKED) or ("",))[0]
    decision = desk.server.staff().post(desk.server.url(f"/v1/staff/operations/{operation_id}/decision"),
                                        json={"approve": True, "staff_id": "tanaka.h"})
    assert decision.status_code == 409 and decision.json()["error"] == "operation_cancelled", decision.text


# -- pre-link and offline by touch -----------------------------------------------------------------------


@pytest.mark.parametrize("same_pin", [False, True])
def test_prelink_by_touch(desk: Desk, same_pin: bool) -> None:
    counter = desk.counter
    desk.start_staff()
    to_device_grant(desk)
    page_text = "\n".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]
    code = counter.window.view.device_user_code
    assert code is not None and code in page_text.replace(" ", "")
    card = desk.make_card("unlinked", cardinfo_pin="2580" if same_pin else "1357")
    counter.place(card)
    sign_in_on_phone(desk)
    counter.wait_for(Screen.PIN)
    counter.enter_pin("2580", then=Screen.CARDINFO_QUESTION)
    if same_pin:
        counter.tap("Yes, it is the same")
    else:
        counter.tap("No, it is different")
        counter.wait_for(Screen.CARDINFO_PIN)
        counter.enter_pin("1357", then=Screen.DONE)
    counter.wait_for(Screen.DONE)
    assert counter.window.view.result == Prelinked()
    with desk.server.server.parts.db.transaction() as session:
        link = session.get(Link, UNLINKED_ACCOUNT)
        assert link is not None and link.name_on_card == "鈴木　一郎"
    assert counter.screens()[:6] == [Screen.ACCOUNT, Screen.DEVICE_GRANT, Screen.PLACE_CARD, Screen.PIN,
                                     Screen.CARDINFO_QUESTION, Screen.VERIFYING]
    assert_prelink_read_once(card)
    counter.take_off()
    counter.wait_for(Screen.START)
    text = "".join(repr(view) for view in counter.views)
    assert "2580" not in text and "1357" not in text


def approve_offline_by_touch(desk: Desk) -> VoucherIssued:
    """Staff approve at the counter while the server is away; the done screen's voucher."""
    counter = desk.counter
    to_offline_approval(desk)
    page = counter.window.current_page
    assert page is not None
    fields = {f.accessibleName(): f for f in page.findChildren(QLineEdit)}
    for key in DEMO_DESK_ID:  # on the on-screen keyboard, as staff would at the counter
        counter.tap("Hyphen" if key == "-" else key)
    assert fields["Staff ID"].text() == DEMO_DESK_ID
    counter.qtbot.mouseClick(fields["Offline PIN"], Qt.MouseButton.LeftButton)
    counter.type_digits(DEMO_DESK_OFFLINE_PIN)
    counter.tap("Approve as staff")
    counter.wait_for(Screen.DONE)
    result = counter.window.view.result
    assert isinstance(result, VoucherIssued) and result.code and not counter.window.view.online
    return result


def finish_on_the_voucher_page(desk: Desk, voucher: str) -> httpx2.Response:
    """What the user does at home: the voucher page the QR code opens, filled in and sent."""
    form = {"code": voucher, "account_id": LINKED, "lang": "en"}
    return httpx2.post(f"{desk.relay.url}/voucher", data=form)


def test_offline_by_touch_records_evidence_and_shows_a_voucher(desk: Desk) -> None:
    counter = desk.counter
    result = approve_offline_by_touch(desk)
    voucher = result.code
    assert voucher in "".join(visible_texts(counter.window.current_page)).replace(" ", "")  # type: ignore[arg-type]
    assert desk.core.store.outbox_depth() == 1
    assert account(desk.server, LINKED).mfa_methods == 2  # nothing is changed while offline
    page_url = result.page
    assert page_url == f"{desk.relay.url}/voucher#code={voucher}"  # shown with its QR code
    shown = counter.window.current_page
    assert shown is not None and any(qr.isVisible() for qr in shown.findChildren(QrCode))
    counter.take_off()
    counter.wait_for(Screen.START)

    # The server comes back: the outbox drains, and the user finishes on the page the QR code opens.
    desk.relay.up()
    desk.core.sync.wake()
    counter.qtbot.waitUntil(lambda: desk.core.store.outbox_depth() == 0, timeout=20_000)
    finished = finish_on_the_voucher_page(desk, voucher)
    assert finished.status_code == 200, finished.text
    assert TEXTS["en"]["v_enrolment"] in finished.text
    assert account(desk.server, LINKED).mfa_methods == 0


def test_evidence_the_server_asks_for_again_waits_in_the_outbox_until_the_next_sync(desk: Desk) -> None:
    """The server is back but cannot tell the card's revocation (its CRLs are past their next
    update): it keeps nothing and says retry. The item waits with the attempt and the reason, the
    voucher does not work yet; once the CRLs are fresh the background sync sends it again."""
    counter, store = desk.counter, desk.core.store
    voucher = approve_offline_by_touch(desk).code
    counter.take_off()
    counter.wait_for(Screen.START)
    [recorded] = store.outbox_items()
    desk.server.crl_clock.advance(8 * 86400)
    desk.relay.up()
    desk.core.sync.wake()
    counter.qtbot.waitUntil(lambda: store.outbox_items()[0].last_error == "revocation_unknown",
                            timeout=20_000)
    [waiting] = store.outbox_items()
    assert waiting.fate is None and waiting.attempts > recorded.attempts
    assert store.outbox_depth() == 1
    refused = finish_on_the_voucher_page(desk, voucher)
    assert TEXTS["en"]["v_invalid"] in refused.text, refused.text

    desk.server.crl_clock.offset = dt.timedelta()  # a fresh CRL again: the next sync sends it
    counter.qtbot.waitUntil(lambda: store.outbox_depth() == 0, timeout=20_000)
    [sent] = store.outbox_items()
    assert (sent.idempotency_key, sent.fate, sent.error_code) == (recorded.idempotency_key, "accepted", None)
    finished = finish_on_the_voucher_page(desk, voucher)
    assert TEXTS["en"]["v_enrolment"] in finished.text, finished.text


def test_offline_refuses_what_needs_the_server_in_words(desk: Desk) -> None:
    desk.relay.down()
    to_place_card(desk, "link_status")
    desk.counter.place(desk.make_card("linked"))
    desk.counter.wait_for(Screen.ERROR)
    assert desk.counter.window.view.error == "offline.not_for_operation"


# -- error screens from real cards and a real server --------------------------------------------------------


@pytest.mark.parametrize(("operation", "holder", "account_id", "pin", "error"), [
    ("mfa_reset", "expired", "2019000008", None, "expired"),
    ("mfa_reset", "not-yet-valid", "2024000009", None, "not_yet_valid"),
    ("mfa_reset", "blocked", "2024000004", None, "pin.blocked"),
    ("mfa_reset", "revoked", "2024000007", "1234", "revoked"),
    ("mfa_reset", "foreign", LINKED, "1234", "unknown_issuer"),
    ("salvage", "linked", LINKED, "1234", "salvage_not_eligible"),
])
def test_error_screens_from_real_cards(desk: Desk, operation: str, holder: str, account_id: str,
                                       pin: str | None, error: str) -> None:
    counter = desk.counter
    desk.start_staff()
    to_place_card(desk, operation, account_id)
    counter.place(desk.make_card(holder))
    if pin is not None:
        counter.wait_for(Screen.PIN)
        counter.type_digits(pin)
        counter.tap("OK")
    counter.wait_for(Screen.ERROR)
    assert counter.window.view.error == error
    page = "\n".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]
    assert "Traceback" not in page and "internal" not in page.lower()
    counter.tap("OK")
    counter.wait_for(Screen.START)


def test_prelink_refuses_a_card_without_card_info_before_the_pin(desk: Desk) -> None:
    counter = desk.counter
    to_device_grant(desk)
    card = desk.make_card("unlinked", card_info=False)
    counter.place(card)
    sign_in_on_phone(desk)
    counter.wait_for(Screen.ERROR)
    assert counter.window.view.error == "card.no_card_info"
    assert Screen.PIN not in counter.screens()
    page = "\n".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]
    assert "card information application" in page and "Traceback" not in page


def test_wrong_pins_on_screen_down_to_the_last_try(desk: Desk) -> None:
    counter = desk.counter
    card = desk.make_card("linked")
    counter.up_to_pin("link_status", card, LINKED)
    for tries in (2, 1):
        counter.type_digits("9999")
        counter.tap("OK")
        counter.qtbot.waitUntil(lambda t=tries: counter.window.view.tries_left == t, timeout=10_000)
        assert counter.screen is Screen.PIN and counter.window.view.error == "pin.wrong"
    page = "\n".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]
    assert "last try" in page.lower()
    counter.enter_pin("1234", then=Screen.LAST_TRY)
    counter.tap("Use my last try")
    counter.wait_for(Screen.DONE)
    assert isinstance(counter.window.view.result, LinkStatus) and counter.window.view.result.linked
    # The tries left were asked once: each wrong PIN's answer said how many were left.
    reads = card_reads(card)
    assert reads.tries == CardCounter(jpki=1) and reads.certificate == 1
    assert reads.secrets == [INS_VERIFY, INS_VERIFY, INS_VERIFY, INS_COMPUTE_DIGITAL_SIGNATURE]
    assert reads.apdus <= MINIMUM_APDUS + 2


def test_no_reader_is_said_on_the_place_card_screen(desk: Desk) -> None:
    counter = desk.counter
    to_place_card(desk)
    counter.window.reader_event(ReaderEvent(EventKind.READER_REMOVED, READER))
    counter.qtbot.waitUntil(lambda: not counter.window.view.reader_ready, timeout=5_000)
    page = "\n".join(visible_texts(counter.window.current_page))  # type: ignore[arg-type]
    assert "reader" in page.lower()
    counter.window.reader_event(ReaderEvent(EventKind.READER_ADDED, READER))
    counter.qtbot.waitUntil(lambda: counter.window.view.reader_ready, timeout=5_000)
