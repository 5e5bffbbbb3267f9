"""The offline roster on the kiosk: kept from a heartbeat in the real store, and the check of a staff
ID and offline PIN against it. A wrong PIN, an unknown ID, a stale roster and no roster are each
refused with their code and words; the PIN buffer is wiped whatever the outcome; repeated wrong
tries pause the check for a while.
"""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.linkage import Roster
from kiosk.services.errors import ServiceCode
from kiosk.services.roster import LOCK_SECONDS, MAX_FAILURES, RosterRefused, StaffRoster
from kiosk.store import KioskStore
from tests.helpers.roster import issued_roster
from tests.helpers.store import Clock
from tests.services import outbox_parts

#: The real store on a new SQLite file, and its clock (fixtures).
clock, store = outbox_parts.clock, outbox_parts.store
HANAKO, JIRO = ("hanako", "135790"), ("jiro.s", "24681357")
MAX_AGE = dt.timedelta(hours=72)


@pytest.fixture
def roster(store: KioskStore, clock: Clock) -> StaffRoster:
    kept = StaffRoster(store, MAX_AGE, clock)
    kept.keep(issued_roster(HANAKO, JIRO, issued_at=clock()))
    return kept


def refused(roster: StaffRoster, staff_id: str, pin: str) -> RosterRefused:
    buffer = bytearray(pin.encode())
    with pytest.raises(RosterRefused) as caught:
        roster.approve(staff_id, buffer)
    assert not any(buffer), "the PIN was not wiped"
    return caught.value


def test_the_right_id_and_pin_name_the_member_and_the_pin_is_wiped(roster: StaffRoster) -> None:
    pin = bytearray(JIRO[1].encode())
    assert roster.approve(" Jiro.S ", pin) == "jiro.s"  # as typed, with a capital and spaces
    assert pin == bytearray(len(JIRO[1]))
    assert roster.approve(*_typed(HANAKO)) == "hanako"


def _typed(member: tuple[str, str]) -> tuple[str, bytearray]:
    return member[0], bytearray(member[1].encode())


@pytest.mark.parametrize(("staff_id", "pin"), [
    ("hanako", "135791"),          # her ID, a wrong PIN
    ("hanako", JIRO[1]),           # another member's PIN
    ("sato.k", HANAKO[1]),         # an ID not on the roster
    ("hanako", "1357"),            # too short to be a PIN at all
    ("hanako", "13579a"),
])
def test_no_valid_credential_is_refused_the_same_way(roster: StaffRoster, staff_id: str, pin: str) -> None:
    refusal = refused(roster, staff_id, pin)
    assert refusal.code == ServiceCode.OFFLINE_STAFF_REFUSED and refusal.age is None
    assert "no one on the staff roster has this staff ID and offline PIN" in refusal.message


def test_a_roster_older_than_the_limit_is_refused_with_its_age(roster: StaffRoster, clock: Clock) -> None:
    clock.advance(hours=72)
    assert roster.approve(*_typed(HANAKO)) == "hanako"  # 72 hours exactly is still good
    clock.advance(seconds=1)
    refusal = refused(roster, *HANAKO)
    assert refusal.code == ServiceCode.OFFLINE_ROSTER_STALE
    assert refusal.age == dt.timedelta(hours=72, seconds=1) and "too old" in refusal.message
    assert roster.age() == refusal.age


def test_the_age_counts_from_the_earlier_of_issue_and_arrival(roster: StaffRoster, clock: Clock) -> None:
    """A server clock ahead of the kiosk's does not make an old roster look new, nor one behind it."""
    roster.keep(issued_roster(HANAKO, issued_at=clock() + dt.timedelta(hours=5)))
    clock.advance(hours=73)
    assert refused(roster, *HANAKO).code == ServiceCode.OFFLINE_ROSTER_STALE
    roster.keep(issued_roster(HANAKO, issued_at=clock() - dt.timedelta(hours=70)))
    clock.advance(hours=3)
    assert refused(roster, *HANAKO).age == dt.timedelta(hours=73)


def test_without_a_roster_nobody_approves(store: KioskStore, clock: Clock) -> None:
    empty = StaffRoster(store, MAX_AGE, clock)
    assert empty.age() is None
    refusal = refused(empty, *HANAKO)
    assert refusal.code == ServiceCode.OFFLINE_NO_ROSTER and "must be online once" in refusal.message


def test_a_new_roster_replaces_the_old_one_whole(roster: StaffRoster, store: KioskStore,
                                                 clock: Clock) -> None:
    clock.advance(hours=1)
    roster.keep(issued_roster(JIRO, issued_at=clock()))
    assert refused(roster, *HANAKO).code == ServiceCode.OFFLINE_STAFF_REFUSED  # no longer on it
    assert roster.approve(*_typed(JIRO)) == "jiro.s"
    held = store.roster()
    assert held is not None and [m.staff_id for m in held.members] == ["jiro.s"]
    assert (held.issued_at, held.stored_at) == (clock(), clock())
    roster.keep(Roster(clock(), ()))  # nobody may approve offline here any more
    assert refused(roster, *JIRO).code == ServiceCode.OFFLINE_STAFF_REFUSED


def test_repeated_wrong_tries_pause_the_check(roster: StaffRoster, clock: Clock) -> None:
    for _ in range(MAX_FAILURES - 1):
        refused(roster, "hanako", "000000")
    assert roster.approve(*_typed(HANAKO)) == "hanako"  # a success starts the count again
    for _ in range(MAX_FAILURES):
        refused(roster, "nobody", "000000")
    paused = refused(roster, *HANAKO)  # even the right PIN, for a while
    assert paused.code == ServiceCode.OFFLINE_STAFF_LOCKED
    clock.advance(seconds=LOCK_SECONDS - 1)
    assert refused(roster, *HANAKO).code == ServiceCode.OFFLINE_STAFF_LOCKED
    clock.advance(seconds=1)
    assert roster.approve(*_typed(HANAKO)) == "hanako"
