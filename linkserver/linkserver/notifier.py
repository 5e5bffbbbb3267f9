"""Telling account holders what was done to their account, through one interface.

The reference notifier writes to the ``mail_outbox`` table in the operation's own transaction, so
a notification exists exactly when the operation does; the server's sender (``linkserver.mailer``)
or the institution's own mailer drains it. Each row gets its Message-ID here, committed with the
operation and so before any attempt to send it: every attempt, a resend after a crash included,
carries the same one.

A salvage ticket also queues the configured hand-off in the same transaction: a signed webhook
(``handoff_outbox``) or a mail to the data-custody team.
"""

from __future__ import annotations

import datetime as dt
import json
from email.utils import make_msgid
from typing import Protocol

from sqlalchemy.orm import Session

from linkserver.directory import AccountInfo
from linkserver.mailsettings import SalvageSettings
from linkserver.mailtext import WHAT, handoff_notice, notice
from linkserver.models import Counter, HandoffOutbox, KioskClient, MailOutbox

#: The English subject of each event's notice.
SUBJECTS = {event: english for event, (_ja, english) in WHAT.items()}
HANDOFF_EVENT = "salvage_handoff"


class Notifier(Protocol):
    def notify(self, session: Session, account: AccountInfo, event: str, at: dt.datetime,
               where: str) -> None: ...

    def handoff(self, session: Session, account: AccountInfo, mode: str, operation_id: str,
                expires: dt.datetime, at: dt.datetime) -> None: ...


def counter_name(session: Session, client_id: str) -> str:
    """Where a kiosk stands, in words: its counter's name and the kiosk's ID, or the ID alone."""
    client = session.get(KioskClient, client_id)
    counter = session.get(Counter, client.counter_id) if client is not None and client.counter_id else None
    return f"{counter.name} ({client_id})" if counter is not None else client_id


def handoff_body(account_id: str, mode: str, operation_id: str, expires: dt.datetime, at: dt.datetime) -> str:
    """The webhook's JSON body: what the custody team needs to prepare, never the ticket."""
    return json.dumps({"type": HANDOFF_EVENT, "account_id": account_id, "mode": mode,
                       "ticket_expires_at": expires.astimezone(dt.UTC).isoformat(),
                       "operation_id": operation_id, "at": at.astimezone(dt.UTC).isoformat()},
                      ensure_ascii=False, separators=(",", ":"))


class MailOutboxNotifier:
    """Queues a plain mail for the sender; never includes a code, a ticket or a link."""

    def __init__(self, language: str = "ja+en", domain: str = "localhost",
                 salvage: SalvageSettings | None = None) -> None:
        self.language = language
        self.domain = domain
        self.salvage = salvage or SalvageSettings()

    def notify(self, session: Session, account: AccountInfo, event: str, at: dt.datetime,
               where: str) -> None:
        english_name = account.display_name_en or account.display_name
        text = notice(event, name_ja=account.display_name, name_en=english_name, at=at,
                      where=counter_name(session, where), language=self.language)
        self._queue(session, account.account_id, account.email, event, text.subject, text.body, at)

    def handoff(self, session: Session, account: AccountInfo, mode: str, operation_id: str,
                expires: dt.datetime, at: dt.datetime) -> None:
        if self.salvage.handoff == "webhook":
            session.add(HandoffOutbox(operation_id=operation_id, created_at=at,
                                      body=handoff_body(account.account_id, mode, operation_id, expires, at)))
        elif self.salvage.handoff == "mail":
            text = handoff_notice(account_id=account.account_id, mode=mode, expires=expires,
                                  operation_id=operation_id, at=at)
            self._queue(session, account.account_id, self.salvage.custody_address, HANDOFF_EVENT,
                        text.subject, text.body, at)

    def _queue(self, session: Session, account_id: str, recipient: str, event: str, subject: str, body: str,
               at: dt.datetime) -> None:
        session.add(MailOutbox(account_id=account_id, recipient=recipient, subject=subject, body=body,
                               created_at=at, event=event, message_id=make_msgid("notice", self.domain),
                               attempts=0))
