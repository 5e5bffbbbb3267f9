"""Typed errors of the card layer.

Each error has a stable ``code``: the UI and the command line turn codes into words in one
table, so nothing here is meant for the person at the counter.
"""

from __future__ import annotations


def tries_left_words(count: int) -> str:
    """``1 try left``, ``2 tries left``: the count of PIN tries in words."""
    return f"{count} {'try' if count == 1 else 'tries'} left"


class CardError(Exception):
    """Anything that went wrong between the kiosk and the card."""

    code = "card.error"


class ReaderError(CardError):
    """The reader or the PC/SC service failed (vanished, stopped, refused)."""

    code = "reader.error"


class NoReaderError(ReaderError):
    """No PC/SC reader is connected, or the PC/SC service is not running."""

    code = "reader.none"


class ExtendedApduUnsupportedError(ReaderError):
    """The reader refused an extended-length APDU."""

    code = "reader.no_extended_apdu"


class CardAbsentError(CardError):
    """No card is on the reader."""

    code = "card.absent"


class CardRemovedError(CardError):
    """The card left the reader during an operation."""

    code = "card.removed"


class CardResetError(CardError):
    """The card was reset by someone else; its security state is gone (enter the PIN again)."""

    code = "card.reset"


class CardTimeoutError(CardError):
    """The card or reader did not answer in time."""

    code = "card.timeout"


class CardProtocolError(CardError):
    """The card answered something malformed: wrong length, bad TLV, garbage."""

    code = "card.malformed_response"


class UnknownCardError(CardError):
    """The card is not a My Number Card (the JPKI application is missing or unexpected)."""

    code = "card.unknown"


class NoCardInfoError(CardError):
    """The card has no card-info AP (a Basic Resident Registry Card, or a card that answers only the
    JPKI AP): its JPKI AP serves, but nothing that reads the name on the card (pre-link) can."""

    code = "card.no_card_info"


class ApduError(CardError):
    """The card answered a status word the session did not expect."""

    code = "card.unexpected_status"

    def __init__(self, sw: int, message: str | None = None) -> None:
        self.sw = sw
        text = f"{sw >> 8:02X} {sw & 0xFF:02X}"
        super().__init__(f"{message}: status {text}" if message else f"status {text}")


class SecurityStatusError(ApduError):
    """The card refused because the PIN has not been verified (``69 82``)."""

    code = "card.not_verified"


class UnsupportedKeyError(CardError):
    """The certificate's key type is one this kiosk cannot use yet."""

    code = "card.unsupported_key"


class PinError(CardError):
    """Base of the PIN errors."""

    code = "pin.error"


class InvalidPinFormatError(PinError):
    """The PIN is not of the form the card expects; nothing was sent to the card."""

    code = "pin.format"


class InvalidPinError(PinError):
    """The card refused the PIN; ``tries_left`` attempts remain."""

    code = "pin.wrong"

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__(f"wrong PIN, {tries_left_words(tries_left)}")


class PinBlockedError(PinError):
    """The PIN is locked: the municipal office resets it, or the holder at a convenience store with
    J-LIS's smartphone app if they know their signature certificate's password."""

    code = "pin.blocked"

    def __init__(self, message: str = "the PIN is blocked") -> None:
        super().__init__(message)


class LastTryNotConfirmedError(PinError):
    """Only one try is left and the caller did not confirm spending it; nothing was sent."""

    code = "pin.last_try_unconfirmed"

    def __init__(self) -> None:
        self.tries_left = 1
        super().__init__("one try left: confirm before spending it")
