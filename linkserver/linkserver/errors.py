"""Why a request was refused: one stable, documented code per reason (``ErrorCode``).

The codes are part of the server's contract with the kiosk (they reach the kiosk's screen and the
staff console), so they never change meaning; a new reason gets a new code.
"""

from __future__ import annotations

from typing import ClassVar

from linkserver.words import Documented


class ErrorCode(Documented):
    """Every refusal the server gives: a stable code and its documented meaning (``GET /v1/codes``).

    The first nine are a card verification's refusals (``VerificationRefused``); the rest are the
    HTTP API's.
    """

    MALFORMED_CERTIFICATE = "malformed_certificate", (
        "The certificate is not a well-formed DER X.509 certificate within the size limit, or it "
        "carries a critical extension this verifier does not understand."
    )
    UNKNOWN_ISSUER = "unknown_issuer", (
        "The certificate does not chain to a configured JPKI trust anchor: a foreign CA, or a "
        "certificate whose issuer's signature does not verify."
    )
    EXPIRED = "expired", (
        "The certificate (or the trust anchor it chains to) had expired at the time of signing."
    )
    NOT_YET_VALID = "not_yet_valid", (
        "The certificate (or the trust anchor it chains to) was not yet valid at the time of signing."
    )
    KEY_USAGE = "key_usage", (
        "The certificate may not be used for authentication: no KeyUsage extension with "
        "digitalSignature, or it is a CA certificate."
    )
    REVOKED = "revoked", "The certificate has been revoked by its issuer."
    REVOCATION_UNKNOWN = "revocation_unknown", (
        "The revocation status could not be established (no fresh CRL or OCSP answer, or the "
        "answer did not validate); the verifier fails closed."
    )
    BAD_SIGNATURE = "bad_signature", (
        "The card's signature does not verify over the expected message (nonce, kiosk ID and "
        "account as sent)."
    )
    UNSUPPORTED_KEY = "unsupported_key", (
        "The certificate's key type, key size or signature algorithm is not one this verifier "
        "accepts."
    )

    INVALID_REQUEST = "invalid_request", "The request is malformed or fails validation."
    INVALID_TOKEN = "invalid_token", "No access token, or one that is invalid or expired."
    INSUFFICIENT_SCOPE = "insufficient_scope", "The access token does not allow this call."
    RATE_LIMITED = "rate_limited", (
        "Too many requests from this kiosk or for this account; retry after the given time."
    )
    REQUEST_TOO_LARGE = "request_too_large", "The request body exceeds the server's size limit."
    UNKNOWN_NONCE = "unknown_nonce", "The nonce was never issued by this server."
    FOREIGN_NONCE = "foreign_nonce", "The nonce was issued to another kiosk."
    REPLAYED_NONCE = "replayed_nonce", "The nonce was already used."
    EXPIRED_NONCE = "expired_nonce", "The nonce's lifetime has passed."
    INVALID_ACCOUNT = "invalid_account", "The account ID does not have the institution's account ID format."
    VERIFICATION_UNKNOWN = "verification_unknown", "No verification with that ID was made by this kiosk."
    VERIFICATION_EXPIRED = "verification_expired", (
        "The verification is too old to back an operation; verify again."
    )
    VERIFICATION_USED = "verification_used", "The verification already backs another operation; verify again."
    NO_MATCH = "no_match", "The verified card is not linked to the claimed account."
    IDEMPOTENCY_CONFLICT = "idempotency_conflict", (
        "The idempotency key was already used for a different request."
    )
    OPERATION_UNKNOWN = "operation_unknown", "No operation with that ID belongs to this kiosk."
    WRONG_STATE = "wrong_state", "The operation is not in a state that allows this call."
    SESSION_KEY_INVALID = "session_key_invalid", (
        "The Session-Key header is missing or is not the key handed out when this operation was "
        "created: only the kiosk session that asked may act on it."
    )
    OPERATION_CANCELLED = "operation_cancelled", (
        "The kiosk cancelled the operation; it can no longer be decided or completed."
    )
    KIOSK_GONE = "kiosk_gone", (
        "An operation's error code: it expired because its kiosk stopped sending keep-alives."
    )
    PASSWORD_WINDOW_PASSED = "password_window_passed", (
        "An operation's error code: it expired because the new password did not arrive within the "
        "password window after approval."
    )
    APPROVAL_WINDOW_PASSED = "approval_window_passed", (
        "An operation's error code: it expired because staff did not decide in time."
    )
    OPERATION_EXPIRED = "operation_expired", (
        "The operation expired (its kiosk stopped sending keep-alives, staff did not decide in time, "
        "or the password was not sent within its window after approval); it can no longer be "
        "decided or completed. The operation's error code says which."
    )
    ALREADY_DECIDED = "already_decided", "Staff already approved or refused this operation the other way."
    ACCOUNT_PROOF_INVALID = "account_proof_invalid", (
        "The account token from the device authorization grant is invalid or expired."
    )
    ACCOUNT_PROOF_MISMATCH = "account_proof_mismatch", (
        "The device authorization grant proved a different account."
    )
    ACCOUNT_ALREADY_LINKED = "account_already_linked", (
        "The account is already linked to a card; delete that link first."
    )
    CARD_ALREADY_LINKED = "card_already_linked", "This card is already linked to another account."
    NOT_LINKED = "not_linked", "The account has no link to delete."
    SALVAGE_NOT_ELIGIBLE = "salvage_not_eligible", (
        "Salvage is only for former members within the salvage period."
    )
    ACCOUNT_UNAVAILABLE = "account_unavailable", "The directory has no usable account for this request."
    DIRECTORY_UNAVAILABLE = "directory_unavailable", (
        "The account directory did not answer in time (down, unreachable or refusing the TLS "
        "connection); nothing was changed and the same request may be retried."
    )
    DATABASE_BUSY = "database_busy", (
        "Concurrent requests kept the same records busy after the server's own retries; nothing was "
        "changed and the same request may be retried in a moment."
    )
    MFA_UNAVAILABLE = "mfa_unavailable", (
        "The MFA system that keeps the accounts' second factors did not answer, or answered with an "
        "error; nothing was changed and the same request (the staff decision) may be retried."
    )
    PASSWORD_POLICY = "password_policy", (
        "The new password does not meet the password policy (see the problems list)."
    )
    OPERATION_NOT_OFFLINE = "operation_not_offline", (
        "This operation cannot be authorised from offline evidence."
    )
    EVIDENCE_UNREADABLE = "evidence_unreadable", (
        "The sealed evidence could not be opened with the server's sealing key."
    )
    EVIDENCE_BAD_KIOSK_SIGNATURE = "evidence_bad_kiosk_signature", (
        "The evidence is not signed by the kiosk that uploaded it."
    )
    EVIDENCE_INVALID = "evidence_invalid", "The evidence's contents are malformed or inconsistent."
    EVIDENCE_COUNTER_REUSED = "evidence_counter_reused", (
        "The kiosk already used this offline counter for other evidence."
    )
    EVIDENCE_NO_APPROVAL = "evidence_no_approval", "The evidence carries no staff approval."
    VOUCHER_INVALID = "voucher_invalid", (
        "The voucher is unknown, already used, expired, or for another account."
    )


class VerificationRefused(Exception):
    """A verification refused for a documented reason; ``code`` is one of the first ``ErrorCode``s."""

    code: ClassVar[ErrorCode]

    def __init__(self, message: str | None = None) -> None:
        if type(self) not in REFUSALS.values():
            raise TypeError(f"{type(self).__name__} has no documented refusal code")
        self.message = message or self.code.meaning
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class MalformedCertificate(VerificationRefused):
    """The certificate bytes cannot be used at all."""

    code = ErrorCode.MALFORMED_CERTIFICATE


class UnknownIssuer(VerificationRefused):
    """No configured trust anchor issued the certificate."""

    code = ErrorCode.UNKNOWN_ISSUER


class Expired(VerificationRefused):
    """The certificate was past its validity at the time of signing."""

    code = ErrorCode.EXPIRED


class NotYetValid(VerificationRefused):
    """The certificate's validity had not begun at the time of signing."""

    code = ErrorCode.NOT_YET_VALID


class KeyUsageRefused(VerificationRefused):
    """The certificate is not an authentication (digitalSignature) end-entity certificate."""

    code = ErrorCode.KEY_USAGE


class Revoked(VerificationRefused):
    """The issuer has revoked the certificate."""

    code = ErrorCode.REVOKED


class RevocationUnknown(VerificationRefused):
    """The revocation status could not be established; refused rather than assumed good."""

    code = ErrorCode.REVOCATION_UNKNOWN


class BadSignature(VerificationRefused):
    """The card's signature does not verify over the expected message."""

    code = ErrorCode.BAD_SIGNATURE


class UnsupportedKey(VerificationRefused):
    """A key type, key size or signature algorithm this verifier does not accept."""

    code = ErrorCode.UNSUPPORTED_KEY


#: The exception class of each code, for callers that rebuild a refusal from its code.
REFUSALS: dict[ErrorCode, type[VerificationRefused]] = {
    cls.code: cls
    for cls in (
        MalformedCertificate, UnknownIssuer, Expired, NotYetValid, KeyUsageRefused, Revoked,
        RevocationUnknown, BadSignature, UnsupportedKey,
    )
}


#: A card verification's refusal codes, and what each means.
CODES: dict[str, str] = {cls.code.value: cls.code.meaning for cls in REFUSALS.values()}
#: Every other refusal the HTTP API gives, by code. With ``CODES`` these are the whole contract.
API_CODES: dict[str, str] = {code.value: code.meaning for code in ErrorCode if code.value not in CODES}


class ApiError(Exception):
    """A refusal from the HTTP API: a documented code, an HTTP status and words for people."""

    def __init__(self, code: ErrorCode, status: int, message: str | None = None,
                 extra: dict[str, object] | None = None) -> None:
        if not isinstance(code, ErrorCode):
            raise TypeError(f"{code!r} is not a documented error code")
        self.code = code
        self.status = status
        self.message = message or code.meaning
        self.extra = extra or {}
        super().__init__(f"{code}: {self.message}")
