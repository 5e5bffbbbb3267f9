"""The pairwise pseudonymous identifier (PPID) a service links an account to.

A card renewal brings a new certificate and serial, so the PPID is keyed on the first serial of the
certificate's renewal chain (from the JPKI platform's old/new serial linkage), not on the
certificate itself. The HMAC secret is per service, so two services' PPIDs cannot be joined.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography import x509

RENEWALS_HEADER = ("old_serial", "new_serial")
#: Separates PPID inputs from any other HMAC made with the same secret.
STABLE_KEY_TAG = b"jp.kiosk.ppid.v1\x00"
MIN_SECRET_BYTES = 32
#: RFC 5280: a serial number is at most 20 octets.
MAX_SERIAL = (1 << 160) - 1


class RenewalCycleError(ValueError):
    """The renewal table leads from a serial back to itself."""


class RenewalTable:
    """Old certificate serial -> new serial, walked backwards to a chain's first serial."""

    def __init__(self, pairs: Iterable[tuple[int, int]] = ()) -> None:
        self._next: dict[int, int] = {}
        self._previous: dict[int, int] = {}
        for old, new in pairs:
            self._add(old, new)
        # Resolve every entry once so a corrupt import fails here, not on some later request.
        for serial in self._previous:
            self.first_serial(serial)

    def _add(self, old: int, new: int) -> None:
        for serial in (old, new):
            if not 0 < serial <= MAX_SERIAL:
                raise ValueError(f"serial {serial} is not a valid certificate serial number")
        if self._next.get(old, new) != new:
            raise ValueError(f"serial {old} is renewed twice ({self._next[old]} and {new})")
        if self._previous.get(new, old) != old:
            raise ValueError(f"serial {new} renews two serials ({self._previous[new]} and {old})")
        self._next[old] = new
        self._previous[new] = old

    def __len__(self) -> int:
        return len(self._next)

    @property
    def renewals(self) -> Mapping[int, int]:
        """The table as old serial -> new serial."""
        return dict(self._next)

    def first_serial(self, serial: int) -> int:
        """The serial the chain of renewals ending at ``serial`` started from."""
        seen = {serial}
        while serial in self._previous:
            serial = self._previous[serial]
            if serial in seen:
                raise RenewalCycleError(f"the renewals of serial {serial} form a cycle")
            seen.add(serial)
        return serial


def parse_renewals_csv(text: str, source: str = "<renewals>") -> RenewalTable:
    """A renewal table from CSV text with the header ``old_serial,new_serial`` and decimal serials.

    Raises ValueError naming ``source`` and the line of the first problem.
    """
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    pairs: list[tuple[int, int]] = []
    header_seen = False
    try:
        for row in rows:
            line = rows.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            cells = tuple(cell.strip() for cell in row)
            if not header_seen:
                if cells != RENEWALS_HEADER:
                    raise ValueError(f"{source}, line {line}: expected the header "
                                     f"{','.join(RENEWALS_HEADER)}, found {','.join(cells)!r}")
                header_seen = True
                continue
            if len(cells) != len(RENEWALS_HEADER):
                raise ValueError(f"{source}, line {line}: expected 2 fields, found {len(cells)}")
            pairs.append((_serial(cells[0], source, line), _serial(cells[1], source, line)))
    except csv.Error as exc:
        raise ValueError(f"{source}, line {rows.line_num}: {exc}") from None
    if not header_seen:
        raise ValueError(f"{source}: empty, expected the header {','.join(RENEWALS_HEADER)}")
    try:
        return RenewalTable(pairs)
    except ValueError as exc:
        raise type(exc)(f"{source}: {exc}") from None


def _serial(cell: str, source: str, line: int) -> int:
    if not cell.isascii() or not cell.isdigit():
        raise ValueError(f"{source}, line {line}: {cell!r} is not a decimal serial number")
    value = int(cell)
    if not 0 < value <= MAX_SERIAL:
        raise ValueError(f"{source}, line {line}: serial {cell} is out of range")
    return value


def load_renewals_csv(path: Path | str) -> RenewalTable:
    """A renewal table from a CSV file (the JPKI platform's old/new serial linkage export)."""
    path = Path(path)
    return parse_renewals_csv(path.read_text("utf-8"), str(path))


def _length_prefixed(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


class PpidDeriver:
    """Derives a certificate's PPID: HMAC-SHA256(service secret, stable subject key)."""

    def __init__(self, secret: bytes, renewals: RenewalTable) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the PPID secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = bytes(secret)
        self._renewals = renewals

    def __repr__(self) -> str:
        return f"PpidDeriver(renewals={len(self._renewals)})"  # never the secret

    def stable_subject_key(self, cert: x509.Certificate) -> bytes:
        """Issuer name and the first serial of the certificate's renewal chain, unambiguously encoded.

        Root generations share one issuer name, so a renewal across generations keeps the key.
        """
        first = self._renewals.first_serial(cert.serial_number)
        serial_bytes = first.to_bytes((first.bit_length() + 7) // 8 or 1, "big")
        return (
            STABLE_KEY_TAG
            + _length_prefixed(cert.issuer.public_bytes())
            + _length_prefixed(serial_bytes)
        )

    def ppid(self, cert: x509.Certificate) -> str:
        """The PPID as 64 lowercase hex digits."""
        key = self.stable_subject_key(cert)
        return hmac.new(self._secret, key, hashlib.sha256).hexdigest()
