"""``kiosk-linkserver send-mail`` as its own process, killed between the mail server's 250 and its commit.

The sender runs with its hold hook: right after the 250 it prints the Message-ID it sent and stops
there, before recording the send. The test reads that line (so it knows the mail server has the
message), checks that no other sender touches the row meanwhile, SIGKILLs the process and starts a
new one: the mail goes again with the same Message-ID, and the row ends sent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.nfc.sim import TestHierarchy
from linkserver.cli import HOLD_AFTER_SEND_ENV
from linkserver.config import Settings, load_settings
from linkserver.db import Database
from linkserver.demo import DEMO_KIOSK_ID, prepare_demo
from linkserver.directory import SqlDirectory
from linkserver.mailer import Sender
from linkserver.models import MailOutbox
from linkserver.notifier import MailOutboxNotifier
from linkserver.service import utc_now
from tests.helpers.mailbox import USER, SmtpServer, smtp_server
from tests.helpers.server_api import LINKED

COMMAND = [sys.executable, "-m", "linkserver.cli", "send-mail", "--once", "--config"]


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path / "smtp") as server:
        yield server


def mail_config(state: Path, hierarchy: TestHierarchy, smtp: SmtpServer, notifier: str | None = None) -> Path:
    """The demo's configuration with a [notifier] table sending over ``smtp``."""
    config = prepare_demo(state, hierarchy.path).config_path
    table = notifier if notifier is not None else (
        f'[notifier]\nbackend = "smtp"\nhost = "{smtp.host}"\nport = {smtp.port}\n'
        f'ca_file = "{smtp.ca_file}"\n'
        f'username = "{USER}"\npassword_file = "{smtp.password_file}"\n'
        'from_address = "it-helpdesk@example.ac.jp"\ntimeout_seconds = 10\n')
    config.write_text(config.read_text("utf-8") + "\n" + table, "utf-8")
    return config


def queue_notice(settings: Settings) -> str:
    """A password-reset notice for the linked demo account, committed; its Message-ID."""
    db = Database(settings.database_url)
    try:
        with db.transaction() as session:
            account = SqlDirectory().find(session, LINKED)
            assert account is not None
            MailOutboxNotifier(domain="linkserver.example.ac.jp").notify(
                session, account, "password_reset", utc_now(), DEMO_KIOSK_ID)
        with db.transaction() as session:
            return str(session.scalars(select(MailOutbox.message_id)).one())
    finally:
        db.dispose()


def row_state(settings: Settings) -> tuple[bool, str | None, int]:
    db = Database(settings.database_url)
    try:
        with db.transaction() as session:
            row = session.scalars(select(MailOutbox)).one()
            return row.sent_at is not None, row.claimed_by, row.attempts
    finally:
        db.dispose()


def test_a_sender_killed_after_the_250_resends_the_same_message_and_records_it(
        tmp_path: Path, hierarchy: TestHierarchy, smtp: SmtpServer) -> None:
    config = mail_config(tmp_path / "state", hierarchy, smtp)
    settings = load_settings(config)
    message_id = queue_notice(settings)
    held = subprocess.Popen([*COMMAND, str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, HOLD_AFTER_SEND_ENV: "1"})
    try:
        assert held.stdout is not None
        assert held.stdout.readline() == f"sent {message_id}\n"  # the 250 came; the commit did not
        assert smtp.mailbox.message_ids() == [message_id]
        assert row_state(settings) == (False, f"{socket.gethostname()}:{held.pid}", 1)
        other = Database(settings.database_url)
        try:  # another sender, while the first lives, leaves its claim alone
            assert Sender(other, settings.notifier).run_once().sent == 0
        finally:
            other.dispose()
        assert smtp.mailbox.message_ids() == [message_id]
    finally:
        held.kill()
        held.wait(30)
    again = subprocess.run([*COMMAND, str(config)], capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "1 sent, 0 to retry later, 0 failed for good\n"
    # Sent twice over SMTP, one message: both copies carry the Message-ID fixed before the first.
    assert smtp.mailbox.message_ids() == [message_id, message_id]
    first, second = smtp.mailbox.messages
    assert first.get_content() == second.get_content() and first["Date"] == second["Date"]
    assert row_state(settings) == (True, None, 2)
    third = subprocess.run([*COMMAND, str(config)], capture_output=True, text=True, timeout=120, check=False)
    assert third.stdout == "0 sent, 0 to retry later, 0 failed for good\n"
    assert len(smtp.mailbox.messages) == 2


def test_send_mail_says_when_there_is_nothing_to_send(tmp_path: Path, hierarchy: TestHierarchy,
                                                      smtp: SmtpServer) -> None:
    config = mail_config(tmp_path / "state", hierarchy, smtp, notifier='[notifier]\nbackend = "outbox"\n')
    result = subprocess.run([*COMMAND, str(config)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr == ('kiosk-linkserver: nothing to send: notifier.backend is "outbox" and '
                             'salvage.handoff is not "webhook"\n')
