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


#: Every other refusal the HTTP API gives, by code. With ``CODES`` these are the whole contract.
API_CODES: dict[str, str] = {
    "invalid_request": "The request is malformed or fails validation.",
    "invalid_token": "No access token, or one that is invalid or expired.",
    "insufficient_scope": "The access token does not allow this call.",
    "rate_limited": "Too many requests from this kiosk or for this account; retry after the given time.",
    "request_too_large": "The request body exceeds the server's size limit.",
    "unknown_nonce": "The nonce was never issued by this server.",
    "foreign_nonce": "The nonce was issued to another kiosk.",
    "replayed_nonce": "The nonce was already used.",
    "expired_nonce": "The nonce's lifetime has passed.",
    "invalid_account": "The account ID does not have the institution's account ID format.",
    "verification_unknown": "No verification with that ID was made by this kiosk.",
    "verification_expired": "The verification is too old to back an operation; verify again.",
    "verification_used": "The verification already backs another operation; verify again.",
    "no_match": "The verified card is not linked to the claimed account.",
    "idempotency_conflict": "The idempotency key was already used for a different request.",
    "operation_unknown": "No operation with that ID belongs to this kiosk.",
    "wrong_state": "The operation is not in a state that allows this call.",
    "session_key_invalid": (
        "The Session-Key header is missing or is not the key handed out when this operation was "
        "created: only the kiosk session that asked may act on it."
    ),
    "operation_cancelled": "The kiosk cancelled the operation; it can no longer be decided or completed.",
    "kiosk_gone": "An operation's error code: it expired because its kiosk stopped sending keep-alives.",
    "password_window_passed": (
        "An operation's error code: it expired because the new password did not arrive within the "
        "password window after approval."
    ),
    "approval_window_passed": "An operation's error code: it expired because staff did not decide in time.",
    "operation_expired": (
        "The operation expired (its kiosk stopped sending keep-alives, staff did not decide in time, "
        "or the password was not sent within its window after approval); it can no longer be "
        "decided or completed. The operation's error code says which."
    ),
    "already_decided": "Staff already approved or refused this operation the other way.",
    "account_proof_invalid": "The account token from the device authorization grant is invalid or expired.",
    "account_proof_mismatch": "The device authorization grant proved a different account.",
    "account_already_linked": "The account is already linked to a card; delete that link first.",
    "card_already_linked": "This card is already linked to another account.",
    "not_linked": "The account has no link to delete.",
    "salvage_not_eligible": "Salvage is only for former members within the salvage period.",
    "account_unavailable": "The directory has no usable account for this request.",
    "password_policy": "The new password does not meet the password policy (see the problems list).",
    "operation_not_offline": "This operation cannot be authorised from offline evidence.",
    "evidence_unreadable": "The sealed evidence could not be opened with the server's sealing key.",
    "evidence_bad_kiosk_signature": "The evidence is not signed by the kiosk that uploaded it.",
    "evidence_invalid": "The evidence's contents are malformed or inconsistent.",
    "evidence_counter_reused": "The kiosk already used this offline counter for other evidence.",
    "evidence_no_approval": "The evidence carries no staff approval.",
    "voucher_invalid": "The voucher is unknown, already used, expired, or for another account.",
}


class ApiError(Exception):
    """A refusal from the HTTP API: a documented code, an HTTP status and words for people."""

    def __init__(self, code: str, status: int, message: str | None = None,
                 extra: dict[str, object] | None = None) -> None:
        if code not in API_CODES and code not in CODES:
            raise TypeError(f"{code!r} is not a documented error code")
        self.code = code
        self.status = status
        self.message = message or API_CODES.get(code) or CODES[code]
        self.extra = extra or {}
        super().__init__(f"{code}: {self.message}")
