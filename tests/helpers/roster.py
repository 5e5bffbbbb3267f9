"""A staff roster for the kiosk's offline approvals, as the server would issue it, for the tests.

The demo server's desk member and offline PIN are the defaults, so a kiosk that synced with the
demo server and one given this roster approve with the same credential. The hashes are made by
the server's own code, with its parameters.
"""

from __future__ import annotations

import datetime as dt

from kiosk.linkage import Roster, RosterMember
from kiosk.services.roster import StaffRoster
from linkserver.demo import DEMO_DESK_ID, DEMO_DESK_OFFLINE_PIN
from linkserver.roster import hash_offline_pin

DESK = (DEMO_DESK_ID, DEMO_DESK_OFFLINE_PIN)


def issued_roster(*members: tuple[str, str], issued_at: dt.datetime | None = None) -> Roster:
    """A roster of desk members given as ``(staff_id, offline PIN)`` (the demo desk member if none)."""
    return Roster(issued_at or dt.datetime.now(dt.UTC), tuple(
        RosterMember(staff_id, staff_id.title(), "desk", hash_offline_pin(pin)) for staff_id, pin in
        (members or (DESK,))))


def keep_roster(roster: StaffRoster, *members: tuple[str, str], issued_at: dt.datetime | None = None) -> None:
    """The kiosk keeps this roster, as after a heartbeat."""
    roster.keep(issued_roster(*members, issued_at=issued_at))
