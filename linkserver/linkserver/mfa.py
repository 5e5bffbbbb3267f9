"""Resetting an account's second factor, behind one interface, whichever system keeps it.

An MFA reset clears what the account had registered and enrols one fresh authenticator, whose
enrolment the kiosk shows the user once. Where the second factor lives is a backend chosen by the
``[mfa]`` table: the server's own tables, or an MFA server such as privacyIDEA.

The enrolment URI carries the new secret: it is handed to the kiosk in the operation's result and
never written to a log or to the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from linkserver.directory import AccountInfo


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
