"""The kiosk's heartbeat: while online it tells the server its health, and keeps the roster answered.

Every ``interval`` seconds (``server.heartbeat_seconds``) the kiosk reports its software version,
its card reader's state and name, how many items wait in its outbox, and when it last sent the
whole outbox. The server keeps the latest report for the staff console and answers with the
kiosk's offline roster, which replaces the one held (``StaffRoster.keep``). A heartbeat that
fails is tried again at the next interval; nothing else waits for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from kiosk import __version__
from kiosk.linkage import HealthReport, LinkageClient, LinkageError, Roster
from kiosk.services.roster import StaffRoster
from kiosk.store import KioskStore

logger = logging.getLogger(__name__)

#: The reader's state (present, absent or error) and its name, as the window's reader events tell it.
ReaderProbe = Callable[[], tuple[str, str | None]]


def no_reader_watched() -> tuple[str, str | None]:
    """The probe while nothing watches the reader (before the window starts, or headless)."""
    return "absent", None


class HeartbeatWorker:
    """Sends the heartbeat in the background, at an interval or at once when woken."""

    def __init__(self, store: KioskStore, linkage: LinkageClient, roster: StaffRoster, *,
                 interval: float = 30.0, last_sync: Callable[[], dt.datetime | None] = lambda: None,
                 version: str = __version__) -> None:
        self._store = store
        self._linkage = linkage
        self._roster = roster
        self._last_sync = last_sync
        self.interval = interval
        self.version = version
        #: Set by whoever watches the reader (the window).
        self.reader: ReaderProbe = no_reader_watched
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failing = False
        self._wait_first = False
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self, *, wait_first: bool = False) -> HeartbeatWorker:
        """Beat in the background, at once or (``wait_first``: a heartbeat was just sent) after an
        interval."""
        self._wait_first = wait_first
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def report(self) -> HealthReport:
        state, name = self.reader()
        return HealthReport(version=self.version, reader_state=state, reader_name=name,
                            outbox_depth=self._store.outbox_depth(), last_sync_at=self._last_sync())

    def beat_once(self) -> Roster:
        """One heartbeat; the roster answered is kept. A ``LinkageError`` propagates."""
        roster = self._linkage.heartbeat(self.report())
        self._roster.keep(roster)
        return roster

    def _run(self) -> None:
        if self._wait_first:
            self._wake.wait(self.interval)
            self._wake.clear()
        while not self._stop.is_set():
            try:
                self.beat_once()
                if self._failing:
                    logger.info("heartbeat answered again; the staff roster is current")
                self._failing = False
            except LinkageError as exc:
                if not self._failing:  # once per outage, not every interval
                    logger.warning("heartbeat failed (%s); the staff roster ages until it is answered",
                                   exc.code, extra={"code": exc.code})
                self._failing = True
            except Exception:  # never let the worker die; the next round tries again
                logger.exception("heartbeat failed")
            self._wake.wait(self.interval)
            self._wake.clear()
