"""Kiosk authentication: client assertions in, short-lived signed access tokens out.

Kiosks use the OAuth 2.0 client-credentials grant with ``private_key_jwt`` (RFC 7523): each
request to the token endpoint carries a JWT signed with the kiosk's own key. This module checks
such an assertion (fixed algorithms, ``iss`` = ``sub`` = the client, ``aud`` = the token URL,
a bounded lifetime, a ``jti`` never seen before) and issues access tokens signed with the
server's key, which every other endpoint checks without touching the database.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, Key, RSAKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linkserver.models import KioskClient, UsedAssertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: Algorithms a kiosk may sign its assertion with; "none" and HMAC never.
ASSERTION_ALGORITHMS = ["RS256", "PS256", "ES256"]
TOKEN_ALGORITHM = "ES256"
#: What a kiosk may be allowed to do; a client gets a subset.
SCOPES = {
    "verify": "ask for challenges and submit card verifications",
    "operate": "request operations on a verified account",
    "offline": "upload evidence recorded while offline",
    "staff": "list and approve or refuse operations (the staff console)",
}
DEFAULT_KIOSK_SCOPES = ("verify", "operate", "offline")
CLOCK_LEEWAY = 30
MAX_ASSERTION_BYTES = 8 * 1024
#: Seconds an access token is still accepted after its exp (clock skew between workers).
ACCESS_LEEWAY = 5
#: Checked access tokens kept (``TokenService.check``); beyond, the cache starts again.
MAX_CHECKED_TOKENS = 10_000


class AuthError(Exception):
    """A refused authentication; ``code`` is the OAuth error code, ``status`` the HTTP status."""

    def __init__(self, code: str, description: str, status: int = 401) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Caller:
    """Who made a request, from a valid access token."""

    client_id: str
    scopes: frozenset[str]
    #: Set on account tokens from the device grant: the account the user proved.
    account_id: str | None = None


def load_ec_private_key(path: Path) -> ECKey:
    """An EC P-256 private key from a PEM file, as a JOSE key."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path} is not an EC P-256 private key")
    return ECKey.import_key(key)


def generate_ec_private_key_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_jwk_from_pem(pem: bytes) -> dict[str, Any]:
    """A client's public key as a JWK (RSA of at least 2048 bits, or EC P-256)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError("RSA keys must have at least 2048 bits")
        return RSAKey.import_key(key).as_dict(private=False)
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return ECKey.import_key(key).as_dict(private=False)
    raise ValueError("the key must be RSA (2048 bits or more) or EC P-256")


def unverified_issuer(assertion: str) -> str | None:
    """The client an assertion claims to come from, before anything about it is checked.

    ValueError if it is not a JWT at all.
    """
    try:
        claims = json.loads(jws.extract_compact(assertion.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeError):
        raise ValueError("not a JWT") from None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None


def _timestamp(now: dt.datetime) -> int:
    return int(now.timestamp())


class TokenService:
    """Checks client assertions and issues and checks access tokens."""

    def __init__(self, signing_key: ECKey, issuer: str, token_url: str, access_seconds: int,
                 max_assertion_seconds: int, clock: Callable[[], dt.datetime]) -> None:
        self._key = signing_key
        self.issuer = issuer
        self.token_url = token_url
        self.access_seconds = access_seconds
        self.max_assertion_seconds = max_assertion_seconds
        self._clock = clock
        self.key_id = signing_key.thumbprint()
        #: Access tokens whose signature and claims were checked: token -> (caller, its exp).
        self._checked: dict[str, tuple[Caller, float, float]] = {}

    def public_jwks(self) -> dict[str, Any]:
        jwk = self._key.as_dict(private=False)
        jwk.update(kid=self.key_id, use="sig", alg=TOKEN_ALGORITHM)
        return {"keys": [jwk]}

    # -- client assertions --------------------------------------------------------------------

    def authenticate_client(self, session: Session, assertion: str, assertion_type: str,
                            client_id: str | None) -> KioskClient:
        """The client a valid, unused assertion proves, or AuthError("invalid_client")."""
        if assertion_type != ASSERTION_TYPE:
            raise AuthError("invalid_client", "client_assertion_type must be jwt-bearer")
        if len(assertion) > MAX_ASSERTION_BYTES:
            raise AuthError("invalid_client", "the client assertion is too large")
        try:
            issuer = unverified_issuer(assertion)
        except ValueError:
            raise AuthError("invalid_client", "the client assertion is not a JWT") from None
        if not isinstance(issuer, str) or (client_id is not None and client_id != issuer):
            raise AuthError("invalid_client", "the client assertion names no matching client")
        client = session.get(KioskClient, issuer)
        if client is None or not client.enabled:
            raise AuthError("invalid_client", "unknown or disabled client")
        try:
            key: Key = JWKRegistry.import_key(dict(client.public_jwk))
            token = jwt.decode(assertion, key, algorithms=ASSERTION_ALGORITHMS)
        except (JoseError, ValueError):
            raise AuthError("invalid_client", "the client assertion's signature does not verify") from None
        claims = token.claims
        now = _timestamp(self._clock())
        registry = jwt.JWTClaimsRegistry(
            now=now, leeway=CLOCK_LEEWAY,
            iss={"essential": True, "value": client.client_id},
            sub={"essential": True, "value": client.client_id},
            aud={"essential": True, "value": self.token_url},
            exp={"essential": True}, jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise AuthError("invalid_client",
                            f"the client assertion is not acceptable ({exc.error})") from None
        exp = claims["exp"]
        start = claims.get("iat", now)
        limit = self.max_assertion_seconds
        if not isinstance(exp, int) or not isinstance(start, int) or exp - start > limit or exp - now > limit:
            raise AuthError("invalid_client",
                            f"client assertions may live at most {self.max_assertion_seconds} s")
        jti = claims["jti"]
        if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
            raise AuthError("invalid_client", "the client assertion's jti is not acceptable")
        try:
            with session.begin_nested():
                session.add(UsedAssertion(
                    client_id=client.client_id, jti=jti,
                    expires_at=dt.datetime.fromtimestamp(exp + CLOCK_LEEWAY, dt.UTC)))
        except IntegrityError:
            raise AuthError("invalid_client", "the client assertion was already used") from None
        return client

    # -- access tokens --------------------------------------------------------------------------

    def issue(self, subject: str, scopes: list[str], *, account_id: str | None = None,
              seconds: int | None = None) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds."""
        lifetime = seconds or self.access_seconds
        now = _timestamp(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.issuer, "sub": subject, "scope": " ".join(scopes),
            "iat": now, "nbf": now, "exp": now + lifetime, "jti": secrets.token_urlsafe(16),
        }
        if account_id is not None:
            claims["account"] = account_id
        header = {"alg": TOKEN_ALGORITHM, "kid": self.key_id, "typ": "at+jwt"}
        return jwt.encode(header, claims, self._key, algorithms=[TOKEN_ALGORITHM]), lifetime

    def check(self, token: str) -> Caller:
        """The caller an access token stands for, or AuthError("invalid_token").

        A token's signature and claims are checked once; a kiosk sends the same token with each
        request, so its later requests find it among the checked ones, where only its times are
        checked again (the claims whose answer changes with the clock), by the full check's rules.
        The same bytes, the same answer: nothing a full check would refuse is accepted.
        """
        now = _timestamp(self._clock())
        known = self._checked.get(token)
        if known is not None:
            caller, starts, expires = known
            if starts <= now + ACCESS_LEEWAY and expires > now - ACCESS_LEEWAY:
                return caller
        caller, starts, expires = self._check(token, now)
        if len(self._checked) >= MAX_CHECKED_TOKENS:
            self._checked.clear()
        self._checked[token] = (caller, starts, expires)
        return caller

    def _check(self, token: str, now: int) -> tuple[Caller, float, float]:
        """The caller, and the latest of the token's nbf and iat and its exp (all checked)."""
        if len(token) > MAX_ASSERTION_BYTES:
            raise AuthError("invalid_token", "the access token is too large")
        try:
            decoded = jwt.decode(token, self._key, algorithms=[TOKEN_ALGORITHM])
            if decoded.header.get("typ") != "at+jwt":
                raise AuthError("invalid_token", "not an access token")
            jwt.JWTClaimsRegistry(
                now=now, leeway=ACCESS_LEEWAY,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.issuer},
                exp={"essential": True}, sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError):
            raise AuthError("invalid_token", "the access token is invalid or expired") from None
        claims = decoded.claims
        scope = claims.get("scope", "")
        account = claims.get("account")
        starts = max((claims[name] for name in ("nbf", "iat") if name in claims), default=-math.inf)
        return (Caller(client_id=str(claims["sub"]), scopes=frozenset(str(scope).split()),
                       account_id=account if isinstance(account, str) else None), starts, claims["exp"])
