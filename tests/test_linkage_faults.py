"""The linkage client against servers that misbehave: which calls are retried, and what a closed
port, a silent server, nonsense, oversize answers and a wrong TLS certificate become.

Failures the real server does not produce on demand (gateways, timeouts, garbage, oversize answers)
come from a closed port, a listening socket that never answers, a scripted raw-socket server, or an
httpx2 MockTransport that counts requests.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiosk.linkage import (
    Cancelled,
    LinkageClient,
    LinkageConfig,
    ServerProtocolError,
    ServerRefused,
    ServerUnreachable,
    b64url,
)
from tests.helpers.linkage_client import (
    LINKED,
    STRONG_PASSWORD,
    Recorder,
    discovery,
    ec_key_file,
    mock_client,
    operation_json,
)
from tests.linkserver.helpers import LiveServer, free_port

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


def test_the_servers_own_503_for_a_backend_is_a_refusal_not_a_gateway_failure(tmp_path: Path) -> None:
    """The account directory did not answer: the server is there, so nothing is retried and the
    kiosk does not think the network is down; any other 503 is still a gateway's."""
    calls: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        if (known := discovery(request)) is not None:
            return known
        calls.append(request.url.path)
        code = "directory_unavailable" if len(calls) == 1 else "something_else"
        return httpx2.Response(503, json={"error": code, "message": "the directory did not answer"})

    with mock_client(tmp_path, handler) as client:
        with pytest.raises(ServerRefused) as refused:
            client.create_operation("mfa_reset", "ver_1", {}, "kiosk-key-0001")
        assert (refused.value.code, refused.value.status, len(calls)) == ("directory_unavailable", 503, 1)
        with pytest.raises(ServerUnreachable):
            client.get_operation("op_1")
    assert len(calls) > 2  # retried as a gateway's 503


def test_a_verification_is_never_resent(tmp_path: Path) -> None:
    for failure, words in ((503, "HTTP 503"), (httpx2.ReadTimeout, "ReadTimeout"),
                           (httpx2.ConnectError, "ConnectError")):
        script = Script(failure)
        with mock_client(tmp_path, script) as client, pytest.raises(ServerUnreachable, match=words):
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


@pytest.mark.timeout(60)  # a hang guard; bench/kiosk_bench.py times the ways out ("closed port")
def test_a_closed_port_is_unreachable_at_once(tmp_path: Path) -> None:
    config = LinkageConfig(f"http://127.0.0.1:{free_port()}", "kiosk-01",
                           ec_key_file(tmp_path, ec.SECP256R1()), backoff=0.01)
    recorder = Recorder()
    with LinkageClient(config, transport=recorder) as client:
        with pytest.raises(ServerUnreachable, match="ConnectError"):
            client.server_info()
        with pytest.raises(ServerUnreachable, match="ConnectError"):
            client.challenge()  # the token request cannot be made either
        assert client.health() is False
    # Each call tried three times: the first try and two retries (the token needs server-info first).
    assert recorder.count("GET", "/v1/server-info") == 6


@pytest.mark.timeout(60)  # a hang guard; bench/kiosk_bench.py times the ways out ("silent server")
def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    # Connections complete in the kernel's backlog; nobody ever reads or answers them.
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:
        port = silent.getsockname()[1]
        config = LinkageConfig(f"http://127.0.0.1:{port}", "kiosk-01", ec_key_file(tmp_path, ec.SECP256R1()),
                               read_timeout=0.3, retries=1, backoff=0.01)
        recorder = Recorder()
        with LinkageClient(config, transport=recorder) as client, pytest.raises(ServerUnreachable) as gone:
            client.server_info()
    assert "ReadTimeout" in str(gone.value)
    assert recorder.count("GET", "/v1/server-info") == 2  # the first try and its one retry


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
    with pytest.raises(Cancelled, match=r"^cancelled: the linkage client is closed$"):
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
        with LinkageClient(config) as client, pytest.raises(ServerUnreachable, match="RemoteProtocolError"):
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
