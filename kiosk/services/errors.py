"""The services' own refusals: a stable code for the screen's words, and a message for people."""

from __future__ import annotations

from enum import StrEnum


class ServiceCode(StrEnum):
    """The services' own error codes. A ``ServiceError`` may also carry a code from below: the
    card's, the linkage client's, or one the server documents (``GET /v1/codes``), passed on."""

    OFFLINE_UNAVAILABLE = "offline.unavailable"
    """The server is away and this kiosk cannot check cards by itself (no trust anchors or CRL)."""
    OFFLINE_NOT_ONLINE = "offline.not_online"
    """A step that needs the server was asked for with an offline verification."""
    OFFLINE_NOT_FOR_OPERATION = "offline.not_for_operation"
    """This operation cannot be done offline (only a password reset, MFA reset or salvage can)."""
    OFFLINE_NO_SERVER_KEY = "offline.no_server_key"
    """Offline evidence cannot be sealed: the server's sealing key was never cached."""
    OFFLINE_NO_PROOF = "offline.no_proof"
    """Offline evidence was asked for without an offline verification to record."""
    OFFLINE_NO_ROSTER = "offline.no_roster"
    """Offline approval refused: the kiosk never received the staff roster from the server."""
    OFFLINE_ROSTER_STALE = "offline.roster_stale"
    """Offline approval refused: the staff roster is older than ``offline.roster_max_age_hours``."""
    OFFLINE_STAFF_REFUSED = "offline.staff_refused"
    """Offline approval refused: no one on the roster has this staff ID and offline PIN."""
    OFFLINE_STAFF_LOCKED = "offline.staff_locked"
    """Offline approval refused for a while after repeated wrong staff IDs or PINs."""
    SERVER_NOT_CONFIGURED = "server.not_configured"
    """No linkage server is set up for this kiosk (why it went offline)."""
    NO_MATCH = "no_match"
    """The card was verified, but it is not linked to the account claimed."""
    REFUSED = "refused"
    """Staff refused the request."""
    APPROVAL_TIMEOUT = "approval.timeout"
    """Staff did not decide within the kiosk's approval timeout."""
    FAILED = "failed"
    """The server could not complete the operation and gave no code of its own."""
    OPERATION_CANCELLED = "operation_cancelled"
    """The operation was cancelled on the server and gave no code of its own."""
    OPERATION_EXPIRED = "operation_expired"
    """The operation expired on the server and gave no code of its own."""


#: The reasons staff pick when they refuse (the server's ``result.refusal_reason``); the kiosk words
#: each one (``refused.<reason>``). Any other is told as a plain refusal.
REFUSAL_REASONS = frozenset({"photo_mismatch", "card_damaged", "not_the_holder", "needs_documents", "other"})


class ServiceError(Exception):
    """A step that cannot go on, for a reason with a stable ``code``."""

    def __init__(self, code: str, message: str) -> None:
        """``code``: a ``ServiceCode``, or a code from a layer below passed on."""
        super().__init__(message)
        self.code = code
        self.message = message


class VerificationError(ServiceError):
    """A verification that cannot go on."""


class OperationError(ServiceError):
    """An operation that cannot go on."""


class OutboxError(ServiceError):
    """Offline evidence that cannot be recorded."""
