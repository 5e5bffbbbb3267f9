"""The operation service over a stand-in for the linkage port: what each step sends, what it gives
back, and the code each way out of a staff wait ends with.

No card is needed here: a request starts from a verification result, built as the verification
service returns it. What the real client does with these calls is tested over the real server.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from dataclasses import replace

import pytest

from kiosk.linkage import OperationKind, OperationStatus, ServerRefused, ServerUnreachable
from kiosk.services.errors import OperationError, ServiceCode
from kiosk.services.operations import (
    NEEDS_STAFF,
    OFFLINE_CAPABLE,
    EndReason,
    OperationService,
    withdrawn_because,
)
from kiosk.services.verification import OfflineProof, VerificationResult
from tests.services.service_parts import ACCOUNT, SESSION_KEY, Clock, FakeLinkage, operation

NOT_AFTER = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
K = OperationKind
S = OperationStatus


def verified(match: bool | None = True, *, online: bool = True,
             verification_id: str | None = "ver-1") -> VerificationResult:
    """A verification result as the verification service hands it on."""
    proof = None if online else OfflineProof(1, 1_700_000_000, b"c" * 32, b"cert", b"sig")
    return VerificationResult(ACCOUNT, "20******01", match, None, NOT_AFTER, online,
                              verification_id=verification_id, offline=proof)


@pytest.fixture
def linkage() -> FakeLinkage:
    return FakeLinkage(Clock())


@pytest.fixture
def service(linkage: FakeLinkage) -> OperationService:
    return OperationService(linkage.port, approval_timeout=42.0)


# -- the request ----------------------------------------------------------------------------------


def test_a_request_carries_the_kind_the_verification_the_params_and_a_fresh_key(
        service: OperationService) -> None:
    first = service.request("salvage", verified(), mode="backup")
    again = service.request("salvage", verified(), mode="backup")
    assert first.kind is K.SALVAGE and first.verification_id == "ver-1"
    assert first.params == {"mode": "backup"}
    assert re.fullmatch(r"kiosk-[0-9a-f]{32}", first.idempotency_key)
    assert again.idempotency_key != first.idempotency_key  # each request is its own, once


def test_an_unknown_kind_is_refused_in_words(service: OperationService) -> None:
    with pytest.raises(ValueError, match=r"^unknown operation 'format_disk'$"):
        service.request("format_disk", verified())


@pytest.mark.parametrize("kind", list(K))
def test_every_operation_needs_an_online_verification(service: OperationService, kind: K) -> None:
    for result in (verified(None, online=False, verification_id=None), verified(online=False),
                   verified(verification_id=None)):
        with pytest.raises(OperationError, match=r"^this step needs the server$") as refused:
            service.request(kind, result)
        assert refused.value.code == ServiceCode.OFFLINE_NOT_ONLINE


@pytest.mark.parametrize("kind", [kind for kind in K if kind is not K.PRELINK])
def test_only_a_matching_card_may_act_on_the_account(service: OperationService, kind: K) -> None:
    for match in (False, None):
        with pytest.raises(OperationError, match=r"^the card is not linked to this account$") as refused:
            service.request(kind, verified(match))
        assert refused.value.code == ServiceCode.NO_MATCH
    assert service.request(kind, verified(True)).kind is kind


def test_prelink_is_for_a_card_not_linked_yet(service: OperationService) -> None:
    request = service.request("prelink", verified(False), account_token="account-token")
    assert request.kind is K.PRELINK and request.params == {"account_token": "account-token"}


def test_submit_sends_the_request_under_its_key_and_again_under_the_same(
        service: OperationService, linkage: FakeLinkage) -> None:
    request = service.request("mfa_reset", verified())
    first = service.submit(request)
    service.submit(request)  # a retry after a lost answer
    sent = linkage.named("create_operation")
    assert sent == [{"kind": K.MFA_RESET, "verification_id": "ver-1", "params": {},
                     "idempotency_key": request.idempotency_key}] * 2
    assert first.status is S.AWAITING_APPROVAL and first.kind is K.MFA_RESET


# -- waiting for staff ----------------------------------------------------------------------------


def test_waiting_asks_with_the_session_key_the_cancel_event_and_the_timeout(
        service: OperationService, linkage: FakeLinkage) -> None:
    cancel = threading.Event()
    linkage.decision = operation(S.APPROVED, operation_id="op-7")
    decided = service.wait_for_staff(operation(S.AWAITING_APPROVAL, operation_id="op-7"), cancel)
    assert decided is linkage.decision
    assert linkage.named("wait_for_decision") == [
        {"operation_id": "op-7", "session_key": SESSION_KEY, "cancel": cancel, "timeout": 42.0}]


def test_the_approval_timeout_is_ten_minutes_unless_configured(linkage: FakeLinkage) -> None:
    OperationService(linkage.port).wait_for_staff(operation(S.AWAITING_APPROVAL), threading.Event())
    assert linkage.named("wait_for_decision")[0]["timeout"] == 600.0


@pytest.mark.parametrize("status", [S.APPROVED, S.COMPLETED])
def test_an_operation_already_decided_is_not_waited_for(
        service: OperationService, linkage: FakeLinkage, status: S) -> None:
    given = operation(status, K.LINK_STATUS)
    assert service.wait_for_staff(given, threading.Event()) is given
    assert linkage.calls == []


@pytest.mark.parametrize(("status", "error_code", "code", "words"), [
    (S.AWAITING_APPROVAL, None, ServiceCode.APPROVAL_TIMEOUT, "staff did not decide in time"),
    (S.REFUSED, None, ServiceCode.REFUSED, "staff refused the request"),
    (S.FAILED, None, ServiceCode.FAILED, "the server could not complete it"),
    (S.CANCELLED, None, ServiceCode.OPERATION_CANCELLED, "the server could not complete it"),
    (S.EXPIRED, None, ServiceCode.OPERATION_EXPIRED, "the server could not complete it"),
    (S.FAILED, "directory_unavailable", "directory_unavailable", "the server could not complete it"),
    (S.EXPIRED, "keepalive_missed", "keepalive_missed", "the server could not complete it"),
])
def test_each_way_a_wait_ends_without_effect_has_its_code(
        service: OperationService, linkage: FakeLinkage, status: S, error_code: str | None,
        code: str, words: str) -> None:
    linkage.decision = operation(status, error_code=error_code)
    with pytest.raises(OperationError, match=f"^{words}$") as ended:
        service.wait_for_staff(operation(S.AWAITING_APPROVAL), threading.Event())
    assert ended.value.code == code


def test_an_operation_that_ended_before_the_wait_is_reported_without_asking(
        service: OperationService, linkage: FakeLinkage) -> None:
    with pytest.raises(OperationError, match=r"^staff refused the request$") as refused:
        service.wait_for_staff(operation(S.REFUSED), threading.Event())
    assert refused.value.code == ServiceCode.REFUSED and linkage.calls == []


@pytest.mark.parametrize(("result", "code"), [
    ({"refusal_reason": "photo_mismatch"}, "refused.photo_mismatch"),
    ({"refusal_reason": "needs_documents"}, "refused.needs_documents"),
    ({"refusal_reason": "caller hung up"}, "refused"),  # words the kiosk has none for
    ({"refusal_reason": 7}, "refused"),
    ({}, "refused"),
])
def test_a_refusal_carries_the_reason_staff_picked(
        service: OperationService, linkage: FakeLinkage, result: dict[str, object], code: str) -> None:
    linkage.decision = replace(operation(S.REFUSED), result=result)
    with pytest.raises(OperationError, match=r"^staff refused the request$") as refused:
        service.wait_for_staff(operation(S.AWAITING_APPROVAL), threading.Event())
    assert refused.value.code == code


def test_an_operation_without_a_session_key_cannot_be_waited_for(
        service: OperationService, linkage: FakeLinkage) -> None:
    with pytest.raises(OperationError, match=r"^the operation has no session key$") as refused:
        service.wait_for_staff(operation(S.AWAITING_APPROVAL, session_key=None), threading.Event())
    assert refused.value.code == ServiceCode.FAILED and linkage.calls == []


# -- the new password -----------------------------------------------------------------------------


def test_the_new_password_is_sent_once_as_text_and_its_buffer_wiped(
        service: OperationService, linkage: FakeLinkage) -> None:
    buffer = bytearray("Kiosk-Pässword-2024".encode())
    done = service.set_password(operation(S.APPROVED, operation_id="op-9"), buffer)
    assert done.status is S.COMPLETED
    assert linkage.named("set_password") == [
        {"operation_id": "op-9", "new_password": "Kiosk-Pässword-2024", "session_key": SESSION_KEY}]
    assert len(buffer) == len("Kiosk-Pässword-2024".encode()) and not any(buffer)


def test_the_password_buffer_is_wiped_when_the_server_refuses_it(
        service: OperationService, linkage: FakeLinkage) -> None:
    linkage.fail["set_password"] = [ServerRefused("password_policy", "too short", status=422)]
    buffer = bytearray(b"short")
    with pytest.raises(ServerRefused, match="too short"):
        service.set_password(operation(S.APPROVED), buffer)
    assert buffer == bytearray(5)


def test_the_password_buffer_is_wiped_when_there_is_no_session_key(
        service: OperationService, linkage: FakeLinkage) -> None:
    buffer = bytearray(b"Kiosk-Pass-2024")
    with pytest.raises(OperationError, match=r"^the operation has no session key$"):
        service.set_password(operation(S.APPROVED, session_key=None), buffer)
    assert buffer == bytearray(15) and linkage.calls == []


# -- leaving ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.AWAITING_APPROVAL, S.APPROVED])
def test_leaving_withdraws_an_operation_that_still_waits(
        service: OperationService, linkage: FakeLinkage, status: S) -> None:
    service.abandon(operation(status, operation_id="op-3"), EndReason.CARD_REMOVED)
    assert linkage.named("cancel_operation") == [
        {"operation_id": "op-3", "session_key": SESSION_KEY, "reason": "card_removed"}]


@pytest.mark.parametrize("status", [S.REFUSED, S.COMPLETED, S.FAILED, S.CANCELLED, S.EXPIRED])
def test_leaving_after_the_operation_ended_sends_nothing(
        service: OperationService, linkage: FakeLinkage, status: S) -> None:
    service.abandon(operation(status), EndReason.FINISHED)
    service.abandon(None, EndReason.USER_CANCELLED)
    assert linkage.calls == []


def test_leaving_without_a_session_key_sends_nothing(service: OperationService, linkage: FakeLinkage) -> None:
    service.abandon(operation(S.AWAITING_APPROVAL, session_key=None), EndReason.IDLE_TIMEOUT)
    assert linkage.calls == []


def test_leaving_while_the_server_is_away_is_logged_not_raised(
        service: OperationService, linkage: FakeLinkage, caplog: pytest.LogCaptureFixture) -> None:
    linkage.fail["cancel_operation"] = [ServerUnreachable("connection refused")]
    with caplog.at_level(logging.INFO, logger="kiosk.services.operations"):
        service.abandon(operation(S.AWAITING_APPROVAL, operation_id="op-5"), EndReason.ERROR)
    assert len(linkage.named("cancel_operation")) == 1
    [line] = [record.getMessage() for record in caplog.records]
    assert line == ("could not cancel operation op-5 (server.unreachable): it expires on the server "
                    "when the keep-alives stop")


def test_a_failure_ends_a_waiting_session_as_an_error_unless_staff_ran_out_of_time() -> None:
    assert withdrawn_because(ServiceCode.APPROVAL_TIMEOUT) is EndReason.APPROVAL_TIMEOUT
    for code in (ServiceCode.REFUSED, ServiceCode.FAILED, "server.unreachable", "card.removed"):
        assert withdrawn_because(code) is EndReason.ERROR


def test_which_operations_wait_for_staff_and_which_may_be_done_offline() -> None:
    assert set(K) - {K.LINK_STATUS} == NEEDS_STAFF
    assert {K.PASSWORD_RESET, K.MFA_RESET, K.SALVAGE} == OFFLINE_CAPABLE


# -- pre-link -------------------------------------------------------------------------------------


def test_prelink_shows_the_device_authorization_and_waits_for_the_account(
        service: OperationService, linkage: FakeLinkage) -> None:
    authorization = service.begin_prelink()
    assert authorization.user_code == "WDJB-MJHT"
    assert authorization.verification_uri_complete.endswith("?user_code=WDJB-MJHT")
    cancel = threading.Event()
    assert service.wait_for_account(authorization, cancel) == "account-token"
    assert linkage.calls == [("device_authorize", {}),
                             ("wait_for_device_token", {"authorization": authorization, "cancel": cancel})]
