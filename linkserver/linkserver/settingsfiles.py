"""The files the settings name, read and judged before anything starts: secrets, keys, anchors, CRLs.

Each problem is one line naming the configuration file, the key, the file it names, what is wrong
with it and how to make a good one, raised as ``ConfigError``; nothing is created or written
before these checks pass.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from linkserver.configread import ConfigError

#: The shortest PPID secret and audit key, in bytes.
MIN_SECRET_BYTES = 32
MAKE_SECRET = "make one with: openssl rand -hex 32 > FILE; chmod 600 FILE"
MAKE_EC_KEY = "make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out FILE"


def _read(source: Path, key: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source}: {key} names {path}, which cannot be read ({exc.strerror or exc}): "
                          "check the file and that the server's user may read it") from None


def _secret(data: bytes) -> str | None:
    length = len(data.strip())
    return None if length >= MIN_SECRET_BYTES else (
        f"holds {length} bytes, fewer than the {MIN_SECRET_BYTES} needed; {MAKE_SECRET}")


def _ec_key(data: bytes) -> str | None:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        words = str(exc).split("\n")[0][:120]
        return f"is not an unencrypted PEM private key ({words}); {MAKE_EC_KEY}"
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        return f"is a private key, but not EC P-256; {MAKE_EC_KEY}"
    return None


def _private_key(data: bytes) -> str | None:
    try:
        serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        return f"is not an unencrypted PEM private key ({str(exc).splitlines()[0][:120]})"
    return None


def _certificates(data: bytes) -> str | None:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        return "is not a PEM certificate file"
    return None


def _crl(data: bytes) -> str | None:
    from cryptography import x509

    try:
        crl = (x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----BEGIN")
               else x509.load_der_x509_crl(data))
        crl.extensions  # noqa: B018 - parsed lazily; a CRL whose extensions do not parse is refused now
    except (ValueError, x509.DuplicateExtension):
        return "is not a DER or PEM CRL; download the JPKI platform's CRL again"
    return None


#: The judge of each kind of file: None when it is fine, else what is wrong and what to do.
JUDGES: dict[str, Callable[[bytes], str | None]] = {
    "secret": _secret, "ec_key": _ec_key, "private_key": _private_key, "certificates": _certificates,
    "crl": _crl,
}


def check_file(source: Path, key: str, path: Path, kind: str) -> None:
    """Raise ConfigError when the file ``key`` names cannot be read or is not a ``kind``."""
    problem = JUDGES[kind](_read(source, key, path))
    if problem is not None:
        raise ConfigError(f"{source}: {key} names {path}, which {problem}")
