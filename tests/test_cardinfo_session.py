"""CardInfoSession: the name only, and never the My Number, on every path."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from kiosk.nfc import CardInfoSession, TimedConnection, tlv
from kiosk.nfc.apdu import CommandApdu
from kiosk.nfc.cardinfo import CARD_INFO_AID
from kiosk.nfc.errors import (
    CardError,
    InvalidPinError,
    InvalidPinFormatError,
    LastTryNotConfirmedError,
    SecurityStatusError,
)
from kiosk.nfc.sim import Fault, FaultKind, SimulatedCard
from kiosk.nfc.sim.card import BinaryEF
from tests.helpers.tripwire import assert_my_number_untouched

SELECT_CARDINFO = "00A4040C0AD3921000310001010408"


def basic_info_layout(card: SimulatedCard) -> tuple[int, int]:
    """Offsets of the name field and of the address field in EF 0002."""
    content = card._apps[CARD_INFO_AID].files[0x0002]
    assert isinstance(content, BinaryEF)
    outer = tlv.parse_one(content.content)
    table = tlv.parse_one(outer.value)
    offsets = [int.from_bytes(table.value[i : i + 2], "big") for i in range(0, 8, 2)]
    return offsets[0], offsets[1]


def reads_of_basic_info(card: SimulatedCard) -> list[tuple[int, int]]:
    """(offset, length) of every READ BINARY sent while EF 0002 of the card info AP was selected."""
    app, ef, out = None, None, []
    for raw in card.commands:
        c = CommandApdu.from_bytes(raw)
        if c.ins == 0xA4 and c.p1 == 0x04:
            app, ef = c.data, None
        elif c.ins == 0xA4 and c.p1 == 0x02:
            ef = int.from_bytes(c.data, "big")
        elif c.ins == 0xB0 and app == CARD_INFO_AID and ef == 0x0002:
            out.append(((c.p1 << 8) | c.p2, c.ne or 0))
    return out


def test_name_read_sends_exactly_these_apdus(card: SimulatedCard) -> None:
    session = CardInfoSession(card)
    session.verify_pin("1234")
    name = session.read_name()
    assert name.full == "佐藤\u3000花子"
    assert (name.family, name.given) == ("佐藤", "花子")
    start, end = basic_info_layout(card)
    assert [c.hex().upper() for c in card.commands] == [
        SELECT_CARDINFO,
        "00A4020C020011", "00200080", "002000800431323334",
        "00A4020C020002", "00B0000010", f"00B0{start:04X}{end - start:02X}",
    ]
    assert_my_number_untouched(card)


def test_address_birth_date_and_sex_are_never_read(card: SimulatedCard) -> None:
    session = CardInfoSession(card)
    session.verify_pin("1234")
    session.read_name()
    _, address_offset = basic_info_layout(card)
    for offset, length in reads_of_basic_info(card):
        assert offset + length <= address_offset


def test_its_pin_has_its_own_counter(make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card("unlinked")  # different card-info PIN from the JPKI one
    session = CardInfoSession(card)
    assert session.pin_tries_left() == 3
    with pytest.raises(InvalidPinError) as wrong:
        session.verify_pin("2580")  # the JPKI PIN
    assert wrong.value.tries_left == 2
    assert card.pin_state("jpki").tries == 3
    session.verify_pin("1357")
    assert session.read_name().full == "鈴木\u3000一郎"


def test_name_needs_the_pin(card: SimulatedCard) -> None:
    with pytest.raises(SecurityStatusError, match=r"^reading at offset 0: status 69 82$"):
        CardInfoSession(card).read_name()
    assert_my_number_untouched(card)


def test_latin_name(make_card: Callable[..., SimulatedCard]) -> None:
    session = CardInfoSession(make_card("latin"))
    session.verify_pin("9021")
    assert session.read_name().full == "GARCIA\u3000MARIA"


def test_the_my_number_ef_cannot_be_selected(card: SimulatedCard) -> None:
    session = CardInfoSession(card)
    with pytest.raises(PermissionError, match=r"^EF 0001 is never selected by this kiosk$"):
        session._select_ef(0x0001)
    assert_my_number_untouched(card)


def _run_every_path(session: CardInfoSession) -> None:
    steps: list[Callable[[], object]] = [
        session.pin_tries_left,
        lambda: session.verify_pin("12x4"),
        lambda: session.verify_pin("9999"),
        lambda: session.verify_pin("1234"),
        session.read_name,
        session.select,
        session.read_name,
        lambda: session.verify_pin("1234", confirm_last_try=True),
        session.read_name,
    ]
    for step in steps:
        with contextlib.suppress(CardError, LastTryNotConfirmedError, InvalidPinFormatError):
            step()


FAULTS = [kind for kind in FaultKind if kind is not FaultKind.SILENCE]


@pytest.mark.parametrize("kind", FAULTS, ids=[k.value for k in FAULTS])
@pytest.mark.parametrize("nth", range(1, 12))
def test_no_path_selects_the_my_number(
    make_card: Callable[..., SimulatedCard], kind: FaultKind, nth: int
) -> None:
    """Whatever the card answers at whichever command, the My Number EF stays unselected."""
    card = make_card(faults=[Fault(kind, nth=nth, sw=0x6A82)])
    try:
        session = CardInfoSession(card)
    except CardError:
        assert_my_number_untouched(card)
        return
    _run_every_path(session)
    assert_my_number_untouched(card)


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\x20\x03\xdf\x21\x00",  # an empty offset table
        tlv.encode(0xFF20, tlv.encode(0xDF21, bytes(8))),  # offsets of zero
        tlv.encode(0xFF20, tlv.encode(0xDF21, bytes.fromhex("000E0010001000100010")[:8])),
        tlv.encode(0xFF20, tlv.encode(0xDF21, bytes.fromhex("000E0700000000000000")[:8])),
        tlv.encode(0xFF20, tlv.encode(0xDF21, bytes.fromhex("000E0013")) + bytes(4)
                   + tlv.encode(0xDF22, b"\xff\xfe")),
        tlv.encode(0x30, b"\x00" * 20),  # not the basic information at all
    ],
)
def test_malformed_basic_information_is_a_clear_error(card: SimulatedCard, content: bytes) -> None:
    card._apps[CARD_INFO_AID].files[0x0002] = BinaryEF(content + b"\xff" * 64, pin=0x0011)
    session = CardInfoSession(card)
    session.verify_pin("1234")
    with pytest.raises(CardError) as err:
        session.read_name()
    assert err.value.code == "card.malformed_response"
    assert_my_number_untouched(card)


def test_silent_card_times_out_without_touching_the_my_number(
    make_card: Callable[..., SimulatedCard],
) -> None:
    card = make_card(faults=[Fault(FaultKind.SILENCE, ins=0xB0)])
    connection = TimedConnection(card, timeout=0.3)
    session = CardInfoSession(connection)
    session.verify_pin("1234")
    with pytest.raises(CardError) as err:
        session.read_name()
    assert err.value.code == "card.timeout"
    card.remove()
    assert_my_number_untouched(card)


def test_sessions_sharing_a_card_reselect_their_application(card: SimulatedCard) -> None:
    from kiosk.nfc import JpkiSession

    jpki = JpkiSession(card)
    info = CardInfoSession(jpki.channel)  # now the card info AP is selected
    assert jpki.pin_tries_left() == 3  # JPKI is selected again first
    jpki.verify_pin("1234")
    info.verify_pin("1234")
    assert info.read_name().full == "佐藤\u3000花子"
    # Selecting another application dropped the JPKI verification, as on the real card.
    with pytest.raises(SecurityStatusError, match=r"^signing before the PIN was verified: status 69 82$"):
        jpki.sign_sha256(b"x")
    jpki.verify_pin("1234")
    jpki.sign_sha256(b"x")
    assert_my_number_untouched(card)
