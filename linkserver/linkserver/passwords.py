"""The password policy the user's new password must meet, and how passwords are stored."""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


@dataclass(frozen=True)
class PasswordPolicy:
    """Length bounds and how many character classes (upper, lower, digit, symbol) are required.

    The defaults are the reference service's: 12 to 64 characters, three of the four classes.
    Only printable ASCII is accepted, as the institution's older systems require.
    """

    min_length: int = 12
    max_length: int = 64
    min_classes: int = 3

    def problems(self, password: str) -> list[str]:
        """Codes of every rule the password breaks; empty when it is acceptable."""
        found: list[str] = []
        if len(password) < self.min_length:
            found.append("too_short")
        if len(password) > self.max_length:
            found.append("too_long")
        if any(ch not in string.printable or ch in "\t\n\r\x0b\x0c" for ch in password):
            found.append("invalid_character")
        if self.classes(password) < self.min_classes:
            found.append("too_few_classes")
        return found

    @staticmethod
    def classes(password: str) -> int:
        return sum((
            any(ch in string.ascii_uppercase for ch in password),
            any(ch in string.ascii_lowercase for ch in password),
            any(ch in string.digits for ch in password),
            any(ch in string.punctuation or ch == " " for ch in password),
        ))

    def describe(self) -> dict[str, object]:
        return {"min_length": self.min_length, "max_length": self.max_length,
                "min_classes": self.min_classes,
                "classes": ["upper", "lower", "digit", "symbol"], "charset": "printable ASCII"}


@dataclass(frozen=True)
class NewPassword:
    """A new password as typed, what the policy finds wrong with it, and the form the directory
    stores (``AccountDirectory.prepare_password``), made before any transaction opens."""

    text: str = field(repr=False)
    problems: tuple[str, ...] = ()
    prepared: str | None = field(default=None, repr=False)


def hash_password(password: str) -> str:
    return _HASHER.hash(unicodedata.normalize("NFC", password))


def password_matches(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        # Spend the same time as a real check, so a missing account is not told apart by timing.
        _HASHER.hash(password)
        return False
    try:
        return _HASHER.verify(stored_hash, unicodedata.normalize("NFC", password))
    except (VerificationError, InvalidHashError):
        return False
