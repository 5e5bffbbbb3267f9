"""Sealing what the kiosk saw offline into evidence the linkage server re-verifies when it is back.

The format is the server's (``POST /v1/offline/evidence``): a compact JWE (``ECDH-ES+A256KW`` /
``A256GCM``) to the server's sealing key, whose plaintext is a compact JWS signed with the kiosk's
device key, whose payload is the JSON of ``Evidence.payload()``. The card signed a challenge that
carries the kiosk's offline counter and the time, so the server can refuse a reused counter and
judge the certificate at the moment it was used. The user leaves with a voucher; only its hash
travels in the evidence and stays on the kiosk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from kiosk.offline.kinds import OFFLINE_OPERATIONS, SALVAGE_MODES

FORMAT_VERSION = 1
SEAL_ALGORITHM = "ECDH-ES+A256KW"
SEAL_ENCRYPTION = "A256GCM"
#: The server refuses larger bundles unopened.
MAX_SEALED_BYTES = 32 * 1024
#: The server reads only this much of a staff ID.
MAX_STAFF_ID_LENGTH = 64
CHALLENGE_RANDOM_BYTES = 16
CHALLENGE_BYTES = 8 + 8 + CHALLENGE_RANDOM_BYTES
#: Bounds the server puts on the counter and the time (Unix seconds).
MAX_COUNTER = 2**63
MAX_UNIX_SECONDS = 2**40
MIN_RSA_DEVICE_KEY_BITS = 2048

#: Letters and digits nobody confuses at a counter (no I, O, 0 or 1): 32 of them, 5 bits each.
VOUCHER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
VOUCHER_GROUPS = 4
VOUCHER_GROUP_LENGTH = 4
#: What the server's voucher page accepts.
_VOUCHER_FORMAT = re.compile(r"[A-Za-z0-9-]{8,64}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


def b64url(data: bytes) -> str:
    """Unpadded base64url, as the payload's byte fields are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _check_counter(counter: int) -> None:
    if not isinstance(counter, int) or isinstance(counter, bool) or not 0 < counter < MAX_COUNTER:
        raise ValueError(f"the offline counter must be an integer from 1 to {MAX_COUNTER - 1}")


def _check_unix_seconds(value: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < MAX_UNIX_SECONDS:
        raise ValueError(f"{what} must be Unix seconds (a positive integer)")


def offline_challenge(counter: int, issued_at: int, random16: bytes) -> bytes:
    """The nonce the card signs offline: counter, time, randomness.

    The counter and ``issued_at`` as 8-byte big-endian integers, then 16 random bytes: the server
    reads the first two back and refuses a challenge that does not carry them.
    """
    _check_counter(counter)
    _check_unix_seconds(issued_at, "issued_at")
    if len(random16) != CHALLENGE_RANDOM_BYTES:
        raise ValueError(f"{CHALLENGE_RANDOM_BYTES} random bytes are needed")
    return counter.to_bytes(8, "big") + issued_at.to_bytes(8, "big") + bytes(random16)


def new_voucher() -> str:
    """A fresh one-time voucher code of 80 random bits, e.g. ``K7QM-2XRD-9HTP-CW4N``."""
    groups = (
        "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(VOUCHER_GROUP_LENGTH))
        for _ in range(VOUCHER_GROUPS)
    )
    return "-".join(groups)


def normalise_voucher(voucher: str) -> str:
    """The voucher as the server compares it: surrounding space removed, upper case."""
    return voucher.strip().upper()


def voucher_hash(voucher: str) -> str:
    """Hex SHA-256 of the normalised voucher: what the evidence carries and the server redeems against."""
    normalised = normalise_voucher(voucher)
    if not _VOUCHER_FORMAT.fullmatch(normalised):
        raise ValueError("a voucher is 8 to 64 letters, digits and hyphens")
    return hashlib.sha256(normalised.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Evidence:
    """One in-person verification and its staff approval, as the server's evidence payload holds it.

    Times are Unix seconds. Construction checks everything the server would refuse the payload
    for, so a bundle is never sealed (and a voucher never handed out) for evidence that cannot
    be accepted on its form alone.
    """

    kiosk_id: str
    counter: int
    issued_at: int
    challenge: bytes
    account_id: str
    operation: str
    params: Mapping[str, object] = field(hash=False)
    certificate: bytes
    signature: bytes
    staff_id: str
    staff_approved_at: int
    voucher_hash: str

    def __post_init__(self) -> None:
        if not isinstance(self.kiosk_id, str) or not self.kiosk_id:
            raise ValueError("the kiosk ID is missing")
        _check_counter(self.counter)
        _check_unix_seconds(self.issued_at, "issued_at")
        _check_unix_seconds(self.staff_approved_at, "the staff approval time")
        prefix = self.counter.to_bytes(8, "big") + self.issued_at.to_bytes(8, "big")
        if len(self.challenge) != CHALLENGE_BYTES or bytes(self.challenge[:16]) != prefix:
            raise ValueError("the challenge does not carry the counter and issued_at")
        if not isinstance(self.account_id, str) or not self.account_id:
            raise ValueError("the account ID is missing")
        if self.operation not in OFFLINE_OPERATIONS:
            raise ValueError(f"{self.operation!r} cannot be authorised offline")
        if not isinstance(self.params, Mapping):
            raise ValueError("params must be a mapping")
        if self.operation == "salvage":
            if set(self.params) != {"mode"} or self.params["mode"] not in SALVAGE_MODES:
                raise ValueError(f"salvage needs params {{'mode': one of {', '.join(SALVAGE_MODES)}}}")
        elif self.params:
            # The server ignores them, so accepting them here would let a caller believe they count.
            raise ValueError(f"{self.operation} takes no params")
        if not self.certificate or not self.signature:
            raise ValueError("the certificate and the card's signature are needed")
        if not isinstance(self.staff_id, str) or not 0 < len(self.staff_id) <= MAX_STAFF_ID_LENGTH:
            raise ValueError(f"the staff ID must be 1 to {MAX_STAFF_ID_LENGTH} characters")
        if not isinstance(self.voucher_hash, str) or not _HEX_SHA256.fullmatch(self.voucher_hash):
            raise ValueError("the voucher hash must be 64 lower-case hex digits (see voucher_hash)")

    def payload(self) -> dict[str, Any]:
        """The server's JSON payload, format version 1, byte fields as unpadded base64url."""
        return {
            "v": FORMAT_VERSION,
            "kiosk_id": self.kiosk_id,
            "counter": self.counter,
            "issued_at": self.issued_at,
            "challenge": b64url(bytes(self.challenge)),
            "account_id": self.account_id,
            "operation": self.operation,
            "params": dict(self.params),
            "certificate": b64url(bytes(self.certificate)),
            "signature": b64url(bytes(self.signature)),
            "staff": {"staff_id": self.staff_id, "approved_at": self.staff_approved_at},
            "voucher_hash": self.voucher_hash,
        }


def _device_key(device_key_pem: bytes) -> tuple[ECKey | RSAKey, str]:
    """The kiosk's device key for joserfc and the JWS algorithm it signs with."""
    try:
        key = serialization.load_pem_private_key(device_key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the device key is not an unencrypted PEM private key ({exc})") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"the device key is on {key.curve.name}; ES256 needs P-256")
        return ECKey.import_key(key), "ES256"
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_DEVICE_KEY_BITS:
            raise ValueError(f"the device key is RSA-{key.key_size}; "
                             f"at least {MIN_RSA_DEVICE_KEY_BITS} bits are needed")
        return RSAKey.import_key(key), "RS256"
    raise ValueError(f"the device key is a {type(key).__name__.lstrip('_')}; EC P-256 or RSA is needed")


def _server_key(jwk: Mapping[str, object]) -> ECKey:
    """The server's sealing key, refused unless it is an EC P-256 public key meant for this."""
    if not isinstance(jwk, Mapping):
        raise ValueError("the server's sealing key must be a JWK object")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("the server's sealing key is not an EC P-256 key")
    if "d" in jwk:
        # A kiosk must never hold the server's private key; getting one means a wrong configuration.
        raise ValueError("the server's sealing key is a private key")
    if jwk.get("use", "enc") != "enc" or jwk.get("alg", SEAL_ALGORITHM) != SEAL_ALGORITHM:
        raise ValueError("the server's sealing key is not meant for sealing evidence")
    try:
        fields: dict[str, Any] = dict(jwk)
        key = ECKey.import_key(fields)
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(f"the server's sealing key does not load ({exc})") from None
    if key.is_private or key.curve_name != "P-256":
        raise ValueError("the server's sealing key is not an EC P-256 public key")
    return key


def seal(evidence: Evidence, device_key_pem: bytes, server_sealing_jwk: Mapping[str, object]) -> str:
    """The evidence signed with the kiosk's device key and sealed to the server's key: a compact JWE."""
    server_key = _server_key(server_sealing_jwk)
    key, algorithm = _device_key(device_key_pem)
    body = json.dumps(evidence.payload(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    signed = jws.serialize_compact({"alg": algorithm}, body, key, algorithms=[algorithm])
    header: dict[str, object] = {"alg": SEAL_ALGORITHM, "enc": SEAL_ENCRYPTION}
    kid = server_sealing_jwk.get("kid")
    if isinstance(kid, str) and kid:
        # Names the sealing key used, so a server that rotates its key can tell which one opens it.
        header["kid"] = kid
    sealed = jwe.encrypt_compact(header, signed.encode("ascii"), server_key,
                                 algorithms=[SEAL_ALGORITHM, SEAL_ENCRYPTION])
    if len(sealed) > MAX_SEALED_BYTES:
        raise ValueError(f"the sealed evidence is {len(sealed)} bytes; "
                         f"the server takes at most {MAX_SEALED_BYTES}")
    return sealed
