"""The console's routes: sign-in (password, then TOTP, enrolled at the first sign-in), the queue of
requests waiting on the member's counters, and decisions. Mounted by the server at ``/console``.

Every page carries the server's page headers (a Content-Security-Policy with no inline script and
``frame-ancestors 'none'``, no caching). Cookies are HttpOnly and SameSite=Strict, and Secure
except over plain HTTP on loopback. Every form carries a CSRF token: before sign-in one bound to a
cookie of its own, afterwards the session's; a stale one gets 403 and changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from urllib.parse import quote

import segno
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from linkserver import outages
from linkserver.console import admin, kiosks, records
from linkserver.console.queue import REFUSAL_REASONS, NotYours
from linkserver.console.sessions import SIGNED_IN, ConsoleUser
from linkserver.console.texts import TEXTS
from linkserver.console.web import (
    FORM_COOKIE,
    HERE,
    LIVE_PING,
    LIVE_RECHECK,
    PATH,
    SESSION_COOKIE,
    ConsoleParts,
    current_user,
    form,
    language,
    page,
    redirect,
    set_cookie,
)
from linkserver.errors import ApiError
from linkserver.staff import SignInRefused, StaffInfo, provisioning_uri


def create_console(parts: ConsoleParts) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="console-static")
    _sign_in_routes(app, parts)
    _second_factor_routes(app, parts)
    _queue_routes(app, parts)
    _live_routes(app, parts)
    records.add_routes(app, parts)
    records.add_offline_routes(app, parts)
    admin.add_routes(app, parts)
    kiosks.add_routes(app, parts)
    return app


def _sign_in_form(request: Request, message: str | None = None, status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(request, "sign_in.html", status, csrf=token, message=message)
    set_cookie(response, request, FORM_COOKIE, token)
    return response


def _refusal_words(request: Request, refused: SignInRefused) -> str:
    words = TEXTS[language(request)]
    if refused.code == "locked" and refused.until is not None:
        return words["locked"] % refused.until.strftime("%H:%M")
    return words.get(refused.code, words["wrong"])


def _sign_in_routes(app: FastAPI, parts: ConsoleParts) -> None:
    @app.get("/sign-in", response_class=HTMLResponse)
    def sign_in_page(request: Request) -> HTMLResponse:
        expired = request.query_params.get("expired") == "1"
        return _sign_in_form(request, TEXTS[language(request)]["expired"] if expired else None)

    @app.post("/sign-in", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        fields = await form(request)
        cookie = request.cookies.get(FORM_COOKIE, "")
        if not cookie or not secrets.compare_digest(fields.get("csrf", "").encode(), cookie.encode()):
            return _sign_in_form(request, TEXTS[language(request)]["stale_form"], 403)
        staff_id = fields.get("staff_id", "").strip()
        try:
            member = parts.staff.check_password(staff_id, fields.get("password", ""))
        except SignInRefused as refused:
            return _sign_in_form(request, _refusal_words(request, refused), 401)
        pending = None if member.enrolled else parts.staff.offer_enrolment(member.staff_id)[1]
        user = parts.sessions.start(member.staff_id, "second_factor" if member.enrolled else "enrol", pending)
        response = redirect("/second-factor")
        set_cookie(response, request, SESSION_COOKIE, user.token)
        response.delete_cookie(FORM_COOKIE, path=PATH)
        return response

    @app.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        user = current_user(request, parts)
        fields = await form(request)
        if user is not None and not user.csrf_ok(fields.get("csrf")):
            return page(request, "message.html", 403, message=TEXTS[language(request)]["stale_form"])
        if user is not None:
            parts.sessions.end(user)
        response = redirect("/sign-in")
        response.delete_cookie(SESSION_COOKIE, path=PATH)
        return response


def _second_factor_routes(app: FastAPI, parts: ConsoleParts) -> None:
    @app.get("/second-factor", response_class=HTMLResponse)
    def second_factor_page(request: Request) -> Response:
        user = current_user(request, parts)
        if user is None or user.signed_in:
            return redirect("/sign-in" if user is None else "/")
        return _second_factor(request, parts, user)

    @app.post("/second-factor", response_class=HTMLResponse)
    async def second_factor(request: Request) -> Response:
        user = current_user(request, parts)
        if user is None or user.signed_in:
            return redirect("/sign-in?expired=1" if user is None else "/")
        fields = await form(request)
        if not user.csrf_ok(fields.get("csrf")):
            return _second_factor(request, parts, user, TEXTS[language(request)]["stale_form"], 403)
        code = fields.get("code", "")
        try:
            if user.stage == "enrol" and user.pending_totp is not None:
                parts.staff.confirm_enrolment(user.staff_id, user.pending_totp, code)
            else:
                parts.staff.check_totp(user.staff_id, code)
        except SignInRefused as refused:
            if refused.code != "wrong":
                parts.sessions.end(user)
                return _sign_in_form(request, _refusal_words(request, refused), 401)
            return _second_factor(request, parts, user, _refusal_words(request, refused), 401)
        fresh = parts.sessions.advance(user, SIGNED_IN)
        response = redirect("/")
        set_cookie(response, request, SESSION_COOKIE, fresh.token)
        return response


def _second_factor(request: Request, parts: ConsoleParts, user: ConsoleUser, message: str | None = None,
                   status: int = 200) -> HTMLResponse:
    qr = secret = None
    if user.stage == "enrol" and user.pending_totp is not None:
        secret = parts.staff.sealer.open(user.staff_id, user.pending_totp)
        qr = segno.make(provisioning_uri(user.staff_id, secret), error="m").svg_inline(scale=5, border=4)
    return page(request, "second_factor.html", status, csrf=user.csrf, qr=qr, secret=secret, message=message)


def _queue_routes(app: FastAPI, parts: ConsoleParts) -> None:
    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request) -> Response:
        user = current_user(request, parts)
        if user is None or not user.signed_in:
            return redirect("/sign-in")
        member = parts.staff.info(user.staff_id)
        words = TEXTS[language(request)]
        try:
            waiting = parts.queue.pending(member)
        except NotYours:
            return page(request, "message.html", member=member, csrf=user.csrf, message=words["auditor_only"])
        done = request.query_params.get("done")
        message = words.get(done) if done in ("approved", "refused") else None
        return page(request, "queue.html", member=member, csrf=user.csrf, waiting=waiting,
                    reasons=REFUSAL_REASONS, message=message)

    @app.post("/operations/{operation_id}/decision", response_class=HTMLResponse)
    async def decide(request: Request, operation_id: str) -> Response:
        user = current_user(request, parts)
        if user is None or not user.signed_in:
            return redirect("/sign-in?expired=1")
        fields = await form(request)
        words = TEXTS[language(request)]
        member = parts.staff.info(user.staff_id)
        if not user.csrf_ok(fields.get("csrf")):
            return page(request, "message.html", 403, member=member, csrf=user.csrf,
                        message=words["stale_form"])
        approve = fields.get("decision") == "approve"
        try:
            parts.queue.decide(member, operation_id, approve, fields.get("reason"))
            parts.wakeups.notify()
        except NotYours:
            return page(request, "message.html", 403, member=member, csrf=user.csrf,
                        message=words["not_yours"])
        except ApiError as refused:
            if outages.backend_down(refused):  # recorded in the audit log by the decision itself
                return page(request, "message.html", refused.status, member=member, csrf=user.csrf,
                            message=words[str(refused.code)])
            return page(request, "message.html", refused.status, member=member, csrf=user.csrf,
                        message=f"{refused.message} ({refused.code})")
        return redirect("/?done=" + quote("approved" if approve else "refused"))


def _live_routes(app: FastAPI, parts: ConsoleParts) -> None:
    """The live queue: ``/events`` tells the page (``static/console.js``) when the member's queue
    changed, and the page fetches ``/queue`` to redraw it. Neither counts as the member's activity,
    so an open page still ends its session when idle; the stream then says ``signed-out``."""

    @app.get("/queue", response_class=HTMLResponse)
    def queue_fragment(request: Request) -> Response:
        user = current_user(request, parts, touch=False)
        if user is None or not user.signed_in:
            return Response(status_code=401)
        member = parts.staff.info(user.staff_id)
        try:
            waiting = parts.queue.pending(member)
        except NotYours:
            return Response(status_code=403)
        return page(request, "queue_items.html", csrf=user.csrf, waiting=waiting, reasons=REFUSAL_REASONS)

    @app.get("/events")
    async def events(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        user = await run_in_threadpool(parts.sessions.find, token, False)
        if user is None or not user.signed_in:
            return Response(status_code=204)  # an EventSource stops reconnecting on 204
        member = await run_in_threadpool(parts.staff.info, user.staff_id)
        if not member.decides:
            return Response(status_code=204)
        return EventSourceResponse(_queue_changes(parts, token, member), ping=LIVE_PING,
                                   headers={"Cache-Control": "no-store"})


async def _queue_changes(parts: ConsoleParts, token: str | None,
                         member: StaffInfo) -> AsyncIterator[dict[str, str]]:
    """An event each time the member's queue holds other requests; ``signed-out`` when the session ends."""
    shown: tuple[str, ...] | None = None
    while True:
        user = await run_in_threadpool(parts.sessions.find, token, False)
        if user is None or not user.signed_in:
            yield {"event": "signed-out", "data": ""}
            return
        waiting = await run_in_threadpool(parts.queue.pending, member)
        now = tuple(item.operation_id for item in waiting)
        if now != shown:
            shown = now
            yield {"event": "queue", "data": str(len(now))}
        await parts.wakeups.wait(LIVE_RECHECK)
