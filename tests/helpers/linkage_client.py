"""The kiosk's linkage client under test: the demo accounts, a recording transport, a client on the
live server or on a mock transport, and the mock server's standard answers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.linkage import LinkageClient, LinkageConfig
from linkserver.config import Limits
from tests.linkserver.helpers import LiveServer

LINKED = "2024000001"  # linked to the "linked" card (Hanako Sato, renewed since)
UNLINKED = "2024000002"  # no card yet: the "unlinked" card pre-links here
STRONG_PASSWORD = "Kiosk-Autumn-2026!"
WEAK_PASSWORD = "weakpw"
#: Generous limits for the shared server, so the tests never trip its rate limits by accident.
ROOMY = Limits(kiosk_requests_per_minute=10_000, account_verifications_per_hour=10_000)


class Recorder(httpx2.BaseTransport):
    """A real HTTP transport that remembers what was sent (method, path, form) and can signal a path."""

    def __init__(self, inner: httpx2.BaseTransport | None = None) -> None:
        self.inner = inner or httpx2.HTTPTransport()
        self.sent: list[tuple[str, str]] = []
        self.forms: list[dict[str, str]] = []
        self.watch: tuple[str, threading.Event] | None = None

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append((request.method, request.url.path))
        if request.url.path == "/oauth/token":
            request.read()
            self.forms.append(dict(httpx2.QueryParams(request.content.decode("ascii"))))
        if self.watch and request.url.path == self.watch[0]:
            self.watch[1].set()
        return self.inner.handle_request(request)

    def count(self, method: str, path: str) -> int:
        return self.sent.count((method, path))

    def close(self) -> None:
        self.inner.close()


def config_for(live: LiveServer, **changes: Any) -> LinkageConfig:
    return LinkageConfig(base_url=live.base, client_id=live.setup.kiosk_id,
                         key_path=live.setup.kiosk_key_path, backoff=0.01, **changes)


def card_verification(live: LiveServer, client: LinkageClient, holder: str, account: str,
                      signed_account: str | None = None) -> Any:
    challenge = client.challenge()
    certificate, signature = live.sign(holder, challenge.nonce, signed_account or account)
    return client.verify(account, challenge.nonce, certificate, signature)


def staff_decides(live: LiveServer, operation_id: str, approve: bool = True) -> None:
    with live.minted_staff() as staff:
        answer = staff.post(live.url(f"/v1/staff/operations/{operation_id}/decision"),
                            json={"approve": approve, "staff_id": "yamada.t"})
    assert answer.status_code == 200, answer.text


def ec_key_file(folder: Path, curve: ec.EllipticCurve) -> Path:
    key = ec.generate_private_key(curve)
    path = folder / "key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def mock_client(tmp_path: Path, handler: Callable[[httpx2.Request], httpx2.Response],
                **changes: Any) -> LinkageClient:
    config = LinkageConfig(base_url="http://127.0.0.1:9", client_id="kiosk-mock",
                           key_path=ec_key_file(tmp_path, ec.SECP256R1()), backoff=0.001, **changes)
    return LinkageClient(config, transport=httpx2.MockTransport(handler))


TOKEN_ANSWER = {"access_token": "header.payload.signature", "token_type": "Bearer", "expires_in": 300,
                "scope": "verify operate offline"}
MOCK_INFO = {"issuer": "http://127.0.0.1:9", "token_url": "http://127.0.0.1:9/oauth/token",
             "device_authorization_url": "http://127.0.0.1:9/oauth/device_authorization",
             "jwks_url": "http://127.0.0.1:9/.well-known/jwks.json", "sealing_key": {"kty": "EC"},
             "password_policy": {"min_length": 12}, "account_id_pattern": "^[0-9]{10}$",
             "server_time": "2026-11-25T10:00:00Z"}


def discovery(request: httpx2.Request) -> httpx2.Response | None:
    """The mock server's token endpoint and server-info, which every mock serves the same way."""
    if request.url.path == "/oauth/token":
        return httpx2.Response(200, json=TOKEN_ANSWER)
    if request.url.path == "/v1/server-info":
        return httpx2.Response(200, json=MOCK_INFO)
    return None


def operation_json(status: str = "awaiting_approval", kind: str = "password_reset",
                   operation_id: str = "op_1") -> dict[str, Any]:
    return {"operation_id": operation_id, "kind": kind, "status": status, "account_id": LINKED,
            "created_at": "2026-11-25T10:00:00Z", "updated_at": "2026-11-25T10:00:00+00:00",
            "result": {}, "error_code": None, "approved_by": None}
