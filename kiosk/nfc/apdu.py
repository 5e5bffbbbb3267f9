"""Command and response APDUs (ISO/IEC 7816-4), short and extended forms."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from kiosk.nfc.errors import CardProtocolError

#: Largest Ne of a short APDU (encoded as Le = 00) and of an extended one (Le = 00 00).
SHORT_NE_MAX = 256
EXTENDED_NE_MAX = 65536

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_COMPUTE_DIGITAL_SIGNATURE = 0x2A

#: Instructions whose command data is a secret and never appears in a log.
SECRET_INSTRUCTIONS = frozenset({INS_VERIFY, INS_CHANGE_REFERENCE_DATA})


class SW(IntEnum):
    """Status words the card layer names."""

    OK = 0x9000
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_NOT_USABLE = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    INCORRECT_P1P2 = 0x6A86
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00
    #: ``63 Cx``: verification failed / counter query; ``x`` is the tries left.
    COUNTER_BASE = 0x63C0


def counter_from_sw(sw: int) -> int | None:
    """Tries left carried by a ``63 Cx`` status word, or None for any other word."""
    if sw & 0xFFF0 == SW.COUNTER_BASE:
        return sw & 0x0F
    return None


def is_status_word(sw: int) -> bool:
    """Whether ``sw`` is a status word at all: ISO/IEC 7816-3 allows SW1 ``61``-``6F`` and
    ``90``-``9F`` only. Anything else is not a card's answer but garbage."""
    return 0x61 <= sw >> 8 <= 0x6F or sw >> 12 == 0x9


def sw_text(sw: int) -> str:
    """Status word as ``'6A 82'`` for messages and logs."""
    return f"{sw >> 8:02X} {sw & 0xFF:02X}"


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """One command APDU. ``ne`` is the number of response bytes expected (None: no Le)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None
    extended: bool = False

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} out of range: {value}")
        if len(self.data) > 0xFFFF:
            raise ValueError("command data longer than 65535 bytes")
        if self.ne is not None and not 1 <= self.ne <= EXTENDED_NE_MAX:
            raise ValueError(f"ne out of range: {self.ne}")

    @property
    def is_extended(self) -> bool:
        """Whether this command needs (or was asked for) the extended encoding."""
        return (
            (self.extended and (bool(self.data) or self.ne is not None))
            or len(self.data) > 0xFF
            or (self.ne is not None and self.ne > SHORT_NE_MAX)
        )

    def to_bytes(self) -> bytes:
        """Encode as case 1-4, short or extended."""
        out = bytearray((self.cla, self.ins, self.p1, self.p2))
        if self.is_extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.ne is not None:
                le = (self.ne % EXTENDED_NE_MAX).to_bytes(2, "big")
                out += le if self.data else b"\x00" + le
        else:
            if self.data:
                out.append(len(self.data))
                out += self.data
            if self.ne is not None:
                out.append(self.ne % SHORT_NE_MAX)
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> CommandApdu:
        """Parse any of the seven encodings; raises ValueError on a malformed command."""
        if len(raw) < 4:
            raise ValueError("command APDU shorter than 4 bytes")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, ne=body[0] or SHORT_NE_MAX)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, data=bytes(body[1:]))
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, data=bytes(body[1:-1]), ne=body[-1] or SHORT_NE_MAX)
            raise ValueError("short APDU length does not match Lc")
        # Extended forms start with a 00 byte.
        if len(body) == 3:
            ne = int.from_bytes(body[1:3], "big") or EXTENDED_NE_MAX
            return cls(cla, ins, p1, p2, ne=ne, extended=True)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ValueError("extended Lc of zero")
        rest = body[3:]
        if len(rest) == lc:
            return cls(cla, ins, p1, p2, data=bytes(rest), extended=True)
        if len(rest) == lc + 2:
            ne = int.from_bytes(rest[lc:], "big") or EXTENDED_NE_MAX
            return cls(cla, ins, p1, p2, data=bytes(rest[:lc]), ne=ne, extended=True)
        raise ValueError("extended APDU length does not match Lc")

    def redacted_hex(self) -> str:
        """Hex for logs: the data of VERIFY and CHANGE REFERENCE DATA is never shown."""
        if self.ins in SECRET_INSTRUCTIONS and self.data:
            head = CommandApdu(self.cla, self.ins, self.p1, self.p2, extended=self.extended)
            return f"{head.to_bytes().hex(' ').upper()} [{len(self.data)} secret bytes]"
        return self.to_bytes().hex(" ").upper()


def split_response(raw: bytes | bytearray | list[int]) -> tuple[bytes, int]:
    """Split a response APDU into data and status word."""
    raw = bytes(raw)
    if len(raw) < 2:
        raise CardProtocolError(f"response of {len(raw)} bytes has no status word")
    return raw[:-2], int.from_bytes(raw[-2:], "big")


def select_df(aid: bytes) -> CommandApdu:
    """SELECT an application by DF name, no FCI returned."""
    return CommandApdu(CLA_ISO, INS_SELECT, 0x04, 0x0C, aid)


def select_ef(fid: int) -> CommandApdu:
    """SELECT an elementary file by its two-byte identifier, no FCI returned."""
    return CommandApdu(CLA_ISO, INS_SELECT, 0x02, 0x0C, fid.to_bytes(2, "big"))


def read_binary(offset: int, ne: int, *, extended: bool = False) -> CommandApdu:
    """READ BINARY of ``ne`` bytes at a 15-bit offset."""
    if not 0 <= offset <= 0x7FFF:
        raise ValueError(f"offset out of range: {offset}")
    return CommandApdu(
        CLA_ISO, INS_READ_BINARY, offset >> 8, offset & 0xFF, ne=ne, extended=extended
    )
