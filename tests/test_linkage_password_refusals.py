"""The kiosk's linkage client sending a new password that the reference server must refuse: before
staff approve, after staff refused, after the kiosk cancelled (while waiting or after approval),
after the operation expired (its keep-alives stopped, or the password window passed), with
another operation's session key, and as another kiosk.

Each refusal reaches the kiosk as ``ServerRefused`` with the server's code, and right after it the
account's stored password (its hash and when it last changed, as the directory's table holds them)
is what it was. The expiries run on servers whose keep-alive timeout or password window is one
second, waiting for the operation's status to say so.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.linkage import LinkageClient, Operation, ServerRefused
from kiosk.nfc.sim import TestHierarchy
from linkserver.config import Lifetimes
from linkserver.passwords import password_matches
from tests.helpers.linkage_client import (
    LINKED,
    ROOMY,
    STRONG_PASSWORD,
    card_verification,
    config_for,
    staff_decides,
)
from tests.helpers.server_api import register_kiosk, stored_password
from tests.linkserver.helpers import LiveServer, live_server


def requested(live: LiveServer, client: LinkageClient) -> Operation:
    """A password reset awaiting staff, with its session key."""
    verification = card_verification(live, client, "linked", LINKED)
    operation = client.create_operation("password_reset", verification.verification_id, {}, uuid.uuid4().hex)
    assert operation.status == "awaiting_approval" and operation.session_key is not None
    return operation


def key_of(operation: Operation) -> str:
    assert operation.session_key is not None
    return operation.session_key


def decided(live: LiveServer, client: LinkageClient, operation: Operation, approve: bool = True) -> Operation:
    """Staff decide; the kiosk sees it in its wait (by keep-alives)."""
    staff_decides(live, operation.operation_id, approve)
    seen = client.wait_for_decision(operation.operation_id, key_of(operation), cancel=threading.Event(),
                                    poll=0.05, timeout=10)
    assert seen.status == ("approved" if approve else "refused")
    return seen


def assert_refused_and_nothing_stored(live: LiveServer, client: LinkageClient, operation: Operation,
                                      session_key: str, code: str, status: int) -> None:
    password = f"{STRONG_PASSWORD}-{uuid.uuid4().hex[:8]}"  # this test's own
    before = stored_password(live)
    with pytest.raises(ServerRefused) as refused:
        client.set_password(operation.operation_id, password, session_key)
    assert (refused.value.code, refused.value.status) == (code, status)
    assert stored_password(live) == before  # right after the refusal
    assert not password_matches(before[0], password)


# -- on the shared server -------------------------------------------------------------------------------

#: What happens before the password is sent; the client that sends it and the session key it gives.
Route = Callable[[LiveServer, LinkageClient, Operation, Path], tuple[LinkageClient, str]]


def before_approval(live: LiveServer, client: LinkageClient, op: Operation,
                    _folder: Path) -> tuple[LinkageClient, str]:
    return client, key_of(op)


def refused_by_staff(live: LiveServer, client: LinkageClient, op: Operation,
                     _folder: Path) -> tuple[LinkageClient, str]:
    decided(live, client, op, approve=False)
    return client, key_of(op)


def cancelled_while_waiting(live: LiveServer, client: LinkageClient, op: Operation,
                            _folder: Path) -> tuple[LinkageClient, str]:
    assert client.cancel_operation(op.operation_id, key_of(op), reason="user_cancelled").status == "cancelled"
    return client, key_of(op)


def cancelled_after_approval(live: LiveServer, client: LinkageClient, op: Operation,
                             _folder: Path) -> tuple[LinkageClient, str]:
    decided(live, client, op)
    assert client.cancel_operation(op.operation_id, key_of(op), reason="card_removed").status == "cancelled"
    return client, key_of(op)


def another_operations_key(live: LiveServer, client: LinkageClient, op: Operation,
                           _folder: Path) -> tuple[LinkageClient, str]:
    decided(live, client, op)
    return client, key_of(requested(live, client))


def another_kiosk(live: LiveServer, client: LinkageClient, op: Operation,
                  folder: Path) -> tuple[LinkageClient, str]:
    decided(live, client, op)
    client_id = f"kiosk-other-{uuid.uuid4().hex[:8]}"
    config = dataclasses.replace(config_for(live), client_id=client_id,
                                 key_path=register_kiosk(live, folder, client_id))
    return LinkageClient(config), key_of(op)  # with the right key, even


ROUTES = [  # the route; the refusal's code and HTTP status
    (before_approval, "wrong_state", 409),
    (refused_by_staff, "wrong_state", 409),
    (cancelled_while_waiting, "operation_cancelled", 409),
    (cancelled_after_approval, "operation_cancelled", 409),
    (another_operations_key, "session_key_invalid", 403),
    (another_kiosk, "operation_unknown", 404),
]


@pytest.mark.parametrize(("route", "code", "status"), ROUTES, ids=[route[0].__name__ for route in ROUTES])
def test_a_refused_password_is_not_stored(live: LiveServer, client: LinkageClient, tmp_path: Path,
                                          route: Route, code: str, status: int) -> None:
    operation = requested(live, client)
    sender, key = route(live, client, operation, tmp_path)
    try:
        assert_refused_and_nothing_stored(live, sender, operation, key, code, status)
    finally:
        if sender is not client:
            sender.close()


# -- expired: on a server with a one-second lifetime ---------------------------------------------------


def expired(client: LinkageClient, operation: Operation) -> Operation:
    """The operation once the server says it has expired (reading it applies the expiry)."""
    deadline = time.monotonic() + 15  # a hang guard: the lifetime is one second
    seen = client.get_operation(operation.operation_id)
    while seen.status != "expired" and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = client.get_operation(operation.operation_id)
    return seen


@pytest.fixture(params=["keepalive_timeout_seconds", "password_window_seconds"])
def short_lived(request: pytest.FixtureRequest, tmp_path: Path,
                hierarchy: TestHierarchy) -> Iterator[tuple[str, LiveServer]]:
    """A server on which one lifetime is a second: the keep-alive timeout or the password window."""
    lifetimes = Lifetimes(**{request.param: 1})
    with live_server(tmp_path / "s", hierarchy, limits=ROOMY, lifetimes=lifetimes) as server:
        yield request.param, server


def test_a_password_for_an_expired_operation_is_not_stored(short_lived: tuple[str, LiveServer]) -> None:
    lifetime, server = short_lived
    with LinkageClient(config_for(server)) as client:
        operation = requested(server, client)
        if lifetime == "password_window_seconds":
            decided(server, client, operation)  # approved, then no password within the window
        seen = expired(client, operation)
        reason = "kiosk_gone" if lifetime == "keepalive_timeout_seconds" else "password_window_passed"
        assert (seen.status, seen.error_code) == ("expired", reason)
        assert_refused_and_nothing_stored(server, client, operation, key_of(operation),
                                          "operation_expired", 409)
