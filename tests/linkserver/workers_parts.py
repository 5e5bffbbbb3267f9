"""``kiosk-linkserver --workers N`` on PostgreSQL from a test's side: the server process, its worker
processes, which worker holds which client's connection, and bursts of requests released at once.

Each client of a burst connects from a loopback address of its own (127.0.x.y), so that the
server's end of its connection can be found in ``/proc/net/tcp`` and, by its socket inode, in the
file descriptors of the one worker process that accepted it and answers on it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx2

from bench.linkserver_prepare import make_kiosks
from bench.server_process import ServerProcess, start_server
from kiosk.nfc.sim import TestHierarchy
from linkserver.config import load_settings
from linkserver.demo import DemoSetup, prepare_demo
from tests.linkserver.helpers import free_port

T = TypeVar("T")
#: Tries at opening a set of connections that reaches every worker before a test gives up.
SPREAD_TRIES = 20
ESTABLISHED = "01"


@dataclass
class WorkersServer:
    """The demo on PostgreSQL, served by ``kiosk-linkserver --workers N``, with extra kiosk clients."""

    setup: DemoSetup
    server: ServerProcess
    port: int
    workers: int
    #: (client ID, private key path) of the kiosks registered besides the demo's
    kiosks: list[tuple[str, Path]]

    @property
    def base(self) -> str:
        return self.server.base


def write_limits(config: Path, limits: dict[str, int]) -> None:
    """Append a ``[limits]`` table to the demo configuration and check that it loads as written."""
    table = "".join(f"{name} = {value}\n" for name, value in limits.items())
    with config.open("a", encoding="utf-8") as out:
        out.write(f"\n[limits]\n{table}")
    loaded = load_settings(config).limits
    assert {name: getattr(loaded, name) for name in limits} == limits


@contextlib.contextmanager
def workers_server(folder: Path, hierarchy: TestHierarchy, database_url: str, *, workers: int,
                   limits: dict[str, int], kiosks: int = 0) -> Iterator[WorkersServer]:
    """Prepare the demo in ``folder`` on ``database_url``, register ``kiosks`` more kiosk clients and
    serve it with ``workers`` worker processes until the block ends."""
    port = free_port()
    setup = prepare_demo(folder / "state", hierarchy.path, issuer=f"http://127.0.0.1:{port}",
                         database_url=database_url)
    write_limits(setup.config_path, limits)
    registered = make_kiosks(folder / "state", setup.settings, kiosks) if kiosks else []
    server = start_server(setup.config_path, port, folder / "server.log", workers=workers)
    try:
        yield WorkersServer(setup, server, port, workers, registered)
    finally:
        server.stop()


def server_pids(server: ServerProcess) -> set[int]:
    """The server's process and those it started: its workers if it has more than one (and the
    resource tracker of their spawning), else itself serving."""
    children = {server.process.pid}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == server.process.pid:
            children.add(int(entry.name))
    return children


def _hex_address(field: str) -> tuple[str, int]:
    host, port = field.split(":")
    return str(ipaddress.IPv4Address(bytes.fromhex(host)[::-1])), int(port, 16)


def connection_owners(server: WorkersServer) -> dict[str, int]:
    """Client address -> the worker process holding the server's end of that client's open connection."""
    by_inode: dict[str, str] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        (_, local_port), (client, _) = _hex_address(fields[1]), _hex_address(fields[2])
        if local_port == server.port and fields[3] == ESTABLISHED:
            by_inode[f"socket:[{fields[9]}]"] = client
    owners = {}
    for pid in server_pids(server.server):
        with contextlib.suppress(OSError):  # a process that is gone holds nothing
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    client = by_inode.get(os.readlink(fd))
                    if client is not None:
                        owners[client] = pid
    return owners


@dataclass
class Connection:
    """One client with one keep-alive connection from its own loopback address."""

    address: str
    client: httpx2.Client


def open_connections(server: WorkersServer, count: int, net: int, workers: int,
                     headers: dict[str, str] | None = None) -> list[Connection]:
    """``count`` clients from 127.``net``.0.1 on, each connected with a harmless request, on
    connections that reach ``workers`` worker processes between them. The kernel hands a new
    connection to whichever worker accepts first, so a set that landed on fewer is opened again."""
    for _ in range(SPREAD_TRIES):
        connections = [Connection(f"127.{net}.0.{i + 1}", httpx2.Client(
            transport=httpx2.HTTPTransport(local_address=f"127.{net}.0.{i + 1}"), headers=headers,
            timeout=60)) for i in range(count)]
        answers = burst(connections, lambda c: c.client.get(server.base + "/v1/codes"))
        assert {a.status_code for a in answers} == {200}
        owners = connection_owners(server)
        if len({owners.get(c.address) for c in connections} - {None}) == workers:
            return connections
        close(connections)
    raise AssertionError(f"{SPREAD_TRIES} sets of {count} connections never reached {workers} workers")


def close(connections: list[Connection]) -> None:
    for connection in connections:
        connection.client.close()


def burst(connections: list[Connection], action: Callable[[Connection], T]) -> list[T]:
    """``action`` on every connection, each on a thread of its own, all released at the same moment."""
    start = threading.Barrier(len(connections))

    def run(connection: Connection) -> T:
        start.wait(30)
        return action(connection)

    with ThreadPoolExecutor(len(connections)) as pool:
        return list(pool.map(run, connections))
