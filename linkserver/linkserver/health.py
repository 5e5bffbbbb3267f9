"""Kiosk health: each kiosk's heartbeat, kept as its latest report, and read for the console.

While online a kiosk reports every few seconds its software version, its card reader's state,
how many items wait in its outbox and when it last synced it. The server keeps only the latest
report per kiosk (``kiosk_health``), not a history, and writes no audit entry for it: a heartbeat
changes nothing anyone answers for. The answer carries the kiosk's offline roster
(``linkserver.roster``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from linkserver.db import Database
from linkserver.errors import ApiError, ErrorCode
from linkserver.models import KioskClient, KioskHeartbeat
from linkserver.roster import Roster, roster_for
from linkserver.service import ServerParts
from linkserver.tokens import DEFAULT_KIOSK_SCOPES, Caller

READER_STATES = ("present", "absent", "error")


@dataclass(frozen=True)
class HeartbeatReport:
    """What a kiosk says of itself."""

    version: str
    reader_state: str
    reader_name: str | None
    outbox_depth: int
    last_sync_at: dt.datetime | None


@dataclass(frozen=True)
class KioskHealth:
    """One kiosk as the console shows it; the report's fields are None for a kiosk never heard from."""

    client_id: str
    counter_id: str | None
    last_contact_at: dt.datetime | None
    version: str | None
    reader_state: str | None
    reader_name: str | None
    outbox_depth: int | None
    last_sync_at: dt.datetime | None


def record_heartbeat(parts: ServerParts, caller: Caller, report: HeartbeatReport) -> Roster:
    """Keeps ``report`` as the kiosk's latest; answers its roster (empty without the offline scope)."""
    if not caller.scopes.intersection(DEFAULT_KIOSK_SCOPES):
        raise ApiError(ErrorCode.INSUFFICIENT_SCOPE, 403, "only a kiosk sends heartbeats")
    try:
        return _record(parts, caller, report)
    except IntegrityError:  # the kiosk's first two heartbeats at once: the other made the row
        return _record(parts, caller, report)


def _record(parts: ServerParts, caller: Caller, report: HeartbeatReport) -> Roster:
    now = parts.clock()
    with parts.db.transaction() as session:
        row = session.get(KioskHeartbeat, caller.client_id, with_for_update=True)
        if row is None:
            row = KioskHeartbeat(client_id=caller.client_id)
            session.add(row)
        row.last_contact_at, row.version = now, report.version
        row.reader_state, row.reader_name = report.reader_state, report.reader_name
        row.outbox_depth, row.last_sync_at = report.outbox_depth, report.last_sync_at
        if "offline" not in caller.scopes:
            return Roster(now, ())
        return roster_for(session, caller.client_id, lambda: now)


def kiosk_health(db: Database) -> list[KioskHealth]:
    """Every kiosk client (a client with a kiosk's scope) and its latest report, by client ID."""
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(KioskClient, KioskHeartbeat)
            .outerjoin(KioskHeartbeat, KioskHeartbeat.client_id == KioskClient.client_id)
            .order_by(KioskClient.client_id)).all()
        found = []
        for client, beat in rows:
            if beat is not None:
                found.append(KioskHealth(client.client_id, client.counter_id, beat.last_contact_at,
                                         beat.version, beat.reader_state, beat.reader_name,
                                         beat.outbox_depth, beat.last_sync_at))
            elif set(client.scopes.split()).intersection(DEFAULT_KIOSK_SCOPES):
                found.append(KioskHealth(client.client_id, client.counter_id, *(None,) * 6))
        return found
