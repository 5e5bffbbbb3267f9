"""The reference server's API from a test's side: accounts, assertions, verified cards, decisions,
a device grant, an offline kiosk."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from pathlib import Path
from typing import Any

import httpx2
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from joserfc.jwk import ECKey
from sqlalchemy import select

from linkserver import signed_message
from linkserver.admin import register_client
from linkserver.demo import DEMO_PASSWORD
from linkserver.models import Account, Link
from linkserver.offline import b64url, offline_challenge, seal_evidence
from tests.linkserver.helpers import LiveServer, b64, oauth_client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def assertion(live: LiveServer, *, expires_in: int = 60, client_id: str | None = None,
              key: Any = None, claims: dict[str, Any] | None = None) -> str:
    """A client assertion, timed by the server's clock (which a test may have moved on)."""
    client_id = client_id or live.setup.kiosk_id
    key = key or ECKey.import_key(live.setup.kiosk_key_path.read_bytes())
    now = int(live.clock().timestamp())
    timing = {"iat": now, "exp": now + expires_in, "jti": uuid.uuid4().hex}
    return private_key_jwt_sign(key, client_id=client_id, token_endpoint=live.setup.settings.token_url,
                                alg="ES256", expires_in=expires_in, claims={**timing, **(claims or {})})


def claim(account: str, nonce: bytes, cert: bytes, signature: bytes) -> dict[str, str]:
    return {"account_id": account, "nonce": b64(nonce), "certificate": b64(cert), "signature": b64(signature)}


def register_kiosk(live: LiveServer, folder: Path, client_id: str) -> Path:
    """Another kiosk registered with the server under ``client_id``: the path of its private key."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path = folder / f"{client_id}.pem"
    path.write_bytes(pem)
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    register_client(live.server.parts.db, client_id, public)
    return path


def second_kiosk(live: LiveServer, tmp_path: Any, client_id: str = "kiosk-other-02") -> Any:
    return oauth_client(client_id, register_kiosk(live, tmp_path, client_id), live.setup.settings.token_url)


LINKED = "2024000001"


UNLINKED = "2024000002"


FORMER = "2019000003"


NEW_PASSWORD = "Sakura-2026-spring"


def verified(live: LiveServer, kiosk: httpx2.Client, holder: str = "linked", account: str = LINKED) -> str:
    answer = live.verify(kiosk, holder, account)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["verification_id"])


def decide(live: LiveServer, staff: httpx2.Client, operation_id: str,
           approve: bool = True) -> httpx2.Response:
    return staff.post(live.url(f"/v1/staff/operations/{operation_id}/decision"),
                      json={"approve": approve, "staff_id": "yamada.t"})


def stored_password(live: LiveServer, account: str = LINKED) -> tuple[str | None, dt.datetime | None]:
    """The account's password as the directory's table holds it: its hash and when it last changed."""
    with live.server.parts.db.transaction() as session:
        row = session.execute(select(Account.password_hash, Account.password_changed_at)
                              .where(Account.account_id == account)).one()
        return row.password_hash, row.password_changed_at


def account_row(live: LiveServer, account_id: str) -> Account:
    """The account as the server's database holds it (its password hash, its MFA methods)."""
    with live.server.parts.db.transaction() as session:
        row = session.get(Account, account_id)
        assert row is not None, account_id
        session.expunge(row)
        return row


def link_of(live: LiveServer, account: str) -> Link | None:
    with live.server.parts.db.transaction() as session:
        return session.get(Link, account)


def revealed(live: LiveServer, kiosk: httpx2.Client, created: httpx2.Response) -> dict[str, Any]:
    """The operation as its session's keep-alive answers it (showing a code the first time)."""
    body = created.json()
    answer = kiosk.post(live.url(f"/v1/operations/{body['operation_id']}/keepalive"),
                        headers={"Session-Key": body["session_key"]})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def send_password(live: LiveServer, kiosk: httpx2.Client, created: httpx2.Response,
                  password: str) -> httpx2.Response:
    """The new password for the operation ``created`` answered, from the session that asked."""
    body = created.json()
    return kiosk.post(live.url(f"/v1/operations/{body['operation_id']}/password"),
                      json={"new_password": password}, headers={"Session-Key": body["session_key"]})


class DeviceFlow:
    """The kiosk's side of RFC 8628 plus the user's sign-in on their phone."""

    def __init__(self, live: LiveServer) -> None:
        self.live = live

    def form(self, **fields: str) -> dict[str, str]:
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion(self.live), **fields}

    def start(self) -> dict[str, Any]:
        answer = httpx2.post(self.live.url("/oauth/device_authorization"), data=self.form(scope="account"))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def poll(self, device_code: str) -> httpx2.Response:
        return httpx2.post(self.live.setup.settings.token_url, data=self.form(
            grant_type="urn:ietf:params:oauth:grant-type:device_code", device_code=device_code))

    def sign_in(self, user_code: str, account: str, password: str) -> httpx2.Response:
        return self.live.sign_in_on_phone(user_code, account, password)

    def account_token(self, account: str) -> str:
        grant = self.start()
        assert self.sign_in(grant["user_code"], account, DEMO_PASSWORD).status_code == 200
        answer = self.poll(grant["device_code"])
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


VOUCHER = "VCHR-7K2M-Q9TX-4HPD"


def redeem(live: LiveServer, voucher: str = VOUCHER, account: str = LINKED, **extra: str) -> httpx2.Response:
    """The user finishing an offline-approved request with its voucher, from their own device."""
    return httpx2.post(live.url("/v1/vouchers/redeem"), json={"voucher": voucher, "account_id": account,
                                                             **extra})


class Kiosk:
    """What an offline kiosk records: a counter, a card signature, staff approval, a voucher hash."""

    def __init__(self, live: LiveServer) -> None:
        self.live = live
        self.key = ECKey.import_key(live.setup.kiosk_key_path.read_bytes())
        self.counter = 0
        info = live.minted().get(live.url("/v1/server-info")).json()
        self.server_key = ECKey.import_key(info["sealing_key"])

    def payload(self, holder: str = "linked", account: str = LINKED, operation: str = "password_reset",
                voucher: str = VOUCHER, counter: int | None = None, **changes: Any) -> dict[str, Any]:
        if counter is None:
            self.counter += 1
            counter = self.counter
        issued = int(self.live.clock().timestamp()) - 600
        challenge = offline_challenge(counter, issued, secrets.token_bytes(16))
        key = self.live.hierarchy.holder(holder).auth_key
        signature = key.sign(signed_message(challenge, self.live.setup.kiosk_id, account),
                             padding.PKCS1v15(), hashes.SHA256())
        payload = {
            "v": 1, "kiosk_id": self.live.setup.kiosk_id, "counter": counter, "issued_at": issued,
            "challenge": b64url(challenge), "account_id": account, "operation": operation,
            "params": {"mode": "backup"} if operation == "salvage" else {},
            "certificate": b64url(self.live.card(holder).profile.auth_cert_der),
            "signature": b64url(signature), "staff": {"staff_id": "sato.k", "approved_at": issued + 30},
            "voucher_hash": hashlib.sha256(voucher.encode()).hexdigest(),
        }
        payload.update(changes)
        return payload

    def seal(self, payload: dict[str, Any], key: Any = None, server_key: Any = None) -> str:
        return seal_evidence(payload, key or self.key, "ES256", server_key or self.server_key)

    def upload(self, *sealed: str, keys: list[str] | None = None) -> list[dict[str, Any]]:
        keys = keys or [uuid.uuid4().hex for _ in sealed]
        answer = self.live.minted().post(self.live.url("/v1/offline/evidence"), json={
            "bundles": [{"idempotency_key": k, "sealed": s} for k, s in zip(keys, sealed, strict=True)]})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["results"])
