"""Stopping a command on SIGHUP or SIGTERM with the clean-up it does on exit.

The signal raises ``Stopped`` where the command is, so every ``with`` and ``finally`` on the way
runs (the demo's temporary folder, with private keys in it, is removed). Python ignores an
exception raised where it cannot propagate (a Qt slot, an at-fork hook, a finaliser); for that case
a timer started by the signal runs the clean-ups registered with ``last_resort`` and ends the
process if the unwinding has not finished within ``GRACE_SECONDS``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

logger = logging.getLogger(__name__)

#: The signals a service manager or a closed terminal sends; Ctrl-C is KeyboardInterrupt already.
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
#: How long the unwinding may take before the last-resort clean-up ends the process.
GRACE_SECONDS = 20.0

_last_resort: list[Callable[[], None]] = []


class Stopped(BaseException):
    """A signal asked the command to stop. Not an ``Exception`` (like KeyboardInterrupt), so that no
    ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def last_resort(callback: Callable[[], None]) -> Iterator[None]:
    """While the block runs, ``callback`` is what must happen even if the unwinding is lost."""
    _last_resort.append(callback)
    try:
        yield
    finally:
        _last_resort.remove(callback)


def _give_up(signum: int) -> None:
    for callback in reversed(list(_last_resort)):
        try:
            callback()
        except Exception:  # the others must still run
            logger.exception("a last-resort clean-up failed")
    os._exit(128 + signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGHUP and SIGTERM raise ``Stopped`` in the block; further ones are ignored meanwhile."""
    timers: list[threading.Timer] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        timer = threading.Timer(GRACE_SECONDS, _give_up, (signum,))
        timer.daemon = True
        timer.start()
        timers.append(timer)
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    # A process started with them blocked (inherited from its parent's thread) would never hear them.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
