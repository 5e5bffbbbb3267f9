"""The composition root of the kiosk's services: settings in, every service built once and passed on."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.clock import utc_now
from kiosk.config import KioskSettings
from kiosk.linkage import LinkageClient, LinkageConfig, LinkageError
from kiosk.nfc import CardConnection
from kiosk.offline import LocalValidator
from kiosk.services.heartbeat import HeartbeatWorker
from kiosk.services.operations import OperationService
from kiosk.services.outbox import OfflineOutbox, SyncWorker, remember_sealing_key
from kiosk.services.roster import StaffRoster
from kiosk.services.verification import VerificationSession
from kiosk.store import KioskStore

logger = logging.getLogger(__name__)


@dataclass
class KioskCore:
    """Everything the screens (or ``kiosk flow``) drive; no Qt anywhere below it."""

    settings: KioskSettings
    linkage: LinkageClient
    store: KioskStore
    validator: LocalValidator | None
    operations: OperationService
    outbox: OfflineOutbox
    sync: SyncWorker
    roster: StaffRoster
    heartbeat: HeartbeatWorker
    clock: Callable[[], dt.datetime] = utc_now

    @classmethod
    def build(cls, settings: KioskSettings, *, clock: Callable[[], dt.datetime] = utc_now) -> KioskCore:
        server = settings.server
        linkage = LinkageClient(LinkageConfig(
            base_url=server.url, client_id=settings.kiosk_id, key_path=settings.key_file,
            ca_file=server.ca_file, connect_timeout=server.connect_timeout_seconds,
            read_timeout=server.read_timeout_seconds, retries=server.retries,
        ))
        offline = settings.offline
        validator = None
        if offline.enabled:  # before the store: a file that does not load leaves nothing written
            validator = LocalValidator.from_files(offline.trust_anchors, offline.crl_files,
                                                  clock=clock, require_crl=offline.require_crl)
        store = KioskStore(settings.store_path, clock=clock)
        outbox = OfflineOutbox(store, settings.kiosk_id, settings.key_file.read_bytes())
        sync = SyncWorker(store, linkage, interval=offline.sync_interval_seconds,
                          max_backoff=offline.max_backoff_seconds, being_shown=outbox.being_shown,
                          clock=clock)
        outbox.on_shown = sync.wake
        roster = StaffRoster(store, dt.timedelta(hours=offline.roster_max_age_hours), clock)
        heartbeat = HeartbeatWorker(store, linkage, roster, interval=server.heartbeat_seconds,
                                    last_sync=lambda: sync.last_success)
        return cls(settings, linkage, store, validator,
                   OperationService(linkage, approval_timeout=server.approval_timeout_seconds),
                   outbox, sync, roster, heartbeat, clock)

    def start(self) -> KioskCore:
        """Learn the server's sealing key and the staff roster (a first heartbeat) if it can be
        reached, purge old records, start syncing and the heartbeat."""
        reached = False
        try:
            remember_sealing_key(self.store, self.linkage)
            self.heartbeat.beat_once()
            reached = True
        except LinkageError as exc:
            logger.warning("server not reachable at start (%s); offline until it is", exc.code,
                           extra={"code": exc.code})
        self.store.purge(self.settings.retention_days)
        if self.settings.offline.enabled:
            self.sync.start()
        self.heartbeat.start(wait_first=reached)
        return self

    def verification(self, card: CardConnection, account_id: str) -> VerificationSession:
        return VerificationSession(
            card, account_id, self.settings.kiosk_id, linkage=self.linkage, validator=self.validator,
            next_counter=self.store.next_offline_counter, clock=self.clock,
        )

    def close(self) -> None:
        self.heartbeat.stop()
        self.sync.stop()
        self.linkage.close()
        self.store.close()
