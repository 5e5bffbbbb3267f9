"""The sender: drains ``mail_outbox`` over SMTP and ``handoff_outbox`` to the salvage webhook.

It runs in the server process (a thread started with the app) or as ``kiosk-linkserver send-mail``.
Several senders may run at once: each takes a batch of due rows in a short transaction (on
PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite lets one writer in at a time) and marks them as its
own until ``claim_seconds`` from now, so no other sender takes them meanwhile; then it sends them
over one connection and records each result in a transaction of its own, at once.

Exactly once, as far as SMTP allows: a row's Message-ID is fixed (and committed) before the first
attempt, and every attempt sends it. If a sender dies after the mail server's "250" but before its
commit, the row is sent again, by a sender that starts on the same machine at once (it finds the
claim's process gone) or by any sender once the claim ran out: the same message, with the same
Message-ID, which receivers and the tests recognise as one (docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from linkserver.db import Database
from linkserver.handoff import HandoffSender
from linkserver.mailsettings import BATCH, NotifierSettings
from linkserver.models import HandoffOutbox, MailOutbox
from linkserver.service import utc_now

logger = logging.getLogger(__name__)

Outbox = type[MailOutbox] | type[HandoffOutbox]


class MailerError(Exception):
    """The SMTP server (or the webhook) cannot be used; the message says why, in words."""


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt: sent; or not, and whether to try again (``permanent``: never)."""

    sent: bool
    error: str = ""
    permanent: bool = False


@dataclass
class Drained:
    """What one pass of the sender did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, other: Drained) -> None:
        self.sent, self.retried, self.failed = (self.sent + other.sent, self.retried + other.retried,
                                                self.failed + other.failed)


def worker_name() -> str:
    """Who holds a claim: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def tls_context(ca_file: Any) -> ssl.SSLContext:
    """Certificates checked against the pinned CA, or the system's CAs without one."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


# -- SMTP ------------------------------------------------------------------------------------------


def _reply_words(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


def smtp_connect(settings: NotifierSettings) -> smtplib.SMTP:
    """A connection to the SMTP server, after STARTTLS and AUTH where configured; MailerError with words."""
    where = f"{settings.host}:{settings.port}"
    try:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailerError(f"cannot reach the SMTP server {where}: {exc}") from None
    try:
        smtp.ehlo()
        if settings.starttls:
            if not smtp.has_extn("starttls"):
                raise MailerError(f"the SMTP server {where} does not offer STARTTLS")
            smtp.starttls(context=tls_context(settings.ca_file))
            smtp.ehlo()
        if settings.username:
            assert settings.password_file is not None
            password = settings.password_file.read_text("utf-8").strip()
            smtp.login(settings.username, password)
    except smtplib.SMTPAuthenticationError as exc:
        smtp.close()
        raise MailerError(f"the SMTP server {where} refused the login of {settings.username}: "
                          f"{_reply_words(exc.smtp_code, exc.smtp_error)}") from None
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        raise MailerError(f"the SMTP server {where} failed during STARTTLS or AUTH: {exc}") from None
    except MailerError:
        smtp.close()
        raise
    return smtp


def check_smtp(settings: NotifierSettings) -> str:
    """Connect, STARTTLS, AUTH and QUIT: words on what worked, or MailerError with words."""
    smtp = smtp_connect(settings)
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
    steps = ["connected"] + (["STARTTLS with a verified certificate"] if settings.starttls else []) + (
        [f"logged in as {settings.username}"] if settings.username else [])
    return f"SMTP server {settings.host}:{settings.port}: " + ", ".join(steps)


def message_of(row: MailOutbox, from_address: str, language: str = "ja+en") -> EmailMessage:
    """The mail a row stands for: the same bytes-to-be on every attempt (its Message-ID and Date included)."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at.astimezone(dt.UTC))
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body, charset="utf-8")  # (which drops any Content-* header set before)
    message["Content-Language"] = ", ".join(language.split("+"))
    return message


def smtp_outcome(exc: smtplib.SMTPException) -> Outcome:
    """A refusal in words; a 5xx reply is permanent, anything else is tried again."""
    message: bytes | str
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, message = next(iter(exc.recipients.values()))
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, message = exc.smtp_code, exc.smtp_error
    else:
        return Outcome(False, f"the SMTP conversation failed: {exc}")
    words = f"the SMTP server refused the mail: {_reply_words(code, message)}"
    return Outcome(False, words, permanent=500 <= code < 600)


# -- the sender ------------------------------------------------------------------------------------


class Sender:
    """Drains the outboxes; ``after_send(message_id)`` runs after the server's 250, before the commit."""

    def __init__(self, db: Database, settings: NotifierSettings, handoff: HandoffSender | None = None, *,
                 clock: Callable[[], dt.datetime] = utc_now,
                 after_send: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.handoff = handoff
        self.clock = clock
        self.after_send = after_send
        self.worker = worker_name()
        self._released = False

    def run_once(self) -> Drained:
        """Send everything due now (batch after batch); what fails waits for its back-off."""
        if not self._released:
            self.release_dead_claims()
            self._released = True
        drained = Drained()
        outboxes: list[Outbox] = []
        if self.settings.sends:
            outboxes.append(MailOutbox)
        if self.handoff is not None:
            outboxes.append(HandoffOutbox)
        for model in outboxes:
            while True:
                rows = self._claim(model)
                if not rows:
                    break
                drained.add(self._send_mails(rows) if model is MailOutbox else self._send_handoffs(rows))
        return drained

    def run(self, stop: threading.Event) -> None:
        """Send what is due every ``poll_seconds`` until ``stop`` is set; a failed pass is logged."""
        while not stop.is_set():
            try:
                drained = self.run_once()
                if drained.sent or drained.retried or drained.failed:
                    logger.info("mail sender: %d sent, %d to retry, %d failed", drained.sent, drained.retried,
                                drained.failed)
            except Exception:
                logger.exception("mail sender: the pass failed; trying again later")
            stop.wait(self.settings.poll_seconds)

    def release_dead_claims(self) -> int:
        """Rows held by a sender on this machine whose process is gone are due again at once."""
        prefix = f"{socket.gethostname()}:"
        released = 0
        with self.db.transaction() as session:
            for model in (MailOutbox, HandoffOutbox):
                held: Sequence[Any] = session.scalars(select(model).where(
                    model.claimed_by.startswith(prefix, autoescape=True), model.sent_at.is_(None),
                    model.failed_at.is_(None))).all()
                for row in held:
                    pid = str(row.claimed_by).rsplit(":", 1)[1]
                    if pid.isdigit() and _process_gone(int(pid)):
                        row.claimed_by, row.next_attempt_at = None, None
                        released += 1
        return released

    def _claim(self, model: Outbox) -> Sequence[Any]:
        """Take up to a batch of due rows for this sender, in one short committed transaction."""
        now = self.clock()
        with self.db.transaction() as session:
            due = (select(model).where(model.sent_at.is_(None), model.failed_at.is_(None),
                                       or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now))
                   .order_by(model.created_at).limit(BATCH).with_for_update(skip_locked=True))
            rows: Sequence[Any] = session.scalars(due).all()
            for row in rows:
                row.claimed_by = self.worker
                row.next_attempt_at = now + dt.timedelta(seconds=self.settings.claim_seconds)
                row.attempts += 1
                if isinstance(row, MailOutbox) and not row.message_id:
                    row.message_id = make_msgid("notice", self.settings.message_id_domain)
            session.flush()
            session.expunge_all()
            return rows

    def _send_mails(self, rows: Sequence[MailOutbox]) -> Drained:
        drained = Drained()
        try:
            smtp = smtp_connect(self.settings)
        except MailerError as exc:
            for row in rows:
                drained.add(self._record(MailOutbox, row.mail_id, row.attempts, Outcome(False, str(exc))))
            return drained
        try:
            for row in rows:
                outcome = self._send_one(smtp, row)
                if outcome.sent and self.after_send is not None:
                    self.after_send(str(row.message_id))
                drained.add(self._record(MailOutbox, row.mail_id, row.attempts, outcome))
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return drained

    def _send_one(self, smtp: smtplib.SMTP, row: MailOutbox) -> Outcome:
        try:
            smtp.send_message(message_of(row, self.settings.from_address, self.settings.language))
        except smtplib.SMTPException as exc:
            return smtp_outcome(exc)
        except OSError as exc:
            return Outcome(False, f"the connection to the SMTP server failed: {exc}")
        return Outcome(True)

    def _send_handoffs(self, rows: Sequence[HandoffOutbox]) -> Drained:
        assert self.handoff is not None
        drained = Drained()
        for row in rows:
            outcome = self.handoff.post(row.body, row.operation_id)
            drained.add(self._record(HandoffOutbox, row.handoff_id, row.attempts, Outcome(*outcome)))
        return drained

    def _record(self, model: Outbox, row_id: int, attempts: int, outcome: Outcome) -> Drained:
        """The attempt's result, committed at once: sent; failed for good; or due again after its back-off."""
        now = self.clock()
        with self.db.transaction() as session:
            row: Any = session.get(model, row_id)
            assert row is not None
            return self._apply(session, row, attempts, outcome, now)

    def _apply(self, session: Session, row: MailOutbox | HandoffOutbox, attempts: int, outcome: Outcome,
               now: dt.datetime) -> Drained:
        row.claimed_by = None
        if outcome.sent:
            row.sent_at, row.last_error, row.next_attempt_at = now, None, None
            return Drained(sent=1)
        row.last_error = outcome.error[:2000]
        if outcome.permanent or attempts >= self.settings.max_attempts:
            if not outcome.permanent:
                row.last_error = f"gave up after {attempts} attempts; the last: {outcome.error}"[:2000]
            row.failed_at, row.next_attempt_at = now, None
            logger.warning("mail sender: %s %s failed for good: %s", row.__tablename__, _row_id(row),
                           row.last_error)
            return Drained(failed=1)
        delay = min(self.settings.retry_base_seconds * 2 ** (attempts - 1), self.settings.retry_max_seconds)
        row.next_attempt_at = now + dt.timedelta(seconds=delay)
        return Drained(retried=1)


def _row_id(row: MailOutbox | HandoffOutbox) -> int:
    return row.mail_id if isinstance(row, MailOutbox) else row.handoff_id


def start_in_thread(sender: Sender) -> tuple[threading.Thread, threading.Event]:
    """The sender in a daemon thread of this process, until the event returned is set."""
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,), name="mail-sender", daemon=True)
    thread.start()
    return thread, stop


def build_sender(settings: Any, db: Database, *, clock: Callable[[], dt.datetime] = utc_now,
                 after_send: Callable[[str], None] | None = None) -> Sender | None:
    """The sender the settings call for (mail with ``backend = "smtp"``, the salvage webhook), or None."""
    from linkserver.tokens import load_ec_private_key

    handoff = None
    if settings.salvage.webhook:
        handoff = HandoffSender(settings.salvage.webhook_url, load_ec_private_key(settings.signing_key_file),
                                settings.salvage.webhook_ca_file, settings.notifier.timeout_seconds)
    if not settings.notifier.sends and handoff is None:
        return None
    return Sender(db, settings.notifier, handoff, clock=clock, after_send=after_send)
