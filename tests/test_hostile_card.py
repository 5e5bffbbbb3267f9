"""A card that lies, stalls or vanishes: every fault ends in a typed error, in bounded time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from kiosk.nfc import CardInfoSession, JpkiSession, TimedConnection
from kiosk.nfc.errors import CardError
from kiosk.nfc.sim import Fault, FaultKind, SimulatedCard

EXPECTED_CODES = {
    FaultKind.REMOVE: {"card.removed"},
    FaultKind.SILENCE: {"card.timeout"},
    FaultKind.TRUNCATE: {"card.malformed_response"},
    FaultKind.EXTEND: {"card.malformed_response"},
    FaultKind.STATUS: {"card.unexpected_status", "card.unknown", "card.not_verified"},
    FaultKind.GARBAGE: {"card.malformed_response", "card.unexpected_status", "card.unknown",
                        "card.not_verified", "pin.wrong", "pin.blocked"},
    FaultKind.SHORT: {"card.malformed_response"},
}

STEPS: dict[str, Callable[[JpkiSession], object]] = {
    "token": lambda s: s.token_info(),
    "certificate": lambda s: s.auth_certificate(),
    "tries": lambda s: s.pin_tries_left(),
    "verify": lambda s: s.verify_pin("1234"),
    "sign": lambda s: s.sign_sha256(b"challenge"),
}


def full_flow(session: JpkiSession) -> None:
    for step in STEPS.values():
        step(session)


INSTRUCTIONS = {"select": 0xA4, "read": 0xB0, "verify": 0x20, "sign": 0x2A}
# SELECT and VERIFY answers carry no data, so there is nothing to truncate in them.
CASES = [
    pytest.param(kind, ins, id=f"{name}-{kind.value}")
    for kind in FaultKind
    for name, ins in INSTRUCTIONS.items()
    if not (kind is FaultKind.TRUNCATE and name in ("select", "verify"))
]


@pytest.mark.parametrize(("kind", "ins"), CASES)
def test_every_fault_is_a_typed_error(
    make_card: Callable[..., SimulatedCard], kind: FaultKind, ins: int
) -> None:
    card = make_card(faults=[Fault(kind, ins=ins, nth=2 if ins == 0xA4 else 1, sw=0x6F00)])
    connection = TimedConnection(card, timeout=0.5)
    start = time.monotonic()
    try:
        with pytest.raises(CardError) as err:
            full_flow(JpkiSession(connection))
        assert err.value.code in EXPECTED_CODES[kind], repr(err.value)
        assert time.monotonic() - start < 3
    finally:
        card.remove()
        connection.close()


def test_short_reads_are_continued(make_card: Callable[..., SimulatedCard]) -> None:
    """ISO 7816 lets a card return fewer bytes than asked: the reader asks for the rest."""
    card = make_card(faults=[Fault(FaultKind.TRUNCATE, ins=0xB0, nth=2, repeat=True)])
    session = JpkiSession(card)
    expected = make_card().profile.auth_cert_der
    from cryptography.hazmat.primitives.serialization import Encoding

    assert session.auth_certificate().public_bytes(Encoding.DER) == expected
    assert session.channel.apdu_count > 4


def test_a_card_that_returns_nothing_ends_the_read(card: SimulatedCard) -> None:
    card.faults.append(Fault(FaultKind.STATUS, ins=0xB0, nth=2, sw=0x9000))
    with pytest.raises(CardError) as err:
        JpkiSession(card).auth_certificate()
    assert err.value.code == "card.malformed_response"


def test_a_lying_length_header_is_bounded(card: SimulatedCard) -> None:
    from kiosk.nfc.sim.card import BinaryEF

    jpki = card._apps[bytes.fromhex("D392F000260100000001")]
    jpki.files[0x000A] = BinaryEF(b"\x30\x84\x7f\xff\xff\xff" + b"\xff" * 100)
    with pytest.raises(CardError) as err:
        JpkiSession(card).auth_certificate()
    assert err.value.code == "card.malformed_response"
    assert len(card.commands) <= 4


def test_a_certificate_that_is_not_one(card: SimulatedCard) -> None:
    from kiosk.nfc.sim.card import BinaryEF

    jpki = card._apps[bytes.fromhex("D392F000260100000001")]
    jpki.files[0x000A] = BinaryEF(b"\x30\x82\x00\x10" + b"\x01" * 16 + b"\xff" * 32)
    with pytest.raises(CardError) as err:
        JpkiSession(card).auth_certificate()
    assert err.value.code == "card.malformed_response"


def test_wrong_signature_length(make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card(faults=[Fault(FaultKind.TRUNCATE, ins=0x2A)])
    session = JpkiSession(card)
    session.verify_pin("1234")
    with pytest.raises(CardError) as err:
        session.sign_sha256(b"x")
    assert err.value.code == "card.malformed_response"


def test_removed_card_stays_removed(make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card(faults=[Fault(FaultKind.REMOVE, ins=0xB0)])
    session = JpkiSession(card)
    with pytest.raises(CardError) as first:
        session.auth_certificate()
    assert first.value.code == "card.removed"
    with pytest.raises(CardError) as second:
        session.pin_tries_left()
    assert second.value.code == "card.absent"


def test_card_info_faults_are_typed(make_card: Callable[..., SimulatedCard]) -> None:
    for kind in FaultKind:
        card = make_card(faults=[Fault(kind, ins=0xB0)])
        connection = TimedConnection(card, timeout=0.3)
        try:
            session = CardInfoSession(connection)
            session.verify_pin("1234")
            with pytest.raises(CardError):
                session.read_name()
        finally:
            card.remove()
            connection.close()
