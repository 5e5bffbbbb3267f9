"""The card info input support AP: only the holder's name, never the My Number."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from kiosk.nfc import tlv
from kiosk.nfc.errors import CardProtocolError, NoCardInfoError
from kiosk.nfc.session import ApplicationSession

CARD_INFO_AID = bytes.fromhex("D3921000310001010408")

EF_MY_NUMBER = 0x0001  # never selected
EF_BASIC_INFO = 0x0002
EF_CERTIFICATION = 0x0003
EF_PIN = 0x0011

PIN_LENGTH = 4

TAG_BASIC_INFO = 0xFF20
TAG_OFFSETS = 0xDF21
TAG_NAME = 0xDF22
#: Enough for the outer header (up to 5 bytes) and the 11-byte offset table; any bytes past the
#: table belong to the name's own TLV, which comes next.
OFFSETS_READ = 16
MAX_NAME_BYTES = 1024
FULL_WIDTH_SPACE = "\u3000"


@dataclass(frozen=True, slots=True)
class HolderName:
    """The name printed on the card face."""

    full: str

    @property
    def family(self) -> str:
        return self.full.split(FULL_WIDTH_SPACE, 1)[0]

    @property
    def given(self) -> str:
        parts = self.full.split(FULL_WIDTH_SPACE, 1)
        return parts[1] if len(parts) == 2 else ""


class CardInfoSession(ApplicationSession):
    """The card info input support AP, read for the holder's name alone.

    The My Number file is in ``FORBIDDEN_EFS``: no path through this class can select it.
    Address, birth date and sex share a file with the name; only the name's bytes are read.
    """

    AID = CARD_INFO_AID
    NAME = "card-info application"
    FORBIDDEN_EFS = frozenset({EF_MY_NUMBER})
    PIN_MAX_TRIES = 3
    ABSENT = NoCardInfoError

    def pin_tries_left(self, *, known: bool = False) -> int:
        """Tries left on this AP's PIN (its own counter); spends none. 0 means blocked.

        ``known``: what this session last learned, asking the card only if it learned nothing.
        """
        return self._tries_left(EF_PIN, known)

    def verify_pin(self, pin: str | bytes | bytearray, *, confirm_last_try: bool = False) -> None:
        """VERIFY this AP's 4-digit PIN, with the same rules as the JPKI PIN."""
        self._verify(EF_PIN, pin, PIN_LENGTH, confirm_last_try)

    def read_name(self) -> HolderName:
        """The holder's name (DF22 of EF 0002); needs ``verify_pin`` first."""
        return self._after_reset(self._read_name)

    def _read_name(self) -> HolderName:
        self._select_ef(EF_BASIC_INFO)
        head = self._read_chunk(0, OFFSETS_READ)
        try:
            tag, pos = tlv.read_tag(head)
            _, pos = tlv.read_length(head, pos)
            if tag != TAG_BASIC_INFO:
                raise tlv.TlvError(f"basic information starts with tag {tag:X}")
            table = tlv.parse_one(head, pos)
        except tlv.TlvError as exc:
            raise CardProtocolError(f"basic information header: {exc}") from exc
        if table.tag != TAG_OFFSETS or len(table.value) != 8:
            raise CardProtocolError("basic information has no offset table")
        offsets = [int.from_bytes(table.value[i : i + 2], "big") for i in range(0, 8, 2)]
        start, end = offsets[0], offsets[1]
        if not table.end <= start < end or end - start > MAX_NAME_BYTES:
            raise CardProtocolError(f"name offsets {start}..{end} are not plausible")
        element = self._read_range(start, end - start)
        try:
            name = tlv.parse_one(element)
        except tlv.TlvError as exc:
            raise CardProtocolError(f"name field: {exc}") from exc
        if name.tag != TAG_NAME or name.end != len(element):
            raise CardProtocolError("name field does not match the offset table")
        try:
            text = name.value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CardProtocolError("name is not UTF-8") from exc
        if not text.strip() or any(unicodedata.category(c).startswith("C") for c in text):
            raise CardProtocolError("name is empty or holds control characters")
        return HolderName(text)
