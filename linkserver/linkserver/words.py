"""The server's closed sets of words, as enums whose members carry their documented meaning.

The members are strings: what the wire protocol and the database hold is their value, unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class Documented(StrEnum):
    """A word of the protocol and its meaning: ``MEMBER = "value", "what it means"``."""

    meaning: str

    def __new__(cls, value: str, meaning: str = "") -> Documented:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member


class OperationKind(Documented):
    """What a verified card holder can ask for at the kiosk (``POST /v1/operations``)."""

    PRELINK = "prelink", "Link the card to the account the user proved with the device grant (staff approve)."
    LINK_STATUS = "link_status", "Whether the account is linked to a card, and since when (answered at once)."
    UNLINK = "unlink", "Delete the link between the account and its card (staff approve)."
    PASSWORD_RESET = "password_reset", "A new password, which the user types after staff approve."
    MFA_RESET = "mfa_reset", "Clear the account's MFA methods and issue an enrolment code (staff approve)."
    SALVAGE = "salvage", "A former member's cloud-data salvage ticket, backup or forwarding (staff approve)."

    @property
    def waits_for_staff(self) -> bool:
        """Whether the operation changes the account, and so waits for a staff decision."""
        return self is not OperationKind.LINK_STATUS

    @property
    def shows_code(self) -> bool:
        """Whether its result holds a code the user copies from the screen (shown once)."""
        return self in (OperationKind.MFA_RESET, OperationKind.SALVAGE)


class OperationStatus(Documented):
    """Where an operation stands; the last five are final."""

    AWAITING_APPROVAL = "awaiting_approval", "Waiting for staff to decide, while its kiosk sends keep-alives."
    APPROVED = "approved", "Staff approved a password reset; the user's new password is awaited."
    REFUSED = "refused", "Staff refused it; nothing was changed."
    COMPLETED = "completed", "Done: its change applied, its result in the answer."
    FAILED = "failed", "Approved but could not be applied (its error code says why)."
    CANCELLED = "cancelled", "The kiosk session gave up before it was done; nothing was changed."
    EXPIRED = "expired", "It ran out of time before it was done (its error code says which window)."


class RefusalReason(Documented):
    """Why staff refused a request, picked from a list at the console; the kiosk tells the user in
    their language (an operation's ``result.refusal_reason``)."""

    PHOTO_MISMATCH = "photo_mismatch", "The photo on the card does not match the person at the counter."
    CARD_DAMAGED = "card_damaged", "The card is damaged or looks altered."
    NOT_THE_HOLDER = "not_the_holder", "The person is not the card's holder."
    NEEDS_DOCUMENTS = "needs_documents", "Staff need further documents before they can approve."
    OTHER = "other", "Another reason, which staff explain at the counter."
