"""The heartbeat through the kiosk's client: against the demo server, the report is stored and the
roster comes back with the demo desk member's offline PIN hash; against a mock server, every roster
that is off (a role that approves nothing, a hash whose cost could stall the kiosk, a staff ID twice,
too many members) is refused naming the field, and what the kiosk sends is cleaned first.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from argon2 import PasswordHasher

from kiosk.linkage import HealthReport, LinkageClient, ServerProtocolError
from kiosk.linkage.models import MAX_ROSTER
from linkserver.demo import DEMO_DESK_ID, DEMO_DESK_OFFLINE_PIN
from linkserver.health import kiosk_health
from tests.helpers.linkage_client import config_for, discovery, mock_client
from tests.linkserver.helpers import LiveServer

REPORT = HealthReport("0.1.0", "present", "Simulated reader 00 00", 3, None)
HASH = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash("135790")
MEMBER = {"staff_id": "hanako", "display_name": "Hanako Sato", "role": "desk", "offline_pin_hash": HASH}
ANSWER = {"issued_at": "2026-12-03T09:00:00Z", "roster": [MEMBER]}


def test_the_demo_server_answers_its_desk_member(live: LiveServer) -> None:
    synced = live.clock() - dt.timedelta(minutes=2)
    with LinkageClient(config_for(live)) as client:
        roster = client.heartbeat(HealthReport("0.1.0", "present", "Simulated reader 00 00", 3, synced))
    [desk] = roster.members
    assert (desk.staff_id, desk.role) == (DEMO_DESK_ID, "desk")
    assert PasswordHasher().verify(desk.offline_pin_hash, DEMO_DESK_OFFLINE_PIN)
    assert desk.offline_pin_hash not in repr(roster)
    [health] = kiosk_health(live.server.parts.db)
    assert (health.reader_state, health.reader_name, health.outbox_depth) == (
        "present", "Simulated reader 00 00", 3)
    assert health.last_sync_at == synced


def answering(tmp_path: Path, answer: object, sent: list[dict[str, Any]] | None = None) -> LinkageClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        found = discovery(request)
        if found is not None:
            return found
        assert request.url.path == "/v1/kiosks/heartbeat"
        if sent is not None:
            sent.append(json.loads(request.content))
        return httpx2.Response(200, json=answer)

    return mock_client(tmp_path, handler)


def member(**changes: object) -> dict[str, Any]:
    return {**ANSWER, "roster": [{**MEMBER, **changes}]}


@pytest.mark.parametrize(("answer", "field"), [
    (member(role="auditor"), "role"),
    (member(staff_id="Hanako"), "staff_id"),
    (member(offline_pin_hash="$2b$12$abcdefghijklmnopqrstuv"), "offline_pin_hash"),
    (member(offline_pin_hash=HASH.replace("m=19456", "m=1048576")), "offline_pin_hash"),
    (member(offline_pin_hash=HASH.replace("t=2", "t=50")), "offline_pin_hash"),
    (member(offline_pin_hash=HASH.replace("p=1", "p=8")), "offline_pin_hash"),
    ({**ANSWER, "roster": [MEMBER, MEMBER]}, "staff_id"),
    ({**ANSWER, "roster": [MEMBER] * (MAX_ROSTER + 1)}, "roster"),
    ({**ANSWER, "issued_at": "2026-12-03T09:00:00"}, "issued_at"),
    ({"issued_at": ANSWER["issued_at"]}, "roster"),
])
def test_a_roster_that_is_off_is_refused_naming_the_field(tmp_path: Path, answer: dict[str, Any],
                                                          field: str) -> None:
    with answering(tmp_path, answer) as client, pytest.raises(ServerProtocolError, match=f"'{field}'"):
        client.heartbeat(REPORT)


def test_a_good_roster_is_read_whole(tmp_path: Path) -> None:
    second = {**MEMBER, "staff_id": "boss", "role": "supervisor", "display_name": "The Boss"}
    with answering(tmp_path, {**copy.deepcopy(ANSWER), "roster": [MEMBER, second]}) as client:
        roster = client.heartbeat(REPORT)
    assert roster.issued_at == dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    assert [(m.staff_id, m.display_name, m.role) for m in roster.members] == [
        ("hanako", "Hanako Sato", "desk"), ("boss", "The Boss", "supervisor")]


def test_what_the_kiosk_sends_is_cleaned_first(tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []
    odd = HealthReport("0.1.0", "error", "Reader\nwith a\x00 break" + "x" * 300, -4,
                       dt.datetime(2026, 12, 3, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))))
    with answering(tmp_path, ANSWER, sent) as client:
        client.heartbeat(odd)
        client.heartbeat(HealthReport("0.1.0", "absent", None, 0, None))
    first, second = sent
    assert first["reader_name"].startswith("Reader with a  break") and len(first["reader_name"]) == 200
    assert first["outbox_depth"] == 0 and first["last_sync_at"] == "2026-12-03T09:00:00+00:00"
    assert second == {"version": "0.1.0", "reader_state": "absent", "outbox_depth": 0}
    with answering(tmp_path, ANSWER) as client:
        with pytest.raises(ValueError, match="no reader state"):
            client.heartbeat(HealthReport("0.1.0", "lost", None, 0, None))
        with pytest.raises(ValueError, match="not a valid version"):
            client.heartbeat(HealthReport("0.1 beta", "absent", None, 0, None))
