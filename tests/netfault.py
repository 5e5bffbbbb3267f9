"""A loopback TCP relay in front of the linkage server that a test can cut, slow down or restore.

Real sockets all the way: when the relay is down its port refuses connections (the kiosk sees
the server as unreachable); when it is slow it holds each answer back; when it is up it copies
bytes both ways.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class Relay:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target = (host, target_port)
        probe = socket.socket()
        probe.bind((host, 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.delay = 0.0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._accepting: threading.Thread | None = None
        self._closing = threading.Event()
        self.up()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def up(self) -> None:
        """Listen again on the same port."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(64)
            self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()

    def down(self) -> None:
        """Stop listening and cut every open connection: the server is unreachable."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        if self._accepting is not None:
            self._accepting.join(5)

    def close(self) -> None:
        self._closing.set()
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._connections.update((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        try:
            # The relay may already have been cut (its sockets closed) before this thread ran.
            selector.register(client, selectors.EVENT_READ, server)
            selector.register(server, selectors.EVENT_READ, client)
            while True:
                for key, _ in selector.select(timeout=1.0):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is server and self.delay:
                        self._closing.wait(self.delay)  # the slow server: hold each answer back
                    key.data.sendall(data)
                if self._closing.is_set():
                    return
        except (OSError, ValueError):  # ValueError: a socket closed under us has no descriptor
            return
        finally:
            selector.close()
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._connections.discard(client)
                self._connections.discard(server)
