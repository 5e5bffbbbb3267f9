"""A real SMTP server (aiosmtpd) and a webhook receiver (http.server) on loopback, for the sender's tests.

The SMTP server offers STARTTLS with a test CA's certificate, demands it before AUTH and demands
AUTH before mail. Its answers to DATA follow a script (``replies``: "250", or a 4xx/5xx line), one
per message, then 250; every accepted message is kept, parsed, and announced to waiting tests.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import logging
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from kiosk.nfc.sim.pcscd import free_port_pair
from tests.helpers.slapd import make_tls

#: aiosmtpd warns of its own deprecated attribute at every login; the tests do not use it.
logging.getLogger("mail.log").setLevel(logging.ERROR)

USER = "kiosk-mailer"
PASSWORD = "mail-password-for-tests"
#: How long a test waits for a delivery before it fails (a bound, never a pause).
WAIT = 30


@dataclass
class Mailbox:
    """What the SMTP server accepted, and how it answers next."""

    replies: list[str] = field(default_factory=list)
    messages: list[EmailMessage] = field(default_factory=list)
    #: (login, whether the session was under TLS) for each accepted message.
    sessions: list[tuple[str, bool]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.replies.pop(0) if self.replies else "250 2.0.0 accepted"
        with self.changed:
            if reply.startswith("250"):
                content = envelope.original_content or b""
                self.messages.append(email.message_from_bytes(content, policy=email.policy.default))  # type: ignore[arg-type]
                login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else ""
                self.sessions.append((login, session.ssl is not None))
            else:
                self.refused.append(reply)
            self.changed.notify_all()
        return reply

    def wait_for(self, count: int) -> list[EmailMessage]:
        """The messages once at least ``count`` arrived; fails after ``WAIT`` seconds without them."""
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.messages) >= count, WAIT), self.messages
            return list(self.messages)

    def message_ids(self) -> list[str]:
        return [str(message["Message-ID"]).strip() for message in self.messages]


def _authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                   auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: Path
    mailbox: Mailbox
    password_file: Path


@contextlib.contextmanager
def smtp_server(folder: Path) -> Iterator[SmtpServer]:
    """aiosmtpd on a free loopback port with STARTTLS (required) and AUTH (required)."""
    ca_file = make_tls(folder / "smtp-tls", "smtp test CA")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(ca_file.parent / "server.pem", ca_file.parent / "server.key")
    mailbox = Mailbox()
    port = free_port_pair()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_required=True, auth_require_tls=True,
                            authenticator=_authenticator)
    controller.start()
    password_file = folder / "smtp.password"
    password_file.write_text(PASSWORD + "\n", "utf-8")
    try:
        yield SmtpServer("127.0.0.1", port, ca_file, mailbox, password_file)
    finally:
        controller.stop()


@dataclass
class Webhook:
    """What the webhook receiver got: (headers, body) per POST; ``statuses`` its next answers."""

    url: str
    statuses: list[int]
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]


@contextlib.contextmanager
def webhook_receiver() -> Iterator[Webhook]:
    """A plain HTTP receiver on loopback that answers each POST with the next status (then 204)."""
    hook = Webhook("", [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.posts.append(({name.lower(): value for name, value in self.headers.items()}, body))
            self.send_response(hook.statuses.pop(0) if hook.statuses else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/salvage"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
