"""Telling account holders what was done to their account, through one interface.

The reference notifier writes to the ``mail_outbox`` table in the operation's own transaction, so
a notification exists exactly when the operation does; the institution's mailer drains it.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy.orm import Session

from linkserver.directory import AccountInfo
from linkserver.models import MailOutbox

SUBJECTS = {
    "prelink": "Your My Number Card was linked to your account",
    "link_status": "Your card link was checked at a help desk",
    "unlink": "The link between your My Number Card and your account was deleted",
    "password_reset": "Your password was reset at a help desk",
    "mfa_reset": "Your multi-factor authentication methods were cleared",
    "salvage": "A cloud-data salvage ticket was issued for your account",
    "refused": "A request for your account was refused at a help desk",
}


class Notifier(Protocol):
    def notify(self, session: Session, account: AccountInfo, event: str, at: dt.datetime,
               where: str) -> None: ...


class MailOutboxNotifier:
    """Queues a plain mail for the institution's mailer; never includes a code or a password."""

    def notify(self, session: Session, account: AccountInfo, event: str, at: dt.datetime,
               where: str) -> None:
        subject = SUBJECTS[event]
        body = (
            f"{account.display_name},\n\n{subject} on {at:%Y-%m-%d %H:%M} UTC ({where}).\n\n"
            "If this was not you, contact the IT help desk at once.\n"
        )
        session.add(MailOutbox(account_id=account.account_id, recipient=account.email,
                               subject=subject, body=body, created_at=at))
