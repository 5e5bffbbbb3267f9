"""What the JPKI and card-info sessions share: selection, file reads and PIN handling."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from kiosk.nfc import tlv
from kiosk.nfc.apdu import (
    CLA_ISO,
    INS_VERIFY,
    SHORT_NE_MAX,
    SW,
    CommandApdu,
    counter_from_sw,
    read_binary,
    select_df,
    select_ef,
)
from kiosk.nfc.connection import ApduChannel, CardConnection
from kiosk.nfc.errors import (
    ApduError,
    CardError,
    CardProtocolError,
    CardResetError,
    ExtendedApduUnsupportedError,
    InvalidPinError,
    InvalidPinFormatError,
    LastTryNotConfirmedError,
    PinBlockedError,
    UnknownCardError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

PIN_DIGITS = frozenset(b"0123456789")


def pin_bytes(pin: str | bytes | bytearray, length: int) -> bytearray:
    """The PIN as the bytes the card expects, or InvalidPinFormatError; nothing is sent here.

    The caller's buffer is copied into a fresh one that the session wipes after the VERIFY.
    """
    if isinstance(pin, str):
        if not pin.isascii():
            raise InvalidPinFormatError(f"the PIN must be {length} digits")
        raw = bytearray(pin, "ascii")
    else:
        raw = bytearray(pin)
    if len(raw) != length or not set(raw) <= PIN_DIGITS:
        raw[:] = b"\x00" * len(raw)
        raise InvalidPinFormatError(f"the PIN must be {length} digits")
    return raw


class ApplicationSession:
    """A selected card application.

    Subclasses name their AID, the files they may read, and the files they must never select.
    ``channel`` may be shared between sessions on the same card, so the reader's extended-APDU
    capability is learned once.
    """

    AID: bytes = b""
    NAME = "application"
    #: Files this session refuses to select, whatever the caller asks.
    FORBIDDEN_EFS: frozenset[int] = frozenset()
    #: Tries of a full PIN counter.
    PIN_MAX_TRIES = 3
    #: Raised when the card has no such application.
    ABSENT: type[CardError] = UnknownCardError

    def __init__(self, connection: CardConnection | ApduChannel) -> None:
        self.channel = connection if isinstance(connection, ApduChannel) else ApduChannel(connection)
        self._tries: dict[int, int] = {}
        self.select()

    # -- selection ---------------------------------------------------------------------

    def select(self) -> None:
        """Select this application; drops any verified PIN state on the card.

        The PIN counters this session learned stay known: selecting changes none of them.
        """
        self.channel.selected_aid = self.channel.selected_ef = None
        _data, sw = self.channel.transmit(select_df(self.AID))
        if sw in (SW.FILE_NOT_FOUND, SW.INCORRECT_P1P2, SW.FUNCTION_NOT_SUPPORTED):
            raise self.ABSENT(f"the card has no {self.NAME}")
        if sw != SW.OK:
            raise ApduError(sw, f"selecting the {self.NAME}")
        self.channel.selected_aid = self.AID

    def _ensure_selected(self) -> None:
        """Select this application again if another session (or a reset) moved the card away.

        On the card, that also drops this application's verified PIN state.
        """
        if self.channel.selected_aid != self.AID:
            self.select()

    def _select_ef(self, fid: int) -> None:
        if fid in self.FORBIDDEN_EFS:
            raise PermissionError(f"EF {fid:04X} is never selected by this kiosk")
        self._ensure_selected()
        if self.channel.selected_ef == fid:
            return
        self.channel.selected_ef = None
        self.channel.send(select_ef(fid), f"selecting EF {fid:04X}")
        self.channel.selected_ef = fid

    def _after_reset(self, fn: Callable[[], T]) -> T:
        """Run an idempotent read; after a card reset, re-select and run it once more."""
        try:
            return fn()
        except CardResetError:
            logger.info("card was reset; selecting the %s again", self.NAME)
            self._tries.clear()  # whoever reset the card may have spent tries meanwhile
            self.select()
            return fn()

    # -- reading files -----------------------------------------------------------------

    def _read_chunk(self, offset: int, ne: int) -> bytes:
        """One READ BINARY; extended when ``ne`` needs it and the reader allows it."""
        channel = self.channel
        if ne > SHORT_NE_MAX and channel.extended_supported is not False:
            try:
                data, sw = channel.transmit(read_binary(offset, ne, extended=True))
            except ExtendedApduUnsupportedError:
                sw, data = SW.WRONG_LENGTH, b""
            if sw == SW.WRONG_LENGTH:
                logger.info("reader or card refused an extended READ BINARY; using short reads")
                channel.extended_supported = False
            elif sw == SW.OK:
                channel.extended_supported = True
                return data
            else:
                raise ApduError(sw, f"reading at offset {offset}")
        return self.channel.send(
            read_binary(offset, min(ne, SHORT_NE_MAX)), f"reading at offset {offset}"
        )

    def _read_range(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes from ``offset`` of the selected file."""
        out = bytearray()
        while len(out) < length:
            chunk = self._read_chunk(offset + len(out), length - len(out))
            if not chunk:
                raise CardProtocolError(f"file ended at {offset + len(out)}, expected more")
            out += chunk
        if len(out) != length:
            raise CardProtocolError(f"asked for {length} bytes, received {len(out)}")
        return bytes(out)

    def _read_tlv_file(self, fid: int, max_length: int, expected_tag: int) -> bytes:
        """The BER-TLV element at the start of ``fid``, sized from its own header."""
        self._select_ef(fid)
        first = self._read_chunk(0, SHORT_NE_MAX)
        try:
            tag, after_tag = tlv.read_tag(first)
            length, after_length = tlv.read_length(first, after_tag)
        except tlv.TlvError as exc:
            raise CardProtocolError(f"EF {fid:04X}: {exc}") from exc
        if tag != expected_tag:
            raise CardProtocolError(f"EF {fid:04X} starts with tag {tag:X}")
        total = after_length + length
        if total > max_length:
            raise CardProtocolError(f"EF {fid:04X} announces {total} bytes (limit {max_length})")
        if len(first) >= total:
            return first[:total]
        return first + self._read_range(len(first), total - len(first))

    # -- PIN -----------------------------------------------------------------------------

    def _tries_left(self, pin_fid: int, known: bool = False) -> int:
        """The PIN's tries left, asked of the card; with ``known``, what this session last learned
        (from a query or a VERIFY's answer), asking only if it learned nothing yet."""
        if known and pin_fid in self._tries:
            return self._tries[pin_fid]

        def query() -> int:
            self._select_ef(pin_fid)
            _, sw = self.channel.transmit(CommandApdu(CLA_ISO, INS_VERIFY, 0x00, 0x80))
            tries = counter_from_sw(sw)
            if tries is None:
                if sw in (SW.AUTH_METHOD_BLOCKED, SW.REFERENCE_DATA_NOT_USABLE):
                    tries = 0
                elif sw == SW.OK:  # some cards answer so once verified: the counter is full
                    tries = self.PIN_MAX_TRIES
                else:
                    raise ApduError(sw, "reading the PIN counter")
            self._tries[pin_fid] = tries
            return tries

        return self._after_reset(query)

    def _verify(
        self, pin_fid: int, pin: str | bytes | bytearray, length: int, confirm_last_try: bool
    ) -> None:
        secret = pin_bytes(pin, length)
        try:
            self._ensure_selected()
            tries = self._tries.get(pin_fid)
            if tries is None:
                tries = self._tries_left(pin_fid)
            if tries == 0:
                raise PinBlockedError()
            if tries == 1 and not confirm_last_try:
                raise LastTryNotConfirmedError()
            self._select_ef(pin_fid)
            _, sw = self.channel.transmit(CommandApdu(CLA_ISO, INS_VERIFY, 0x00, 0x80, bytes(secret)))
        finally:
            secret[:] = b"\x00" * len(secret)
        if sw == SW.OK:
            self._tries[pin_fid] = self.PIN_MAX_TRIES
            return
        left = counter_from_sw(sw)
        if left is not None:
            self._tries[pin_fid] = left
            if left == 0:
                raise PinBlockedError("the PIN is now blocked")
            raise InvalidPinError(left)
        if sw in (SW.AUTH_METHOD_BLOCKED, SW.REFERENCE_DATA_NOT_USABLE):
            self._tries[pin_fid] = 0
            raise PinBlockedError()
        raise ApduError(sw, "verifying the PIN")

