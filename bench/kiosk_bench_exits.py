"""The kiosk benchmark's ways out of the linkage client: how long each takes to end in its error.

Three figures, each over ``repeat`` tries (tests/test_linkage_faults.py and
tests/test_linkage_operations.py assert the errors; these are their times):

  closed port     ``server_info()`` against a loopback port nobody listens on, with the kiosk's
                  default retries and backoff, until ``ServerUnreachable``;
  silent server   ``server_info()`` against a server that accepts connections and never answers,
                  with a read timeout of SILENT_READ_TIMEOUT s and one retry, until ``ServerUnreachable``;
  cancelled wait  the wait for a staff decision (polling every 30 s) from the moment its cancel event
                  is set until ``Cancelled``; then ``cancel_operation``'s round trip.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.linkage import LinkageClient, LinkageConfig, signed_message
from kiosk.linkage.errors import Cancelled, LinkageError, ServerUnreachable
from kiosk.nfc.sim import TestHierarchy
from tests.linkserver.helpers import free_port

SILENT_READ_TIMEOUT = 0.3
#: What a wait polls at: far longer than any figure here, so that only the cancel event ends it.
WAIT_POLL = 30.0


@dataclass
class ExitRow:
    way: str
    error: str
    floor_ms: float
    median_ms: float
    max_ms: float


def row(way: str, error: str, floor_ms: float, seconds: list[float]) -> ExitRow:
    ms = [s * 1000 for s in seconds]
    return ExitRow(way, error, floor_ms, statistics.median(ms), max(ms))


def until(error: type[LinkageError], call: Callable[[], object]) -> float:
    """The seconds ``call`` takes to raise ``error``; anything else it does is a failure."""
    start = time.perf_counter()
    try:
        call()
    except error:
        return time.perf_counter() - start
    raise RuntimeError(f"expected {error.__name__}, the call returned")


def floor_ms(config: LinkageConfig, read_timeouts: bool) -> float:
    """What the client must wait whatever it does: its nominal backoff between tries, and with
    ``read_timeouts`` the read timeout of every try."""
    backoff = sum(config.backoff * 2**tries for tries in range(config.retries))
    return (backoff + (config.retries + 1) * config.read_timeout * read_timeouts) * 1000


def unreachable(key_path: Path, repeat: int) -> list[ExitRow]:
    """A closed port, then a server that never answers."""
    closed = LinkageConfig(f"http://127.0.0.1:{free_port()}", "kiosk-bench", key_path)
    seconds = []
    for _ in range(repeat):
        with LinkageClient(closed) as client:
            seconds.append(until(ServerUnreachable, client.server_info))
    rows = [row("closed port", "ServerUnreachable", floor_ms(closed, False), seconds)]
    with socket.create_server(("127.0.0.1", 0), backlog=64) as silent:  # nobody ever reads
        config = LinkageConfig(f"http://127.0.0.1:{silent.getsockname()[1]}", "kiosk-bench", key_path,
                               read_timeout=SILENT_READ_TIMEOUT, retries=1, backoff=0.01)
        seconds = []
        for _ in range(repeat):
            with LinkageClient(config) as client:
                seconds.append(until(ServerUnreachable, client.server_info))
    rows.append(row("silent server", "ServerUnreachable", floor_ms(config, True), seconds))
    return rows


class WatchedEvent(threading.Event):
    """A cancel event that tells when someone first waits on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited_on = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waited_on.set()
        return super().wait(timeout)


def cancelled_waits(linkage: LinkageClient, hierarchy: TestHierarchy, kiosk_id: str, holder: str,
                    account: str, repeat: int) -> list[ExitRow]:
    """Operations awaiting staff, each wait cancelled once it is waiting, then withdrawn."""
    key = hierarchy.holder(holder).auth_key
    certificate = hierarchy.holder(holder).auth_certificate.public_bytes(Encoding.DER)
    waits, withdrawals = [], []
    for _ in range(repeat):
        nonce = linkage.challenge().nonce
        signature = key.sign(signed_message(nonce, kiosk_id, account), padding.PKCS1v15(), hashes.SHA256())
        verification = linkage.verify(account, nonce, certificate, signature)
        operation = linkage.create_operation("unlink", verification.verification_id, {}, uuid.uuid4().hex)
        session_key = operation.session_key or ""
        cancel = WatchedEvent()
        ended: list[float] = []

        def wait(operation_id: str = operation.operation_id, cancel: WatchedEvent = cancel,
                 ended: list[float] = ended, session_key: str = session_key) -> None:
            try:
                linkage.wait_for_decision(operation_id, session_key, cancel=cancel, poll=WAIT_POLL)
            except Cancelled:
                ended.append(time.perf_counter())

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        if not cancel.waited_on.wait(30):
            raise RuntimeError("the wait for a staff decision never began waiting")
        cancelled_at = time.perf_counter()
        cancel.set()
        waiter.join(30)
        if not ended:
            raise RuntimeError("a cancelled wait did not end in Cancelled")
        waits.append(ended[0] - cancelled_at)
        start = time.perf_counter()
        withdrawn = linkage.cancel_operation(operation.operation_id, session_key, "user_cancelled")
        if withdrawn.status != "cancelled":
            raise RuntimeError("the operation was not cancelled on the server")
        withdrawals.append(time.perf_counter() - start)
    return [row("cancelled wait", "Cancelled", 0.0, waits),
            row("cancel_operation", "(status cancelled)", 0.0, withdrawals)]


def measure_exits(key_path: Path, linkage: LinkageClient, hierarchy: TestHierarchy, kiosk_id: str,
                  holder: str, account: str, repeat: int) -> tuple[list[ExitRow], str | None]:
    """Every way out's row, and what stopped the measuring early (None if nothing did)."""
    rows: list[ExitRow] = []
    try:
        rows += unreachable(key_path, repeat)
        rows += cancelled_waits(linkage, hierarchy, kiosk_id, holder, account, repeat)
    except (LinkageError, RuntimeError, OSError) as exc:
        return rows, f"{type(exc).__name__}: {exc}"
    return rows, None


def print_exits(rows: list[ExitRow]) -> None:
    print("\nWays out of the linkage client, each until its error (floor: the nominal backoff between\n"
          "tries, jittered by 25 % either way, and the read timeouts it must wait):\n")
    header = f"{'way out':17} {'error':19} {'floor':>7} {'median':>8} {'max':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.way:17} {r.error:19} {r.floor_ms:7.0f} {r.median_ms:8.2f} {r.max_ms:8.2f}")
