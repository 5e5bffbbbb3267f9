"""The pair's two routes served without FastAPI's per-request layers (``linkserver.api.hot``) give
the same answers as the FastAPI routes they stand in front of: each request here is sent to both,
over real HTTP, and the answers compared."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest

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


@contextmanager
def fastapi_routes_only(live: LiveServer) -> Iterator[None]:
    routes = live.server.app.router.routes
    taken = [route for route in routes if getattr(route, "endpoint", None) in dict(hot.HOT_ROUTES).values()]
    assert len(taken) == len(hot.HOT_ROUTES)
    for route in taken:
        routes.remove(route)
    try:
        yield
    finally:
        routes[0:0] = taken


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
