"""The card layer over real pcscd, the vpcd reader and pyscard, with the simulated card."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.nfc import CardInfoSession, JpkiSession
from kiosk.nfc.errors import (
    CardError,
    CardResetError,
    InvalidPinError,
    LastTryNotConfirmedError,
    PinBlockedError,
    SecurityStatusError,
)
from kiosk.nfc.events import EventKind, ReaderEvent
from kiosk.nfc.pcsc import CardWatcher, PcscConnection, list_readers
from kiosk.nfc.sim import Fault, FaultKind, SimulatedCard, TestHierarchy
from kiosk.nfc.sim.pcscd import PcscdProcess
from tests.conftest import Reader
from tests.helpers.tripwire import assert_my_number_untouched


def test_both_virtual_readers_are_listed(pcscd: PcscdProcess) -> None:
    assert set(pcscd.readers) <= set(list_readers())


def test_insertion_and_removal_are_events_on_another_thread(
    reader: Reader, card: SimulatedCard
) -> None:
    events: queue.SimpleQueue[tuple[ReaderEvent, str]] = queue.SimpleQueue()

    def on_event(event: ReaderEvent) -> None:
        if event.reader == reader.name or event.kind is EventKind.SERVICE_LOST:
            events.put((event, threading.current_thread().name))

    def next_event(kind: EventKind) -> tuple[ReaderEvent, str]:
        while True:
            event, thread = events.get(timeout=10)
            if event.kind is kind:
                return event, thread

    with CardWatcher(on_event):
        next_event(EventKind.READER_ADDED)
        reader.insert(card, wait=False)
        inserted, thread = next_event(EventKind.CARD_INSERTED)
        assert inserted.atr == card.atr
        assert thread == "pcsc-events"  # not the thread that talks to PC/SC
        reader.remove(wait=False)
        removed, _ = next_event(EventKind.CARD_REMOVED)
        assert removed.reader == reader.name


def test_events_go_through_the_given_delivery(reader: Reader, card: SimulatedCard) -> None:
    posted: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
    seen: list[EventKind] = []
    watcher = CardWatcher(lambda e: seen.append(e.kind), deliver=posted.put).start()
    try:
        reader.insert(card)
        deadline = time.monotonic() + 10
        while EventKind.CARD_INSERTED not in seen and time.monotonic() < deadline:
            posted.get(timeout=10)()  # the "event loop" runs the handler on this thread
        assert EventKind.CARD_INSERTED in seen
    finally:
        watcher.stop()


@pytest.mark.parametrize("extended", [True, False], ids=["extended", "chunked"])
def test_certificate_read(
    reader: Reader, make_card: Callable[..., SimulatedCard], hierarchy: TestHierarchy,
    extended: bool,
) -> None:
    card = make_card(extended=extended)
    reader.insert(card)
    with PcscConnection(reader.name) as connection:
        session = JpkiSession(connection)
        cert = session.auth_certificate()
        assert cert == hierarchy.holder("linked").auth_certificate
        assert session.channel.extended_supported is extended
        length = len(cert.public_bytes(Encoding.DER))
        reads = 2 if extended else 1 + -(-(length - 256) // 256) + 1  # +1: the refused try
        assert session.channel.apdu_count == 2 + reads


def test_pin_and_signature(reader: Reader, card: SimulatedCard) -> None:
    reader.insert(card)
    with PcscConnection(reader.name) as connection:
        session = JpkiSession(connection)
        cert = session.auth_certificate()
        assert session.pin_tries_left() == 3
        with pytest.raises(InvalidPinError) as wrong:
            session.verify_pin("0000")
        assert wrong.value.tries_left == 2
        session.verify_pin("1234")
        assert session.pin_tries_left() == 3
        message = b"nonce" * 8
        signature = session.sign_sha256(message)
        cert.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        name_session = CardInfoSession(session.channel)
        name_session.verify_pin("1234")
        assert name_session.read_name().full == "佐藤\u3000花子"
    assert_my_number_untouched(card)


def test_pin_runs_out(reader: Reader, card: SimulatedCard) -> None:
    reader.insert(card)
    with PcscConnection(reader.name) as connection:
        session = JpkiSession(connection)
        for left in (2, 1):
            with pytest.raises(InvalidPinError) as wrong:
                session.verify_pin("0000")
            assert wrong.value.tries_left == left
        with pytest.raises(LastTryNotConfirmedError, match=r"^one try left: confirm before spending it$"):
            session.verify_pin("0000")
        with pytest.raises(PinBlockedError, match=r"^the PIN is now blocked$"):
            session.verify_pin("0000", confirm_last_try=True)
        assert session.pin_tries_left() == 0
    assert card.pin_state().blocked


def test_blocked_card(reader: Reader, make_card: Callable[..., SimulatedCard]) -> None:
    reader.insert(make_card("blocked"))
    with PcscConnection(reader.name) as connection:
        session = JpkiSession(connection)
        assert session.pin_tries_left() == 0
        with pytest.raises(PinBlockedError, match=r"^the PIN is blocked$"):
            session.verify_pin("1234", confirm_last_try=True)


def test_reset_by_another_application(reader: Reader, card: SimulatedCard) -> None:
    reader.insert(card)
    with PcscConnection(reader.name) as ours, PcscConnection(reader.name) as theirs:
        session = JpkiSession(ours)
        session.verify_pin("1234")
        theirs.reset_card()
        # Reads recover by themselves after selecting the application again ...
        assert session.pin_tries_left() == 3
        # ... but the PIN state is gone: signing needs the PIN again.
        with pytest.raises(SecurityStatusError, match=r"^signing before the PIN was verified: status 69 82$"):
            session.sign_sha256(b"x")
        theirs.reset_card()
        with pytest.raises(CardResetError, match=r"^the card was reset; its PIN state is gone$"):
            session.verify_pin("1234")
        session.select()
        session.verify_pin("1234")
        session.sign_sha256(b"x")


def test_card_removed_mid_read(reader: Reader, make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card(faults=[Fault(FaultKind.REMOVE, ins=0xB0, min_offset=256)])
    reader.insert(card)
    with PcscConnection(reader.name) as connection:
        session = JpkiSession(connection)
        with pytest.raises(CardError) as err:
            session.auth_certificate()
        assert err.value.code == "card.removed"


@pytest.mark.timeout(60)  # a hang guard: how long the timeout takes is bench/card_bench.py's figure
def test_silent_card_times_out(reader: Reader, make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card(faults=[Fault(FaultKind.SILENCE, ins=0x20)])
    reader.insert(card)
    connection = PcscConnection(reader.name, timeout=1.0)
    try:
        session = JpkiSession(connection)
        with pytest.raises(CardError) as err:
            session.pin_tries_left()
        assert err.value.code == "card.timeout"
        with pytest.raises(CardError) as again:
            session.pin_tries_left()
        assert again.value.code == "card.timeout"
    finally:
        reader.remove()
        connection.close()


@pytest.mark.parametrize(
    ("kind", "code"),
    [(FaultKind.GARBAGE, "card.malformed_response"), (FaultKind.SHORT, "card.malformed_response"),
     (FaultKind.EXTEND, "card.malformed_response"), (FaultKind.STATUS, "card.unexpected_status")],
    ids=lambda k: getattr(k, "value", ""),
)
def test_lying_card_is_a_typed_error(
    reader: Reader, make_card: Callable[..., SimulatedCard], kind: FaultKind, code: str
) -> None:
    card = make_card(faults=[Fault(kind, ins=0xB0)])
    reader.insert(card)
    with PcscConnection(reader.name) as connection, pytest.raises(CardError) as err:
        JpkiSession(connection).auth_certificate()
    assert err.value.code == code, repr(err.value)


def test_no_card_on_the_reader(reader: Reader) -> None:
    with pytest.raises(CardError) as err:
        PcscConnection(reader.name)
    assert err.value.code == "card.absent"


def test_unknown_reader(pcscd: PcscdProcess) -> None:
    with pytest.raises(CardError) as err:
        PcscConnection("No Such Reader 00 00")
    assert err.value.code == "reader.error", repr(err.value)


def test_pcsc_service_vanishing_is_a_typed_error(
    pcscd: PcscdProcess, reader: Reader, card: SimulatedCard
) -> None:
    reader.insert(card)
    events: queue.SimpleQueue[EventKind] = queue.SimpleQueue()
    watcher = CardWatcher(lambda e: events.put(e.kind)).start()
    connection = PcscConnection(reader.name, timeout=3)
    try:
        session = JpkiSession(connection)
        assert events.get(timeout=10) is EventKind.READER_ADDED
        reader.bridge = None  # the card goes with the service
        pcscd.stop()
        with pytest.raises(CardError) as err:
            session.pin_tries_left()
        assert err.value.code in ("reader.none", "reader.error", "card.removed")
        seen = set()
        while EventKind.SERVICE_LOST not in seen:
            seen.add(events.get(timeout=10))
        with pytest.raises(CardError) as listing:
            list_readers()
        assert listing.value.code == "reader.none"
    finally:
        watcher.stop()
        connection.close()
        pcscd.start()  # later tests get their service back
