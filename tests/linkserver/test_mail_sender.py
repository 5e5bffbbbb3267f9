"""The sender against a real SMTP server (aiosmtpd, STARTTLS and AUTH) and a real webhook receiver.

A reset through the API queues a notice; the sender delivers it once, in both languages, with
nothing in it that signs anyone in. Refusals are retried with back-off (4xx) or kept as failed
(5xx). The clock the sender reads is the test's, so a back-off passes without waiting.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select
from starlette.testclient import TestClient

from kiosk.nfc.sim import TestHierarchy
from linkserver.backends import check_backends
from linkserver.demo import DEMO_KIOSK_ID, prepare_demo
from linkserver.directory import SqlDirectory
from linkserver.handoff import SIGNATURE_HEADER, check_webhook
from linkserver.mailer import MailerError, Sender, build_sender, check_smtp
from linkserver.mailsettings import NotifierSettings, SalvageSettings
from linkserver.models import HandoffOutbox, MailOutbox
from linkserver.server import build_server
from linkserver.service import utc_now
from tests.helpers.mailbox import USER, SmtpServer, Webhook, smtp_server, webhook_receiver
from tests.helpers.server_api import FORMER, LINKED, NEW_PASSWORD, decide, revealed, send_password, verified
from tests.helpers.slapd import make_tls
from tests.linkserver.helpers import LiveServer, live_server

FROM = "it-helpdesk@example.ac.jp"
CUSTODY = "data-custody@example.ac.jp"


def smtp_settings(smtp: SmtpServer, **changes: object) -> NotifierSettings:
    settings = NotifierSettings(backend="smtp", host=smtp.host, port=smtp.port, ca_file=smtp.ca_file,
                                username=USER, password_file=smtp.password_file, from_address=FROM,
                                timeout_seconds=10, retry_base_seconds=60, retry_max_seconds=600,
                                message_id_domain="linkserver.example.ac.jp")
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path / "smtp") as server:
        yield server


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def mailing(tmp_path: Path, hierarchy: TestHierarchy, smtp: SmtpServer,
            hook: Webhook) -> Iterator[LiveServer]:
    """The demo server on SQLite, sending over ``smtp`` and handing salvage off to ``hook``."""
    salvage = SalvageSettings(handoff="webhook", webhook_url=hook.url)
    with live_server(tmp_path / "state", hierarchy,
                     settings={"notifier": smtp_settings(smtp), "salvage": salvage}) as server:
        yield server


def sender_of(live: LiveServer) -> Sender:
    sender = build_sender(live.server.settings, live.server.parts.db, clock=live.clock)
    assert sender is not None
    return sender


def outbox(live: LiveServer) -> list[MailOutbox]:
    with live.server.parts.db.transaction() as session:
        rows = list(session.scalars(select(MailOutbox).order_by(MailOutbox.mail_id)))
        session.expunge_all()
        return rows


def reset_password(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    created = live.operation(kiosk, "password_reset", verified(live, kiosk))
    decide(live, staff, created.json()["operation_id"])
    assert send_password(live, kiosk, created, NEW_PASSWORD).json()["status"] == "completed"


def test_a_password_reset_is_mailed_once_in_both_languages_without_a_secret(
        mailing: LiveServer, smtp: SmtpServer) -> None:
    reset_password(mailing)
    [row] = outbox(mailing)
    assert row.sent_at is None and row.message_id and row.message_id.endswith("@linkserver.example.ac.jp>")
    drained = sender_of(mailing).run_once()
    assert (drained.sent, drained.retried, drained.failed) == (1, 0, 0)
    [message] = smtp.mailbox.wait_for(1)
    assert smtp.mailbox.sessions == [(USER, True)]  # logged in, under STARTTLS
    assert message["From"] == FROM and message["To"] == f"{LINKED}@mail.example.ac.jp"
    assert smtp.mailbox.message_ids() == [row.message_id]
    assert message["Subject"] == ("窓口でお客様のパスワードが再設定されました / "
                                  "Your password was reset at a help desk")
    assert message["Date"].datetime == row.created_at.replace(microsecond=0)
    assert message.get_content_type() == "text/plain" and message.get_content_charset() == "utf-8"
    assert message["Content-Language"] == "ja, en"
    text = message.get_content()
    japanese, english = text.index("パスワードが再設定されました"), text.index("Your password was reset")
    assert japanese < english  # one mail, Japanese first
    local = row.created_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}（日本時間）" in text
    assert f"{row.created_at:%Y-%m-%d %H:%M} UTC" in text
    assert f"Demo counter ({DEMO_KIOSK_ID})" in text
    assert "Hanako Sato 様" in text and "ヘルプデスク" in text and "If this was not you" in text
    assert NEW_PASSWORD not in text and not re.search(r"https?:|www\.|://", text)
    [after] = outbox(mailing)
    assert after.sent_at is not None and after.attempts == 1 and after.claimed_by is None
    assert sender_of(mailing).run_once().sent == 0  # sent once, never again
    assert len(smtp.mailbox.messages) == 1


def test_a_refusal_for_now_is_retried_after_its_back_off_and_delivered_once(
        mailing: LiveServer, smtp: SmtpServer) -> None:
    reset_password(mailing)
    smtp.mailbox.replies = ["451 4.3.0 mailbox busy, try again", "452 4.3.1 still busy", "421 4.7.0 later"]
    sender = sender_of(mailing)
    assert sender.run_once().retried == 1
    [row] = outbox(mailing)
    assert row.sent_at is None and row.failed_at is None and row.attempts == 1
    assert row.last_error == "the SMTP server refused the mail: 451 4.3.0 mailbox busy, try again"
    assert row.next_attempt_at is not None
    first_wait = row.next_attempt_at - mailing.clock()
    assert dt.timedelta(seconds=55) < first_wait <= dt.timedelta(seconds=60)  # retry_base_seconds
    assert sender.run_once().sent == 0  # not due yet: nothing sent, nothing refused again
    assert smtp.mailbox.refused == ["451 4.3.0 mailbox busy, try again"]
    mailing.clock.advance(60)
    assert sender.run_once().retried == 1
    second_wait = outbox(mailing)[0].next_attempt_at - mailing.clock()  # type: ignore[operator]
    assert dt.timedelta(seconds=115) < second_wait <= dt.timedelta(seconds=120)  # doubled
    mailing.clock.advance(120)
    assert sender.run_once().retried == 1
    third_wait = outbox(mailing)[0].next_attempt_at - mailing.clock()  # type: ignore[operator]
    assert dt.timedelta(seconds=235) < third_wait <= dt.timedelta(seconds=240)  # doubled again
    mailing.clock.advance(240)
    assert sender.run_once().sent == 1
    assert smtp.mailbox.message_ids() == [row.message_id]
    [done] = outbox(mailing)
    assert done.sent_at is not None and done.attempts == 4 and done.last_error is None


def test_a_permanent_refusal_stops_and_stays_visible(mailing: LiveServer, smtp: SmtpServer) -> None:
    reset_password(mailing)
    smtp.mailbox.replies = ["554 5.7.1 recipient unknown here"]
    sender = sender_of(mailing)
    assert sender.run_once().failed == 1
    [row] = outbox(mailing)
    assert row.failed_at is not None and row.sent_at is None
    assert row.last_error == "the SMTP server refused the mail: 554 5.7.1 recipient unknown here"
    mailing.clock.advance(86400)
    assert sender.run_once().sent == 0
    assert smtp.mailbox.messages == [] and smtp.mailbox.refused == ["554 5.7.1 recipient unknown here"]


def test_attempts_run_out_and_the_row_says_so(mailing: LiveServer, smtp: SmtpServer) -> None:
    reset_password(mailing)
    smtp.mailbox.replies = ["421 4.7.0 later"] * 3
    sender = Sender(mailing.server.parts.db, smtp_settings(smtp, max_attempts=2, retry_base_seconds=1),
                    clock=mailing.clock)
    assert sender.run_once().retried == 1
    mailing.clock.advance(1)
    assert sender.run_once().failed == 1
    [row] = outbox(mailing)
    assert row.failed_at is not None
    assert row.last_error == ("gave up after 2 attempts; the last: the SMTP server refused the mail: "
                              "421 4.7.0 later")


def test_a_salvage_hands_off_to_the_webhook_signed_and_without_the_ticket(
        mailing: LiveServer, hook: Webhook) -> None:
    kiosk, staff = mailing.kiosk(), mailing.staff()
    created = mailing.operation(kiosk, "salvage", verified(mailing, kiosk, "latin", FORMER), mode="backup")
    operation_id = created.json()["operation_id"]
    decide(mailing, staff, operation_id)
    ticket = revealed(mailing, kiosk, created)["result"]["ticket"]
    hook.statuses = [500]
    sender = sender_of(mailing)
    assert sender.run_once().retried == 1
    with mailing.server.parts.db.transaction() as session:
        row = session.scalars(select(HandoffOutbox)).one()
        assert row.last_error == f"the webhook {hook.url} answered 500 Internal Server Error"
    mailing.clock.advance(60)
    assert sender.run_once().sent == 1
    assert len(hook.posts) == 2 and hook.posts[0][1] == hook.posts[1][1]  # the same bytes again
    headers, body = hook.posts[1]
    assert ticket not in body.decode() and ticket.replace("-", "") not in body.decode()
    [sent] = hook.bodies()[1:]
    assert {key: sent[key] for key in ("type", "account_id", "mode", "operation_id")} == {
        "type": "salvage_handoff", "account_id": FORMER, "mode": "backup", "operation_id": operation_id}
    assert dt.datetime.fromisoformat(sent["ticket_expires_at"]) > dt.datetime.fromisoformat(sent["at"])
    assert headers["idempotency-key"] == operation_id
    keys = KeySet.import_key_set(httpx2.get(mailing.url("/.well-known/jwks.json")).json())
    protected, empty, signature = headers[SIGNATURE_HEADER.lower()].split(".")
    assert empty == ""  # detached: the body is the payload
    payload = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
    checked = jws.deserialize_compact(f"{protected}.{payload}.{signature}", keys, algorithms=["ES256"])
    assert checked.payload == body and checked.headers()["kid"] == mailing.server.parts.tokens.key_id
    forged = body.replace(b"backup", b"forwarding")
    with pytest.raises(Exception, match="bad_signature"):
        jws.deserialize_compact(f"{protected}.{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}"
                                f".{signature}", keys, algorithms=["ES256"])


def test_a_salvage_can_hand_off_by_mail_to_the_custody_team(
        tmp_path: Path, hierarchy: TestHierarchy, smtp: SmtpServer) -> None:
    salvage = SalvageSettings(handoff="mail", custody_address=CUSTODY)
    with live_server(tmp_path / "state", hierarchy,
                     settings={"notifier": smtp_settings(smtp), "salvage": salvage}) as live:
        kiosk, staff = live.kiosk(), live.staff()
        created = live.operation(kiosk, "salvage", verified(live, kiosk, "latin", FORMER), mode="forwarding")
        decide(live, staff, created.json()["operation_id"])
        ticket = revealed(live, kiosk, created)["result"]["ticket"]
        assert sender_of(live).run_once().sent == 2
    messages = smtp.mailbox.wait_for(2)
    [custody] = [m for m in messages if m["To"] == CUSTODY]
    text = custody.get_content()
    assert FORMER in text and "forwarding" in text and created.json()["operation_id"] in text
    assert ticket not in text and not re.search(r"https?:|://", text)
    assert len(set(smtp.mailbox.message_ids())) == 2


def test_check_smtp_reports_starttls_and_login_in_words(smtp: SmtpServer) -> None:
    assert check_smtp(smtp_settings(smtp)) == (
        f"SMTP server 127.0.0.1:{smtp.port}: connected, STARTTLS with a verified certificate, "
        f"logged in as {USER}")
    smtp.password_file.write_text("wrong", "utf-8")
    with pytest.raises(MailerError, match=f"refused the login of {USER}: 535"):
        check_smtp(smtp_settings(smtp))
    other_ca = make_tls(smtp.ca_file.parent.parent / "other", "another CA")
    with pytest.raises(MailerError, match=r"failed during STARTTLS or AUTH: .*CERTIFICATE_VERIFY_FAILED"):
        check_smtp(smtp_settings(smtp, ca_file=other_ca))


def test_the_server_process_sends_while_it_runs(tmp_path: Path, hierarchy: TestHierarchy,
                                                smtp: SmtpServer) -> None:
    setup = prepare_demo(tmp_path / "state", hierarchy.path)
    server = build_server(dataclasses.replace(setup.settings, notifier=smtp_settings(smtp)))
    try:
        with server.parts.db.transaction() as session:
            account = SqlDirectory().find(session, LINKED)
            assert account is not None
            server.parts.notifier.notify(session, account, "unlink", utc_now(), DEMO_KIOSK_ID)
            session.flush()
            message_id = session.scalars(select(MailOutbox.message_id)).one()
        assert smtp.mailbox.messages == []
        with TestClient(server.app):  # the app's startup starts the sender; its shutdown stops it
            smtp.mailbox.wait_for(1)
        assert smtp.mailbox.message_ids() == [message_id]
    finally:
        server.parts.db.dispose()


def test_check_webhook_connects_and_says_so(hook: Webhook) -> None:
    port = int(hook.url.split(":")[2].split("/")[0])
    assert check_webhook(hook.url) == f"webhook 127.0.0.1:{port}: connected (plain HTTP, loopback only)"
    with webhook_receiver() as closed:
        gone = closed.url
    with pytest.raises(OSError, match=r"cannot reach the webhook 127\.0\.0\.1:\d+: .*refused"):
        check_webhook(gone)


def test_check_backends_reports_the_mail_server_and_the_webhook(mailing: LiveServer, smtp: SmtpServer,
                                                                hook: Webhook) -> None:
    found = {finding.backend: finding for finding in check_backends(mailing.server.settings)}
    assert found["mail"].ok and found["mail"].words == (
        f"SMTP server 127.0.0.1:{smtp.port}: connected, STARTTLS with a verified certificate, "
        f"logged in as {USER}")
    assert found["salvage"].ok and found["salvage"].words.endswith("connected (plain HTTP, loopback only)")
    smtp.password_file.write_text("wrong", "utf-8")
    refused = {finding.backend: finding for finding in check_backends(mailing.server.settings)}["mail"]
    assert not refused.ok and f"refused the login of {USER}: 535" in refused.words
