"""The server's HTTP edge, over real sockets: what reaches the log, which hosts it answers for, who
the client is, the headers its pages are sent with, and what the sign-in page gives away.

Requests are written by hand where a client library would refuse or tidy them (a path with
control characters); the server is the ``kiosk-linkserver`` command, whose log is read as an
administrator reads it.
"""

from __future__ import annotations

import logging
import re
import socket
import sqlite3
import statistics
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI
from opentelemetry import _logs, metrics, trace
from sqlalchemy.exc import OperationalError

from kiosk.nfc.sim import TestHierarchy
from linkserver.config import ConfigError, Limits, load_settings
from linkserver.demo import prepare_demo
from linkserver.device import MAX_SIGN_IN_ATTEMPTS
from linkserver.service import VerificationService
from tests.helpers.server_api import DeviceFlow
from tests.linkserver.helpers import LiveServer, demo_command, live_server


def raw_request(base: str, request: bytes) -> bytes:
    """Send ``request`` as it is and return the server's whole answer (it closes the connection)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def get(base: str, target: str, host: str | None = None, extra: str = "") -> bytes:
    """A GET of ``target`` (sent as it is) with ``Host: host`` (the server's own by default)."""
    host = host or base.removeprefix("http://")
    return raw_request(base, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
                       .encode("latin-1"))


# -- the log ----------------------------------------------------------------------------------------

#: One of each kind of character that could forge or hide a log line: C0 (ESC, VT, CR, LF), DEL,
#: C1 (NEL), the Unicode line and paragraph separators, and a right-to-left override.
HOSTILE = "\x1b[31mFAKE\x0b\r\nINFO forged\x7f\x85\u2028\u2029\u202e"
HOSTILE_TARGET = "/" + "".join(ch if ch.isalnum() else "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
                               for ch in HOSTILE)


def test_control_characters_in_a_request_reach_the_log_escaped(tmp_path: Path,
                                                               hierarchy: TestHierarchy) -> None:
    with demo_command(tmp_path / "demo", hierarchy) as (base, output):
        answer = get(base, HOSTILE_TARGET + "?q=%1B%0A", extra="User-Agent: x\x85y\r\n")
        assert answer.startswith(b"HTTP/1.1 404 ")
        answer = get(base, "/v1/codes")
        assert answer.startswith(b"HTTP/1.1 200 ")
    log = "".join(output)
    lines = log.splitlines()
    logged = [line for line in lines if "FAKE" in line]
    assert len(logged) == 1, log  # one request, one line: nothing split it
    line = logged[0]
    assert not [ch for ch in line if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")], repr(line)
    assert r"\x1b[31mFAKE\x0b\x0d\x0aINFO forged\x7f\x85\u2028\u2029\u202e" in line, repr(line)
    assert not any(line.startswith("INFO forged") for line in lines)


class _Heard(logging.Handler):
    """Keeps every record; ``done`` is set once one starts with ``last`` (the request's own line)."""

    def __init__(self, last: str) -> None:
        super().__init__(1)
        self.last = last
        self.records: list[logging.LogRecord] = []
        self.done = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if record.getMessage().startswith(self.last):
            self.done.set()


def test_a_client_that_hangs_up_mid_request_is_no_server_error(server: LiveServer) -> None:
    """A kiosk whose network drops while it sends (or a client closed under a request) leaves the
    server nothing to answer: that is logged as the client's leaving, never as an unhandled error."""
    http_log = logging.getLogger("linkserver.http")
    heard = _Heard("POST /oauth/token ")
    level = http_log.level
    http_log.setLevel(logging.INFO)
    http_log.addHandler(heard)
    try:
        host, port = server.base.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(f"POST /oauth/token HTTP/1.1\r\nHost: {host}:{port}\r\n"
                         "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
                         "grant_type=client_cre".encode("ascii"))
        assert heard.done.wait(30), "the server never logged the request"
    finally:
        http_log.removeHandler(heard)
        http_log.setLevel(level)
    said = [record.getMessage() for record in heard.records]
    assert [record.levelno for record in heard.records] == [logging.INFO, logging.INFO], said
    assert said[0] == "the client went away during POST /oauth/token"
    assert re.fullmatch(r"POST /oauth/token 499 [0-9.]+ ms", said[1]), said  # 499: closed by the client


# -- the Host header --------------------------------------------------------------------------------


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.fixture
def live(tmp_path: Path, hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    with live_server(tmp_path / "state", hierarchy) as server:
        yield server


def test_a_request_for_a_host_the_server_does_not_serve_is_refused(live: LiveServer) -> None:
    for target in ("/device", "/device/", "/health", "/nowhere"):
        answer = get(live.base, target, host="evil.example")
        assert status(answer) == 400, answer
        assert b"evil.example" not in answer  # above all, no redirect there
    port = live.base.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}", f"[::1]:{port}", "127.0.0.1"):
        assert status(get(live.base, "/health", host=host)) == 200, host
    no_host = raw_request(live.base, b"GET /health HTTP/1.0\r\n\r\n")
    assert status(no_host) == 400


def test_no_telemetry_is_sent_even_where_opentelemetry_is_set_up(live: LiveServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI's own spans, metrics and logs stay off: they would carry request details that the
    server's log is written to leave out. Not even the providers are asked for."""
    asked: list[str] = []

    def provider(name: str) -> Callable[[], object]:
        return lambda: asked.append(name)

    monkeypatch.setattr(trace, "get_tracer_provider", provider("tracer"))
    monkeypatch.setattr(metrics, "get_meter_provider", provider("meter"))
    monkeypatch.setattr(_logs, "get_logger_provider", provider("logger"))
    assert status(get(live.base, "/health")) == 200
    assert status(get(live.base, "/nowhere")) == 404
    assert asked == []


def test_no_redirect_is_built_from_the_host_header(live: LiveServer) -> None:
    answer = get(live.base, "/device/")
    assert status(answer) == 404
    assert b"\r\nlocation:" not in answer.lower()


def test_the_configured_hosts_replace_the_default(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "state", hierarchy,
                     settings={"allowed_hosts": ("linkage.example.ac.jp", "192.0.2.7")}) as live:
        assert status(get(live.base, "/health", host="linkage.example.ac.jp")) == 200
        assert status(get(live.base, "/health", host="192.0.2.7:8470")) == 200
        assert status(get(live.base, "/health", host=live.base.removeprefix("http://"))) == 400


@pytest.mark.parametrize(("setting", "message"), [
    ('allowed_hosts = ["https://linkage.example.ac.jp/"]', "server.allowed_hosts must list host names"),
    ('allowed_hosts = ["linkage.example.ac.jp:443"]', "server.allowed_hosts must list host names"),
    ("allowed_hosts = []", "server.allowed_hosts must list at least one"),
    ('allowed_hosts = "linkage.example.ac.jp"', "server.allowed_hosts must be a list"),
    ('trusted_proxies = ["proxy.example.ac.jp"]', "server.trusted_proxies must list IP addresses"),
    ('trusted_proxies = ["10.0.0.0/33"]', "server.trusted_proxies must list IP addresses"),
    ('docs = "yes"', "server.docs must be a bool"),
])
def test_a_wrong_server_setting_names_the_key_and_the_file(tmp_path: Path, hierarchy: TestHierarchy,
                                                           setting: str, message: str) -> None:
    config = prepare_demo(tmp_path / "demo", hierarchy.path).config_path
    config.write_text(config.read_text("utf-8").replace("[server]\n", f"[server]\n{setting}\n"), "utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert message in str(raised.value) and str(config) in str(raised.value)


def test_the_default_hosts_are_the_issuers_and_loopbacks(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    settings = prepare_demo(tmp_path / "demo", hierarchy.path, issuer="https://Linkage.example.ac.jp:8443/x").settings
    assert settings.host_names == ("linkage.example.ac.jp", "localhost", "127.0.0.1", "::1")


# -- proxies ----------------------------------------------------------------------------------------

PUBLIC_LIMIT = Limits(public_requests_per_minute=3)


def page_statuses(live: LiveServer, *forwarded_for: str) -> list[int]:
    """The sign-in page asked for once with each X-Forwarded-For."""
    return [httpx2.get(live.url("/device"), headers={"X-Forwarded-For": value}).status_code
            for value in forwarded_for]


def test_x_forwarded_for_is_ignored_by_default(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "state", hierarchy, limits=PUBLIC_LIMIT) as live:
        rotated = page_statuses(live, *(f"198.51.100.{n}" for n in range(5)))
        assert rotated == [200, 200, 200, 429, 429]  # all of them count against loopback's address


def test_a_trusted_proxy_names_the_client(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "state", hierarchy, limits=PUBLIC_LIMIT,
                     settings={"trusted_proxies": ("127.0.0.1",)}) as live:
        assert page_statuses(live, *(f"198.51.100.{n}" for n in range(5))) == [200] * 5
        assert page_statuses(live, *["203.0.113.9"] * 4) == [200, 200, 200, 429]
        # Only what the trusted proxy appended counts: the client's own entries before it do not.
        chained = page_statuses(live, *(f"10.0.0.{n}, 203.0.113.10" for n in range(4)))
        assert chained == [200, 200, 200, 429]


# -- the pages' headers -----------------------------------------------------------------------------


def html_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (path, method) whose answer is a page, as the OpenAPI document states it (the routes
    sit in the routers the app includes): a page added later is checked too."""
    return sorted((path, method.upper()) for path, operations in app.openapi()["paths"].items()
                  for method, operation in operations.items()
                  if "text/html" in operation["responses"].get("200", {}).get("content", {}))


def check_page(answer: httpx2.Response, base: str) -> None:
    """A page that frames, sniffs, refers, caches and runs nothing but the server's own files."""
    headers = answer.headers
    assert headers["content-type"].startswith("text/html"), answer
    policy = {words[0]: words[1:] for words in (part.split() for part in
                                                headers["content-security-policy"].split(";")) if words}
    assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], policy
    assert all(set(sources) <= {"'self'", "'none'"} for sources in policy.values()), policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "no-store" in headers["cache-control"]
    page = answer.text
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", page, re.IGNORECASE), "an inline script"
    assert not re.search(r"<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", page, re.IGNORECASE), page
    for asset in re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page):
        served = httpx2.get(base + asset)
        assert served.status_code == 200, asset
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-type"].split(";")[0] in ("text/css", "text/javascript"), asset


def test_every_page_is_sent_with_a_strict_policy_and_no_inline_code(live: LiveServer) -> None:
    routes = html_routes(live.server.app)
    assert {path for path, _method in routes} >= {"/device", "/voucher"}
    for path, method in routes:
        for language in ("ja", "en"):
            if method == "GET":
                answer = httpx2.get(live.url(path), params={"lang": language})
            else:  # an empty form: the page again, with its error
                answer = httpx2.post(live.url(path), data={"lang": language})
            assert answer.status_code in (200, 400), (path, method, answer.status_code)
            check_page(answer, live.base)
    check_page(live.sign_in_on_phone("BCDF-GHJK", password="wrong"), live.base)
    check_page(httpx2.post(live.url("/voucher"), data={"code": "ABCD-EFGH-JKLM", "account_id": "2024000001"}),
               live.base)


# -- the OpenAPI UI ---------------------------------------------------------------------------------


def test_the_openapi_ui_is_off_unless_configured(live: LiveServer) -> None:
    for path in ("/docs", "/docs/oauth2-redirect", "/redoc"):
        assert httpx2.get(live.url(path)).status_code == 404, path
    assert httpx2.get(live.url("/openapi.json")).status_code == 200  # the interface itself stays


def test_the_openapi_ui_when_configured(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "state", hierarchy, settings={"docs": True}) as live:
        answer = httpx2.get(live.url("/docs"))
        assert answer.status_code == 200 and "swagger-ui" in answer.text
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert httpx2.get(live.url("/redoc")).status_code == 404


# -- the sign-in page -------------------------------------------------------------------------------


def comparable(answer: httpx2.Response, user_code: str) -> tuple[int, str, list[tuple[str, str]]]:
    """What a client sees of a sign-in answer, with the code it typed (echoed in the form) blanked."""
    headers = sorted((name, value) for name, value in answer.headers.items() if name != "date")
    return answer.status_code, answer.text.replace(user_code, "CODE"), headers


def test_the_sign_in_page_tells_no_live_code_from_an_unknown_one(tmp_path: Path,
                                                                 hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "state", hierarchy, limits=Limits(public_requests_per_minute=1000)) as live:
        flow = DeviceFlow(live)
        live_code = flow.start()["user_code"]
        unknown = "BCDF-GHJK" if live_code != "BCDF-GHJK" else "CDFG-HJKL"
        for attempt in range(MAX_SIGN_IN_ATTEMPTS + 1):  # the code is blocked after the last one
            wrong = f"not the password {attempt}"
            assert (comparable(live.sign_in_on_phone(live_code, password=wrong), live_code)
                    == comparable(live.sign_in_on_phone(unknown, password=wrong), unknown)), attempt

        times: dict[str, list[float]] = {"live": [], "unknown": []}
        for _round in range(3):
            code = flow.start()["user_code"]
            for kind, typed in [("live", code), ("unknown", unknown)] * 3:
                started = time.perf_counter()
                assert live.sign_in_on_phone(typed, password="not the password").status_code == 403
                times[kind].append(time.perf_counter() - started)
        live_time, unknown_time = statistics.median(times["live"]), statistics.median(times["unknown"])
        # Both check a password: an unknown code answered without one was 7 times faster. The
        # bound is loose, so that a busy machine does not fail it; the gap it guards is not small.
        assert max(live_time, unknown_time) < 3 * min(live_time, unknown_time), times

        # Only the right password tells: the code is not valid (any more).
        assert live.sign_in_on_phone(unknown).status_code == 403
        assert live.sign_in_on_phone(flow.start()["user_code"]).status_code == 200


def test_work_the_database_keeps_aborting_is_answered_busy_not_as_a_failure(
        server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past Database.run's own retries, a deadlock or a lock never had is the server being busy (503,
    try again), not the server failing (500); any other database error stays a failure."""
    kiosk = server.kiosk()

    def raising(error: Exception) -> Callable[..., object]:
        def new_challenge(*_args: object, **_kwargs: object) -> object:
            raise error
        return new_challenge

    locked = OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
    monkeypatch.setattr(VerificationService, "new_challenge", raising(locked))
    busy = kiosk.post(f"{server.base}/v1/challenges")
    assert busy.status_code == 503 and busy.json()["error"] == "database_busy", busy.text
    assert busy.headers["Retry-After"] == "1"
    broken = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: challenges"))
    monkeypatch.setattr(VerificationService, "new_challenge", raising(broken))
    failed = kiosk.post(f"{server.base}/v1/challenges")
    assert failed.status_code == 500 and failed.json()["error"] == "internal", failed.text
