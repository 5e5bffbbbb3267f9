"""Token-bucket rate limits, per key (a kiosk, an account, a client address).

Buckets live in the worker's memory: each worker enforces the limit on the requests it serves,
so a deployment of N workers allows at most N times the rate, a bound chosen over a database
round trip on every request.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from linkserver.errors import ApiError, ErrorCode

MAX_KEYS = 100_000


class RateLimiter:
    """Allows ``capacity`` requests per ``period`` seconds for each key, refilled continuously."""

    def __init__(self, capacity: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.rate = capacity / period
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, what: str) -> None:
        """Spend one token for ``key`` or raise ApiError (``rate_limited``) with the seconds to wait."""
        self._spend(key, what, 1)

    def check(self, key: str, what: str) -> None:
        """Raise as ``take`` would when ``key`` has no token left, without spending one."""
        self._spend(key, what, 0)

    def _spend(self, key: str, what: str, cost: int) -> None:
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1 - tokens) / self.rate)
                raise ApiError(ErrorCode.RATE_LIMITED, 429,
                               f"too many requests for this {what}; retry in {wait} s", {"retry_after": wait})
            self._buckets[key] = (tokens - cost, now)
            while len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
