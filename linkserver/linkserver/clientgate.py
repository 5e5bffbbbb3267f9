"""Which clients are revoked, for every request: a revoked kiosk's tokens stop working at once.

Access tokens are signed and checked without the database, so a kiosk that is revoked
(``kiosk-linkserver clients revoke``) would keep its token until it expires. Each request's caller
is also checked against the set of disabled clients, read from the database at most every
``CLIENT_GATE_SECONDS``: one small query a second per worker rather than one per request, and
every worker refuses the client within that second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import select

from linkserver.db import Database
from linkserver.models import KioskClient

#: How stale the set of revoked clients may be, in seconds.
CLIENT_GATE_SECONDS = 1.0


class ClientGate:
    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._disabled: frozenset[str] = frozenset()
        self._read_at: float | None = None

    def revoked(self, client_id: str) -> bool:
        return client_id in self._current()

    def fresh(self) -> bool:
        """Whether ``revoked`` would answer without reading the database."""
        read_at = self._read_at
        return read_at is not None and 0 <= self._clock() - read_at < CLIENT_GATE_SECONDS

    def _current(self) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            if self._read_at is not None and 0 <= now - self._read_at < CLIENT_GATE_SECONDS:
                return self._disabled
            with self._db.transaction(write=False) as session:
                self._disabled = frozenset(session.scalars(
                    select(KioskClient.client_id).where(KioskClient.enabled.is_(False))))
            self._read_at = now
            return self._disabled
