"""A simulated My Number Card that answers APDUs as the real card does, byte for byte.

The same object serves in process (it is a ``CardConnection``) and behind pcscd through the
vpcd bridge. It holds every file of the card, enforces PIN counters and access rules, signs with
real RSA keys, and can misbehave on purpose (``faults``) or be slow (``latency``).

Its My Number tripwire catches any attempt at the card-info AP's EF 0001, whatever the card
answers: ``my_number_selected`` for a test holding the card, and, for the tests only, a line
appended to the file named by ``KIOSK_SIM_TRIPWIRE_FILE`` when that is set, so that a test can
see a trip in a card served by another process (``kiosk sim``, ``kiosk demo``, a benchmark).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kiosk.nfc import tlv
from kiosk.nfc.apdu import (
    EXTENDED_NE_MAX,
    INS_CHANGE_REFERENCE_DATA,
    INS_COMPUTE_DIGITAL_SIGNATURE,
    INS_READ_BINARY,
    INS_SELECT,
    INS_VERIFY,
    SW,
    CommandApdu,
    is_status_word,
    split_response,
)
from kiosk.nfc.cardinfo import CARD_INFO_AID
from kiosk.nfc.errors import CardAbsentError, CardRemovedError
from kiosk.nfc.jpki import JPKI_AID
from kiosk.nfc.sim.faults import Fault, FaultKind, LatencyModel
from kiosk.nfc.sim.hierarchy import Holder, TestHierarchy

logger = logging.getLogger(__name__)

#: Test only: the file a tripped card appends a line to (the process and the command), if set.
TRIPWIRE_ENV = "KIOSK_SIM_TRIPWIRE_FILE"

CARD_FACE_AID = bytes.fromhex("D3921000310001010402")
#: The contact interface ATR OpenSC knows for the card.
CONTACT_ATR = bytes.fromhex("3BE000FF8131FE4514")
#: What a PC/SC reader synthesises for a contactless ISO 14443-4 Type B card (PC/SC part 3).
CONTACTLESS_ATR = bytes.fromhex("3B888001000000007781810071")

AUTH_PIN_PATTERN = re.compile(rb"[0-9]{4}")
SIGN_PASSWORD_PATTERN = re.compile(rb"[A-Z0-9]{6,16}")
TOKEN_LABEL = b"JPKIAPICCTOKEN2"
#: The token label of a Basic Resident Registry Card, which has the JPKI AP and no card-info AP.
RESIDENT_REGISTRY_TOKEN_LABEL = b"JPKIAPICCTOKEN"
#: The first of the two bytes a garbage answer ends in: never one a status word starts with.
GARBAGE_SW1 = [sw1 for sw1 in range(256) if not is_status_word(sw1 << 8)]


@dataclass
class PinEF:
    """A PIN or password with its retry counter."""

    value: bytes
    max_tries: int
    tries: int
    pattern: re.Pattern[bytes]

    @property
    def blocked(self) -> bool:
        return self.tries == 0


@dataclass
class BinaryEF:
    """A transparent file; ``pin`` names the PIN EF that must be verified to read it."""

    content: bytes
    pin: int | None = None


@dataclass
class KeyEF:
    """A private key usable for SIGN once ``pin`` is verified; never readable."""

    key: rsa.RSAPrivateKey
    pin: int


EF = PinEF | BinaryEF | KeyEF


@dataclass
class Application:
    name: str
    files: dict[int, EF] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """What the card does with a command: answer bytes, stay silent, or leave the reader."""

    action: Literal["answer", "silence", "remove"]
    data: bytes = b""


def _pad_file(content: bytes, size: int) -> bytes:
    """File content followed by FF up to ``size`` (files are bigger than their TLV)."""
    return content + b"\xff" * max(0, size - len(content))


def _basic_info(name: str, address: str, birth_date: str, sex: str) -> bytes:
    """EF 0002 of the card info AP: FF20 { DF21 offsets, DF22 name, DF23..DF25 }."""
    items = [
        tlv.encode(0xDF22, name.encode("utf-8")),
        tlv.encode(0xDF23, address.encode("utf-8")),
        tlv.encode(0xDF24, birth_date.encode("ascii")),
        tlv.encode(0xDF25, sex.encode("ascii")),
    ]
    inner_len = 11 + sum(len(i) for i in items)
    outer_header = len(tlv.encode(0xFF20, b"\x00" * inner_len)) - inner_len
    offsets = []
    pos = outer_header + 11
    for item in items:
        offsets.append(pos)
        pos += len(item)
    table = tlv.encode(0xDF21, b"".join(o.to_bytes(2, "big") for o in offsets))
    return tlv.encode(0xFF20, table + b"".join(items))


@dataclass
class CardProfile:
    """Everything printed and stored on one card."""

    auth_cert_der: bytes
    auth_key: rsa.RSAPrivateKey
    auth_ca_der: bytes
    sign_cert_der: bytes
    sign_ca_der: bytes
    sign_key: rsa.RSAPrivateKey
    pin: str
    cardinfo_pin: str
    pin_tries: int
    name: str
    address: str
    birth_date: str
    sex: str
    my_number: str
    sign_password: str = "ABC123"
    certification_key: rsa.RSAPrivateKey | None = None

    @classmethod
    def from_holder(
        cls, hierarchy: TestHierarchy, holder: Holder | str, *, pin: str | None = None,
        cardinfo_pin: str | None = None,
    ) -> CardProfile:
        if isinstance(holder, str):
            holder = hierarchy.holder(holder)
        spec = holder.spec
        der = serialization.Encoding.DER
        sign_key = hierarchy.sign_ca_key()
        return cls(
            auth_cert_der=holder.auth_certificate.public_bytes(der),
            auth_key=holder.auth_key,
            auth_ca_der=x509.load_pem_x509_certificate(holder.issuer_pem).public_bytes(der),
            sign_cert_der=x509.load_pem_x509_certificate(holder.sign_cert_pem).public_bytes(der),
            sign_ca_der=x509.load_pem_x509_certificate(hierarchy.sign_ca_pem()).public_bytes(der),
            sign_key=sign_key,
            pin=pin or spec.pin,
            cardinfo_pin=cardinfo_pin or spec.cardinfo_pin or pin or spec.pin,
            pin_tries=spec.pin_tries,
            name=spec.name,
            address=spec.address,
            birth_date=spec.birth_date,
            sex=spec.sex,
            my_number=holder.my_number,
            certification_key=sign_key,
        )


class SimulatedCard:
    """The card. ``transmit`` makes it a ``CardConnection``; ``reply`` serves the vpcd bridge."""

    def __init__(
        self,
        profile: CardProfile,
        *,
        extended: bool = True,
        latency: LatencyModel | None = None,
        faults: list[Fault] | None = None,
        contact: bool = False,
        apdu_log: Callable[[str], None] | None = None,
        card_info: bool = True,
        resident_registry: bool = False,
    ) -> None:
        """``card_info=False``: a card that answers only the JPKI AP; ``resident_registry``: a Basic
        Resident Registry Card (its own token label, and the JPKI AP alone)."""
        self.profile = profile
        self.token_label = RESIDENT_REGISTRY_TOKEN_LABEL if resident_registry else TOKEN_LABEL
        self.has_card_info = card_info and not resident_registry
        self.extended = extended
        self.latency = latency or LatencyModel()
        self.faults: list[Fault] = list(faults or [])
        self.atr = CONTACT_ATR if contact else CONTACTLESS_ATR
        self.apdu_log = apdu_log
        #: Every (application, EF) selected, for tests; and the My Number tripwire.
        self.selections: list[tuple[str, int]] = []
        self.my_number_selected = False
        self.commands: list[bytes] = []
        self.present = True
        self._lock = threading.RLock()
        self._unblock = threading.Event()
        self._apps = self._build(profile)
        self._current_app: Application | None = None
        self._current_ef: int | None = None
        self._verified: set[int] = set()

    # -- the card's contents -------------------------------------------------------------

    def _build(self, p: CardProfile) -> dict[bytes, Application]:
        jpki = Application("jpki", {
            0x0001: BinaryEF(_pad_file(p.sign_cert_der, 2048), pin=0x001B),
            0x0002: BinaryEF(_pad_file(p.sign_ca_der, 2048)),
            0x0006: BinaryEF(_pad_file(self.token_label.ljust(32, b" "), 64)),
            0x000A: BinaryEF(_pad_file(p.auth_cert_der, 2048)),
            0x000B: BinaryEF(_pad_file(p.auth_ca_der, 2048)),
            0x0017: KeyEF(p.auth_key, pin=0x0018),
            0x0018: PinEF(p.pin.encode(), 3, p.pin_tries, AUTH_PIN_PATTERN),
            0x001A: KeyEF(p.sign_key, pin=0x001B),
            0x001B: PinEF(p.sign_password.encode(), 5, 5, SIGN_PASSWORD_PATTERN),
        })
        my_number = b"\xff\x10\x0c" + p.my_number.encode("ascii")
        basic = _basic_info(p.name, p.address, p.birth_date, p.sex)
        cardinfo = Application("cardinfo", {
            0x0001: BinaryEF(_pad_file(my_number, 32), pin=0x0011),
            0x0002: BinaryEF(_pad_file(basic, 512), pin=0x0011),
            0x0003: BinaryEF(_pad_file(self._certification(my_number, basic), 512), pin=0x0011),
            0x0011: PinEF(p.cardinfo_pin.encode(), 3, 3, AUTH_PIN_PATTERN),
        })
        if not self.has_card_info:
            return {JPKI_AID: jpki}
        face = Application("cardface", {})
        return {JPKI_AID: jpki, CARD_INFO_AID: cardinfo, CARD_FACE_AID: face}

    def _certification(self, my_number: bytes, basic: bytes) -> bytes:
        """EF 0003: hashes of EF 0001 and EF 0002 and a signature over them."""
        hashes_tlv = tlv.encode(0xDF31, hashlib.sha256(my_number).digest()) + tlv.encode(
            0xDF32, hashlib.sha256(basic).digest()
        )
        key = self.profile.certification_key
        signature = (
            key.sign(hashes_tlv, padding.PKCS1v15(), hashes.SHA256()) if key else b"\x00" * 256
        )
        return tlv.encode(0xFF30, hashes_tlv + tlv.encode(0xDF33, signature))

    def pin_state(self, app: Literal["jpki", "cardinfo"] = "jpki") -> PinEF:
        aid, fid = (JPKI_AID, 0x0018) if app == "jpki" else (CARD_INFO_AID, 0x0011)
        ef = self._apps[aid].files[fid]
        assert isinstance(ef, PinEF)
        return ef

    # -- presence and power ----------------------------------------------------------------

    def reset(self) -> None:
        """Warm reset or power cycle: selection and security state are gone."""
        with self._lock:
            self._current_app = None
            self._current_ef = None
            self._verified.clear()

    def remove(self) -> None:
        """Take the card off the reader (wakes a silent card, too)."""
        self.present = False
        self._unblock.set()
        self.reset()

    def insert(self) -> None:
        self.present = True
        self._unblock.clear()
        self.reset()

    # -- CardConnection ------------------------------------------------------------------

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """In-process transport: the card's answer, or the error a reader would report."""
        if not self.present:
            raise CardAbsentError("no card on the reader")
        reply = self.reply(apdu)
        if reply.action == "silence":
            self._unblock.wait()
            raise CardRemovedError("the card left the reader")
        if reply.action == "remove":
            self.remove()
            raise CardRemovedError("the card left the reader")
        return split_response(reply.data)

    # -- the card's logic ------------------------------------------------------------------

    def reply(self, raw: bytes) -> Reply:
        """Handle one command APDU, with faults and latency applied."""
        with self._lock:
            self.commands.append(bytes(raw))
            try:
                command: CommandApdu | None = CommandApdu.from_bytes(raw)
            except ValueError:
                command = None
            fault = next((f for f in self.faults if command and f.matches(command)), None)
            if fault and fault.kind in (FaultKind.REMOVE, FaultKind.SILENCE):
                self._log(raw, command, None)
                return Reply("remove" if fault.kind is FaultKind.REMOVE else "silence")
            data, status = self._process(raw, command)
            sw: int | None = status
            if fault:
                data, sw = self._corrupt(fault, command, data, status)
            response = data + (sw.to_bytes(2, "big") if sw is not None else b"")
            self._log(raw, command, response)
        signs = command is not None and command.ins == INS_COMPUTE_DIGITAL_SIGNATURE
        delay = self.latency.delay(len(raw), len(response), signs)
        if delay:
            time.sleep(delay)  # models the card's own processing time
        return Reply("answer", response)

    def _corrupt(
        self, fault: Fault, command: CommandApdu | None, data: bytes, sw: int
    ) -> tuple[bytes, int | None]:
        if fault.kind is FaultKind.TRUNCATE:
            return data[: (len(data) + 1) // 2], sw
        if fault.kind is FaultKind.EXTEND:
            extra = (command.ne or 0) + 1 if command else 1
            return data + b"\x00" * extra, sw
        if fault.kind is FaultKind.STATUS:
            return b"", fault.sw
        if fault.kind is FaultKind.GARBAGE:
            # Random bytes: their last two are no status word (SW1 outside 61-6F and 90-9F).
            return os.urandom(37), secrets.choice(GARBAGE_SW1) << 8 | secrets.randbelow(256)
        if fault.kind is FaultKind.SHORT:
            return b"\x6f", None
        raise AssertionError(fault.kind)

    def _log(self, raw: bytes, command: CommandApdu | None, response: bytes | None) -> None:
        if self.apdu_log is None:
            return
        shown = command.redacted_hex() if command else raw.hex(" ").upper()
        self.apdu_log(f"> {shown}")
        self.apdu_log("< (no answer)" if response is None else f"< {response.hex(' ').upper()}")

    def _process(self, raw: bytes, command: CommandApdu | None) -> tuple[bytes, int]:
        if command is None:
            return b"", SW.WRONG_LENGTH
        if command.cla not in (0x00, 0x80):
            return b"", SW.CLA_NOT_SUPPORTED
        if command.is_extended and not self.extended:
            return b"", SW.WRONG_LENGTH
        handlers = {
            (0x00, INS_SELECT): self._select,
            (0x00, INS_READ_BINARY): self._read_binary,
            (0x00, INS_VERIFY): self._verify,
            (0x00, INS_CHANGE_REFERENCE_DATA): self._change_pin,
            (0x80, INS_COMPUTE_DIGITAL_SIGNATURE): self._sign,
        }
        handler = handlers.get((command.cla, command.ins))
        if handler is None:
            return b"", SW.INS_NOT_SUPPORTED
        return handler(command)

    def _select(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p1 == 0x04:
            if c.p2 not in (0x0C, 0x00):
                return b"", SW.INCORRECT_P1P2
            app = self._apps.get(c.data)
            if app is None:
                return b"", SW.FILE_NOT_FOUND
            self._current_app, self._current_ef = app, None
            self._verified.clear()  # a fresh SELECT of the AP drops the verified state
            return b"", SW.OK
        self._tripwire(c, c.data[-2:] == b"\x00\x01")  # EF 0001 by any P1/P2 or path, even refused
        if c.p1 == 0x02:
            if c.p2 != 0x0C or len(c.data) != 2:
                return b"", SW.INCORRECT_P1P2
            if self._current_app is None:
                return b"", SW.FILE_NOT_FOUND
            fid = int.from_bytes(c.data, "big")
            if fid not in self._current_app.files:
                return b"", SW.FILE_NOT_FOUND
            self._current_ef = fid
            self.selections.append((self._current_app.name, fid))
            return b"", SW.OK
        return b"", SW.INCORRECT_P1P2

    def _tripwire(self, command: CommandApdu, names_ef_0001: bool) -> None:
        """Flag any attempt at the card-info AP's EF 0001 (the My Number), whatever the card answers."""
        if names_ef_0001 and self._current_app is not None and self._current_app.name == "cardinfo":
            self.my_number_selected = True
            logger.warning("the My Number EF was asked for")
            trips = os.environ.get(TRIPWIRE_ENV)
            if trips:  # test only: a trip seen from outside this process
                with open(trips, "a", encoding="ascii") as out:
                    out.write(f"process {os.getpid()}: {command.redacted_hex()}\n")

    def _current(self) -> EF | None:
        if self._current_app is None or self._current_ef is None:
            return None
        return self._current_app.files[self._current_ef]

    def _read_binary(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.data:
            return b"", SW.WRONG_LENGTH
        if c.p1 & 0x80:
            self._tripwire(c, c.p1 & 0x1F == 0x01)  # the My Number EF by its short identifier
            return b"", SW.FUNCTION_NOT_SUPPORTED  # short EF identifiers are not offered
        ef = self._current()
        if not isinstance(ef, BinaryEF):
            return b"", SW.COMMAND_NOT_ALLOWED
        if ef.pin is not None and ef.pin not in self._verified:
            return b"", SW.SECURITY_STATUS_NOT_SATISFIED
        offset = (c.p1 << 8) | c.p2
        if offset >= len(ef.content):
            return b"", SW.WRONG_P1P2
        ne = c.ne if c.ne is not None else (EXTENDED_NE_MAX if c.is_extended else 256)
        return ef.content[offset : offset + ne], SW.OK

    def _verify(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p1 != 0x00 or c.p2 != 0x80:
            return b"", SW.INCORRECT_P1P2
        ef = self._current()
        if not isinstance(ef, PinEF):
            return b"", SW.COMMAND_NOT_ALLOWED
        assert self._current_ef is not None
        if not c.data:  # a counter query: spends nothing, blocked or not
            return b"", SW.COUNTER_BASE | ef.tries
        if ef.blocked:
            return b"", SW.REFERENCE_DATA_NOT_USABLE
        if c.data == ef.value:
            ef.tries = ef.max_tries
            self._verified.add(self._current_ef)
            return b"", SW.OK
        ef.tries -= 1
        self._verified.discard(self._current_ef)
        return b"", SW.COUNTER_BASE | ef.tries

    def _change_pin(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p1 != 0x01 or c.p2 != 0x80:
            return b"", SW.INCORRECT_P1P2
        ef = self._current()
        if not isinstance(ef, PinEF):
            return b"", SW.COMMAND_NOT_ALLOWED
        if self._current_ef not in self._verified:
            return b"", SW.SECURITY_STATUS_NOT_SATISFIED
        if not ef.pattern.fullmatch(c.data):
            return b"", SW.WRONG_DATA
        ef.value = bytes(c.data)
        return b"", SW.OK

    def _sign(self, c: CommandApdu) -> tuple[bytes, int]:
        if c.p1 != 0x00 or c.p2 != 0x80:
            return b"", SW.INCORRECT_P1P2
        ef = self._current()
        if not isinstance(ef, KeyEF):
            return b"", SW.COMMAND_NOT_ALLOWED
        if ef.pin not in self._verified:
            return b"", SW.SECURITY_STATUS_NOT_SATISFIED
        size = (ef.key.key_size + 7) // 8
        if not 1 <= len(c.data) <= size - 11:
            return b"", SW.WRONG_LENGTH
        return pkcs1_type1_sign(ef.key, c.data), SW.OK


def pkcs1_type1_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """RSA private operation over ``00 01 FF..FF 00 || data``: what the card computes."""
    size = (key.key_size + 7) // 8
    block = b"\x00\x01" + b"\xff" * (size - 3 - len(data)) + b"\x00" + data
    numbers = key.private_numbers()
    m = int.from_bytes(block, "big")
    # Chinese remainder theorem: the same result as pow(m, d, n), several times faster.
    s1 = pow(m % numbers.p, numbers.dmp1, numbers.p)
    s2 = pow(m % numbers.q, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (s1 - s2)) % numbers.p
    return (s2 + h * numbers.q).to_bytes(size, "big")
