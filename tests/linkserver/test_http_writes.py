"""Answers written to the socket once (``linkserver.http_writes``): over a real socket on libuv's
event loop, and through uvicorn serving a streamed answer on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx2
import pytest
import uvicorn
import uvloop

from linkserver.http_guard import UVICORN_OPTIONS
from linkserver.http_writes import JoinedWrites, JoinedWritesProtocol

Scenario = Callable[[JoinedWrites, asyncio.Transport], Awaitable[None]]


class Counted:
    """A real transport, its writes counted on the way through."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def over_a_socket(scenario: Scenario) -> tuple[list[bytes], bytes]:
    """Run ``scenario`` on a ``JoinedWrites`` over one end of a socket pair, on uvloop; the
    writes that reached the transport and all the other end received until it was closed."""
    ours, theirs = socket.socketpair()
    counted: list[Counted] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        counted.append(Counted(transport))
        await scenario(JoinedWrites(counted[0], loop), transport)  # type: ignore[arg-type]
        if not transport.is_closing():
            transport.close()
        await asyncio.sleep(0)  # one turn: the transport's own close

    with theirs:
        uvloop.run(main())
        received = bytearray()
        while chunk := theirs.recv(65536):
            received += chunk
    return counted[0].writes, bytes(received)


def test_writes_in_one_turn_reach_the_socket_as_one() -> None:
    async def scenario(joined: JoinedWrites, transport: asyncio.Transport) -> None:
        joined.write(b"HTTP/1.1 200 OK\r\n\r\n")
        joined.write(memoryview(b"body"))
        assert joined.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
        await asyncio.sleep(0)  # the turn ends
        joined.write(b", then more")
        await asyncio.sleep(0)

    writes, received = over_a_socket(scenario)
    assert writes == [b"HTTP/1.1 200 OK\r\n\r\nbody", b", then more"]
    assert received == b"HTTP/1.1 200 OK\r\n\r\nbody, then more"


def test_closing_writes_what_is_held_first_and_aborting_drops_it() -> None:
    async def closes(joined: JoinedWrites, transport: asyncio.Transport) -> None:
        joined.write(b"last words")
        joined.close()
        await asyncio.sleep(0)

    async def aborts(joined: JoinedWrites, transport: asyncio.Transport) -> None:
        joined.write(b"never sent")
        joined.abort()
        await asyncio.sleep(0)

    assert over_a_socket(closes) == ([b"last words"], b"last words")
    assert over_a_socket(aborts) == ([], b"")


def test_nothing_is_written_to_a_transport_already_closing() -> None:
    async def scenario(joined: JoinedWrites, transport: asyncio.Transport) -> None:
        joined.write(b"too late")
        transport.close()  # the real one, as a lost connection closes it
        await asyncio.sleep(0)

    assert over_a_socket(scenario) == ([], b"")


@pytest.fixture
def streaming_server() -> Iterator[tuple[str, threading.Event]]:
    """uvicorn with ``JoinedWritesProtocol`` on loopback, serving an answer whose second part is
    sent only once the test has read the first."""
    first_read = threading.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
        await asyncio.get_running_loop().run_in_executor(None, first_read.wait, 10)
        await send({"type": "http.response.body", "body": b"second\n"})

    options = {**UVICORN_OPTIONS, "http": JoinedWritesProtocol}
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **options))
    listening = socket.create_server(("127.0.0.1", 0))  # connections wait in its backlog for uvicorn
    port = listening.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/", first_read
    finally:
        first_read.set()
        server.should_exit = True
        thread.join(10)
        listening.close()


def test_a_streamed_answer_goes_out_part_by_part(streaming_server: tuple[str, threading.Event]) -> None:
    url, first_read = streaming_server
    with httpx2.stream("GET", url, timeout=10) as answer:
        lines = answer.iter_lines()
        assert answer.status_code == 200
        assert next(lines) == "first"  # held no longer than its turn: the app waits for this read
        first_read.set()
        assert next(lines) == "second"


def test_the_server_runs_with_joined_writes() -> None:
    config = uvicorn.Config(lambda *_: None, **UVICORN_OPTIONS)
    config.load()
    assert config.http_protocol_class is JoinedWritesProtocol
