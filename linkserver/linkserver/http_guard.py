"""The server's HTTP edge, in front of the app: which hosts it answers for.

- ``HostGuard`` refuses with 400 a request whose Host header names none of the server's hosts
  (``server.allowed_hosts``), so that nothing the server writes can be made to point elsewhere.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from linkserver.app import ASGIApp, Receive, Scope, Send
from linkserver.config import Settings
from linkserver.logsafe import printable

logger = logging.getLogger("linkserver.http")

PORT = re.compile(r"(:[0-9]{1,5})?")


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
                refusal = JSONResponse({"error": "invalid_request",
                                        "message": "this server does not answer for that host"},
                                       status_code=400)
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """Put the edge in front of ``app``, as ``settings`` configure it."""
    app.add_middleware(HostGuard, hosts=settings.host_names)
