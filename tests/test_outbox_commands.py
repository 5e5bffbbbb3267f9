"""``kiosk outbox list`` and ``kiosk outbox sync`` as processes, ``kiosk doctor``'s outbox line,
whether each item's voucher was shown (recorded by the kiosk, told to the server), and a sync killed
at each of its crash points."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.config import load_config
from kiosk.crashpoints import CRASH_ENV, CRASH_POINTS
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.services.core import KioskCore
from kiosk.store import KioskStore
from linkserver.demo import DEMO_DESK_ID, DEMO_DESK_OFFLINE_PIN
from linkserver.models import OfflineEvidence
from tests.conftest import Reader
from tests.helpers.kiosk import write_config
from tests.helpers.outbox import fill_outbox, kiosk_synced_entries, server_evidence, server_evidence_audit
from tests.helpers.server_api import LINKED, redeem
from tests.linkserver.helpers import LiveServer

KIOSK = [sys.executable, "-m", "kiosk"]
DOWN = "http://127.0.0.1:9"


@pytest.fixture
def config(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy) -> Path:
    return write_config(tmp_path, server, hierarchy, server.base)


@pytest.fixture
def down(config: Path, server: LiveServer) -> Path:
    """The same kiosk (same store) with its server unreachable."""
    path = config.with_name("down.toml")
    path.write_text(config.read_text("utf-8").replace(server.base, DOWN), "utf-8")
    return path


def kiosk(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KIOSK, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env})


def listed(config: Path) -> list[dict[str, object]]:
    result = kiosk("outbox", "list", "--json", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    items: list[dict[str, object]] = json.loads(result.stdout)["items"]
    return items


def offline_flow(down: Path) -> dict[str, str]:
    """``kiosk flow`` with the server away: staff approve at the counter, the voucher is printed."""
    result = kiosk("flow", "mfa_reset", "--account", LINKED, "--pin-from-env", "CARD_PIN", "--config",
                   str(down), "--offline-staff", DEMO_DESK_ID, "--offline-pin-from-env", "STAFF_PIN",
                   "--json", CARD_PIN="1234", STAFF_PIN=DEMO_DESK_OFFLINE_PIN)
    assert result.returncode == 0, result.stdout + result.stderr
    done: dict[str, str] = json.loads(result.stdout.splitlines()[-1])["result"]
    assert done["voucher"] and done["outbox_key"]
    return done


def started_once(config: Path) -> None:
    """The kiosk as after its first start online: the sealing key and the staff roster learnt."""
    KioskCore.build(load_config(config)).start().close()


def voucher_hashes(config: Path) -> list[str]:
    with KioskStore(load_config(config).store_path) as store:
        return [item.voucher_hash for item in store.outbox_items()]


def test_outbox_list_shows_each_item_but_never_its_voucher(config: Path, server: LiveServer,
                                                           hierarchy: TestHierarchy) -> None:
    keys = fill_outbox(config, server, hierarchy, 2)
    items = listed(config)
    assert sorted(str(item["key"]) for item in items) == sorted(keys)
    for item in items:
        assert item["fate"] is None and item["attempts"] == 0 and item["last_error"] is None
        assert isinstance(item["age_seconds"], int | float) and item["age_seconds"] >= 0
        assert item["voucher_shown"] is False
        assert not any("voucher_hash" in name or name == "voucher" for name in item)
    text = kiosk("outbox", "list", "--config", str(config))
    assert text.returncode == 0
    for key in keys:
        line = next(line for line in text.stdout.splitlines() if key in line)
        assert "waiting" in line and "0 attempts" in line and "voucher never shown" in line, line
    for digest in voucher_hashes(config):
        assert digest not in text.stdout and digest not in json.dumps(items)


def test_outbox_sync_reports_each_fate_and_says_what_is_left(config: Path, down: Path, server: LiveServer,
                                                             hierarchy: TestHierarchy) -> None:
    keys = fill_outbox(config, server, hierarchy, 2)
    offline = kiosk("outbox", "sync", "--config", str(down))
    assert offline.returncode == 1, offline.stdout + offline.stderr
    assert all(f"{key}: still waiting (server.unreachable)" in offline.stdout for key in keys), offline.stdout
    assert [item["attempts"] for item in listed(config)] == [1, 1]
    assert {item["last_error"] for item in listed(config)} == {"server.unreachable"}

    doctor = kiosk("doctor", "--config", str(down))
    outbox_line = next(line for line in doctor.stdout.splitlines() if line.startswith("OK   outbox"))
    assert "2 item(s) waiting" in outbox_line and "oldest" in outbox_line, outbox_line
    assert "last error server.unreachable" in outbox_line, outbox_line

    # Backed off after the failure, yet a sync by hand sends everything now.
    online = kiosk("outbox", "sync", "--json", "--config", str(config))
    assert online.returncode == 0, online.stdout + online.stderr
    report = json.loads(online.stdout)
    assert {item["key"]: item["fate"] for item in report["items"]} == dict.fromkeys(keys, "accepted")
    assert report["left"] == 0
    with server.server.parts.db.transaction() as session:
        shown = {key: flag for key, flag in session.execute(
            select(OfflineEvidence.idempotency_key, OfflineEvidence.voucher_shown))}
    assert shown == dict.fromkeys(keys, False)
    assert [entry["voucher_shown"] for entry in server_evidence_audit(server)] == [False, False]
    assert "nothing waiting" in kiosk("outbox", "sync", "--config", str(config)).stdout


def test_a_voucher_printed_by_kiosk_flow_is_recorded_as_shown(
        config: Path, down: Path, reader: Reader, server: LiveServer,
        make_card: Callable[..., SimulatedCard]) -> None:
    started_once(config)
    reader.insert(make_card("linked"))
    offline_flow(down)
    [item] = listed(config)
    assert item["voucher_shown"] is True
    assert kiosk("outbox", "sync", "--config", str(config)).returncode == 0
    with server.server.parts.db.transaction() as session:
        assert list(session.scalars(select(OfflineEvidence.voucher_shown))) == [True]


def test_an_item_the_server_asks_for_again_waits_and_goes_on_the_next_sync(
        config: Path, down: Path, reader: Reader, server: LiveServer,
        make_card: Callable[..., SimulatedCard]) -> None:
    """The server cannot tell the card's revocation (its CRLs are past their next update): it keeps
    nothing and says retry. The item stays in the outbox with the attempt and the reason, staff see
    it waiting, the voucher does not work yet; the next sync sends it, and the voucher works."""
    started_once(config)
    reader.insert(make_card("linked"))
    result = offline_flow(down)
    voucher, key = result["voucher"], result["outbox_key"]
    [before] = listed(config)

    server.crl_clock.advance(8 * 86400)
    stale = kiosk("outbox", "sync", "--config", str(config))
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert f"{key}: still waiting (revocation_unknown)" in stale.stdout, stale.stdout
    [waiting] = listed(config)
    assert (waiting["fate"], waiting["last_error"]) == (None, "revocation_unknown")
    assert waiting["attempts"] == int(str(before["attempts"])) + 1
    with server.server.parts.db.transaction() as session:
        assert session.scalars(select(OfflineEvidence)).all() == []
    doctor = kiosk("doctor", "--config", str(config)).stdout
    assert "1 item(s) waiting" in doctor and "last error revocation_unknown" in doctor, doctor
    assert redeem(server, voucher).json()["error"] == "voucher_invalid"

    server.crl_clock.offset = dt.timedelta()  # a fresh CRL again
    sent = kiosk("outbox", "sync", "--json", "--config", str(config))
    assert sent.returncode == 0, sent.stdout + sent.stderr
    [settled] = json.loads(sent.stdout)["items"]
    assert (settled["key"], settled["fate"], settled["evidence_id"] is not None) == (key, "accepted", True)
    finished = redeem(server, voucher)
    assert finished.status_code == 200 and finished.json()["result"]["enrolment_code"], finished.text


# -- killed at each crash point ----------------------------------------------------------------------


def kiosk_fates(config: Path) -> dict[str, tuple[str | None, str | None]]:
    with KioskStore(load_config(config).store_path) as store:
        return {item.idempotency_key: (item.fate, item.evidence_id) for item in store.outbox_items()}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_sync_killed_at_any_point_ends_with_one_fate_per_item_recorded_once(
        point: str, config: Path, server: LiveServer, hierarchy: TestHierarchy) -> None:
    """``kiosk outbox sync`` dies as by a power cut (SIGKILL, nothing flushed) before the upload,
    between the server's answer and the record of it, or after; a second sync settles the rest."""
    keys = sorted(fill_outbox(config, server, hierarchy, 3))
    killed = kiosk("outbox", "sync", "--config", str(config), **{CRASH_ENV: point})
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert killed.stdout == ""  # dead before it could report anything
    # It died where it was told to: the server holds the batch once sent, the kiosk its fates once recorded.
    sent, recorded = point != "outbox.before_upload", point == "outbox.after_record"
    assert sorted(key for key, _ in server_evidence(server)) == (keys if sent else [])
    assert [fate for fate, _ in kiosk_fates(config).values()] == ["accepted" if recorded else None] * 3
    assert len(kiosk_synced_entries(config)) == (3 if recorded else 0)

    again = kiosk("outbox", "sync", "--json", "--config", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads(again.stdout)
    assert sorted(item["key"] for item in report["items"]) == ([] if recorded else keys)
    assert report["left"] == 0

    # The server holds each item once, audited once; the kiosk records that same fate once, audited once.
    held = server_evidence(server)
    assert sorted(key for key, _ in held) == keys
    evidence = dict(held)
    audited = sorted(entry["evidence_id"] for entry in server_evidence_audit(server))
    assert audited == sorted(evidence.values())
    assert kiosk_fates(config) == {key: ("accepted", evidence[key]) for key in keys}
    synced = kiosk_synced_entries(config)
    assert sorted(entry["item"] for entry in synced) == keys
    assert {entry["item"]: (entry["fate"], entry["evidence"]) for entry in synced} == {
        key: ("accepted", evidence[key]) for key in keys}
