"""The kiosk's audit chain: what an entry may hold, how it is hashed, and how the chain is checked.

Each entry's hash covers the previous entry's hash, its sequence number, time, event and details
(canonical JSON), so an edited, removed or reordered entry breaks the chain from there on. When
retention removes the oldest entries, a checkpoint keeps the sequence number and hash of the last
one removed and the check starts from it. The log records events, never secrets: a detail key
that names one, or a value long enough to be a certificate or a signature, is refused outright.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kiosk.store.models import AuditRecord

#: The "previous hash" of the first entry ever written.
GENESIS = "0" * 64
#: The longest value a detail may have: identifiers and codes fit, a certificate does not.
MAX_VALUE_LENGTH = 256
#: Detail keys that would put a secret in the log.
SECRET_KEYS = frozenset({
    "pin", "password", "new_password", "my_number", "mynumber", "individual_number", "certificate",
    "signature", "token", "access_token", "refresh_token", "client_assertion", "device_code",
    "user_code", "voucher", "enrolment_code", "enrollment_code", "enrolment_uri", "enrollment_uri",
    "ticket", "secret", "private_key",
})
#: A key ending in one of these words (``new_pin``, ``card_certificate``) names a secret too;
#: ``voucher_hash`` or ``certificate_serial`` name something derived and are allowed.
SECRET_SUFFIXES = ("pin", "password", "passphrase", "secret", "token", "voucher", "certificate",
                   "signature", "ticket", "my_number", "private_key")
EVENT_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,48}")


@dataclass(frozen=True)
class AuditReport:
    """The outcome of checking the chain: how many entries there are, and the first break if any."""

    entries: int
    ok: bool
    broken_at: int | None = None
    reason: str = ""


def is_secret_key(key: str) -> bool:
    name = re.sub(r"[\s-]+", "_", key.strip().lower())
    return name in SECRET_KEYS or any(name.endswith("_" + word) for word in SECRET_SUFFIXES)


def check_event(event: str) -> str:
    if not isinstance(event, str) or not EVENT_PATTERN.fullmatch(event):
        raise ValueError("an audit event is 1-48 letters, digits or _ . : -")
    return event


def canonical_details(details: Mapping[str, object]) -> str:
    """The details as canonical JSON, refusing secrets, long values and types JSON cannot carry."""
    cleaned = {key: _clean(key, value) for key, value in details.items()}
    for key, value in cleaned.items():
        length = len(value) if isinstance(value, str) else len(_dumps(value))
        if length > MAX_VALUE_LENGTH:
            raise ValueError(f"audit detail {key!r} is {length} characters (at most {MAX_VALUE_LENGTH})")
    return _dumps(cleaned)


def _clean(key: object, value: object) -> object:
    if not isinstance(key, str):
        raise ValueError(f"audit detail keys are strings, not {type(key).__name__}")
    if is_secret_key(key):
        raise ValueError(f"audit details may not carry {key!r}")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"audit detail {key!r} is not a finite number")
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {inner: _clean(inner, item) for inner, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(key, item) for item in value]
    # Bytes above all: raw card data or key material has no place in the log.
    raise ValueError(f"audit detail {key!r} has a type the log does not take ({type(value).__name__})")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def utc_text(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, seq: int, at: dt.datetime, event: str, details: str) -> str:
    payload = json.dumps([prev_hash, seq, utc_text(at), event, details], ensure_ascii=False,
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def check_entries(entries: Iterable[AuditRecord], *, after_seq: int = 0,
                  after_hash: str = GENESIS) -> AuditReport:
    """Walk entries in sequence order from a starting point; report the first that does not follow.

    The walk goes on to the end after a break, so ``entries`` is always the number present.
    """
    prev, expected, count = after_hash, after_seq + 1, 0
    broken_at: int | None = None
    reason = ""
    for entry in entries:
        count += 1
        if broken_at is not None:
            continue
        if entry.seq != expected:
            broken_at, reason = entry.seq, (f"entry {expected} is missing" if entry.seq > expected
                                            else "it comes before the retention checkpoint")
        elif entry.prev_hash != prev:
            broken_at, reason = entry.seq, "it does not point at the entry before it"
        elif entry_hash(entry.prev_hash, entry.seq, entry.at, entry.event, entry.details) != entry.entry_hash:
            broken_at, reason = entry.seq, "its contents do not match its hash"
        else:
            prev, expected = entry.entry_hash, expected + 1
    return AuditReport(entries=count, ok=broken_at is None, broken_at=broken_at, reason=reason)
