"""What staff answer for afterwards: the audit trail and the offline queue.

- ``/audit`` (auditors and supervisors): search the hash-chained audit log by account, kiosk,
  counter, operation, staff member and time range; ``/audit.csv`` exports the same search;
  ``/audit/chain`` checks the chain (with the audit key and the signed checkpoints) and says
  whether it is intact or where it breaks. Nothing is shown beyond what the log holds.
- ``/offline`` (desk staff for their counters, supervisors for all): each evidence bundle a kiosk
  sent after working offline, and its fate; whether its voucher was shown and redeemed. The
  voucher itself is never stored in plain, so never shown.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import Select, select

from linkserver.anchor import CheckpointError, check_anchored
from linkserver.console.queue import mask_account
from linkserver.console.web import ConsoleParts, page, refuse, signed_in_as
from linkserver.models import AuditEntry, KioskClient, OfflineEvidence
from linkserver.staff import DECIDING_ROLES, StaffInfo

#: Rows on a page of search results; the CSV holds every match.
PAGE_ROWS = 200
FIELDS = ("account", "kiosk", "counter", "operation", "staff", "since", "until")
AUDIT_ROLES = frozenset({"auditor", "supervisor"})


class BadSearch(ValueError):
    """A search field that cannot be used (a date that is not one)."""


@dataclass(frozen=True)
class AuditSearch:
    account: str = ""
    kiosk: str = ""
    counter: str = ""
    operation: str = ""
    staff: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def from_query(cls, query: dict[str, str]) -> AuditSearch:
        text = {name: query.get(name, "").strip()[:64] for name in FIELDS}
        return cls(text["account"], text["kiosk"], text["counter"], text["operation"], text["staff"],
                   _moment(text["since"], "since"), _moment(text["until"], "until", end=True))

    def statement(self) -> Select[AuditEntry]:
        found = select(AuditEntry).order_by(AuditEntry.seq.desc())
        if self.account:
            found = found.where(AuditEntry.account_id == self.account)
        if self.kiosk:
            found = found.where(AuditEntry.client_id == self.kiosk)
        if self.counter:
            kiosks = select(KioskClient.client_id).where(KioskClient.counter_id == self.counter)
            found = found.where(AuditEntry.client_id.in_(kiosks.scalar_subquery()))
        for key, value in (("operation_id", self.operation), ("staff", self.staff)):
            if value:  # details are compact, key-sorted JSON: this is the exact pair
                found = found.where(AuditEntry.details.contains(f"{json.dumps(key)}:{json.dumps(value)}",
                                                                autoescape=True))
        if self.since:
            found = found.where(AuditEntry.at >= self.since)
        if self.until:
            found = found.where(AuditEntry.at < self.until)
        return found


def _moment(text: str, name: str, end: bool = False) -> dt.datetime | None:
    """A date (``2026-12-03``, the whole day) or a time (``2026-12-03T09:30``), in UTC."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime.combine(day, dt.time(), dt.UTC)
            return moment + dt.timedelta(days=1) if end else moment
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadSearch(name) from None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _row(entry: AuditEntry) -> dict[str, str]:
    return {"seq": str(entry.seq), "at": entry.at.isoformat(timespec="seconds"), "event": entry.event,
            "client": entry.client_id or "", "account": entry.account_id or "", "details": entry.details}


def _csv(parts: ConsoleParts, search: AuditSearch) -> Iterator[str]:
    """The search's every match as CSV, written as it is read; cells that a spreadsheet would run
    as a formula are quoted as text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["seq", "at", "event", "client", "account", "details"])
    with parts.db.transaction(write=False) as session:
        for entry in session.scalars(search.statement().execution_options(yield_per=500)):
            writer.writerow([_cell(value) for value in _row(entry).values()])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass(frozen=True)
class Bundle:
    """One offline evidence bundle as the offline queue shows it."""

    kiosk: str
    received_at: dt.datetime
    kind: str
    account: str
    fate: str
    error_code: str | None
    voucher_shown: bool | None
    redeemed_at: dt.datetime | None


def offline_queue(parts: ConsoleParts, member: StaffInfo, limit: int = 500) -> list[Bundle]:
    with parts.db.transaction(write=False) as session:
        pairs = session.execute(select(KioskClient.client_id, KioskClient.counter_id))
        counters = {client_id: counter_id for client_id, counter_id in pairs}
        rows = session.scalars(select(OfflineEvidence).order_by(OfflineEvidence.received_at.desc())
                               .limit(limit)).all()
    found = []
    for row in rows:
        counter = counters.get(row.client_id)
        if not member.all_counters and counter not in member.counters:
            continue
        fate = row.fate
        if fate == "accepted":
            fate = "applied" if row.voucher_used_at else "reverified"
        account = mask_account(row.account_id or "")
        found.append(Bundle(row.client_id, row.received_at, row.kind or "", account, fate, row.error_code,
                            row.voucher_shown, row.voucher_used_at))
    return found


def add_routes(app: FastAPI, parts: ConsoleParts) -> None:
    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request) -> Response:
        found = signed_in_as(request, parts, AUDIT_ROLES, "audit_only")
        if isinstance(found, Response):
            return found
        user, member = found
        query = dict(request.query_params)
        try:
            search = AuditSearch.from_query(query)
        except BadSearch as bad:
            return page(request, "audit.html", 400, member=member, csrf=user.csrf, query=query, rows=[],
                        bad_field=str(bad))
        with parts.db.transaction(write=False) as session:
            rows = [_row(e) for e in session.scalars(search.statement().limit(PAGE_ROWS + 1))]
        return page(request, "audit.html", member=member, csrf=user.csrf, query=query,
                    rows=rows[:PAGE_ROWS], more=len(rows) > PAGE_ROWS,
                    csv_query=request.url.query)

    @app.get("/audit.csv")
    def audit_csv(request: Request) -> Response:
        found = signed_in_as(request, parts, AUDIT_ROLES, "audit_only")
        if isinstance(found, Response):
            return found
        user, member = found
        try:
            search = AuditSearch.from_query(dict(request.query_params))
        except BadSearch:
            return refuse(request, 400, user, member, "bad_search")
        return StreamingResponse(_csv(parts, search), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="audit.csv"', "Cache-Control": "no-store"})

    @app.get("/audit/chain", response_class=HTMLResponse)
    def audit_chain(request: Request) -> Response:
        found = signed_in_as(request, parts, AUDIT_ROLES, "audit_only")
        if isinstance(found, Response):
            return found
        user, member = found
        try:
            report = check_anchored(parts.db)
            untrusted = None
        except CheckpointError as exc:
            report, untrusted = None, str(exc)
        return page(request, "chain.html", member=member, csrf=user.csrf, report=report, untrusted=untrusted)



def add_offline_routes(app: FastAPI, parts: ConsoleParts) -> None:
    @app.get("/offline", response_class=HTMLResponse)
    def offline_page(request: Request) -> Response:
        found = signed_in_as(request, parts, DECIDING_ROLES, "auditor_only")
        if isinstance(found, Response):
            return found
        user, member = found
        return page(request, "offline.html", member=member, csrf=user.csrf,
                    bundles=offline_queue(parts, member))
