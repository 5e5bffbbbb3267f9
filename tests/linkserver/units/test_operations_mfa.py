"""An MFA reset through a backend: an MFA system that does not answer leaves nothing changed and the
decision open to be taken again; a backend's enrolment URI reaches the kiosk's session once."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy.orm import Session

from linkserver.directory import AccountInfo
from linkserver.errors import ErrorCode
from linkserver.mfa import Enrolment, MfaUnavailable
from linkserver.models import Account
from linkserver.operations import OperationService
from linkserver.words import OperationKind, OperationStatus
from tests.linkserver.units import operations_parts as parts
from tests.linkserver.units.operations_parts import Desk, assert_untouched, refused

URI = "otpauth://totp/University:2024000001?secret=JBSWY3DPEHPK3PXP&issuer=University"


class FlakyMfa:
    """An MFA system that fails while ``down``, after clearing the methods (which must not stay
    cleared), and otherwise enrols ``URI``."""

    def __init__(self) -> None:
        self.down = True

    def reset(self, session: Session, account: AccountInfo, now: dt.datetime) -> Enrolment:
        row = session.get(Account, account.account_id)
        assert row is not None
        cleared, row.mfa_methods = row.mfa_methods, 0
        if self.down:
            raise MfaUnavailable("privacyIDEA answered 500")
        return Enrolment(uri=URI, code=None, expires_at=now + dt.timedelta(hours=1), cleared=cleared)

    def check(self) -> str:
        return "flaky"


def with_backend(desk: Desk, mfa: FlakyMfa) -> Desk:
    return dataclasses.replace(desk, service=OperationService(desk.parts, parts.LIFETIMES, mfa))


def test_an_mfa_system_that_fails_changes_nothing_and_the_decision_may_be_taken_again(desk: Desk) -> None:
    mfa = FlakyMfa()
    desk = with_backend(desk, mfa)
    view = desk.create(OperationKind.MFA_RESET)
    with refused(ErrorCode.MFA_UNAVAILABLE, 503):
        desk.approve(view)
    row = desk.row(view.operation_id)
    assert (row.status, row.approved_by, row.result) == (OperationStatus.AWAITING_APPROVAL, None, {})
    assert_untouched(desk)
    assert desk.mails() == []
    assert desk.audit("operation_approved", "operation_completed") == []
    [(_event, client, _account, details)] = desk.audit("backend_unavailable")
    assert (client, details) == (parts.CONSOLE, {"backend": "mfa", "operation_id": view.operation_id,
                                                 "code": "mfa_unavailable", "staff": "desk-tanaka"})
    mfa.down = False
    approved = desk.approve(view)
    assert approved.status is OperationStatus.COMPLETED
    assert desk.account(parts.LINKED).mfa_methods == 0


def test_the_enrolment_uri_is_the_result_shown_once(desk: Desk) -> None:
    mfa = FlakyMfa()
    mfa.down = False
    desk = with_backend(desk, mfa)
    view = desk.create(OperationKind.MFA_RESET)
    desk.approve(view)
    first = desk.service.keep_alive(desk.kiosk, view.operation_id, view.session_key)
    expires = parts.T0 + dt.timedelta(hours=1)
    assert first.result == {"enrolment_uri": URI, "expires_at": expires.isoformat()}
    again = desk.service.keep_alive(desk.kiosk, view.operation_id, view.session_key)
    assert "enrolment_uri" not in again.result and again.result["shown"] is True
