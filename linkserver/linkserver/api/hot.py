"""The two requests of every pair, served without FastAPI's per-request machinery.

``POST /v1/challenges`` and ``POST /v1/verifications`` are what every counter sends for every
card. FastAPI resolves a route's dependencies, parses and validates its body and validates and
encodes its answer through generic layers that cost a few hundred microseconds of CPU per request:
more than the statements and the RSA checks of the request itself. Here the same steps are done
directly, for these two routes only:

- the access token is read as ``HTTPBearer`` reads it and checked by the same ``uncounted_caller``;
- the body is parsed and validated in one step (``model_validate_json``), accepted only as JSON
  (``application/json`` or ``application/*+json``), as FastAPI accepts it; a body that is not
  valid is refused with the same ``RequestValidationError``, at the same moment, and so with
  the same answer;
- the same endpoint functions (``linkserver.api.verification``) then do the work, and their
  answer is encoded by its own model.

The FastAPI routes stay declared: they are what the OpenAPI document describes, and the routes
here are served in front of them (``HotRoutes``, the innermost of the application's middlewares),
so that a request to these paths with this method meets them first, and any other goes on to
FastAPI as before. The application's own middlewares (host, headers, size limit, request log) are
around them as around every route, and a refusal they raise is answered by the application's own
exception handlers; what Starlette's exception layer, router and route wrapper would add to each
request (about 5 % of a pair's CPU) is left out.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from linkserver.api import verification
from linkserver.api.deps import Services, bearer, uncounted_caller
from linkserver.schemas import VerificationRequest
from linkserver.tokens import Caller

JSON = "application/json"
M = TypeVar("M", bound=BaseModel)


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON as FastAPI reads it: ``application/json`` or a
    ``+json`` subtype of ``application``, any parameters aside. No header is not JSON."""
    if not content_type:
        return False
    maintype, _, subtype = content_type.partition(";")[0].strip().lower().partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def read_body(model: type[M], content_type: str | None, body: bytes) -> M | RequestValidationError:
    """``body`` as ``model``, or the ``RequestValidationError`` FastAPI finds in it (each problem's
    location under ``body``), to be raised once the caller is known, as FastAPI raises it.

    A JSON body that cannot be decoded at all is refused here and now (422), and one that cannot
    be read (not text, or nested past Python's limit) 400, as FastAPI refuses them before it
    looks at the token. Only a body this parser refuses is read again FastAPI's way
    (``json.loads``, then the model), so that each refusal names the same problems."""
    if not body:
        return RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required",
                                        "input": None}])
    if not is_json(content_type):
        return _refusal(model, body)  # FastAPI validates the bytes themselves: never a model
    try:
        return model.model_validate_json(body)
    except ValidationError:
        pass
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", exc.pos),
                                       "msg": "JSON decode error", "input": {}, "ctx": {"error": exc.msg}}],
                                     ) from None
    except Exception:  # as FastAPI: bytes that are no text in JSON's encodings, nesting too deep
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from None
    return _refusal(model, document)


def _refusal(model: type[M], value: object) -> M | RequestValidationError:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        return RequestValidationError([{**error, "loc": ("body", *error["loc"])}
                                       for error in exc.errors(include_url=False, include_input=False)])


async def _caller(request: Request) -> tuple[Caller, Services]:
    found: Services = request.app.state.services
    return await uncounted_caller(await bearer(request), found), found


def _json(model: BaseModel, status: int) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type=JSON)


async def new_challenge(request: Request) -> Response:
    who, found = await _caller(request)
    return _json(await verification.new_challenge(who, found), 201)


async def verify(request: Request) -> Response:
    body = read_body(VerificationRequest, request.headers.get("content-type"), await request.body())
    who, found = await _caller(request)
    if isinstance(body, RequestValidationError):
        raise body
    return _json(await verification.verify(body, who, found), 200)


Endpoint = Callable[[Request], Awaitable[Response]]

#: The paths served here, for ``POST``.
HOT_ROUTES: tuple[tuple[str, Endpoint], ...] = (
    ("/v1/challenges", new_challenge), ("/v1/verifications", verify))


class HotRoutes:
    """Answers ``POST`` to the paths of ``routes`` with their endpoints, and passes every other
    request on to ``app``.

    A refusal an endpoint raises is answered by the handler ``owner`` has for it, found as
    Starlette's exception layer finds it: for an ``HTTPException`` the handler of its status code
    first, then the handler of the nearest class in the exception's MRO. The handlers of 500 and of
    ``Exception`` are not theirs to use (Starlette gives them to its outermost layer), so an
    exception no handler takes goes on, to the request log's answer for what escaped the routes.
    The handlers are read as the application builds its middlewares, at its first request, when
    all of them have been added, as Starlette's own layer reads them."""

    def __init__(self, app: ASGIApp, owner: FastAPI, routes: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.routes = dict(routes)
        self._status_handlers: dict[int, Callable[..., Any]] = {}
        self._class_handlers: dict[type, Callable[..., Any]] = {}
        for key, handler in owner.exception_handlers.items():
            if key in (500, Exception):
                continue
            if isinstance(key, int):
                self._status_handlers[key] = handler
            else:
                self._class_handlers[key] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http_post = scope["type"] == "http" and scope["method"] == "POST"
        endpoint = self.routes.get(scope["path"]) if http_post else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Callable[..., Any] | None:
        if isinstance(exc, HTTPException) and exc.status_code in self._status_handlers:
            return self._status_handlers[exc.status_code]
        found = self._class_handlers
        return next((found[cls] for cls in type(exc).__mro__ if cls in found), None)


def serve_first(app: FastAPI) -> None:
    """Serve the routes here in front of the application's own for the same paths and method.

    Called before the application's other middlewares are added, so that it is the innermost of
    them: the size limit, request log, host guard and headers are around it."""
    app.add_middleware(HotRoutes, owner=app, routes=dict(HOT_ROUTES))
