"""The server's decisions, free of HTTP: tokens, challenges, verifications and their audit.

Each public method is one unit of work: it runs in its own transaction, and every decision it
takes is appended to the audit chain in that same transaction, so a decision and its audit entry
are stored together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from linkserver import audit
from linkserver.clientgate import ClientGate
from linkserver.config import Policy
from linkserver.db import Database
from linkserver.directory import AccountDirectory, LinkStore
from linkserver.errors import ApiError, ErrorCode, VerificationRefused
from linkserver.models import Challenge, KioskClient, UsedAssertion, Verification
from linkserver.notifier import Notifier
from linkserver.ratelimit import RateLimiter
from linkserver.tokens import AuthError, Caller, TokenService, unverified_issuer
from linkserver.verifier import JpkiVerifier, VerifiedIdentity

logger = logging.getLogger(__name__)

NONCE_BYTES = 32
Refusal = TypeVar("Refusal", bound=Exception)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(18)}"


@dataclass(frozen=True)
class IssuedChallenge:
    nonce: bytes
    expires_at: dt.datetime


@dataclass(frozen=True)
class VerificationOutcome:
    """The answer to a claim: the same fields whether or not the account exists or matches."""

    verification_id: str
    match: bool
    name_on_record: str | None
    certificate_not_after: dt.datetime
    expires_at: dt.datetime


@dataclass
class ServerParts:
    """Everything the services share; built once by the composition root."""

    db: Database
    verifier: JpkiVerifier
    tokens: TokenService
    directory: AccountDirectory
    links: LinkStore
    notifier: Notifier
    policy: Policy
    challenge_seconds: int
    verification_seconds: int
    kiosk_limiter: RateLimiter
    account_limiter: RateLimiter
    clock: Callable[[], dt.datetime] = utc_now
    #: Refused client assertions, per claimed client ID and per client address.
    refusal_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(10, 60))


def require_scope(caller: Caller, scope: str) -> None:
    if scope not in caller.scopes:
        raise ApiError(ErrorCode.INSUFFICIENT_SCOPE, 403, f"this call needs the {scope!r} scope")


def recorded(db: Database, refusal: Refusal, event: str, *, client_id: str | None = None,
             account_id: str | None = None, details: Mapping[str, object]) -> Refusal:
    """``refusal``, once its audit entry is stored: ``raise recorded(...)``.

    The entry has a transaction of its own, so it is kept although the refused request's work is
    rolled back (or was never done).
    """
    db.run(lambda session: audit.append(session, event, client_id=client_id, account_id=account_id,
                                        details=details))
    return refusal


class VerificationService:
    """Client tokens, challenges and card verifications."""

    def __init__(self, parts: ServerParts) -> None:
        self.parts = parts
        self.gate = ClientGate(parts.db, lambda: parts.clock().timestamp())

    # -- tokens -------------------------------------------------------------------------------

    def client_credentials(self, assertion: str, assertion_type: str, client_id: str | None,
                           scope: str | None, address: str) -> tuple[str, int, str]:
        """An access token for a kiosk that proved its key; the scopes are those it asked for and has."""
        p = self.parts
        client = self.authenticate(assertion, assertion_type, client_id, address)
        allowed = client.scopes.split()
        wanted = scope.split() if scope else allowed
        if not set(wanted) <= set(allowed):
            raise AuthError("invalid_scope", "the client may not have the scopes it asked for", 400)
        p.db.run(self._purge)
        p.kiosk_limiter.take(client.client_id, "kiosk")
        token, lifetime = p.tokens.issue(client.client_id, wanted)
        return token, lifetime, " ".join(wanted)

    def authenticate(self, assertion: str, assertion_type: str, client_id: str | None,
                     address: str) -> KioskClient:
        """The client a valid, unused assertion proves (its ``jti`` is recorded as used).

        A refusal is audited in a transaction of its own (the refused request's work is rolled
        back, its record is not) and counted for the claimed client and for the address. Past the
        limit the answer is 429 and the refusal is no longer audited one by one; an address past
        it is refused before its assertion is looked at. A valid assertion is never refused for
        the failures of others that named its client.
        """
        p = self.parts
        p.refusal_limiter.check(f"address {address}", "address")
        try:
            return p.db.run(lambda session: p.tokens.authenticate_client(session, assertion, assertion_type,
                                                                        client_id))
        except AuthError as exc:
            refusal = exc
        try:
            claimed = client_id or unverified_issuer(assertion)
        except ValueError:
            claimed = None
        p.refusal_limiter.take(f"address {address}", "address")
        if claimed is not None:
            p.refusal_limiter.take(f"client {claimed}", "client")
        raise recorded(p.db, refusal, "client_refused", details={
            "reason": refusal.description, "claimed_client": (claimed or "")[:64], "address": address})

    def _purge(self, session: Session) -> None:
        """Drop replay-cache entries and challenges nobody can use any more."""
        now = self.parts.clock()
        session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now))
        session.execute(delete(Challenge).where(Challenge.expires_at < now - dt.timedelta(hours=1)))

    def caller(self, token: str) -> Caller:
        caller = self.parts.tokens.check(token)
        if self.gate.revoked(caller.client_id):
            raise AuthError("invalid_token", "this client was revoked")
        self.parts.kiosk_limiter.take(caller.client_id, "kiosk")
        return caller

    # -- challenges ---------------------------------------------------------------------------

    def new_challenge(self, caller: Caller) -> IssuedChallenge:
        require_scope(caller, "verify")
        now = self.parts.clock()
        nonce = secrets.token_bytes(NONCE_BYTES)
        expires = now + dt.timedelta(seconds=self.parts.challenge_seconds)
        self.parts.db.run(lambda session: session.add(Challenge(nonce=nonce, client_id=caller.client_id,
                                                                created_at=now, expires_at=expires)))
        return IssuedChallenge(nonce, expires)

    def _consume_nonce(self, session: Session, caller: Caller, nonce: bytes, now: dt.datetime) -> None:
        challenge = session.get(Challenge, nonce)
        if challenge is None:
            raise ApiError(ErrorCode.UNKNOWN_NONCE, 403)
        if challenge.client_id != caller.client_id:
            raise ApiError(ErrorCode.FOREIGN_NONCE, 403)
        if challenge.used_at is not None:
            raise ApiError(ErrorCode.REPLAYED_NONCE, 403)
        if challenge.expires_at <= now:
            raise ApiError(ErrorCode.EXPIRED_NONCE, 403)
        # Conditional update: of two concurrent uses of one nonce, exactly one wins.
        claimed = session.execute(
            update(Challenge).where(Challenge.nonce == nonce, Challenge.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(ErrorCode.REPLAYED_NONCE, 403)

    # -- verification -------------------------------------------------------------------------

    def verify(self, caller: Caller, account_id: str, nonce: bytes, certificate: bytes,
               signature: bytes) -> VerificationOutcome:
        """Check the card's answer to a challenge and match its PPID against the claimed account.

        The claimed account is never looked up: the PPID's link is, and compared with the claim,
        so an account that does not exist costs the same work and gets the same answer as one
        that exists and is not linked to this card.
        """
        p = self.parts
        require_scope(caller, "verify")
        if not p.policy.account_id_ok(account_id):
            raise ApiError(ErrorCode.INVALID_ACCOUNT, 422)
        now = p.clock()
        try:
            p.db.run(lambda session: self._consume_nonce(session, caller, nonce, now))
        except ApiError as exc:
            raise recorded(p.db, exc, "verification_refused", client_id=caller.client_id,
                           account_id=account_id, details={"code": exc.code}) from None
        # Counted only once the kiosk proved it holds a nonce of its own: junk naming an account
        # (unissued, foreign or replayed nonces) cannot use up that account's verifications.
        p.account_limiter.take(account_id, "account")
        try:
            identity = p.verifier.verify(certificate, signature, nonce, caller.client_id, account_id, now)
        except VerificationRefused as exc:
            raise recorded(p.db, ApiError(exc.code, 403, exc.message), "verification_refused",
                           client_id=caller.client_id, account_id=account_id,
                           details={"code": exc.code}) from None
        return p.db.run(lambda session: self._record_verification(session, caller, account_id, identity, now))

    def _record_verification(self, session: Session, caller: Caller, account_id: str,
                             identity: VerifiedIdentity, now: dt.datetime) -> VerificationOutcome:
        """Store a verified card's answer and whether its PPID is linked to the claimed account."""
        p = self.parts
        link = p.links.by_ppid(session, identity.ppid)
        matched = link is not None and hmac.compare_digest(
            link.account_id.encode("utf-8"), account_id.encode("utf-8"))
        outcome = VerificationOutcome(
            verification_id=new_id("ver"), match=matched,
            name_on_record=link.name_on_card if matched and link else None,
            certificate_not_after=identity.not_after,
            expires_at=now + dt.timedelta(seconds=p.verification_seconds),
        )
        session.add(Verification(
            verification_id=outcome.verification_id, client_id=caller.client_id,
            account_id=account_id, ppid=identity.ppid, matched=matched,
            certificate_serial=format(identity.serial, "x"),
            certificate_not_after=identity.not_after, created_at=now,
            expires_at=outcome.expires_at,
        ))
        audit.append(session, "verification", client_id=caller.client_id, account_id=account_id,
                     details={"verification_id": outcome.verification_id, "match": matched,
                              "serial": format(identity.serial, "x"),
                              "anchor": identity.issuer_generation_hint})
        return outcome
