"""The staff unlock PIN as the configuration keeps it (a salted PBKDF2 digest, never the PIN), checked."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

SCHEME = "pbkdf2-sha256"
ITERATIONS = 200_000
UNLOCK_MAX_FAILURES = 5
UNLOCK_LOCKOUT_SECONDS = 300
PATTERN = re.compile(rf"^{SCHEME}\$(\d{{4,7}})\$([0-9a-f]{{32}})\$([0-9a-f]{{64}})$")
#: The unlock dialog has a digits-only keypad: a staff PIN is what can be typed on it.
STAFF_PIN_MIN, STAFF_PIN_MAX = 6, 12
STAFF_PIN_RULE = f"{STAFF_PIN_MIN} to {STAFF_PIN_MAX} digits, as typed on the unlock dialog's keypad"


def staff_pin_problem(pin: str) -> str:
    """Why ``pin`` cannot be the staff unlock PIN (words to follow its variable's name), or ""."""
    if re.fullmatch(rf"[0-9]{{{STAFF_PIN_MIN},{STAFF_PIN_MAX}}}", pin) is None:
        return f"must hold a PIN of {STAFF_PIN_RULE} (no letters or other characters)"
    return ""


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


class StaffLock:
    """The staff unlock PIN, kept only as a salted PBKDF2 digest, with a lockout after failures."""


    def __init__(self, pin: str | None = None, *, encoded: str | None = None) -> None:
        if (pin is None) == (encoded is None):
            raise ValueError("a staff lock needs a PIN or its digest")
        self._encoded = encoded if encoded is not None else hash_staff_pin(pin or "")
        self._failures = 0
        self._locked_until = 0.0

    @property
    def locked(self) -> bool:
        return time.monotonic() < self._locked_until

    def check(self, pin: str) -> bool:
        if self.locked:
            return False
        if staff_pin_matches(self._encoded, pin):
            self._failures = 0
            return True
        self._failures += 1
        if self._failures >= UNLOCK_MAX_FAILURES:
            self._failures = 0
            self._locked_until = time.monotonic() + UNLOCK_LOCKOUT_SECONDS
        return False
