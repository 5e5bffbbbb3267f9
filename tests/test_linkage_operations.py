"""The linkage client against the reference server on loopback: discovery, card verification and
its refusals, and the operations from creation to the staff's decision.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from pathlib import Path

import pytest

from kiosk.linkage import Cancelled, LinkageClient, ServerRefused
from kiosk.nfc.sim import TestHierarchy
from linkserver.config import Lifetimes, Limits
from tests.helpers.linkage_client import (
    LINKED,
    ROOMY,
    STRONG_PASSWORD,
    UNLINKED,
    WEAK_PASSWORD,
    Recorder,
    card_verification,
    config_for,
    staff_decides,
)
from tests.helpers.server_api import stored_password
from tests.linkserver.helpers import LiveServer, live_server

# -- discovery and verification ------------------------------------------------------------------------


def test_server_info_and_health(live: LiveServer, client: LinkageClient, recorder: Recorder) -> None:
    info = client.server_info()
    assert info.issuer == live.base and info.token_url == live.setup.settings.token_url
    assert info.device_authorization_url == live.url("/oauth/device_authorization")
    assert info.sealing_key["kty"] == "EC" and "d" not in info.sealing_key
    assert info.password_policy["min_length"] == 12
    assert re.fullmatch(info.account_id_pattern, LINKED)
    assert info.server_time.tzinfo is not None
    assert client.health() is True
    assert recorder.count("POST", "/oauth/token") == 0  # neither needs a token


def test_a_linked_card_matches_its_account(live: LiveServer, client: LinkageClient) -> None:
    challenge = client.challenge()
    assert challenge.expires_at.tzinfo is not None and "nonce" not in repr(challenge)
    certificate, signature = live.sign("linked", challenge.nonce, LINKED)
    result = client.verify(LINKED, challenge.nonce, certificate, signature)
    assert result.match is True and result.name_on_record
    assert re.fullmatch(r"[A-Za-z0-9_-]+", result.verification_id)
    assert result.expires_at > challenge.expires_at  # a verification outlives its challenge
    assert result.certificate_not_after.tzinfo is not None


def test_no_match_is_an_answer_not_a_refusal(live: LiveServer, client: LinkageClient) -> None:
    result = card_verification(live, client, "linked", UNLINKED)
    assert result.match is False and result.name_on_record is None


@pytest.mark.parametrize(("holder", "account", "signed_for", "code"), [
    ("revoked", "2024000007", None, "revoked"),
    ("expired", "2019000008", None, "expired"),
    ("linked", LINKED, UNLINKED, "bad_signature"),
    ("linked", "not-an-id", None, "invalid_account"),
])
def test_verification_refusals_carry_the_servers_code(live: LiveServer, client: LinkageClient,
                                                      holder: str, account: str, signed_for: str | None,
                                                      code: str) -> None:
    with pytest.raises(ServerRefused) as refused:
        card_verification(live, client, holder, account, signed_for)
    assert refused.value.code == code and refused.value.status in (403, 422)


def test_nonce_refusals(live: LiveServer, client: LinkageClient) -> None:
    challenge = client.challenge()
    certificate, signature = live.sign("linked", challenge.nonce, LINKED)
    client.verify(LINKED, challenge.nonce, certificate, signature)
    with pytest.raises(ServerRefused) as replayed:
        client.verify(LINKED, challenge.nonce, certificate, signature)
    assert replayed.value.code == "replayed_nonce" and replayed.value.status == 403
    with pytest.raises(ServerRefused) as unknown:
        client.verify(LINKED, secrets.token_bytes(32), certificate, signature)
    assert unknown.value.code == "unknown_nonce"
    with pytest.raises(ValueError, match=r"^the nonce must be 16 to 48 bytes$"):
        client.verify(LINKED, b"short", certificate, signature)


def test_rate_limits_are_refusals_with_retry_after(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "s", hierarchy, limits=Limits(kiosk_requests_per_minute=2)) as live:
        recorder = Recorder()
        with LinkageClient(config_for(live), transport=recorder) as client:
            client.challenge()  # the token took one request, this the other
            with pytest.raises(ServerRefused) as refused:
                client.challenge()
    assert refused.value.code == "rate_limited" and refused.value.status == 429
    assert isinstance(refused.value.extra["retry_after"], int) and refused.value.retry_after
    assert recorder.count("POST", "/v1/challenges") == 2  # not retried


# -- operations ----------------------------------------------------------------------------------------


def test_a_password_reset_end_to_end(live: LiveServer, client: LinkageClient, recorder: Recorder,
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(1)
    verification = card_verification(live, client, "linked", LINKED)
    key = f"kiosk-{uuid.uuid4().hex}"
    first = client.create_operation("password_reset", verification.verification_id, {}, key)
    assert first.status == "awaiting_approval" and first.account_id == LINKED
    assert first.created_at.tzinfo is not None
    assert first.session_key is not None and first.session_key not in repr(first)
    operation = client.create_operation("password_reset", verification.verification_id, {}, key)
    assert operation.operation_id == first.operation_id
    assert operation.session_key not in (None, first.session_key)  # a replay hands out a new key
    session_key = operation.session_key
    assert session_key is not None
    with pytest.raises(ServerRefused) as conflict:
        client.create_operation("mfa_reset", verification.verification_id, {}, key)
    assert conflict.value.code == "idempotency_conflict" and conflict.value.status == 409
    before = stored_password(live)
    with pytest.raises(ServerRefused) as early:
        client.set_password(operation.operation_id, STRONG_PASSWORD, session_key)
    assert early.value.code == "wrong_state"
    assert stored_password(live) == before  # nothing kept from the password sent before approval

    # Staff approve once the kiosk is seen keeping the operation alive; the wait ends with the decision.
    polled = threading.Event()
    recorder.watch = (f"/v1/operations/{operation.operation_id}/keepalive", polled)

    def approve() -> None:
        if polled.wait(10):
            staff_decides(live, operation.operation_id)

    staff = threading.Thread(target=approve)
    staff.start()
    decided = client.wait_for_decision(operation.operation_id, session_key, cancel=threading.Event(),
                                       poll=0.05, timeout=10)
    staff.join()
    assert decided.status == "approved" and decided.approved_by == live.setup.staff_id  # not the body's
    assert decided.session_key == session_key
    assert recorder.count("GET", f"/v1/operations/{operation.operation_id}") == 0

    with pytest.raises(ServerRefused) as stolen:
        client.set_password(operation.operation_id, STRONG_PASSWORD, first.session_key or "")
    assert stolen.value.code == "session_key_invalid" and stolen.value.status == 403
    with pytest.raises(ServerRefused) as weak:
        client.set_password(operation.operation_id, WEAK_PASSWORD, session_key)
    assert weak.value.code == "password_policy" and weak.value.status == 422
    assert stored_password(live) == before
    assert "too_short" in weak.value.extra["problems"]  # type: ignore[operator]
    assert weak.value.extra["policy"]["min_length"] == 12  # type: ignore[index]
    assert WEAK_PASSWORD not in str(weak.value) and WEAK_PASSWORD not in repr(weak.value.extra)
    done = client.set_password(operation.operation_id, STRONG_PASSWORD, session_key)
    assert done.status == "completed" and done.result == {"password_set": True}
    assert recorder.count("POST", f"/v1/operations/{operation.operation_id}/password") == 4

    token = client._oauth.token["access_token"]
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        for secret in (STRONG_PASSWORD, WEAK_PASSWORD, token, recorder.forms[-1]["client_assertion"],
                       session_key, first.session_key):
            assert secret not in text, record.name


def test_link_status_is_answered_at_once(live: LiveServer, client: LinkageClient) -> None:
    verification = card_verification(live, client, "linked", LINKED)
    operation = client.create_operation("link_status", verification.verification_id, {}, uuid.uuid4().hex)
    assert operation.status == "completed" and operation.result["linked"] is True
    assert client.get_operation(operation.operation_id) == operation
    with pytest.raises(ServerRefused) as used:
        client.create_operation("link_status", verification.verification_id, {}, uuid.uuid4().hex)
    assert used.value.code == "verification_used"
    with pytest.raises(ServerRefused) as unknown:
        client.get_operation("op_does_not_exist")
    assert unknown.value.code == "operation_unknown" and unknown.value.status == 404


def test_an_operation_without_a_match_is_refused(live: LiveServer, client: LinkageClient) -> None:
    verification = card_verification(live, client, "linked", UNLINKED)
    with pytest.raises(ServerRefused) as refused:
        client.create_operation("mfa_reset", verification.verification_id, {}, uuid.uuid4().hex)
    assert refused.value.code == "no_match" and refused.value.status == 403


@pytest.mark.timeout(60)  # a wait that missed the cancel would poll again 600 s on; bench/ times it
def test_waiting_for_staff_can_be_cancelled_or_time_out(live: LiveServer, client: LinkageClient,
                                                        recorder: Recorder) -> None:
    verification = card_verification(live, client, "linked", LINKED)
    operation = client.create_operation("unlink", verification.verification_id, {}, uuid.uuid4().hex)
    key = operation.session_key
    assert key is not None
    undecided = client.wait_for_decision(operation.operation_id, key, cancel=threading.Event(), timeout=0)
    assert undecided.status == "awaiting_approval"

    cancel = threading.Event()
    polled = threading.Event()
    recorder.watch = (f"/v1/operations/{operation.operation_id}/keepalive", polled)

    def cancel_once_polled() -> None:
        if polled.wait(10):
            cancel.set()

    canceller = threading.Thread(target=cancel_once_polled)
    canceller.start()
    keepalive = f"/v1/operations/{operation.operation_id}/keepalive"
    polls = recorder.count("POST", keepalive)
    with pytest.raises(Cancelled) as cancelled:
        client.wait_for_decision(operation.operation_id, key, cancel=cancel, poll=600, timeout=600)
    canceller.join()
    assert cancelled.value.code == "cancelled"
    assert recorder.count("POST", keepalive) == polls + 1  # woken by the event, not by a second poll
    staff_decides(live, operation.operation_id, approve=False)
    refused = client.wait_for_decision(operation.operation_id, key, cancel=threading.Event())
    assert refused.status == "refused"


def test_cancelling_an_operation_ends_it_on_the_server(live: LiveServer, client: LinkageClient) -> None:
    verification = card_verification(live, client, "linked", LINKED)
    operation = client.create_operation("password_reset", verification.verification_id, {}, uuid.uuid4().hex)
    key = operation.session_key
    assert key is not None
    cancelled = client.cancel_operation(operation.operation_id, key, reason="user_cancelled")
    assert cancelled.status == "cancelled"
    assert client.cancel_operation(operation.operation_id, key).status == "cancelled"  # idempotent
    with live.minted_staff() as staff:
        late = staff.post(live.url(f"/v1/staff/operations/{operation.operation_id}/decision"),
                          json={"approve": True, "staff_id": "yamada.t"})
    assert late.status_code == 409 and late.json()["error"] == "operation_cancelled"
    before = stored_password(live)
    with pytest.raises(ServerRefused) as refused:
        client.set_password(operation.operation_id, STRONG_PASSWORD, key)
    assert refused.value.code == "operation_cancelled"
    assert stored_password(live) == before
    with pytest.raises(ServerRefused) as foreign:
        client.cancel_operation(operation.operation_id, "not-the-key")
    assert foreign.value.code == "session_key_invalid"


def test_keepalives_hold_the_operation_until_they_stop(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "s", hierarchy, limits=ROOMY,
                     lifetimes=Lifetimes(keepalive_timeout_seconds=2)) as server, \
            LinkageClient(config_for(server)) as linkage:
        verification = card_verification(server, linkage, "linked", LINKED)
        operation = linkage.create_operation("unlink", verification.verification_id, {}, uuid.uuid4().hex)
        key = operation.session_key
        assert key is not None
        # Waiting longer than the timeout: the keep-alives hold it.
        held = linkage.wait_for_decision(operation.operation_id, key, cancel=threading.Event(), poll=0.5,
                                         timeout=3)
        assert held.status == "awaiting_approval"
        deadline = time.monotonic() + 15
        state = linkage.get_operation(operation.operation_id)
        while state.status == "awaiting_approval" and time.monotonic() < deadline:
            time.sleep(0.2)
            state = linkage.get_operation(operation.operation_id)
        assert state.status == "expired" and state.error_code == "kiosk_gone"
        assert linkage.keep_alive(operation.operation_id, key).status == "expired"
