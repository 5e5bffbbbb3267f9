"""What the flow shows: its states (one screen each), the view a screen renders, the flow's own error
codes and the typed result of each outcome."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, ClassVar

from kiosk.linkage import OperationKind


class Screen(Enum):
    """The flow's states; each is shown by one screen."""

    START = "start"
    ACCOUNT = "account"
    DEVICE_GRANT = "device_grant"
    PLACE_CARD = "place_card"
    PIN = "pin"
    LAST_TRY = "last_try"
    CARDINFO_QUESTION = "cardinfo_question"
    CARDINFO_PIN = "cardinfo_pin"
    VERIFYING = "verifying"
    UNLINK_CONFIRM = "unlink_confirm"
    STAFF_WAIT = "staff_wait"
    OFFLINE_APPROVAL = "offline_approval"
    NEW_PASSWORD = "new_password"
    WORKING = "working"
    DONE = "done"
    ERROR = "error"


class FlowCode(StrEnum):
    """The flow's own error codes (the other codes a view shows come from the card, the linkage
    client, the services or the server)."""

    INTERNAL = "internal"
    """An unexpected failure (a bug): logged in full, shown only as this code."""
    INVALID_ACCOUNT = "invalid_account"
    """The account ID typed does not have the institution's format (or is too long)."""
    STAFF_INVALID = "staff.invalid"
    """The staff ID typed for an offline approval is empty or longer than 64 characters, or no
    offline PIN was typed."""
    DISPLAY_FAILED = "display.failed"
    """The window could not show a screen (a bug): logged in full; the session ends on this code."""


class Step(StrEnum):
    """Where in the session an error happened, shown to staff beside the code."""

    DEVICE_GRANT = "device_grant"
    CARD = "card"
    VERIFY = "verify"
    CARD_INFO = "card_info"
    REQUEST = "request"
    APPROVAL = "approval"
    PASSWORD = "password"
    OFFLINE_RECORD = "offline_record"


class Outcome(StrEnum):
    """What a finished session gives the user, one per result type below."""

    VOUCHER = "voucher"
    """Approved by staff while offline: a voucher code to finish on the user's own device."""
    PASSWORD_SET = "password_set"
    """The new password is set."""
    MFA_ENROLMENT = "mfa_enrolment"
    """Sign-in methods cleared: an enrolment code to register a new one, or an authenticator app's
    enrolment (a QR code to scan) for the new one."""
    SALVAGE_TICKET = "salvage_ticket"
    """A ticket for the former member's cloud data."""
    UNLINKED = "unlinked"
    """The link between card and account is deleted."""
    LINK_STATUS = "link_status"
    """Whether the card is linked to the account, and since when."""
    PRELINKED = "prelinked"
    """The card is now linked to the account."""


@dataclass(frozen=True)
class VoucherIssued:
    outcome: ClassVar[Outcome] = Outcome.VOUCHER
    code: str = field(repr=False)
    #: Where the user finishes with it (None: the help desk says where).
    page: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PasswordSet:
    outcome: ClassVar[Outcome] = Outcome.PASSWORD_SET


@dataclass(frozen=True)
class MfaEnrolment:
    outcome: ClassVar[Outcome] = Outcome.MFA_ENROLMENT
    #: Empty when the server no longer holds it (shown once, already taken), or gave a URI instead.
    code: str = field(repr=False)
    expires_at: dt.datetime | None = None
    #: The authenticator app's ``otpauth://totp/`` enrolment URI, shown as a QR code; empty when the
    #: server hands out an enrolment code (or no longer holds the URI).
    uri: str = field(default="", repr=False)

    @property
    def secret(self) -> str:
        """The URI's base32 secret, for typing into an app that cannot scan (empty without a URI)."""
        found = _SECRET.search(self.uri)
        return found[1].upper() if found else ""


@dataclass(frozen=True)
class SalvageTicket:
    outcome: ClassVar[Outcome] = Outcome.SALVAGE_TICKET
    #: Empty when the server no longer holds it.
    code: str = field(repr=False)
    #: What the ticket opens (``backup``, ``forwarding``, or another mode the server names).
    mode: str = ""
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class Unlinked:
    outcome: ClassVar[Outcome] = Outcome.UNLINKED


@dataclass(frozen=True)
class LinkStatus:
    outcome: ClassVar[Outcome] = Outcome.LINK_STATUS
    linked: bool
    name_on_card: str = ""
    linked_at: dt.datetime | None = None


@dataclass(frozen=True)
class Prelinked:
    outcome: ClassVar[Outcome] = Outcome.PRELINKED


Result = VoucherIssued | PasswordSet | MfaEnrolment | SalvageTicket | Unlinked | LinkStatus | Prelinked


_SECRET = re.compile(r"[?&]secret=([A-Za-z2-7]+)(?:&|$)")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _moment(value: object) -> dt.datetime | None:
    """An ISO 8601 time from the server (UTC if it names no zone), or None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value[:64])
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def result_of(kind: OperationKind, answer: Mapping[str, object]) -> Result:
    """The typed result of a completed (or, for a password reset, approved) operation."""
    if kind is OperationKind.MFA_RESET:
        return MfaEnrolment(_text(answer.get("enrolment_code")), _moment(answer.get("expires_at")),
                            _text(answer.get("enrolment_uri")))
    if kind is OperationKind.SALVAGE:
        return SalvageTicket(_text(answer.get("ticket")), _text(answer.get("mode")),
                             _moment(answer.get("expires_at")))
    if kind is OperationKind.LINK_STATUS:
        return LinkStatus(bool(answer.get("linked")), _text(answer.get("name_on_card")),
                          _moment(answer.get("linked_at")))
    if kind is OperationKind.UNLINK:
        return Unlinked()
    if kind is OperationKind.PRELINK:
        return Prelinked()
    return PasswordSet()


@dataclass(frozen=True)
class View:
    """Everything a screen may show; frozen, and free of secrets."""

    screen: Screen
    language: str
    #: The user asked for larger text (until the session ends).
    large_text: bool = False
    operation: OperationKind | None = None
    account: str | None = None  # masked once verified, as typed before
    reader_ready: bool = False
    card_present: bool = False
    busy: bool = False
    online: bool = True
    tries_left: int | None = None
    pin_digits: int = 0
    cardinfo_tries_left: int | None = None
    device_user_code: str | None = None
    device_uri: str | None = None
    #: How long the wait on screen may last, in seconds from when it began: the sign-in code's
    #: lifetime, or the kiosk's wait for a staff decision (None: no wait, or no limit known).
    wait_seconds: float | None = None
    name_on_record: str | None = None
    password_problems: tuple[str, ...] = ()
    password_policy: dict[str, Any] = field(default_factory=dict)
    #: The account directory refused the password sent (its rule codes, and its own words if any).
    password_refused: tuple[str, ...] = ()
    password_refusal: str | None = None
    #: What the user takes away (the done screen's outcome).
    result: Result | None = None
    error: str | None = None
    #: The step an error happened at, for the remedy's wording.
    error_step: str | None = None
    #: How old the staff roster is, when an offline approval was refused for its age.
    roster_age: dt.timedelta | None = None
