"""Offline approval by named staff: the roster the server gives in each heartbeat, and the check of a
staff ID and offline PIN against it while the server is away.

The roster holds each member's staff ID, name, role and the Argon2id hash of their offline PIN,
never the PIN. A check is refused in words when the kiosk never received a roster, when the one it
holds is older than the configured age (the age is told), and when the ID and PIN do not match
one member; an unknown ID costs the same hash as a wrong PIN and is told the same. After
``MAX_FAILURES`` wrong tries in a row, checks are refused for ``LOCK_SECONDS``. The PIN buffer is
wiped once checked, whatever the outcome.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kiosk.clock import utc_now
from kiosk.linkage import Roster
from kiosk.services.errors import OutboxError, ServiceCode
from kiosk.services.verification import wipe
from kiosk.store import KioskStore, RosterEntry

OFFLINE_PIN = re.compile(rb"[0-9]{6,12}")
MAX_FAILURES = 5
LOCK_SECONDS = 300
#: The server's hashing cost, for the stand-in hash an unknown staff ID is checked against.
_STAND_IN = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class RosterRefused(OutboxError):
    """An offline approval refused; ``age`` is the roster's age when it was too old."""

    def __init__(self, code: str, message: str, age: dt.timedelta | None = None) -> None:
        super().__init__(code, message)
        self.age = age


class StaffRoster:
    """The kiosk's offline roster: kept from each heartbeat, checked for each offline approval."""

    def __init__(self, store: KioskStore, max_age: dt.timedelta,
                 clock: Callable[[], dt.datetime] = utc_now) -> None:
        self._store = store
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._locked_until: dt.datetime | None = None
        self._stand_in: str | None = None

    def keep(self, roster: Roster) -> None:
        """The roster of a heartbeat's answer replaces the one held."""
        self._store.replace_roster(roster.issued_at, [
            RosterEntry(m.staff_id, m.display_name, m.role, m.offline_pin_hash) for m in roster.members])

    def age(self) -> dt.timedelta | None:
        """How old the roster held is (from the earlier of its issue and its arrival); None: none held."""
        held = self._store.roster()
        if held is None:
            return None
        return max(dt.timedelta(0), self._clock() - min(held.issued_at, held.stored_at))

    def approve(self, staff_id: str, pin: bytearray) -> str:
        """The staff ID of the roster member with this ID and offline PIN; ``RosterRefused`` if none.

        ``pin`` is wiped before this returns or raises.
        """
        try:
            return self._approve(staff_id.strip().lower(), pin)
        finally:
            wipe(pin)

    def _approve(self, staff_id: str, pin: bytearray) -> str:
        now = self._clock()
        with self._lock:
            if self._locked_until is not None and now < self._locked_until:
                raise RosterRefused(ServiceCode.OFFLINE_STAFF_LOCKED,
                                    "too many wrong staff IDs or PINs: offline approval waits a while")
        held = self._store.roster()
        if held is None:
            raise RosterRefused(ServiceCode.OFFLINE_NO_ROSTER, "this kiosk has no staff roster yet: it "
                                "must be online once before staff can approve offline")
        age = max(dt.timedelta(0), now - min(held.issued_at, held.stored_at))
        if age > self.max_age:
            raise RosterRefused(ServiceCode.OFFLINE_ROSTER_STALE, "the staff roster is too old to approve "
                                                                  "with", age)
        stand_in = self._stand_in_hash()  # made before the look-up, so its first cost tells nothing either
        member = next((m for m in held.members if m.staff_id == staff_id), None)
        matched = _matches(member.offline_pin_hash if member else stand_in, pin)
        with self._lock:
            if member is not None and matched:
                self._failures, self._locked_until = 0, None
                return member.staff_id
            self._failures += 1
            if self._failures >= MAX_FAILURES:
                self._failures = 0
                self._locked_until = now + dt.timedelta(seconds=LOCK_SECONDS)
        raise RosterRefused(ServiceCode.OFFLINE_STAFF_REFUSED, "no one on the staff roster has this staff ID "
                                                               "and offline PIN")

    def _stand_in_hash(self) -> str:
        if self._stand_in is None:
            self._stand_in = _STAND_IN.hash(secrets.token_hex(16))
        return self._stand_in


def _matches(pin_hash: str, pin: bytearray) -> bool:
    if OFFLINE_PIN.fullmatch(pin) is None:
        return False
    try:
        # argon2-cffi takes bytes only: this short-lived copy is the one the kiosk cannot wipe.
        return _STAND_IN.verify(pin_hash, bytes(pin))
    except (VerificationError, InvalidHashError):
        return False
