"""The OAuth 2.0 device authorization grant (RFC 8628), with this server as the account provider.

For pre-link the user proves the account as well as the card: the kiosk asks for a device code,
shows the user code and a QR code of the verification URI, and polls the token endpoint while
the user signs in on their own phone. The token it finally gets names the account and is only
good as proof for pre-link (scope ``account``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from linkserver import audit
from linkserver.config import Lifetimes
from linkserver.directory import code_hash
from linkserver.models import DeviceAuthorization
from linkserver.service import ServerParts
from linkserver.tokens import AuthError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 8628 §6.1: a user code from a 20-letter alphabet without vowels, 8 letters ≈ 34.5 bits,
#: enough with the attempt limit and the short lifetime.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
MAX_SIGN_IN_ATTEMPTS = 5
SLOW_DOWN_STEP = 5
ACCOUNT_TOKEN_SECONDS = 300


@dataclass(frozen=True)
class DeviceCode:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


def normalise_user_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalpha())


def display_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


class DeviceGrant:
    def __init__(self, parts: ServerParts, lifetimes: Lifetimes, public_base: str) -> None:
        self.parts = parts
        self.lifetimes = lifetimes
        self.verification_uri = public_base.rstrip("/") + "/device"

    def authorize(self, client_id: str, scope: str | None) -> DeviceCode:
        """A device code for the kiosk ``client_id`` (its request counts against its limit)."""
        self.parts.kiosk_limiter.take(client_id, "kiosk")
        if scope not in (None, "", "account"):
            raise AuthError("invalid_scope", "the device grant only proves an account (scope 'account')", 400)
        now = self.parts.clock()
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
        with self.parts.db.transaction() as session:
            session.add(DeviceAuthorization(
                device_code_hash=code_hash(device_code), user_code=user_code, client_id=client_id,
                scope="account", created_at=now,
                expires_at=now + dt.timedelta(seconds=self.lifetimes.device_code_seconds),
                interval=self.lifetimes.device_poll_interval_seconds, status="pending", sign_in_failures=0,
            ))
            audit.append(session, "device_authorization", client_id=client_id)
        shown = display_user_code(user_code)
        return DeviceCode(device_code, shown, self.verification_uri,
                          f"{self.verification_uri}?user_code={shown}",
                          self.lifetimes.device_code_seconds, self.lifetimes.device_poll_interval_seconds)

    def token(self, client_id: str, device_code: str) -> tuple[str, int]:
        """The kiosk's poll (counted against its limit): the account token once the user signed in,
        otherwise the RFC 8628 error to answer with."""
        self.parts.kiosk_limiter.take(client_id, "kiosk")
        with self.parts.db.transaction() as session:
            try:
                return self._poll(session, client_id, device_code)
            except AuthError as exc:
                refusal = exc
        raise refusal  # raised after the commit, so slow_down's new interval is kept

    def _poll(self, session: Session, client_id: str, device_code: str) -> tuple[str, int]:
        now = self.parts.clock()
        grant = session.get(DeviceAuthorization, code_hash(device_code), with_for_update=True)
        if grant is None or grant.client_id != client_id:
            raise AuthError("invalid_grant", "unknown device code", 400)
        if grant.status == "issued":
            raise AuthError("invalid_grant", "the device code was already used", 400)
        if grant.expires_at <= now:
            raise AuthError("expired_token", "the device code has expired; start again", 400)
        if grant.status == "denied":
            raise AuthError("access_denied", "the user did not sign in", 400)
        if grant.status == "pending":
            last, grant.last_polled_at = grant.last_polled_at, now
            if last is not None and (now - last).total_seconds() < grant.interval:
                grant.interval += SLOW_DOWN_STEP
                raise AuthError("slow_down", f"poll at most every {grant.interval} s", 400)
            raise AuthError("authorization_pending", "the user has not signed in yet", 400)
        assert grant.account_id is not None
        grant.status = "issued"
        audit.append(session, "device_token_issued", client_id=client_id, account_id=grant.account_id)
        token, lifetime = self.parts.tokens.issue(client_id, ["account"], account_id=grant.account_id,
                                                  seconds=ACCOUNT_TOKEN_SECONDS)
        return token, lifetime

    def sign_in(self, user_code: str, account_id: str, password: str) -> str:
        """The user's sign-in on their phone: "approved", "wrong" (try again) or "invalid".

        The password is checked whatever the code, and until it is right every code is answered
        alike ("wrong"), live, unknown, expired or blocked: the page tells nothing about codes to
        someone without an account's password, not even by its timing.
        """
        code = normalise_user_code(user_code)
        now = self.parts.clock()
        # Checked (argon2, or a bind to the directory) before the grant's row is locked, and in a
        # transaction that only reads: parallel guesses each count once they hold the lock.
        password_right = self.parts.db.run(
            lambda session: self.parts.directory.check_password(session, account_id, password), write=False)
        with self.parts.db.transaction() as session:
            grant = session.scalars(select(DeviceAuthorization).where(
                DeviceAuthorization.user_code == code).with_for_update()).first()
            if grant is None or grant.status != "pending" or grant.expires_at <= now:
                return "invalid" if password_right else "wrong"
            if password_right:
                grant.status, grant.account_id = "approved", account_id
                audit.append(session, "device_sign_in", client_id=grant.client_id, account_id=account_id)
                return "approved"
            grant.sign_in_failures += 1
            if grant.sign_in_failures >= MAX_SIGN_IN_ATTEMPTS:
                grant.status = "denied"
                audit.append(session, "device_sign_in_blocked", client_id=grant.client_id)
            return "wrong"

    def deny(self, user_code: str) -> None:
        code = normalise_user_code(user_code)
        with self.parts.db.transaction() as session:
            grant = session.scalars(select(DeviceAuthorization).where(
                DeviceAuthorization.user_code == code)).first()
            if grant is not None and grant.status == "pending":
                grant.status = "denied"
                audit.append(session, "device_denied", client_id=grant.client_id)
