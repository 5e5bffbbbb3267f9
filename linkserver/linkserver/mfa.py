"""Resetting an account's second factor, behind one interface, whichever system keeps it.

An MFA reset clears what the account had registered and enrols one fresh authenticator, whose
enrolment the kiosk shows the user once. Where the second factor lives is a backend chosen by the
``[mfa]`` table: the server's own tables, or an MFA server such as privacyIDEA.

The enrolment URI carries the new secret: it is handed to the kiosk in the operation's result and
never written to a log or to the audit log.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from linkserver.directory import AccountDirectory, AccountInfo, one_time_code
from linkserver.mfaconfig import MfaSettings


@dataclass(frozen=True)
class Enrolment:
    """A fresh second factor for an account, to be shown once at the counter."""

    #: An ``otpauth://totp/...`` URI for the user's authenticator app; None where the backend hands
    #: out only a one-time enrolment code.
    uri: str | None
    #: A one-time code for the institution's own enrolment page; None where the URI is the enrolment.
    code: str | None
    #: Until when the enrolment may be used (the code's lifetime, or the new token's first-use window).
    expires_at: dt.datetime
    #: How many registered methods or tokens were removed or disabled.
    cleared: int

    def __repr__(self) -> str:  # never the secret, even in a traceback
        return f"Enrolment(uri={'…' if self.uri else None}, cleared={self.cleared})"


class MfaUnavailable(Exception):
    """The MFA system did not answer, or answered with an error; nothing was changed by us."""


class MfaBackend(Protocol):
    """What the server needs from the system that keeps the accounts' second factors."""

    def reset(self, session: Session, account: AccountInfo, now: dt.datetime) -> Enrolment:
        """Clear the account's methods and enrol a fresh one; raises MfaUnavailable."""
        ...

    def check(self) -> str:
        """One line saying the backend is reachable and usable; raises MfaUnavailable with the reason."""
        ...


class CodeMfa:
    """The default backend: the account's methods cleared in the directory, and a one-time enrolment
    code for the institution's own registration page (the directory keeps only its hash)."""

    def __init__(self, directory: AccountDirectory, lifetime: dt.timedelta) -> None:
        self.directory = directory
        self.lifetime = lifetime

    def reset(self, session: Session, account: AccountInfo, now: dt.datetime) -> Enrolment:
        code = one_time_code()
        expires = now + self.lifetime
        cleared = self.directory.reset_mfa(session, account.account_id, code, expires)
        return Enrolment(uri=None, code=code, expires_at=expires, cleared=cleared)

    def check(self) -> str:
        return "enrolment codes, kept as hashes in the server's own tables"


def backend_for(settings: MfaSettings, directory: AccountDirectory, server_secret: bytes,
                lifetime: dt.timedelta) -> MfaBackend:
    """The backend ``[mfa]`` names; each is imported only where it is used."""
    if settings.backend == "builtin":
        from linkserver.mfa_builtin import BuiltinMfa

        return BuiltinMfa(server_secret, settings.issuer_name, lifetime)
    if settings.backend == "privacyidea":
        module = importlib.import_module("linkserver.mfa_privacyidea")
        backend: MfaBackend = module.PrivacyIdeaMfa(settings.privacyidea)
        return backend
    return CodeMfa(directory, lifetime)
