"""The kiosk's heartbeat and the offline roster it is answered with.

The roster's rules over the server's own database (SQLite and PostgreSQL): who is on a kiosk's
roster, who may have an offline PIN, what is audited. Then the heartbeat over HTTP against the demo
server: the report is kept as the kiosk's latest, the answer carries the demo desk member's PIN
hash, and a bad report or a client that is no kiosk is refused with its code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from sqlalchemy import select

from kiosk.nfc.sim.hierarchy import TestHierarchy
from linkserver.anchor import install
from linkserver.audit import AuditAnchor
from linkserver.db import Database
from linkserver.demo import DEMO_COUNTER_ID, DEMO_DESK_ID, DEMO_DESK_OFFLINE_PIN, DEMO_KIOSK_ID, prepare_demo
from linkserver.health import kiosk_health
from linkserver.models import AuditEntry, KioskClient, StaffMember
from linkserver.roster import roster_for, set_offline_pin
from linkserver.staff import StaffDirectory, StaffError, TotpSealer
from tests.linkserver.helpers import Clock, LiveServer

T0 = dt.datetime(2026, 12, 3, 9, 0, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"
REPORT = {"version": "0.1.0", "reader_state": "present", "reader_name": "ACS ACR1252 00 00",
          "outbox_depth": 2, "last_sync_at": "2026-12-03T08:55:00+00:00"}


@pytest.fixture
def staff(database_url: str) -> Iterator[StaffDirectory]:
    db = Database(database_url)
    db.migrate()
    install(db, AuditAnchor(key=b"k" * 32))
    yield StaffDirectory(db, TotpSealer(b"s" * 32), Clock(follows=lambda: T0))
    db.dispose()


def kiosk_at(staff: StaffDirectory, client_id: str, counter_id: str | None) -> None:
    with staff.db.transaction() as session:
        session.add(KioskClient(client_id=client_id, public_jwk={}, scopes="verify operate offline",
                                created_at=T0))
    if counter_id is not None:
        staff.place_kiosk(client_id, counter_id)


def roster_ids(staff: StaffDirectory, client_id: str) -> list[str]:
    with staff.db.transaction() as session:
        return [m.staff_id for m in roster_for(session, client_id, lambda: T0).members]


def test_a_kiosk_roster_holds_its_counters_desk_staff_and_every_supervisor(staff: StaffDirectory) -> None:
    staff.add_counter("north", "North")
    staff.add_counter("south", "South")
    kiosk_at(staff, "kiosk-north", "north")
    kiosk_at(staff, "kiosk-nowhere", None)
    for staff_id, role, counter in (("hanako", "desk", "north"), ("jiro", "desk", "south"),
                                    ("kumi", "desk", "north"), ("boss", "supervisor", None),
                                    ("off.duty", "desk", "north")):
        staff.add(staff_id, staff_id.title(), role, PASSWORD)
        if counter:
            staff.assign(staff_id, counter)
        if staff_id != "kumi":  # kumi has no offline PIN
            set_offline_pin(staff.db, staff_id, "135790")
    staff.set_enabled("off.duty", False)
    assert roster_ids(staff, "kiosk-north") == ["boss", "hanako"]
    assert roster_ids(staff, "kiosk-nowhere") == ["boss"]
    with staff.db.transaction() as session:
        roster = roster_for(session, "kiosk-north", lambda: T0)
    assert roster.issued_at == T0
    hanako = next(m for m in roster.members if m.staff_id == "hanako")
    assert (hanako.display_name, hanako.role) == ("Hanako", "desk")
    PasswordHasher().verify(hanako.offline_pin_hash, "135790")
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(hanako.offline_pin_hash, "135791")


def test_the_pin_is_hashed_lightly_audited_and_never_kept(staff: StaffDirectory) -> None:
    staff.add("hanako", "Hanako Sato", "desk", PASSWORD)
    set_offline_pin(staff.db, "hanako", "24681012", by="boss")
    with staff.db.transaction() as session:
        member = session.get(StaffMember, "hanako")
        assert member is not None and member.offline_pin_hash is not None
        stored = member.offline_pin_hash
        entries = [(e.event, e.details) for e in session.scalars(select(AuditEntry))]
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "24681012" not in stored
    assert ("staff_offline_pin_set", json.dumps({"by": "boss", "staff": "hanako"}, separators=(",", ":"))
            ) in [(event, json.dumps(json.loads(details), sort_keys=True, separators=(",", ":")))
                  for event, details in entries]
    assert not any("24681012" in details for _, details in entries)


@pytest.mark.parametrize("pin", ["12345", "1234567890123", "12345a", " 123456", "１２３４５６"])
def test_an_offline_pin_is_6_to_12_ascii_digits(staff: StaffDirectory, pin: str) -> None:
    staff.add("hanako", "Hanako Sato", "desk", PASSWORD)
    with pytest.raises(StaffError, match="6 to 12 digits"):
        set_offline_pin(staff.db, "hanako", pin)


def test_an_auditor_or_a_stranger_gets_no_offline_pin(staff: StaffDirectory) -> None:
    staff.add("kenji", "Kenji Ito", "auditor", PASSWORD)
    with pytest.raises(StaffError, match="approves nothing") as refused:
        set_offline_pin(staff.db, "kenji", "135790")
    assert refused.value.code == "bad_role"
    with pytest.raises(StaffError, match="no staff member nobody"):
        set_offline_pin(staff.db, "nobody", "135790")


def test_the_staff_command_sets_an_offline_pin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               hierarchy: TestHierarchy) -> None:
    from linkserver.cli import main

    config = prepare_demo(tmp_path / "state", hierarchy.path).config_path
    base = ["staff", "--config", str(config)]
    monkeypatch.setenv("DESK_PIN", "97531086")
    assert main([*base, "offline-pin", DEMO_DESK_ID, "--pin-from-env", "DESK_PIN"]) == 0
    out = capsys.readouterr().out
    assert f"offline PIN set for {DEMO_DESK_ID}" in out and "97531086" not in out
    monkeypatch.setenv("DESK_PIN", "9753")
    assert main([*base, "offline-pin", DEMO_DESK_ID, "--pin-from-env", "DESK_PIN"]) == 1
    err = capsys.readouterr().err
    assert "6 to 12 digits" in err and "9753" not in err


# -- over HTTP -----------------------------------------------------------------------------------------


def beat(live: LiveServer, body: dict[str, Any], **minting: Any) -> Any:
    with live.minted(**minting) as client:
        return client.post(live.url("/v1/kiosks/heartbeat"), json=body)


def test_a_heartbeat_is_kept_and_answered_with_the_kiosks_roster(live: LiveServer) -> None:
    before = live.clock()
    answer = beat(live, REPORT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    issued = dt.datetime.fromisoformat(body["issued_at"])
    assert before <= issued <= live.clock()
    [desk] = body["roster"]
    assert (desk["staff_id"], desk["role"], desk["display_name"]) == (DEMO_DESK_ID, "desk", "Demo Desk")
    PasswordHasher().verify(desk["offline_pin_hash"], DEMO_DESK_OFFLINE_PIN)
    [health] = kiosk_health(live.server.parts.db)
    assert (health.client_id, health.counter_id, health.version) == (DEMO_KIOSK_ID, DEMO_COUNTER_ID, "0.1.0")
    assert (health.reader_state, health.reader_name, health.outbox_depth) == (
        "present", "ACS ACR1252 00 00", 2)
    assert health.last_sync_at == dt.datetime(2026, 12, 3, 8, 55, tzinfo=dt.UTC)
    assert health.last_contact_at == issued
    live.clock.advance(3600)
    again = beat(live, {"version": "0.1.1", "reader_state": "absent", "outbox_depth": 4.0})  # JSON's 4
    assert again.status_code == 200, again.text
    [health] = kiosk_health(live.server.parts.db)
    assert (health.version, health.reader_state, health.reader_name, health.outbox_depth,
            health.last_sync_at) == ("0.1.1", "absent", None, 4, None)
    assert health.last_contact_at > issued + dt.timedelta(hours=1)


def test_a_kiosk_never_heard_from_is_listed_without_a_report(live: LiveServer) -> None:
    [health] = kiosk_health(live.server.parts.db)  # the staff automation client is no kiosk
    assert (health.client_id, health.counter_id, health.last_contact_at, health.version) == (
        DEMO_KIOSK_ID, DEMO_COUNTER_ID, None, None)


def test_only_a_kiosk_beats_and_only_an_offline_kiosk_gets_the_roster(live: LiveServer) -> None:
    refused = beat(live, REPORT, client_id=live.setup.staff_id, scopes=("staff",))
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    online_only = beat(live, REPORT, scopes=("verify", "operate"))
    assert online_only.status_code == 200 and online_only.json()["roster"] == []
    with live.server.parts.db.transaction() as session:
        assert session.get(KioskClient, live.setup.staff_id) is not None
    assert [h.client_id for h in kiosk_health(live.server.parts.db)] == [DEMO_KIOSK_ID]


@pytest.mark.parametrize(("change", "field"), [
    ({"reader_state": "broken"}, "reader_state"),
    ({"outbox_depth": -1}, "outbox_depth"),
    ({"outbox_depth": "2"}, "outbox_depth"),
    ({"outbox_depth": 2.5}, "outbox_depth"),
    ({"last_sync_at": "2026-12-03T08:55:00"}, "last_sync_at"),
    ({"last_sync_at": 1764752100}, "last_sync_at"),  # a Unix time is no ISO 8601 text
    ({"last_sync_at": "1764752100"}, "last_sync_at"),
    ({"version": ""}, "version"),
    ({"reader_name": "reader\nforged log line"}, "reader_name"),
    ({"pin": "246810"}, "pin"),
])
def test_a_bad_report_is_refused_naming_the_field(live: LiveServer, change: dict[str, Any],
                                                  field: str) -> None:
    answer = beat(live, {**REPORT, **change})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request" and field in answer.json()["problems"]
    assert kiosk_health(live.server.parts.db)[0].last_contact_at is None


def test_a_heartbeat_needs_a_token(live: LiveServer) -> None:
    import httpx2

    answer = httpx2.post(live.url("/v1/kiosks/heartbeat"), json=REPORT, timeout=30)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
