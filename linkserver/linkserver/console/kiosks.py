"""Kiosk health at ``/console/kiosks``: each kiosk's last contact, software version, reader state,
outbox depth and last sync, from its heartbeat (desk staff see their counters', supervisors all)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from linkserver.console.web import ConsoleParts, page, signed_in_as
from linkserver.health import KioskHealth, kiosk_health
from linkserver.staff import DECIDING_ROLES, StaffInfo

#: A kiosk not heard from for longer than this is shown as out of contact (heartbeats come every 30 s).
SILENT = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class KioskRow:
    health: KioskHealth
    silent_minutes: int | None  # None: in contact; otherwise minutes since the last heartbeat (or -1: never)


def rows(parts: ConsoleParts, member: StaffInfo) -> list[KioskRow]:
    now = parts.staff.clock()
    found = []
    for health in kiosk_health(parts.db):
        if not member.all_counters and health.counter_id not in member.counters:
            continue
        if health.last_contact_at is None:
            silent: int | None = -1
        elif now - health.last_contact_at > SILENT:
            silent = int((now - health.last_contact_at).total_seconds() // 60)
        else:
            silent = None
        found.append(KioskRow(health, silent))
    return found


def add_routes(app: FastAPI, parts: ConsoleParts) -> None:
    @app.get("/kiosks", response_class=HTMLResponse)
    def kiosks_page(request: Request) -> Response:
        found = signed_in_as(request, parts, DECIDING_ROLES, "auditor_only")
        if isinstance(found, Response):
            return found
        user, member = found
        return page(request, "kiosks.html", member=member, csrf=user.csrf, kiosks=rows(parts, member))
