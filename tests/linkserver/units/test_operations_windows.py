"""The windows that end an operation without effect, each at its exact second, and the password
the user types after approval: checked against the policy, stored only as a hash, only once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from linkserver import directory
from linkserver.config import Lifetimes
from linkserver.errors import ErrorCode
from linkserver.operations import OperationView
from linkserver.passwords import password_matches
from linkserver.words import OperationKind, OperationStatus
from tests.linkserver.units.operations_parts import (
    GOOD_PASSWORD,
    KIOSK,
    LINKED,
    SECOND,
    T0,
    TINY,
    Desk,
    assert_untouched,
    make_desk,
    refused,
)

APPROVAL_WINDOW = 30 * 60 * SECOND
KEEPALIVE = 15 * SECOND
PASSWORD_WINDOW = 120 * SECOND


@pytest.fixture
def patient(tmp_path: Path) -> Iterator[Desk]:
    """A desk whose kiosks may go an hour between keep-alives: only the approval window applies."""
    made = make_desk(tmp_path, Lifetimes(keepalive_timeout_seconds=3600, password_window_seconds=120))
    yield made
    made.parts.db.dispose()


def expiry_of(desk: Desk, view: OperationView) -> tuple[str, str | None, dt.datetime]:
    row = desk.row(view.operation_id)
    return row.status, row.error_code, row.updated_at


def test_staff_must_decide_within_the_approval_window(patient: Desk) -> None:
    early, late = patient.create(OperationKind.UNLINK), patient.create(OperationKind.MFA_RESET)
    patient.clock.advance(APPROVAL_WINDOW - TINY)
    assert patient.approve(early).status is OperationStatus.COMPLETED
    patient.clock.advance(TINY)
    with refused(ErrorCode.OPERATION_EXPIRED, 409):
        patient.approve(late)
    assert expiry_of(patient, late) == ("expired", "approval_window_passed", T0 + APPROVAL_WINDOW)
    assert patient.audit("operation_expired") == [("operation_expired", KIOSK, LINKED, {
        "operation_id": late.operation_id, "kind": "mfa_reset", "reason": "approval_window_passed"})]
    assert patient.account(LINKED).enrolment_code_hash is None


def test_the_approval_window_is_named_before_a_silent_kiosk(desk: Desk) -> None:
    asked = desk.create(OperationKind.UNLINK)
    desk.clock.advance(APPROVAL_WINDOW)
    assert desk.service.get(desk.kiosk, asked.operation_id).error_code == "approval_window_passed"


def test_a_kiosk_that_stops_its_keep_alives_lets_the_operation_expire(desk: Desk) -> None:
    asked = desk.create(OperationKind.UNLINK)
    desk.clock.advance(KEEPALIVE - TINY)
    assert desk.service.get(desk.kiosk, asked.operation_id).status is OperationStatus.AWAITING_APPROVAL
    desk.service.keep_alive(desk.kiosk, asked.operation_id, asked.session_key)
    desk.clock.advance(KEEPALIVE - TINY)
    assert desk.service.get(desk.kiosk, asked.operation_id).status is OperationStatus.AWAITING_APPROVAL
    desk.clock.advance(TINY)
    view = desk.service.get(desk.kiosk, asked.operation_id)
    assert (view.status, view.error_code) == (OperationStatus.EXPIRED, ErrorCode.KIOSK_GONE)
    assert expiry_of(desk, asked)[2] == T0 + 2 * KEEPALIVE - TINY
    assert_untouched(desk)


def test_an_expired_operation_answers_the_session_as_it_is(desk: Desk) -> None:
    asked = desk.create(OperationKind.UNLINK)
    desk.clock.advance(KEEPALIVE)
    view = desk.service.keep_alive(desk.kiosk, asked.operation_id, asked.session_key)
    assert (view.status, view.error_code) == (OperationStatus.EXPIRED, ErrorCode.KIOSK_GONE)
    assert desk.row(asked.operation_id).last_seen_at == T0
    assert desk.service.cancel(desk.kiosk, asked.operation_id, asked.session_key, None).status == "expired"
    assert desk.audit("operation_cancelled") == []
    assert len(desk.audit("operation_expired")) == 1


def approved_reset(desk: Desk) -> OperationView:
    asked = desk.create(OperationKind.PASSWORD_RESET)
    desk.clock.advance(5 * SECOND)
    desk.approve(asked)
    return asked


def test_the_password_is_set_within_its_window(desk: Desk) -> None:
    asked = approved_reset(desk)
    desk.clock.advance(PASSWORD_WINDOW - TINY)
    view = desk.service.set_password(desk.kiosk, asked.operation_id, GOOD_PASSWORD, asked.session_key)
    now = T0 + 5 * SECOND + PASSWORD_WINDOW - TINY
    assert (view.status, view.result) == (OperationStatus.COMPLETED, {"password_set": True})
    assert view.updated_at == now
    account = desk.account(LINKED)
    assert account.password_changed_at == now
    assert account.password_hash is not None and GOOD_PASSWORD not in account.password_hash
    assert password_matches(account.password_hash, GOOD_PASSWORD)
    assert [subject for _, subject, _ in desk.mails()] == ["Your password was reset at a help desk"]
    assert desk.audit("operation_completed") == [("operation_completed", KIOSK, LINKED, {
        "operation_id": asked.operation_id, "kind": "password_reset"})]
    with refused(ErrorCode.WRONG_STATE, 409, "the operation is password_reset, completed"):
        desk.service.set_password(desk.kiosk, asked.operation_id, GOOD_PASSWORD + "!", asked.session_key)


def test_a_password_after_its_window_is_refused_and_the_expiry_kept(desk: Desk) -> None:
    asked = approved_reset(desk)
    desk.clock.advance(PASSWORD_WINDOW)
    with refused(ErrorCode.OPERATION_EXPIRED, 409):
        desk.service.set_password(desk.kiosk, asked.operation_id, GOOD_PASSWORD, asked.session_key)
    assert expiry_of(desk, asked) == ("expired", "password_window_passed", T0 + 5 * SECOND + PASSWORD_WINDOW)
    assert [d["reason"] for *_, d in desk.audit("operation_expired")] == ["password_window_passed"]
    assert_untouched(desk)


def test_an_approved_reset_outlives_the_keep_alive_timeout(desk: Desk) -> None:
    """Once approved, the kiosk's keep-alives no longer matter: only the password window does."""
    asked = approved_reset(desk)
    desk.clock.advance(PASSWORD_WINDOW - SECOND)
    assert desk.service.get(desk.kiosk, asked.operation_id).status is OperationStatus.APPROVED


def test_a_password_breaking_the_policy_is_refused_and_the_reset_still_waits(desk: Desk) -> None:
    asked = approved_reset(desk)
    with refused(ErrorCode.PASSWORD_POLICY, 422) as caught:
        desk.service.set_password(desk.kiosk, asked.operation_id, "short", asked.session_key)
    assert caught.value.extra["problems"] == ["too_short", "too_few_classes"]
    assert caught.value.extra["policy"] == desk.parts.policy.password.describe()
    assert desk.row(asked.operation_id).status == "approved"
    assert_untouched(desk)
    view = desk.service.set_password(desk.kiosk, asked.operation_id, GOOD_PASSWORD, asked.session_key)
    assert view.status is OperationStatus.COMPLETED


def test_a_password_before_approval_is_refused(desk: Desk) -> None:
    asked = desk.create(OperationKind.PASSWORD_RESET)
    with refused(ErrorCode.WRONG_STATE, 409, "the operation is password_reset, awaiting_approval"):
        desk.service.set_password(desk.kiosk, asked.operation_id, GOOD_PASSWORD, asked.session_key)
    assert_untouched(desk)


def test_a_password_for_another_kind_is_refused(desk: Desk) -> None:
    asked = desk.create(OperationKind.UNLINK)
    desk.approve(asked)
    with refused(ErrorCode.WRONG_STATE, 409, "the operation is unlink, completed"):
        desk.service.set_password(desk.kiosk, asked.operation_id, GOOD_PASSWORD, asked.session_key)


def test_a_password_needs_the_session_that_asked(desk: Desk) -> None:
    asked = approved_reset(desk)
    with refused(ErrorCode.SESSION_KEY_INVALID, 403):
        desk.service.set_password(desk.kiosk, asked.operation_id, GOOD_PASSWORD, "another session's key")
    with refused(ErrorCode.OPERATION_UNKNOWN, 404):
        desk.service.set_password(desk.other_kiosk, asked.operation_id, GOOD_PASSWORD, asked.session_key)
    with refused(ErrorCode.INSUFFICIENT_SCOPE, 403, "this call needs the 'operate' scope"):
        desk.service.set_password(desk.staff, asked.operation_id, GOOD_PASSWORD, asked.session_key)
    assert_untouched(desk)


def test_a_cancelled_reset_takes_no_password(desk: Desk) -> None:
    asked = approved_reset(desk)
    desk.service.cancel(desk.kiosk, asked.operation_id, asked.session_key, "changed their mind")
    with refused(ErrorCode.OPERATION_CANCELLED, 409):
        desk.service.set_password(desk.kiosk, asked.operation_id, GOOD_PASSWORD, asked.session_key)
    assert_untouched(desk)


def test_a_finished_operation_never_expires(desk: Desk) -> None:
    """The windows apply to operations still waiting: an approved and completed one stays as it is."""
    asked = desk.create(OperationKind.UNLINK)
    done = desk.approve(asked)
    reset = approved_reset(desk)
    desk.service.set_password(desk.kiosk, reset.operation_id, GOOD_PASSWORD, reset.session_key)
    desk.clock.advance(dt.timedelta(days=1))
    for view in (done, reset):
        again = desk.service.get(desk.kiosk, view.operation_id)
        assert (again.status, again.error_code) == (OperationStatus.COMPLETED, None)
    assert desk.audit("operation_expired") == []


def test_the_new_password_is_hashed_before_any_transaction_opens(desk: Desk,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 takes a tenth of a second: run inside the transaction it would hold the operation's and
    the account's row locks (on SQLite, the whole database's write lock) all that time."""
    open_connections: list[int] = []
    real_hash = directory.hash_password

    def spied(password: str) -> str:
        open_connections.append(desk.parts.db.engine.pool.checkedout())  # type: ignore[attr-defined]
        return real_hash(password)

    monkeypatch.setattr(directory, "hash_password", spied)
    asked = approved_reset(desk)
    view = desk.service.set_password(desk.kiosk, asked.operation_id, GOOD_PASSWORD, asked.session_key)
    assert view.status is OperationStatus.COMPLETED
    assert open_connections == [0]
    assert password_matches(desk.account(LINKED).password_hash, GOOD_PASSWORD)
