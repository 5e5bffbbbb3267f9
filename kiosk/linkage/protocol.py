"""The bytes of the linkage protocol that the kiosk and the server must agree on exactly.

The card signs ``SHA-256(signed_message(nonce, kiosk_id, account))``; the server rebuilds the same
message from what the kiosk sends, so a single differing byte turns every verification into
``bad_signature``. Binary values travel as unpadded base64url.
"""

from __future__ import annotations

import base64
import binascii
import re

#: Separates this protocol's signatures from anything else the card's key might sign.
DOMAIN_TAG = b"jp.kiosk.verify.v1\x00"
#: Each field is prefixed with its length in this many bytes (big-endian).
LENGTH_PREFIX_BYTES = 2
MAX_FIELD_LENGTH = (1 << (8 * LENGTH_PREFIX_BYTES)) - 1

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _field(value: bytes) -> bytes:
    if len(value) > MAX_FIELD_LENGTH:
        raise ValueError(f"a signed field of {len(value)} bytes exceeds {MAX_FIELD_LENGTH}")
    return len(value).to_bytes(LENGTH_PREFIX_BYTES, "big") + value


def signed_message(nonce: bytes, kiosk_id: str, account: str) -> bytes:
    """The message the card signs: the domain tag, then nonce, kiosk ID and account, each length-prefixed.

    The length prefixes keep the encoding injective, so a signature for one claim can never be
    read as a signature for another.
    """
    return (
        DOMAIN_TAG
        + _field(bytes(nonce))
        + _field(kiosk_id.encode("utf-8"))
        + _field(account.encode("utf-8"))
    )


def b64url(data: bytes | bytearray | memoryview) -> str:
    """Unpadded base64url text of ``data``."""
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """The bytes of unpadded base64url ``text``; ValueError for anything else.

    Strict: no padding, no whitespace, no characters outside the URL-safe alphabet, no length
    that no byte string encodes to, and no non-zero trailing bits (so each value has exactly one
    accepted spelling).
    """
    if not isinstance(text, str) or _B64URL.fullmatch(text) is None:
        raise ValueError("not unpadded base64url")
    if len(text) % 4 == 1:
        raise ValueError("not a valid base64url length")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("not unpadded base64url") from None
    if b64url(data) != text:
        raise ValueError("base64url with non-zero trailing bits")
    return data
