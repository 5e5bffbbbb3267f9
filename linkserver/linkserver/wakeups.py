"""Wake-ups inside one server process: whoever waits for a change (a kiosk's long-poll for a staff
decision, a console's live queue) sleeps until something changed or a short interval passed.

A change made in this process wakes every waiter at once; each then reads the database to see
whether it concerns them. A change made by another worker process wakes nobody here, so waiters
also look again every ``RECHECK`` seconds: a decision reaches its kiosk within that time in the
worst case, at once in the usual one. Waiting costs no thread and nothing after the waiter left.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

#: The longest a waiter sleeps before it reads the database again.
RECHECK = 0.5


class Wakeups:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self) -> None:
        """Something changed: wake every waiter (safe from any thread)."""
        with self._lock:
            waiting, self._waiting = self._waiting, set()
            self._lock.notify_all()
        for loop, event in waiting:
            with contextlib.suppress(RuntimeError):  # a loop that has closed has no waiter left
                loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout: float = RECHECK) -> None:
        """Until the next change in this process, or ``timeout`` seconds."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.add(entry)
            self._lock.notify_all()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry[1].wait(), max(0.0, timeout))
        finally:
            with self._lock:
                self._waiting.discard(entry)
                self._lock.notify_all()

    @property
    def waiters(self) -> int:
        """How many wait now (each long-poll or live queue between two looks at the database)."""
        with self._lock:
            return len(self._waiting)

    def until_waiters(self, predicate: Callable[[int], bool], timeout: float) -> bool:
        """Blocks (a thread, not the loop) until the number of waiters satisfies ``predicate``."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(len(self._waiting)), timeout)
