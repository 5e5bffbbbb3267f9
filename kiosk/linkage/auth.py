"""The kiosk's client authentication: its private key and the short-lived assertions it signs.

Kiosks authenticate to the token endpoint with ``private_key_jwt`` (RFC 7523). authlib's own
``PrivateKeyJWT`` signs assertions that live an hour, and reuses one ``jti`` when given claims;
the server refuses both, so its subclass ``ShortAssertion`` (``kiosk.linkage.transport``) signs
each with ``sign_assertion`` here: one minute, a fresh ``jti`` every time.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

#: How long one client assertion is valid; each token request signs a new one.
ASSERTION_SECONDS = 60
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class ClientKey:
    """The kiosk's private key as a JOSE key, and the algorithm it signs with."""

    key: ECKey | RSAKey
    alg: str

    def __repr__(self) -> str:
        return f"ClientKey(alg={self.alg!r})"


def load_client_key(path: Path) -> ClientKey:
    """An EC P-256 (ES256) or RSA of 2048 bits or more (RS256) private key from an unencrypted PEM file.

    EC keys become joserfc key objects here: authlib reads a bare PEM as RSA.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"the kiosk key {path} cannot be read: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(f"the kiosk key {path} is not an unencrypted PEM private key") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name != "secp256r1":
            raise ValueError(f"the kiosk key {path} is on {key.curve.name}; only P-256 is accepted")
        return ClientKey(ECKey.import_key(key), "ES256")
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"the kiosk key {path} has {key.key_size} bits; RSA needs {MIN_RSA_BITS}")
        return ClientKey(RSAKey.import_key(key), "RS256")
    raise ValueError(f"the kiosk key {path} must be EC P-256 or RSA")


def sign_assertion(key: ECKey | RSAKey, alg: str, client_id: str, audience: str) -> str:
    """A client assertion for ``audience`` (the token URL): one minute, a new ``jti``."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now,
              "exp": now + ASSERTION_SECONDS, "jti": secrets.token_urlsafe(24)}
    return jwt.encode({"alg": alg, "typ": "JWT"}, claims, key, algorithms=[alg])
