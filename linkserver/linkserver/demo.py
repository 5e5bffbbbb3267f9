"""The demo setup: a working server over the simulated card's test hierarchy, out of the box.

It reads the same hierarchy folder as ``kiosk sim`` (generating it if absent), so every simulated
card verifies against it; writes fresh CRLs signed by the hierarchy's CAs, new server keys and a
configuration into a state folder; and seeds accounts, links and a registered kiosk and staff
client whose private keys are left in that folder for the kiosk to use.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pyotp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from linkserver.admin import import_renewals, register_client
from linkserver.anchor import open_database
from linkserver.config import Settings, load_settings
from linkserver.configread import ConfigError
from linkserver.db import Database
from linkserver.models import Account, Link
from linkserver.passwords import hash_password
from linkserver.ppid import PpidDeriver, load_renewals_csv
from linkserver.roster import set_offline_pin
from linkserver.staff import StaffDirectory, TotpSealer, provisioning_uri
from linkserver.tokens import generate_ec_private_key_pem

DEMO_KIOSK_ID = "kiosk-demo-01"
DEMO_STAFF_ID = "staff-automation-demo"
DEMO_PASSWORD = "Demo-Passw0rd!"
#: The demo's desk member at the demo counter, signed in at the console with this password and a
#: TOTP code from the key in ``DEMO_DESK_TOTP_FILE`` (enrolled already, so the demo can show it).
DEMO_DESK_ID = "desk-demo"
DEMO_DESK_PASSWORD = "Desk-Demo-Passw0rd!"
DEMO_DESK_TOTP_FILE = "desk-demo.totp"
#: The demo desk member's offline PIN, for approving at the demo kiosk while the server is away.
DEMO_DESK_OFFLINE_PIN = "246810"
DEMO_COUNTER_ID = "counter-demo"
#: What ``desk_sign_in`` says, written into the state folder for the kiosk's demo to show.
DEMO_CONSOLE_FILE = "staff-console.txt"


@dataclass(frozen=True)
class DemoAccount:
    account_id: str
    display_name: str
    #: The test holder whose card is linked to this account, or None.
    linked_holder: str | None
    status: str = "active"
    left_days_ago: int | None = None
    mfa_methods: int = 2


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("2024000001", "Hanako Sato", "linked-old"),  # renewed since: the "linked" card
    DemoAccount("2024000002", "Ichiro Suzuki", None),  # the "unlinked" card pre-links here
    DemoAccount("2019000003", "Maria Garcia", "latin", status="left", left_days_ago=30),
    DemoAccount("2024000004", "Naoko Ito", "blocked"),
    DemoAccount("2024000005", "Yu Kato", "last-try"),
    DemoAccount("2015000006", "Sho Watanabe", "old-root"),
    DemoAccount("2024000007", "Kenta Tanaka", "revoked"),
    DemoAccount("2019000008", "Misaki Takahashi", "expired"),
    DemoAccount("2024000009", "Daisuke Nakamura", "not-yet-valid"),
    DemoAccount("2017000010", "Ken Mori", None, status="left", left_days_ago=400),
)


@dataclass(frozen=True)
class DemoSetup:
    settings: Settings
    config_path: Path
    kiosk_id: str
    kiosk_key_path: Path
    staff_id: str
    staff_key_path: Path


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _public_pem(private_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def default_hierarchy_dir() -> Path:
    """The folder ``kiosk sim`` uses when none is named."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kiosk" / "test-jpki"


@dataclass(frozen=True)
class HierarchyFolder:
    """The test hierarchy as files (its layout is described by ``hierarchy.json``)."""

    path: Path
    generations: tuple[str, ...]
    #: slug -> (name on the card, generation, status, serial)
    holders: dict[str, tuple[str, str, str, int]]

    @classmethod
    def open(cls, path: Path | None) -> HierarchyFolder:
        path = path or default_hierarchy_dir()
        if not (path / "hierarchy.json").is_file():
            try:
                from kiosk.nfc.sim.hierarchy import TestHierarchy
            except ImportError:
                raise FileNotFoundError(
                    f"no test hierarchy in {path}: run 'kiosk sim' once to create it, or pass --hierarchy"
                ) from None
            TestHierarchy.ensure(path)
        meta = json.loads((path / "hierarchy.json").read_text("utf-8"))
        holders = {h["spec"]["slug"]: (h["spec"]["name"], h["spec"]["generation"], h["spec"]["status"],
                                       int(h["serial"])) for h in meta["holders"]}
        return cls(path, tuple(meta["generations"]), holders)

    def anchor_path(self, generation: str) -> Path:
        return self.path / "ca" / f"auth-{generation}.pem"

    def holder_certificate(self, slug: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.path / "holders" / slug / "auth-cert.pem").read_bytes())

    def write_fresh_crls(self, out: Path, now: dt.datetime) -> list[Path]:
        """CRLs for every root generation, valid from now, listing the hierarchy's revoked holders."""
        paths = []
        for generation in self.generations:
            ca = x509.load_pem_x509_certificate(self.anchor_path(generation).read_bytes())
            key = serialization.load_pem_private_key(
                (self.path / "ca" / f"auth-{generation}.key").read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
                       .last_update(now - dt.timedelta(minutes=5)).next_update(now + dt.timedelta(days=7)))
            for _name, holder_generation, status, serial in self.holders.values():
                if status == "revoked" and holder_generation == generation:
                    builder = builder.add_revoked_certificate(
                        x509.RevokedCertificateBuilder().serial_number(serial)
                        .revocation_date(now - dt.timedelta(days=1)).build())
            path = out / f"auth-{generation}.crl"
            path.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
            paths.append(path)
        return paths


#: The files a demo state folder holds once prepared; all present: the folder is reused as it is.
DEMO_STATE_FILES = ("linkserver.toml", "ppid.secret", "audit.key", "token-signing.pem", "sealing.pem",
                    "kiosk-demo.pem", "staff-demo.pem", DEMO_DESK_TOTP_FILE)


class DemoStateError(ConfigError):
    """The state folder holds something that is not a whole demo state: nothing was written."""


def prepare_demo(state: Path, hierarchy_dir: Path | None = None, *, issuer: str = "http://127.0.0.1:8470",
                 database_url: str | None = None) -> DemoSetup:
    """Write the demo's keys, CRLs and configuration into ``state`` and seed its database.

    A folder that already holds a demo state is reused: its keys, secrets and database are kept
    (offline evidence sealed to its key can still be opened), and only the CRLs and the
    configuration (the issuer may have changed) are written again. A folder holding anything else
    is refused before anything is written. Every path in the configuration is relative to it, so
    the folder may be named relative to any working directory, or moved.
    """
    state = state.resolve()
    present = [name for name in DEMO_STATE_FILES if (state / name).is_file()]
    reuse = len(present) == len(DEMO_STATE_FILES)
    if not reuse and state.is_dir() and any(state.iterdir()):
        missing = sorted(set(DEMO_STATE_FILES) - set(present))
        raise DemoStateError(f"{state} is not empty and is not a whole demo state (it lacks "
                             f"{', '.join(missing)}): name an empty or new folder, or the folder of an "
                             f"earlier demo")
    hierarchy = HierarchyFolder.open(hierarchy_dir)
    state.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    crls = hierarchy.write_fresh_crls(state, now)
    if not reuse:
        _write_private(state / "ppid.secret", secrets.token_bytes(32).hex().encode("ascii"))
        _write_private(state / "audit.key", secrets.token_bytes(32).hex().encode("ascii"))
        for name in ("token-signing.pem", "sealing.pem", "kiosk-demo.pem", "staff-demo.pem"):
            _write_private(state / name, generate_ec_private_key_pem())
    config = _write_config(state, hierarchy, crls, issuer, database_url)
    settings = load_settings(config)
    if not reuse:
        _seed(settings, state, hierarchy, now)
    (state / DEMO_CONSOLE_FILE).write_text(desk_sign_in(state, issuer) + "\n", "utf-8")
    return DemoSetup(settings, config, DEMO_KIOSK_ID, state / "kiosk-demo.pem", DEMO_STAFF_ID,
                     state / "staff-demo.pem")


def _write_config(state: Path, hierarchy: HierarchyFolder, crls: list[Path], issuer: str,
                  database_url: str | None) -> Path:
    """The demo's configuration; the state's own files named relative to it."""
    database_url = database_url or "sqlite:///linkserver.db"
    anchors = [str(hierarchy.anchor_path(g).resolve()) for g in hierarchy.generations]
    config = state / "linkserver.toml"
    # JSON strings and arrays of plain paths are valid TOML.
    config.write_text(
        "# The demo linkage server over the simulated card's test hierarchy.\n"
        f"[server]\nissuer = {json.dumps(issuer)}\ndatabase_url = {json.dumps(database_url)}\n\n"
        f"[jpki]\ntrust_anchors = {json.dumps(anchors)}\n"
        f"crl_files = {json.dumps([p.name for p in crls])}\n\n"
        '[secrets]\nppid_secret_file = "ppid.secret"\nsigning_key_file = "token-signing.pem"\n'
        'sealing_key_file = "sealing.pem"\naudit_key_file = "audit.key"\n',
        "utf-8",
    )
    return config


def _seed(settings: Settings, state: Path, hierarchy: HierarchyFolder, now: dt.datetime) -> None:
    """The demo's accounts, links, clients, counter and desk member, into a new database."""
    secret = (state / "ppid.secret").read_bytes()
    db = open_database(settings)
    try:
        db.migrate()
        renewals = load_renewals_csv(hierarchy.path / "renewals.csv")
        import_renewals(db, renewals)
        deriver = PpidDeriver(secret, renewals)
        password_hash = hash_password(DEMO_PASSWORD)
        with db.transaction() as session:
            for spec in DEMO_ACCOUNTS:
                session.add(Account(
                    account_id=spec.account_id, display_name=spec.display_name,
                    email=f"{spec.account_id}@mail.example.ac.jp", status=spec.status,
                    left_at=now - dt.timedelta(days=spec.left_days_ago) if spec.left_days_ago else None,
                    password_hash=password_hash, mfa_methods=spec.mfa_methods,
                ))
            session.flush()
            for spec in DEMO_ACCOUNTS:
                if spec.linked_holder:
                    cert = hierarchy.holder_certificate(spec.linked_holder)
                    session.add(Link(account_id=spec.account_id, ppid=deriver.ppid(cert),
                                     name_on_card=hierarchy.holders[spec.linked_holder][0],
                                     created_at=now - dt.timedelta(days=90),
                                     created_by_kiosk="smartphone-app"))
        register_client(db, DEMO_KIOSK_ID, _public_pem((state / "kiosk-demo.pem").read_bytes()))
        register_client(db, DEMO_STAFF_ID, _public_pem((state / "staff-demo.pem").read_bytes()), ["staff"])
        _seed_desk(db, state, secret)
    finally:
        db.dispose()


def _seed_desk(db: Database, state: Path, server_secret: bytes) -> None:
    """The demo counter with the demo kiosk, and a desk member there with TOTP enrolled and an
    offline PIN; the TOTP key is left in the state folder (0600) for the demo to show as a QR code."""
    staff = StaffDirectory(db, TotpSealer(server_secret), lambda: dt.datetime.now(dt.UTC))
    staff.add_counter(DEMO_COUNTER_ID, "Demo counter", by="demo")
    staff.place_kiosk(DEMO_KIOSK_ID, DEMO_COUNTER_ID, by="demo")
    staff.add(DEMO_DESK_ID, "Demo Desk", "desk", DEMO_DESK_PASSWORD, by="demo")
    staff.assign(DEMO_DESK_ID, DEMO_COUNTER_ID, by="demo")
    totp = pyotp.random_base32()
    staff.enrol(DEMO_DESK_ID, totp, by="demo")
    set_offline_pin(db, DEMO_DESK_ID, DEMO_DESK_OFFLINE_PIN, by="demo")
    _write_private(state / DEMO_DESK_TOTP_FILE, totp.encode("ascii"))


def desk_sign_in(state: Path, base_url: str) -> str:
    """What the demo prints for staff: the console's address and the desk member's sign-in."""
    secret = (state / DEMO_DESK_TOTP_FILE).read_text("ascii").strip()
    uri = provisioning_uri(DEMO_DESK_ID, secret)
    return (f"  staff console {base_url}/console/ as {DEMO_DESK_ID} (password {DEMO_DESK_PASSWORD}),\n"
            f"    TOTP key {secret}, for an authenticator app:\n    {uri}\n"
            f"    offline approval at the kiosk: staff ID {DEMO_DESK_ID}, "
            f"offline PIN {DEMO_DESK_OFFLINE_PIN}")
