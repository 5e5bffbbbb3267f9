"""Ways the simulated card can misbehave on purpose, and how slow it is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kiosk.nfc.apdu import CommandApdu


class FaultKind(Enum):
    """What the card does instead of answering properly."""

    REMOVE = "remove"  # leaves the reader before answering
    TRUNCATE = "truncate"  # answers with fewer data bytes than it should
    EXTEND = "extend"  # answers with more data bytes than asked for
    STATUS = "status"  # answers an unexpected status word
    GARBAGE = "garbage"  # answers random bytes
    SHORT = "short"  # answers a single byte: no status word at all
    SILENCE = "silence"  # never answers


@dataclass
class Fault:
    """Fire ``kind`` on the ``nth`` command that matches ``ins`` (and ``min_offset`` for reads).

    ``repeat`` keeps firing on every later match too.
    """

    kind: FaultKind
    ins: int | None = None
    min_offset: int = 0
    nth: int = 1
    sw: int = 0x6F00
    repeat: bool = False
    seen: int = 0
    fired: int = 0

    def matches(self, command: CommandApdu) -> bool:
        if self.ins is not None and command.ins != self.ins:
            return False
        if self.min_offset and ((command.p1 & 0x7F) << 8 | command.p2) < self.min_offset:
            return False
        self.seen += 1
        if self.seen == self.nth or (self.repeat and self.seen > self.nth):
            self.fired += 1
            return True
        return False


@dataclass(frozen=True)
class LatencyModel:
    """Time the card takes: per APDU, per byte either way, and for one RSA signature."""

    per_apdu: float = 0.0
    per_byte: float = 0.0
    signature: float = 0.0

    def delay(self, command_bytes: int, response_bytes: int, signs: bool) -> float:
        return (
            self.per_apdu
            + self.per_byte * (command_bytes + response_bytes)
            + (self.signature if signs else 0.0)
        )

    @classmethod
    def parse(cls, text: str) -> LatencyModel:
        """``"per_apdu_ms,per_byte_ms,signature_ms"``, e.g. ``"3,0.04,250"``."""
        parts = [float(p) for p in text.split(",")]
        if len(parts) != 3 or any(p < 0 for p in parts):
            raise ValueError("latency is three non-negative numbers: per APDU, per byte, signature (ms)")
        return cls(parts[0] / 1000, parts[1] / 1000, parts[2] / 1000)


#: A contactless My Number Card on a typical NFC reader (a model, not a measurement).
TYPICAL_NFC = LatencyModel(per_apdu=0.004, per_byte=0.00004, signature=0.25)
