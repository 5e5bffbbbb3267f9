"""The new-password rules as the kiosk checks them before sending: the server publishes its policy
(``server_info().password_policy``) and checks the password again itself."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from kiosk.linkage import LinkageClient, LinkageError

#: The reference service's rules, used until the server has said its own.
DEFAULT_POLICY: dict[str, Any] = {"min_length": 12, "max_length": 64, "min_classes": 3}


def server_policy(linkage: LinkageClient) -> dict[str, Any] | None:
    """The policy the server publishes; None while it cannot be reached."""
    try:
        return dict(linkage.server_info().password_policy)
    except LinkageError:
        return None


def password_problems(password: str, policy: Mapping[str, Any]) -> list[str]:
    """The codes of the rules a password breaks (the server's codes); empty when it is acceptable."""
    problems = []
    if len(password) < int(policy.get("min_length", 12)):
        problems.append("too_short")
    if len(password) > int(policy.get("max_length", 64)):
        problems.append("too_long")
    if any(ch not in string.printable or ch in "\t\n\r\x0b\x0c" for ch in password):
        problems.append("invalid_character")
    classes = sum((any(c.isupper() and c.isascii() for c in password),
                   any(c.islower() and c.isascii() for c in password),
                   any(c.isdigit() and c.isascii() for c in password),
                   any(c in string.punctuation or c == " " for c in password)))
    if classes < int(policy.get("min_classes", 3)):
        problems.append("too_few_classes")
    return problems


def problem_words(problem: str, policy: Mapping[str, Any]) -> str:
    """A rule the password breaks, as the rule to follow."""
    if problem == "too_short":
        return f"use at least {int(policy.get('min_length', 12))} characters"
    if problem == "too_long":
        return f"use at most {int(policy.get('max_length', 64))} characters"
    if problem == "invalid_character":
        return "use only printable ASCII: letters, digits, symbols and spaces"
    if problem == "too_few_classes":
        return (f"mix at least {int(policy.get('min_classes', 3))} of: upper-case letters, "
                "lower-case letters, digits, symbols")
    if problem == "missing":
        return "give the new password"
    return problem
