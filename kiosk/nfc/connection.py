"""The card connection protocol, the APDU channel above it, and the card thread.

A ``CardConnection`` is the one method every transport offers: the pyscard backend, the
in-process simulated card, or anything else that can exchange bytes with a card. Sessions never
see more than this, so the same session code runs on a real reader and in tests.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol, TypeVar, runtime_checkable

from kiosk.nfc.apdu import (
    CLA_ISO,
    SHORT_NE_MAX,
    SW,
    CommandApdu,
    is_status_word,
    sw_text,
)
from kiosk.nfc.errors import (
    ApduError,
    CardError,
    CardProtocolError,
    CardResetError,
    CardTimeoutError,
    ReaderError,
    SecurityStatusError,
)

logger = logging.getLogger(__name__)

#: APDU traffic is logged below DEBUG, and VERIFY data never.
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

#: How many ``61 xx`` continuations one command may chain before the card is judged broken.
MAX_RESPONSE_CHAIN = 64
#: No response of any card this kiosk reads is longer than this.
MAX_RESPONSE_DATA = 65536

T = TypeVar("T")


@runtime_checkable
class CardConnection(Protocol):
    """Exchange one command APDU for its response data and status word."""

    def transmit(self, apdu: bytes) -> tuple[bytes, int]: ...


class ApduChannel:
    """Sends commands over a connection: logging with secrets redacted, ``61xx``/``6Cxx``
    handling, length checks, and a count of APDUs for benchmarks."""

    def __init__(self, connection: CardConnection) -> None:
        self.connection = connection
        self.apdu_count = 0
        #: Whether the reader passes extended APDUs; None until a session has tried one.
        self.extended_supported: bool | None = None
        #: What the card has selected, as far as the sessions on this channel know.
        self.selected_aid: bytes | None = None
        self.selected_ef: int | None = None

    def transmit(self, command: CommandApdu) -> tuple[bytes, int]:
        """Send ``command``; return its data and final status word, without judging the word."""
        data, sw = self._exchange(command)
        if sw >> 8 == 0x6C and command.ne is not None:
            # Wrong Le: the card says how many bytes it has; ask again once.
            retry = CommandApdu(
                command.cla, command.ins, command.p1, command.p2, command.data,
                ne=(sw & 0xFF) or SHORT_NE_MAX, extended=command.extended,
            )
            data, sw = self._exchange(retry)
        chunks = [data]
        total = len(data)
        for _ in range(MAX_RESPONSE_CHAIN):
            if sw >> 8 != 0x61:
                break
            more, sw = self._exchange(
                CommandApdu(CLA_ISO, 0xC0, 0, 0, ne=(sw & 0xFF) or SHORT_NE_MAX)
            )
            chunks.append(more)
            total += len(more)
            if total > MAX_RESPONSE_DATA:
                raise CardProtocolError("response longer than any this card can send")
        else:
            raise CardProtocolError("response chaining did not end")
        data = b"".join(chunks)
        if command.ne is None and data:
            raise CardProtocolError(f"{len(data)} unexpected response bytes")
        if command.ne is not None and len(data) > command.ne:
            raise CardProtocolError(f"asked for {command.ne} bytes, received {len(data)}")
        return data, sw

    def send(self, command: CommandApdu, what: str = "") -> bytes:
        """Send ``command`` and return its data; any status but ``90 00`` raises."""
        data, sw = self.transmit(command)
        if sw == SW.OK:
            return data
        if sw == SW.SECURITY_STATUS_NOT_SATISFIED:
            raise SecurityStatusError(sw, what or None)
        raise ApduError(sw, what or None)

    def _exchange(self, command: CommandApdu) -> tuple[bytes, int]:
        raw = command.to_bytes()
        if logger.isEnabledFor(TRACE):
            logger.log(TRACE, "> %s", command.redacted_hex())
        self.apdu_count += 1
        try:
            data, sw = self.connection.transmit(raw)
        except CardResetError:
            self.selected_aid = self.selected_ef = None
            raise
        if not isinstance(data, bytes | bytearray) or not 0 <= sw <= 0xFFFF:
            raise CardProtocolError("transport returned a malformed response")
        if not is_status_word(sw):
            # Garbage, whatever its last two bytes look like: never read as a wrong PIN or a refusal.
            raise CardProtocolError(f"the card's answer ends in {sw_text(sw)}, which is no status word")
        if logger.isEnabledFor(TRACE):
            logger.log(TRACE, "< %s (%d bytes) %s", bytes(data[:16]).hex(" ").upper(),
                       len(data), sw_text(sw))
        return bytes(data), sw


class CardThread:
    """One thread that owns every call to a card, with a deadline on each call.

    A call that overruns its deadline raises ``CardTimeoutError``; the thread, stuck in the
    transport, is abandoned and the next call gets a fresh one, so a silent card can never hang
    the caller.
    """

    def __init__(self, name: str = "card") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None] | None
        self._queue = None
        self._thread: threading.Thread | None = None

    def _ensure_thread(self) -> queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None]:
        with self._lock:
            if self._queue is None:
                q: queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None]
                q = queue.SimpleQueue()
                thread = threading.Thread(target=self._run, args=(q,), name=self._name, daemon=True)
                thread.start()
                self._queue, self._thread = q, thread
            return self._queue

    @staticmethod
    def _run(q: queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None]) -> None:
        while True:
            item = q.get()
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # delivered to the caller, never lost on this thread
                future.set_exception(exc)

    def is_current(self) -> bool:
        """Whether the calling thread is this card thread."""
        return threading.current_thread() is self._thread

    def call(self, fn: Callable[[], T], timeout: float) -> T:
        """Run ``fn`` on the card thread and wait at most ``timeout`` seconds for it."""
        if self.is_current():
            return fn()
        future: Future[T] = Future()
        self._ensure_thread().put((fn, future))  # type: ignore[arg-type]
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            self._abandon()
            raise CardTimeoutError(f"no answer from the card within {timeout:g} s") from None

    def _abandon(self) -> None:
        with self._lock:
            if self._queue is not None:
                self._queue.put(None)
            self._queue, self._thread = None, None

    def close(self) -> None:
        """Stop the thread once the call it is running (if any) returns."""
        self._abandon()


class TimedConnection:
    """Any ``CardConnection`` driven from a card thread with a deadline per APDU."""

    def __init__(self, connection: CardConnection, timeout: float = 5.0) -> None:
        self.connection = connection
        self.timeout = timeout
        self._thread = CardThread("card-inproc")

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        try:
            return self._thread.call(lambda: self.connection.transmit(apdu), self.timeout)
        except CardError:
            raise
        except Exception as exc:  # a transport's own failure becomes a typed error
            raise ReaderError(f"transport failed: {type(exc).__name__}") from exc

    def close(self) -> None:
        self._thread.close()
