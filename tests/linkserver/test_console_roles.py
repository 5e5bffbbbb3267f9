"""Every console route against every role: the desk member of the request's counter, a desk member
of another counter, a supervisor, an auditor, and nobody signed in.

A route a role may use answers it (a form with a field left wrong answers 400: it got past the
role check and was refused only for the field); one it may not use answers 403, or sends a
browser that is not signed in to the sign-in page. One server for the module (SQLite: the checks
do not depend on the database)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy
from tests.helpers.linkage_client import ROOMY
from tests.helpers.server_api import verified
from tests.linkserver.console_parts import PASSWORD, ConsoleUser, staff_of
from tests.linkserver.helpers import LiveServer, live_server

ROLES = ("desk", "other_desk", "supervisor", "auditor", "nobody")
SIGN_IN = 303  # a redirect to the sign-in page


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory, hierarchy: TestHierarchy) -> Iterator[dict[str, object]]:
    folder: Path = tmp_path_factory.mktemp("roles")
    with live_server(folder / "state", hierarchy, limits=ROOMY) as live:
        staff = staff_of(live)
        staff.add_counter("north", "North")
        staff.add_counter("south", "South")
        staff.place_kiosk(live.setup.kiosk_id, "north")
        signed: dict[str, object] = {"live": live}
        for name, staff_id, role, counter in (("desk", "hanako", "desk", "north"),
                                              ("other_desk", "jiro", "desk", "south"),
                                              ("supervisor", "boss", "supervisor", None),
                                              ("auditor", "kansa", "auditor", None)):
            staff.add(staff_id, staff_id.title(), role, PASSWORD)
            if counter:
                staff.assign(staff_id, counter)
            user = ConsoleUser(live, staff_id)
            user.sign_in()
            signed[name] = user
        signed["nobody"] = ConsoleUser(live, "nobody")
        yield signed


def waiting(live: LiveServer) -> str:
    kiosk = live.kiosk()
    created = live.operation(kiosk, "unlink", verified(live, kiosk)).json()
    assert created["status"] == "awaiting_approval", created
    return str(created["operation_id"])


# route -> the status each role gets, in the order of ROLES
READS = {
    "/": (200, 200, 200, 200, SIGN_IN),
    "/queue": (200, 200, 200, 403, 401),
    "/offline": (200, 200, 200, 403, SIGN_IN),
    "/kiosks": (200, 200, 200, 403, SIGN_IN),
    "/audit": (403, 403, 200, 200, SIGN_IN),
    "/audit.csv": (403, 403, 200, 200, SIGN_IN),
    "/audit/chain": (403, 403, 200, 200, SIGN_IN),
    "/staff": (403, 403, 200, 403, SIGN_IN),
}


@pytest.mark.parametrize("route", sorted(READS))
def test_each_role_reads_only_its_pages(users: dict[str, object], route: str) -> None:
    got = tuple(users[role].get(route).status_code for role in ROLES)  # type: ignore[attr-defined]
    assert got == READS[route]


def test_only_desk_staff_of_the_counter_and_supervisors_decide(users: dict[str, object]) -> None:
    live = users["live"]
    assert isinstance(live, LiveServer)
    operation_id = waiting(live)
    # A refusal without a reason: 400 once past the role and counter checks, changing nothing.
    got = tuple(users[role].decide(operation_id, "refuse").status_code for role in ROLES)  # type: ignore[attr-defined]
    assert got == (400, 403, 400, 403, SIGN_IN)
    assert live.latest_operation("2024000001") == (operation_id, "awaiting_approval", None)


def test_only_supervisors_administer(users: dict[str, object]) -> None:
    # A member with a bad ID: 400 once past the role check, adding no one.
    got = tuple(users[role].post("/staff/add", staff_id="Bad ID!", name="X", role="desk",  # type: ignore[attr-defined]
                                 password=PASSWORD).status_code for role in ROLES)
    assert got == (403, 403, 400, 403, SIGN_IN)
    live = users["live"]
    assert isinstance(live, LiveServer)
    assert "Bad ID!" not in [m.staff_id for m in staff_of(live).members()]


def test_the_live_queue_is_for_those_who_decide(users: dict[str, object]) -> None:
    for role, expected in zip(ROLES, (200, 200, 200, 204, 204), strict=True):
        user = users[role]
        assert isinstance(user, ConsoleUser)
        with user.http.stream("GET", "/console/events") as stream:
            assert stream.status_code == expected, role
