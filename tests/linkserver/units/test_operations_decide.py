"""Staff decisions: what approving each kind of operation changes, what a refusal leaves alone,
the notifications and audit entries, and decisions that come too late or twice."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import delete

from linkserver.directory import CODE_ALPHABET, code_hash
from linkserver.errors import ErrorCode
from linkserver.models import Account, Link, Operation
from linkserver.operations import OperationView
from linkserver.words import OperationKind, OperationStatus
from tests.linkserver.units import operations_parts as parts
from tests.linkserver.units.operations_parts import Desk, assert_untouched, refused

STAFF = "desk-tanaka"
LATER = parts.T0 + 7 * parts.SECOND
OTHER = "ppid-of-another-card"


def decided(desk: Desk, view: OperationView, approve: bool = True,
            reason: str | None = "checked") -> OperationView:
    """The staff decision on ``view``, seven seconds after it was asked for."""
    desk.clock.now = LATER
    return desk.service.decide(desk.staff, view.operation_id, approve, STAFF, reason)


def code_pattern(groups: int) -> str:
    group = f"[{re.escape(CODE_ALPHABET)}]{{4}}"
    return "^" + "-".join([group] * groups) + "$"


def decisions(desk: Desk) -> list[tuple[str, str | None, str | None, dict[str, object]]]:
    return desk.audit("operation_approved", "operation_refused_by_staff", "operation_completed",
                      "operation_failed")


def test_an_approved_unlink_deletes_the_link(desk: Desk) -> None:
    view = decided(desk, desk.create(OperationKind.UNLINK))
    assert (view.status, view.result, view.approved_by, view.updated_at) == (
        OperationStatus.COMPLETED, {"unlinked": True}, STAFF, LATER)
    assert desk.links() == {}
    row = desk.row(view.operation_id)
    assert (row.approved_at, row.result_expires_at) == (LATER, None)
    assert decisions(desk) == [
        ("operation_approved", parts.CONSOLE, parts.LINKED,
         {"operation_id": view.operation_id, "kind": "unlink", "staff": STAFF, "reason": "checked"}),
        ("operation_completed", parts.KIOSK, parts.LINKED,
         {"operation_id": view.operation_id, "kind": "unlink"}),
    ]
    [(recipient, subject, body)] = desk.mails()
    assert (recipient, subject) == (f"{parts.LINKED}@mail.example.ac.jp",
                                    "The link between your My Number Card and your account was deleted")
    assert body.startswith(f"Dear Holder {parts.LINKED},\n\n")
    assert f"When:  2026-04-01 09:00 UTC\n  Where: {parts.KIOSK}\n" in body


def test_an_approved_prelink_links_the_card_with_the_name_read(desk: Desk) -> None:
    view = decided(desk, desk.create(OperationKind.PRELINK, parts.FREE, ppid=parts.FREE_PPID,
                                     params=desk.prelink_params(parts.FREE, " SUZUKI ICHIRO")), reason=None)
    assert (view.status, view.result) == (OperationStatus.COMPLETED, {"linked": True})
    link = desk.link(parts.FREE)
    assert link is not None
    assert (link.ppid, link.name_on_card, link.created_at, link.created_by_kiosk) == (
        parts.FREE_PPID, "SUZUKI ICHIRO", LATER, parts.KIOSK)
    assert decisions(desk)[0][3]["reason"] == ""
    assert [subject for _, subject, _ in desk.mails()] == ["Your My Number Card was linked to your account"]


@pytest.mark.parametrize(("taken", "code"), [("account", ErrorCode.ACCOUNT_ALREADY_LINKED),
                                             ("card", ErrorCode.CARD_ALREADY_LINKED)])
def test_a_prelink_whose_account_or_card_was_linked_meanwhile_fails(desk: Desk, taken: str,
                                                                   code: ErrorCode) -> None:
    asked = desk.create(OperationKind.PRELINK, parts.FREE, ppid=parts.FREE_PPID,
                        params=desk.prelink_params(parts.FREE))
    account_id, ppid = (parts.FREE, OTHER) if taken == "account" else (parts.LEFT, parts.FREE_PPID)
    with desk.parts.db.transaction() as session:  # linked elsewhere since the request
        session.add(Link(account_id=account_id, ppid=ppid, name_on_card="X", created_at=parts.T0,
                         created_by_kiosk="smartphone-app"))
    view = decided(desk, asked)
    assert (view.status, view.error_code, view.result, view.updated_at) == (OperationStatus.FAILED, code, {},
                                                                          LATER)
    assert decisions(desk)[1:] == [
        ("operation_failed", parts.KIOSK, parts.FREE,
         {"operation_id": view.operation_id, "code": code.value})]
    assert desk.mails() == []


def test_an_approved_mfa_reset_clears_the_methods_and_opens_enrolment(desk: Desk) -> None:
    asked = desk.create(OperationKind.MFA_RESET)
    view = decided(desk, asked)
    expires = LATER + dt.timedelta(minutes=60)
    assert (view.status, view.result) == (OperationStatus.COMPLETED, {"expires_at": expires.isoformat()})
    assert desk.row(view.operation_id).result_expires_at == LATER + dt.timedelta(minutes=30)
    shown = desk.service.keep_alive(desk.kiosk, view.operation_id, asked.session_key)
    code = shown.result["enrolment_code"]
    assert isinstance(code, str)
    assert re.match(code_pattern(4), code)
    account = desk.account(parts.LINKED)
    assert (account.mfa_methods, account.enrolment_code_hash, account.enrolment_expires_at) == (
        0, code_hash(code), expires)
    assert [subject for _, subject, _ in desk.mails()] == [
        "Your multi-factor authentication methods were cleared"]


def test_an_approved_salvage_issues_a_ticket_kept_as_its_hash(desk: Desk) -> None:
    asked = desk.create(OperationKind.SALVAGE, parts.LEFT, params={"mode": "backup"})
    view = decided(desk, asked)
    expires = LATER + dt.timedelta(days=14)
    assert view.result == {"mode": "backup", "expires_at": expires.isoformat()}
    assert desk.row(view.operation_id).result_expires_at == LATER + dt.timedelta(minutes=30)
    ticket = desk.service.keep_alive(desk.kiosk, view.operation_id, asked.session_key).result["ticket"]
    assert isinstance(ticket, str)
    assert re.match(code_pattern(5), ticket)
    [row] = desk.tickets()
    assert (row.ticket_hash, row.account_id, row.mode, row.expires_at, row.operation_id) == (
        code_hash(ticket), parts.LEFT, "backup", expires, view.operation_id)
    assert [subject for _, subject, _ in desk.mails()] == [
        "A cloud-data salvage ticket was issued for your account"]


def test_two_codes_are_not_the_same(desk: Desk) -> None:
    first, second = desk.create(OperationKind.MFA_RESET), desk.create(OperationKind.MFA_RESET)
    codes = []
    for asked in (first, second):
        decided(desk, asked)
        codes.append(desk.service.keep_alive(desk.kiosk, asked.operation_id, asked.session_key)
                     .result["enrolment_code"])
    assert codes[0] != codes[1]


def test_an_approved_password_reset_waits_for_the_password(desk: Desk) -> None:
    view = decided(desk, desk.create(OperationKind.PASSWORD_RESET))
    assert (view.status, view.result, view.approved_by) == (OperationStatus.APPROVED, {}, STAFF)
    assert desk.row(view.operation_id).approved_at == LATER
    assert_untouched(desk)
    assert desk.mails() == []
    assert [event for event, *_ in decisions(desk)] == ["operation_approved"]


def test_an_unlink_whose_link_is_already_gone_fails(desk: Desk) -> None:
    asked = desk.create(OperationKind.UNLINK)
    with desk.parts.db.transaction() as session:
        session.execute(delete(Link))
    view = decided(desk, asked)
    assert (view.status, view.error_code, view.updated_at) == (OperationStatus.FAILED, ErrorCode.NOT_LINKED,
                                                               LATER)
    assert desk.mails() == []


CHANGING = [OperationKind.UNLINK, OperationKind.MFA_RESET, OperationKind.PASSWORD_RESET]


@pytest.mark.parametrize("reason", ["photo_mismatch", "card_damaged", "not_the_holder", "needs_documents",
                                    "other"])
def test_a_reason_from_the_list_is_kept_for_the_kiosk(desk: Desk, reason: str) -> None:
    view = decided(desk, desk.create(OperationKind.UNLINK), approve=False, reason=reason)
    assert view.result == {"refusal_reason": reason}
    assert desk.row(view.operation_id).result == {"refusal_reason": reason}
    again = desk.service.decide(desk.staff, view.operation_id, False, STAFF, reason)
    assert again.result == {"refusal_reason": reason}


@pytest.mark.parametrize("reason", [None, "", "Photo_Mismatch", "photo_mismatch ", "approve"])
def test_other_words_stay_in_the_audit_only(desk: Desk, reason: str | None) -> None:
    view = decided(desk, desk.create(OperationKind.UNLINK), approve=False, reason=reason)
    assert view.result == {} and desk.row(view.operation_id).result == {}
    assert decisions(desk)[-1][3]["reason"] == (reason or "")


def test_an_approval_keeps_no_reason(desk: Desk) -> None:
    view = decided(desk, desk.create(OperationKind.MFA_RESET), reason="photo_mismatch")
    assert "refusal_reason" not in view.result


@pytest.mark.parametrize("kind", CHANGING)
def test_a_refusal_changes_nothing_but_tells_the_holder(desk: Desk, kind: OperationKind) -> None:
    view = decided(desk, desk.create(kind), approve=False, reason="face does not match")
    assert (view.status, view.approved_by, view.result, view.error_code) == (OperationStatus.REFUSED, STAFF,
                                                                             {}, None)
    assert desk.row(view.operation_id).approved_at is None
    assert_untouched(desk)
    [(recipient, subject, body)] = desk.mails()
    assert (recipient, subject) == (f"{parts.LINKED}@mail.example.ac.jp",
                                    "A request for your account was refused at a help desk")
    assert f"When:  2026-04-01 09:00 UTC\n  Where: {parts.KIOSK}\n" in body
    assert decisions(desk) == [("operation_refused_by_staff", parts.CONSOLE, parts.LINKED, {
        "operation_id": view.operation_id, "kind": kind.value, "staff": STAFF,
        "reason": "face does not match"})]


@pytest.mark.parametrize("approve", [True, False])
def test_an_account_gone_from_the_directory_fails_the_operation(desk: Desk, approve: bool) -> None:
    asked = desk.create(OperationKind.PASSWORD_RESET, parts.FREE, ppid=parts.FREE_PPID)
    with desk.parts.db.transaction() as session:
        session.execute(delete(Account).where(Account.account_id == parts.FREE))
    view = decided(desk, asked, approve)
    assert (view.status, view.error_code, view.approved_by) == (OperationStatus.FAILED,
                                                                ErrorCode.ACCOUNT_UNAVAILABLE, STAFF)
    assert desk.mails() == []


def test_the_same_decision_again_answers_the_operation_as_it_is(desk: Desk) -> None:
    completed = decided(desk, desk.create(OperationKind.UNLINK))
    refusal = decided(desk, desk.create(OperationKind.MFA_RESET), approve=False)
    waiting = decided(desk, desk.create(OperationKind.PASSWORD_RESET))
    entries = len(desk.audit())
    desk.clock.advance(parts.SECOND)
    for first, approve in ((completed, True), (refusal, False), (waiting, True)):
        again = desk.service.decide(desk.staff, first.operation_id, approve, "desk-ito", "again")
        assert again == first
    assert len(desk.audit()) == entries


@pytest.mark.parametrize(("approve_first", "status"), [(True, "completed"), (False, "refused")])
def test_the_other_decision_after_one_is_refused(desk: Desk, approve_first: bool, status: str) -> None:
    first = decided(desk, desk.create(OperationKind.UNLINK), approve=approve_first)
    with refused(ErrorCode.ALREADY_DECIDED, 409, f"the operation is already {status}"):
        desk.service.decide(desk.staff, first.operation_id, not approve_first, "desk-ito", None)
    assert desk.row(first.operation_id).approved_by == STAFF


def test_an_approved_password_reset_cannot_then_be_refused(desk: Desk) -> None:
    first = decided(desk, desk.create(OperationKind.PASSWORD_RESET))
    with refused(ErrorCode.ALREADY_DECIDED, 409, "the operation is already approved"):
        desk.service.decide(desk.staff, first.operation_id, False, STAFF, None)


@pytest.mark.parametrize("approve", [True, False])
def test_a_failed_operation_takes_no_decision(desk: Desk, approve: bool) -> None:
    asked = desk.create(OperationKind.UNLINK)
    with desk.parts.db.transaction() as session:
        session.execute(delete(Link))
    decided(desk, asked)
    with refused(ErrorCode.ALREADY_DECIDED, 409, "the operation is already failed"):
        desk.service.decide(desk.staff, asked.operation_id, approve, STAFF, None)


def test_an_unknown_operation_cannot_be_decided(desk: Desk) -> None:
    with refused(ErrorCode.OPERATION_UNKNOWN, 404):
        desk.service.decide(desk.staff, "op_nothing", True, STAFF, None)


@pytest.mark.parametrize("approve", [True, False])
def test_a_cancelled_operation_cannot_be_decided(desk: Desk, approve: bool) -> None:
    asked = desk.create(OperationKind.UNLINK)
    desk.service.cancel(desk.kiosk, asked.operation_id, asked.session_key, "user left")
    with refused(ErrorCode.OPERATION_CANCELLED, 409):
        desk.service.decide(desk.staff, asked.operation_id, approve, STAFF, None)
    assert_untouched(desk)
    assert desk.row(asked.operation_id).approved_by is None


def test_a_decision_after_the_kiosk_went_away_expires_the_operation(desk: Desk) -> None:
    asked = desk.create(OperationKind.UNLINK)
    desk.clock.advance(15 * parts.SECOND)
    with refused(ErrorCode.OPERATION_EXPIRED, 409):
        desk.service.decide(desk.staff, asked.operation_id, True, STAFF, None)
    row = desk.row(asked.operation_id)
    assert (row.status, row.error_code, row.updated_at, row.approved_by) == (
        "expired", "kiosk_gone", parts.T0 + 15 * parts.SECOND, None)
    assert desk.audit("operation_expired") == [("operation_expired", parts.KIOSK, parts.LINKED, {
        "operation_id": asked.operation_id, "kind": "unlink", "reason": "kiosk_gone"})]
    assert_untouched(desk)


def test_deciding_and_listing_need_the_staff_scope(desk: Desk) -> None:
    asked = desk.create(OperationKind.UNLINK)
    with refused(ErrorCode.INSUFFICIENT_SCOPE, 403, "this call needs the 'staff' scope"):
        desk.service.decide(desk.kiosk, asked.operation_id, True, STAFF, None)
    with refused(ErrorCode.INSUFFICIENT_SCOPE, 403, "this call needs the 'staff' scope"):
        desk.service.pending(desk.kiosk)
    assert_untouched(desk)


def test_pending_lists_the_waiting_operations_oldest_first(desk: Desk) -> None:
    first = desk.create(OperationKind.UNLINK)
    desk.clock.advance(parts.SECOND)
    done = desk.create(OperationKind.LINK_STATUS)
    desk.clock.advance(parts.SECOND)
    second = desk.create(OperationKind.MFA_RESET, caller=desk.other_kiosk)
    desk.clock.advance(parts.SECOND)
    third = desk.create(OperationKind.PASSWORD_RESET)
    assert done.status is OperationStatus.COMPLETED
    listed = desk.service.pending(desk.staff)
    assert [v.operation_id for v in listed] == [first.operation_id, second.operation_id, third.operation_id]
    assert all(v.session_key is None for v in listed)
    assert [v.operation_id for v in desk.service.pending(desk.staff, limit=2)] == [first.operation_id,
                                                                                   second.operation_id]
    decided(desk, second, approve=False)
    assert [v.operation_id for v in desk.service.pending(desk.staff)] == [first.operation_id,
                                                                          third.operation_id]


def test_pending_goes_by_the_time_of_asking_not_the_order_stored(desk: Desk) -> None:
    desk.clock.now = parts.T0 + 10 * parts.SECOND
    later = desk.create(OperationKind.UNLINK)
    desk.clock.now = parts.T0  # asked earlier, at another kiosk whose request was stored second
    earlier = desk.create(OperationKind.MFA_RESET, caller=desk.other_kiosk)
    listed = desk.service.pending(desk.staff)
    assert [v.operation_id for v in listed] == [earlier.operation_id, later.operation_id]
    assert [v.operation_id for v in desk.service.pending(desk.staff, limit=1)] == [earlier.operation_id]


def test_pending_lists_at_most_a_hundred_by_default(desk: Desk) -> None:
    with desk.parts.db.transaction() as session:
        for number in range(101):
            at = parts.T0 + number * dt.timedelta(milliseconds=1)
            session.add(Operation(operation_id=f"op_{number:03}", client_id=parts.KIOSK,
                                  idempotency_key=f"key-{number}", request_digest="d", kind="unlink",
                                  account_id=parts.LINKED, status="awaiting_approval", params={},
                                  result={}, created_at=at, updated_at=at, last_seen_at=at))
    listed = desk.service.pending(desk.staff)
    assert [v.operation_id for v in listed] == [f"op_{number:03}" for number in range(100)]


def test_pending_expires_what_its_kiosk_stopped_waiting_for(desk: Desk) -> None:
    gone = desk.create(OperationKind.UNLINK)
    desk.clock.advance(10 * parts.SECOND)
    alive = desk.create(OperationKind.MFA_RESET)
    desk.clock.advance(5 * parts.SECOND)
    assert [v.operation_id for v in desk.service.pending(desk.staff)] == [alive.operation_id]
    assert desk.row(gone.operation_id).status == "expired"
    assert [d["operation_id"] for *_, d in desk.audit("operation_expired")] == [gone.operation_id]


def test_a_card_linked_by_a_racing_request_fails_the_prelink_cleanly(desk: Desk,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Another request linked the card between the check and the insert: the unique PPID refuses the
    second link, and the operation fails with the card's code instead of the whole decision."""
    asked = desk.create(OperationKind.PRELINK, parts.FREE, ppid=parts.FREE_PPID,
                        params=desk.prelink_params(parts.FREE))
    with desk.parts.db.transaction() as session:
        session.add(Link(account_id=parts.LEFT, ppid=parts.FREE_PPID, name_on_card="X", created_at=parts.T0,
                         created_by_kiosk="smartphone-app"))
    monkeypatch.setattr(desk.parts.links, "by_ppid", lambda session, ppid: None)
    view = decided(desk, asked)
    assert (view.status, view.error_code) == (OperationStatus.FAILED, ErrorCode.CARD_ALREADY_LINKED)
    assert desk.link(parts.FREE) is None
    assert [event for event, *_ in decisions(desk)] == ["operation_approved", "operation_failed"]
