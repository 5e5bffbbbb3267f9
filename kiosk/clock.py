"""The kiosk's one clock: aware UTC time, passed to the store, the offline checks and the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

#: What the store, the validator and the services take as their clock (tests pass a fixed one).
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """Now, as an aware datetime in UTC."""
    return dt.datetime.now(dt.UTC)
