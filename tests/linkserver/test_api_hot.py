"""The pair's two routes served without FastAPI's per-request layers (``linkserver.api.hot``) give
the same answers as the FastAPI routes they stand in front of: each request here is sent to both,
over real HTTP, and the answers compared."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from linkserver.api import hot
from tests.linkserver.helpers import LiveServer, b64

NONCE = b64(b"n" * 32)
SHAPED = {"account_id": "2024000001", "nonce": NONCE, "certificate": b64(b"cert"), "signature": b64(b"sig")}
#: The headers a client acts on, besides the body.
HEADERS = ("content-type", "www-authenticate", "retry-after", "allow", "cache-control")


def encoded(document: object) -> bytes:
    return json.dumps(document).encode("utf-8")


#: (content type, body) of verification requests, each with the answer both routes must agree on.
BODIES: dict[str, tuple[str | None, bytes]] = {
    "empty": ("application/json", b""),
    "no content type": (None, encoded(SHAPED)),
    "text/plain": ("text/plain", encoded(SHAPED)),
    "content type without a subtype": ("application", encoded(SHAPED)),
    "cut short": ("application/json", b'{"account_id": '),
    "not UTF-8": ("application/json", b'{"account_id": "\xc3\x28"}'),
    "nested past Python's limit": ("application/json", b'{"account_id": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    "an array": ("application/json", b"[]"),
    "an extra field": ("application/json", encoded({**SHAPED, "pin": "1234"})),
    "a number for a string": ("application/json", encoded({**SHAPED, "account_id": 2024000001})),
    "a field missing": ("application/json", encoded({k: v for k, v in SHAPED.items() if k != "signature"})),
    "a nonce too short": ("application/json", encoded({**SHAPED, "nonce": "abcd"})),
    "an account in the wrong format": ("application/json", encoded({**SHAPED, "account_id": "abc"})),
    "an unissued nonce": ("application/json", encoded(SHAPED)),
    "+json with a charset": ("application/vnd.kiosk+json; charset=utf-8", encoded(SHAPED)),
    "UTF-16": ("application/json", json.dumps(SHAPED).encode("utf-16")),
}
AUTHORIZATIONS = {"none": None, "basic": "Basic a2lvc2s6c2VjcmV0", "not a token": "Bearer not-a-token",
                  "bearer without a token": "Bearer"}


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The hot routes' steps run while inside (none when FastAPI's routes answered)."""
    ran: list[str] = []
    caller, read_body = hot._caller, hot.read_body

    async def counted_caller(request: Any) -> Any:
        ran.append("caller")
        return await caller(request)

    def counted_read_body(*args: Any) -> Any:
        ran.append("body")
        return read_body(*args)

    with monkeypatch.context() as patch:
        patch.setattr(hot, "_caller", counted_caller)
        patch.setattr(hot, "read_body", counted_read_body)
        yield ran


def hot_layer(live: LiveServer) -> hot.HotRoutes:
    """The application's ``HotRoutes`` middleware (the application has answered a request, so its
    middlewares are built)."""
    layer: Any = live.server.app.middleware_stack
    while not isinstance(layer, hot.HotRoutes):
        layer = layer.app
    return layer


@contextmanager
def fastapi_routes_only(live: LiveServer) -> Iterator[None]:
    layer = hot_layer(live)
    taken = layer.routes
    assert set(taken.values()) == set(dict(hot.HOT_ROUTES).values())
    layer.routes = {}
    try:
        yield
    finally:
        layer.routes = taken


def both(live: LiveServer, monkeypatch: pytest.MonkeyPatch,
         send: Callable[[], httpx2.Response]) -> tuple[httpx2.Response, httpx2.Response]:
    """The answer of the hot route, then of the FastAPI route, to the same request."""
    with counting(monkeypatch) as ran:
        fast = send()
    assert ran, "the hot route did not answer"
    with counting(monkeypatch) as ran, fastapi_routes_only(live):
        plain = send()
    assert not ran, "the hot route answered though it was taken away"
    return fast, plain


def assert_same(fast: httpx2.Response, plain: httpx2.Response) -> None:
    assert fast.status_code == plain.status_code, (fast.text, plain.text)
    assert fast.json() == plain.json()
    assert [fast.headers.get(name) for name in HEADERS] == [plain.headers.get(name) for name in HEADERS]


@pytest.mark.parametrize("case", BODIES)
def test_a_verification_body_gets_the_same_answer(shared_live: LiveServer, monkeypatch: pytest.MonkeyPatch,
                                                  case: str) -> None:
    content_type, body = BODIES[case]
    headers = {"Content-Type": content_type} if content_type else {}
    with shared_live.minted() as client:
        fast, plain = both(shared_live, monkeypatch, lambda: client.post(
            shared_live.url("/v1/verifications"), content=body, headers=headers))
    assert_same(fast, plain)
    assert fast.status_code in {400, 403, 422}


@pytest.mark.parametrize("authorization", AUTHORIZATIONS)
@pytest.mark.parametrize("case", ["an unissued nonce", "cut short", "a field missing"])
def test_a_refused_token_gets_the_same_answer(shared_live: LiveServer, monkeypatch: pytest.MonkeyPatch,
                                              authorization: str, case: str) -> None:
    """The token is looked at before the body, except a body that is not JSON at all, as in FastAPI."""
    content_type, body = BODIES[case]
    headers = {"Content-Type": content_type or ""}
    if AUTHORIZATIONS[authorization]:
        headers["Authorization"] = AUTHORIZATIONS[authorization] or ""
    for path in ("/v1/challenges", "/v1/verifications"):
        fast, plain = both(shared_live, monkeypatch, lambda: httpx2.post(
            shared_live.url(path), content=body, headers=headers))  # noqa: B023 (called at once)
        assert_same(fast, plain)
        assert fast.status_code == (422 if path == "/v1/verifications" and case == "cut short" else 401)


def test_a_pair_gets_the_same_answers(shared_live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with shared_live.minted() as client:
        fast, plain = both(shared_live, monkeypatch,
                           lambda: shared_live.verify(client, "linked", "2024000001"))
        assert fast.status_code == plain.status_code == 200, (fast.text, plain.text)
        fast_body, plain_body = fast.json(), plain.json()
        assert fast_body["match"] is plain_body["match"] is True
        assert fast_body.keys() == plain_body.keys()
        assert fast_body["name_on_record"] == plain_body["name_on_record"]
        assert fast_body["certificate_not_after"] == plain_body["certificate_not_after"]
        assert fast_body["verification_id"] != plain_body["verification_id"]
        fast, plain = both(shared_live, monkeypatch, lambda: client.post(shared_live.url("/v1/challenges")))
    assert fast.status_code == plain.status_code == 201
    assert fast.json().keys() == plain.json().keys() == {"nonce", "expires_at"}
    assert fast.headers["content-type"] == plain.headers["content-type"]


def test_other_methods_on_the_pair_routes_are_refused_as_before(shared_live: LiveServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for path in ("/v1/challenges", "/v1/verifications"):
        fast = httpx2.get(shared_live.url(path))
        with fastapi_routes_only(shared_live):
            plain = httpx2.get(shared_live.url(path))
        assert_same(fast, plain)
        assert fast.status_code == 405
        assert fast.headers["allow"] == "POST"


def test_the_pair_routes_stay_in_the_openapi_document(shared_live: LiveServer) -> None:
    paths = httpx2.get(shared_live.url("/openapi.json")).json()["paths"]
    assert set(paths["/v1/challenges"]) == {"post"}
    assert "requestBody" in paths["/v1/verifications"]["post"]


@pytest.mark.parametrize(("content_type", "expected"), [
    ("application/json", True), ("Application/JSON; charset=utf-8", True), ("application/problem+json", True),
    ("application/jsonp", False), ("text/json", False), ("application", False), ("", False), (None, False),
    (" application/json ;x=1", True), ("application/x-www-form-urlencoded", False),
])
def test_json_content_types_are_those_fastapi_reads(content_type: str | None, expected: bool) -> None:
    assert hot.is_json(content_type) is expected


def test_the_pair_routes_are_served_behind_the_applications_edge(
        shared_live: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The request log, the host guard, the size limit and the headers are around the hot routes."""
    caplog.set_level("INFO", logger="linkserver.http")
    with shared_live.minted() as client:
        with counting(monkeypatch) as ran:
            answer = client.post(shared_live.url("/v1/challenges"))
            assert answer.status_code == 201 and ran == ["caller"]
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"
            logged = [record.getMessage() for record in caplog.records]
            assert any(line.startswith("POST /v1/challenges 201 ") for line in logged), logged
            elsewhere = client.post(shared_live.url("/v1/challenges"), headers={"Host": "evil.example"})
            too_big = client.post(shared_live.url("/v1/verifications"), content=b"{" + b" " * 70_000 + b"}",
                                  headers={"Content-Type": "application/json"})
        assert ran == ["caller"], "a request the edge refused reached the hot route"
    assert elsewhere.status_code == 400
    assert too_big.status_code == 413 and too_big.json()["error"] == "request_too_large"


# -- the layer itself, without a server ---------------------------------------------------------


class Teapot(HTTPException):
    pass


def layer_answers(raised: Exception, method: str = "POST", path: str = "/hot") -> list[dict[str, Any]]:
    """What ``HotRoutes`` sends for a request to an app whose hot endpoint raises ``raised``:
    418 handled by its status, ``ValueError`` by its class, ``Exception`` by a handler not the
    layer's. Other requests get 204 from the app behind it."""
    owner = FastAPI()

    async def by_status(_request: Request, exc: Exception) -> Response:
        return Response(b"status", status_code=418)

    async def by_class(_request: Request, exc: Exception) -> Response:
        return Response(type(exc).__name__.encode(), status_code=400)

    def by_class_in_a_thread(_request: Request, exc: Exception) -> Response:
        return Response(b"thread", status_code=409)

    owner.add_exception_handler(418, by_status)
    owner.add_exception_handler(HTTPException, by_class)
    owner.add_exception_handler(ValueError, by_class)
    owner.add_exception_handler(KeyError, by_class_in_a_thread)
    owner.add_exception_handler(Exception, by_class)  # the outermost layer's, not the routes'

    async def endpoint(_request: Request) -> Response:
        raise raised

    async def behind(scope: Any, receive: Any, send: Any) -> None:
        await Response(status_code=204)(scope, receive, send)

    layer = hot.HotRoutes(behind, owner, {"/hot": endpoint})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    asyncio.run(layer(scope, receive, send))  # type: ignore[arg-type]
    return sent


@pytest.mark.parametrize(("raised", "status", "body"), [
    (Teapot(418), 418, b"status"), (HTTPException(404), 400, b"HTTPException"), (Teapot(403), 400, b"Teapot"),
    (UnicodeError("x"), 400, b"UnicodeError"), (KeyError("x"), 409, b"thread"),
])
def test_a_refusal_is_answered_by_the_handler_starlette_would_find(raised: Exception, status: int,
                                                                    body: bytes) -> None:
    start, answer = layer_answers(raised)
    assert start["status"] == status and answer["body"] == body


def test_an_exception_no_route_handler_takes_goes_on_out_of_the_layer() -> None:
    with pytest.raises(RuntimeError, match="broken"):
        layer_answers(RuntimeError("broken"))


@pytest.mark.parametrize(("method", "path"), [("GET", "/hot"), ("POST", "/other"), ("POST", "/hot/")])
def test_other_requests_go_on_to_the_app(method: str, path: str) -> None:
    assert layer_answers(RuntimeError("not called"), method, path)[0]["status"] == 204
