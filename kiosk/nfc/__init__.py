"""The card layer: APDUs, sessions of the card's applications, PC/SC and the simulated card.

Nothing here imports Qt, an HTTP client or SQL; only ``kiosk.nfc.pcsc`` imports pyscard.
"""

from kiosk.nfc.cardinfo import CardInfoSession, HolderName
from kiosk.nfc.connection import ApduChannel, CardConnection, TimedConnection
from kiosk.nfc.jpki import CardKind, JpkiSession, TokenInfo

__all__ = [
    "ApduChannel",
    "CardConnection",
    "CardInfoSession",
    "CardKind",
    "HolderName",
    "JpkiSession",
    "TimedConnection",
    "TokenInfo",
]
