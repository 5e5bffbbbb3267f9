"""What a member of staff sees and decides: the requests waiting on their counters.

A desk member sees the requests of kiosks at the counters assigned to them; a supervisor sees every
counter's (and the requests of kiosks at no counter); an auditor decides nothing. A decision is
taken by ``OperationService.decide`` under the console's client, in the signed-in member's name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from linkserver.errors import ApiError, ErrorCode
from linkserver.models import KioskClient, Link, Operation, Verification
from linkserver.operations import OperationService, OperationView
from linkserver.staff import StaffInfo
from linkserver.tokens import Caller
from linkserver.words import RefusalReason

#: The client a console decision is recorded under, beside the member's own ID.
CONSOLE_CLIENT = "staff-console"
#: Why staff refuse; the kiosk shows each in the user's language.
REFUSAL_REASONS = tuple(reason.value for reason in RefusalReason)


class NotYours(Exception):
    """The request is on a counter the member does not supervise, or the member decides nothing."""


def mask_account(account_id: str) -> str:
    """An account ID with its middle hidden: enough to tell two requests apart, not to read it out."""
    if len(account_id) <= 4:
        return "*" * len(account_id)
    keep = 2 if len(account_id) < 10 else 3
    return account_id[:keep] + "*" * (len(account_id) - 2 * keep) + account_id[-keep:]


@dataclass(frozen=True)
class Waiting:
    """One request in the queue, as the page shows it."""

    operation_id: str
    kind: str
    account: str  # masked
    name_on_record: str
    name_on_card: str | None
    certificate_not_after: dt.datetime | None
    kiosk: str
    counter: str | None
    waited: dt.timedelta
    #: The account directory did not answer, so the name on record cannot be shown.
    directory_down: bool = False


class ConsoleQueue:
    def __init__(self, operations: OperationService) -> None:
        self.operations = operations
        self.parts = operations.parts

    def pending(self, member: StaffInfo) -> list[Waiting]:
        if not member.decides:
            raise NotYours()
        now = self.parts.clock()
        views = self.operations.pending(Caller(CONSOLE_CLIENT, frozenset({"staff"})))
        found: list[Waiting] = []
        directory_down = False  # after one failure to answer, the rest of the list does not wait
        with self.parts.db.transaction() as session:
            for view in views:
                op = session.get(Operation, view.operation_id)
                if op is None:
                    continue
                counter = self._counter(session, op.client_id)
                if not self._may_decide(member, counter):
                    continue
                account = None
                if not directory_down:
                    try:
                        account = self.parts.directory.find(session, op.account_id)
                    except ApiError as exc:
                        if exc.code is not ErrorCode.DIRECTORY_UNAVAILABLE:
                            raise
                        directory_down = True
                verification = session.get(Verification, op.verification_id) if op.verification_id else None
                found.append(Waiting(op.operation_id, op.kind, mask_account(op.account_id),
                                     account.display_name if account else "",
                                     self._name_on_card(session, op), verification.certificate_not_after
                                     if verification else None, op.client_id, counter, now - op.created_at,
                                     directory_down))
        return found

    def decide(self, member: StaffInfo, operation_id: str, approve: bool,
               reason: str | None) -> OperationView:
        """Approves or refuses in ``member``'s name; ``NotYours`` for another counter's request."""
        if not member.decides:
            raise NotYours()
        with self.parts.db.transaction(write=False) as session:
            op = session.get(Operation, operation_id)
            if op is None:
                raise ApiError(ErrorCode.OPERATION_UNKNOWN, 404)
            if not self._may_decide(member, self._counter(session, op.client_id)):
                raise NotYours()
        if not approve and reason not in REFUSAL_REASONS:
            raise ApiError(ErrorCode.INVALID_REQUEST, 400, "pick the reason for the refusal")
        caller = Caller(CONSOLE_CLIENT, frozenset({"staff"}))
        reason = None if approve else reason
        return self.operations.decide(caller, operation_id, approve, member.staff_id, reason)

    @staticmethod
    def _may_decide(member: StaffInfo, counter: str | None) -> bool:
        return member.all_counters or (counter is not None and counter in member.counters)

    @staticmethod
    def _counter(session: Session, client_id: str) -> str | None:
        client = session.get(KioskClient, client_id)
        return None if client is None else client.counter_id

    @staticmethod
    def _name_on_card(session: Session, op: Operation) -> str | None:
        name = op.params.get("name_on_card") if isinstance(op.params, dict) else None
        if isinstance(name, str):
            return name
        verification = session.get(Verification, op.verification_id) if op.verification_id else None
        if verification is None:
            return None
        return session.scalars(select(Link.name_on_card).where(Link.ppid == verification.ppid)).first()
