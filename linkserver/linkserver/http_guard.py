"""The server's HTTP edge, in front of the app: who the client is, which hosts it answers for, and
the headers every answer carries.

- ``ForwardedFor`` takes the client's address from X-Forwarded-For (and the scheme from
  X-Forwarded-Proto) only when the connection comes from a proxy listed in
  ``server.trusted_proxies``; from anyone else the headers are ignored, so that a client cannot
  pick the address its requests count against (the per-address rate limit). uvicorn's own
  handling of these headers, which trusts 127.0.0.1 by default, is off (``UVICORN_OPTIONS``).
- ``HostGuard`` refuses with 400 a request whose Host header names none of the server's hosts
  (``server.allowed_hosts``), so that nothing the server writes can be made to point elsewhere.
- ``SecurityHeaders``: no answer is content-sniffed or sends a referrer; a page (HTML) runs only
  the server's own scripts and styles, may not be framed, and is never cached (pages show or
  take codes and passwords).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders

from linkserver.app import ASGIApp, Message, Receive, Scope, Send
from linkserver.config import Settings
from linkserver.errors import ErrorCode
from linkserver.logsafe import printable

logger = logging.getLogger("linkserver.http")

#: How uvicorn must run the app (the command's and the tests' servers): proxy headers are the app's
#: business, and the request log is the app's own; libuv's event loop and the llhttp parser, which
#: cost less CPU per request than asyncio's own loop and h11 (bench/linkserver_bench.py), with
#: each answer written to the socket once (``linkserver.http_writes``).
UVICORN_OPTIONS: dict[str, Any] = {"proxy_headers": False, "access_log": False, "loop": "uvloop",
                                   "http": "linkserver.http_writes:JoinedWritesProtocol"}

#: Every answer's headers.
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
#: A page's: its own files only, nothing inline, no frames, no caches.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
#: The OpenAPI UI's (``server.docs``), whose scripts and styles come from a CDN and which has an
#: inline script of its own.
DOCS_POLICY = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
               "style-src 'self' https://cdn.jsdelivr.net; "
               "img-src 'self' data: https://fastapi.tiangolo.com; "
               "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")

PORT = re.compile(r"(:[0-9]{1,5})?")


@functools.lru_cache(maxsize=256)  # every request names its host: the same few values, parsed once
def host_name(header: str) -> str | None:
    """The host a Host header names (lower case, an IPv6 address without brackets), or None if malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        name, bracket, port = value[1:].partition("]")
        if not bracket:
            return None
    else:
        name, colon, port = value.partition(":")
        port = colon + port
    if not name or not PORT.fullmatch(port):
        return None
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name.removesuffix(".")


class HostGuard:
    """Answers 400 to a request without exactly one Host header naming one of ``hosts``."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = [value.decode("latin-1") for name, value in scope["headers"] if name == b"host"]
            if len(given) != 1 or host_name(given[0]) not in self.hosts:
                logger.warning("refused a request for host %s", printable(", ".join(given) or "(none)"))
                refusal = JSONResponse({"error": ErrorCode.INVALID_REQUEST,
                                        "message": "this server does not answer for that host"},
                                       status_code=400)
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ForwardedFor:
    """The client's address and scheme as a trusted proxy forwards them; anyone else's headers ignored.

    The address is the last one in X-Forwarded-For that is not itself a trusted proxy: what the
    nearest trusted proxy saw. The entries before it are the client's to write, and not believed.
    """

    def __init__(self, app: ASGIApp, proxies: Iterable[str]) -> None:
        self.app = app
        self.networks = tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)

    def trusted(self, address: str) -> bool:
        ip = _address(address)
        return ip is not None and any(ip in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and self.trusted(client[0]):
            scope = dict(scope)
            headers = scope["headers"]
            forwarded = ",".join(value.decode("latin-1") for name, value in headers
                                 if name == b"x-forwarded-for")
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            while len(hops) > 1 and self.trusted(hops[-1]):
                hops.pop()
            client_ip = _address(hops[-1]) if hops else None
            if client_ip is not None:
                scope["client"] = (str(client_ip), 0)
            proto = [value.decode("latin-1").strip().lower() for name, value in headers
                     if name == b"x-forwarded-proto"]
            if proto and proto[-1] in ("http", "https"):
                scope["scheme"] = proto[-1]
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Adds ``COMMON_HEADERS`` to every answer, and ``PAGE_HEADERS`` to every HTML one.

    The OpenAPI UI's pages (``docs_paths``) get ``DOCS_POLICY`` instead of the pages' policy.
    """

    def __init__(self, app: ASGIApp, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message.setdefault("headers", []))
                added = dict(COMMON_HEADERS)
                if headers.get("content-type", "").startswith("text/html"):
                    added.update(PAGE_HEADERS)
                    if scope["path"] in self.docs_paths:
                        added["Content-Security-Policy"] = DOCS_POLICY
                for name, value in added.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def install(app: FastAPI, settings: Settings) -> None:
    """Put the edge in front of ``app``, as ``settings`` configure it (the last added runs first)."""
    app.add_middleware(HostGuard, hosts=settings.host_names)
    docs_paths = [app.docs_url, app.swagger_ui_oauth2_redirect_url or ""] if app.docs_url else []
    app.add_middleware(SecurityHeaders, docs_paths=docs_paths)
    if settings.trusted_proxies:
        app.add_middleware(ForwardedFor, proxies=settings.trusted_proxies)
