"""Revocation through an OCSP responder over HTTP: the server as an institution would run it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy
from tests.linkserver.conftest import OcspResponder
from tests.linkserver.helpers import live_server

LINKED = "2024000001"


class _Handler(BaseHTTPRequestHandler):
    responder: OcspResponder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answer = self.responder.post(self.path, body)
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def ocsp_http(hierarchy: TestHierarchy) -> Iterator[tuple[str, OcspResponder]]:
    """The test hierarchy's OCSP responder on a loopback HTTP port."""
    revoked = {h.serial for h in hierarchy.holders.values() if h.spec.status == "revoked"}
    responder = OcspResponder(hierarchy, revoked)
    handler = type("Handler", (_Handler,), {"responder": responder})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ocsp", responder
    finally:
        server.shutdown()
        server.server_close()


def test_ocsp_good_and_revoked(tmp_path: Path, hierarchy: TestHierarchy,
                               ocsp_http: tuple[str, OcspResponder]) -> None:
    url, responder = ocsp_http
    with live_server(tmp_path / "s", hierarchy, ocsp_url=url) as live:
        kiosk = live.minted()
        assert live.verify(kiosk, "linked", LINKED).json()["match"] is True
        assert live.verify(kiosk, "old-root", "2015000006").json()["match"] is True
        assert live.verify(kiosk, "revoked", "2024000007").json()["error"] == "revoked"
    asked = {request.serial_number for _url, request in responder.requests}
    assert asked == {hierarchy.holder(h).serial for h in ("linked", "old-root", "revoked")}


def test_an_unreachable_responder_fails_closed(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    from tests.linkserver.helpers import free_port

    with live_server(tmp_path / "s", hierarchy, ocsp_url=f"http://127.0.0.1:{free_port()}/ocsp") as live:
        answer = live.verify(live.minted(), "linked", LINKED)
        assert answer.status_code == 403
        assert answer.json()["error"] == "revocation_unknown"
