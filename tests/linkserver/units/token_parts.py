"""The server's token service over its own database in this process, its clock pinned.

``make_bench`` gives a ``TokenService`` (its own EC signing key, issuer ``ISSUER``) and a fresh
database with the real schema, where kiosks are registered as the admin command registers them.
``Bench.assertion`` writes a client assertion (``private_key_jwt``) with any claim or header
changed, so each check the service makes can be met on its own.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from sqlalchemy import select

from linkserver.admin import register_client
from linkserver.anchor import install
from linkserver.audit import AuditAnchor
from linkserver.db import Database
from linkserver.models import KioskClient, UsedAssertion
from linkserver.tokens import ASSERTION_TYPE, TokenService
from tests.linkserver.units.operations_parts import AUDIT_KEY, ISSUER, KIOSK, T0, PinnedClock, template

TOKEN_URL = ISSUER + "/oauth/token"
NOW = int(T0.timestamp())
ACCESS_SECONDS, ASSERTION_SECONDS = 300, 300
#: Leave a claim out of an assertion.
DROP = object()

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@functools.cache
def ec_key(name: str = "kiosk", curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    """An EC private key, the same one for a name and curve throughout the process."""
    return ec.generate_private_key(ec.SECP256R1() if curve == "P-256" else ec.SECP384R1())


@functools.cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    """A JWT with ``alg: none`` (or any header) and an empty signature."""
    parts = (json.dumps(header).encode(), json.dumps(claims).encode())
    return ".".join(b64(part) for part in parts) + "."


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def header_of(token: str) -> dict[str, Any]:
    header = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))))


@dataclass
class Bench:
    """A token service, the database of its clients and used assertions, and its clock."""

    tokens: TokenService
    signing_key: ECKey
    db: Database
    clock: PinnedClock

    def register(self, client_id: str = KIOSK, key: PrivateKey | None = None, *,
                 scopes: tuple[str, ...] = ("verify", "operate", "offline")) -> None:
        register_client(self.db, client_id, public_pem(key or ec_key()), scopes)

    def disable(self, client_id: str) -> None:
        with self.db.transaction() as session:
            client = session.get(KioskClient, client_id)
            assert client is not None
            client.enabled = False

    def assertion(self, key: PrivateKey | None = None, client_id: str = KIOSK, *, alg: str = "ES256",
                  header: dict[str, object] | None = None, **changes: object) -> str:
        """A client assertion signed with ``key`` (the kiosk's by default), its claims those a
        kiosk sends unless ``changes`` says otherwise (``DROP`` leaves a claim out)."""
        claims: dict[str, object] = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "iat": NOW,
                                     "exp": NOW + 60, "jti": uuid.uuid4().hex}
        claims.update(changes)
        claims = {name: value for name, value in claims.items() if value is not DROP}
        key = key or ec_key()
        jose_key = RSAKey.import_key(key) if isinstance(key, rsa.RSAPrivateKey) else ECKey.import_key(key)
        return jwt.encode({"alg": alg, **(header or {})}, claims, jose_key, algorithms=[alg])

    def authenticate(self, assertion: str, client_id: str | None = None,
                     assertion_type: str = ASSERTION_TYPE) -> KioskClient:
        with self.db.transaction() as session:
            return self.tokens.authenticate_client(session, assertion, assertion_type, client_id)

    def used(self) -> list[tuple[str, str, object]]:
        """The replay cache: (client, jti, until when it is kept)."""
        with self.db.transaction() as session:
            rows = session.scalars(select(UsedAssertion))
            return [(row.client_id, row.jti, row.expires_at) for row in rows]

    def signed(self, claims: dict[str, object], header: dict[str, object] | None = None,
               key: Any = None) -> str:
        """An access token signed with the service's own key (or ``key``), with any claims and header."""
        alg = "HS256" if isinstance(key, OctKey) else "ES256"
        return jwt.encode({"alg": alg, **(header or {})}, claims, key or self.signing_key, algorithms=[alg])


def make_bench(folder: Path) -> Bench:
    path = folder / "tokens.db"
    shutil.copyfile(template(), path)
    db = Database(f"sqlite:///{path}")
    install(db, AuditAnchor(key=AUDIT_KEY))
    clock = PinnedClock()
    signing_key = ECKey.import_key(ec_key("server"))
    tokens = TokenService(signing_key, ISSUER, TOKEN_URL, ACCESS_SECONDS, ASSERTION_SECONDS, clock)
    return Bench(tokens, signing_key, db, clock)
