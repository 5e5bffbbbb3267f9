"""The kiosk store at its edges: each input limit exactly, the words of each refusal, the order of
the outbox when the clock steps back, the staff view's helpers, and retention at its cutoff.

Real SQLite files, as in ``test_store.py``; nothing here starts a process.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import kiosk.store.store as store_module
from kiosk.store import KioskStore, StoreError
from tests.helpers.store import T0, Clock, add, voucher_hash


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[KioskStore]:
    with KioskStore(tmp_path / "state" / "kiosk.db", clock=clock) as opened:
        yield opened


def evidence(store: KioskStore, key: str = "k-1", kind: str = "password_reset",
             hint: str = "20******01") -> Callable[[], object]:
    return lambda: store.add_evidence(key, f"sealed-{key}", kind, hint, voucher_hash(f"V-{key}"))


def test_each_text_limit_is_exact_and_named(store: KioskStore) -> None:
    limits: list[tuple[str, int, Callable[[str], object]]] = [
        ("idempotency_key", 128, lambda text: evidence(store, key=text)()),
        ("kind", 32, lambda text: evidence(store, key=f"kind-{len(text)}", kind=text)()),
        ("account_hint", 64, lambda text: evidence(store, key=f"hint-{len(text)}", hint=text)()),
        ("idempotency_key", 128, lambda text: store.record_attempt([text], "e", 1)),
        ("idempotency_key", 128, lambda text: store.record_fates([(text, "accepted", None, None)])),
        ("error_code", 64, lambda text: store.record_fates([("k", "refused", text, None)])),
        ("evidence_id", 64, lambda text: store.record_fates([("k", "accepted", None, text)])),
        ("idempotency_key", 128, lambda text: store.mark_voucher_shown(text)),
        ("name", 64, lambda text: store.put_cache(text, b"v")),
    ]
    for name, longest, call in limits:
        call("x" * longest)
        with pytest.raises(ValueError, match=f"^{name} must be text of 1 to {longest} characters$"):
            call("x" * (longest + 1))


def test_bad_arguments_are_refused_in_words(store: KioskStore) -> None:
    add(store, "k-1")
    fates_words = r"^fates is a sequence of \(key, fate, error_code, evidence_id\) tuples$"
    with pytest.raises(TypeError, match=fates_words):
        store.record_fates("k-1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^a cached value is bytes$"):
        store.put_cache("name", "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^voucher_hash must be the hex SHA-256 of the voucher$"):
        store.add_evidence("k-2", "sealed", "password_reset", "20******01", "0" * 63)
    with pytest.raises(ValueError, match=r"^voucher_hash must be the hex SHA-256 of the voucher$"):
        store.add_evidence("k-2", "sealed", "password_reset", "20******01", None)  # type: ignore[arg-type]
    for limit in (0, True, 2.0):
        with pytest.raises(ValueError, match=r"^limit is a whole number, one or more$"):
            store.pending_evidence(limit)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^limit is a whole number, one or more$"):
            store.outbox_items(limit)  # type: ignore[arg-type]
    for retry_in in (float("nan"), float("inf"), "5"):
        with pytest.raises(ValueError, match=r"^retry_in is a number of seconds, zero or more$"):
            store.record_attempt(["k-1"], "e", retry_in)  # type: ignore[arg-type]
    for days in (True, 1.5, "30", -1):
        with pytest.raises(ValueError, match=r"^retention_days is a whole number of days, zero or more$"):
            store.purge(days)  # type: ignore[arg-type]
    assert store.purge(0).outbox_items == 0
    assert store.outbox_items()[0].attempts == 0


def test_a_voucher_hash_in_capitals_is_kept_in_lower_case(store: KioskStore) -> None:
    item = store.add_evidence("k-1", "sealed", "password_reset", "20******01", voucher_hash("V").upper())
    assert item.voucher_hash == voucher_hash("V")
    with pytest.raises(store_module.DuplicateEvidence) as raised:
        store.add_evidence("k-2", "sealed", "password_reset", "20******01", voucher_hash("V"))
    assert str(raised.value) == "the outbox already holds evidence with this voucher hash ('k-2')"
    with pytest.raises(store_module.DuplicateEvidence) as raised:
        store.add_evidence("k-1", "sealed", "password_reset", "20******01", voucher_hash("W"))
    assert str(raised.value) == "the outbox already holds evidence with this idempotency key ('k-1')"
    # What a clash found by the database itself (not by the check before it) says.
    assert str(store_module.DuplicateEvidence("k-3")) == (
        "the outbox already holds evidence with this idempotency key ('k-3')")


def test_the_lists_hold_a_batch_and_a_screen_by_default(store: KioskStore) -> None:
    for n in range(101):
        add(store, f"k-{n:03}")
    assert len(store.pending_evidence()) == 50
    assert [i.idempotency_key for i in store.outbox_items()] == [f"k-{n:03}" for n in range(100, 0, -1)]


def test_the_store_keeps_utc_whatever_the_zones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tokyo = dt.timezone(dt.timedelta(hours=9))
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        with KioskStore.open(tmp_path / "kiosk.db", clock=lambda: T0.astimezone(tokyo)) as store:
            item = add(store, "k-1")
            assert item.created_at == T0 and item.created_at.utcoffset() == dt.timedelta(0)
    finally:
        monkeypatch.undo()
        time.tzset()
    with KioskStore(tmp_path / "naive.db", clock=lambda: dt.datetime(2030, 1, 1)) as naive, \
            pytest.raises(StoreError, match=r"^the store's clock must give timezone-aware times$"):
        add(naive, "k-1")


def test_missing_folders_are_made_and_the_stores_own_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "kiosk" / "kiosk.db"
    with KioskStore(path) as store:
        assert store.next_offline_counter() == 1
    # The store's own folder is owner-only; the ones above it are made as the system makes folders.
    assert path.parent.stat().st_mode & 0o777 == 0o700
    store.close()
    with pytest.raises(StoreError, match=r"^the kiosk store is closed$"):
        store.outbox_depth()


def test_the_outbox_orders_by_creation_time_then_by_arrival(store: KioskStore, clock: Clock) -> None:
    clock.advance(minutes=10)
    add(store, "late-clock")
    clock.advance(minutes=-10)  # the clock was corrected
    add(store, "first-twin")
    add(store, "second-twin")
    clock.advance(minutes=10)  # all due
    oldest_first = ["first-twin", "second-twin", "late-clock"]
    assert [i.idempotency_key for i in store.pending_evidence()] == oldest_first
    assert [i.idempotency_key for i in store.outbox_items()] == oldest_first[::-1]
    oldest = store.oldest_waiting()
    assert oldest is not None and oldest.idempotency_key == "first-twin"
    store.record_fates([("first-twin", "accepted", None, "ev-1")])
    oldest = store.oldest_waiting()
    assert oldest is not None and oldest.idempotency_key == "second-twin"
    item = store.outbox_items(limit=1)[0]
    assert (item.kind, item.account_hint) == ("password_reset", "20******01")
    assert item.created_at == T0 + dt.timedelta(minutes=10)


def test_an_empty_outbox_has_no_oldest_item(store: KioskStore) -> None:
    assert store.oldest_waiting() is None
    add(store, "k-1")
    store.record_fates([("k-1", "refused", "certificate.revoked", "ev-1")])
    assert store.oldest_waiting() is None and store.make_due() == 0


def test_make_due_brings_every_waiting_item_forward(store: KioskStore, clock: Clock) -> None:
    for key in ("a", "b", "c"):
        add(store, key)
    store.record_attempt(["a", "b"], "server.unreachable", 3600)
    store.record_fates([("c", "accepted", None, "ev-c")])
    clock.advance(seconds=30)
    assert store.pending_evidence() == []
    assert store.make_due() == 2
    due = store.pending_evidence()
    assert [(i.idempotency_key, i.next_attempt_at) for i in due] == [("a", clock.now), ("b", clock.now)]
    settled = {i.idempotency_key: i for i in store.outbox_items()}["c"]
    assert settled.next_attempt_at == T0


def test_the_first_showing_of_a_voucher_counts(store: KioskStore, clock: Clock) -> None:
    add(store, "k-1")
    add(store, "k-2")
    assert store.outbox_items()[0].voucher_shown_at is None
    clock.advance(seconds=5)
    store.mark_voucher_shown("k-1")
    clock.advance(seconds=5)
    store.mark_voucher_shown("k-1")
    shown = {i.idempotency_key: i.voucher_shown_at for i in store.outbox_items()}
    assert shown == {"k-1": T0 + dt.timedelta(seconds=5), "k-2": None}
    store.mark_voucher_shown("not-in-the-outbox")
    assert {i.idempotency_key: i.voucher_shown_at for i in store.outbox_items()} == shown


def test_stray_and_contradicting_fates_are_logged_and_repeats_are_not(
        store: KioskStore, caplog: pytest.LogCaptureFixture) -> None:
    add(store, "k-1")
    store.record_fates([("k-1", "accepted", None, "ev-1")])
    with caplog.at_level(logging.WARNING, logger="kiosk.store.store"):
        assert store.record_fates([("k-1", "accepted", None, "ev-1")]) == []
        assert caplog.records == []
        store.record_fates([("k-1", "refused", "x", None), ("stray-key", "accepted", None, None)])
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "k-1" in messages[0] and "accepted" in messages[0] and "refused" in messages[0]
    assert "stray-key" in messages[1]


def test_retention_keeps_what_is_exactly_at_the_cutoff(store: KioskStore, clock: Clock) -> None:
    add(store, "k-1")
    store.record_fates([("k-1", "accepted", None, "ev-1")])  # audit entry 1, at T0
    clock.advance(days=30)
    report = store.purge(30)
    assert (report.outbox_items, report.audit_entries, report.audit_checkpoint) == (0, 0, None)
    clock.advance(seconds=1)
    report = store.purge(30)
    assert (report.outbox_items, report.audit_entries, report.audit_checkpoint) == (1, 1, 1)


def test_a_kept_tampered_prefix_is_logged_with_its_reason(store: KioskStore, clock: Clock,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    store.audit("step", n=1)
    store.audit("step", n=2)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE audit_log SET details = '{\"n\":9}' WHERE seq = 1")
    clock.advance(days=100)
    with caplog.at_level(logging.WARNING, logger="kiosk.store.store"):
        report = store.purge(30)
    assert report.audit_skipped is not None and report.audit_entries == 0
    assert any(report.audit_skipped in record.getMessage() for record in caplog.records)


def test_the_chain_check_reads_in_batches(store: KioskStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_CHECK_BATCH", 3)
    for n in range(8):
        store.audit("step", n=n)
    report = store.check_audit()
    assert report.ok and report.entries == 8
