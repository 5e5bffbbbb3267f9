"""Test only: named points where the tests kill a kiosk process as a power cut would.

A process started with ``KIOSK_TEST_CRASH_AT=<point>`` in its environment kills itself with
SIGKILL the moment it reaches that point: no ``finally``, no commit, no exit handler runs. Only
the tests set the variable; a kiosk at a counter never does, and then each point is one lookup
in the environment and nothing else. The points, in the order the outbox sync meets them:

``outbox.before_upload``
    a batch of evidence is about to be sent to the server;
``outbox.after_upload``
    the server answered with each item's fate, and none is recorded yet;
``outbox.after_record``
    the fates and their audit entries are on disk (one transaction).
"""

from __future__ import annotations

import os
import signal

#: The environment variable the tests set (never a kiosk's configuration).
CRASH_ENV = "KIOSK_TEST_CRASH_AT"
#: Every point a test may name, in the order a sync reaches them.
CRASH_POINTS = ("outbox.before_upload", "outbox.after_upload", "outbox.after_record")


def crash_point(name: str) -> None:
    """Test only: die here at once, as by a power cut, if ``KIOSK_TEST_CRASH_AT`` names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
