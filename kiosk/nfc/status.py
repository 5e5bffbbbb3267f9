"""What ``kiosk card status`` reports about a card, read without spending a PIN try."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.nfc.cardinfo import CardInfoSession
from kiosk.nfc.connection import ApduChannel, CardConnection
from kiosk.nfc.errors import NoCardInfoError
from kiosk.nfc.jpki import JpkiSession


@dataclass(frozen=True)
class CertificateSummary:
    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    validity: str  # valid, expired, not_yet_valid
    key: str


@dataclass(frozen=True)
class CardStatus:
    card_kind: str
    token_label: str
    atr: str
    auth_certificate: CertificateSummary
    pin_tries_left: int
    #: None: the card has no card-info AP (a Basic Resident Registry Card, or a JPKI-only card).
    cardinfo_pin_tries_left: int | None
    apdus: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def x500_text(name: x509.Name) -> str:
    """A name in its certificate order, ``C=JP, CN=...``, as people read it."""
    return ", ".join(attribute.rfc4514_string() for attribute in name)


def read_status(connection: CardConnection, atr: bytes = b"", now: dt.datetime | None = None) -> CardStatus:
    """Card kind, authentication certificate and both PIN counters (no PIN is spent).

    A card without the card-info AP is reported with no counter for it: its JPKI AP still serves.
    """
    now = now or dt.datetime.now(dt.UTC)
    channel = ApduChannel(connection)
    jpki = JpkiSession(channel)
    token = jpki.token_info()
    cert = jpki.auth_certificate()
    tries = jpki.pin_tries_left()
    cardinfo_tries: int | None = None
    with contextlib.suppress(NoCardInfoError):
        cardinfo_tries = CardInfoSession(channel).pin_tries_left()
    if now < cert.not_valid_before_utc:
        validity = "not_yet_valid"
    elif now > cert.not_valid_after_utc:
        validity = "expired"
    else:
        validity = "valid"
    key = cert.public_key()
    key_text = f"RSA-{key.key_size}" if isinstance(key, rsa.RSAPublicKey) else type(key).__name__
    summary = CertificateSummary(
        subject=x500_text(cert.subject),
        issuer=x500_text(cert.issuer),
        serial=f"{cert.serial_number:X}",
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        validity=validity,
        key=key_text,
    )
    return CardStatus(
        card_kind=token.kind.value,
        token_label=token.label,
        atr=atr.hex(" ").upper(),
        auth_certificate=summary,
        pin_tries_left=tries,
        cardinfo_pin_tries_left=cardinfo_tries,
        apdus=channel.apdu_count,
    )
