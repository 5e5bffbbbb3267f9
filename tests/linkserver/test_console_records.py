"""What staff answer for afterwards, at the console: the audit trail's search, its CSV and the hash
chain's state; the offline queue and its fates; and a supervisor's administration of staff."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select, update

from linkserver.console.records import _cell
from linkserver.models import AuditEntry
from tests.helpers.server_api import LINKED, VOUCHER, Kiosk, redeem, verified
from tests.linkserver.console_parts import PASSWORD, ConsoleUser, seat_staff, staff_of
from tests.linkserver.helpers import LiveServer


@pytest.fixture
def counters(live: LiveServer) -> LiveServer:
    return seat_staff(live)


def approved_at_the_console(live: LiveServer) -> str:
    kiosk = live.kiosk()
    operation_id = str(live.operation(kiosk, "unlink", verified(live, kiosk)).json()["operation_id"])
    hanako = ConsoleUser(live, "hanako")
    hanako.sign_in()
    assert hanako.decide(operation_id, "approve").status_code == 303
    return operation_id


def csv_rows(user: ConsoleUser, query: str) -> list[dict[str, str]]:
    answer = user.http.get("/console/audit.csv?" + query)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="audit.csv"'
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_the_audit_trail_is_searched_by_each_field_and_exported(counters: LiveServer) -> None:
    operation_id = approved_at_the_console(counters)
    kansa = ConsoleUser(counters, "kansa")
    kansa.sign_in()
    by_staff = csv_rows(kansa, "staff=hanako")
    assert {row["event"] for row in by_staff} >= {"operation_approved", "staff_signed_in"}
    assert all(json.loads(row["details"]).get("staff") == "hanako" for row in by_staff)
    by_operation = csv_rows(kansa, f"operation={operation_id}")
    assert [row["event"] for row in by_operation] == ["operation_completed", "operation_approved",
                                                      "operation_requested"]
    by_kiosk = csv_rows(kansa, f"kiosk={counters.setup.kiosk_id}&account={LINKED}")
    assert by_kiosk and all(row["client"] == counters.setup.kiosk_id and row["account"] == LINKED
                            for row in by_kiosk)
    assert csv_rows(kansa, "counter=north") == csv_rows(kansa, f"kiosk={counters.setup.kiosk_id}")
    assert csv_rows(kansa, "counter=south") == []
    today = counters.clock().date()
    assert len(csv_rows(kansa, f"since={today}&until={today}")) == len(csv_rows(kansa, ""))
    assert csv_rows(kansa, f"until={today.replace(year=today.year - 1)}") == []
    page = kansa.get(f"/audit?operation={operation_id}")
    assert page.status_code == 200 and "operation_approved" in page.text and "3件" in page.text


def test_a_date_that_is_none_is_refused_in_words(counters: LiveServer) -> None:
    boss = ConsoleUser(counters, "boss")
    boss.sign_in()
    answer = boss.get("/audit?since=yesterday")
    assert answer.status_code == 400 and "2026-12-03" in answer.text and "開始" in answer.text
    assert boss.get("/audit.csv?until=31/12/2026").status_code == 400


def test_a_cell_a_spreadsheet_would_run_is_kept_as_text() -> None:
    assert [_cell(v) for v in ("=1+1", "+1", "-1", "@x", "plain", "")] == ["'=1+1", "'+1", "'-1", "'@x",
                                                                           "plain", ""]


def test_the_chain_state_is_shown_and_a_break_is_named(counters: LiveServer) -> None:
    approved_at_the_console(counters)
    kansa = ConsoleUser(counters, "kansa")
    kansa.sign_in()
    intact = kansa.get("/audit/chain")
    assert intact.status_code == 200 and "完全です" in intact.text
    with counters.server.parts.db.transaction() as session:
        seq = session.scalars(select(AuditEntry.seq).where(AuditEntry.event == "operation_approved")).one()
        session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(details='{"staff":"someone"}'))
    broken = kansa.get("/audit/chain")
    assert f"{seq} 番目" in broken.text and "its contents do not match its hash" in broken.text


def test_the_offline_queue_shows_each_fate_and_never_the_voucher(counters: LiveServer) -> None:
    kiosk = Kiosk(counters)
    accepted, refused = kiosk.upload(kiosk.seal(kiosk.payload()), kiosk.seal(kiosk.payload(holder="revoked")))
    assert (accepted["fate"], refused["fate"]) == ("accepted", "refused")
    hanako = ConsoleUser(counters, "hanako")
    hanako.sign_in()
    queue = hanako.get("/offline")
    assert "再検証済み・利用者の手続き待ち" in queue.text and "却下" in queue.text
    assert refused["error_code"] in queue.text and VOUCHER not in queue.text and LINKED not in queue.text
    assert redeem(counters, new_password="Another-Passw0rd!").status_code == 200
    assert "適用済み" in hanako.get("/offline").text
    jiro = ConsoleUser(counters, "jiro")
    assert "適用済み" not in jiro.sign_in().text and "適用済み" not in jiro.get("/offline").text


def test_a_supervisor_adds_assigns_resets_and_disables_staff(counters: LiveServer) -> None:
    boss = ConsoleUser(counters, "boss")
    boss.sign_in()
    boss.get("/staff")
    assert boss.post("/staff/add", staff_id="saburo", name="Saburo", role="desk",
                     password=PASSWORD).headers["location"] == "/console/staff?done=1"
    boss.post("/staff/assign", staff_id="saburo", counter_id="north", assigned="1")
    added = staff_of(counters).info("saburo")
    assert (added.role, added.counters, added.enabled) == ("desk", ("north",), True)
    saburo = ConsoleUser(counters, "saburo")
    saburo.sign_in()
    assert boss.post("/staff/enable", staff_id="saburo", enabled="0").status_code == 303
    assert saburo.get("/").headers["location"] == "/console/sign-in"  # the session ended with it
    taken = boss.post("/staff/add", staff_id="saburo", name="Again", role="desk", password=PASSWORD)
    assert taken.status_code == 400 and "すでに使われています" in taken.text
    itself = boss.post("/staff/enable", staff_id="boss", enabled="0")
    assert itself.status_code == 400 and staff_of(counters).info("boss").enabled
    with counters.server.parts.db.transaction() as session:
        added_by = [json.loads(e.details) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.event == "staff_added"))]
    assert {"staff": "saburo", "role": "desk", "by": "boss"} in added_by
    assert PASSWORD not in boss.get("/staff").text


def test_kiosk_health_shows_each_kiosks_heartbeat_to_its_counters_staff(counters: LiveServer) -> None:
    hanako, jiro = ConsoleUser(counters, "hanako"), ConsoleUser(counters, "jiro")
    hanako.sign_in()
    jiro.sign_in()
    assert "通信の記録なし" in hanako.get("/kiosks").text  # placed, never heard from
    with counters.minted() as kiosk:
        sent = kiosk.post(counters.url("/v1/kiosks/heartbeat"), json={
            "version": "kiosk-9.8.7", "reader_state": "present", "reader_name": "Sony RC-S300",
            "outbox_depth": 3, "last_sync_at": "2026-12-01T08:00:00+00:00"})
    assert sent.status_code == 200, sent.text
    page = hanako.get("/kiosks").text
    assert all(words in page for words in (counters.setup.kiosk_id, "kiosk-9.8.7", "正常 (Sony RC-S300)",
                                           "<td>3</td>", "2026-12-01 08:00"))
    assert "通信なし" not in page
    counters.clock.advance(5 * 60)
    assert "5分間通信なし" in hanako.get("/kiosks").text
    assert counters.setup.kiosk_id not in jiro.get("/kiosks").text  # another counter's kiosk
