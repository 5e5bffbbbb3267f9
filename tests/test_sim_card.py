"""The simulated card against the real card's behaviour, command by command, in raw bytes."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.nfc.jpki import sha256_digest_info
from kiosk.nfc.sim import LatencyModel, SimulatedCard, TestHierarchy
from tests.helpers.tripwire import assert_my_number_untouched, trips

JPKI = "00A4040C0AD392F000260100000001"
CARDINFO = "00A4040C0AD3921000310001010408"
CARDFACE = "00A4040C0AD3921000310001010402"


def tx(card: SimulatedCard, hex_apdu: str) -> tuple[bytes, str]:
    data, sw = card.transmit(bytes.fromhex(hex_apdu))
    return data, f"{sw:04X}"


def test_applications_are_selected_by_aid_without_fci(card: SimulatedCard) -> None:
    for aid in (JPKI, CARDINFO, CARDFACE):
        assert tx(card, aid) == (b"", "9000")
    # Drivers of other cards probe their own AIDs: the card must not claim them.
    for foreign in ("00A404000AA000000308000010000100",  # PIV
                    "00A4040006D27600012401",  # OpenPGP
                    "00A4040007A0000000030000"):
        assert tx(card, foreign)[1] == "6A82"
    assert tx(card, "00CA010000")[1] == "6D00"  # GET DATA
    assert tx(card, "90A4040C0AD392F000260100000001")[1] == "6E00"


def test_ef_selection_rules(card: SimulatedCard) -> None:
    tx(card, JPKI)
    assert tx(card, "00A4020C02000A") == (b"", "9000")
    assert tx(card, "00A4000C02000A")[1] == "6A86"  # only P1=02 works for EFs
    assert tx(card, "00A4010C02000A")[1] == "6A86"
    assert tx(card, "00A4020C020099")[1] == "6A82"


def test_read_binary_near_and_past_the_end(card: SimulatedCard, hierarchy: TestHierarchy) -> None:
    der = hierarchy.holder("linked").auth_certificate.public_bytes(Encoding.DER)
    tx(card, JPKI)
    tx(card, "00A4020C02000A")
    head, sw = tx(card, "00B0000004")
    assert sw == "9000" and head[:2] == b"\x30\x82"
    assert int.from_bytes(head[2:4], "big") + 4 == len(der)
    # The file is 2048 bytes: the certificate, then FF padding.
    tail, sw = tx(card, "00B007F000")  # 256 asked at 2032: 16 bytes left
    assert sw == "9000" and len(tail) == 16 and tail == b"\xff" * 16
    assert tx(card, "00B0080001")[1] == "6B00"
    whole, sw = tx(card, "00B00000000800")
    assert sw == "9000" and whole[: len(der)] == der and set(whole[len(der):]) == {0xFF}


def test_extended_apdus_can_be_switched_off(make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card(extended=False)
    tx(card, JPKI)
    tx(card, "00A4020C02000A")
    assert tx(card, "00B00000000400")[1] == "6700"
    assert tx(card, "00B0000000")[1] == "9000"


def test_token_info(card: SimulatedCard) -> None:
    tx(card, JPKI)
    tx(card, "00A4020C020006")
    data, sw = tx(card, "00B0000020")
    assert sw == "9000" and data == b"JPKIAPICCTOKEN2".ljust(32, b" ")


def test_pin_counter_and_lockout_sequence(card: SimulatedCard) -> None:
    tx(card, JPKI)
    tx(card, "00A4020C020018")
    assert tx(card, "00200080")[1] == "63C3"
    assert tx(card, "002000800430303030")[1] == "63C2"
    assert tx(card, "002000800430303030")[1] == "63C1"
    assert tx(card, "00200080")[1] == "63C1"
    assert tx(card, "002000800430303030")[1] == "63C0"
    assert tx(card, "002000800431323334")[1] == "6984"  # even the right PIN, once blocked
    assert tx(card, "00200080")[1] == "63C0"


def test_both_pin_counters_answer_an_empty_verify(card: SimulatedCard) -> None:
    """What OpenSC's JPKI driver does on every bind."""
    tx(card, JPKI)
    tx(card, "00A4020C020018")
    assert tx(card, "00200080")[1] == "63C3"
    tx(card, "00A4020C02001B")
    assert tx(card, "00200080")[1] == "63C5"
    tx(card, "00A4020C020001")
    assert tx(card, "00B0000004")[1] == "6982"  # the signature certificate needs its password


def test_keys_and_pins_are_never_readable(card: SimulatedCard) -> None:
    tx(card, JPKI)
    for ef in ("0017", "0018", "001A", "001B"):
        tx(card, f"00A4020C02{ef}")
        assert tx(card, "00B0000004")[1] in ("6986", "6982")


def test_sign_pads_exactly_the_bytes_sent(card: SimulatedCard, hierarchy: TestHierarchy) -> None:
    key = hierarchy.holder("linked").auth_certificate.public_key()
    digest_info = sha256_digest_info(b"nonce")
    tx(card, JPKI)
    tx(card, "00A4020C020017")
    assert tx(card, "802A008033" + digest_info.hex() + "00")[1] == "6982"
    tx(card, "00A4020C020018")
    assert tx(card, "002000800431323334")[1] == "9000"
    tx(card, "00A4020C020017")
    signature, sw = tx(card, "802A008033" + digest_info.hex() + "00")
    assert sw == "9000" and len(signature) == 256
    key.verify(signature, b"nonce", padding.PKCS1v15(), hashes.SHA256())
    # A bare hash, not a DigestInfo, is padded as sent: it verifies only as raw PKCS#1 data.
    raw, _ = tx(card, "802A008020" + bytes(32).hex() + "00")
    recovered = pow(int.from_bytes(raw, "big"), key.public_numbers().e, key.public_numbers().n)
    block = recovered.to_bytes(256, "big")
    assert block.startswith(b"\x00\x01\xff") and block.endswith(b"\x00" + bytes(32))
    assert tx(card, "802A0080F6" + "00" * 246 + "00")[1] == "6700"  # longer than k - 11


def test_selecting_the_ap_again_drops_the_verified_state(card: SimulatedCard) -> None:
    tx(card, JPKI)
    tx(card, "00A4020C020018")
    tx(card, "002000800431323334")
    tx(card, JPKI)
    tx(card, "00A4020C020017")
    assert tx(card, "802A008033" + sha256_digest_info(b"x").hex() + "00")[1] == "6982"


@pytest.mark.my_number_asked
def test_card_info_files(card: SimulatedCard) -> None:
    tx(card, CARDINFO)
    tx(card, "00A4020C020002")
    assert tx(card, "00B0000010")[1] == "6982"
    tx(card, "00A4020C020011")
    assert tx(card, "00200080")[1] == "63C3"
    assert tx(card, "002000800431323334")[1] == "9000"
    tx(card, "00A4020C020002")
    data, sw = tx(card, "00B0000010")
    assert sw == "9000" and data[:2] == b"\xff\x20"
    tx(card, "00A4020C020001")
    data, sw = tx(card, "00B000000F")
    assert sw == "9000" and data[:3] == b"\xff\x10\x0c" and data[3:].isdigit()
    assert card.my_number_selected  # the tripwire the privacy tests rely on


@pytest.mark.parametrize(("apdu", "sw"), [
    ("00A4020C020001", "9000"),  # the one way the card answers
    ("00A40200020001", "6A86"),  # another P2: refused, and still an attempt
    ("00A4000C020001", "6A86"),  # another P1
    ("00A4080C043F000001", "6A86"),  # by path
    ("00B0810000", "6A81"),  # READ BINARY by short EF identifier 1
])
@pytest.mark.my_number_asked
def test_the_my_number_tripwire_catches_every_attempt(card: SimulatedCard, apdu: str, sw: str) -> None:
    tx(card, CARDINFO)
    assert_my_number_untouched(card)
    assert tx(card, apdu)[1] == sw
    assert card.my_number_selected
    # Also in the trip file, which is how a test sees a card served by another process.
    assert trips() == [f"process {os.getpid()}: {bytes.fromhex(apdu).hex(' ').upper()}"]
    with pytest.raises(AssertionError, match="the My Number EF was asked for"):
        assert_my_number_untouched()


def test_the_tripwire_stays_clear_for_other_files_and_other_applications(card: SimulatedCard) -> None:
    tx(card, CARDINFO)
    tx(card, "00A4020C020002")
    tx(card, "00B0820000")  # short EF identifier 2
    tx(card, JPKI)
    tx(card, "00A4020C020001")  # EF 0001 of the JPKI AP is another file
    assert_my_number_untouched(card)


def test_change_pin(card: SimulatedCard) -> None:
    tx(card, JPKI)
    tx(card, "00A4020C020018")
    assert tx(card, "002401800439383736")[1] == "6982"
    tx(card, "002000800431323334")
    assert tx(card, "00240180043938373A")[1] == "6A80"
    assert tx(card, "002401800439383736")[1] == "9000"
    assert tx(card, "002000800439383736")[1] == "9000"


def test_reset_clears_security_state(card: SimulatedCard) -> None:
    tx(card, JPKI)
    tx(card, "00A4020C020018")
    tx(card, "002000800431323334")
    card.reset()
    assert tx(card, "00A4020C020017")[1] == "6A82"  # no application selected after reset


def test_malformed_commands(card: SimulatedCard) -> None:
    assert tx(card, "00B000")[1] == "6700"
    assert tx(card, "00A4040C0AD392")[1] == "6700"


def test_latency_model_adds_time(make_card: Callable[..., SimulatedCard]) -> None:
    import time

    model = LatencyModel(per_apdu=0.01, per_byte=0.0, signature=0.05)
    card = make_card(latency=model)
    start = time.perf_counter()
    tx(card, JPKI)
    tx(card, "00A4020C020018")
    assert time.perf_counter() - start >= 0.02
    assert model.delay(10, 10, signs=True) == pytest.approx(0.06)
    assert LatencyModel.parse("4,0.04,250") == LatencyModel(0.004, 0.00004, 0.25)
    words = "latency is three non-negative numbers: per APDU, per byte, signature (ms)"
    with pytest.raises(ValueError, match=f"^{re.escape(words)}$"):
        LatencyModel.parse("1,2")
