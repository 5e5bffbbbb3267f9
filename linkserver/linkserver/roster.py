"""The offline roster: who may approve a request at a kiosk while the server is away, and how the
kiosk checks them.

A member of staff who decides (desk or supervisor) may be given an offline PIN, 6 to 12 digits,
set by ``kiosk-linkserver staff offline-pin``. The server keeps only its Argon2id hash, with
parameters light enough for a kiosk to check a PIN in a few tens of milliseconds. Each kiosk's
heartbeat is answered with its roster: the enabled desk staff assigned to the kiosk's counter and
every enabled supervisor, each with their offline-PIN hash, stamped with the time it was issued.
The kiosk keeps the latest roster and checks an offline approval against it. Setting a PIN is
audited; the PIN itself is never stored, logged or audited.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from linkserver import audit
from linkserver.db import Database
from linkserver.models import KioskClient, StaffCounter, StaffMember
from linkserver.staff import DECIDING_ROLES, StaffError

OFFLINE_PIN = re.compile(r"[0-9]{6,12}")
#: Argon2id at 19 MiB, two passes, one lane: the lowest of OWASP's recommended settings, which a
#: kiosk checks well under a second. A PIN is short, so the hash is only as strong as the roster
#: is private: it goes only to the kiosks of the member's counters, over TLS.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class RosterMember:
    staff_id: str
    display_name: str
    role: str
    offline_pin_hash: str


@dataclass(frozen=True)
class Roster:
    """Who may approve offline at one kiosk, as of ``issued_at``."""

    issued_at: dt.datetime
    members: tuple[RosterMember, ...]


def check_offline_pin(pin: str) -> None:
    if OFFLINE_PIN.fullmatch(pin) is None:
        raise StaffError("bad_pin", "an offline PIN is 6 to 12 digits")


def hash_offline_pin(pin: str) -> str:
    check_offline_pin(pin)
    return HASHER.hash(pin)


def set_offline_pin(db: Database, staff_id: str, pin: str, *, by: str = "admin") -> None:
    """Gives a deciding member a new offline PIN (the kiosks learn it at their next heartbeat)."""
    pin_hash = hash_offline_pin(pin)
    with db.transaction() as session:
        member = session.get(StaffMember, staff_id, with_for_update=True)
        if member is None:
            raise StaffError("unknown", f"no staff member {staff_id}")
        if member.role not in DECIDING_ROLES:
            raise StaffError("bad_role", f"{staff_id} is an {member.role}, who approves nothing, "
                                         "offline or not")
        member.offline_pin_hash = pin_hash
        audit.append(session, "staff_offline_pin_set", details={"staff": staff_id, "by": by})


def roster_for(session: Session, client_id: str, clock: Callable[[], dt.datetime]) -> Roster:
    """The roster of one kiosk: enabled desk staff of its counter and enabled supervisors, each
    with an offline PIN. A kiosk at no counter gets the supervisors only."""
    client = session.get(KioskClient, client_id)
    counter_id = None if client is None else client.counter_id
    assigned = select(StaffCounter.staff_id).where(StaffCounter.counter_id == counter_id)
    desk = StaffMember.staff_id.in_(assigned)
    found = session.scalars(
        select(StaffMember)
        .where(StaffMember.enabled.is_(True), StaffMember.offline_pin_hash.is_not(None),
               or_(StaffMember.role == "supervisor", (StaffMember.role == "desk") & desk))
        .order_by(StaffMember.staff_id))
    return Roster(clock(), tuple(RosterMember(m.staff_id, m.display_name, m.role, m.offline_pin_hash or "")
                                 for m in found))
