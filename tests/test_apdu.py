"""APDU encoding, parsing and redaction."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.nfc.apdu import (
    CommandApdu,
    counter_from_sw,
    is_status_word,
    read_binary,
    select_df,
    select_ef,
    split_response,
    sw_text,
)
from kiosk.nfc.errors import CardProtocolError


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x0a"), "00A4020C02000A"),
        (CommandApdu(0x00, 0x20, 0x00, 0x80), "00200080"),
        (read_binary(0, 256), "00B0000000"),
        (read_binary(0x0123, 4), "00B0012304"),
        (read_binary(256, 1300, extended=True), "00B00100000514"),
        (read_binary(0, 65536, extended=True), "00B00000000000"),
        (CommandApdu(0x80, 0x2A, 0x00, 0x80, b"\x01" * 51, ne=256), "802A008033" + "01" * 51 + "00"),
        (CommandApdu(0x80, 0x2A, 0x00, 0x80, b"\x01" * 3, ne=512), "802A0080000003010101" + "0200"),
        (select_df(bytes.fromhex("D392F000260100000001")), "00A4040C0AD392F000260100000001"),
        (select_ef(0x0018), "00A4020C020018"),
    ],
)
def test_encoding_is_exact(command: CommandApdu, expected: str) -> None:
    assert command.to_bytes().hex().upper() == expected
    assert CommandApdu.from_bytes(command.to_bytes()) == CommandApdu(
        command.cla, command.ins, command.p1, command.p2, command.data, command.ne,
        extended=command.is_extended,
    )


@given(
    data=st.binary(max_size=600),
    ne=st.one_of(st.none(), st.integers(1, 65536)),
    extended=st.booleans(),
)
def test_every_encoding_parses_back(data: bytes, ne: int | None, extended: bool) -> None:
    command = CommandApdu(0x00, 0xB0, 0x01, 0x02, data, ne, extended)
    parsed = CommandApdu.from_bytes(command.to_bytes())
    assert (parsed.data, parsed.ne, parsed.is_extended) == (data, ne, command.is_extended)


@pytest.mark.parametrize(("raw", "words"), [
    ("00B000", "command APDU shorter than 4 bytes"),
    ("00A4020C05000A", "short APDU length does not match Lc"),
    ("00A4020C0000", "extended Lc of zero"),
    ("00B00000000003AA", "extended APDU length does not match Lc"),
])
def test_malformed_commands_are_refused(raw: str, words: str) -> None:
    with pytest.raises(ValueError, match=f"^{words}$"):
        CommandApdu.from_bytes(bytes.fromhex(raw))


def test_out_of_range_fields_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^cla out of range: 256$"):
        CommandApdu(0x100, 0, 0, 0)
    with pytest.raises(ValueError, match=r"^offset out of range: 32768$"):
        read_binary(0x8000, 4)
    with pytest.raises(ValueError, match=r"^ne out of range: 65537$"):
        CommandApdu(0, 0xB0, 0, 0, ne=65537)


def test_verify_data_is_redacted() -> None:
    verify = CommandApdu(0x00, 0x20, 0x00, 0x80, b"4826")
    text = verify.redacted_hex()
    assert "34 38 32 36" not in text and "4826" not in text
    assert text.startswith("00 20 00 80") and "4 secret bytes" in text
    assert select_ef(0x0018).redacted_hex() == "00 A4 02 0C 02 00 18"


def test_responses_split_and_short_ones_are_errors() -> None:
    assert split_response(b"\x01\x02\x90\x00") == (b"\x01\x02", 0x9000)
    assert split_response([0x63, 0xC2]) == (b"", 0x63C2)
    for bad in (b"", b"\x90"):
        with pytest.raises(CardProtocolError, match=f"^response of {len(bad)} bytes has no status word$"):
            split_response(bad)


def test_counter_status_words() -> None:
    assert counter_from_sw(0x63C3) == 3
    assert counter_from_sw(0x63C0) == 0
    assert counter_from_sw(0x9000) is None
    assert counter_from_sw(0x6983) is None


@pytest.mark.parametrize(
    ("offset", "extended", "expected"),
    [(0, True, "00B00000000004"), (0x7FFF, False, "00B07FFF04")],  # extended when asked; the last offset
)
def test_read_binary_when_asked_and_at_the_last_offset(offset: int, extended: bool, expected: str) -> None:
    # Built in the test, not in its parameters, so that it runs with the code under test.
    assert read_binary(offset, 4, extended=extended).to_bytes().hex().upper() == expected


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (CommandApdu(0x00, 0xD6, 0x00, 0x00, b"\x5a" * 300), "00D6000000012C" + "5A" * 300),
        (CommandApdu(0x00, 0xD6, 0x00, 0x00, b"\x5a" * 300, ne=258), "00D6000000012C" + "5A" * 300 + "0102"),
    ],
)
def test_extended_forms_and_limits(command: CommandApdu, expected: str) -> None:
    assert command.to_bytes().hex().upper() == expected
    assert CommandApdu.from_bytes(command.to_bytes()) == CommandApdu(
        command.cla, command.ins, command.p1, command.p2, command.data, command.ne,
        extended=command.is_extended,
    )


def test_command_data_is_at_most_65535_bytes() -> None:
    assert len(CommandApdu(0x00, 0xD6, 0, 0, bytes(0xFFFF)).to_bytes()) == 4 + 3 + 0xFFFF
    with pytest.raises(ValueError, match=r"^command data longer than 65535 bytes$"):
        CommandApdu(0x00, 0xD6, 0, 0, bytes(0x10000))


def test_redacted_hex_is_upper_case_like_every_other_apdu_in_the_logs() -> None:
    change = CommandApdu(0x00, 0x24, 0x01, 0x8A, b"1234")
    assert change.redacted_hex() == "00 24 01 8A [4 secret bytes]"


@pytest.mark.parametrize(("sw", "text"), [(0x6A82, "6A 82"), (0x9000, "90 00"), (0x63C2, "63 C2")])
def test_status_words_in_words(sw: int, text: str) -> None:
    assert sw_text(sw) == text


def test_status_words_are_sw1_61_to_6f_and_90_to_9f() -> None:
    assert [is_status_word(sw) for sw in (0x6110, 0x6FFF, 0x9000, 0x9FFF)] == [True] * 4
    assert [is_status_word(sw) for sw in (0x6000, 0x60FF, 0x7000, 0x8FFF, 0xA000)] == [False] * 5
