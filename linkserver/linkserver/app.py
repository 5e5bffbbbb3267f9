"""The HTTP API (FastAPI): the application assembled from its routers, with its error bodies, size
limit and request log.

The routers (``linkserver.api``) only translate between HTTP and the services; every decision,
transaction and limit on kiosks and accounts lives in the services. Handlers are plain functions
(run on the worker pool), since each does blocking database and RSA work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match

from linkserver.api import device as device_routes
from linkserver.api import discovery, hot, kiosks, pages, staff, tokens, verification
from linkserver.api import offline as offline_routes
from linkserver.api import operations as operation_routes
from linkserver.api.deps import Services
from linkserver.api.responses import error_response
from linkserver.db import is_conflict
from linkserver.device import DeviceGrant
from linkserver.errors import ApiError, ErrorCode
from linkserver.logsafe import printable
from linkserver.offline import OfflineService
from linkserver.operations import OperationService
from linkserver.ratelimit import RateLimiter
from linkserver.schemas import ErrorBody
from linkserver.service import VerificationService
from linkserver.tokens import AuthError
from linkserver.wakeups import Wakeups

logger = logging.getLogger("linkserver.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATIC = Path(__file__).with_name("static")
#: What the request log says of a request whose client hung up before it was read (as proxies say it).
CLIENT_CLOSED_REQUEST = 499
#: The routers, in the order of the OpenAPI document.
ROUTERS = (discovery.router, tokens.router, device_routes.router, pages.router, verification.router,
           operation_routes.router, staff.router, offline_routes.router, kiosks.router)
#: The models whose ``account_id`` has the configured account ID format.
ACCOUNT_MODELS = ("VerificationRequest", "VoucherRequest")


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await self._refuse(scope, receive, send)
                return
        seen = 0
        refused = False

        async def limited() -> Message:
            # Over the limit, answer 413 at once and tell the app the client went away; whatever
            # the app then tries to send is dropped (it may not parse half a body into a 400).
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    if not refused:
                        refused = True
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited, guarded_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, ErrorCode.REQUEST_TOO_LARGE,
                                  f"request bodies are limited to {self.limit} bytes")
        await response(scope, receive, send)


def create_app(verification: VerificationService, operations: OperationService, device: DeviceGrant,
               offline: OfflineService, *, max_request_bytes: int = 64 * 1024,
               public_limiter: RateLimiter | None = None, docs: bool = False,
               wakeups: Wakeups | None = None) -> FastAPI:
    app = FastAPI(
        title="My Number Card linkage server",
        version="1.0.0",
        description=(
            "The reference linkage server the help-desk kiosk verifies against: client "
            "authentication, challenges, JPKI card verification with claim-then-match, the account "
            "operations with staff approval, the device authorization grant for pre-link, and "
            "offline evidence. Every refusal carries a documented code (GET /v1/codes)."
        ),
        responses={413: {"model": ErrorBody, "description": "Request body too large"}},
        redirect_slashes=False,  # its redirects are absolute URLs built from the Host header
        docs_url="/docs" if docs else None,  # the UI's scripts come from a CDN: only when configured
        redoc_url=None,
        # No OpenTelemetry: the server's records are its own log and audit chain, both written to
        # hold no secrets. FastAPI's spans and logs would carry request details unvetted, and its
        # check for a configured provider costs CPU on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    public_limiter = public_limiter or RateLimiter(verification.parts.db, "public", 30, 60)
    app.state.services = Services(verification, operations, device, offline, public_limiter,
                                  wakeups or Wakeups())
    hot.serve_first(app)  # every pair's two requests, without FastAPI's per-request layers; innermost
    app.add_middleware(BodyLimit, limit=max_request_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")  # the pages' styles and scripts
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(AuthError, _auth_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_middleware(RequestLog)
    for router in ROUTERS:
        app.include_router(router)
    _state_account_format(app, verification.parts.policy.account_id_pattern)
    return app


# -- errors and logging -----------------------------------------------------------------------


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


async def _auth_error(request: Request, exc: AuthError) -> JSONResponse:
    if request.url.path.startswith("/oauth/"):
        return JSONResponse({"error": exc.code, "error_description": exc.description},
                            status_code=exc.status, headers={"Cache-Control": "no-store"})
    if exc.code == ErrorCode.INVALID_TOKEN:
        return error_response(401, ErrorCode.INVALID_TOKEN, exc.description)
    return error_response(exc.status, exc.code, exc.description)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    # The routing layer's own refusals: no such path, a method the path does not have, or a
    # body that cannot be read at all.
    messages = {404: "there is no such resource", 405: f"this resource does not allow {request.method}",
                400: "the request body could not be read"}
    message = messages.get(exc.status_code, str(exc.detail))
    if request.url.path.startswith("/oauth/"):
        response = JSONResponse({"error": "invalid_request", "error_description": message},
                                status_code=exc.status_code, headers={"Cache-Control": "no-store"})
    else:
        response = error_response(exc.status_code, ErrorCode.INVALID_REQUEST, message)
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request.app, request.scope))
    return response


async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    # Name the fields, never echo their values: a password or a certificate may be among them.
    problems = sorted({".".join(str(p) for p in error.get("loc", ())[1:]) or "body"
                       for error in exc.errors()})
    return error_response(422, ErrorCode.INVALID_REQUEST, "the request does not match the API's schema",
                          problems=problems)


class RequestLog:
    """Logs every request with its status and time, and answers for what escaped the routes: a
    client gone before its request was read (499), a database that stayed busy (503
    ``database_busy``) and any other failure (500, logged with its traceback). A plain ASGI
    middleware: no task or stream of its own per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting)
        except Exception as exc:
            response = _answer_for(scope, exc)
            if not status:
                await response(scope, receive, noting)
            else:
                status.append(response.status_code)
        route = scope.get("route")
        # An unrouted path is logged as sent, escaped: it must not forge or hide a log line.
        logger.info("%s %s %s %.1f ms", printable(scope["method"]),
                    printable(getattr(route, "path", scope["path"])), status[-1] if status else 0,
                    (time.perf_counter() - started) * 1000)


def _answer_for(scope: Scope, exc: Exception) -> Response:
    """The answer to a request whose handling raised ``exc``."""
    method, path = printable(scope["method"]), printable(scope["path"])
    if isinstance(exc, ClientDisconnect):
        # The client hung up before its request was read (a kiosk's network dropped, a client
        # closed): nothing failed here and nothing was applied; no one is left to answer.
        logger.info("the client went away during %s %s", method, path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    if isinstance(exc, DBAPIError) and is_conflict(exc):
        # Database.run tried the work again and again; still no luck: say so, and that the
        # same request may come again, rather than that the server failed.
        logger.warning("%s %s: concurrent work kept the records busy after the retries", method, path)
        return error_response(503, ErrorCode.DATABASE_BUSY, "concurrent requests kept the same "
                              "records busy; nothing was changed, try again in a moment", retry_after=1)
    logger.error("unhandled error in %s %s", method, path, exc_info=exc)
    return error_response(500, "internal", "the server failed; the request was not applied")


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route has for the request's path."""
    methods: set[str] = set()
    for route in (*app.router.routes, *(route for router in ROUTERS for route in router.routes)):
        match, _child = route.matches(scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def _state_account_format(app: FastAPI, account_pattern: str) -> None:
    """The account ID format is a policy setting: the OpenAPI document states the configured one."""
    if not (account_pattern.startswith("^") and account_pattern.endswith("$")):
        account_pattern = f"^(?:{account_pattern})$"
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = build_openapi()
        if first:
            models = document["components"]["schemas"]
            for model in ACCOUNT_MODELS:
                models[model]["properties"]["account_id"]["pattern"] = account_pattern
        return document

    app.openapi = openapi  # type: ignore[method-assign]
