"""The kiosk's core end to end: the simulated card behind real pcscd, the reference server on loopback.

Each operation runs online and, where it may, offline; the relay in front of the server cuts it
before, during and after a verification, and the outbox drains once it is back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import select

from kiosk.config import load_config
from kiosk.nfc.pcsc import PcscConnection
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.services.core import KioskCore
from kiosk.services.headless import FlowFailed, FlowInput, Step
from linkserver.models import Link, OfflineEvidence
from linkserver.passwords import password_matches
from tests.conftest import Reader
from tests.helpers.kiosk import pin, place, run, write_config
from tests.helpers.roster import DESK
from tests.helpers.server_api import LINKED, NEW_PASSWORD
from tests.helpers.server_api import account_row as account
from tests.linkserver.helpers import LiveServer, Staff
from tests.netfault import Relay


@pytest.fixture
def relay(server: LiveServer) -> Iterator[Relay]:
    port = int(server.base.rsplit(":", 1)[1])
    relay = Relay(port)
    yield relay
    relay.close()


@pytest.fixture
def core(tmp_path: Path, server: LiveServer, relay: Relay, hierarchy: TestHierarchy) -> Iterator[KioskCore]:
    built = KioskCore.build(load_config(write_config(tmp_path, server, hierarchy, relay.url)))
    built.start()
    yield built
    built.close()


# -- every operation online ---------------------------------------------------------------------


def test_password_reset_online(core: KioskCore, reader: Reader, make_card: Callable[..., SimulatedCard],
                               server: LiveServer, staff: Staff) -> None:
    given = FlowInput("password_reset", LINKED, pin(), new_password=bytearray(NEW_PASSWORD.encode()))
    result, steps = run(core, place(reader, make_card, "linked"), given)
    assert result["status"] == "completed" and result["match"] is True
    assert [s.name for s in steps] == ["card", "verify", "request", "approval", "password"]
    assert password_matches(account(server, LINKED).password_hash, NEW_PASSWORD)
    assert given.pin == bytearray(4) and given.new_password == bytearray(len(NEW_PASSWORD))


def test_mfa_reset_online(core: KioskCore, reader: Reader, make_card: Callable[..., SimulatedCard],
                          server: LiveServer, staff: Staff) -> None:
    result, _ = run(core, place(reader, make_card, "linked"), FlowInput("mfa_reset", LINKED, pin()))
    assert len(result["result"]["enrolment_code"]) == 19
    assert account(server, LINKED).mfa_methods == 0


def test_salvage_online(core: KioskCore, reader: Reader, make_card: Callable[..., SimulatedCard],
                        staff: Staff) -> None:
    given = FlowInput("salvage", "2019000003", pin("9021"), mode="forwarding")
    result, _ = run(core, place(reader, make_card, "latin"), given)
    assert result["result"]["mode"] == "forwarding" and result["result"]["ticket"]


def test_link_status_and_unlink_online(core: KioskCore, reader: Reader,
                                       make_card: Callable[..., SimulatedCard], server: LiveServer,
                                       staff: Staff) -> None:
    status, _ = run(core, place(reader, make_card, "linked"), FlowInput("link_status", LINKED, pin()))
    assert status["result"]["linked"] is True and status["name_on_record"] == "佐藤　花子"
    unlinked, _ = run(core, place(reader, make_card, "linked"), FlowInput("unlink", LINKED, pin()))
    assert unlinked["status"] == "completed"
    with server.server.parts.db.transaction() as session:
        assert session.get(Link, LINKED) is None


def _sign_in_on_phone(server: LiveServer) -> Callable[[str, str], None]:
    def sign_in(user_code: str, uri: str) -> None:
        def phone() -> None:
            answer = server.sign_in_on_phone(user_code)
            assert answer.status_code == 200

        threading.Thread(target=phone, daemon=True).start()

    return sign_in


@pytest.mark.parametrize("same_pin", [False, True])
def test_prelink_online(core: KioskCore, reader: Reader, make_card: Callable[..., SimulatedCard],
                        server: LiveServer, staff: Staff, same_pin: bool) -> None:
    given = FlowInput("prelink", "2024000002", pin("2580"), cardinfo_pin=pin("1357"),
                      same_pin_for_name=same_pin, on_user_code=_sign_in_on_phone(server))
    options = {"cardinfo_pin": "2580"} if same_pin else {}
    result, steps = run(core, place(reader, make_card, "unlinked", **options), given)
    assert result["status"] == "completed"
    names = [s.name for s in steps]
    assert names[:2] == ["device_authorization", "account_sign_in"]
    assert ("card_info" in names) is (not same_pin)
    with server.server.parts.db.transaction() as session:
        link = session.get(Link, "2024000002")
        assert link is not None and link.name_on_card == "鈴木　一郎"


def test_same_pin_is_not_tried_on_a_card_info_counter_that_is_not_full(
        core: KioskCore, reader: Reader, make_card: Callable[..., SimulatedCard], server: LiveServer,
        staff: Staff) -> None:
    card = make_card("unlinked")
    card.pin_state("cardinfo").tries = 2  # one wrong try already spent on the card-info PIN
    reader.insert(card)
    given = FlowInput("prelink", "2024000002", pin("2580"), cardinfo_pin=None, same_pin_for_name=True,
                      on_user_code=_sign_in_on_phone(server))
    with pytest.raises(FlowFailed) as failed:
        run(core, PcscConnection(reader.name), given)
    assert failed.value.code == "pin.cardinfo_needed"
    assert card.pin_state("cardinfo").tries == 2


# -- PIN and card faults ---------------------------------------------------------------------------


def test_wrong_pins_down_to_the_last_try_warning(core: KioskCore, reader: Reader,
                                                 make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("linked"))
    codes = []
    for _ in range(3):
        with pytest.raises(FlowFailed) as failed:
            run(core, PcscConnection(reader.name), FlowInput("link_status", LINKED, pin("9999")))
        codes.append(failed.value.code)
    assert codes == ["pin.wrong", "pin.wrong", "pin.last_try_unconfirmed"]


@pytest.mark.parametrize(("after", "code"), [("card", "card.removed"), ("verify", "cancelled"),
                                             ("request", "cancelled")])
def test_card_removed_between_steps(core: KioskCore, reader: Reader, make_card: Callable[..., SimulatedCard],
                                    server: LiveServer, after: str, code: str) -> None:
    """Removal before VERIFY is the card's own error; later, the session is cancelled as the screen does.

    Either way nothing is changed on the account.
    """
    cancel = threading.Event()

    def on_step(step: Step) -> None:
        if step.name == after:
            reader.remove()
            if after != "card":
                cancel.set()

    with pytest.raises(FlowFailed) as failed:
        run(core, place(reader, make_card, "linked"), FlowInput("mfa_reset", LINKED, pin()), on_step, cancel)
    assert failed.value.code == code
    assert account(server, LINKED).mfa_methods == 2


# -- offline ---------------------------------------------------------------------------------------


def _drained(core: KioskCore) -> threading.Event:
    done = threading.Event()

    def check() -> None:
        if core.store.outbox_depth() == 0:
            done.set()

    core.sync.on_change = check
    return done


def test_server_down_before_the_verification(core: KioskCore, reader: Reader,
                                             make_card: Callable[..., SimulatedCard], server: LiveServer,
                                             relay: Relay) -> None:
    core.heartbeat.beat_once()  # the roster, while the server is there
    relay.down()
    given = FlowInput("password_reset", LINKED, pin(), offline_staff_id=DESK[0], offline_pin=pin(DESK[1]))
    result, steps = run(core, place(reader, make_card, "linked"), given)
    assert result["online"] is False
    assert steps[0].detail["online"] is False and steps[0].detail["offline_reason"] == "server.unreachable"
    voucher = result["voucher"]
    assert core.store.outbox_depth() == 1
    assert not password_matches(account(server, LINKED).password_hash, NEW_PASSWORD)  # nothing changed
    drained = _drained(core)
    relay.up()
    core.sync.wake()
    assert drained.wait(20), "the outbox did not drain"
    redeemed = httpx2.post(server.url("/v1/vouchers/redeem"), json={
        "voucher": voucher, "account_id": LINKED, "new_password": NEW_PASSWORD})
    assert redeemed.status_code == 200, redeemed.text
    assert password_matches(account(server, LINKED).password_hash, NEW_PASSWORD)


def test_server_down_during_the_verification(core: KioskCore, reader: Reader,
                                             make_card: Callable[..., SimulatedCard], server: LiveServer,
                                             relay: Relay) -> None:
    def on_step(step: Step) -> None:
        if step.name == "card":
            relay.down()  # the challenge is fetched; the verification request will fail

    core.heartbeat.beat_once()
    given = FlowInput("mfa_reset", LINKED, pin(), offline_staff_id=DESK[0], offline_pin=pin(DESK[1]))
    result, _ = run(core, place(reader, make_card, "linked"), given, on_step)
    assert result["online"] is False and result["voucher"]
    drained = _drained(core)
    relay.up()
    core.sync.wake()
    assert drained.wait(20)
    with server.server.parts.db.transaction() as session:
        fates = [e.fate for e in session.scalars(select(OfflineEvidence))]
    assert fates == ["accepted"]


def test_server_down_after_the_verification_changes_nothing(
        core: KioskCore, reader: Reader, make_card: Callable[..., SimulatedCard], server: LiveServer,
        relay: Relay) -> None:
    def on_step(step: Step) -> None:
        if step.name == "verify":
            relay.down()

    with pytest.raises(FlowFailed) as failed:
        run(core, place(reader, make_card, "linked"), FlowInput("mfa_reset", LINKED, pin()), on_step)
    assert (failed.value.step, failed.value.code) == ("request", "server.unreachable")
    assert account(server, LINKED).mfa_methods == 2


def test_a_slow_server_is_a_timeout_not_a_hang(tmp_path: Path, server: LiveServer, relay: Relay,
                                               hierarchy: TestHierarchy, reader: Reader,
                                               make_card: Callable[..., SimulatedCard]) -> None:
    config = write_config(tmp_path, server, hierarchy, relay.url, read_timeout=1.0)
    slow = KioskCore.build(load_config(config)).start()
    try:
        slow.heartbeat.beat_once()
        relay.delay = 3.0
        given = FlowInput("mfa_reset", LINKED, pin(), offline_staff_id=DESK[0], offline_pin=pin(DESK[1]))
        result, steps = run(slow, place(reader, make_card, "linked"), given)
        assert result["online"] is False  # the challenge timed out: verified in person instead
        assert steps[0].detail["offline_reason"] == "server.unreachable"
    finally:
        relay.delay = 0.0
        slow.close()


def test_offline_refuses_what_must_not_happen_offline(core: KioskCore, reader: Reader,
                                                      make_card: Callable[..., SimulatedCard],
                                                      relay: Relay) -> None:
    relay.down()
    with pytest.raises(FlowFailed) as failed:
        run(core, place(reader, make_card, "linked"), FlowInput("unlink", LINKED, pin(),
                                                               offline_staff_id="tanaka.h"))
    assert failed.value.code == "offline.not_for_operation"
    with pytest.raises(FlowFailed) as failed:
        run(core, place(reader, make_card, "revoked"), FlowInput("mfa_reset", "2024000007", pin(),
                                                                offline_staff_id="tanaka.h"))
    assert failed.value.code == "revoked"
    assert core.store.outbox_depth() == 0
