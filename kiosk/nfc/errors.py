"""Typed errors of the card layer.

Each error has a stable ``code``: the UI and the command line turn codes into words in one
table, so nothing here is meant for the person at the counter.
"""

from __future__ import annotations

from enum import StrEnum


class CardCode(StrEnum):
    """The card layer's error codes (``CardError.code``): what went wrong with the reader, the card
    or its PIN. The values are stable: logs, ``kiosk flow`` and the window's words use them."""

    READER_ERROR = "reader.error"
    """The reader or the PC/SC service failed (vanished, stopped, refused)."""
    READER_NONE = "reader.none"
    """No PC/SC reader is connected, or the PC/SC service is not running."""
    READER_NO_EXTENDED_APDU = "reader.no_extended_apdu"
    """The reader refused an extended-length APDU."""
    CARD_ERROR = "card.error"
    """Something else went wrong between the kiosk and the card."""
    ABSENT = "card.absent"
    """No card is on the reader."""
    REMOVED = "card.removed"
    """The card left the reader during an operation (or while the kiosk still needed it)."""
    RESET = "card.reset"
    """The card was reset by someone else; its security state is gone."""
    TIMEOUT = "card.timeout"
    """The card or the reader did not answer in time."""
    MALFORMED_RESPONSE = "card.malformed_response"
    """The card answered something malformed: wrong length, bad TLV, garbage."""
    UNKNOWN = "card.unknown"
    """The card is not a My Number Card (its JPKI application is missing or unexpected)."""
    NO_CARD_INFO = "card.no_card_info"
    """The card has no card-info AP, so the name on the card cannot be read (pre-link)."""
    UNEXPECTED_STATUS = "card.unexpected_status"
    """The card answered a status word the session did not expect."""
    NOT_VERIFIED = "card.not_verified"
    """The card refused because the PIN has not been verified (``69 82``)."""
    UNSUPPORTED_KEY = "card.unsupported_key"
    """The certificate's key type is one this kiosk cannot use yet."""
    PIN_ERROR = "pin.error"
    """Some other problem with the PIN."""
    PIN_FORMAT = "pin.format"
    """The PIN is not of the form the card expects; nothing was sent to the card."""
    PIN_WRONG = "pin.wrong"
    """The card refused the PIN (fewer tries remain)."""
    PIN_BLOCKED = "pin.blocked"
    """The PIN is locked; the card refuses it until it is reset."""
    PIN_LAST_TRY_UNCONFIRMED = "pin.last_try_unconfirmed"
    """Only one try is left and spending it was not confirmed; nothing was sent."""


def tries_left_words(count: int) -> str:
    """``1 try left``, ``2 tries left``: the count of PIN tries in words."""
    return f"{count} {'try' if count == 1 else 'tries'} left"


class CardError(Exception):
    """Anything that went wrong between the kiosk and the card."""

    code: CardCode = CardCode.CARD_ERROR


class ReaderError(CardError):
    """The reader or the PC/SC service failed (vanished, stopped, refused)."""

    code = CardCode.READER_ERROR


class NoReaderError(ReaderError):
    """No PC/SC reader is connected, or the PC/SC service is not running."""

    code = CardCode.READER_NONE


class ExtendedApduUnsupportedError(ReaderError):
    """The reader refused an extended-length APDU."""

    code = CardCode.READER_NO_EXTENDED_APDU


class CardAbsentError(CardError):
    """No card is on the reader."""

    code = CardCode.ABSENT


class CardRemovedError(CardError):
    """The card left the reader during an operation."""

    code = CardCode.REMOVED


class CardResetError(CardError):
    """The card was reset by someone else; its security state is gone (enter the PIN again)."""

    code = CardCode.RESET


class CardTimeoutError(CardError):
    """The card or reader did not answer in time."""

    code = CardCode.TIMEOUT


class CardProtocolError(CardError):
    """The card answered something malformed: wrong length, bad TLV, garbage."""

    code = CardCode.MALFORMED_RESPONSE


class UnknownCardError(CardError):
    """The card is not a My Number Card (the JPKI application is missing or unexpected)."""

    code = CardCode.UNKNOWN


class NoCardInfoError(CardError):
    """The card has no card-info AP (a Basic Resident Registry Card, or a card that answers only the
    JPKI AP): its JPKI AP serves, but nothing that reads the name on the card (pre-link) can."""

    code = CardCode.NO_CARD_INFO


class ApduError(CardError):
    """The card answered a status word the session did not expect."""

    code = CardCode.UNEXPECTED_STATUS

    def __init__(self, sw: int, message: str | None = None) -> None:
        self.sw = sw
        text = f"{sw >> 8:02X} {sw & 0xFF:02X}"
        super().__init__(f"{message}: status {text}" if message else f"status {text}")


class SecurityStatusError(ApduError):
    """The card refused because the PIN has not been verified (``69 82``)."""

    code = CardCode.NOT_VERIFIED


class UnsupportedKeyError(CardError):
    """The certificate's key type is one this kiosk cannot use yet."""

    code = CardCode.UNSUPPORTED_KEY


class PinError(CardError):
    """Base of the PIN errors."""

    code = CardCode.PIN_ERROR


class InvalidPinFormatError(PinError):
    """The PIN is not of the form the card expects; nothing was sent to the card."""

    code = CardCode.PIN_FORMAT


class InvalidPinError(PinError):
    """The card refused the PIN; ``tries_left`` attempts remain."""

    code = CardCode.PIN_WRONG

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__(f"wrong PIN, {tries_left_words(tries_left)}")


class PinBlockedError(PinError):
    """The PIN is locked: the municipal office resets it, or the holder at a convenience store with
    J-LIS's smartphone app if they know their signature certificate's password."""

    code = CardCode.PIN_BLOCKED

    def __init__(self, message: str = "the PIN is blocked") -> None:
        super().__init__(message)


class LastTryNotConfirmedError(PinError):
    """Only one try is left and the caller did not confirm spending it; nothing was sent."""

    code = CardCode.PIN_LAST_TRY_UNCONFIRMED

    def __init__(self) -> None:
        self.tries_left = 1
        super().__init__("one try left: confirm before spending it")
