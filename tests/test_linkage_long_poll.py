"""A staff decision reaches the waiting kiosk at once: the keep-alive is a long-poll that the server
answers when staff decide, not when the kiosk next asks; a kiosk that leaves costs nothing."""

from __future__ import annotations

import threading
import uuid

import httpx2
import pytest

from kiosk.linkage import Cancelled, LinkageClient
from linkserver.wakeups import Wakeups
from tests.helpers.linkage_client import LINKED, Recorder, card_verification, staff_decides
from tests.linkserver.helpers import LiveServer

NEVER_AGAIN = 600.0  # a poll interval no test waits out: only a long-poll can end these waits


def waiting_operation(live: LiveServer, client: LinkageClient) -> tuple[str, str]:
    verification = card_verification(live, client, "linked", LINKED)
    operation = client.create_operation("mfa_reset", verification.verification_id, {}, uuid.uuid4().hex)
    assert operation.status == "awaiting_approval" and operation.session_key is not None
    return operation.operation_id, operation.session_key


def wakeups(live: LiveServer) -> Wakeups:
    found: Wakeups = live.server.app.state.services.wakeups
    return found


def test_the_decision_answers_the_long_poll_under_way(live: LiveServer, client: LinkageClient,
                                                      recorder: Recorder) -> None:
    operation_id, key = waiting_operation(live, client)
    assert client.long_poll == 8.0  # the default read timeout, 10 s, less two
    def decide() -> None:
        assert wakeups(live).until_waiters(lambda n: n > 0, 30)  # the long-poll is held
        staff_decides(live, operation_id)

    decider = threading.Thread(target=decide)
    decider.start()
    decided = client.wait_for_decision(operation_id, key, cancel=threading.Event(), poll=NEVER_AGAIN,
                                       timeout=30)
    decider.join()
    assert decided.status == "completed"
    # One keep-alive: the server held it and answered it with the decision. Without the long-poll
    # the kiosk would have asked again only after its 30 s.
    assert recorder.count("POST", f"/v1/operations/{operation_id}/keepalive") == 1
    assert wakeups(live).until_waiters(lambda n: n == 0, 30)


def test_ending_the_session_ends_its_long_poll(live: LiveServer, client: LinkageClient) -> None:
    operation_id, key = waiting_operation(live, client)
    cancel = threading.Event()

    def leave() -> None:
        assert wakeups(live).until_waiters(lambda n: n > 0, 30)
        cancel.set()
        client.cancel_operation(operation_id, key, reason="user_cancelled")  # as the flow's end does

    leaving = threading.Thread(target=leave)
    leaving.start()
    with pytest.raises(Cancelled, match="cancelled"):
        client.wait_for_decision(operation_id, key, cancel=cancel, poll=NEVER_AGAIN, timeout=30)
    leaving.join()
    assert live.latest_operation(LINKED) == (operation_id, "cancelled", "user_cancelled")


def test_a_long_poll_holds_the_operation_and_is_bounded(live: LiveServer, client: LinkageClient) -> None:
    operation_id, key = waiting_operation(live, client)
    url = live.url(f"/v1/operations/{operation_id}/keepalive")
    with live.minted() as kiosk:
        for wait in ("-1", "10.5", "soon"):
            refused = kiosk.post(url, params={"wait": wait}, headers={"Session-Key": key})
            assert refused.status_code == 422, wait
        answer = kiosk.post(url, params={"wait": "0.3"}, headers={"Session-Key": key})
    assert answer.status_code == 200 and answer.json()["status"] == "awaiting_approval"
    assert wakeups(live).waiters == 0


def test_a_kiosk_that_drops_its_long_poll_leaves_no_waiter(live: LiveServer, client: LinkageClient) -> None:
    operation_id, key = waiting_operation(live, client)
    with live.minted() as kiosk, pytest.raises(httpx2.ReadTimeout):
        kiosk.post(live.url(f"/v1/operations/{operation_id}/keepalive"), params={"wait": "3"},
                   headers={"Session-Key": key}, timeout=httpx2.Timeout(5, read=0.5))
    assert wakeups(live).until_waiters(lambda n: n == 0, 30)  # the hold ended; nothing is left behind
    assert live.latest_operation(LINKED) == (operation_id, "awaiting_approval", None)
