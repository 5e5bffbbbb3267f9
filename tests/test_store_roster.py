"""The staff roster in the kiosk's store: none at first, each new one replaces the one held whole (in
one transaction), a roster that is off is refused before anything is written, and only the PIN
hashes are kept (never shown in a value's repr).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from kiosk.store import KioskStore, RosterEntry
from tests.helpers.store import T0, Clock
from tests.services import outbox_parts

HASH = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
HANAKO = RosterEntry("hanako", "Hanako Sato", "desk", HASH)
BOSS = RosterEntry("boss", "The Boss", "supervisor", HASH.replace("c29t", "b3Ro"))


#: The real store on a new SQLite file, and its clock (fixtures).
clock, store = outbox_parts.clock, outbox_parts.store


def test_a_roster_is_kept_and_replaced_whole(store: KioskStore, clock: Clock) -> None:
    assert store.roster() is None
    issued = T0 - dt.timedelta(minutes=1)
    store.replace_roster(issued, [HANAKO, BOSS])
    held = store.roster()
    assert held is not None and (held.issued_at, held.stored_at) == (issued, T0)
    assert held.members == (BOSS, HANAKO)  # by staff ID
    clock.advance(hours=1)
    store.replace_roster(clock(), [BOSS])
    held = store.roster()
    assert held is not None and held.members == (BOSS,) and held.stored_at == clock()
    store.replace_roster(clock(), [])
    held = store.roster()
    assert held is not None and held.members == ()  # an empty roster is a roster: nobody approves


def test_the_hash_is_not_in_a_members_repr() -> None:
    assert HASH not in repr(HANAKO) and "hanako" in repr(HANAKO)


@pytest.mark.parametrize(("members", "message"), [
    ([HANAKO, HANAKO], "appears twice"),
    ([RosterEntry("", "Nobody", "desk", HASH)], "staff_id must be text of 1 to 64"),
    ([RosterEntry("hanako", "H" * 201, "desk", HASH)], "display_name must be text of 1 to 200"),
    ([RosterEntry("hanako", "Hanako", "desk", "x" * 201)], "offline_pin_hash must be text of 1 to 200"),
])
def test_a_roster_that_is_off_changes_nothing(store: KioskStore, members: list[RosterEntry],
                                             message: str) -> None:
    store.replace_roster(T0, [BOSS])
    with pytest.raises(ValueError, match=message):
        store.replace_roster(T0, members)
    held = store.roster()
    assert held is not None and held.members == (BOSS,)


def test_an_issue_time_without_a_zone_is_refused(store: KioskStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.replace_roster(dt.datetime(2026, 12, 3, 9, 0), [HANAKO])
    assert store.roster() is None


def test_only_one_roster_head_can_exist(store: KioskStore, tmp_path: Path) -> None:
    store.replace_roster(T0, [HANAKO])
    db = sqlite3.connect(tmp_path / "kiosk.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="ck_staff_roster_single"):
            db.execute("INSERT INTO staff_roster (id, issued_at, stored_at) VALUES (2, '2026', '2026')")
    finally:
        db.close()
