"""The kiosk's heartbeat: the report it sends (version, reader, outbox depth, last sync), the roster it
keeps from the answer, what a failure leaves, and the background thread (started, woken, stopped,
never ended by a failure). The reader's state as the window's events add it up, and the outbox
sync's time of last success, which the report carries.

The store is the real one; the server is a stand-in that answers a roster or raises.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import cast

import pytest

from kiosk import __version__
from kiosk.linkage import HealthReport, LinkageClient, Roster, ServerUnreachable
from kiosk.nfc.events import EventKind, ReaderEvent, ReaderState
from kiosk.services.heartbeat import HeartbeatWorker
from kiosk.services.roster import StaffRoster
from kiosk.store import KioskStore
from tests.helpers.roster import issued_roster
from tests.helpers.store import Clock
from tests.services import outbox_parts
from tests.services.outbox_parts import FakeLinkage, put_items, sync_worker

#: The real store on a new SQLite file, and its clock (fixtures).
clock, store = outbox_parts.clock, outbox_parts.store
PATIENCE = 30.0
READER = "ACS ACR1252 Dual Reader PICC 00 00"


@dataclass
class FakeServer:
    """Answers each heartbeat with ``roster``, or raises the next of ``fail``; keeps every report."""

    roster: Roster
    fail: list[Exception] = field(default_factory=list)
    reports: list[HealthReport] = field(default_factory=list)
    beats: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    def heartbeat(self, report: HealthReport) -> Roster:
        self.reports.append(report)
        self.beats.release()
        if self.fail:
            raise self.fail.pop(0)
        return self.roster


def worker(store: KioskStore, server: FakeServer, clock: Clock, **options: object) -> HeartbeatWorker:
    roster = StaffRoster(store, dt.timedelta(hours=72), clock)
    return HeartbeatWorker(store, cast(LinkageClient, server), roster, **options)  # type: ignore[arg-type]


def test_the_report_says_what_the_kiosk_knows_and_the_roster_is_kept(store: KioskStore, clock: Clock) -> None:
    server = FakeServer(issued_roster(("hanako", "135790"), issued_at=clock()))
    synced = clock() - dt.timedelta(minutes=5)
    beating = worker(store, server, clock, last_sync=lambda: synced)
    beating.reader = lambda: ("present", READER)
    put_items(store, "k-1", "k-2")
    assert beating.beat_once() == server.roster
    assert server.reports == [HealthReport(__version__, "present", READER, 2, synced)]
    held = store.roster()
    assert held is not None and [m.staff_id for m in held.members] == ["hanako"]
    assert held.members[0].offline_pin_hash == server.roster.members[0].offline_pin_hash


def test_before_the_window_watches_the_reader_it_is_reported_absent(store: KioskStore, clock: Clock) -> None:
    server = FakeServer(Roster(clock(), ()))
    worker(store, server, clock).beat_once()
    assert server.reports[0].reader_state == "absent" and server.reports[0].last_sync_at is None


def test_a_failed_heartbeat_keeps_the_roster_held(store: KioskStore, clock: Clock) -> None:
    server = FakeServer(issued_roster(("hanako", "135790"), issued_at=clock()))
    beating = worker(store, server, clock)
    beating.beat_once()
    server.roster, server.fail = Roster(clock(), ()), [ServerUnreachable("down")]
    with pytest.raises(ServerUnreachable, match="down"):
        beating.beat_once()
    held = store.roster()
    assert held is not None and [m.staff_id for m in held.members] == ["hanako"]


def test_the_thread_beats_at_once_when_woken_and_through_failures(
        store: KioskStore, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer(Roster(clock(), ()), fail=[ServerUnreachable("down"), ServerUnreachable("down"),
                                                   RuntimeError("a bug")])
    beating = worker(store, server, clock, interval=3600.0).start()
    try:
        for _ in range(4):  # the first at once; each later one only because it is woken
            assert server.beats.acquire(timeout=PATIENCE)
            beating.wake()
        assert server.beats.acquire(timeout=PATIENCE)
    finally:
        beating.stop()
    warnings = [r for r in caplog.records
                if r.name == "kiosk.services.heartbeat" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "server.unreachable" in warnings[0].getMessage()  # once per outage
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)  # the bug, in full
    assert store.roster() is not None  # answered again after the failures


def test_the_last_sync_is_when_the_outbox_was_last_sent_whole(store: KioskStore, clock: Clock) -> None:
    linkage = FakeLinkage([ServerUnreachable("down")])
    syncing = sync_worker(store, linkage, clock=clock)
    put_items(store, "k-1")
    with pytest.raises(ServerUnreachable):
        syncing.sync_once()
    assert syncing.last_success is None
    clock.advance(minutes=1)
    syncing.sync_now()
    assert syncing.last_success == clock()
    clock.advance(minutes=1)
    syncing.sync_once()  # nothing due: still a whole outbox sent
    assert syncing.last_success == clock()


def test_the_reader_state_as_the_events_add_it_up() -> None:
    readers = ReaderState()
    assert readers.report() == ("absent", None)
    readers.update(ReaderEvent(EventKind.READER_ADDED, READER))
    assert readers.report() == ("present", READER)
    readers.update(ReaderEvent(EventKind.SERVICE_LOST, ""))
    assert readers.report() == ("error", None)
    readers.update(ReaderEvent(EventKind.READER_ADDED, READER))
    readers.update(ReaderEvent(EventKind.READER_REMOVED, READER))
    assert readers.report() == ("absent", None)
    wanted = ReaderState(READER)
    wanted.update(ReaderEvent(EventKind.READER_ADDED, "Another reader"))
    assert wanted.report() == ("absent", READER)
