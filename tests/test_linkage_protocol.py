"""The linkage client's side of the protocol: the signed message, base64url, its configuration and
keys, and the access tokens it asks for, caches and renews.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws

from kiosk.linkage import (
    DOMAIN_TAG,
    LinkageClient,
    LinkageConfig,
    ServerRefused,
    b64url,
    signed_message,
    unb64url,
)
from linkserver import signature as server_signature
from linkserver.admin import register_client
from tests.helpers.linkage_client import LINKED, Recorder, config_for, discovery, ec_key_file, mock_client
from tests.linkserver.helpers import LiveServer

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
    with pytest.raises(ValueError, match=r"^a signed field of 65536 bytes exceeds 65535$"):
        signed_message(b"\x00" * 65536, "k", "a")
    with pytest.raises(ValueError, match=r"^a signed field of 65538 bytes exceeds 65535$"):
        signed_message(b"", "k", "あ" * 21846)  # 65538 bytes of UTF-8


def test_base64url_is_unpadded_and_strict() -> None:
    for data in (b"", b"\x00", b"\xfb\xff", b"abc", secrets.token_bytes(33)):
        text = b64url(data)
        assert "=" not in text and unb64url(text) == data
    refusals = {"A": "not a valid base64url length", "AB": "base64url with non-zero trailing bits",
                "AAB": "base64url with non-zero trailing bits"}
    for bad in ("A", "AB=", "AB==", "A B", "ab+/", "ab\n", "AB", "AAB", "é"):
        # "AB" and "AAB" have non-zero trailing bits: only "AA" / "AAA" spell those bytes.
        with pytest.raises(ValueError, match=f"^{refusals.get(bad, 'not unpadded base64url')}$"):
            unb64url(bad)


# -- configuration and keys ----------------------------------------------------------------------------


def test_plain_http_is_only_for_loopback(tmp_path: Path) -> None:
    key = tmp_path / "unused.pem"
    for url in ("http://127.0.0.1:8470", "http://[::1]:8470/", "http://localhost", "https://link.example.ac.jp",
                "https://link.example.ac.jp/linkage"):
        LinkageConfig(url, "kiosk-01", key)
    plain_http = "plain http is only allowed to a loopback host, not"
    for url, words in (
            ("http://link.example.ac.jp", f"{plain_http} 'link.example.ac.jp'"),
            ("http://10.0.0.5:8470", f"{plain_http} '10.0.0.5'"),
            ("ftp://127.0.0.1", "the linkage server URL 'ftp://127.0.0.1' must be https://"),
            ("link.example.ac.jp", "the linkage server URL 'link.example.ac.jp' must be https://"),
            ("https://user:pw@link.example.ac.jp", "may not carry credentials, a query or a fragment"),
            ("https://link.example.ac.jp/?x=1", "may not carry credentials, a query or a fragment")):
        with pytest.raises(ValueError, match=re.escape(words)):
            LinkageConfig(url, "kiosk-01", key)
    good = LinkageConfig("https://x.example", "kiosk-01", key)
    seconds = "must be a number of seconds in (0, 300]"
    for bad, words in (({"connect_timeout": 0}, f"connect_timeout {seconds}"),
                       ({"read_timeout": float("inf")}, f"read_timeout {seconds}"),
                       ({"retries": -1}, "retries must be an integer from 0 to 10"),
                       ({"backoff": -1.0}, "backoff must be a number of seconds in [0, 10.0]"),
                       ({"client_id": ""}, "the client ID must be 1 to 64 printable ASCII characters")):
        with pytest.raises(ValueError, match=f"^{re.escape(words)}$"):
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
