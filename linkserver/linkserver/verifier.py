"""The whole check of one card authentication, from certificate bytes to PPID.

Nonce bookkeeping (single use, lifetime, binding to the kiosk) belongs to the server's storage;
this module only proves that the card holding a trusted, unrevoked certificate signed this nonce
for this kiosk and account.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from linkserver.errors import MalformedCertificate, RevocationUnknown, Revoked, UnsupportedKey
from linkserver.ppid import PpidDeriver
from linkserver.revocation import RevocationChecker, RevocationStatus
from linkserver.signature import signed_message, verify_card_signature
from linkserver.trust import TrustStore, leaf_extensions, require_aware

logger = logging.getLogger(__name__)

#: No JPKI authentication certificate comes near this; larger input is refused unparsed.
MAX_CERTIFICATE_BYTES = 16 * 1024


@dataclass(frozen=True)
class VerifiedIdentity:
    """What a successful verification establishes about the card holder."""

    ppid: str
    serial: int
    not_after: dt.datetime
    #: The label of the trust anchor the certificate chains to (e.g. the root's file name).
    issuer_generation_hint: str


def parse_certificate(cert_der: bytes) -> x509.Certificate:
    """A certificate from untrusted DER bytes, or MalformedCertificate / UnsupportedKey."""
    if not isinstance(cert_der, bytes | bytearray | memoryview):
        raise MalformedCertificate("the certificate must be DER bytes")
    if len(cert_der) > MAX_CERTIFICATE_BYTES:
        raise MalformedCertificate(f"a certificate of {len(cert_der)} bytes exceeds the "
                                   f"{MAX_CERTIFICATE_BYTES}-byte limit")
    try:
        cert = x509.load_der_x509_certificate(bytes(cert_der))
    except ValueError:
        raise MalformedCertificate("the certificate is not valid DER X.509") from None
    # cryptography parses some parts lazily; touch them now so a bad certificate fails here.
    leaf_extensions(cert)
    try:
        cert.public_key()
    except UnsupportedAlgorithm:
        raise UnsupportedKey("the certificate's public key type is not supported") from None
    except ValueError:
        raise MalformedCertificate("the certificate's public key does not parse") from None
    return cert


class JpkiVerifier:
    """Verifies a card's signed challenge against trust anchors and revocation; derives the PPID."""

    def __init__(self, trust: TrustStore, revocation: RevocationChecker, ppid: PpidDeriver) -> None:
        self._trust = trust
        self._revocation = revocation
        self._ppid = ppid

    @property
    def local(self) -> bool:
        """Whether a verification needs nothing beyond this process (no OCSP round trip)."""
        return self._revocation.local

    def verify(
        self, cert_der: bytes, signature: bytes, nonce: bytes, kiosk_id: str, account: str,
        signed_at: dt.datetime,
    ) -> VerifiedIdentity:
        """Check everything in order and return the identity, or raise VerificationRefused.

        Order: parse, chain to an anchor, validity at ``signed_at``, key usage, revocation (an
        unknown status is refused), then the card's signature over ``signed_message``. The cheap
        local checks come before the revocation lookup, which may cost a network round trip.
        """
        signed_at = require_aware(signed_at, "signing time")
        cert = parse_certificate(cert_der)
        anchor = self._trust.find_anchor(cert, signed_at)
        self._check_revocation(cert, anchor.certificate)
        verify_card_signature(cert, signed_message(nonce, kiosk_id, account), signature)
        return VerifiedIdentity(
            ppid=self._ppid.ppid(cert),
            serial=cert.serial_number,
            not_after=cert.not_valid_after_utc,
            issuer_generation_hint=anchor.label,
        )

    def _check_revocation(self, cert: x509.Certificate, issuer: x509.Certificate) -> None:
        try:
            status = self._revocation.check(cert, issuer)
        except Exception as exc:
            # A checker that breaks has not said "good"; fail closed like any other unknown.
            logger.warning("revocation checker failed: %s", type(exc).__name__)
            raise RevocationUnknown("the revocation checker failed") from exc
        if status is RevocationStatus.REVOKED:
            raise Revoked()
        if status is not RevocationStatus.GOOD:
            raise RevocationUnknown()
