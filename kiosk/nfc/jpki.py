"""The JPKI application: the user authentication certificate, its PIN and its key."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.nfc.apdu import (
    CLA_PROPRIETARY,
    EXTENDED_NE_MAX,
    INS_COMPUTE_DIGITAL_SIGNATURE,
    SHORT_NE_MAX,
    SW,
    CommandApdu,
)
from kiosk.nfc.connection import ApduChannel, CardConnection
from kiosk.nfc.errors import (
    ApduError,
    CardProtocolError,
    SecurityStatusError,
    UnsupportedKeyError,
)
from kiosk.nfc.session import ApplicationSession

logger = logging.getLogger(__name__)

JPKI_AID = bytes.fromhex("D392F000260100000001")

EF_SIGN_CERT = 0x0001  # the signature certificate: name, address, birth date, sex
EF_TOKEN_INFO = 0x0006
EF_AUTH_CERT = 0x000A
EF_AUTH_CA_CERT = 0x000B
EF_AUTH_KEY = 0x0017
EF_AUTH_PIN = 0x0018
EF_SIGN_KEY = 0x001A
EF_SIGN_PIN = 0x001B

AUTH_PIN_LENGTH = 4
TOKEN_INFO_LENGTH = 32
#: No JPKI certificate is near this size; a card announcing more is lying.
MAX_CERTIFICATE_LENGTH = 8192

SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


class CardKind(Enum):
    """What the token info says the card is."""

    MY_NUMBER_CARD = "my_number_card"
    RESIDENT_REGISTRY_CARD = "resident_registry_card"
    UNKNOWN = "unknown"


TOKEN_LABELS = {
    "JPKIAPICCTOKEN2": CardKind.MY_NUMBER_CARD,
    "JPKIAPICCTOKEN": CardKind.RESIDENT_REGISTRY_CARD,
}


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """The token label of EF 0006 and the card kind it names."""

    label: str
    kind: CardKind


def sha256_digest_info(message: bytes) -> bytes:
    """DER DigestInfo of SHA-256(message), as the card's SIGN expects."""
    return SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()


def parse_certificate(der: bytes, what: str) -> x509.Certificate:
    """A certificate from card bytes, or CardProtocolError."""
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CardProtocolError(f"the {what} is not a valid certificate") from exc


class JpkiSession(ApplicationSession):
    """The JPKI AP: selected on creation; reads certificates, checks the PIN, signs."""

    AID = JPKI_AID
    NAME = "JPKI application"
    FORBIDDEN_EFS = frozenset({EF_SIGN_CERT, EF_SIGN_KEY, EF_SIGN_PIN})
    PIN_MAX_TRIES = 3

    def __init__(self, connection: CardConnection | ApduChannel) -> None:
        self._auth_certificate: x509.Certificate | None = None
        super().__init__(connection)

    def token_info(self) -> TokenInfo:
        """The token label (EF 0006) and the card kind it names."""

        def read() -> bytes:
            self._select_ef(EF_TOKEN_INFO)
            return self._read_chunk(0, TOKEN_INFO_LENGTH)

        raw = self._after_reset(read)
        if len(raw) != TOKEN_INFO_LENGTH:
            raise CardProtocolError(f"token info of {len(raw)} bytes")
        try:
            label = raw.rstrip(b" \x00\xff").decode("ascii")
        except UnicodeDecodeError as exc:
            raise CardProtocolError("token info is not ASCII") from exc
        return TokenInfo(label, TOKEN_LABELS.get(label, CardKind.UNKNOWN))

    def auth_certificate(self) -> x509.Certificate:
        """The user authentication certificate (EF 000A), read once per session."""
        if self._auth_certificate is None:
            der = self._after_reset(
                lambda: self._read_tlv_file(EF_AUTH_CERT, MAX_CERTIFICATE_LENGTH, 0x30)
            )
            self._auth_certificate = parse_certificate(der, "authentication certificate")
        return self._auth_certificate

    def auth_ca_certificate(self) -> x509.Certificate:
        """The certificate of the CA that issued the authentication certificate (EF 000B)."""
        der = self._after_reset(
            lambda: self._read_tlv_file(EF_AUTH_CA_CERT, MAX_CERTIFICATE_LENGTH, 0x30)
        )
        return parse_certificate(der, "CA certificate")

    def pin_tries_left(self) -> int:
        """Tries left on the authentication PIN; spends none. 0 means blocked."""
        return self._tries_left(EF_AUTH_PIN)

    def verify_pin(self, pin: str | bytes | bytearray, *, confirm_last_try: bool = False) -> None:
        """VERIFY the 4-digit authentication PIN.

        A malformed PIN raises ``InvalidPinFormatError`` before anything is sent; with one try
        left, nothing is sent unless ``confirm_last_try`` is true.
        """
        self._verify(EF_AUTH_PIN, pin, AUTH_PIN_LENGTH, confirm_last_try)

    def sign(self, digest_info: bytes) -> bytes:
        """The card's raw PKCS#1 v1.5 signature of ``digest_info`` (padding added by the card)."""
        size = self._key_size_bytes()
        if not 1 <= len(digest_info) <= size - 11:
            raise ValueError(f"data to sign must be 1 to {size - 11} bytes")
        self._select_ef(EF_AUTH_KEY)
        ne = min(size, EXTENDED_NE_MAX)
        command = CommandApdu(
            CLA_PROPRIETARY, INS_COMPUTE_DIGITAL_SIGNATURE, 0x00, 0x80, digest_info,
            ne=ne, extended=ne > SHORT_NE_MAX,
        )
        data, sw = self.channel.transmit(command)
        if sw == SW.SECURITY_STATUS_NOT_SATISFIED:
            raise SecurityStatusError(sw, "signing before the PIN was verified")
        if sw != SW.OK:
            raise ApduError(sw, "signing")
        if len(data) != size:
            raise CardProtocolError(f"signature of {len(data)} bytes, expected {size}")
        return data

    def sign_sha256(self, message: bytes) -> bytes:
        """Have the card sign SHA-256(message) with the authentication key."""
        key = self.auth_certificate().public_key()
        if isinstance(key, rsa.RSAPublicKey):
            return self.sign(sha256_digest_info(message))
        raise UnsupportedKeyError(f"no signing scheme for a {type(key).__name__}")

    def _key_size_bytes(self) -> int:
        if self._auth_certificate is None:
            return 256  # every card issued so far: RSA-2048
        key = self._auth_certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            return (key.key_size + 7) // 8
        raise UnsupportedKeyError(f"no signing scheme for a {type(key).__name__}")
