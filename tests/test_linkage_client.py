"""The kiosk's linkage client against the reference server on loopback, and against servers that misbehave.

The happy paths and the refusals run over real HTTP against the demo server (SQLite) with the
simulated card's signatures. Failures the real server does not produce on demand (gateways,
timeouts, garbage, oversize answers) come from a closed port, a listening socket that never
answers, a scripted raw-socket server, or an httpx2 MockTransport that counts requests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import ipaddress
import json
import re
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from joserfc import jws
from joserfc.jwk import ECKey

from kiosk.linkage import (
    DOMAIN_TAG,
    Cancelled,
    DeviceAuthorization,
    LinkageClient,
    LinkageConfig,
    ServerProtocolError,
    ServerRefused,
    ServerUnreachable,
    b64url,
    signed_message,
    unb64url,
)
from kiosk.nfc.sim import TestHierarchy
from linkserver import signature as server_signature
from linkserver.admin import register_client
from linkserver.config import Lifetimes, Limits
from linkserver.offline import offline_challenge, seal_evidence
from tests.linkserver.helpers import LiveServer, free_port, live_server

LINKED = "2024000001"  # linked to the "linked" card (Hanako Sato, renewed since)
UNLINKED = "2024000002"  # no card yet: the "unlinked" card pre-links here
STRONG_PASSWORD = "Kiosk-Autumn-2026!"
WEAK_PASSWORD = "weakpw"
#: Generous limits for the shared server, so the tests never trip its rate limits by accident.
ROOMY = Limits(kiosk_requests_per_minute=10_000, account_verifications_per_hour=10_000)


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("linkage") / "state", hierarchy, limits=ROOMY) as server:
        yield server


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


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(live: LiveServer, recorder: Recorder) -> Iterator[LinkageClient]:
    with LinkageClient(config_for(live), transport=recorder) as linkage:
        yield linkage


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


# -- the protocol's bytes ------------------------------------------------------------------------------


@pytest.mark.parametrize(("nonce", "kiosk_id", "account"), [
    (bytes(32), "kiosk-demo-01", LINKED),
    (b"", "", ""),
    (bytes(range(48)), "キオスク-本郷", "hanako.sato@example.ac.jp"),
    (b"\xff" * 65535, "k", "a" * 300),
])
def test_signed_message_is_the_servers(nonce: bytes, kiosk_id: str, account: str) -> None:
    mine = signed_message(nonce, kiosk_id, account)
    assert mine == server_signature.signed_message(nonce, kiosk_id, account)
    assert mine.startswith(DOMAIN_TAG) and DOMAIN_TAG == server_signature.DOMAIN_TAG


def test_signed_message_refuses_fields_over_65535_bytes() -> None:
    with pytest.raises(ValueError):
        signed_message(b"\x00" * 65536, "k", "a")
    with pytest.raises(ValueError):
        signed_message(b"", "k", "あ" * 21846)  # 65538 bytes of UTF-8


def test_base64url_is_unpadded_and_strict() -> None:
    for data in (b"", b"\x00", b"\xfb\xff", b"abc", secrets.token_bytes(33)):
        text = b64url(data)
        assert "=" not in text and unb64url(text) == data
    for bad in ("A", "AB=", "AB==", "A B", "ab+/", "ab\n", "AB", "AAB", "é"):
        # "AB" and "AAB" have non-zero trailing bits: only "AA" / "AAA" spell those bytes.
        with pytest.raises(ValueError):
            unb64url(bad)


# -- configuration and keys ----------------------------------------------------------------------------


def test_plain_http_is_only_for_loopback(tmp_path: Path) -> None:
    key = tmp_path / "unused.pem"
    for url in ("http://127.0.0.1:8470", "http://[::1]:8470/", "http://localhost", "https://link.example.ac.jp",
                "https://link.example.ac.jp/linkage"):
        LinkageConfig(url, "kiosk-01", key)
    for url in ("http://link.example.ac.jp", "http://10.0.0.5:8470", "ftp://127.0.0.1", "link.example.ac.jp",
                "https://user:pw@link.example.ac.jp", "https://link.example.ac.jp/?x=1"):
        with pytest.raises(ValueError):
            LinkageConfig(url, "kiosk-01", key)
    good = LinkageConfig("https://x.example", "kiosk-01", key)
    for bad in ({"connect_timeout": 0}, {"read_timeout": float("inf")}, {"retries": -1}, {"backoff": -1.0},
                {"client_id": ""}):
        with pytest.raises(ValueError):
            dataclasses.replace(good, **bad)


def test_keys_must_be_p256_or_rsa_2048(tmp_path: Path) -> None:
    config = LinkageConfig("https://link.example.ac.jp", "kiosk-01", ec_key_file(tmp_path, ec.SECP384R1()))
    with pytest.raises(ValueError, match="P-256"):
        LinkageClient(config)
    small = tmp_path / "small.pem"
    small.write_bytes(rsa.generate_private_key(65537, 1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ValueError, match="2048"):
        LinkageClient(dataclasses.replace(config, key_path=small))
    with pytest.raises(ValueError, match="cannot be read"):
        LinkageClient(dataclasses.replace(config, key_path=tmp_path / "missing.pem"))


def test_an_rsa_kiosk_key_signs_rs256(live: LiveServer, tmp_path: Path) -> None:
    key = rsa.generate_private_key(65537, 2048)
    path = tmp_path / "rsa.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    register_client(live.server.parts.db, "kiosk-rsa-01", key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    recorder = Recorder()
    config = dataclasses.replace(config_for(live), client_id="kiosk-rsa-01", key_path=path)
    with LinkageClient(config, transport=recorder) as rsa_client:
        assert len(rsa_client.challenge().nonce) == 32
    header = jws.extract_compact(recorder.forms[0]["client_assertion"].encode()).protected
    assert header["alg"] == "RS256"


# -- tokens --------------------------------------------------------------------------------------------


def assertion_claims(form: dict[str, str]) -> dict[str, Any]:
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    return dict(json.loads(jws.extract_compact(form["client_assertion"].encode()).payload))


def test_the_token_is_cached_and_renewed_before_it_expires(live: LiveServer, client: LinkageClient,
                                                           recorder: Recorder) -> None:
    client.challenge()
    client.challenge()
    assert recorder.count("POST", "/oauth/token") == 1
    # Within authlib's leeway of its expiry, the token is renewed before the next call.
    client._oauth.token["expires_at"] = int(time.time()) + 30
    client.challenge()
    assert recorder.count("POST", "/oauth/token") == 2
    assert recorder.count("POST", "/v1/challenges") == 3
    first, second = (assertion_claims(form) for form in recorder.forms)
    for claims in (first, second):
        assert claims["iss"] == claims["sub"] == live.setup.kiosk_id
        assert claims["aud"] == live.setup.settings.token_url
        assert 0 < claims["exp"] - claims["iat"] <= 60
    assert first["jti"] != second["jti"]
    assert recorder.forms[0]["grant_type"] == "client_credentials"
    header = jws.extract_compact(recorder.forms[0]["client_assertion"].encode()).protected
    assert header["alg"] == "ES256"


def test_a_token_the_server_refuses_is_replaced_once(live: LiveServer, client: LinkageClient,
                                                     recorder: Recorder) -> None:
    client.challenge()
    # A token the server minted already expired, which the kiosk still believes good for minutes.
    stale, _ = live.server.parts.tokens.issue(live.setup.kiosk_id, ["verify", "operate", "offline"],
                                              seconds=-60)
    client._oauth.token = {"access_token": stale, "token_type": "Bearer", "expires_in": 300}
    assert len(client.challenge().nonce) == 32
    assert recorder.count("POST", "/oauth/token") == 2
    assert recorder.count("POST", "/v1/challenges") == 3  # one good, one refused, its retry


def test_a_token_refused_twice_is_a_refusal(tmp_path: Path) -> None:
    sent: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.url.path)
        if (known := discovery(request)) is not None:
            return known
        return httpx2.Response(401, json={"error": "invalid_token", "message": "expired"})

    with mock_client(tmp_path, handler) as client, pytest.raises(ServerRefused) as refused:
        client.challenge()
    assert refused.value.code == "invalid_token" and refused.value.status == 401
    assert sent == ["/v1/server-info", "/oauth/token", "/v1/challenges", "/oauth/token", "/v1/challenges"]


def test_assertions_name_the_servers_token_url_whatever_the_kiosk_calls_it(live: LiveServer) -> None:
    # As behind a proxy: the kiosk's URL for the server is not the URL the server calls itself.
    recorder = Recorder()
    config = dataclasses.replace(config_for(live), base_url=live.base.replace("127.0.0.1", "localhost"))
    with LinkageClient(config, transport=recorder) as client:
        client.challenge()
        client.device_authorize()
    assert recorder.sent[:3] == [("GET", "/v1/server-info"), ("POST", "/oauth/token"),
                                 ("POST", "/v1/challenges")]
    assert recorder.count("GET", "/v1/server-info") == 1
    assert assertion_claims(recorder.forms[0])["aud"] == live.setup.settings.token_url


def test_an_unknown_client_is_refused_at_the_token_endpoint(live: LiveServer) -> None:
    config = dataclasses.replace(config_for(live), client_id="kiosk-nobody")
    with LinkageClient(config) as stranger, pytest.raises(ServerRefused) as refused:
        stranger.challenge()
    assert refused.value.code == "invalid_client" and refused.value.status == 401


# -- discovery and verification ------------------------------------------------------------------------


def test_server_info_and_health(live: LiveServer, client: LinkageClient, recorder: Recorder) -> None:
    info = client.server_info()
    assert info.issuer == live.base and info.token_url == live.setup.settings.token_url
    assert info.device_authorization_url == live.url("/oauth/device_authorization")
    assert info.sealing_key["kty"] == "EC" and "d" not in info.sealing_key
    assert info.password_policy["min_length"] == 12
    assert re.fullmatch(info.account_id_pattern, LINKED)
    assert info.server_time.tzinfo is not None
    assert client.health() is True
    assert recorder.count("POST", "/oauth/token") == 0  # neither needs a token


def test_a_linked_card_matches_its_account(live: LiveServer, client: LinkageClient) -> None:
    challenge = client.challenge()
    assert challenge.expires_at.tzinfo is not None and "nonce" not in repr(challenge)
    certificate, signature = live.sign("linked", challenge.nonce, LINKED)
    result = client.verify(LINKED, challenge.nonce, certificate, signature)
    assert result.match is True and result.name_on_record
    assert re.fullmatch(r"[A-Za-z0-9_-]+", result.verification_id)
    assert result.expires_at > challenge.expires_at  # a verification outlives its challenge
    assert result.certificate_not_after.tzinfo is not None


def test_no_match_is_an_answer_not_a_refusal(live: LiveServer, client: LinkageClient) -> None:
    result = card_verification(live, client, "linked", UNLINKED)
    assert result.match is False and result.name_on_record is None


@pytest.mark.parametrize(("holder", "account", "signed_for", "code"), [
    ("revoked", "2024000007", None, "revoked"),
    ("expired", "2019000008", None, "expired"),
    ("linked", LINKED, UNLINKED, "bad_signature"),
    ("linked", "not-an-id", None, "invalid_account"),
])
def test_verification_refusals_carry_the_servers_code(live: LiveServer, client: LinkageClient,
                                                      holder: str, account: str, signed_for: str | None,
                                                      code: str) -> None:
    with pytest.raises(ServerRefused) as refused:
        card_verification(live, client, holder, account, signed_for)
    assert refused.value.code == code and refused.value.status in (403, 422)


def test_nonce_refusals(live: LiveServer, client: LinkageClient) -> None:
    challenge = client.challenge()
    certificate, signature = live.sign("linked", challenge.nonce, LINKED)
    client.verify(LINKED, challenge.nonce, certificate, signature)
    with pytest.raises(ServerRefused) as replayed:
        client.verify(LINKED, challenge.nonce, certificate, signature)
    assert replayed.value.code == "replayed_nonce" and replayed.value.status == 403
    with pytest.raises(ServerRefused) as unknown:
        client.verify(LINKED, secrets.token_bytes(32), certificate, signature)
    assert unknown.value.code == "unknown_nonce"
    with pytest.raises(ValueError):
        client.verify(LINKED, b"short", certificate, signature)


def test_rate_limits_are_refusals_with_retry_after(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "s", hierarchy, limits=Limits(kiosk_requests_per_minute=2)) as live:
        recorder = Recorder()
        with LinkageClient(config_for(live), transport=recorder) as client:
            client.challenge()  # the token took one request, this the other
            with pytest.raises(ServerRefused) as refused:
                client.challenge()
    assert refused.value.code == "rate_limited" and refused.value.status == 429
    assert isinstance(refused.value.extra["retry_after"], int) and refused.value.retry_after
    assert recorder.count("POST", "/v1/challenges") == 2  # not retried


# -- operations ----------------------------------------------------------------------------------------


def test_a_password_reset_end_to_end(live: LiveServer, client: LinkageClient, recorder: Recorder,
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(1)
    verification = card_verification(live, client, "linked", LINKED)
    key = f"kiosk-{uuid.uuid4().hex}"
    first = client.create_operation("password_reset", verification.verification_id, {}, key)
    assert first.status == "awaiting_approval" and first.account_id == LINKED
    assert first.created_at.tzinfo is not None
    assert first.session_key is not None and first.session_key not in repr(first)
    operation = client.create_operation("password_reset", verification.verification_id, {}, key)
    assert operation.operation_id == first.operation_id
    assert operation.session_key not in (None, first.session_key)  # a replay hands out a new key
    session_key = operation.session_key
    assert session_key is not None
    with pytest.raises(ServerRefused) as conflict:
        client.create_operation("mfa_reset", verification.verification_id, {}, key)
    assert conflict.value.code == "idempotency_conflict" and conflict.value.status == 409
    with pytest.raises(ServerRefused) as early:
        client.set_password(operation.operation_id, STRONG_PASSWORD, session_key)
    assert early.value.code == "wrong_state"

    # Staff approve once the kiosk is seen keeping the operation alive; the wait ends with the decision.
    polled = threading.Event()
    recorder.watch = (f"/v1/operations/{operation.operation_id}/keepalive", polled)

    def approve() -> None:
        if polled.wait(10):
            staff_decides(live, operation.operation_id)

    staff = threading.Thread(target=approve)
    staff.start()
    decided = client.wait_for_decision(operation.operation_id, session_key, cancel=threading.Event(),
                                       poll=0.05, timeout=10)
    staff.join()
    assert decided.status == "approved" and decided.approved_by == "yamada.t"
    assert decided.session_key == session_key
    assert recorder.count("GET", f"/v1/operations/{operation.operation_id}") == 0

    with pytest.raises(ServerRefused) as stolen:
        client.set_password(operation.operation_id, STRONG_PASSWORD, first.session_key or "")
    assert stolen.value.code == "session_key_invalid" and stolen.value.status == 403
    with pytest.raises(ServerRefused) as weak:
        client.set_password(operation.operation_id, WEAK_PASSWORD, session_key)
    assert weak.value.code == "password_policy" and weak.value.status == 422
    assert "too_short" in weak.value.extra["problems"]  # type: ignore[operator]
    assert weak.value.extra["policy"]["min_length"] == 12  # type: ignore[index]
    assert WEAK_PASSWORD not in str(weak.value) and WEAK_PASSWORD not in repr(weak.value.extra)
    done = client.set_password(operation.operation_id, STRONG_PASSWORD, session_key)
    assert done.status == "completed" and done.result == {"password_set": True}
    assert recorder.count("POST", f"/v1/operations/{operation.operation_id}/password") == 4

    token = client._oauth.token["access_token"]
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        for secret in (STRONG_PASSWORD, WEAK_PASSWORD, token, recorder.forms[-1]["client_assertion"],
                       session_key, first.session_key):
            assert secret not in text, record.name


def test_link_status_is_answered_at_once(live: LiveServer, client: LinkageClient) -> None:
    verification = card_verification(live, client, "linked", LINKED)
    operation = client.create_operation("link_status", verification.verification_id, {}, uuid.uuid4().hex)
    assert operation.status == "completed" and operation.result["linked"] is True
    assert client.get_operation(operation.operation_id) == operation
    with pytest.raises(ServerRefused) as used:
        client.create_operation("link_status", verification.verification_id, {}, uuid.uuid4().hex)
    assert used.value.code == "verification_used"
    with pytest.raises(ServerRefused) as unknown:
        client.get_operation("op_does_not_exist")
    assert unknown.value.code == "operation_unknown" and unknown.value.status == 404


def test_an_operation_without_a_match_is_refused(live: LiveServer, client: LinkageClient) -> None:
    verification = card_verification(live, client, "linked", UNLINKED)
    with pytest.raises(ServerRefused) as refused:
        client.create_operation("mfa_reset", verification.verification_id, {}, uuid.uuid4().hex)
    assert refused.value.code == "no_match" and refused.value.status == 403


def test_waiting_for_staff_can_be_cancelled_or_time_out(live: LiveServer, client: LinkageClient,
                                                        recorder: Recorder) -> None:
    verification = card_verification(live, client, "linked", LINKED)
    operation = client.create_operation("unlink", verification.verification_id, {}, uuid.uuid4().hex)
    key = operation.session_key
    assert key is not None
    undecided = client.wait_for_decision(operation.operation_id, key, cancel=threading.Event(), timeout=0)
    assert undecided.status == "awaiting_approval"

    cancel = threading.Event()
    polled = threading.Event()
    recorder.watch = (f"/v1/operations/{operation.operation_id}/keepalive", polled)

    def cancel_once_polled() -> None:
        if polled.wait(10):
            cancel.set()

    canceller = threading.Thread(target=cancel_once_polled)
    canceller.start()
    started = time.monotonic()
    with pytest.raises(Cancelled) as cancelled:
        client.wait_for_decision(operation.operation_id, key, cancel=cancel, poll=30, timeout=600)
    canceller.join()
    assert time.monotonic() - started < 5 and cancelled.value.code == "cancelled"
    staff_decides(live, operation.operation_id, approve=False)
    refused = client.wait_for_decision(operation.operation_id, key, cancel=threading.Event())
    assert refused.status == "refused"


def test_cancelling_an_operation_ends_it_on_the_server(live: LiveServer, client: LinkageClient) -> None:
    verification = card_verification(live, client, "linked", LINKED)
    operation = client.create_operation("password_reset", verification.verification_id, {}, uuid.uuid4().hex)
    key = operation.session_key
    assert key is not None
    cancelled = client.cancel_operation(operation.operation_id, key, reason="user_cancelled")
    assert cancelled.status == "cancelled"
    assert client.cancel_operation(operation.operation_id, key).status == "cancelled"  # idempotent
    with live.minted_staff() as staff:
        late = staff.post(live.url(f"/v1/staff/operations/{operation.operation_id}/decision"),
                          json={"approve": True, "staff_id": "yamada.t"})
    assert late.status_code == 409 and late.json()["error"] == "operation_cancelled"
    with pytest.raises(ServerRefused) as refused:
        client.set_password(operation.operation_id, STRONG_PASSWORD, key)
    assert refused.value.code == "operation_cancelled"
    with pytest.raises(ServerRefused) as foreign:
        client.cancel_operation(operation.operation_id, "not-the-key")
    assert foreign.value.code == "session_key_invalid"


def test_keepalives_hold_the_operation_until_they_stop(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    with live_server(tmp_path / "s", hierarchy, limits=ROOMY,
                     lifetimes=Lifetimes(keepalive_timeout_seconds=2)) as server, \
            LinkageClient(config_for(server)) as linkage:
        verification = card_verification(server, linkage, "linked", LINKED)
        operation = linkage.create_operation("unlink", verification.verification_id, {}, uuid.uuid4().hex)
        key = operation.session_key
        assert key is not None
        # Waiting longer than the timeout: the keep-alives hold it.
        held = linkage.wait_for_decision(operation.operation_id, key, cancel=threading.Event(), poll=0.5,
                                         timeout=3)
        assert held.status == "awaiting_approval"
        deadline = time.monotonic() + 15
        state = linkage.get_operation(operation.operation_id)
        while state.status == "awaiting_approval" and time.monotonic() < deadline:
            time.sleep(0.2)
            state = linkage.get_operation(operation.operation_id)
        assert state.status == "expired" and state.error_code == "kiosk_gone"
        assert linkage.keep_alive(operation.operation_id, key).status == "expired"


# -- pre-link with the device authorization grant ------------------------------------------------------


def sign_in_on_the_phone(live: LiveServer, user_code: str, account: str, action: str = "approve") -> None:
    answer = live.sign_in_on_phone(user_code, account, action=action)
    assert answer.status_code == 200, answer.text


def test_the_device_grant_proves_the_account_for_prelink(live: LiveServer, client: LinkageClient) -> None:
    grant = client.device_authorize()
    assert grant.verification_uri == live.url("/device")
    assert grant.user_code in grant.verification_uri_complete
    assert grant.interval == 5 and grant.expires_in == 600 and grant.device_code not in repr(grant)
    assert client.poll_device_token(grant.device_code).status == "pending"
    slow = client.poll_device_token(grant.device_code, interval=grant.interval)
    assert slow.status == "slow_down" and slow.interval == 10
    sign_in_on_the_phone(live, grant.user_code, UNLINKED)
    live.clock.advance(11)  # the kiosk waited out the raised interval (within the assertion leeway)
    done = client.poll_device_token(grant.device_code, interval=slow.interval)
    assert done.status == "done" and done.account_token and done.account_token not in repr(done)
    with pytest.raises(ServerRefused) as used:
        client.poll_device_token(grant.device_code)
    assert used.value.code == "invalid_grant" and used.value.status == 400

    verification = card_verification(live, client, "unlinked", UNLINKED)
    assert verification.match is False
    prelink = client.create_operation("prelink", verification.verification_id, {
        "account_token": done.account_token, "name_on_card": "Ichiro Suzuki"}, uuid.uuid4().hex)
    assert prelink.status == "awaiting_approval" and prelink.account_id == UNLINKED


def test_a_refused_sign_in_is_access_denied(live: LiveServer, client: LinkageClient) -> None:
    grant = client.device_authorize()
    sign_in_on_the_phone(live, grant.user_code, UNLINKED, action="deny")
    with pytest.raises(ServerRefused) as denied:
        client.poll_device_token(grant.device_code)
    assert denied.value.code == "access_denied"


def test_waiting_for_the_device_token(live: LiveServer, client: LinkageClient) -> None:
    grant = client.device_authorize()
    sign_in_on_the_phone(live, grant.user_code, UNLINKED)
    # The server's 5 s interval, shortened so the test waits one second.
    token = client.wait_for_device_token(dataclasses.replace(grant, interval=1), cancel=threading.Event())
    assert token.count(".") == 2
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        client.wait_for_device_token(client.device_authorize(), cancel=cancel)


class RecordingEvent(threading.Event):
    """A cancel event that is never set and returns at once, remembering each wait asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return False


def test_the_device_wait_honours_the_interval_and_slow_down(tmp_path: Path) -> None:
    answers = iter([(400, {"error": "authorization_pending", "error_description": "not yet"}),
                    (400, {"error": "slow_down", "error_description": "slower"}),
                    (400, {"error": "authorization_pending", "error_description": "not yet"}),
                    (200, {**TOKEN_ANSWER, "access_token": "account.token.value", "scope": "account"})])

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/server-info":
            return httpx2.Response(200, json=MOCK_INFO)
        status, body = next(answers)
        return httpx2.Response(status, json=body)

    grant = DeviceAuthorization("device-code", "BCDF-GHJK", "https://x.example/device",
                                "https://x.example/device?user_code=BCDF-GHJK", 600, 5)
    cancel = RecordingEvent()
    with mock_client(tmp_path, handler) as client:
        assert client.wait_for_device_token(grant, cancel=cancel) == "account.token.value"
    assert cancel.waits == [5, 5, 10, 10]


# -- offline evidence ----------------------------------------------------------------------------------


def sealed_evidence(live: LiveServer, counter: int) -> str:
    """Evidence as an offline kiosk seals it: the card's signature over its own challenge, staff approval."""
    issued = int(live.clock().timestamp()) - 600
    challenge = offline_challenge(counter, issued, secrets.token_bytes(16))
    signature = live.hierarchy.holder("linked").auth_key.sign(
        signed_message(challenge, live.setup.kiosk_id, LINKED), padding.PKCS1v15(), hashes.SHA256())
    payload = {
        "v": 1, "kiosk_id": live.setup.kiosk_id, "counter": counter, "issued_at": issued,
        "challenge": b64url(challenge), "account_id": LINKED, "operation": "mfa_reset", "params": {},
        "certificate": b64url(live.card("linked").profile.auth_cert_der), "signature": b64url(signature),
        "staff": {"staff_id": "sato.k", "approved_at": issued + 30},
        "voucher_hash": hashlib.sha256(secrets.token_bytes(8)).hexdigest(),
    }
    kiosk_key = ECKey.import_key(live.setup.kiosk_key_path.read_bytes())
    with live.minted() as http:
        server_key = ECKey.import_key(http.get(live.url("/v1/server-info")).json()["sealing_key"])
    return seal_evidence(payload, kiosk_key, "ES256", server_key)


def test_evidence_uploads_in_batches_and_each_gets_a_fate(live: LiveServer, client: LinkageClient,
                                                          recorder: Recorder) -> None:
    good = (f"evd-{uuid.uuid4().hex}", sealed_evidence(live, counter=secrets.randbelow(10**9) + 1))
    unreadable = [(f"evd-{uuid.uuid4().hex}", f"aaa.bbb.ccc.ddd.e{i}") for i in range(59)]
    fates = client.upload_evidence([good, *unreadable])
    assert recorder.count("POST", "/v1/offline/evidence") == 2  # 50 + 10
    assert [f.idempotency_key for f in fates] == [good[0]] + [key for key, _ in unreadable]
    assert fates[0].fate == "accepted" and fates[0].error_code is None
    assert {(f.fate, f.error_code) for f in fates[1:]} == {("refused", "evidence_unreadable")}
    again = client.upload_evidence([good])
    assert again[0].duplicate is True and again[0].evidence_id == fates[0].evidence_id
    assert client.upload_evidence([]) == []
    with pytest.raises(ValueError):
        client.upload_evidence([("short", "a.b.c.d.e")])


def test_large_bundles_are_split_by_size(tmp_path: Path) -> None:
    bodies: list[int] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        if (known := discovery(request)) is not None:
            return known
        bundles = json.loads(request.read())["bundles"]
        bodies.append(len(request.content))
        return httpx2.Response(200, json={"results": [
            {"idempotency_key": b["idempotency_key"], "evidence_id": f"evd_{i}", "fate": "accepted",
             "error_code": None, "duplicate": False} for i, b in enumerate(bundles)]})

    bundles = [(f"key-{i:04d}", "x" * 30_000) for i in range(5)]
    with mock_client(tmp_path, handler) as client:
        assert len(client.upload_evidence(bundles)) == 5
    assert len(bodies) == 3 and max(bodies) < 64 * 1024


# -- retries -------------------------------------------------------------------------------------------


class Script:
    """A MockTransport handler: the token endpoint works, other paths answer from a list, each counted."""

    def __init__(self, *answers: int | type[httpx2.TransportError]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if (known := discovery(request)) is not None:
            return known
        self.calls.append(request.url.path)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, type):
            raise answer("scripted failure", request=request)
        if answer == 201 or answer == 200:
            return httpx2.Response(answer, json=operation_json())
        return httpx2.Response(answer, text="gateway trouble", headers={"Content-Type": "text/plain"})


def test_idempotent_calls_are_retried_on_gateway_errors_and_timeouts(tmp_path: Path) -> None:
    script = Script(503, httpx2.ReadTimeout, 201)
    with mock_client(tmp_path, script) as client:
        operation = client.create_operation("password_reset", "ver_1", {}, "kiosk-key-0001")
    assert operation.operation_id == "op_1" and len(script.calls) == 3

    script = Script(502, 504, 503)
    with mock_client(tmp_path, script) as client, pytest.raises(ServerUnreachable) as gone:
        client.get_operation("op_1")
    assert len(script.calls) == 3 and gone.value.code == "server.unreachable"


def test_a_verification_is_never_resent(tmp_path: Path) -> None:
    for failure in (503, httpx2.ReadTimeout, httpx2.ConnectError):
        script = Script(failure)
        with mock_client(tmp_path, script) as client, pytest.raises(ServerUnreachable):
            client.verify(LINKED, bytes(32), b"certificate", b"signature")
        assert script.calls == ["/v1/verifications"]


def test_a_password_is_resent_only_if_it_never_left(tmp_path: Path) -> None:
    for failure in (httpx2.ReadTimeout, httpx2.WriteTimeout, httpx2.ReadError, 503):
        script = Script(failure)
        with mock_client(tmp_path, script) as client, pytest.raises(ServerUnreachable) as gone:
            client.set_password("op_1", STRONG_PASSWORD, "session-key")
        assert len(script.calls) == 1 and STRONG_PASSWORD not in str(gone.value)
    script = Script(httpx2.ConnectError, 200)
    with mock_client(tmp_path, script) as client:
        client.set_password("op_1", STRONG_PASSWORD, "session-key")
    assert len(script.calls) == 2


def test_an_echoed_password_is_scrubbed_from_the_refusal(tmp_path: Path) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if (known := discovery(request)) is not None:
            return known
        return httpx2.Response(422, json={"error": "password_policy", "message": f"{STRONG_PASSWORD} is bad",
                                          "problems": [STRONG_PASSWORD, "too_few_classes"]})

    with mock_client(tmp_path, handler) as client, pytest.raises(ServerRefused) as refused:
        client.set_password("op_1", STRONG_PASSWORD, "session-key")
    assert STRONG_PASSWORD not in str(refused.value) and STRONG_PASSWORD not in repr(refused.value.extra)
    assert "too_few_classes" in refused.value.extra["problems"]  # type: ignore[operator]


# -- servers that are not there, or not right ----------------------------------------------------------


def test_a_closed_port_is_unreachable_at_once(tmp_path: Path) -> None:
    config = LinkageConfig(f"http://127.0.0.1:{free_port()}", "kiosk-01",
                           ec_key_file(tmp_path, ec.SECP256R1()), backoff=0.01)
    recorder = Recorder()
    started = time.monotonic()
    with LinkageClient(config, transport=recorder) as client:
        with pytest.raises(ServerUnreachable):
            client.server_info()
        with pytest.raises(ServerUnreachable):
            client.challenge()  # the token request cannot be made either
        assert client.health() is False
    assert time.monotonic() - started < 3
    # Each call tried three times: the first try and two retries (the token needs server-info first).
    assert recorder.count("GET", "/v1/server-info") == 6


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    # Connections complete in the kernel's backlog; nobody ever reads or answers them.
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:
        port = silent.getsockname()[1]
        config = LinkageConfig(f"http://127.0.0.1:{port}", "kiosk-01", ec_key_file(tmp_path, ec.SECP256R1()),
                               read_timeout=0.3, retries=1, backoff=0.01)
        started = time.monotonic()
        with LinkageClient(config) as client, pytest.raises(ServerUnreachable) as gone:
            client.server_info()
        assert time.monotonic() - started < 2.5
    assert "ReadTimeout" in str(gone.value)


class RawServer:
    """A loopback server that answers every request with the same raw bytes (or nothing), then hangs up."""

    def __init__(self, answer: bytes | None, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.tls = tls
        self.requests = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        scheme = "https" if tls else "http"
        self.base = f"{scheme}://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            try:
                connection.settimeout(2)
                if self.tls is not None:
                    connection = self.tls.wrap_socket(connection, server_side=True)
                self._answer(connection)
            except (OSError, ssl.SSLError):
                pass  # a client that refused the certificate, or hung up
            finally:
                connection.close()

    def _answer(self, connection: socket.socket) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)
            if not chunk:
                return
            received += chunk
        self.requests += 1
        if self.answer is not None:
            connection.sendall(self.answer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()


def http_answer(status: str, content_type: str, body: bytes, *, length: int | None = None) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n\r\n").encode() + body


@pytest.mark.parametrize("answer", [
    http_answer("200 OK", "text/html", b"<html><body>Welcome to the captive portal</body></html>"),
    http_answer("200 OK", "application/json", b"{not json"),
    http_answer("200 OK", "application/json", b'{"issuer": 42}'),
    http_answer("200 OK", "application/json", b"[" * 100_000),
    http_answer("500 Internal Server Error", "application/json", b'{"error": "internal", "message": "x"}'),
    http_answer("403 Forbidden", "text/html", b"<h1>Forbidden by the proxy</h1>"),
    http_answer("302 Found", "text/html", b""),
    http_answer("200 OK", "application/json", b"{}", length=2 * 1024 * 1024),
    b"SSH-2.0-OpenSSH_9.6\r\n\r\ngarbage that is not HTTP\r\n\r\n",
], ids=["html", "broken-json", "wrong-shape", "deep-json", "500", "proxy-403", "redirect", "oversize",
        "not-http"])
def test_a_server_answering_nonsense_is_a_protocol_error(tmp_path: Path, answer: bytes) -> None:
    server = RawServer(answer)
    try:
        config = LinkageConfig(server.base, "kiosk-01", ec_key_file(tmp_path, ec.SECP256R1()), backoff=0.01)
        with LinkageClient(config) as client, pytest.raises(ServerProtocolError) as broken:
            client.server_info()
    finally:
        server.close()
    assert broken.value.code == "server.protocol"
    assert server.requests == 1  # nonsense is not retried


def test_an_oversize_chunked_answer_is_cut_off(tmp_path: Path) -> None:
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(20)) + b"0\r\n\r\n"
    server = RawServer(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n" + body)
    try:
        config = LinkageConfig(server.base, "kiosk-01", ec_key_file(tmp_path, ec.SECP256R1()))
        with LinkageClient(config) as client, pytest.raises(ServerProtocolError, match="exceeds"):
            client.server_info()
    finally:
        server.close()


def test_a_closed_client_refuses_calls(tmp_path: Path) -> None:
    client = mock_client(tmp_path, Script())
    client.close()
    with pytest.raises(Cancelled):
        client.get_operation("op_1")


def test_logs_carry_no_secrets(live: LiveServer, client: LinkageClient, recorder: Recorder,
                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(1)
    challenge = client.challenge()
    certificate, signature = live.sign("linked", challenge.nonce, LINKED)
    client.verify(LINKED, challenge.nonce, certificate, signature)
    token = client._oauth.token["access_token"]
    secrets_sent = [token, recorder.forms[0]["client_assertion"], b64url(challenge.nonce),
                    b64url(certificate), b64url(signature), challenge.nonce.hex()]
    lines = [record.getMessage() + repr(record.args) for record in caplog.records]
    assert any("/v1/verifications" in line and "200" in line for line in lines)
    for line in lines:
        for secret in secrets_sent:
            assert secret not in line


def test_a_server_that_hangs_up_without_answering_is_unreachable(tmp_path: Path) -> None:
    server = RawServer(None)
    try:
        config = LinkageConfig(server.base, "kiosk-01", ec_key_file(tmp_path, ec.SECP256R1()), backoff=0.01)
        with LinkageClient(config) as client, pytest.raises(ServerUnreachable):
            client.server_info()
    finally:
        server.close()
    assert server.requests == 3  # a lost answer to a GET is worth retrying


def certificate_authority(folder: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A CA file, and a server TLS context for 127.0.0.1 with a certificate that CA issued."""
    now = dt.datetime.now(dt.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signs_certificates = x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       key_cert_sign=True, crl_sign=True, encipher_only=False,
                                       decipher_only=False)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(signs_certificates, critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    issuer_id = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "linkage")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(issuer_id, critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file = folder / f"{name}.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain, key = folder / f"{name}-server.pem", folder / f"{name}-server.key"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    return ca_file, context


def test_tls_is_verified_against_the_pinned_ca(tmp_path: Path) -> None:
    ca_file, context = certificate_authority(tmp_path, "institution-ca")
    other_ca, _ = certificate_authority(tmp_path, "someone-else")
    server = RawServer(http_answer("200 OK", "application/json", b'{"status": "ok", "database": "ok"}'),
                       tls=context)
    key = ec_key_file(tmp_path, ec.SECP256R1())
    try:
        with LinkageClient(LinkageConfig(server.base, "kiosk-01", key, ca_file=ca_file)) as pinned:
            assert pinned.health() is True
        for wrong in (None, other_ca):  # the system's trust store, or another CA
            config = LinkageConfig(server.base, "kiosk-01", key, ca_file=wrong, retries=0)
            with LinkageClient(config) as client, pytest.raises(ServerUnreachable) as refused:
                client.server_info()
            assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    finally:
        server.close()
    assert server.requests == 1
    with pytest.raises(ValueError, match="CA file"):
        LinkageClient(LinkageConfig(server.base, "kiosk-01", key, ca_file=tmp_path / "missing.pem"))
