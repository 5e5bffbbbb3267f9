"""The sync worker's loop: how long it waits after each round (the interval, or a backoff that
doubles up to a limit), that a success resets the backoff, that an unexpected error is logged and
never ends the loop, and that a wake is taken once. Then the background thread itself: started,
woken and stopped.

The loop runs in the test's thread with its waits scripted (``ScriptedWake``): each wait returns at
once and moves the store's clock on by the delay asked for, so an item is due again exactly when
its backoff ends. The thread test waits for the uploads it expects, never for time to pass.
"""

from __future__ import annotations

import logging
import threading

import pytest

from kiosk.linkage import EvidenceFate, ServerUnreachable
from kiosk.store import KioskStore
from tests.helpers.store import Clock
from tests.services import outbox_parts
from tests.services.outbox_parts import FakeLinkage, accepted, items, put_items, run_rounds, sync_worker

#: How long the thread test waits for an upload it expects before it gives up.
PATIENCE = 30.0


#: The real store on a new SQLite file, and its clock (fixtures).
clock, store = outbox_parts.clock, outbox_parts.store


def test_backoff_doubles_from_the_interval_up_to_the_limit(store: KioskStore, clock: Clock,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    put_items(store, "k-a")
    linkage = FakeLinkage([ServerUnreachable("down") for _ in range(6)])
    wake = run_rounds(sync_worker(store, linkage), clock, rounds=6)  # 30 s and 900 s by default
    assert wake.delays == [60, 120, 240, 480, 900, 900]
    # Each wait ends exactly when the item is due again, and each round was one attempt.
    assert len(linkage.uploads) == 6
    assert items(store)["k-a"][3:] == (6, "server.unreachable", clock.now)
    # An unreachable server is expected: nothing is logged as a failure.
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_the_doubling_stops_at_two_to_the_sixteenth(store: KioskStore, clock: Clock) -> None:
    put_items(store, "k-a")
    linkage = FakeLinkage([ServerUnreachable("down") for _ in range(18)])
    wake = run_rounds(sync_worker(store, linkage, interval=1, max_backoff=10**9), clock, rounds=18)
    assert wake.delays == [2**n for n in range(1, 17)] + [2**16, 2**16]
    assert len(linkage.uploads) == 18
    assert items(store)["k-a"][3:] == (18, "server.unreachable", clock.now)


def test_a_round_that_settles_items_resets_the_backoff(store: KioskStore, clock: Clock) -> None:
    put_items(store, "k-a")

    def accept_and_record_another(keys: list[str]) -> list[EvidenceFate]:
        put_items(store, "k-b")
        return [accepted(key) for key in keys]

    linkage = FakeLinkage([ServerUnreachable("down"), ServerUnreachable("down"), accept_and_record_another,
                           ServerUnreachable("down again")])
    wake = run_rounds(sync_worker(store, linkage, interval=10), clock, rounds=4)
    # Two failures, a success (then the interval), and one failure counted from zero again.
    assert wake.delays == [20, 40, 10, 20]
    assert [upload.keys for upload in linkage.uploads] == [["k-a"]] * 3 + [["k-b"]]
    assert items(store)["k-a"][0] == "accepted"


def test_an_unexpected_error_is_logged_and_backed_off_and_the_loop_goes_on(
        store: KioskStore, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    put_items(store, "k-a")
    errors = [RuntimeError(f"disk trouble {n}") for n in range(18)]
    linkage = FakeLinkage(list(errors))
    with caplog.at_level(logging.ERROR, logger="kiosk.services.outbox"):
        wake = run_rounds(sync_worker(store, linkage, interval=1, max_backoff=10**9), clock, rounds=18)
    assert wake.delays == [2**n for n in range(1, 17)] + [2**16, 2**16]
    logged = [(r.getMessage(), r.levelno, r.exc_info[1] if r.exc_info else None) for r in caplog.records]
    assert logged == [("outbox sync failed", logging.ERROR, error) for error in errors]
    # Capped by the limit, with the defaults.
    linkage = FakeLinkage([RuntimeError("again") for _ in range(6)])
    wake = run_rounds(sync_worker(store, linkage), clock, rounds=6)
    assert wake.delays == [60, 120, 240, 480, 900, 900]
    assert items(store)["k-a"][3] == 0  # such an error is not the server's answer: no attempt noted


def test_a_wake_starts_a_round_at_once_and_is_taken_once(store: KioskStore, clock: Clock) -> None:
    linkage = FakeLinkage()
    worker = sync_worker(store, linkage)
    worker.wake()
    wake = run_rounds(worker, clock, rounds=2)
    assert wake.waits == [(30, True), (30, False)]
    assert linkage.uploads == []  # nothing was waiting


def test_a_stopped_worker_runs_no_round(store: KioskStore, clock: Clock) -> None:
    put_items(store, "k-a")
    linkage = FakeLinkage()
    worker = sync_worker(store, linkage)
    worker.stop()  # never started: nothing to wait for
    wake = run_rounds(worker, clock, rounds=1)
    assert wake.waits == []
    assert linkage.uploads == []


def test_the_worker_syncs_in_a_daemon_thread_when_started_and_woken_and_stops(store: KioskStore) -> None:
    threads: list[threading.Thread] = []
    linkage = FakeLinkage(during_upload=lambda: threads.append(threading.current_thread()))
    put_items(store, "k-a")
    worker = sync_worker(store, linkage, interval=3600)
    assert worker.start() is worker
    try:
        assert linkage.uploaded.wait(PATIENCE), "the first round did not upload"
        linkage.uploaded.clear()
        put_items(store, "k-b")
        worker.wake()
        assert linkage.uploaded.wait(PATIENCE), "a wake did not start a round"
    finally:
        worker.stop()
    assert [upload.keys for upload in linkage.uploads] == [["k-a"], ["k-b"]]
    [thread] = set(threads)
    assert (thread.name, thread.daemon) == ("outbox-sync", True)
    assert thread is not threading.current_thread()
    assert not thread.is_alive()


def test_stopping_gives_up_on_a_sync_stuck_in_an_upload(store: KioskStore) -> None:
    """A kiosk that shuts down while the server hangs waits only the timeout given, not for ever."""
    release = threading.Event()
    threads: list[threading.Thread] = []

    def hang() -> None:
        threads.append(threading.current_thread())
        release.wait(PATIENCE)

    linkage = FakeLinkage(during_upload=hang)
    put_items(store, "k-a")
    worker = sync_worker(store, linkage).start()
    try:
        assert linkage.uploaded.wait(PATIENCE), "the first round did not upload"
        worker.stop(timeout=0.01)
        [thread] = threads
        assert thread.is_alive()
    finally:
        release.set()
    thread.join(PATIENCE)
    assert not thread.is_alive()
    assert items(store)["k-a"][0] == "accepted"  # the stuck round ended, and no other began
    assert len(linkage.uploads) == 1
