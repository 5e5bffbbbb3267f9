"""Waiting for a linkage server that is starting: it says it is ready only by answering ``/health``."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx2

#: Between two probes of a server that does not answer yet.
PROBE_INTERVAL = 0.1


def wait_until_healthy(base_url: str, *, timeout: float,
                       alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll ``base_url``'s ``/health`` until it answers 200 (True), or ``alive()`` turns false or
    ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while alive() and time.monotonic() < deadline:
        try:
            if httpx2.get(base_url.rstrip("/") + "/health", timeout=2.0).status_code == 200:
                return True
        except httpx2.HTTPError:
            pass
        time.sleep(PROBE_INTERVAL)  # nothing to wait on but the socket: the server is still starting
    return False
