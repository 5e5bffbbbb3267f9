"""A small BER-TLV reader: multi-byte tags, short and long-form definite lengths."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: Longest length field accepted (1 + 4 bytes): anything larger is not from a card.
MAX_LENGTH_OCTETS = 4


class TlvError(ValueError):
    """The bytes are not well-formed BER-TLV."""


@dataclass(frozen=True, slots=True)
class Tlv:
    """One decoded element: ``tag`` as an int (``0xDF22``), its value, and where it ended."""

    tag: int
    value: bytes
    end: int


def read_tag(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """Decode a tag at ``pos``; return it and the position after it."""
    if pos >= len(buf):
        raise TlvError("missing tag")
    first = buf[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(buf):
                raise TlvError("truncated multi-byte tag")
            byte = buf[pos]
            tag = (tag << 8) | byte
            pos += 1
            if tag > 0xFFFFFFFF:
                raise TlvError("tag longer than 4 bytes")
            if not byte & 0x80:
                break
    return tag, pos


def read_length(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """Decode a definite length at ``pos``; return it and the position after it."""
    if pos >= len(buf):
        raise TlvError("missing length")
    first = buf[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0:
        raise TlvError("indefinite length is not allowed")
    if count > MAX_LENGTH_OCTETS:
        raise TlvError(f"length field of {count} bytes")
    if pos + count > len(buf):
        raise TlvError("truncated length")
    return int.from_bytes(buf[pos : pos + count], "big"), pos + count


def header_length(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """Length of the tag+length header at ``pos`` and of the value it announces."""
    _, after_tag = read_tag(buf, pos)
    length, after_len = read_length(buf, after_tag)
    return after_len - pos, length


def parse_one(buf: bytes, pos: int = 0) -> Tlv:
    """Decode the element at ``pos``; the whole value must be present."""
    tag, pos = read_tag(buf, pos)
    length, pos = read_length(buf, pos)
    end = pos + length
    if end > len(buf):
        raise TlvError(f"value of tag {tag:X} runs past the data ({length} bytes announced)")
    return Tlv(tag, bytes(buf[pos:end]), end)


def iter_tlv(buf: bytes) -> Iterator[Tlv]:
    """Decode consecutive elements filling ``buf`` exactly."""
    pos = 0
    while pos < len(buf):
        item = parse_one(buf, pos)
        yield item
        pos = item.end


def find(buf: bytes, tag: int) -> bytes:
    """Value of the first element with ``tag`` among consecutive elements."""
    for item in iter_tlv(buf):
        if item.tag == tag:
            return item.value
    raise TlvError(f"tag {tag:X} not found")


def encode_length(length: int) -> bytes:
    """Definite length in its shortest form."""
    if length < 0x80:
        return bytes([length])
    size = (length.bit_length() + 7) // 8
    return bytes([0x80 | size]) + length.to_bytes(size, "big")


def encode(tag: int, value: bytes) -> bytes:
    """Encode one element."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return tag_bytes + encode_length(len(value)) + value
