"""Secrets the server keeps but must not hold in plain: AES-256-GCM under a key derived by HKDF from
the server's secret for one purpose, each value bound to the row it belongs to (as associated data),
so a copied database reveals nothing and a sealed value moved to another row does not open."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class Unsealable(ValueError):
    """A sealed value does not open under this key and context (another server's, moved or altered)."""


class Sealer:
    """Seals and opens text for one purpose (the HKDF label) under the server's secret."""

    def __init__(self, server_secret: bytes, purpose: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(server_secret)
        self._aead = AESGCM(key)

    def seal(self, context: str, plain: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain.encode("utf-8"), context.encode("utf-8"))

    def open(self, context: str, sealed: bytes) -> str:
        try:
            plain = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode("utf-8"))
        except (InvalidTag, ValueError):
            raise Unsealable(f"a sealed value of {context} cannot be opened") from None
        return plain.decode("utf-8")
