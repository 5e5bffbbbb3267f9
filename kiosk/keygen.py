"""``kiosk keygen``: the kiosk's own key pair, made once on the counter PC.

The private key (EC P-256, PEM, 0600) is what the kiosk signs its client assertions with
(``kiosk.key_file``); it never leaves the PC. The public key is written beside it (``.pub.pem``),
for ``kiosk-linkserver register-kiosk`` on the server. An existing key is never replaced: a new
one would lock the kiosk out until it is registered again.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def public_path(key: Path) -> Path:
    return key.with_name(key.name.removesuffix(".pem") + ".pub.pem")


def make_key_pair(key: Path) -> Path:
    """Write a new private key to ``key`` (0600) and its public key beside it; returns the latter.

    FileExistsError when either file exists; OSError when the folder cannot be written.
    """
    public = public_path(key)
    for path in (key, public):
        if path.exists():
            raise FileExistsError(f"{path} exists: a kiosk's key is made once (remove it only to "
                                  "re-key the kiosk, then register it again with --replace)")
    private = ec.generate_private_key(ec.SECP256R1())
    descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    public.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    return public
