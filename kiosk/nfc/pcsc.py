"""The PC/SC backend: the only module of the kiosk that imports pyscard.

Every PC/SC call of a connection runs on that connection's card thread with a deadline, and
PC/SC result codes become the card layer's typed errors here, once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from smartcard import scard

from kiosk.nfc.apdu import split_response
from kiosk.nfc.connection import CardThread
from kiosk.nfc.errors import (
    CardAbsentError,
    CardError,
    CardRemovedError,
    CardResetError,
    CardTimeoutError,
    ExtendedApduUnsupportedError,
    NoReaderError,
    ReaderError,
)
from kiosk.nfc.events import EventKind, ReaderEvent

logger = logging.getLogger(__name__)

PNP_NOTIFICATION = "\\\\?PnP?\\Notification"
#: SCardStatus state bit "card present" (pcsc-lite's SCARD_PRESENT; pyscard does not export it).
_STATUS_PRESENT = 0x0004
DEFAULT_TIMEOUT = 5.0
#: How long an empty answer waits for the reader to report the card gone.
REMOVAL_GRACE = 1.0
WATCH_POLL_MS = 500

_SERVICE_GONE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_NO_READERS_AVAILABLE,
}
_READER_GONE = {scard.SCARD_E_READER_UNAVAILABLE, scard.SCARD_E_UNKNOWN_READER}
_CARD_ABSENT = {scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_REMOVED_CARD}
#: What a reader answers when it cannot pass an extended-length APDU.
_EXTENDED_REFUSED = {
    scard.SCARD_E_NOT_TRANSACTED,
    scard.SCARD_E_INSUFFICIENT_BUFFER,
    scard.SCARD_E_INVALID_PARAMETER,
    scard.SCARD_E_INVALID_VALUE,
}


def _message(hresult: int) -> str:
    try:
        text = scard.SCardGetErrorMessage(hresult)
    except Exception:  # pyscard raises on unknown codes on some platforms
        text = "unknown error"
    return f"{text} (0x{hresult & 0xFFFFFFFF:08X})"


def error_for(hresult: int, what: str, *, during_transmit: bool = False) -> CardError:
    """The typed error for a PC/SC result code."""
    text = f"{what}: {_message(hresult)}"
    if hresult in _SERVICE_GONE:
        return NoReaderError(text)
    if hresult in _READER_GONE:
        return ReaderError(text)
    if hresult == scard.SCARD_W_REMOVED_CARD or (during_transmit and hresult in _CARD_ABSENT):
        return CardRemovedError(text)
    if hresult in _CARD_ABSENT:
        return CardAbsentError(text)
    if hresult == scard.SCARD_W_RESET_CARD:
        return CardResetError(text)
    if hresult == scard.SCARD_E_TIMEOUT:
        return CardTimeoutError(text)
    if hresult in (scard.SCARD_W_UNRESPONSIVE_CARD, scard.SCARD_W_UNPOWERED_CARD):
        return CardRemovedError(text)
    return ReaderError(text)


def _is_extended(apdu: bytes) -> bool:
    return len(apdu) > 5 and apdu[4] == 0


def list_readers(timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """Names of the connected PC/SC readers; NoReaderError when the service is not running."""

    def query() -> list[str]:
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise error_for(hresult, "connecting to the PC/SC service")
        try:
            hresult, names = scard.SCardListReaders(context, [])
            if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
                return []
            if hresult != scard.SCARD_S_SUCCESS:
                raise error_for(hresult, "listing readers")
            return list(names)
        finally:
            scard.SCardReleaseContext(context)

    thread = CardThread("pcsc-list")
    try:
        return thread.call(query, timeout)
    finally:
        thread.close()


class PcscConnection:
    """A connection to the card on one reader; a ``CardConnection``."""

    def __init__(self, reader: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.reader = reader
        self.timeout = timeout
        self._thread = CardThread(f"card:{reader}")
        self._context: Any = None
        self._card: Any = None
        self._protocol: int = 0
        self._broken = False
        self.atr = b""
        self._call(self._connect)

    # -- the card thread ---------------------------------------------------------------

    def _call(self, fn: Callable[[], Any]) -> Any:
        if self._broken:
            raise CardTimeoutError("the reader stopped answering; take the card off and on again")
        try:
            return self._thread.call(fn, self.timeout)
        except CardTimeoutError:
            # The abandoned thread still holds this PC/SC context: never touch it again.
            self._broken = True
            raise

    def _connect(self) -> None:
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise error_for(hresult, "connecting to the PC/SC service")
        hresult, card, protocol = scard.SCardConnect(
            context, self.reader, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        if hresult != scard.SCARD_S_SUCCESS:
            scard.SCardReleaseContext(context)
            raise error_for(hresult, f"connecting to the card on {self.reader}")
        self._context, self._card, self._protocol = context, card, protocol
        self.atr = self._read_atr()
        logger.debug("connected to %s (protocol %d)", self.reader, protocol)

    def _read_atr(self) -> bytes:
        hresult, _reader, _state, _protocol, atr = scard.SCardStatus(self._card)
        if hresult != scard.SCARD_S_SUCCESS:
            raise error_for(hresult, "reading the card status")
        return bytes(atr)

    def _reconnect(self, initialization: int = scard.SCARD_LEAVE_CARD) -> None:
        hresult, protocol = scard.SCardReconnect(
            self._card, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1, initialization,
        )
        if hresult != scard.SCARD_S_SUCCESS:
            raise error_for(hresult, "reconnecting to the card")
        self._protocol = protocol

    def _transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._card is None:
            raise CardRemovedError("the connection is closed")
        hresult, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if hresult == scard.SCARD_W_RESET_CARD:
            # Someone reset the card: reconnect so the next command works, and tell the session
            # that the card's selection and PIN state are gone.
            self._reconnect()
            raise CardResetError("the card was reset; its PIN state is gone")
        if hresult != scard.SCARD_S_SUCCESS:
            if not self._card_present():
                raise CardRemovedError(f"the card left the reader ({_message(hresult)})")
            if hresult in _EXTENDED_REFUSED and _is_extended(apdu):
                raise ExtendedApduUnsupportedError(_message(hresult))
            raise error_for(hresult, "exchanging an APDU", during_transmit=True)
        if len(response) < 2 and self._removal_follows():
            raise CardRemovedError("the card left the reader mid-command")
        return split_response(response)

    def _removal_follows(self, within: float = REMOVAL_GRACE) -> bool:
        """Whether the card leaves the reader within ``within`` seconds.

        A card taken away mid-command can give an empty answer before the reader reports it gone;
        waiting briefly for the reader's verdict names the fault right.
        """
        try:
            return _await_presence(self._context, self.reader, False, within)
        except CardError:
            return True  # the reader itself is gone: so is the card

    def _card_present(self) -> bool:
        # A failed exchange is often the card leaving mid-command; say so rather than
        # blaming the reader.
        hresult, _reader, state, _protocol, _atr = scard.SCardStatus(self._card)
        if hresult != scard.SCARD_S_SUCCESS:
            return hresult not in _CARD_ABSENT
        return bool(state & _STATUS_PRESENT)

    # -- CardConnection ----------------------------------------------------------------

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        result: tuple[bytes, int] = self._call(lambda: self._transmit(apdu))
        return result

    def reset_card(self) -> None:
        """Warm-reset the card: its selection and PIN state are gone for every connection."""
        self._call(lambda: self._reconnect(scard.SCARD_RESET_CARD))

    def close(self) -> None:
        """Release the card and the PC/SC context (safe to call twice)."""
        def release() -> None:
            if self._card is not None:
                scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
                self._card = None
            if self._context is not None:
                scard.SCardReleaseContext(self._context)
                self._context = None

        if not self._broken:
            try:
                self._call(release)
            except CardError:
                logger.debug("closing %s failed", self.reader, exc_info=True)
        self._thread.close()

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CardWatcher:
    """Watches every reader for cards coming and going, and readers appearing.

    Events go to ``on_event`` through ``deliver`` (by default a dispatch thread of the watcher's
    own), never on the thread that talks to PC/SC: a GUI passes a ``deliver`` that posts to its
    event loop.
    """

    def __init__(
        self,
        on_event: Callable[[ReaderEvent], None],
        *,
        deliver: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self._on_event = on_event
        self._deliver = deliver
        self._stop = threading.Event()
        self._context: Any = None
        self._context_lock = threading.Lock()
        self._queue: queue.SimpleQueue[ReaderEvent | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._watch, name="pcsc-watch", daemon=True)
        self._dispatcher: threading.Thread | None = None
        if deliver is None:
            self._dispatcher = threading.Thread(
                target=self._dispatch, name="pcsc-events", daemon=True
            )

    def start(self) -> CardWatcher:
        if self._dispatcher is not None:
            self._dispatcher.start()
        self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        with self._context_lock:
            if self._context is not None:
                scard.SCardCancel(self._context)
        self._thread.join(timeout)
        self._queue.put(None)
        if self._dispatcher is not None and self._dispatcher is not threading.current_thread():
            self._dispatcher.join(timeout)

    def __enter__(self) -> CardWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- delivery ----------------------------------------------------------------------

    def _emit(self, event: ReaderEvent) -> None:
        if self._deliver is not None:
            self._deliver(lambda: self._on_event(event))
        else:
            self._queue.put(event)

    def _dispatch(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self._on_event(event)
            except Exception:
                logger.exception("card event handler failed")

    # -- the watch loop ----------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.is_set():
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                self._emit(ReaderEvent(EventKind.SERVICE_LOST, ""))
                self._stop.wait(1.0)
                continue
            with self._context_lock:
                self._context = context
            try:
                self._watch_context(context)
            finally:
                with self._context_lock:
                    self._context = None
                scard.SCardReleaseContext(context)

    def _watch_context(self, context: Any) -> None:
        present: dict[str, bool] = {}
        states: dict[str, int] = {PNP_NOTIFICATION: scard.SCARD_STATE_UNAWARE}
        self._refresh_readers(context, present, states)
        while not self._stop.is_set():
            query = [(name, state) for name, state in states.items()]
            hresult, result = scard.SCardGetStatusChange(context, WATCH_POLL_MS, query)
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            if hresult == scard.SCARD_E_CANCELLED:
                return
            if hresult in _SERVICE_GONE or hresult == scard.SCARD_E_INVALID_HANDLE:
                for name, was_present in present.items():
                    if was_present:
                        self._emit(ReaderEvent(EventKind.CARD_REMOVED, name))
                self._emit(ReaderEvent(EventKind.SERVICE_LOST, ""))
                self._stop.wait(1.0)
                return
            if hresult != scard.SCARD_S_SUCCESS:
                logger.warning("watching readers: %s", _message(hresult))
                self._stop.wait(0.5)
                continue
            readers_changed = False
            for name, event_state, atr in result:
                states[name] = event_state & ~scard.SCARD_STATE_CHANGED
                if name == PNP_NOTIFICATION:
                    readers_changed = readers_changed or bool(event_state & scard.SCARD_STATE_CHANGED)
                    continue
                is_present = _is_present(event_state)
                if is_present != present.get(name, False):
                    present[name] = is_present
                    kind = EventKind.CARD_INSERTED if is_present else EventKind.CARD_REMOVED
                    self._emit(ReaderEvent(kind, name, bytes(atr) if is_present else b""))
            if readers_changed:
                self._refresh_readers(context, present, states)

    def _refresh_readers(
        self, context: Any, present: dict[str, bool], states: dict[str, int]
    ) -> None:
        hresult, names = scard.SCardListReaders(context, [])
        names = list(names) if hresult == scard.SCARD_S_SUCCESS else []
        for name in [n for n in states if n != PNP_NOTIFICATION and n not in names]:
            del states[name]
            if present.pop(name, False):
                self._emit(ReaderEvent(EventKind.CARD_REMOVED, name))
            self._emit(ReaderEvent(EventKind.READER_REMOVED, name))
        for name in names:
            if name not in states:
                states[name] = scard.SCARD_STATE_UNAWARE
                present[name] = False
                self._emit(ReaderEvent(EventKind.READER_ADDED, name))


def _is_present(state: int) -> bool:
    """Whether a reader state says a working card is on the reader."""
    return bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE


def _await_presence(context: Any, reader: str, present: bool, timeout: float) -> bool:
    """Block until a card is on (or off) ``reader``; False if that did not happen in time."""
    state = scard.SCARD_STATE_UNAWARE
    deadline = time.monotonic() + timeout
    while True:
        remaining = int(max(0.0, deadline - time.monotonic()) * 1000)
        hresult, result = scard.SCardGetStatusChange(context, remaining, [(reader, state)])
        if hresult == scard.SCARD_E_TIMEOUT:
            return False
        if hresult != scard.SCARD_S_SUCCESS:
            raise error_for(hresult, f"watching {reader}")
        state = result[0][1]
        if _is_present(state) == present:
            return True
        state &= ~scard.SCARD_STATE_CHANGED
        if remaining == 0:
            return False


def wait_for_card(reader: str, present: bool = True, timeout: float = 10.0) -> bool:
    """Block until a card is on (or off) ``reader``; False if that did not happen in time."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise error_for(hresult, "connecting to the PC/SC service")
    try:
        return _await_presence(context, reader, present, timeout)
    finally:
        scard.SCardReleaseContext(context)


def wait_for_any_card(readers: list[str], timeout: float) -> str | None:
    """The first of ``readers``, in their order, with a card on it, waiting up to ``timeout`` for one;
    None if no card came. A timeout of 0 answers at once."""
    if not readers:
        return None
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise error_for(hresult, "connecting to the PC/SC service")
    try:
        states = [(reader, scard.SCARD_STATE_UNAWARE) for reader in readers]
        deadline = time.monotonic() + timeout
        while True:
            remaining = int(max(0.0, deadline - time.monotonic()) * 1000)
            hresult, result = scard.SCardGetStatusChange(context, remaining, states)
            if hresult == scard.SCARD_E_TIMEOUT:
                return None
            if hresult != scard.SCARD_S_SUCCESS:
                raise error_for(hresult, "watching the readers")
            for reader, state, _atr in result:
                if _is_present(state):
                    return str(reader)
            if remaining == 0:
                return None
            states = [(reader, state & ~scard.SCARD_STATE_CHANGED) for reader, state, _atr in result]
    finally:
        scard.SCardReleaseContext(context)
