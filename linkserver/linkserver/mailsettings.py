"""The [notifier] and [salvage] tables: how notices leave the server, and the salvage hand-off.

Every default is documented here and in linkserver.example.toml; a wrong value names the key and
the file, as everywhere in the settings.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from linkserver.configread import TableReader

#: The languages a notice can be written in: both (Japanese first), or one of them.
LANGUAGES = ("ja+en", "ja", "en")
#: What happens after a salvage ticket is issued, besides the ticket itself.
HANDOFFS = ("none", "webhook", "mail")
ADDRESS = re.compile(r"[^@\s<>\"]+@[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class NotifierSettings:
    """The [notifier] table (see linkserver.example.toml)."""

    #: "outbox": notices wait in ``mail_outbox`` for the institution's mailer; "smtp": the server sends them.
    backend: str = "outbox"
    host: str = ""
    port: int = 587
    #: STARTTLS before anything else is said; a password is never sent without it.
    starttls: bool = True
    #: The one CA the SMTP server's certificate must chain to; None: the system's CAs.
    ca_file: Path | None = None
    username: str | None = None
    password_file: Path | None = None
    from_address: str = ""
    timeout_seconds: int = 30
    #: The first retry waits this long; each next one twice as long, up to ``retry_max_seconds``.
    retry_base_seconds: int = 60
    retry_max_seconds: int = 3600
    #: After this many attempts a notice is given up on (marked failed, kept visible).
    max_attempts: int = 20
    #: The languages of a notice: "ja+en" (one mail, Japanese first), "ja" or "en".
    language: str = "ja+en"
    #: The right-hand side of each Message-ID; empty: the issuer's host name.
    message_id_domain: str = ""
    #: How often the sender in the server process looks for notices due.
    poll_seconds: int = 10

    @property
    def sends(self) -> bool:
        return self.backend == "smtp"

    @property
    def claim_seconds(self) -> int:
        """How long a sender holds the notices it took before another sender may take them again:
        longer than a whole batch can take, so a slow sender is not doubled by a second one."""
        return self.timeout_seconds * (BATCH + 2)


#: Notices one sender takes (and sends over one connection) at a time.
BATCH = 10


@dataclass(frozen=True)
class SalvageSettings:
    """The [salvage] table (see linkserver.example.toml)."""

    handoff: str = "none"
    #: Where the hand-off is POSTed: https://, or http:// to a loopback address.
    webhook_url: str = ""
    #: The one CA the webhook's certificate must chain to; None: the system's CAs.
    webhook_ca_file: Path | None = None
    #: The data-custody team's address, for ``handoff = "mail"``.
    custody_address: str = ""

    @property
    def webhook(self) -> bool:
        return self.handoff == "webhook"


def _address(table: TableReader, key: str, required: bool = True) -> str:
    value: str = table.text(key, default="", required=required)
    if (value or required) and not ADDRESS.fullmatch(value):
        raise table.fail(key, f"must be a mail address (name@domain), not {value!r}")
    return value


def _host(table: TableReader, key: str, required: bool) -> str:
    value: str = table.text(key, default="", required=required)
    if (value or required) and not re.fullmatch(r"[A-Za-z0-9.:-]+", value):
        raise table.fail(key, f"must be a host name or an IP address, not {value!r}")
    return value


def notifier_settings(data: dict[str, Any], source: Path, issuer_host: str) -> NotifierSettings:
    """The [notifier] table; with ``backend = "smtp"`` the SMTP server's host and sender are required
    (its other keys are checked with either backend, so a switch back to "outbox" keeps them valid)."""
    table = TableReader(data, "notifier", source)
    base = NotifierSettings()
    backend = table.text("backend", default=base.backend)
    if backend not in ("outbox", "smtp"):
        raise table.fail("backend", f"must be \"outbox\" or \"smtp\", not {backend!r}")
    language = table.text("language", default=base.language)
    if language not in LANGUAGES:
        raise table.fail("language", f"must be one of {', '.join(LANGUAGES)}, not {language!r}")
    domain = table.text("message_id_domain", default="") or issuer_host or "localhost"
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        raise table.fail("message_id_domain", f"must be a domain name, not {domain!r}")
    smtp = backend == "smtp"
    starttls = table.flag("starttls", base.starttls)
    username = table.text("username")
    password_file = table.path("password_file")
    if (username is None) != (password_file is None):
        raise table.fail("password_file" if username else "username",
                         "must be given together with " + ("username" if username else "password_file"))
    if username is not None and not starttls:
        raise table.fail("starttls", "must be true when a username is given: the password would "
                                     "cross the network in the clear")
    retry_max = table.number("retry_max_seconds", base.retry_max_seconds, 1, 7 * 86400)
    settings = NotifierSettings(
        backend=backend, host=_host(table, "host", smtp), port=table.number("port", base.port, 1, 65535),
        starttls=starttls, ca_file=table.path("ca_file"), username=username, password_file=password_file,
        from_address=_address(table, "from_address", smtp),
        timeout_seconds=table.number("timeout_seconds", base.timeout_seconds, 1, 300),
        retry_base_seconds=table.number("retry_base_seconds", base.retry_base_seconds, 1, retry_max),
        retry_max_seconds=retry_max, max_attempts=table.number("max_attempts", base.max_attempts, 1, 1000),
        language=language, message_id_domain=domain,
        poll_seconds=table.number("poll_seconds", base.poll_seconds, 1, 3600))
    table.finish()
    return settings


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def salvage_settings(data: dict[str, Any], source: Path) -> SalvageSettings:
    """The [salvage] table: the hand-off after a salvage ticket, and where it goes."""
    table = TableReader(data, "salvage", source)
    handoff = table.text("handoff", default="none")
    if handoff not in HANDOFFS:
        raise table.fail("handoff", f"must be one of {', '.join(HANDOFFS)}, not {handoff!r}")
    url = table.text("webhook_url", default="", required=handoff == "webhook")
    parts = urlsplit(url)
    if url and not (parts.hostname and (parts.scheme == "https"
                                        or (parts.scheme == "http" and _loopback(parts.hostname)))):
        raise table.fail("webhook_url", f"must be an https:// URL (http:// only to loopback), not {url!r}")
    settings = SalvageSettings(handoff=handoff, webhook_url=url,
                               webhook_ca_file=table.path("webhook_ca_file"),
                               custody_address=_address(table, "custody_address", handoff == "mail"))
    table.finish()
    return settings
