"""What the linkage client checks of its callers' input before anything is sent, and how it batches."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from kiosk.linkage.models import ACCOUNT_ID

#: The server takes at most 50 bundles per upload and bodies up to 64 KiB (its default).
MAX_BATCH_BUNDLES = 50
MAX_BATCH_BYTES = 60 * 1024


def check_account(account_id: str) -> None:
    if not isinstance(account_id, str) or ACCOUNT_ID.fullmatch(account_id) is None:
        raise ValueError("the account ID must be 1 to 64 printable ASCII characters")


def check_id(what: str, value: str, pattern: re.Pattern[str]) -> None:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise ValueError(f"not a valid {what}")


def check_length(what: str, value: bytes, minimum: int, maximum: int) -> None:
    if not isinstance(value, bytes | bytearray | memoryview) or not minimum <= len(value) <= maximum:
        raise ValueError(f"the {what} must be {minimum} to {maximum} bytes")


def json_object(params: Mapping[str, object]) -> dict[str, object]:
    if not isinstance(params, Mapping) or not all(isinstance(key, str) for key in params):
        raise ValueError("operation parameters must be a mapping with string keys")
    copy = dict(params)
    try:
        json.dumps(copy, allow_nan=False)
    except (TypeError, ValueError):
        raise ValueError("operation parameters must be plain JSON values") from None
    return copy


def batches(bundles: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Bundles split into uploads of at most 50 and within the server's body size limit."""
    batches: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    size = 0
    for key, sealed in bundles:
        cost = len(key) + len(sealed) + 64  # the JSON around each bundle, generously
        if current and (len(current) >= MAX_BATCH_BUNDLES or size + cost > MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append((key, sealed))
        size += cost
    if current:
        batches.append(current)
    return batches
