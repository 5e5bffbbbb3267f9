"""The server's decisions, free of HTTP: tokens, challenges, verifications and their audit.

Each public method is one unit of work: it runs in its own transaction, and every decision it
takes is appended to the audit chain in that same transaction, so a decision and its audit entry
are stored together or not at all. A challenge and a verification count the kiosk's request in the
transaction that does their work; other requests count it in a transaction of its own
(``VerificationService.count``).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from linkserver import audit, hotpath
from linkserver.clientgate import ClientGate
from linkserver.config import Policy
from linkserver.db import Database, UnitOfWork, on_driver
from linkserver.directory import AccountDirectory, LinkStore
from linkserver.errors import ApiError, ErrorCode, VerificationRefused
from linkserver.models import Challenge, KioskClient, Link, UsedAssertion, Verification
from linkserver.notifier import Notifier
from linkserver.ratelimit import RateLimiter, forget_full_buckets
from linkserver.tokens import AuthError, Caller, TokenService, unverified_issuer
from linkserver.verifier import JpkiVerifier, VerifiedIdentity

logger = logging.getLogger(__name__)

NONCE_BYTES = 32

# The hot path's statements, built once (SQLAlchemy Core: no unit of work to flush).
ADD_CHALLENGE = insert(Challenge)
USE_CHALLENGE = (update(Challenge)
                 .where(Challenge.nonce == bindparam("used_nonce"), Challenge.client_id == bindparam("owner"),
                        Challenge.used_at.is_(None), Challenge.expires_at > bindparam("now"))
                 .values(used_at=bindparam("now")))
FIND_CHALLENGE = select(Challenge.client_id, Challenge.used_at).where(Challenge.nonce == bindparam("nonce"))
LINK_OF_PPID = select(Link.account_id, Link.name_on_card).where(Link.ppid == bindparam("ppid"))
ADD_VERIFICATION = insert(Verification)
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
class Claim:
    """A kiosk's claim that the card answering its nonce is the account's."""

    caller: Caller
    account_id: str
    nonce: bytes
    certificate: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    at: dt.datetime


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
    #: Refused client assertions, per claimed client ID and per client address.
    refusal_limiter: RateLimiter
    clock: Callable[[], dt.datetime] = utc_now

    @property
    def limiters(self) -> tuple[RateLimiter, ...]:
        return self.kiosk_limiter, self.account_limiter, self.refusal_limiter


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
        forget_full_buckets(session, now.timestamp(), max(limiter.period for limiter in self.parts.limiters))

    def caller(self, token: str) -> Caller:
        """The kiosk an access token stands for, unless it was revoked; its request is not counted
        yet (``count``, or the work's own transaction)."""
        caller = self.parts.tokens.check(token)
        if self.gate.revoked(caller.client_id):
            raise AuthError("invalid_token", "this client was revoked")
        return caller

    def count(self, caller: Caller) -> None:
        """Count one request of the caller's against its kiosk's limit (429 past it)."""
        self.parts.kiosk_limiter.take(caller.client_id, "kiosk")

    # -- challenges ---------------------------------------------------------------------------

    def new_challenge(self, caller: Caller) -> IssuedChallenge:
        """A nonce for the caller's card to sign; the request is counted in the same statement
        (PostgreSQL) or transaction (SQLite) that stores it."""
        p = self.parts
        require_scope(caller, "verify")
        now = p.clock()
        nonce = secrets.token_bytes(NONCE_BYTES)
        expires = now + dt.timedelta(seconds=p.challenge_seconds)
        row = {"nonce": nonce, "client_id": caller.client_id, "created_at": now, "expires_at": expires}

        if p.db.postgresql:
            # Committed by itself, with no session: the pair's cheapest round trip.
            counted = p.db.alone(hotpath.CHALLENGE, {**p.kiosk_limiter.parameters(caller.client_id, "kiosk_"),
                                                     **row})
            if counted.refused:
                raise p.kiosk_limiter.refusal(counted.tokens, "kiosk")
            return IssuedChallenge(nonce, expires)

        def work(session: Session) -> None:
            p.kiosk_limiter.take(caller.client_id, "kiosk", session)
            session.connection().execute(ADD_CHALLENGE, row)

        p.db.run(work)
        return IssuedChallenge(nonce, expires)

    def _consume_nonce(self, session: UnitOfWork, caller: Caller, nonce: bytes, now: dt.datetime) -> None:
        """Mark the caller's unused, unexpired nonce used, or raise why it cannot be.

        One conditional update: of two concurrent uses of one nonce, exactly one wins (the other
        waits for the winner's row lock, then finds it used).
        """
        connection = session.connection()
        if connection.execute(USE_CHALLENGE, {"used_nonce": nonce, "owner": caller.client_id,
                                              "now": now}).rowcount == 1:
            return
        raise self._unusable(session, caller, nonce)

    def _unusable(self, session: UnitOfWork, caller: Caller, nonce: bytes) -> ApiError:
        """Why the caller's nonce could not be used: unknown, another kiosk's, used, or expired."""
        connection = session.connection()
        challenge = on_driver(session, hotpath.NONCE, {"nonce": nonce}) \
            if connection.dialect.name == "postgresql" else \
            connection.execute(FIND_CHALLENGE, {"nonce": nonce}).first()
        if challenge is None:
            return ApiError(ErrorCode.UNKNOWN_NONCE, 403)
        if challenge.client_id != caller.client_id:
            return ApiError(ErrorCode.FOREIGN_NONCE, 403)
        if challenge.used_at is not None:
            return ApiError(ErrorCode.REPLAYED_NONCE, 403)
        return ApiError(ErrorCode.EXPIRED_NONCE, 403)

    # -- verification -------------------------------------------------------------------------

    def verify(self, caller: Caller, account_id: str, nonce: bytes, certificate: bytes,
               signature: bytes) -> VerificationOutcome:
        """Check the card's answer to a challenge and match its PPID against the claimed account.

        The claimed account is never looked up: the PPID's link is, and compared with the claim,
        so an account that does not exist costs the same work and gets the same answer as one
        that exists and is not linked to this card.

        When the revocation check needs nothing beyond this process (CRL files), the card is
        checked first, with no transaction open, and the rest is one transaction: count the
        request, use the nonce up, store the outcome or the refusal. No lock (on SQLite, not the
        write lock) is held while the card is checked; a claim refused for its nonce or a rate
        limit gets the same answer, and no more stored, as if the card had not been checked.
        When the check asks an OCSP responder, no lock is held across that round trip either: a
        first transaction counts the request and uses the nonce up, the card is checked, and a
        second transaction stores the outcome.
        """
        p = self.parts
        require_scope(caller, "verify")
        if not p.policy.account_id_ok(account_id):
            self.count(caller)
            raise ApiError(ErrorCode.INVALID_ACCOUNT, 422)
        now = p.clock()
        claim = Claim(caller, account_id, nonce, certificate, signature, now)
        if p.verifier.local:
            checked = self._checked_card(claim)
            answer = p.db.run_kept(lambda session: self._verify_checked(session, claim, checked))
        else:
            answer = self._verify_in_two(claim)
        if isinstance(answer, ApiError):
            raise answer
        return answer

    def _checked_card(self, claim: Claim) -> VerifiedIdentity | VerificationRefused:
        try:
            return self._check_card(claim)
        except VerificationRefused as exc:
            return exc

    def _verify_checked(self, session: UnitOfWork, claim: Claim,
                        checked: VerifiedIdentity | VerificationRefused) -> VerificationOutcome | ApiError:
        """The claim of a card already checked: counted, its nonce used up, and its outcome or
        refusal stored. On PostgreSQL a verified card's claim and record are one statement."""
        if self.parts.db.postgresql and not isinstance(checked, VerificationRefused):
            return self._claim_and_record(session, claim, checked)
        refusal = self._claim(session, claim)
        if refusal is not None:
            return refusal
        if isinstance(checked, VerificationRefused):
            return self._audited_refusal(session, claim, ApiError(checked.code, 403, checked.message))
        return self._record_verification(session, claim, checked)

    def _verify_in_two(self, claim: Claim) -> VerificationOutcome | ApiError:
        p = self.parts
        refusal = p.db.run(lambda session: self._claim(session, claim))
        if refusal is not None:
            return refusal
        try:
            identity = self._check_card(claim)
        except VerificationRefused as exc:
            return recorded(p.db, ApiError(exc.code, 403, exc.message), "verification_refused",
                            client_id=claim.caller.client_id, account_id=claim.account_id,
                            details={"code": exc.code})
        return p.db.run(lambda session: self._record_verification(session, claim, identity))

    def _check_card(self, claim: Claim) -> VerifiedIdentity:
        return self.parts.verifier.verify(claim.certificate, claim.signature, claim.nonce,
                                          claim.caller.client_id, claim.account_id, claim.at)

    def _claim(self, session: UnitOfWork, claim: Claim) -> ApiError | None:
        """Count the kiosk's request, use the nonce up, then count the attempt against the account;
        the refusal to answer with, if any, stored with what was counted.

        Only a kiosk that proved it holds a nonce of its own counts against the account: junk
        naming an account (unissued, foreign or replayed nonces) cannot use up its verifications.
        A refused nonce is audited here; an account over its limit is not (its nonce is used up).
        """
        p = self.parts
        if session.connection().dialect.name == "postgresql":
            return self._claim_at_once(session, claim)
        p.kiosk_limiter.take(claim.caller.client_id, "kiosk", session)
        try:
            self._consume_nonce(session, claim.caller, claim.nonce, claim.at)
        except ApiError as exc:
            return self._audited_refusal(session, claim, exc)
        try:
            p.account_limiter.take(claim.account_id, "account", session)
        except ApiError as exc:
            return exc
        return None

    def _claim_at_once(self, session: UnitOfWork, claim: Claim) -> ApiError | None:
        """``_claim`` on PostgreSQL, in one statement (``hotpath.CLAIM``)."""
        found = on_driver(session, hotpath.CLAIM, self._claim_parameters(claim))
        return self._claim_refusal(session, claim, found)

    def _claim_parameters(self, claim: Claim) -> dict[str, object]:
        p = self.parts
        return {**p.kiosk_limiter.parameters(claim.caller.client_id, "kiosk_"),
                **p.account_limiter.parameters(claim.account_id, "account_"),
                "nonce": claim.nonce, "owner": claim.caller.client_id, "at": claim.at}

    def _claim_refusal(self, session: UnitOfWork, claim: Claim, row: Any) -> ApiError | None:
        """The refusal, if any, in a row of ``hotpath.CLAIM``'s columns."""
        p = self.parts
        if row.kiosk_refused:
            # Returned, not raised: the statement used nothing up, and what it counted (the
            # bucket refilled) is kept, as a refused challenge keeps it.
            return p.kiosk_limiter.refusal(row.kiosk_tokens, "kiosk")
        if not row.used:
            return self._audited_refusal(session, claim, self._unusable(session, claim.caller, claim.nonce))
        if row.account_refused:
            return p.account_limiter.refusal(row.account_tokens, "account")
        return None

    def _audited_refusal(self, session: UnitOfWork, claim: Claim, refusal: ApiError) -> ApiError:
        """``refusal`` of a claim (its nonce or its card), appended to the audit chain in ``session``."""
        audit.append(session, "verification_refused", client_id=claim.caller.client_id,
                     account_id=claim.account_id, details={"code": refusal.code})
        return refusal

    def _claim_and_record(self, session: UnitOfWork, claim: Claim,
                          identity: VerifiedIdentity) -> VerificationOutcome | ApiError:
        """``_claim`` then ``_record_verification`` on PostgreSQL, in one statement
        (``hotpath.CLAIM_AND_RECORD``)."""
        verification_id, expires, row = self._verification_row(claim, identity)
        found = on_driver(session, hotpath.CLAIM_AND_RECORD, {**self._claim_parameters(claim), **row})
        refusal = self._claim_refusal(session, claim, found)
        if refusal is not None:
            return refusal
        audit.head_locked(session, found.head_seq, found.head_hash)
        return self._recorded(session, claim, identity, verification_id, expires, bool(found.matched),
                              found.name_on_card)

    def _verification_row(self, claim: Claim,
                          identity: VerifiedIdentity) -> tuple[str, dt.datetime, dict[str, object]]:
        """A new verification's ID, expiry and row (without whether it matched)."""
        verification_id = new_id("ver")
        expires = claim.at + dt.timedelta(seconds=self.parts.verification_seconds)
        return verification_id, expires, {
            "verification_id": verification_id, "client_id": claim.caller.client_id,
            "account_id": claim.account_id, "ppid": identity.ppid,
            "certificate_serial": format(identity.serial, "x"), "certificate_not_after": identity.not_after,
            "created_at": claim.at, "expires_at": expires}

    def _record_verification(self, session: UnitOfWork, claim: Claim,
                             identity: VerifiedIdentity) -> VerificationOutcome:
        """Store a verified card's answer and whether its PPID is linked to the claimed account."""
        connection = session.connection()
        verification_id, expires, row = self._verification_row(claim, identity)
        if connection.dialect.name == "postgresql":
            # One round trip: the link, the stored row and the audit chain's head, locked
            # (hotpath.RECORD).
            stored = on_driver(session, hotpath.RECORD, row)
            audit.head_locked(session, stored.head_seq, stored.head_hash)
            matched, name = bool(stored.matched), stored.name_on_card
        else:
            link = connection.execute(LINK_OF_PPID, {"ppid": identity.ppid}).first()
            matched = link is not None and hmac.compare_digest(
                link.account_id.encode("utf-8"), claim.account_id.encode("utf-8"))
            name = link.name_on_card if link is not None else None
            connection.execute(ADD_VERIFICATION, {**row, "matched": matched, "operation_id": None})
        return self._recorded(session, claim, identity, verification_id, expires, matched, name)

    def _recorded(self, session: UnitOfWork, claim: Claim, identity: VerifiedIdentity, verification_id: str,
                  expires: dt.datetime, matched: bool, name: str | None) -> VerificationOutcome:
        """The outcome of a stored verification, with its audit entry appended."""
        audit.append(session, "verification", client_id=claim.caller.client_id, account_id=claim.account_id,
                     details={"verification_id": verification_id, "match": matched,
                              "serial": format(identity.serial, "x"),
                              "anchor": identity.issuer_generation_hint})
        return VerificationOutcome(
            verification_id=verification_id, match=matched, name_on_record=name if matched else None,
            certificate_not_after=identity.not_after, expires_at=expires,
        )
