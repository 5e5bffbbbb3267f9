"""Plain words for every error code of the card layer, for the command line.

The window has its own translated table keyed by the same codes.
"""

from __future__ import annotations

from kiosk.nfc.errors import CardError, InvalidPinError, tries_left_words

MESSAGES: dict[str, str] = {
    "card.error": "The card could not be read. Take it off the reader and place it again.",
    "reader.error": "The card reader stopped working. Check its cable, then try again.",
    "reader.none": "No card reader was found, or the PC/SC service (pcscd) is not running.",
    "reader.no_extended_apdu": "The reader refused a long command; the kiosk reads in short steps.",
    "card.absent": "No card is on the reader.",
    "card.removed": "The card was taken off the reader. Place it again and leave it there.",
    "card.reset": "The card was reset. Place it again and enter the PIN once more.",
    "card.timeout": "The card did not answer. Take it off the reader and place it again.",
    "card.malformed_response": "The card answered something unreadable. Place it again; "
    "if this repeats, the card may be damaged.",
    "card.unknown": "This is not a My Number Card.",
    "card.no_card_info": "This card has no card-info application, so it cannot be used to link a card "
    "(linking reads the name on the card from it); its certificate serves everything else.",
    "card.unexpected_status": "The card refused the request.",
    "card.not_verified": "The card needs the PIN first.",
    "card.unsupported_key": "This card's key type is not supported by this kiosk yet.",
    "pin.error": "The PIN could not be checked.",
    "pin.format": "The PIN is 4 digits.",
    "pin.wrong": "Wrong PIN.",
    "pin.blocked": "The PIN is locked. It can be reset at your municipal office, or, with the signature "
    "certificate's password, at a convenience store after applying with J-LIS's smartphone app.",
    "pin.last_try_unconfirmed": "Only one try is left: a wrong PIN now locks the card.",
}


def describe(error: CardError) -> str:
    """One line for a person: the words for the error's code, with the tries left if any."""
    text = MESSAGES.get(error.code, MESSAGES["card.error"])
    if isinstance(error, InvalidPinError):
        text += f" {tries_left_words(error.tries_left).capitalize()}."
    return text
