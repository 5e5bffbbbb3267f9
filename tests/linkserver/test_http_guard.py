"""The server's HTTP edge, over real sockets: what reaches the log from a request.

Requests are written by hand where a client library would refuse or tidy them (a path with
control characters); the server is the ``kiosk-linkserver`` command, whose log is read as an
administrator reads it.
"""

from __future__ import annotations

import socket
import unicodedata
from pathlib import Path

from kiosk.nfc.sim import TestHierarchy
from tests.linkserver.helpers import demo_command


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
