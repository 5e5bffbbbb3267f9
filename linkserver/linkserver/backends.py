"""``kiosk-linkserver check-backends``: can the server reach every system it acts on?

A deployment runs it before starting the server: it binds to the account directory as the service
account, logs in to the MFA server, and connects to the mail server, and says for each, in words,
what it found. It changes nothing anywhere and never prints a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from linkserver.config import Settings
from linkserver.outages import BackendDown


@dataclass(frozen=True)
class Finding:
    """What one backend's check found."""

    backend: str
    ok: bool
    words: str

    def line(self) -> str:
        return f"{self.backend}: {'ok' if self.ok else 'FAILED'}: {self.words}"


def _directory(settings: Settings) -> str:
    if settings.directory is None:
        return "the server's own tables (the reference directory; nothing to reach)"
    from linkserver.ldapdir import LdapDirectory  # python-ldap only where an LDAP directory is used

    directory = LdapDirectory(settings.directory, settings.policy.password)
    try:
        return directory.check()
    finally:
        directory.pool.close()


def _mfa(settings: Settings) -> str:
    import datetime as dt

    from linkserver.directory import SqlDirectory
    from linkserver.mfa import MfaUnavailable, backend_for

    backend = backend_for(settings.mfa, SqlDirectory(), settings.ppid_secret_file.read_bytes().strip(),
                          dt.timedelta(minutes=settings.lifetimes.enrolment_code_minutes))
    try:
        return backend.check()
    except MfaUnavailable as exc:
        raise BackendDown(str(exc)) from None


def _mail(settings: Settings) -> str:
    from linkserver.mailer import MailerError, check_smtp

    if not settings.notifier.sends:
        return "notices wait in mail_outbox for the institution's own mailer (nothing to reach)"
    try:
        return check_smtp(settings.notifier)
    except MailerError as exc:
        raise BackendDown(str(exc)) from None


def _handoff(settings: Settings) -> str:
    from linkserver.handoff import check_webhook

    if not settings.salvage.webhook:
        return f"salvage hand-off: {settings.salvage.handoff} (no webhook to reach)"
    try:
        return check_webhook(settings.salvage.webhook_url, settings.salvage.webhook_ca_file,
                             settings.notifier.timeout_seconds)
    except OSError as exc:
        raise BackendDown(str(exc)) from None


#: Each backend's check, in the order a request meets them.
CHECKS: dict[str, Callable[[Settings], str]] = {"directory": _directory, "mfa": _mfa, "mail": _mail,
                                                "salvage": _handoff}


def check_backends(settings: Settings) -> list[Finding]:
    """Every backend's finding; a check that fails in an unforeseen way is a failure with its words."""
    findings = []
    for backend, check in CHECKS.items():
        try:
            findings.append(Finding(backend, True, check(settings)))
        except BackendDown as exc:
            findings.append(Finding(backend, False, str(exc)))
        except Exception as exc:  # a check must report, never end the command with a traceback
            findings.append(Finding(backend, False, f"{type(exc).__name__}: {exc}"))
    return findings
