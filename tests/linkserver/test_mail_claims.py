"""Senders side by side, on SQLite and on PostgreSQL: each notice is sent by one of them, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.nfc.sim import TestHierarchy
from linkserver.db import Database, is_postgresql
from linkserver.demo import DEMO_ACCOUNTS, DEMO_KIOSK_ID, prepare_demo
from linkserver.directory import SqlDirectory
from linkserver.mailer import Drained, Sender
from linkserver.mailsettings import NotifierSettings
from linkserver.models import MailOutbox
from linkserver.notifier import MailOutboxNotifier
from linkserver.service import utc_now
from tests.helpers.mailbox import USER, WAIT, SmtpServer, smtp_server
from tests.linkserver.helpers import postgres_schema

NOTICES = 30


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path / "smtp") as server:
        yield server


def settings_for(smtp: SmtpServer) -> NotifierSettings:
    return NotifierSettings(backend="smtp", host=smtp.host, port=smtp.port, ca_file=smtp.ca_file,
                            username=USER, password_file=smtp.password_file, from_address="it@example.ac.jp",
                            timeout_seconds=10)


def queued(tmp_path: Path, hierarchy: TestHierarchy, database_url: str, count: int) -> list[str]:
    """``count`` notices queued in the demo's database at ``database_url``; their Message-IDs."""
    prepare_demo(tmp_path / "state", hierarchy.path, database_url=database_url)
    db = Database(database_url)
    try:
        with db.transaction() as session:
            notifier = MailOutboxNotifier(domain="claims.example.ac.jp")
            for number in range(count):
                account = SqlDirectory().find(session, DEMO_ACCOUNTS[number % len(DEMO_ACCOUNTS)].account_id)
                assert account is not None
                notifier.notify(session, account, "link_status", utc_now(), DEMO_KIOSK_ID)
        with db.transaction() as session:
            return [str(found) for found in session.scalars(select(MailOutbox.message_id))]
    finally:
        db.dispose()


def test_two_senders_at_once_send_each_notice_once(tmp_path: Path, hierarchy: TestHierarchy,
                                                   database_url: str, smtp: SmtpServer) -> None:
    expected = queued(tmp_path, hierarchy, database_url, NOTICES)
    databases = [Database(database_url), Database(database_url)]
    results: list[Drained] = []
    start = threading.Barrier(2)

    def drain(db: Database) -> None:
        sender = Sender(db, settings_for(smtp))
        start.wait(WAIT)
        results.append(sender.run_once())

    threads = [threading.Thread(target=drain, args=(db,)) for db in databases]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT * 4)
    finally:
        for db in databases:
            db.dispose()
    assert len(results) == 2
    assert sum(result.sent for result in results) == NOTICES
    assert sorted(smtp.mailbox.message_ids()) == sorted(expected)  # every one, none twice


def test_on_postgresql_a_sender_skips_a_row_another_holds_instead_of_waiting(
        tmp_path: Path, hierarchy: TestHierarchy, postgres_base: str, smtp: SmtpServer) -> None:
    with postgres_schema(postgres_base) as url:
        first, *others = queued(tmp_path, hierarchy, url, 3)
        holder, db = Database(url), Database(url)
        result: list[Drained] = []
        try:
            assert is_postgresql(holder.engine)
            with holder.transaction() as session:  # another sender, in the middle of its claim
                held = select(MailOutbox).where(MailOutbox.message_id == first).with_for_update()
                session.scalars(held).one()
                done = threading.Event()
                sender = Sender(db, settings_for(smtp))
                thread = threading.Thread(target=lambda: (result.append(sender.run_once()), done.set()))
                thread.start()
                assert done.wait(WAIT), "the sender waited for the locked row"
            thread.join(WAIT)
        finally:
            holder.dispose()
            db.dispose()
    assert result[0].sent == 2
    assert sorted(smtp.mailbox.message_ids()) == sorted(others)
