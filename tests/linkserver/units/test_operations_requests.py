"""What each kind of operation needs before it may be asked for: a salvage its mode and a former
member within the salvage period, a reset an active account, a pre-link the card's name and the
account token of the device grant for a free account and a free card. Every refusal leaves no
operation and the verification free for another try."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from linkserver.errors import ErrorCode
from linkserver.models import Account, Operation
from linkserver.words import OperationKind, OperationStatus
from tests.linkserver.units.operations_parts import (
    FREE,
    FREE_PPID,
    KIOSK,
    LEFT,
    LINKED,
    LINKED_PPID,
    LONG_GONE,
    OTHER_KIOSK,
    SUSPENDED,
    T0,
    TINY,
    Desk,
    refused,
)

SALVAGE_DAYS = dt.timedelta(days=180)


def refuse(desk: Desk, kind: OperationKind, account_id: str, params: dict[str, object], code: ErrorCode,
           status: int, words: str | None = None, *, ppid: str | None = None, matched: bool = True) -> None:
    """Asking for ``kind`` on a fresh verification of ``account_id`` is refused as given, and leaves
    nothing: no operation, the verification unclaimed, one audit entry."""
    verification_id = desk.verification(account_id, ppid=ppid or f"ppid-of-{account_id}", matched=matched)
    with refused(code, status, words):
        desk.service.create(desk.kiosk, "key-1", kind, verification_id, params)
    assert desk.verification_row(verification_id).operation_id is None
    with desk.parts.db.transaction() as session:
        assert session.query(Operation).count() == 0
    assert desk.audit() == [("operation_refused", KIOSK, None, {
        "kind": kind.value, "code": code.value, "verification_id": verification_id})]


def left_on(desk: Desk, account_id: str, at: dt.datetime) -> None:
    with desk.parts.db.transaction() as session:
        session.execute(update(Account).where(Account.account_id == account_id).values(left_at=at))


@pytest.mark.parametrize("params", [{}, {"mode": "archive"}, {"mode": None}, {"mode": "Backup"}])
def test_a_salvage_needs_its_mode(desk: Desk, params: dict[str, object]) -> None:
    refuse(desk, OperationKind.SALVAGE, LEFT, params, ErrorCode.INVALID_REQUEST, 422,
           "salvage needs mode 'backup' or 'forwarding'")


@pytest.mark.parametrize("account_id", [FREE, LONG_GONE, SUSPENDED])
def test_a_salvage_is_for_recent_former_members(desk: Desk, account_id: str) -> None:
    refuse(desk, OperationKind.SALVAGE, account_id, {"mode": "backup"}, ErrorCode.SALVAGE_NOT_ELIGIBLE, 403)


def test_a_salvage_is_open_to_the_last_second_of_the_period(desk: Desk) -> None:
    left_on(desk, LEFT, T0 - SALVAGE_DAYS)
    view = desk.create(OperationKind.SALVAGE, LEFT, params={"mode": "backup"})
    assert view.status is OperationStatus.AWAITING_APPROVAL
    desk.approve(view)


def test_a_salvage_after_the_period_is_refused(desk: Desk) -> None:
    left_on(desk, LEFT, T0 - SALVAGE_DAYS - TINY)
    refuse(desk, OperationKind.SALVAGE, LEFT, {"mode": "forwarding"}, ErrorCode.SALVAGE_NOT_ELIGIBLE, 403)


def test_a_former_member_without_a_leaving_date_cannot_salvage(desk: Desk) -> None:
    with desk.parts.db.transaction() as session:
        session.execute(update(Account).where(Account.account_id == LEFT).values(left_at=None))
    refuse(desk, OperationKind.SALVAGE, LEFT, {"mode": "backup"}, ErrorCode.SALVAGE_NOT_ELIGIBLE, 403)


@pytest.mark.parametrize("account_id", [LEFT, SUSPENDED])
def test_an_mfa_reset_needs_an_active_account(desk: Desk, account_id: str) -> None:
    refuse(desk, OperationKind.MFA_RESET, account_id, {}, ErrorCode.ACCOUNT_UNAVAILABLE, 409,
           "only an active account has MFA methods to reset")


@pytest.mark.parametrize("account_id", [LEFT, SUSPENDED])
def test_a_password_reset_needs_an_active_account(desk: Desk, account_id: str) -> None:
    refuse(desk, OperationKind.PASSWORD_RESET, account_id, {}, ErrorCode.ACCOUNT_UNAVAILABLE, 409,
           "only an active account can have its password reset")


NAME_WORDS = "pre-link needs the name read from the card (1-200 characters)"
TOKEN_WORDS = "pre-link needs the account token from the device grant"


@pytest.mark.parametrize("name", [None, "", "   ", 42, "X" * 201])
def test_a_prelink_needs_the_name_on_the_card(desk: Desk, name: object) -> None:
    params = {"name_on_card": name, "account_token": desk.account_token(FREE)}
    refuse(desk, OperationKind.PRELINK, FREE, params, ErrorCode.INVALID_REQUEST, 422, NAME_WORDS,
           matched=False)


def test_a_name_of_two_hundred_characters_is_taken(desk: Desk) -> None:
    view = desk.create(OperationKind.PRELINK, FREE, params=desk.prelink_params(FREE, "X" * 200))
    assert desk.row(view.operation_id).params == {"name_on_card": "X" * 200}


@pytest.mark.parametrize("token", [None, 17])
def test_a_prelink_needs_the_account_token(desk: Desk, token: object) -> None:
    params = {"name_on_card": "SUZUKI ICHIRO", "account_token": token}
    refuse(desk, OperationKind.PRELINK, FREE, params, ErrorCode.INVALID_REQUEST, 422, TOKEN_WORDS,
           matched=False)


def test_an_invalid_account_token_is_refused(desk: Desk) -> None:
    forged = desk.account_token(FREE)[:-4] + "AAAA"
    refuse(desk, OperationKind.PRELINK, FREE, {"name_on_card": "SUZUKI ICHIRO", "account_token": forged},
           ErrorCode.ACCOUNT_PROOF_INVALID, 403)


def test_an_expired_account_token_is_refused(desk: Desk) -> None:
    token = desk.account_token(FREE)
    desk.clock.advance(dt.timedelta(hours=1))
    refuse(desk, OperationKind.PRELINK, FREE, {"name_on_card": "SUZUKI ICHIRO", "account_token": token},
           ErrorCode.ACCOUNT_PROOF_INVALID, 403)


@pytest.mark.parametrize("proof", ["kiosk scopes", "no account"])
def test_a_token_proving_no_account_is_refused(desk: Desk, proof: str) -> None:
    """A token without the account scope, or with it but naming no account, proves no account."""
    if proof == "kiosk scopes":
        token = desk.account_token(FREE, scopes=("verify", "operate"))
    else:
        token = desk.parts.tokens.issue(KIOSK, ["account"])[0]
    params = {"name_on_card": "SUZUKI ICHIRO", "account_token": token}
    refuse(desk, OperationKind.PRELINK, FREE, params, ErrorCode.ACCOUNT_PROOF_INVALID, 403)


@pytest.mark.parametrize(("proved", "client_id"), [(LEFT, KIOSK), (FREE, OTHER_KIOSK)])
def test_a_proof_of_another_account_or_kiosk_is_refused(desk: Desk, proved: str, client_id: str) -> None:
    params = {"name_on_card": "SUZUKI ICHIRO", "account_token": desk.account_token(proved, client_id)}
    refuse(desk, OperationKind.PRELINK, FREE, params, ErrorCode.ACCOUNT_PROOF_MISMATCH, 403)


@pytest.mark.parametrize("account_id", [LEFT, SUSPENDED, "2024999999"])
def test_only_an_active_account_can_be_linked(desk: Desk, account_id: str) -> None:
    refuse(desk, OperationKind.PRELINK, account_id, desk.prelink_params(account_id),
           ErrorCode.ACCOUNT_UNAVAILABLE, 409, "only an active account can be linked", matched=False)


def test_a_linked_account_cannot_be_linked_again(desk: Desk) -> None:
    refuse(desk, OperationKind.PRELINK, LINKED, desk.prelink_params(LINKED), ErrorCode.ACCOUNT_ALREADY_LINKED,
           409, ppid=FREE_PPID, matched=False)


def test_a_card_linked_to_another_account_cannot_be_linked(desk: Desk) -> None:
    refuse(desk, OperationKind.PRELINK, FREE, desk.prelink_params(FREE), ErrorCode.CARD_ALREADY_LINKED, 409,
           ppid=LINKED_PPID, matched=False)
