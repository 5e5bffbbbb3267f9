"""Creating an operation: what it stores and answers, its idempotency key, and every refusal.

Each refusal is checked by its code, HTTP status and words, by its audit entry (kept although the
request's work is rolled back), and by what it leaves: no operation, the verification unclaimed.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from linkserver.errors import ErrorCode
from linkserver.models import Operation
from linkserver.operations import OperationView
from linkserver.service import new_id
from linkserver.tokens import Caller
from linkserver.words import OperationKind, OperationStatus
from tests.linkserver.units.operations_parts import (
    FREE,
    FREE_PPID,
    KIOSK,
    LEFT,
    LINKED,
    SECOND,
    T0,
    Desk,
    assert_untouched,
    refused,
    session_key_ok,
)

ALL_KINDS = list(OperationKind)


def test_link_status_is_answered_at_once_and_notified(desk: Desk) -> None:
    verification_id = desk.verification(LINKED)
    view, created = desk.service.create(desk.kiosk, "key-1", OperationKind.LINK_STATUS, verification_id, {})
    assert created
    assert re.fullmatch(r"op_[A-Za-z0-9_-]{24}", view.operation_id)  # the kind of ID, 18 random bytes
    assert (view.kind, view.status, view.account_id) == (OperationKind.LINK_STATUS, OperationStatus.COMPLETED,
                                                        LINKED)
    assert view.result == {"linked": True, "linked_at": (T0 - dt.timedelta(days=90)).isoformat(),
                           "name_on_card": "SATO HANAKO"}
    assert (view.created_at, view.updated_at, view.error_code, view.approved_by) == (T0, T0, None, None)
    assert session_key_ok(desk, view)
    assert desk.verification_row(verification_id).operation_id == view.operation_id
    row = desk.row(view.operation_id)
    assert (row.client_id, row.idempotency_key, row.verification_id) == (KIOSK, "key-1", verification_id)
    assert row.result_expires_at is None
    assert desk.audit() == [
        ("operation_requested", KIOSK, LINKED, {"operation_id": view.operation_id, "kind": "link_status",
                                               "verification_id": verification_id}),
        ("operation_completed", KIOSK, LINKED, {"operation_id": view.operation_id, "kind": "link_status"}),
    ]
    [(recipient, subject, body)] = desk.mails()
    assert recipient == f"{LINKED}@mail.example.ac.jp"
    assert subject == "Your card link was checked at a help desk"
    assert f"When:  2026-04-01 09:00 UTC\n  Where: {KIOSK}\n" in body


def test_link_status_of_an_account_whose_link_is_gone_says_so(desk: Desk) -> None:
    """A verification matched the link, which was deleted before the operation: not linked."""
    verification_id = desk.verification(LINKED)
    desk.service.decide(desk.staff, desk.create(OperationKind.UNLINK).operation_id, True, "desk-tanaka", None)
    view, _ = desk.service.create(desk.kiosk, "key-2", OperationKind.LINK_STATUS, verification_id, {})
    assert view.result == {"linked": False, "linked_at": None, "name_on_card": None}


@pytest.mark.parametrize("kind", [OperationKind.UNLINK, OperationKind.MFA_RESET,
                                  OperationKind.PASSWORD_RESET])
def test_an_operation_that_changes_the_account_waits_and_changes_nothing(desk: Desk,
                                                                        kind: OperationKind) -> None:
    view = desk.create(kind, key="key-1")
    assert (view.status, view.result, view.approved_by) == (OperationStatus.AWAITING_APPROVAL, {}, None)
    row = desk.row(view.operation_id)
    assert (row.last_seen_at, row.approved_at, row.params, row.kind) == (T0, None, {}, kind.value)
    assert (row.result, row.result_expires_at, row.error_code) == ({}, None, None)
    assert_untouched(desk)
    assert desk.mails() == []
    assert [event for event, *_ in desk.audit()] == ["operation_requested"]


def test_a_prelink_waits_with_the_name_trimmed_and_nothing_linked(desk: Desk) -> None:
    verification_id = desk.verification(FREE, ppid=FREE_PPID, matched=False)
    params = desk.prelink_params(FREE, name="  SUZUKI ICHIRO ")
    view, _ = desk.service.create(desk.kiosk, "key-1", OperationKind.PRELINK, verification_id, params)
    assert view.status is OperationStatus.AWAITING_APPROVAL
    assert desk.row(view.operation_id).params == {"name_on_card": "SUZUKI ICHIRO"}
    assert_untouched(desk)


def test_a_salvage_waits_with_its_mode(desk: Desk) -> None:
    view = desk.create(OperationKind.SALVAGE, LEFT, params={"mode": "forwarding", "extra": "dropped"})
    assert view.status is OperationStatus.AWAITING_APPROVAL
    assert desk.row(view.operation_id).params == {"mode": "forwarding"}
    assert desk.tickets() == []


def sent_twice(desk: Desk, kind: OperationKind) -> tuple[OperationView, OperationView]:
    """The same request under one key, five seconds apart: the two answers (the second a replay)."""
    verification_id = desk.verification(LINKED)
    first, _ = desk.service.create(desk.kiosk, "key-1", kind, verification_id, {})
    desk.clock.advance(5 * SECOND)
    again, created = desk.service.create(desk.kiosk, "key-1", kind, verification_id, {})
    assert not created
    assert again.operation_id == first.operation_id
    assert session_key_ok(desk, again)
    return first, again


def test_the_same_key_and_request_is_the_same_operation_with_a_new_session_key(desk: Desk) -> None:
    first, again = sent_twice(desk, OperationKind.UNLINK)
    assert again.session_key not in (None, first.session_key)
    assert desk.row(first.operation_id).last_seen_at == T0 + 5 * SECOND
    assert [event for event, *_ in desk.audit()] == ["operation_requested"]


def test_a_replay_of_a_finished_operation_leaves_its_times(desk: Desk) -> None:
    first, again = sent_twice(desk, OperationKind.LINK_STATUS)
    assert (again.status, again.result) == (OperationStatus.COMPLETED, first.result)
    assert desk.row(first.operation_id).last_seen_at == T0


def test_the_same_key_with_another_request_is_refused(desk: Desk) -> None:
    verification_id = desk.verification(LINKED)
    first, _ = desk.service.create(desk.kiosk, "key-1", OperationKind.UNLINK, verification_id, {})
    with refused(ErrorCode.IDEMPOTENCY_CONFLICT, 409):
        desk.service.create(desk.kiosk, "key-1", OperationKind.MFA_RESET, verification_id, {})
    with refused(ErrorCode.IDEMPOTENCY_CONFLICT, 409):
        desk.service.create(desk.kiosk, "key-1", OperationKind.UNLINK, desk.verification(LINKED), {})
    with refused(ErrorCode.IDEMPOTENCY_CONFLICT, 409):
        desk.service.create(desk.kiosk, "key-1", OperationKind.UNLINK, verification_id, {"mode": "backup"})
    assert session_key_ok(desk, first)
    assert desk.row(first.operation_id).kind == "unlink"


def test_a_replay_may_list_the_parameters_in_another_order(desk: Desk) -> None:
    verification_id = desk.verification(LEFT, ppid="ppid-of-left")
    first, _ = desk.service.create(desk.kiosk, "key-1", OperationKind.SALVAGE, verification_id,
                                   {"mode": "backup", "note": "desk 3"})
    again, created = desk.service.create(desk.kiosk, "key-1", OperationKind.SALVAGE, verification_id,
                                         {"note": "desk 3", "mode": "backup"})
    assert (again.operation_id, created) == (first.operation_id, False)


def test_keys_are_each_kiosks_own(desk: Desk) -> None:
    mine = desk.create(OperationKind.UNLINK, key="key-1")
    theirs = desk.create(OperationKind.LINK_STATUS, key="key-1", caller=desk.other_kiosk)
    assert theirs.operation_id != mine.operation_id
    assert theirs.status is OperationStatus.COMPLETED


def test_a_request_racing_its_twin_gets_the_twins_operation(desk: Desk,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The same key sent twice at once: the second did not yet see the first when it looked, and
    fails on the verification the first claimed (or on the key's uniqueness); it answers the first."""
    verification_id = desk.verification(LINKED)
    first, _ = desk.service.create(desk.kiosk, "key-1", OperationKind.UNLINK, verification_id, {})
    by_key = desk.service._by_key
    looks: list[str] = []

    def late(session: object, caller: object, key: str) -> Operation | None:
        looks.append(key)
        return None if len(looks) == 1 else by_key(session, caller, key)  # type: ignore[arg-type]

    monkeypatch.setattr(desk.service, "_by_key", late)
    desk.clock.advance(2 * SECOND)
    again, created = desk.service.create(desk.kiosk, "key-1", OperationKind.UNLINK, verification_id, {})
    assert (again.operation_id, created, looks) == (first.operation_id, False, ["key-1", "key-1"])
    assert session_key_ok(desk, again)
    assert desk.row(first.operation_id).last_seen_at == T0 + 2 * SECOND
    looks.clear()
    with refused(ErrorCode.IDEMPOTENCY_CONFLICT, 409):  # the unique key, on another verification
        desk.service.create(desk.kiosk, "key-1", OperationKind.UNLINK, desk.verification(LINKED), {})
    assert desk.audit("operation_refused") == []


def test_an_operation_needs_the_operate_scope(desk: Desk) -> None:
    verifier_only = Caller(KIOSK, frozenset({"verify"}))
    verification_id = desk.verification(LINKED)
    with refused(ErrorCode.INSUFFICIENT_SCOPE, 403, "this call needs the 'operate' scope"):
        desk.service.create(verifier_only, "key-1", OperationKind.LINK_STATUS, verification_id, {})
    assert desk.audit() == []


def refusal_leaves_nothing(desk: Desk, verification_id: str, kind: OperationKind, code: ErrorCode) -> None:
    """No operation stored, the verification free, and one audit entry for the refusal."""
    assert desk.audit() == [("operation_refused", KIOSK, None,
                             {"kind": kind.value, "code": code.value, "verification_id": verification_id})]
    with desk.parts.db.transaction() as session:
        assert session.query(Operation).count() == 0
    if verification_id.startswith("ver_"):
        assert desk.verification_row(verification_id).operation_id is None


def test_an_unknown_verification_is_refused(desk: Desk) -> None:
    unknown = new_id("nover")
    with refused(ErrorCode.VERIFICATION_UNKNOWN, 404):
        desk.service.create(desk.kiosk, "key-1", OperationKind.LINK_STATUS, unknown, {})
    refusal_leaves_nothing(desk, unknown, OperationKind.LINK_STATUS, ErrorCode.VERIFICATION_UNKNOWN)


def test_another_kiosks_verification_is_unknown(desk: Desk) -> None:
    theirs = desk.verification(LINKED, client_id="kiosk-komaba-02")
    with refused(ErrorCode.VERIFICATION_UNKNOWN, 404):
        desk.service.create(desk.kiosk, "key-1", OperationKind.UNLINK, theirs, {})
    refusal_leaves_nothing(desk, theirs, OperationKind.UNLINK, ErrorCode.VERIFICATION_UNKNOWN)


def test_a_verification_backs_one_operation(desk: Desk) -> None:
    verification_id = desk.verification(LINKED)
    first, _ = desk.service.create(desk.kiosk, "key-1", OperationKind.LINK_STATUS, verification_id, {})
    with refused(ErrorCode.VERIFICATION_USED, 409):
        desk.service.create(desk.kiosk, "key-2", OperationKind.UNLINK, verification_id, {})
    assert desk.verification_row(verification_id).operation_id == first.operation_id
    assert desk.audit("operation_refused") == [
        ("operation_refused", KIOSK, None, {"kind": "unlink", "code": "verification_used",
                                            "verification_id": verification_id})]


def test_a_verification_expires_at_its_exact_second(desk: Desk) -> None:
    lasting = desk.verification(LINKED, lasts=10 * SECOND)
    just_in_time = desk.verification(LINKED, lasts=10 * SECOND + dt.timedelta(microseconds=1))
    desk.clock.advance(10 * SECOND)
    with refused(ErrorCode.VERIFICATION_EXPIRED, 403):
        desk.service.create(desk.kiosk, "key-1", OperationKind.LINK_STATUS, lasting, {})
    refusal_leaves_nothing(desk, lasting, OperationKind.LINK_STATUS, ErrorCode.VERIFICATION_EXPIRED)
    view, _ = desk.service.create(desk.kiosk, "key-2", OperationKind.LINK_STATUS, just_in_time, {})
    assert view.status is OperationStatus.COMPLETED


@pytest.mark.parametrize("kind", [k for k in ALL_KINDS if k is not OperationKind.PRELINK])
def test_a_card_not_linked_to_the_claim_is_refused(desk: Desk, kind: OperationKind) -> None:
    verification_id = desk.verification(FREE, ppid=FREE_PPID, matched=False)
    with refused(ErrorCode.NO_MATCH, 403):
        desk.service.create(desk.kiosk, "key-1", kind, verification_id, {"mode": "backup"})
    refusal_leaves_nothing(desk, verification_id, kind, ErrorCode.NO_MATCH)


def test_a_claim_of_an_account_the_directory_lacks_is_refused(desk: Desk) -> None:
    verification_id = desk.verification("2024999999", ppid=FREE_PPID, matched=True)
    with refused(ErrorCode.NO_MATCH, 403):
        desk.service.create(desk.kiosk, "key-1", OperationKind.LINK_STATUS, verification_id, {})
    refusal_leaves_nothing(desk, verification_id, OperationKind.LINK_STATUS, ErrorCode.NO_MATCH)


def test_an_unlink_needs_a_link(desk: Desk) -> None:
    verification_id = desk.verification(FREE, ppid=FREE_PPID)
    with refused(ErrorCode.NOT_LINKED, 409):
        desk.service.create(desk.kiosk, "key-1", OperationKind.UNLINK, verification_id, {})
    refusal_leaves_nothing(desk, verification_id, OperationKind.UNLINK, ErrorCode.NOT_LINKED)
