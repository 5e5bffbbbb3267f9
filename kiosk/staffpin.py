"""The staff unlock PIN as the configuration keeps it: a salted PBKDF2 digest, never the PIN."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

SCHEME = "pbkdf2-sha256"
ITERATIONS = 200_000
PATTERN = re.compile(rf"^{SCHEME}\$(\d{{4,7}})\$([0-9a-f]{{32}})\$([0-9a-f]{{64}})$")


def hash_staff_pin(pin: str, *, iterations: int = ITERATIONS) -> str:
    """The text to put in ``kiosk.staff_unlock``: scheme, iterations, salt and digest."""
    if not pin:
        raise ValueError("the staff PIN is empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    return f"{SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def valid_hash(encoded: str) -> bool:
    return PATTERN.fullmatch(encoded) is not None


def staff_pin_matches(encoded: str, pin: str) -> bool:
    match = PATTERN.fullmatch(encoded)
    if match is None:
        return False
    iterations, salt, digest = int(match[1]), bytes.fromhex(match[2]), bytes.fromhex(match[3])
    return hmac.compare_digest(hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations), digest)
