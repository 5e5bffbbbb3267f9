"""Puts a simulated card behind real pcscd through the ``vsmartcard-vpcd`` reader driver.

vpcd listens on a TCP port per virtual reader; the card is the client. Connecting is inserting the
card, closing the socket is removing it. Each message is a 2-byte big-endian length and a
payload: one byte is a control code, anything longer is a command APDU to answer.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

from kiosk.nfc.sim.card import SimulatedCard

logger = logging.getLogger(__name__)

DEFAULT_PORT = 35963
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
RETRY_INTERVAL = 0.1


class VpcdBridge:
    """Serves one ``SimulatedCard`` to the vpcd reader on ``host:port``."""

    def __init__(self, card: SimulatedCard, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.card = card
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._removed = threading.Event()

    # -- insertion and removal ---------------------------------------------------------

    def insert(self, timeout: float = 10.0) -> None:
        """Put the card on the reader: connect to vpcd (retrying until it listens)."""
        if self._thread is not None and self._thread.is_alive():
            return
        sock = self._connect(time.monotonic() + timeout)
        if sock is None:
            raise ConnectionError(f"vpcd is not listening on {self.host}:{self.port}")
        self._start(sock)

    def remove(self) -> None:
        """Take the card off the reader."""
        self._removed.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.card.remove()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None

    @property
    def inserted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def serve_forever(self, stop: threading.Event) -> None:
        """Keep the card inserted until ``stop`` is set, reconnecting if pcscd restarts (a card
        already inserted stays so)."""
        while not stop.is_set():
            if not self.inserted:
                sock = self._connect(None, stop)
                if sock is None:
                    break
                self._start(sock)
            while self.inserted and not stop.is_set():
                stop.wait(0.2)
            if not stop.is_set():
                logger.info("vpcd closed the connection; waiting for it to come back")
        self.remove()

    # -- internals ---------------------------------------------------------------------

    def _connect(self, deadline: float | None, stop: threading.Event | None = None) -> socket.socket | None:
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except OSError:
                if deadline is not None and time.monotonic() > deadline:
                    return None
                if stop is not None and stop.wait(RETRY_INTERVAL):
                    return None
                if stop is None:
                    time.sleep(RETRY_INTERVAL)  # waiting for pcscd to open the port

    def _start(self, sock: socket.socket) -> None:
        self._sock = sock
        self._removed.clear()
        self.card.insert()
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name=f"vpcd-{self.port}", daemon=True
        )
        self._thread.start()

    def _recv_exact(self, sock: socket.socket, size: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < size:
            # vpcd sends length and payload in two writes: without a quick ACK each APDU
            # waits for the peer's delayed-ACK timer (about 40 ms).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(size - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                header = self._recv_exact(sock, 2)
                if header is None:
                    break
                payload = self._recv_exact(sock, int.from_bytes(header, "big"))
                if payload is None:
                    break
                if len(payload) == 1:
                    code = payload[0]
                    if code == CTRL_ATR:
                        self._send(sock, self.card.atr)
                    elif code in (CTRL_OFF, CTRL_ON, CTRL_RESET):
                        self.card.reset()
                    continue
                reply = self.card.reply(payload)
                if reply.action == "answer":
                    self._send(sock, reply.data)
                elif reply.action == "silence":
                    self._removed.wait()  # say nothing until the card is taken away
                    break
                else:
                    logger.info("simulated card removed mid-command")
                    break
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            if self._sock is sock:
                self._sock = None
            self.card.present = False

    @staticmethod
    def _send(sock: socket.socket, data: bytes) -> None:
        sock.sendall(len(data).to_bytes(2, "big") + data)
