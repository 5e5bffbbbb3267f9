"""What moves the flow: the intents the screens and the window send, and the work that finishes.

An intent's value is the name a screen emits (``intent(name, argument)``); ``ARGUMENTS`` gives the
type of its argument (None: it takes none). ``Work`` is what the flow itself started off the
screen's thread and hears back about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


@dataclass(frozen=True)
class StaffCredential:
    """A staff member's offline approval as typed: their staff ID and offline PIN (wiped once checked)."""

    staff_id: str
    pin: bytearray = field(repr=False)


class Intent(StrEnum):
    """What the person at the counter (through a screen) or the window asks of the flow."""

    CHOOSE = "choose"
    """Start an operation (argument: its ``OperationKind``)."""
    SUBMIT_ACCOUNT = "submit_account"
    """The account ID typed (argument: the text)."""
    PIN_DIGIT = "pin_digit"
    """One digit typed on a PIN pad (argument: the digit)."""
    PIN_BACKSPACE = "pin_backspace"
    """Take back the last PIN digit."""
    PIN_CLEAR = "pin_clear"
    """Take back every PIN digit."""
    PIN_SUBMIT = "pin_submit"
    """The PIN is complete: check it."""
    CONFIRM_LAST_TRY = "confirm_last_try"
    """Spend the PIN's last try (argument: True), or not (False)."""
    ANSWER_SAME_PIN = "answer_same_pin"
    """Pre-link: whether the card-information PIN is the same as the identification PIN."""
    CONFIRM_UNLINK = "confirm_unlink"
    """Delete the link (argument: True), or keep it (False)."""
    PASSWORD_CHANGED = "password_changed"
    """The new password as typed so far, for the rules it still breaks (argument: the text)."""
    SUBMIT_PASSWORD = "submit_password"
    """Set the new password (argument: a ``bytearray``, wiped once sent)."""
    APPROVE_OFFLINE = "approve_offline"
    """Staff approve while the server is away (argument: a ``StaffCredential``)."""
    CANCEL = "cancel"
    """Give up: back to the start with nothing kept."""
    FINISH = "finish"
    """From the done or the error screen: the next person's start screen."""
    SET_LANGUAGE = "set_language"
    """Switch the language (argument: ``ja`` or ``en``)."""
    SET_LARGE_TEXT = "set_large_text"
    """Larger text (argument: True) or the normal size (False), until the session ends."""
    IDLE_TIMEOUT = "idle_timeout"
    """The window: nobody touched the screen for the idle timeout."""
    READER_STATUS = "reader_status"
    """The window: the reader became ready or unready (argument: bool)."""
    CARD_INSERTED = "card_inserted"
    """The window: a card was put on the reader."""
    CARD_REMOVED = "card_removed"
    """The window: the card was taken off the reader."""
    DISPLAY_FAILED = "display_failed"
    """The window: it could not show a screen (argument: the state it failed to show)."""


#: The type of each intent's argument (None: it takes none).
ARGUMENTS: Mapping[Intent, type | None] = MappingProxyType({
    Intent.CHOOSE: str, Intent.SUBMIT_ACCOUNT: str, Intent.PIN_DIGIT: str, Intent.PIN_BACKSPACE: None,
    Intent.PIN_CLEAR: None, Intent.PIN_SUBMIT: None, Intent.CONFIRM_LAST_TRY: bool,
    Intent.ANSWER_SAME_PIN: bool, Intent.CONFIRM_UNLINK: bool, Intent.PASSWORD_CHANGED: str,
    Intent.SUBMIT_PASSWORD: bytearray, Intent.APPROVE_OFFLINE: StaffCredential, Intent.CANCEL: None,
    Intent.FINISH: None, Intent.SET_LANGUAGE: str, Intent.SET_LARGE_TEXT: bool, Intent.IDLE_TIMEOUT: None,
    Intent.READER_STATUS: bool,
    Intent.CARD_INSERTED: None, Intent.CARD_REMOVED: None, Intent.DISPLAY_FAILED: str,
})
#: The intents only the window sends (the reader's events, the idle timer and a screen it could not
#: show); screens send the rest.
FROM_WINDOW = frozenset({Intent.IDLE_TIMEOUT, Intent.READER_STATUS, Intent.CARD_INSERTED,
                         Intent.CARD_REMOVED, Intent.DISPLAY_FAILED})


class Work(StrEnum):
    """Work the flow ran off the screen's thread, come back with its value."""

    DEVICE_STARTED = "device_started"
    """Pre-link: the phone sign-in began (value: the ``DeviceAuthorization`` to show)."""
    ACCOUNT_PROVED = "account_proved"
    """Pre-link: the user signed in on their phone (value: the account token)."""
    CARD_READ = "card_read"
    """The card was read before the PIN (value: card, verification, ``CardReady``)."""
    VERIFIED = "verified"
    """The PIN and the card's signature were checked (value: the ``VerificationResult``)."""
    CARDINFO_TRIES = "cardinfo_tries"
    """Pre-link: the card-information PIN's tries left (value: the count)."""
    NAME_READ = "name_read"
    """Pre-link: the name on the card was read with the card-information PIN (value: the name)."""
    DECIDED = "decided"
    """The server answered the request, after staff where they decide (value: the ``Operation``)."""
    PASSWORD_SET = "password_set"
    """The new password was set (value: the ``Operation``)."""
    RECORDED = "recorded"
    """Offline: the approved request was kept in the outbox (value: the ``Voucher``)."""
    FAILED = "failed"
    """Any of these failed (value: the exception and the ``Step``)."""


#: What moves the flow from one state to the next.
Event = Intent | Work
