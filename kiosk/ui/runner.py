"""Runs the flow's card and network work on worker threads and hands the results back to the GUI thread.

``QtRunner`` is the window's ``kiosk.flow.Runner``: each piece of work runs on a ``QThreadPool``
so the window never waits on a card or the network; its value (or the exception it raised, any
exception at all) travels back through a queued signal, so ``done`` and ``failed`` always run on
the thread that owns the runner, the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Enough for a card step, a network call and a staff wait that is being cancelled, side by side.
DEFAULT_THREADS = 4


class Mailbox(QObject):
    """Runs callables posted from any thread on the thread this object lives on (the GUI thread).

    A queued connection carries each callable across; ``post`` is safe to call from any thread.
    """

    arrived = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.arrived.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def post(self, call: Callable[[], None]) -> None:
        self.arrived.emit(call)

    @Slot(object)
    def _deliver(self, call: object) -> None:
        assert callable(call)
        try:
            call()
        except Exception:
            logger.exception("a posted call failed")


class _Job(QRunnable):
    def __init__(self, run: Callable[[], None]) -> None:
        super().__init__()
        self._run = run
        self.setAutoDelete(True)

    def run(self) -> None:
        self._run()


class QtRunner:
    """``Runner`` over a thread pool: work off the GUI thread, ``done``/``failed`` back on it."""

    def __init__(self, max_threads: int = DEFAULT_THREADS) -> None:
        self._pool = QThreadPool()
        self._pool.setMaxThreadCount(max_threads)
        self._mailbox = Mailbox()
        self._lock = threading.Lock()
        self._pending = 0  # submitted, and not yet delivered back
        self._closed = False

    @property
    def pending(self) -> int:
        """Work submitted whose result has not yet reached the GUI thread."""
        with self._lock:
            return self._pending

    def submit(self, work: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[BaseException], None]) -> None:
        with self._lock:
            if self._closed:
                logger.debug("runner closed; work dropped")
                return
            self._pending += 1

        def run() -> None:
            try:
                value = work()
            except BaseException as exc:  # every failure goes to the flow, none dies on a thread
                error = exc
                self._post(lambda: self._call_failed(failed, error))
            else:
                self._post(lambda: self._call_done(done, failed, value))

        self._pool.start(_Job(run))

    def _post(self, letter: Callable[[], None]) -> None:
        def delivered() -> None:
            try:
                letter()
            finally:
                with self._lock:
                    self._pending -= 1

        try:
            self._mailbox.post(delivered)
        except RuntimeError:  # the mailbox is gone: the application is shutting down
            with self._lock:
                self._pending -= 1

    @staticmethod
    def _call_done(done: Callable[[Any], None], failed: Callable[[BaseException], None], value: Any) -> None:
        try:
            done(value)
        except Exception as exc:
            # A result the flow could not take is a failure of that step, shown as one.
            logger.exception("handling a worker's result failed")
            QtRunner._call_failed(failed, exc)

    @staticmethod
    def _call_failed(failed: Callable[[BaseException], None], exc: BaseException) -> None:
        try:
            failed(exc)
        except Exception:
            logger.exception("handling a worker's failure failed")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every worker has finished; True if they did within ``timeout`` seconds.

        Results still travelling to the GUI thread are delivered when its event loop next runs.
        """
        return bool(self._pool.waitForDone(max(0, int(timeout * 1000))))

    def close(self, timeout: float = 5.0) -> bool:
        """Take no more work, drop work not yet started, and wait for the rest."""
        with self._lock:
            self._closed = True
        self._pool.clear()
        return self.wait_idle(timeout)
