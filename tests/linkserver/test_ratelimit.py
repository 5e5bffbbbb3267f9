"""Rate limits in the database (``linkserver.ratelimit``), on SQLite and on PostgreSQL: a token
bucket per key, refilled with the clock, shared by every process that opens the same database,
counted exactly once under concurrency, and given back when the transaction that took it rolls
back."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from linkserver.db import Database
from linkserver.errors import ApiError
from linkserver.models import RateBucket
from linkserver.ratelimit import RateLimiter, forget_full_buckets


class Clock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def takes(limiter: RateLimiter, key: str, times: int) -> int:
    """How many of ``times`` requests for ``key`` were let through."""
    passed = 0
    for _ in range(times):
        try:
            limiter.take(key, "kiosk")
        except ApiError:
            continue
        passed += 1
    return passed


def refusal(limiter: RateLimiter, key: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        limiter.take(key, "kiosk")
    return caught.value


def test_a_bucket_lets_its_capacity_through_then_says_how_long_to_wait(db: Database) -> None:
    clock = Clock()
    limiter = RateLimiter(db, "kiosk", 6, 60, clock)  # one token every 10 s
    assert takes(limiter, "kiosk-01", 6) == 6
    refused = refusal(limiter, "kiosk-01")
    assert (refused.code, refused.status, refused.extra) == ("rate_limited", 429, {"retry_after": 10})
    assert refused.message == "too many requests for this kiosk; retry in 10 s"
    clock.now += 9.9
    assert refusal(limiter, "kiosk-01").extra == {"retry_after": 1}
    clock.now += 0.1
    assert takes(limiter, "kiosk-01", 2) == 1
    clock.now += 3600
    assert takes(limiter, "kiosk-01", 7) == 6  # refilled to its capacity, not beyond


def test_every_process_counts_in_the_same_bucket(db: Database, database_url: str) -> None:
    clock = Clock()
    other = Database(database_url)  # another worker: its own engine and connections
    try:
        here = RateLimiter(db, "kiosk", 5, 60, clock)
        there = RateLimiter(other, "kiosk", 5, 60, clock)
        assert takes(here, "kiosk-01", 3) == 3
        assert takes(there, "kiosk-01", 3) == 2
        assert refusal(here, "kiosk-01").code == "rate_limited"
    finally:
        other.dispose()


def test_keys_and_limiters_have_buckets_of_their_own_which_name_no_one(db: Database) -> None:
    clock = Clock()
    kiosks = RateLimiter(db, "kiosk", 2, 60, clock)
    accounts = RateLimiter(db, "account", 2, 60, clock)
    assert takes(kiosks, "2024000001", 3) == 2
    assert takes(kiosks, "2024000002", 3) == 2
    assert takes(accounts, "2024000001", 3) == 2
    with db.transaction() as session:
        buckets = session.scalars(select(RateBucket.bucket)).all()
    assert len(buckets) == 3
    assert all(len(bucket) == 32 and b"2024" not in bucket for bucket in buckets)


def test_a_token_taken_in_a_transaction_that_rolls_back_is_given_back(db: Database) -> None:
    limiter = RateLimiter(db, "kiosk", 1, 60, Clock())
    with pytest.raises(RuntimeError, match="the work failed"), db.transaction() as session:
        limiter.take("kiosk-01", "kiosk", session)
        raise RuntimeError("the work failed")
    assert takes(limiter, "kiosk-01", 2) == 1


def test_check_says_what_take_would_without_spending(db: Database) -> None:
    clock = Clock()
    limiter = RateLimiter(db, "address", 2, 60, clock)  # one token every 30 s
    for _ in range(5):
        limiter.check("192.0.2.1", "address")  # a bucket never counted in is full
    assert takes(limiter, "192.0.2.1", 2) == 2
    with pytest.raises(ApiError, match=r"too many requests for this address; retry in 30 s$"):
        limiter.check("192.0.2.1", "address")
    clock.now += 29
    with pytest.raises(ApiError, match=r"retry in 1 s$"):
        limiter.check("192.0.2.1", "address")
    clock.now += 1  # exactly one token again
    limiter.check("192.0.2.1", "address")
    limiter.check("192.0.2.1", "address")
    assert takes(limiter, "192.0.2.1", 2) == 1


def test_concurrent_requests_are_each_counted_once(db: Database, database_url: str) -> None:
    """Eight threads, two engines (two workers' pools), a bucket of 20: exactly 20 pass."""
    clock = Clock()
    other = Database(database_url)
    passed: list[int] = []
    start = threading.Barrier(8)

    def worker(index: int) -> None:
        limiter = RateLimiter(db if index % 2 else other, "kiosk", 20, 3600, clock)
        start.wait()
        passed.append(takes(limiter, "kiosk-01", 10))

    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.dispose()
    assert sum(passed) == 20
    assert len(passed) == 8


def test_buckets_idle_for_the_longest_period_are_forgotten(db: Database) -> None:
    clock = Clock()
    limiter = RateLimiter(db, "kiosk", 2, 60, clock)
    takes(limiter, "idle", 1)
    clock.now += 100
    takes(limiter, "busy", 1)
    with db.transaction() as session:
        forget_full_buckets(session, clock.now, 60)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(RateBucket)) == 1
    assert takes(limiter, "busy", 2) == 1  # its count was kept
    assert takes(limiter, "idle", 3) == 2  # forgotten means full
