"""The BER-TLV helper."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.nfc import tlv


def test_short_and_long_form_lengths() -> None:
    assert tlv.parse_one(bytes.fromhex("DF2203414243")).value == b"ABC"
    long_value = b"x" * 200
    encoded = bytes.fromhex("DF2281C8") + long_value
    item = tlv.parse_one(encoded)
    assert (item.tag, item.value, item.end) == (0xDF22, long_value, len(encoded))
    two_byte = bytes.fromhex("308201F4") + b"\x00" * 500
    assert tlv.header_length(two_byte) == (4, 500)


def test_multibyte_tags_and_sequences() -> None:
    data = tlv.encode(0xDF21, b"\x00\x10") + tlv.encode(0x5F1F, b"") + tlv.encode(0x04, b"a")
    assert [t.tag for t in tlv.iter_tlv(data)] == [0xDF21, 0x5F1F, 0x04]
    assert tlv.find(data, 0x04) == b"a"
    with pytest.raises(tlv.TlvError, match=r"^tag DF22 not found$"):
        tlv.find(data, 0xDF22)


@pytest.mark.parametrize(("raw", "words"), [
    ("", "missing tag"),
    ("DF", "truncated multi-byte tag"),
    ("DF22", "missing length"),
    ("DF2205414243", r"value of tag DF22 runs past the data \(5 bytes announced\)"),
    ("DF2280", "indefinite length is not allowed"),
    ("DF2285FFFFFFFFFF", "length field of 5 bytes"),
    ("DF2282FF", "truncated length"),
    ("9F", "truncated multi-byte tag"),
    ("FFFFFFFF", "truncated multi-byte tag"),
    ("DF8181818101", "tag longer than 4 bytes"),
    ("DF81818101", "tag longer than 4 bytes"),
])
def test_malformed_input_raises(raw: str, words: str) -> None:
    with pytest.raises(tlv.TlvError, match=f"^{words}$"):
        tlv.parse_one(bytes.fromhex(raw))


@given(
    tag=st.sampled_from([0x04, 0x30, 0xDF22, 0xFF20, 0x5F1F, 0x7F8121]),
    value=st.binary(max_size=70000),
)
def test_encode_parse_roundtrip(tag: int, value: bytes) -> None:
    encoded = tlv.encode(tag, value)
    item = tlv.parse_one(encoded)
    assert (item.tag, item.value, item.end) == (tag, value, len(encoded))


def test_four_byte_tags_and_length_fields_are_the_longest_accepted() -> None:
    assert tlv.read_tag(bytes.fromhex("DF818101")) == (0xDF818101, 4)
    assert tlv.read_length(bytes.fromhex("8400000005")) == (5, 5)
    # A length field that ends exactly at the end of the data is whole.
    assert tlv.read_length(bytes.fromhex("81C8")) == (200, 2)
    assert tlv.read_length(bytes.fromhex("7F")) == (127, 1)


def test_positions_inside_a_buffer() -> None:
    buf = bytes.fromhex("0000DF2281C8")
    assert tlv.read_tag(buf, 2) == (0xDF22, 4)
    assert tlv.read_length(buf, 4) == (200, 6)
    assert tlv.header_length(buf, 2) == (4, 200)


@pytest.mark.parametrize(("length", "encoded"), [
    (0, "00"), (127, "7F"), (128, "8180"), (255, "81FF"), (256, "820100"), (70000, "83011170"),
])
def test_lengths_are_encoded_in_their_shortest_form(length: int, encoded: str) -> None:
    assert tlv.encode_length(length).hex().upper() == encoded
    assert tlv.encode(0xDF22, b"x" * length)[:2 + len(encoded) // 2].hex().upper() == "DF22" + encoded
