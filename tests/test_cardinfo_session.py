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
    card.commands.clear()
    assert session.pin_tries_left(known=True) == 2  # learned from the VERIFY: nothing asked
    assert card.commands == []
    assert session.pin_tries_left() == 2  # asked of the card
    assert [c.hex().upper() for c in card.commands] == ["00200080"]
    session.verify_pin("1357")
    assert session.read_name().full == "鈴木\u3000一郎"


def test_a_counter_not_yet_learned_is_asked_of_the_card(card: SimulatedCard) -> None:
    session = CardInfoSession(card)
    card.commands.clear()
    assert session.pin_tries_left(known=True) == 3
    assert [c.hex().upper() for c in card.commands] == ["00A4020C020011", "00200080"]


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


def basic_info(element: bytes, start: int = 14, length: int | None = None) -> bytes:
    """EF 0002 whose offset table puts the name at ``start``, ``length`` long.

    The table ends at 14, or at 16 when the whole is 256 bytes or more (a longer outer header)."""
    length = len(element) if length is None else length
    offsets = start.to_bytes(2, "big") + (start + length).to_bytes(2, "big") + bytes(4)
    table = tlv.encode(0xDF21, offsets)
    return tlv.encode(0xFF20, table + element + tlv.encode(0xDF23, b"x"))


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff\x20\x03\xdf\x21\x00", "basic information has no offset table"),
        (tlv.encode(0xFF20, tlv.encode(0xDF21, bytes.fromhex("000E0013"))),
         "basic information has no offset table"),
        (tlv.encode(0xFF20, tlv.encode(0xDF20, bytes.fromhex("000E001000100010"))),
         "basic information has no offset table"),
        (tlv.encode(0xFF20, tlv.encode(0xDF21, bytes(8))), "name offsets 0..0 are not plausible"),
        (basic_info(tlv.encode(0xDF22, b"abc"), 14, 0), "name offsets 14..14 are not plausible"),
        (tlv.encode(0xFF20, tlv.encode(0xDF21, bytes.fromhex("000E070000000000"))),
         "name offsets 14..1792 are not plausible"),
        (basic_info(b"\xff\xff"), "name field: truncated multi-byte tag"),
        (basic_info(tlv.encode(0xDF23, "鈴木".encode())), "name field does not match the offset table"),
        (basic_info(tlv.encode(0xDF22, "鈴木".encode()), length=10),
         "name field does not match the offset table"),
        (basic_info(tlv.encode(0xDF22, b"\xff\xfe")), "name is not UTF-8"),
        (basic_info(tlv.encode(0xDF22, "\u3000 ".encode())), "name is empty or holds control characters"),
        (basic_info(tlv.encode(0xDF22, "鈴木\x07".encode())), "name is empty or holds control characters"),
        (basic_info(tlv.encode(0xDF22, "鈴木\u200b".encode())), "name is empty or holds control characters"),
        (tlv.encode(0x30, b"\x00" * 20), "basic information header: basic information starts with tag 30"),
    ],
)
def test_malformed_basic_information_is_a_clear_error(
    card: SimulatedCard, content: bytes, words: str
) -> None:
    card._apps[CARD_INFO_AID].files[0x0002] = BinaryEF(content + b"\xff" * 64, pin=0x0011)
    session = CardInfoSession(card)
    session.verify_pin("1234")
    with pytest.raises(CardError, match=f"^{words}$") as err:
        session.read_name()
    assert err.value.code == "card.malformed_response"
    assert_my_number_untouched(card)


@pytest.mark.parametrize("size", [1024, 1020])
def test_a_name_field_up_to_1024_bytes_is_read(card: SimulatedCard, size: int) -> None:
    text = "鈴" * ((size - 5) // 3) + "a" * ((size - 5) % 3)
    element = tlv.encode(0xDF22, text.encode())
    assert len(element) == size
    card._apps[CARD_INFO_AID].files[0x0002] = BinaryEF(basic_info(element, 16), pin=0x0011)
    session = CardInfoSession(card)
    session.verify_pin("1234")
    assert session.read_name().full == text


def test_a_name_field_over_1024_bytes_is_refused(card: SimulatedCard) -> None:
    element = tlv.encode(0xDF22, "鈴".encode() * 340)
    assert len(element) == 1025
    card._apps[CARD_INFO_AID].files[0x0002] = BinaryEF(basic_info(element, 16), pin=0x0011)
    session = CardInfoSession(card)
    session.verify_pin("1234")
    with pytest.raises(CardError, match=r"^name offsets 16\.\.1041 are not plausible$"):
        session.read_name()


def test_the_last_try_needs_a_confirmation(make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card()
    card.pin_state("cardinfo").tries = 1
    session = CardInfoSession(card)
    with pytest.raises(LastTryNotConfirmedError):
        session.verify_pin("1234")
    assert card.pin_state("cardinfo").tries == 1
    session.verify_pin("1234", confirm_last_try=True)
    assert card.pin_state("cardinfo").tries == 3


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
