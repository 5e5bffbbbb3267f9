"""A real privacyIDEA for the MFA backend's tests, from its own virtual environment.

``scripts/setup`` installs privacyIDEA (pinned in ``scripts/privacyidea-requirements.txt``) into
``.venv-privacyidea``. Here a temporary pi.cfg names an SQLite database, a generated encryption
key, an audit key pair, a pepper and a secret key; ``pi-manage`` creates the tables and an admin;
gunicorn serves privacyIDEA's WSGI application over TLS on a free loopback port, as a deployment
would; and the REST API makes an LDAP resolver on the tests' slapd and a realm over it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pyotp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.nfc.sim.pcscd import free_port_pair
from tests.helpers.slapd import PEOPLE, SERVICE_DN, SERVICE_PASSWORD, Slapd, available, make_tls
from tests.helpers.slapd import _listening_inodes as listening_inodes
from tests.helpers.slapd import _own_sockets as own_sockets

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-privacyidea"
SETUP_HOWTO = f"privacyIDEA is not installed in {VENV}: run scripts/setup"
ADMIN = "kiosk-admin"
ADMIN_PASSWORD = "pi-Admin-Secret-7"
REALM = "university"
#: privacyIDEA's WSGI application, as gunicorn loads it.
APP = "privacyidea.app:create_app(config_name='production', silent=True)"
RESOLVER = "university-ldap"


def installed() -> bool:
    return (VENV / "bin" / "pi-manage").exists() and (VENV / "bin" / "gunicorn").exists()


def pi_cfg(folder: Path) -> str:
    return f"""
SQLALCHEMY_DATABASE_URI = "sqlite:///{folder}/pi.sqlite"
SECRET_KEY = "{secrets.token_hex(32)}"
PI_PEPPER = "{secrets.token_hex(32)}"
PI_ENCFILE = "{folder}/enckey"
PI_AUDIT_KEY_PRIVATE = "{folder}/audit-private.pem"
PI_AUDIT_KEY_PUBLIC = "{folder}/audit-public.pem"
PI_AUDIT_SQL_TRUNCATE = True
PI_LOGFILE = "{folder}/privacyidea.log"
PI_LOGLEVEL = 20
"""


def write_keys(folder: Path) -> None:
    """The encryption key (96 random bytes, as ``pi-manage setup create_enckey`` makes) and the
    audit log's signing key pair."""
    (folder / "enckey").write_bytes(os.urandom(96))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "audit-private.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    (folder / "audit-public.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def resolver_params(slapd: Slapd) -> dict[str, str]:
    """An LDAP resolver on the tests' slapd, over LDAPS with its CA, as the directory's service account."""
    userinfo = {"username": "uid", "surname": "sn", "givenname": "cn", "email": "mail"}
    return {"type": "ldapresolver", "LDAPURI": slapd.ldaps_url, "LDAPBASE": PEOPLE,
            "BINDDN": SERVICE_DN, "BINDPW": SERVICE_PASSWORD, "AUTHTYPE": "Simple",
            "LOGINNAMEATTRIBUTE": "uid", "LDAPSEARCHFILTER": "(objectClass=inetOrgPerson)",
            "USERINFO": json.dumps(userinfo), "UIDTYPE": "DN", "TIMEOUT": "5", "SIZELIMIT": "500",
            "NOREFERRALS": "1", "CACHE_TIMEOUT": "120", "START_TLS": "0", "TLS_VERIFY": "1",
            "TLS_CA_FILE": str(slapd.ca_file)}


@dataclass
class PrivacyIdea:
    """One privacyIDEA under gunicorn: ``url`` (HTTPS), trusted by ``ca_file``."""

    folder: Path
    slapd: Slapd
    port: int = field(default_factory=lambda: free_port_pair())
    process: subprocess.Popen[bytes] | None = None
    admin_token: str | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.folder / "tls" / "ca.pem"

    @property
    def admin_password_file(self) -> Path:
        return self.folder / "admin.password"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PRIVACYIDEA_CONFIGFILE": str(self.folder / "pi.cfg")}

    def prepare(self) -> None:
        """The configuration, keys and TLS files, the tables and the admin."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "pi.cfg").write_text(pi_cfg(self.folder), "utf-8")
        write_keys(self.folder)
        make_tls(self.folder / "tls", "privacyIDEA test CA")
        self.admin_password_file.write_text(ADMIN_PASSWORD + "\n", "utf-8")
        manage = str(VENV / "bin" / "pi-manage")
        for command in (["setup", "create_tables"], ["admin", "add", ADMIN, "-p", ADMIN_PASSWORD]):
            subprocess.run([manage, *command], check=True, capture_output=True, cwd=self.folder,
                           env=self.environment())

    def start(self) -> None:
        """Start gunicorn and return once privacyIDEA answers over HTTPS."""
        assert self.process is None
        tls = self.folder / "tls"
        self.process = subprocess.Popen(
            [str(VENV / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
             "--threads", "4", "--certfile", str(tls / "server.pem"), "--keyfile", str(tls / "server.key"),
             "--chdir", str(self.folder), APP],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "gunicorn.log").open("ab"),
            env=self.environment())
        self.wait_answering()

    def wait_answering(self) -> None:
        """Until this gunicorn holds the port and privacyIDEA's application answers; fails if
        gunicorn exits first. Each pause is a wait for the process's exit, so none is a bare sleep."""
        assert self.process is not None
        for _ in range(6000):
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}: "
                                   f"see {self.folder}/gunicorn.log")
            if listening_inodes(self.port) & own_sockets(self.process.pid):
                with contextlib.suppress(httpx2.TransportError):
                    if httpx2.get(self.url + "/", verify=self.tls(), timeout=5).status_code == 200:
                        return
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=0.01)
        raise RuntimeError(f"privacyIDEA never answered on {self.url}")

    def stop(self) -> None:
        """gunicorn's graceful stop (SIGTERM), and forget the login: a restart is a new process."""
        process, self.process, self.admin_token = self.process, None, None
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    def api(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One admin call of the REST API; its ``result.value``, or AssertionError with the answer.
        The admin's token is kept between calls (each login costs privacyIDEA a password hash)."""
        with httpx2.Client(base_url=self.url, verify=self.tls(), timeout=30) as client:
            if self.admin_token is None:
                login = client.post("/auth", data={"username": ADMIN, "password": ADMIN_PASSWORD})
                self.admin_token = str(login.json()["result"]["value"]["token"])
            answer = client.request(method, path, headers={"Authorization": self.admin_token},
                                    **kwargs).json()
        assert answer["result"]["status"], answer
        return answer["result"].get("value") or {}

    def configure(self) -> None:
        """The LDAP resolver on slapd and the realm over it."""
        self.api("POST", f"/resolver/{RESOLVER}", json=resolver_params(self.slapd))
        self.api("POST", f"/realm/{REALM}", json={"resolvers": RESOLVER})

    def enrol_totp(self, user: str) -> str:
        """A TOTP token for ``user`` with a secret made here; returns the secret (base32)."""
        key = os.urandom(20)
        self.api("POST", "/token/init", json={"type": "totp", "otpkey": key.hex(), "user": user,
                                             "realm": REALM, "description": "from before"})
        return base64.b32encode(key).decode("ascii")

    def tokens(self, user: str) -> list[dict[str, Any]]:
        return list(self.api("GET", "/token/", params={"user": user, "realm": REALM})["tokens"])

    def validates(self, user: str, secret: str, steps_ahead: int = 0) -> bool:
        """Whether privacyIDEA's /validate/check accepts the TOTP of ``secret`` for ``user``, now or
        ``steps_ahead`` time steps on (within privacyIDEA's window, and never used before)."""
        totp = pyotp.TOTP(secret)
        otp = totp.at(time.time() + steps_ahead * totp.interval)
        with httpx2.Client(base_url=self.url, verify=self.tls(), timeout=30) as client:
            answer = client.post("/validate/check", data={"user": user, "realm": REALM, "pass": otp}).json()
        assert answer["result"]["status"], answer
        return bool(answer["result"]["value"])


@contextlib.contextmanager
def running_privacyidea(folder: Path) -> Iterator[PrivacyIdea]:
    """A configured privacyIDEA, its realm on a slapd of its own, both stopped at the end. Fails
    (never skips) when privacyIDEA or slapd is not installed, naming scripts/setup."""
    if not installed():
        raise RuntimeError(SETUP_HOWTO)
    if not available():
        raise RuntimeError("Debian's slapd is not installed: run scripts/setup")
    slapd = Slapd(folder / "slapd")
    slapd.prepare()
    slapd.start()
    server = PrivacyIdea(folder / "privacyidea", slapd)
    try:
        server.prepare()
        server.start()
        server.configure()
        yield server
    finally:
        server.stop()
        slapd.stop()
