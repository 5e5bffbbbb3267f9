"""HTTPS two ways: the server serving it itself (``server.tls_cert_file`` and ``tls_key_file``), and
behind Debian's nginx configured with the shipped ``deploy/nginx-linkserver.conf``, whose forwarded
scheme the server believes only from a trusted proxy (the console's cookie is then Secure)."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from kiosk.nfc.sim import TestHierarchy
from linkserver.demo import prepare_demo
from tests.helpers.slapd import make_tls
from tests.linkserver.console_parts import seat_staff
from tests.linkserver.helpers import LiveServer, free_port, live_server

SNIPPET = Path(__file__).parents[2] / "linkserver" / "deploy" / "nginx-linkserver.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def serving(config: Path) -> tuple[subprocess.Popen[str], int]:
    """``kiosk-linkserver --config CONFIG`` on a free port, once it has started; a port another
    process took in the meantime (exit 5) is given up for another."""
    for _ in range(5):
        port = free_port()
        serve = [sys.executable, "-m", "linkserver.cli", "--config", str(config), "--port", str(port)]
        server = subprocess.Popen(serve, stderr=subprocess.PIPE, text=True)
        assert server.stderr is not None
        said = []
        for line in server.stderr:
            said.append(line)
            if "Uvicorn running on" in line:  # listening (startup completes before it listens)
                return server, port
        if server.wait(timeout=60) != 5:
            raise AssertionError(f"the server did not start: {''.join(said)}")
    raise AssertionError("no free port was kept long enough")


def test_the_server_serves_https_with_its_own_certificate(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    ca = make_tls(tmp_path / "tls")
    config = prepare_demo(tmp_path / "state", hierarchy.path, issuer="https://127.0.0.1").config_path
    tls = f'tls_cert_file = "{ca.parent / "server.pem"}"\ntls_key_file = "{ca.parent / "server.key"}"\n'
    config.write_text(config.read_text("utf-8").replace("[jpki]", tls + "\n[jpki]"), "utf-8")
    server, port = serving(config)
    try:
        answer = httpx2.get(f"https://127.0.0.1:{port}/.well-known/jwks.json", verify=trusting(ca))
        assert answer.status_code == 200 and answer.json()["keys"]
        with pytest.raises(httpx2.ConnectError):
            httpx2.get(f"https://127.0.0.1:{port}/", verify=True)  # no public CA vouches for it
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_a_certificate_without_its_key_is_refused(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    ca = make_tls(tmp_path / "tls")
    config = prepare_demo(tmp_path / "state", hierarchy.path).config_path
    config.write_text(config.read_text("utf-8").replace(
        "[jpki]", f'tls_cert_file = "{ca.parent / "server.pem"}"\n\n[jpki]'), "utf-8")
    result = subprocess.run([sys.executable, "-m", "linkserver.cli", "migrate", "--config", str(config)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "server.tls_cert_file and server.tls_key_file go together" in result.stderr


@pytest.fixture
def behind_nginx(tmp_path: Path, hierarchy: TestHierarchy) -> Iterator[tuple[LiveServer, str, Path]]:
    """The server on loopback trusting 127.0.0.1 as its proxy, and nginx in front of it with the
    shipped configuration: (the server, nginx's base URL, the CA that signed nginx's certificate)."""
    ca = make_tls(tmp_path / "tls")
    port = free_port()
    with live_server(tmp_path / "state", hierarchy, settings={"trusted_proxies": ("127.0.0.1",)}) as live:
        upstream = live.base.rsplit(":", 1)[1]
        site = SNIPPET.read_text("utf-8")
        for old, new in (("listen 443 ssl", f"listen 127.0.0.1:{port} ssl"),
                         ("/etc/ssl/linkage/fullchain.pem", str(ca.parent / "server.pem")),
                         ("/etc/ssl/linkage/privkey.pem", str(ca.parent / "server.key")),
                         ("127.0.0.1:8470", f"127.0.0.1:{upstream}")):
            assert old in site
            site = site.replace(old, new)
        prefix = tmp_path / "nginx"
        (prefix / "logs").mkdir(parents=True)
        (prefix / "site.conf").write_text(site, "utf-8")
        (prefix / "nginx.conf").write_text(
            f"error_log {prefix}/logs/error.log;\npid {prefix}/nginx.pid;\nevents {{}}\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n"
            f"  proxy_temp_path {prefix}/proxy;\n  include {prefix}/site.conf;\n}}\n", "utf-8")
        nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                                  "-g", "daemon off; master_process off;"], stderr=subprocess.PIPE, text=True)
        try:
            base = f"https://127.0.0.1:{port}"
            _wait_for_tls(base, ca, nginx)
            yield live, base, ca
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)


def _wait_for_tls(base: str, ca: Path, nginx: subprocess.Popen[str]) -> None:
    """Until nginx answers (it listens before the first request is served); its error if it exits."""
    while True:
        if nginx.poll() is not None:
            raise AssertionError(f"nginx exited: {nginx.stderr.read() if nginx.stderr else ''}")
        try:
            httpx2.get(base + "/.well-known/jwks.json", verify=trusting(ca), timeout=5)
            return
        except httpx2.ConnectError:
            continue


def sign_in_cookies(browser: httpx2.Client) -> list[str]:
    """The cookies the console sets when a member's password step is sent (a wrong password here)."""
    page = browser.get("/console/sign-in")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    answer = browser.post("/console/sign-in", data={"csrf": csrf.group(1) if csrf else "",
                                                      "staff_id": "hanako", "password": "wrong"})
    return [*page.headers.get_list("set-cookie"), *answer.headers.get_list("set-cookie")]


def test_behind_nginx_the_forwarded_scheme_makes_the_consoles_cookie_secure(
        behind_nginx: tuple[LiveServer, str, Path]) -> None:
    live, base, ca = behind_nginx
    seat_staff(live)
    with httpx2.Client(base_url=base, verify=trusting(ca)) as browser:
        proxied = sign_in_cookies(browser)
    with httpx2.Client(base_url=live.base) as browser:
        direct = sign_in_cookies(browser)
    assert proxied and all("Secure" in cookie for cookie in proxied), proxied
    assert direct and all("Secure" not in cookie for cookie in direct), direct  # plain HTTP on loopback
