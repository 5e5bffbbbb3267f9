"""A secret in every form it could be written in, and a search for those forms in what was written.

A PIN or a password may leak as itself (ASCII, UTF-8), as UTF-16 in either byte order, as hex of
its bytes (lower or upper case, bare or with a space or a colon between the bytes) or as base64
(the standard or the URL-safe alphabet). Base64 is searched at each of the three alignments a
secret can have inside a longer blob: a character that mixes the secret's bits with its
neighbours' is matched by the secret's bits alone (a character class), so every bit of the
secret is checked wherever it sits, and nothing of its neighbours.

A short secret of letters and digits (a PIN) is looked for as plain text only as a whole token,
not inside a longer run of letters and digits: hex digests, timestamps and ports hold any four
digits by chance. Its other forms are eight characters or more and are matched anywhere.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: A PIN and a new password that nothing writes by chance: four digits with a leading zero (no port,
#: count, duration or year is written so, and a digest's hex holds them only inside a longer token),
#: and a password no other test uses.
RARE_PIN = "0729"
RARE_WRONG_PIN = "0461"
RARE_PASSWORD = "Quokka-Lantern-Mosaic-4719!"
#: Below this many characters a plain secret of letters and digits is matched as a whole token.
SHORT = 8
_LETTERS = string.ascii_uppercase + string.ascii_lowercase + string.digits
ALPHABETS = {"base64": _LETTERS + "+/", "base64url": _LETTERS + "-_"}
TOKEN_EDGE = rb"0-9A-Za-z"


@dataclass(frozen=True)
class Form:
    """One way of writing a secret, as a pattern over bytes."""

    name: str
    pattern: re.Pattern[bytes]


@functools.cache
def forms(secret: str) -> tuple[Form, ...]:
    """Every form of ``secret`` searched for: plain, UTF-16, hex and base64 (see the module)."""
    raw = secret.encode("utf-8")
    found = [Form("plain", re.compile(_plain(raw))),
             Form("utf-16-le", re.compile(re.escape(secret.encode("utf-16-le")))),
             Form("utf-16-be", re.compile(re.escape(secret.encode("utf-16-be"))))]
    for separator in ("", " ", ":"):
        spelt = raw.hex(separator) if separator else raw.hex()
        for case, text in (("lower", spelt), ("upper", spelt.upper())):
            name = f"hex {case}" + (f" with {separator!r}" if separator else "")
            found.append(Form(name, re.compile(re.escape(text.encode("ascii")))))
    for alphabet, letters in ALPHABETS.items():
        for offset in range(3):
            found.append(Form(f"{alphabet} at offset {offset}",
                              re.compile(_base64(raw, offset, letters.encode("ascii")))))
    unique = {form.pattern.pattern: form for form in reversed(found)}  # the first name of each
    return tuple(reversed(unique.values()))


def _plain(raw: bytes) -> bytes:
    exact = re.escape(raw)
    if len(raw) < SHORT and raw.isalnum():
        return rb"(?<![" + TOKEN_EDGE + rb"])" + exact + rb"(?![" + TOKEN_EDGE + rb"])"
    return exact


def _base64(raw: bytes, offset: int, letters: bytes) -> bytes:
    """The pattern of ``raw``'s base64 when ``offset`` unknown bytes precede it (mod 3)."""
    bits: list[int | None] = [None] * (8 * offset)
    bits += [(byte >> (7 - i)) & 1 for byte in raw for i in range(8)]
    bits += [None] * (-len(bits) % 6)
    parts = []
    for start in range(0, len(bits), 6):
        group = bits[start:start + 6]
        if all(bit is None for bit in group):
            continue  # wholly a neighbour's bits: only before the secret
        fits = [letters[value] for value in range(64)
                if all(bit is None or bit == (value >> (5 - i)) & 1 for i, bit in enumerate(group))]
        escaped = b"".join(re.escape(bytes([letter])) for letter in fits)
        parts.append(escaped if len(fits) == 1 else b"[" + escaped + b"]")
    return b"".join(parts)


def leaks(secrets: Mapping[str, str], written: bytes | str) -> list[str]:
    """Each secret (by its label) found in ``written``, with the form it was found in."""
    data = written.encode("utf-8") if isinstance(written, str) else written
    return [f"{label} as {form.name}" for label, secret in secrets.items() for form in forms(secret)
            if form.pattern.search(data)]


def leaks_in(secrets: Mapping[str, str], places: Iterable[tuple[str, bytes | str]]) -> list[str]:
    """``leaks`` over several named places (a file, a table, a log): ``"place: label as form"``."""
    return [f"{where}: {leak}" for where, written in places for leak in leaks(secrets, written)]
