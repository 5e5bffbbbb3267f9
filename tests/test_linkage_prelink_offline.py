"""The linkage client's pre-link (the device authorization grant, signed in on the phone) and its
upload of sealed offline evidence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets
import threading
import uuid
from pathlib import Path

import httpx2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc.jwk import ECKey

from kiosk.linkage import (
    Cancelled,
    DeviceAuthorization,
    LinkageClient,
    ServerProtocolError,
    ServerRefused,
    b64url,
    signed_message,
)
from linkserver.offline import offline_challenge, seal_evidence
from tests.helpers.linkage_client import (
    LINKED,
    MOCK_INFO,
    TOKEN_ANSWER,
    UNLINKED,
    Recorder,
    card_verification,
    discovery,
    mock_client,
)
from tests.linkserver.helpers import LiveServer

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
    with pytest.raises(Cancelled, match=r"^cancelled: the wait for the account sign-in was cancelled$"):
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
    with pytest.raises(ValueError, match=r"^not a valid idempotency key$"):
        client.upload_evidence([("short", "a.b.c.d.e")])


def test_a_bundle_the_server_cannot_judge_now_is_a_retry_with_its_reason(live: LiveServer,
                                                                         client: LinkageClient) -> None:
    bundle = (f"evd-{uuid.uuid4().hex}", sealed_evidence(live, counter=secrets.randbelow(10**9) + 1))
    live.crl_clock.advance(8 * 86400)  # the server's CRLs are past their next update
    try:
        [later] = client.upload_evidence([bundle])
    finally:
        live.crl_clock.offset = dt.timedelta()
    assert (later.fate, later.error_code, later.evidence_id) == ("retry", "revocation_unknown", None)
    [accepted] = client.upload_evidence([bundle])
    assert (accepted.fate, accepted.error_code, accepted.duplicate) == ("accepted", None, False)


@pytest.mark.parametrize(("fate", "error_code"), [("accepted", "revocation_unknown"), ("refused", None)])
def test_a_fate_at_odds_with_its_error_code_is_a_protocol_error(tmp_path: Path, fate: str,
                                                                 error_code: str | None) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if (known := discovery(request)) is not None:
            return known
        [bundle] = json.loads(request.read())["bundles"]
        return httpx2.Response(200, json={"results": [
            {"idempotency_key": bundle["idempotency_key"], "evidence_id": None, "fate": fate,
             "error_code": error_code, "duplicate": False}]})

    odd = r"'error_code'.*does not agree with the fate"
    with mock_client(tmp_path, handler) as client, pytest.raises(ServerProtocolError, match=odd):
        client.upload_evidence([("key-0001", "x" * 64)])


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
