"""The account directory the server acts on, behind one interface; the SQL tables are its reference backend.

A real institution plugs in its own directory (LDAP next); the operations only ever call this
interface, inside the same transaction as their audit entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from linkserver.models import Account, Link
from linkserver.passwords import hash_password, password_matches


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    display_name: str
    email: str
    status: str
    left_at: dt.datetime | None
    mfa_methods: int
    #: The name in Latin letters, where the directory keeps one beside the Japanese ``display_name``.
    display_name_en: str | None = None


class AccountDirectory(Protocol):
    """What the server needs from an institution's directory of accounts."""

    def find(self, session: Session, account_id: str) -> AccountInfo | None: ...

    def check_password(self, session: Session, account_id: str, password: str) -> bool: ...

    def prepare_password(self, password: str) -> str | None:
        """What ``set_password`` needs of a new password that is slow to make (the SQL directory's
        hash), made before the transaction opens; None when the directory needs nothing."""
        ...

    def set_password(self, session: Session, account_id: str, password: str, at: dt.datetime, *,
                     prepared: str | None = None) -> None: ...

    def reset_mfa(self, session: Session, account_id: str, enrolment_code: str,
                  expires_at: dt.datetime) -> int: ...


CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def one_time_code(groups: int = 4, size: int = 4) -> str:
    """A human-typable random code (no 0/O or 1/I), e.g. ``K7QM-3XHD-...``: 5 bits per character."""
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(size)) for _ in range(groups))


def code_hash(code: str) -> str:
    """How one-time codes are kept: the server recognises them, a database dump does not reveal them."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class SqlDirectory:
    """The reference directory: the server's own ``accounts`` table."""

    def find(self, session: Session, account_id: str) -> AccountInfo | None:
        row = session.get(Account, account_id)
        if row is None:
            return None
        return AccountInfo(row.account_id, row.display_name, row.email, row.status, row.left_at,
                           row.mfa_methods)

    def check_password(self, session: Session, account_id: str, password: str) -> bool:
        row = session.get(Account, account_id)
        return password_matches(row.password_hash if row else None, password)

    def prepare_password(self, password: str) -> str:
        return hash_password(password)

    def set_password(self, session: Session, account_id: str, password: str, at: dt.datetime, *,
                     prepared: str | None = None) -> None:
        """Store the new password's hash: ``prepared`` (from ``prepare_password``, made outside the
        transaction), or one made here for a caller that has none."""
        row = session.get(Account, account_id)
        if row is None:
            raise LookupError("no such account")
        row.password_hash = prepared or hash_password(password)
        row.password_changed_at = at

    def reset_mfa(self, session: Session, account_id: str, enrolment_code: str,
                  expires_at: dt.datetime) -> int:
        """Clear every registered method and open an enrolment window; returns how many were cleared."""
        row = session.get(Account, account_id)
        if row is None:
            raise LookupError("no such account")
        cleared = row.mfa_methods
        row.mfa_methods = 0
        row.enrolment_code_hash = code_hash(enrolment_code)
        row.enrolment_expires_at = expires_at
        return cleared


class LinkStore:
    """Links between PPIDs and accounts: one account, one card; one card, one account."""

    def by_ppid(self, session: Session, ppid: str) -> Link | None:
        return session.scalars(select(Link).where(Link.ppid == ppid)).first()

    def by_account(self, session: Session, account_id: str) -> Link | None:
        return session.get(Link, account_id)
