"""A real OpenLDAP server for the directory tests: Debian's slapd on a loopback port, with TLS.

Its configuration is a temporary slapd.conf: the mdb database of ``dc=example,dc=ac,dc=jp``, the
ppolicy overlay with a default policy (minimum length 10, history of 3), a service account that
may read the people and write their passwords (but is no password administrator, so the policy
holds for it), and a few people, one of whom left on a date. The CA and server certificate are
made here with ``cryptography``. The server can be stopped and started again on the same ports.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from kiosk.nfc.sim.pcscd import free_port_pair
from linkserver.models import Base

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
BASE_DN = "dc=example,dc=ac,dc=jp"
PEOPLE = f"ou=people,{BASE_DN}"
SERVICE_DN = f"cn=kiosk-service,{BASE_DN}"
SERVICE_PASSWORD = "service-Secret-42"
MIN_LENGTH = 10
HISTORY = 3
#: The people: uid, Japanese name, English name, password, the day they left (or None).
PEOPLE_ROWS = (
    ("2024000001", "佐藤 花子", "Hanako Sato", "Old-Password-0", None),  # the demo's linked account
    ("2025000001", "山田 花子", "Hanako Yamada", "Old-Password-1", None),
    ("2025000002", "佐藤 一郎", "Ichiro Sato", "Old-Password-2", "20260601000000Z"),
    ("2025000003", "鈴木 次郎", "Jiro Suzuki", "Old-Password-3", None),
    ("2025000004", "田中 三郎", "Saburo Tanaka", "Old-Password-4", None),
    ("2025000005", "高橋 四郎", "Shiro Takahashi", "Old-Password-5", None),
)

SCHEMA = """
attributetype ( 1.3.6.1.4.1.99999.7.1.1 NAME 'leftAt'
  DESC 'when a former member left' EQUALITY generalizedTimeMatch
  ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.7.2.1 NAME 'universityMember' AUXILIARY MAY ( leftAt ) )
"""


def ssha(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def initial_ldif() -> str:
    entries = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
        "o: Example University",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: ou=policies,{BASE_DN}\nobjectClass: organizationalUnit\nou: policies",
        f"dn: cn=default,ou=policies,{BASE_DN}\nobjectClass: person\nobjectClass: pwdPolicy\n"
        "cn: default\n"
        f"sn: policy\npwdAttribute: userPassword\npwdMinLength: {MIN_LENGTH}\npwdCheckQuality: 2\n"
        f"pwdInHistory: {HISTORY}\npwdAllowUserChange: TRUE",
        f"dn: {SERVICE_DN}\nobjectClass: person\ncn: kiosk-service\nsn: service\n"
        f"userPassword: {ssha(SERVICE_PASSWORD)}",
    ]
    for uid, name_ja, name_en, password, left in PEOPLE_ROWS:
        entry = (f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: universityMember\n"
                 f"uid: {uid}\ncn: {name_en}\nsn: {name_en.split()[-1]}\ndisplayName: {name_en}\n"
                 f"displayName;lang-ja:: {_b64(name_ja)}\nmail: {uid}@example.ac.jp\n"
                 f"userPassword: {ssha(password)}")
        entries.append(entry + (f"\nleftAt: {left}" if left else ""))
    return "\n\n".join(entries) + "\n"


def slapd_conf(folder: Path) -> str:
    return f"""
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
{SCHEMA}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {folder}/slapd.pid
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
database mdb
maxsize 16777216
suffix "{BASE_DN}"
rootdn "cn=admin,{BASE_DN}"
directory {folder}/data
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{BASE_DN}"
access to attrs=userPassword
  by dn.exact="{SERVICE_DN}" write
  by self write
  by anonymous auth
  by * none
access to *
  by dn.exact="{SERVICE_DN}" read
  by self read
  by * none
"""


def make_tls(folder: Path, name: str = "slapd test CA") -> Path:
    """A CA and a server certificate for 127.0.0.1 and localhost; returns the CA's file."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(server_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([
                  x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                  critical=False)
              .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return folder / "ca.pem"


@dataclass
class Slapd:
    """One slapd: ``ldaps_url`` (LDAPS) and ``ldap_url`` (for StartTLS), trusted by ``ca_file``."""

    folder: Path
    port: int = field(default_factory=free_port_pair)
    process: subprocess.Popen[bytes] | None = None
    started: bool = False

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.port + 1}"

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    def prepare(self) -> None:
        make_tls(self.folder)
        (self.folder / "data").mkdir()
        (self.folder / "slapd.conf").write_text(slapd_conf(self.folder), "utf-8")
        (self.folder / "people.ldif").write_text(initial_ldif(), "utf-8")
        (self.folder / "service.password").write_text(SERVICE_PASSWORD + "\n", "utf-8")
        conf, ldif = self.folder / "slapd.conf", self.folder / "people.ldif"
        subprocess.run([SLAPADD, "-f", str(conf), "-l", str(ldif)], check=True, capture_output=True)

    def start(self) -> None:
        """Start slapd and return once it listens on both ports. The first start takes other
        ports if another process took these meanwhile; a restart keeps them (clients know them)."""
        assert self.process is None
        for attempt in range(1 if self.started else 5):
            urls = f"{self.ldap_url}/ {self.ldaps_url}/"
            self.process = subprocess.Popen(
                [SLAPD, "-f", str(self.folder / "slapd.conf"), "-h", urls, "-d", "0"],
                stdout=subprocess.DEVNULL, stderr=(self.folder / "slapd.log").open("ab"))
            try:
                for port in (self.port, self.port + 1):
                    wait_listening(port, self.process)
            except RuntimeError:
                self.process.kill()
                self.process.wait()
                self.process = None
                if self.started or attempt == 4:
                    raise
                self.port = free_port_pair()
                continue
            self.started = True
            return

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.process = None


def _listening_inodes(port: int) -> set[str]:
    """The socket inodes listening on 127.0.0.1:``port`` (from the kernel's TCP table)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(address.split(":")[1], 16) == port:
            inodes.add(inode)
    return inodes


def _own_sockets(pid: int) -> set[str]:
    owned = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                owned.add(target[8:-1])
    return owned


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until this slapd (not another test process's, on a port both picked) listens on the port;
    fails if slapd exits first, as it does when the port was taken."""
    for _ in range(3000):
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited with {process.returncode}")
        if _listening_inodes(port) & _own_sockets(process.pid):
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.01)
    raise RuntimeError(f"slapd never listened on {port}")


@contextlib.contextmanager
def account_tables() -> Iterator[Session]:
    """A session on an empty in-memory copy of the server's tables, for the directory's account rows."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def available() -> bool:
    return shutil.which(SLAPD) is not None and shutil.which(SLAPADD) is not None


@contextlib.contextmanager
def started(folder: Path) -> Iterator[Slapd]:
    """A slapd prepared in ``folder`` and running until the block ends."""
    server = Slapd(folder)
    server.prepare()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def binds(slapd: Slapd, uid: str, password: str) -> bool:
    """Whether the user can bind with ``password``, on a connection of the test's own."""
    import ldap  # python-ldap: only where a directory test runs

    conn = ldap.initialize(slapd.ldaps_url)
    conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(slapd.ca_file))
    conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
    try:
        conn.simple_bind_s(f"uid={uid},{PEOPLE}", password)
        return True
    except ldap.INVALID_CREDENTIALS:
        return False
    finally:
        conn.unbind_s()
