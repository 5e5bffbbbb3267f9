"""A supervisor's administration of staff and counters at ``/console/staff``: the same actions as
``kiosk-linkserver staff`` and ``counter``, each a form with the session's CSRF token, each audited
in the supervisor's name. A supervisor cannot disable or demote themselves out of the console."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from linkserver.console.sessions import ConsoleUser
from linkserver.console.texts import TEXTS
from linkserver.console.web import (
    ConsoleParts,
    form,
    language,
    page,
    redirect,
    refuse,
    signed_in,
    signed_in_as,
)
from linkserver.staff import ROLES, StaffError, StaffInfo

SUPERVISORS = ("supervisor",)
#: Each form's action: what it does with the fields, in the supervisor's name.
Action = Callable[[ConsoleParts, dict[str, str], StaffInfo], None]


def _add(parts: ConsoleParts, fields: dict[str, str], by: StaffInfo) -> None:
    parts.staff.add(fields.get("staff_id", "").strip(), fields.get("name", ""), fields.get("role", ""),
                    fields.get("password", ""), by=by.staff_id)


def _reset(parts: ConsoleParts, fields: dict[str, str], by: StaffInfo) -> None:
    parts.staff.reset(fields.get("staff_id", ""), fields.get("password", ""), by=by.staff_id)


def _enable(parts: ConsoleParts, fields: dict[str, str], by: StaffInfo) -> None:
    staff_id, enabled = fields.get("staff_id", ""), fields.get("enabled") == "1"
    if staff_id == by.staff_id and not enabled:
        raise StaffError("self", "a supervisor cannot disable themselves")
    parts.staff.set_enabled(staff_id, enabled, by=by.staff_id)


def _assign(parts: ConsoleParts, fields: dict[str, str], by: StaffInfo) -> None:
    parts.staff.assign(fields.get("staff_id", ""), fields.get("counter_id", ""),
                       fields.get("assigned", "1") == "1", by=by.staff_id)


def _add_counter(parts: ConsoleParts, fields: dict[str, str], by: StaffInfo) -> None:
    parts.staff.add_counter(fields.get("counter_id", "").strip(), fields.get("name", ""), by=by.staff_id)


def _place(parts: ConsoleParts, fields: dict[str, str], by: StaffInfo) -> None:
    parts.staff.place_kiosk(fields.get("client_id", ""), fields.get("counter_id", ""), by=by.staff_id)


ACTIONS: dict[str, Action] = {"add": _add, "reset": _reset, "enable": _enable, "assign": _assign,
                              "add-counter": _add_counter, "place": _place}


def _page(request: Request, parts: ConsoleParts, user: ConsoleUser, member: StaffInfo, status: int = 200,
          message: str | None = None, problem: str | None = None) -> HTMLResponse:
    return page(request, "staff.html", status, member=member, csrf=user.csrf, members=parts.staff.members(),
                counters=parts.staff.counters(), roles=ROLES, message=message, problem=problem)


def add_routes(app: FastAPI, parts: ConsoleParts) -> None:
    @app.get("/staff", response_class=HTMLResponse)
    def staff_page(request: Request) -> Response:
        found = signed_in_as(request, parts, SUPERVISORS, "supervisor_only")
        if isinstance(found, Response):
            return found
        user, member = found
        saved = TEXTS[language(request)]["saved"] if request.query_params.get("done") else None
        return _page(request, parts, user, member, message=saved)

    @app.post("/staff/{action}", response_class=HTMLResponse)
    async def staff_action(request: Request, action: str) -> Response:
        found = signed_in(request, parts)
        if isinstance(found, Response):
            return redirect("/sign-in?expired=1")
        user, member = found
        fields = await form(request)
        if member.role != "supervisor":
            return refuse(request, 403, user, member, "supervisor_only")
        if not user.csrf_ok(fields.get("csrf")):
            return refuse(request, 403, user, member, "stale_form")
        run = ACTIONS.get(action)
        if run is None:
            return refuse(request, 404, user, member, "stale_form")
        try:
            run(parts, fields, member)
        except StaffError as refused:
            words = TEXTS[language(request)]
            problem = words.get(f"staff_error_{refused.code}", str(refused))
            return _page(request, parts, user, member, 400, problem=problem)
        return redirect("/staff?done=1")
