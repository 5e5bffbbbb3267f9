"""The builtin MFA backend: the server enrols a fresh TOTP secret (RFC 6238) for the account itself.

A reset clears the account's registered methods in the server's ``accounts`` table (where the SQL
and the LDAP directory both keep them) and replaces the account's TOTP secret. The secret is kept
for validation sealed with AES-256-GCM, under a key derived from the server's secret by HKDF and
bound to the account ID, so a copied database reveals no secret and a sealed secret moved to
another account does not open. The enrolment URI carries the secret to the kiosk once; nothing
here logs it.

The new secret must be confirmed by a first valid code within the enrolment's lifetime; once
confirmed it stays good. Each code is accepted once.
"""

from __future__ import annotations

import datetime as dt

import pyotp
from sqlalchemy.orm import Session

from linkserver.directory import AccountInfo
from linkserver.mfa import Enrolment
from linkserver.models import Account, AccountTotp
from linkserver.sealing import Sealer, Unsealable
from linkserver.staff import matching_step

#: The HKDF label of the key that seals the accounts' TOTP secrets (distinct from the staff's).
SEALING_LABEL = b"kiosk-linkserver account totp v1"


class SecretUnreadable(Exception):
    """A sealed secret does not open with this server's key (another server's, or altered)."""


class BuiltinMfa:
    """TOTP secrets enrolled and checked by the server, kept sealed in ``account_totp``."""

    def __init__(self, server_secret: bytes, issuer_name: str, lifetime: dt.timedelta) -> None:
        self._sealer = Sealer(server_secret, SEALING_LABEL)
        self.issuer_name = issuer_name
        self.lifetime = lifetime

    def seal(self, account_id: str, secret: str) -> bytes:
        return self._sealer.seal(account_id, secret)

    def unseal(self, account_id: str, sealed: bytes) -> str:
        try:
            return self._sealer.open(account_id, sealed)
        except Unsealable:
            raise SecretUnreadable(f"the TOTP secret of {account_id} cannot be opened") from None

    def reset(self, session: Session, account: AccountInfo, now: dt.datetime) -> Enrolment:
        """Clear the account's methods and enrol a fresh secret; the URI is the enrolment."""
        row = session.get(Account, account.account_id)
        if row is None:
            raise LookupError("no such account")
        cleared = row.mfa_methods
        # The fresh TOTP is now the account's one method; an old enrolment code is void.
        row.mfa_methods, row.enrolment_code_hash, row.enrolment_expires_at = 1, None, None
        secret = pyotp.random_base32()
        expires = now + self.lifetime
        stored = session.get(AccountTotp, account.account_id)
        if stored is None:
            stored = AccountTotp(account_id=account.account_id)
            session.add(stored)
        stored.secret_sealed = self.seal(account.account_id, secret)
        stored.enrolled_at, stored.confirm_by = now, expires
        stored.confirmed_at, stored.last_step = None, None
        uri = pyotp.TOTP(secret).provisioning_uri(name=account.account_id, issuer_name=self.issuer_name)
        return Enrolment(uri=uri, code=None, expires_at=expires, cleared=cleared)

    def validate(self, session: Session, account_id: str, code: str, now: dt.datetime) -> bool:
        """Whether ``code`` is the account's current TOTP (now, or a step either side), not used before.

        An unconfirmed secret past its enrolment window accepts nothing; the first code accepted
        confirms it.
        """
        stored = session.get(AccountTotp, account_id, with_for_update=True)
        if stored is None:
            return False
        if stored.confirmed_at is None and stored.confirm_by <= now:
            return False
        step = matching_step(self.unseal(account_id, stored.secret_sealed), code, stored.last_step, now)
        if step is None:
            return False
        stored.last_step = step
        if stored.confirmed_at is None:
            stored.confirmed_at = now
        return True

    def check(self) -> str:
        return f"builtin TOTP enrolment as {self.issuer_name!r}, secrets sealed in the server's database"
