"""One sync of the outbox: what is uploaded and what is said of each voucher, each item's fate
recorded once with its audit entry, the backoff noted on items the server could not settle, batches,
the crash points, and a sync by hand.

The real store on a temporary SQLite file; the server's answers are scripted (``FakeLinkage``).
"""

from __future__ import annotations

import datetime as dt

import pytest

import kiosk.services.outbox as outbox_module
from kiosk.linkage import LinkageCode, ServerProtocolError, ServerRefused, ServerUnreachable
from kiosk.store import KioskStore
from kiosk.store.store import SYNCED_EVENT
from tests.helpers.store import T0, Clock
from tests.services import outbox_parts
from tests.services.outbox_parts import (
    FakeLinkage,
    accepted,
    audit_details,
    items,
    put_items,
    refused,
    retry,
    sync_worker,
)

#: The real store on a new SQLite file, and its clock (fixtures).
clock, store = outbox_parts.clock, outbox_parts.store


def later(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_each_due_item_is_uploaded_once_and_its_fate_recorded_with_an_audit_entry(store: KioskStore) -> None:
    put_items(store, "k-a", "k-b", "k-c")
    linkage = FakeLinkage([lambda keys: [accepted(keys[0]), refused(keys[1]), accepted(keys[2])]])
    changes: list[str] = []
    worker = sync_worker(store, linkage, on_change=lambda: changes.append("changed"))
    assert worker.sync_once() == 3
    [upload] = linkage.uploads
    assert upload.bundles == [("k-a", "sealed-k-a"), ("k-b", "sealed-k-b"), ("k-c", "sealed-k-c")]
    assert items(store) == {
        "k-a": ("accepted", None, "ev-k-a", 0, None, T0),
        "k-b": ("refused", "counter_reused", "ev-k-b", 0, None, T0),
        "k-c": ("accepted", None, "ev-k-c", 0, None, T0),
    }
    assert audit_details(store, SYNCED_EVENT) == [
        {"item": "k-a", "fate": "accepted", "code": "", "evidence": "ev-k-a"},
        {"item": "k-b", "fate": "refused", "code": "counter_reused", "evidence": "ev-k-b"},
        {"item": "k-c", "fate": "accepted", "code": "", "evidence": "ev-k-c"},
    ]
    assert changes == ["changed"]
    # Settled items are never sent again.
    assert worker.sync_once() == 0
    assert len(linkage.uploads) == 1
    assert changes == ["changed"]
    assert store.check_audit().ok


def test_the_upload_says_which_vouchers_were_shown_except_those_still_on_their_way(store: KioskStore) -> None:
    put_items(store, "k-shown", "k-never", "k-showing")
    store.mark_voucher_shown("k-shown")
    linkage = FakeLinkage()
    worker = sync_worker(store, linkage, being_shown=lambda: {"k-showing"})
    assert worker.sync_once() == 3
    assert linkage.uploads[0].voucher_shown == {"k-shown": True, "k-never": False}


def test_items_the_server_asks_to_send_again_wait_with_backoff(store: KioskStore) -> None:
    put_items(store, "k-a", "k-b", "k-c", "k-d")
    linkage = FakeLinkage([lambda keys: [retry(keys[0], "busy"), accepted(keys[1]), retry(keys[2]),
                                         refused(keys[3], "revoked")],
                           lambda keys: [retry(keys[0])]])
    worker = sync_worker(store, linkage)
    assert worker.sync_once() == 2
    # The first retry's code stands for all of the batch; 30 s doubled is the first backoff.
    assert items(store) == {
        "k-a": (None, None, None, 1, "busy", later(60)),
        "k-b": ("accepted", None, "ev-k-b", 0, None, T0),
        "k-c": (None, None, None, 1, "busy", later(60)),
        "k-d": ("refused", "revoked", "ev-k-d", 0, None, T0),
    }
    assert [entry["item"] for entry in audit_details(store, SYNCED_EVENT)] == ["k-b", "k-d"]
    put_items(store, "k-e")
    assert worker.sync_once() == 0
    assert linkage.uploads[1].keys == ["k-e"]
    assert items(store)["k-e"] == (None, None, None, 1, "retry", later(60))


def test_an_unreachable_server_is_noted_on_each_item_and_raised(store: KioskStore, clock: Clock) -> None:
    put_items(store, "k-a", "k-b")
    linkage = FakeLinkage([ServerUnreachable("connection refused")])
    changes: list[str] = []
    worker = sync_worker(store, linkage, on_change=lambda: changes.append("changed"))
    with pytest.raises(ServerUnreachable, match="connection refused"):
        worker.sync_once()
    waiting = (None, None, None, 1, LinkageCode.SERVER_UNREACHABLE.value, later(60))
    assert items(store) == {"k-a": waiting, "k-b": waiting}
    assert audit_details(store, SYNCED_EVENT) == []
    assert changes == []
    # Backoff is bounded by the worker's limit.
    short = sync_worker(store, FakeLinkage([ServerUnreachable("down")]),
                        interval=5, max_backoff=7)
    clock.advance(seconds=60)
    with pytest.raises(ServerUnreachable, match="down"):
        short.sync_once()
    assert items(store)["k-a"][3:] == (2, "server.unreachable", later(67))


def test_a_refused_upload_is_noted_with_the_refusal_s_code_and_ends_the_sync(store: KioskStore) -> None:
    put_items(store, "k-a", "k-b", "k-c")
    linkage = FakeLinkage([lambda keys: [accepted(keys[0])],
                           ServerRefused("rate_limited", "slow down", status=429),
                           ServerProtocolError("not JSON")])
    worker = sync_worker(store, linkage, interval=10)
    # Batches of one: the first is settled, the second refused; the count says what was settled.
    assert worker.sync_once(batch=1) == 1
    assert [upload.keys for upload in linkage.uploads] == [["k-a"], ["k-b"]]
    assert items(store)["k-b"] == (None, None, None, 1, "rate_limited", later(20))
    assert items(store)["k-c"] == (None, None, None, 0, None, T0)
    assert worker.sync_once(batch=5) == 0
    assert linkage.uploads[2].keys == ["k-c"]
    assert items(store)["k-c"] == (None, None, None, 1, "server.protocol", later(20))


def test_the_outbox_is_sent_in_batches_of_fifty_by_default(store: KioskStore) -> None:
    keys = [f"k-{n:03}" for n in range(51)]
    put_items(store, *keys)
    linkage = FakeLinkage()
    changes: list[str] = []
    worker = sync_worker(store, linkage, on_change=lambda: changes.append("changed"))
    assert worker.sync_once() == 51
    assert [upload.keys for upload in linkage.uploads] == [keys[:50], keys[50:]]
    assert changes == ["changed", "changed"]
    assert len(audit_details(store, SYNCED_EVENT)) == 51


def test_a_sync_goes_on_after_a_full_batch_and_ends_after_a_short_one(store: KioskStore) -> None:
    """An item recorded while a full batch is out goes in the same sync; after a short batch the
    sync ends, and what came meanwhile waits for the next round (the worker is woken for it)."""
    put_items(store, "k-a", "k-b")
    linkage = FakeLinkage(during_upload=lambda:
                           put_items(store, "k-c") if len(linkage.uploads) == 1 else None)
    assert sync_worker(store, linkage).sync_once(batch=2) == 3
    assert [upload.keys for upload in linkage.uploads] == [["k-a", "k-b"], ["k-c"]]
    put_items(store, "k-d", "k-e")
    linkage = FakeLinkage(during_upload=lambda:
                           put_items(store, "k-f") if len(linkage.uploads) == 1 else None)
    assert sync_worker(store, linkage).sync_once(batch=3) == 2
    assert [upload.keys for upload in linkage.uploads] == [["k-d", "k-e"]]
    assert items(store)["k-f"][0] is None


def test_a_sync_meets_its_crash_points_in_order(store: KioskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    met: list[str] = []
    monkeypatch.setattr(outbox_module, "crash_point", met.append)
    put_items(store, "k-a", "k-b")
    worker = sync_worker(store, FakeLinkage([ServerUnreachable("down")]))
    with pytest.raises(ServerUnreachable):
        worker.sync_once()
    assert met == ["outbox.before_upload"]
    met.clear()
    store.make_due()
    assert worker.sync_once(batch=1) == 2
    assert met == ["outbox.before_upload", "outbox.after_upload", "outbox.after_record"] * 2


class PowerCut(Exception):
    """Stands for the kiosk dying at a crash point."""


def test_a_sync_cut_short_is_repeated_with_the_same_bundles_and_settles_each_item_once(
        store: KioskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def cut_at(point: str) -> None:
        def crash(name: str) -> None:
            if name == point:
                raise PowerCut(name)
        monkeypatch.setattr(outbox_module, "crash_point", crash)

    put_items(store, "k-a", "k-b")
    linkage = FakeLinkage()
    worker = sync_worker(store, linkage)
    cut_at("outbox.after_upload")
    with pytest.raises(PowerCut):
        worker.sync_once()
    assert [item[0] for item in items(store).values()] == [None, None]
    cut_at("outbox.after_record")
    with pytest.raises(PowerCut):
        worker.sync_once()
    assert linkage.uploads[1].bundles == linkage.uploads[0].bundles
    cut_at("none")
    assert worker.sync_once() == 0
    assert len(linkage.uploads) == 2
    assert [entry["item"] for entry in audit_details(store, SYNCED_EVENT)] == ["k-a", "k-b"]
    assert store.check_audit().ok


def test_a_sync_by_hand_sends_items_waiting_for_backoff_and_swallows_an_unreachable_server(
        store: KioskStore) -> None:
    put_items(store, "k-a")
    linkage = FakeLinkage([ServerUnreachable("down"), ServerUnreachable("still down")])
    worker = sync_worker(store, linkage)
    worker.sync_now()
    assert items(store)["k-a"] == (None, None, None, 1, "server.unreachable", later(60))
    assert worker.sync_once() == 0  # backing off: not due
    assert len(linkage.uploads) == 1
    worker.sync_now()
    assert items(store)["k-a"] == (None, None, None, 2, "server.unreachable", later(60))
    worker.sync_now()
    assert [upload.keys for upload in linkage.uploads] == [["k-a"]] * 3
    assert items(store)["k-a"][:3] == ("accepted", None, "ev-k-a")
