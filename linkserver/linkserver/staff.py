"""Named staff and the counters they supervise: accounts, roles, and the steps of a sign-in.

A member of staff signs in to the console with a password (Argon2id) and a TOTP code. The TOTP
secret is made at the first sign-in, shown once as a QR code, and stored sealed (AES-GCM under a
key derived from the server's secret, bound to the staff ID); it is never shown again, and a
reset by a supervisor removes it so that the next sign-in enrols afresh.

Repeated failures lock the sign-in with a back-off: after ``LOCK_AFTER`` failed steps in a row the
account is refused for ``FIRST_LOCK``, doubling with each further failure up to ``LONGEST_LOCK``.
Only a whole sign-in (password and code) clears the count; a right password alone does not, so
guessing codes behind a known password is locked out too. A password check takes an attempt
before it hashes and gives it back when the password was right, so the slow hash runs outside any
transaction and parallel guesses still count.

Roles (``ROLES``): ``desk`` decides the requests of the counters assigned to them; ``supervisor``
decides on every counter and administers staff and counters; ``auditor`` reads the audit trail
and decides nothing. A kiosk belongs to at most one counter (``KioskClient.counter_id``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from linkserver import audit
from linkserver.db import Database
from linkserver.models import ConsoleSession, Counter, KioskClient, StaffCounter, StaffMember
from linkserver.passwords import hash_password, password_matches

ROLES = ("desk", "supervisor", "auditor")
#: Roles that may approve or refuse requests.
DECIDING_ROLES = frozenset({"desk", "supervisor"})
STAFF_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
LOCK_AFTER = 5
FIRST_LOCK = dt.timedelta(minutes=1)
LONGEST_LOCK = dt.timedelta(hours=1)
TOTP_ISSUER = "Help-desk kiosk console"


class StaffError(ValueError):
    """An administration request that cannot be done; ``code`` names why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SignInRefused(Exception):
    """A sign-in step refused: ``wrong`` (ID, password or code), ``locked`` (until ``until``) or
    ``disabled``. The words never say which of the ID and the password was wrong."""

    def __init__(self, code: str, until: dt.datetime | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.until = until


@dataclass(frozen=True)
class StaffInfo:
    staff_id: str
    display_name: str
    role: str
    enabled: bool
    enrolled: bool
    counters: tuple[str, ...]
    locked_until: dt.datetime | None = None

    @property
    def decides(self) -> bool:
        return self.role in DECIDING_ROLES

    @property
    def all_counters(self) -> bool:
        return self.role == "supervisor"


class TotpSealer:
    """Seals TOTP secrets at rest: AES-256-GCM, the key derived from the server's secret (HKDF)
    and the staff ID bound in as associated data, so a sealed secret moved to another row fails."""

    def __init__(self, server_secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"kiosk-linkserver staff totp v1").derive(server_secret)
        self._aead = AESGCM(key)

    def seal(self, staff_id: str, secret: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret.encode("ascii"), staff_id.encode("utf-8"))

    def open(self, staff_id: str, sealed: bytes) -> str:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], staff_id.encode("utf-8")).decode("ascii")
        except (InvalidTag, ValueError) as exc:
            raise StaffError("totp_unreadable", f"the TOTP secret of {staff_id} cannot be opened; "
                                                "reset the member to enrol again") from exc


def lock_for(failures: int) -> dt.timedelta | None:
    """How long sign-in is refused after ``failures`` failed steps in a row (None: not locked)."""
    if failures < LOCK_AFTER:
        return None
    doublings = min(failures - LOCK_AFTER, 12)  # 2**12 minutes is past the longest anyway
    return min(FIRST_LOCK * (1 << doublings), LONGEST_LOCK)


def provisioning_uri(staff_id: str, secret: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the enrolment QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=staff_id, issuer_name=TOTP_ISSUER)


class StaffDirectory:
    """Staff members, counters and the sign-in steps, over the server's database."""

    def __init__(self, db: Database, sealer: TotpSealer, clock: Callable[[], dt.datetime]) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    # -- administration ------------------------------------------------------------------------

    def add(self, staff_id: str, display_name: str, role: str, password: str, *,
            by: str = "admin") -> StaffInfo:
        _check_new(staff_id, display_name, role, password)
        password_hash = hash_password(password)
        with self.db.transaction() as session:
            if session.get(StaffMember, staff_id) is not None:
                raise StaffError("exists", f"staff member {staff_id} exists already")
            session.add(StaffMember(staff_id=staff_id, display_name=display_name.strip(), role=role,
                                    password_hash=password_hash, enabled=True, failures=0,
                                    created_at=self.clock()))
            audit.append(session, "staff_added", details={"staff": staff_id, "role": role, "by": by})
        return self.info(staff_id)

    def reset(self, staff_id: str, password: str, *, by: str = "admin") -> StaffInfo:
        """A new password, no TOTP (the next sign-in enrols again), the lock lifted, sessions ended."""
        _check_password(password)
        password_hash = hash_password(password)
        with self.db.transaction() as session:
            member = _member(session, staff_id, lock=True)
            member.password_hash, member.totp_sealed, member.totp_last_step = password_hash, None, None
            member.failures, member.locked_until = 0, None
            session.execute(delete(ConsoleSession).where(ConsoleSession.staff_id == staff_id))
            audit.append(session, "staff_reset", details={"staff": staff_id, "by": by})
        return self.info(staff_id)

    def enrol(self, staff_id: str, secret: str, *, by: str = "admin") -> StaffInfo:
        """Sets a member's TOTP secret directly (the demo's member, whose key the demo shows); the
        console's own enrolment is ``offer_enrolment`` and ``confirm_enrolment``."""
        sealed = self.sealer.seal(staff_id, secret)
        with self.db.transaction() as session:
            member = _member(session, staff_id, lock=True)
            member.totp_sealed, member.totp_last_step = sealed, None
            audit.append(session, "staff_enrolled", details={"staff": staff_id, "by": by})
        return self.info(staff_id)

    def set_enabled(self, staff_id: str, enabled: bool, *, by: str = "admin") -> StaffInfo:
        with self.db.transaction() as session:
            member = _member(session, staff_id, lock=True)
            member.enabled = enabled
            if not enabled:
                session.execute(delete(ConsoleSession).where(ConsoleSession.staff_id == staff_id))
            audit.append(session, "staff_enabled" if enabled else "staff_disabled",
                         details={"staff": staff_id, "by": by})
        return self.info(staff_id)

    def add_counter(self, counter_id: str, name: str, *, by: str = "admin") -> None:
        if not STAFF_ID.match(counter_id):
            raise StaffError("bad_id", f"{counter_id!r} is no counter ID: 2 to 64 of a-z, 0-9, '.', '_', '-'")
        if not name.strip():
            raise StaffError("bad_name", "a counter needs a name")
        with self.db.transaction() as session:
            if session.get(Counter, counter_id) is not None:
                raise StaffError("exists", f"counter {counter_id} exists already")
            session.add(Counter(counter_id=counter_id, name=name.strip(), created_at=self.clock()))
            audit.append(session, "counter_added", details={"counter": counter_id, "by": by})

    def counters(self) -> list[tuple[str, str, list[str]]]:
        """Each counter's ID, name and kiosks."""
        with self.db.transaction() as session:
            kiosks: dict[str | None, list[str]] = {}
            for client_id, counter_id in session.execute(
                    select(KioskClient.client_id, KioskClient.counter_id).order_by(KioskClient.client_id)):
                kiosks.setdefault(counter_id, []).append(client_id)
            return [(c.counter_id, c.name, kiosks.get(c.counter_id, []))
                    for c in session.scalars(select(Counter).order_by(Counter.counter_id))]

    def place_kiosk(self, client_id: str, counter_id: str, *, by: str = "admin") -> None:
        """Puts a registered kiosk at a counter (it leaves the one it stood at)."""
        with self.db.transaction() as session:
            _counter(session, counter_id)
            client = session.get(KioskClient, client_id, with_for_update=True)
            if client is None:
                raise StaffError("unknown", f"no kiosk client {client_id} is registered")
            client.counter_id = counter_id
            audit.append(session, "kiosk_placed", client_id=client_id,
                         details={"counter": counter_id, "by": by})

    def assign(self, staff_id: str, counter_id: str, assigned: bool = True, *,
               by: str = "admin") -> StaffInfo:
        with self.db.transaction() as session:
            _member(session, staff_id, lock=True)
            _counter(session, counter_id)
            held = session.get(StaffCounter, (staff_id, counter_id))
            if assigned and held is None:
                session.add(StaffCounter(staff_id=staff_id, counter_id=counter_id))
            elif not assigned and held is not None:
                session.delete(held)
            audit.append(session, "staff_assigned" if assigned else "staff_unassigned",
                         details={"staff": staff_id, "counter": counter_id, "by": by})
        return self.info(staff_id)

    def info(self, staff_id: str) -> StaffInfo:
        with self.db.transaction() as session:
            return _info(session, _member(session, staff_id))

    def members(self) -> list[StaffInfo]:
        with self.db.transaction() as session:
            found = session.scalars(select(StaffMember).order_by(StaffMember.staff_id))
            return [_info(session, member) for member in found]

    def counter_of(self, client_id: str) -> str | None:
        with self.db.transaction() as session:
            client = session.get(KioskClient, client_id)
            return None if client is None else client.counter_id

    # -- signing in ----------------------------------------------------------------------------

    def check_password(self, staff_id: str, password: str) -> StaffInfo:
        """The first step: the password. Raises ``SignInRefused``; a right one leaves the count as
        it was (the second factor finishes the sign-in)."""
        with self._step(staff_id) as member:
            stored = None if member is None else member.password_hash
        right = password_matches(stored, password)  # outside any transaction: it takes ~100 ms
        with self.db.transaction() as session:
            member = session.get(StaffMember, staff_id, with_for_update=True)
            if member is not None and right:
                member.failures = max(member.failures - 1, 0)  # the attempt taken is given back
                if not member.enabled:
                    raise SignInRefused("disabled")
                return _info(session, member)
            if member is not None:
                self._record_failure(session, member)
        raise SignInRefused("wrong")

    def offer_enrolment(self, staff_id: str) -> tuple[str, bytes]:
        """A fresh TOTP secret for the first sign-in, and its sealed form for the session to hold."""
        secret = pyotp.random_base32()
        return secret, self.sealer.seal(staff_id, secret)

    def confirm_enrolment(self, staff_id: str, pending: bytes, code: str) -> StaffInfo:
        """The enrolment's code: right, and the secret becomes the member's; the sign-in is whole."""
        secret = self.sealer.open(staff_id, pending)
        with self._step(staff_id) as member:
            if member is None or member.totp_sealed is not None:
                raise _Failed()
            step = matching_step(secret, code, None, self.clock())
            if step is None:
                raise _Failed()
            member.totp_sealed, member.totp_last_step = pending, step
            return self._signed_in(member)
        raise AssertionError("unreachable")  # pragma: no cover - _step re-raises

    def check_totp(self, staff_id: str, code: str) -> StaffInfo:
        """The second step for an enrolled member: a code not used before, within a step of now."""
        with self._step(staff_id) as member:
            if member is None or member.totp_sealed is None:
                raise _Failed()
            secret = self.sealer.open(staff_id, member.totp_sealed)
            step = matching_step(secret, code, member.totp_last_step, self.clock())
            if step is None:
                raise _Failed()
            member.totp_last_step = step
            return self._signed_in(member)
        raise AssertionError("unreachable")  # pragma: no cover - _step re-raises

    @contextmanager
    def _step(self, staff_id: str) -> Iterator[StaffMember | None]:
        """One sign-in step under the member's row lock. Refused while locked; otherwise an attempt
        is counted before the check (parallel guesses each count), and ``_Failed`` raised inside
        keeps it as a failure, locks when the count says so, and refuses."""
        failed = False
        with self.db.transaction() as session:
            member = session.get(StaffMember, staff_id, with_for_update=True)
            if member is not None:
                now = self.clock()
                if member.locked_until is not None and member.locked_until > now:
                    raise SignInRefused("locked", member.locked_until)
                member.failures += 1
            try:
                yield member
            except _Failed:
                failed = True
                if member is not None:
                    self._record_failure(session, member)
        if failed:
            raise SignInRefused("wrong")

    def _record_failure(self, session: Session, member: StaffMember) -> None:
        """The attempt counted stays a failure; the sign-in locks when the count says so."""
        held = lock_for(member.failures)
        member.locked_until = None if held is None else self.clock() + held
        audit.append(session, "staff_sign_in_failed",
                     details={"staff": member.staff_id, "failures": member.failures,
                              "locked": held is not None})

    def _signed_in(self, member: StaffMember) -> StaffInfo:
        session = Session.object_session(member)
        assert session is not None
        if not member.enabled:
            raise SignInRefused("disabled")
        member.failures, member.locked_until = 0, None
        audit.append(session, "staff_signed_in", details={"staff": member.staff_id})
        return _info(session, member)


class _Failed(Exception):
    """A sign-in step's check failed (inside ``StaffDirectory._step``)."""


def matching_step(secret: str, code: str, last_step: int | None, now: dt.datetime) -> int | None:
    """The time step whose code ``code`` is (now, or one step either side), if not used already."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current, current - 1, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if _same(totp.at(step * totp.interval), code):
            return step
    return None


def _same(a: str, b: str) -> bool:
    return hashlib.sha256(a.encode()).digest() == hashlib.sha256(b.encode()).digest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError("weak_password", f"a staff password needs at least {MIN_PASSWORD} characters")


def _check_new(staff_id: str, display_name: str, role: str, password: str) -> None:
    if not STAFF_ID.match(staff_id):
        raise StaffError("bad_id", f"{staff_id!r} is no staff ID: 2 to 64 of a-z, 0-9, '.', '_', '-'")
    if role not in ROLES:
        raise StaffError("bad_role", f"{role!r} is no role; the roles are {', '.join(ROLES)}")
    if not display_name.strip() or len(display_name) > 200:
        raise StaffError("bad_name", "a staff member needs a name of at most 200 characters")
    _check_password(password)


def _member(session: Session, staff_id: str, lock: bool = False) -> StaffMember:
    member = session.get(StaffMember, staff_id, with_for_update=lock)
    if member is None:
        raise StaffError("unknown", f"no staff member {staff_id}")
    return member


def _counter(session: Session, counter_id: str) -> Counter:
    counter = session.get(Counter, counter_id)
    if counter is None:
        raise StaffError("unknown", f"no counter {counter_id}")
    return counter


def _info(session: Session, member: StaffMember) -> StaffInfo:
    counters = tuple(session.scalars(select(StaffCounter.counter_id).where(
        StaffCounter.staff_id == member.staff_id).order_by(StaffCounter.counter_id)))
    return StaffInfo(member.staff_id, member.display_name, member.role, member.enabled,
                     member.totp_sealed is not None, counters, member.locked_until)
