"""The kiosk session's side of an operation: its session key, keep-alives, cancelling, the code
shown once, the windows that expire an operation (each at its exact second) and the password."""

from __future__ import annotations

import pytest

from linkserver.errors import ErrorCode
from linkserver.models import Operation
from linkserver.words import OperationKind, OperationStatus
from tests.linkserver.units.operations_parts import (
    KIOSK,
    LINKED,
    SECOND,
    T0,
    TINY,
    WRONG_KEY,
    Desk,
    assert_untouched,
    refused,
)


def test_a_keep_alive_notes_the_kiosk_while_staff_have_not_decided(desk: Desk) -> None:
    asked = desk.create(OperationKind.PASSWORD_RESET)
    desk.clock.advance(10 * SECOND)
    view = desk.service.keep_alive(desk.kiosk, asked.operation_id, asked.session_key)
    assert (view.status, view.session_key) == (OperationStatus.AWAITING_APPROVAL, None)
    assert desk.row(asked.operation_id).last_seen_at == T0 + 10 * SECOND
    desk.clock.advance(10 * SECOND)  # 20 s after creation, 10 after the keep-alive: still waiting
    desk.service.decide(desk.staff, asked.operation_id, True, "desk-tanaka", None)
    desk.clock.advance(10 * SECOND)
    assert desk.service.keep_alive(desk.kiosk, asked.operation_id, asked.session_key).status == "approved"
    assert desk.row(asked.operation_id).last_seen_at == T0 + 10 * SECOND


def test_a_keep_alive_needs_the_session_key_and_the_kiosk(desk: Desk) -> None:
    asked = desk.create(OperationKind.UNLINK)
    for key in (WRONG_KEY, None, ""):
        with refused(ErrorCode.SESSION_KEY_INVALID, 403):
            desk.service.keep_alive(desk.kiosk, asked.operation_id, key)
    with refused(ErrorCode.OPERATION_UNKNOWN, 404):
        desk.service.keep_alive(desk.other_kiosk, asked.operation_id, asked.session_key)
    with refused(ErrorCode.OPERATION_UNKNOWN, 404):
        desk.service.keep_alive(desk.kiosk, "op_nothing", asked.session_key)
    assert desk.row(asked.operation_id).status == "awaiting_approval"


def test_an_operation_stored_without_a_session_key_takes_none(desk: Desk) -> None:
    """Rows from before session keys have none: no key sent, or any key, matches it."""
    asked = desk.create(OperationKind.UNLINK)
    with desk.parts.db.transaction() as session:
        row = session.get(Operation, asked.operation_id)
        assert row is not None
        row.session_key_hash = None
        row.last_seen_at = None
    for key in (asked.session_key, None):
        with refused(ErrorCode.SESSION_KEY_INVALID, 403):
            desk.service.cancel(desk.kiosk, asked.operation_id, key, None)
    desk.clock.advance(60 * SECOND)  # without keep-alives noted, only the approval window applies
    assert desk.service.get(desk.kiosk, asked.operation_id).status is OperationStatus.AWAITING_APPROVAL


def test_get_answers_only_the_kiosk_that_asked(desk: Desk) -> None:
    asked = desk.create(OperationKind.UNLINK)
    view = desk.service.get(desk.kiosk, asked.operation_id)
    assert (view.operation_id, view.status) == (asked.operation_id, "awaiting_approval")
    assert view.session_key is None
    with refused(ErrorCode.OPERATION_UNKNOWN, 404):
        desk.service.get(desk.other_kiosk, asked.operation_id)
    with refused(ErrorCode.INSUFFICIENT_SCOPE, 403, "this call needs the 'operate' scope"):
        desk.service.get(desk.staff, asked.operation_id)


@pytest.mark.parametrize("kind", [OperationKind.UNLINK, OperationKind.PASSWORD_RESET])
def test_cancelling_ends_a_waiting_operation_without_effect(desk: Desk, kind: OperationKind) -> None:
    asked = desk.create(kind)
    was = "awaiting_approval"
    if kind is OperationKind.PASSWORD_RESET:
        desk.service.decide(desk.staff, asked.operation_id, True, "desk-tanaka", None)
        was = "approved"
    desk.clock.advance(3 * SECOND)
    view = desk.service.cancel(desk.kiosk, asked.operation_id, asked.session_key, "the user walked away")
    assert (view.status, view.updated_at) == (OperationStatus.CANCELLED, T0 + 3 * SECOND)
    assert desk.audit("operation_cancelled") == [("operation_cancelled", KIOSK, LINKED, {
        "operation_id": asked.operation_id, "kind": kind.value, "was": was,
        "reason": "the user walked away"})]
    assert_untouched(desk)
    desk.clock.advance(SECOND)
    again = desk.service.cancel(desk.kiosk, asked.operation_id, asked.session_key, None)
    assert (again.status, again.updated_at) == (OperationStatus.CANCELLED, T0 + 3 * SECOND)
    assert len(desk.audit("operation_cancelled")) == 1


def test_a_cancel_without_a_reason_says_unspecified(desk: Desk) -> None:
    asked = desk.create(OperationKind.MFA_RESET)
    desk.service.cancel(desk.kiosk, asked.operation_id, asked.session_key, None)
    [(*_, details)] = desk.audit("operation_cancelled")
    assert details["reason"] == "unspecified"


def test_cancelling_a_finished_operation_changes_nothing(desk: Desk) -> None:
    asked = desk.create(OperationKind.LINK_STATUS)
    desk.clock.advance(SECOND)
    view = desk.service.cancel(desk.kiosk, asked.operation_id, asked.session_key, "too late")
    assert (view.status, view.updated_at, view.result) == (OperationStatus.COMPLETED, T0, asked.result)
    assert desk.audit("operation_cancelled") == []
    with refused(ErrorCode.SESSION_KEY_INVALID, 403):
        desk.service.cancel(desk.kiosk, asked.operation_id, WRONG_KEY, None)


def test_the_code_is_shown_once_to_the_session_that_asked(desk: Desk) -> None:
    asked = desk.create(OperationKind.MFA_RESET)
    decided = desk.approve(asked)
    expires = decided.result["expires_at"]
    assert desk.service.get(desk.kiosk, asked.operation_id).result == {"expires_at": expires}
    desk.clock.advance(30 * 60 * SECOND - TINY)
    shown = desk.service.keep_alive(desk.kiosk, asked.operation_id, asked.session_key).result
    assert set(shown) == {"enrolment_code", "expires_at"}
    assert desk.row(asked.operation_id).result == {"expires_at": expires, "shown": True}
    for look in (desk.service.keep_alive(desk.kiosk, asked.operation_id, asked.session_key),
                 desk.service.get(desk.kiosk, asked.operation_id)):
        assert look.result == {"expires_at": expires, "shown": True}


def test_a_code_never_shown_is_dropped_when_its_display_time_passes(desk: Desk) -> None:
    asked = desk.create(OperationKind.SALVAGE, "2019000003", params={"mode": "backup"})
    decided = desk.approve(asked)
    desk.clock.advance(30 * 60 * SECOND)
    view = desk.service.keep_alive(desk.kiosk, asked.operation_id, asked.session_key)
    assert view.result == {"mode": "backup", "expires_at": decided.result["expires_at"], "expired": True}
    assert desk.row(asked.operation_id).result == view.result
    assert len(desk.tickets()) == 1


def test_a_code_passed_its_time_unseen_is_dropped_by_any_look(desk: Desk) -> None:
    asked = desk.create(OperationKind.MFA_RESET)
    desk.approve(asked)
    desk.clock.advance(31 * 60 * SECOND)
    assert desk.service.get(desk.kiosk, asked.operation_id).result["expired"] is True
    assert "enrolment_code" not in desk.row(asked.operation_id).result


def test_staff_never_see_the_code(desk: Desk) -> None:
    asked = desk.create(OperationKind.MFA_RESET)
    assert "enrolment_code" not in desk.approve(asked).result
    again = desk.service.decide(desk.staff, asked.operation_id, True, "desk-tanaka", None)
    assert "enrolment_code" not in again.result
    assert "enrolment_code" in desk.row(asked.operation_id).result


def test_a_result_without_a_code_has_no_display_time(desk: Desk) -> None:
    asked = desk.create(OperationKind.LINK_STATUS)
    desk.clock.advance(2 * 60 * 60 * SECOND)
    assert desk.service.keep_alive(desk.kiosk, asked.operation_id, asked.session_key).result == asked.result
    assert desk.row(asked.operation_id).result == asked.result


def test_neither_a_cancel_nor_a_replay_shows_the_code(desk: Desk) -> None:
    """Only a look of the session (a keep-alive) shows a code; a late cancel or a replay of the
    creation answers the operation as it is, its code kept for that look."""
    verification_id = desk.verification(LINKED)
    asked, _ = desk.service.create(desk.kiosk, "key-1", OperationKind.MFA_RESET, verification_id, {})
    desk.approve(asked)
    cancelled = desk.service.cancel(desk.kiosk, asked.operation_id, asked.session_key, "too late")
    assert (cancelled.status, set(cancelled.result)) == (OperationStatus.COMPLETED, {"expires_at"})
    again, _ = desk.service.create(desk.kiosk, "key-1", OperationKind.MFA_RESET, verification_id, {})
    assert set(again.result) == {"expires_at"}
    shown = desk.service.keep_alive(desk.kiosk, asked.operation_id, again.session_key)
    assert set(shown.result) == {"expires_at", "enrolment_code"}
