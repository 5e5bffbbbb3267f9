"""Why a verification was refused: one stable, documented code per reason.

The codes are part of the server's contract with the kiosk (they reach the kiosk's screen and the
staff console), so they never change meaning; a new reason gets a new code.
"""

from __future__ import annotations

from typing import ClassVar

#: Every refusal code and what it means. The HTTP layer documents these in its OpenAPI schema.
CODES: dict[str, str] = {
    "malformed_certificate": (
        "The certificate is not a well-formed DER X.509 certificate within the size limit, or it "
        "carries a critical extension this verifier does not understand."
    ),
    "unknown_issuer": (
        "The certificate does not chain to a configured JPKI trust anchor: a foreign CA, or a "
        "certificate whose issuer's signature does not verify."
    ),
    "expired": (
        "The certificate (or the trust anchor it chains to) had expired at the time of signing."
    ),
    "not_yet_valid": (
        "The certificate (or the trust anchor it chains to) was not yet valid at the time of signing."
    ),
    "key_usage": (
        "The certificate may not be used for authentication: no KeyUsage extension with "
        "digitalSignature, or it is a CA certificate."
    ),
    "revoked": "The certificate has been revoked by its issuer.",
    "revocation_unknown": (
        "The revocation status could not be established (no fresh CRL or OCSP answer, or the "
        "answer did not validate); the verifier fails closed."
    ),
    "bad_signature": (
        "The card's signature does not verify over the expected message (nonce, kiosk ID and "
        "account as sent)."
    ),
    "unsupported_key": (
        "The certificate's key type, key size or signature algorithm is not one this verifier "
        "accepts."
    ),
}


class VerificationRefused(Exception):
    """A verification refused for a documented reason; ``code`` is a key of ``CODES``."""

    code: ClassVar[str] = ""

    def __init__(self, message: str | None = None) -> None:
        if self.code not in CODES:
            raise TypeError(f"{type(self).__name__} has no documented refusal code")
        self.message = message or CODES[self.code]
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class MalformedCertificate(VerificationRefused):
    """The certificate bytes cannot be used at all."""

    code = "malformed_certificate"


class UnknownIssuer(VerificationRefused):
    """No configured trust anchor issued the certificate."""

    code = "unknown_issuer"


class Expired(VerificationRefused):
    """The certificate was past its validity at the time of signing."""

    code = "expired"


class NotYetValid(VerificationRefused):
    """The certificate's validity had not begun at the time of signing."""

    code = "not_yet_valid"


class KeyUsageRefused(VerificationRefused):
    """The certificate is not an authentication (digitalSignature) end-entity certificate."""

    code = "key_usage"


class Revoked(VerificationRefused):
    """The issuer has revoked the certificate."""

    code = "revoked"


class RevocationUnknown(VerificationRefused):
    """The revocation status could not be established; refused rather than assumed good."""

    code = "revocation_unknown"


class BadSignature(VerificationRefused):
    """The card's signature does not verify over the expected message."""

    code = "bad_signature"


class UnsupportedKey(VerificationRefused):
    """A key type, key size or signature algorithm this verifier does not accept."""

    code = "unsupported_key"


#: The exception class of each code, for callers that rebuild a refusal from its code.
REFUSALS: dict[str, type[VerificationRefused]] = {
    cls.code: cls
    for cls in (
        MalformedCertificate, UnknownIssuer, Expired, NotYetValid, KeyUsageRefused, Revoked,
        RevocationUnknown, BadSignature, UnsupportedKey,
    )
}
