"""A card that lies, stalls or vanishes: every fault ends in the one typed error it calls for.

A silent card ends in the channel's own deadline (0.5 s here); each test's pytest-timeout is only
a guard against a hang. How long each fault takes to become an error is measured by
``bench/card_bench.py`` (its "hostile card" table), not asserted here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from kiosk.nfc import CardInfoSession, JpkiSession, TimedConnection, tlv
from kiosk.nfc.errors import ApduError, CardCode, CardError, ExtendedApduUnsupportedError, PinBlockedError
from kiosk.nfc.sim import Fault, FaultKind, SimulatedCard

#: The one code each fault ends in, whichever command it hits. Garbage (random bytes that end in
#: no status word) is the card's fault: it is a malformed answer, never a wrong or blocked PIN.
EXPECTED_CODE = {
    FaultKind.REMOVE: CardCode.REMOVED,
    FaultKind.SILENCE: CardCode.TIMEOUT,
    FaultKind.TRUNCATE: CardCode.MALFORMED_RESPONSE,
    FaultKind.EXTEND: CardCode.MALFORMED_RESPONSE,
    FaultKind.STATUS: CardCode.UNEXPECTED_STATUS,  # 6F 00, "no precise diagnosis"
    FaultKind.GARBAGE: CardCode.MALFORMED_RESPONSE,
    FaultKind.SHORT: CardCode.MALFORMED_RESPONSE,
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


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("kind", "ins"), CASES)
def test_every_fault_is_a_typed_error(
    make_card: Callable[..., SimulatedCard], kind: FaultKind, ins: int
) -> None:
    card = make_card(faults=[Fault(kind, ins=ins, nth=2 if ins == 0xA4 else 1, sw=0x6F00)])
    connection = TimedConnection(card, timeout=0.5)
    try:
        with pytest.raises(CardError) as err:
            full_flow(JpkiSession(connection))
        assert err.value.code == EXPECTED_CODE[kind], repr(err.value)
    finally:
        card.remove()
        connection.close()


@pytest.mark.parametrize("sw", [0x0000, 0xE3C2, 0x6000, 0x7000, 0xFFFF], ids=lambda sw: f"{sw:04X}")
def test_an_answer_that_ends_in_no_status_word_is_malformed(card: SimulatedCard, sw: int) -> None:
    """Not a wrong PIN (E3 C2 is no 63 C2), not a refusal: the card answered nonsense."""
    card.faults.append(Fault(FaultKind.STATUS, ins=0x20, nth=2, sw=sw))
    session = JpkiSession(card)
    assert session.pin_tries_left() == 3
    with pytest.raises(CardError) as err:
        session.verify_pin("1234")
    assert err.value.code == CardCode.MALFORMED_RESPONSE, repr(err.value)
    words = f"the card's answer ends in {sw >> 8:02X} {sw & 0xFF:02X}, which is no status word"
    assert str(err.value) == words


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
    with pytest.raises(CardError, match=r"^file ended at 256, expected more$") as err:
        JpkiSession(card).auth_certificate()
    assert err.value.code == "card.malformed_response"


def test_a_file_that_ends_early_says_where(make_card: Callable[..., SimulatedCard]) -> None:
    """Read in short chunks: the fourth READ BINARY (at 512, after one refused extended read) is empty."""
    card = make_card(extended=False, faults=[Fault(FaultKind.STATUS, ins=0xB0, nth=4, sw=0x9000)])
    with pytest.raises(CardError, match=r"^file ended at 512, expected more$"):
        JpkiSession(card).auth_certificate()


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
    with pytest.raises(CardError, match=r"^signature of 128 bytes, expected 256$") as err:
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


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", list(FaultKind), ids=lambda kind: kind.value)
def test_card_info_faults_are_typed(make_card: Callable[..., SimulatedCard], kind: FaultKind) -> None:
    card = make_card(faults=[Fault(kind, ins=0xB0)])
    connection = TimedConnection(card, timeout=0.3)
    try:
        session = CardInfoSession(connection)
        session.verify_pin("1234")
        with pytest.raises(CardError) as err:
            session.read_name()
        assert err.value.code == EXPECTED_CODE[kind], repr(err.value)
    finally:
        card.remove()
        connection.close()


#: Each step of a JPKI session, the command that answers 6F 00 there (its INS and which one of
#: them), and the words of the error: the step, then the status word.
UNEXPECTED_STATUS = {
    "select-application": (0xA4, 1, lambda s: None, "selecting the JPKI application"),
    "select-file": (0xA4, 2, lambda s: s.token_info(), "selecting EF 0006"),
    "short-read": (0xB0, 1, lambda s: s.token_info(), "reading at offset 0"),
    "extended-read": (0xB0, 2, lambda s: s.auth_certificate(), "reading at offset 256"),
    "pin-counter": (0x20, 1, lambda s: s.pin_tries_left(), "reading the PIN counter"),
    "verify": (0x20, 2, lambda s: (s.pin_tries_left(), s.verify_pin("1234")), "verifying the PIN"),
    "sign": (0x2A, 1, lambda s: (s.verify_pin("1234"), s.sign_sha256(b"x")), "signing"),
}


@pytest.mark.parametrize("step", list(UNEXPECTED_STATUS))
def test_an_unexpected_status_names_the_step(make_card: Callable[..., SimulatedCard], step: str) -> None:
    ins, nth, run, words = UNEXPECTED_STATUS[step]
    card = make_card(faults=[Fault(FaultKind.STATUS, ins=ins, nth=nth, sw=0x6F00)])
    with pytest.raises(ApduError, match=f"^{words}: status 6F 00$") as err:
        run(JpkiSession(card))
    assert err.value.sw == 0x6F00


@pytest.mark.parametrize("sw", [0x6983, 0x6984], ids=["blocked", "not-usable"])
def test_a_pin_the_card_calls_blocked_is_never_tried_again(card: SimulatedCard, sw: int) -> None:
    """A PIN reported blocked (69 83) or unusable (69 84), whether asked or answering a VERIFY."""
    card.faults.append(Fault(FaultKind.STATUS, ins=0x20, nth=1, sw=sw))
    assert JpkiSession(card).pin_tries_left() == 0
    card.faults[:] = [Fault(FaultKind.STATUS, ins=0x20, nth=2, sw=sw)]
    session = JpkiSession(card)
    assert session.pin_tries_left() == 3
    with pytest.raises(PinBlockedError, match=r"^the PIN is blocked$"):
        session.verify_pin("1234", confirm_last_try=True)
    before = len(card.commands)
    with pytest.raises(PinBlockedError, match=r"^the PIN is blocked$"):
        session.verify_pin("1234", confirm_last_try=True)
    assert len(card.commands) == before


def test_a_verified_pin_counter_answer_is_a_full_counter(card: SimulatedCard) -> None:
    """Some cards answer the counter query 90 00 once the PIN is verified: all tries are left."""
    card.faults.append(Fault(FaultKind.STATUS, ins=0x20, nth=1, sw=0x9000))
    assert JpkiSession(card).pin_tries_left() == 3


def test_a_reader_without_extended_apdus_falls_back_to_short_reads(card: SimulatedCard) -> None:
    class ShortOnlyReader:
        """Refuses, as a reader does, any APDU longer than a short READ BINARY."""

        def transmit(self, apdu: bytes) -> tuple[bytes, int]:
            if len(apdu) > 5 and apdu[1] == 0xB0:
                raise ExtendedApduUnsupportedError("the reader refused an extended APDU")
            return card.transmit(apdu)

    session = JpkiSession(ShortOnlyReader())  # type: ignore[arg-type]
    expected = card.profile.auth_cert_der
    from cryptography.hazmat.primitives.serialization import Encoding

    assert session.auth_certificate().public_bytes(Encoding.DER) == expected
    assert session.channel.extended_supported is False
    assert all(len(c) == 5 for c in card.commands if c[1] == 0xB0)


@pytest.mark.parametrize(("content", "words"), [
    (b"\x30\x80" + b"\x00" * 64, "EF 000A: indefinite length is not allowed"),
    (b"\x31\x82\x01\x00" + b"\x00" * 256, "EF 000A starts with tag 31"),
    (b"\x30\x84\x7f\xff\xff\xff" + b"\xff" * 100, "EF 000A announces 2147483653 bytes (limit 8192)"),
    (b"\x30\x82\x1f\xfd" + b"\x00" * 8189, "EF 000A announces 8193 bytes (limit 8192)"),
])
def test_a_certificate_file_with_a_bad_header_is_refused(
    card: SimulatedCard, content: bytes, words: str
) -> None:
    from kiosk.nfc.sim.card import BinaryEF

    card._apps[bytes.fromhex("D392F000260100000001")].files[0x000A] = BinaryEF(content)
    with pytest.raises(CardError, match=f"^{re.escape(words)}$") as err:
        JpkiSession(card).auth_certificate()
    assert err.value.code == "card.malformed_response"


@pytest.mark.parametrize(("header", "size"), [(3, 256), (4, 8192)])
def test_a_file_element_is_read_whole_up_to_the_limit(card: SimulatedCard, header: int, size: int) -> None:
    """An element that fills the first read, and one exactly at the session's limit, are read whole."""
    from kiosk.nfc.sim.card import BinaryEF

    element = tlv.encode(0x30, b"\x5a" * (size - header))
    assert len(element) == size
    card._apps[bytes.fromhex("D392F000260100000001")].files[0x000A] = BinaryEF(element + b"\xff" * 8)
    session = JpkiSession(card)
    assert session._read_tlv_file(0x000A, 8192, 0x30) == element
