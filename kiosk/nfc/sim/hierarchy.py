"""A test JPKI hierarchy: CAs of several generations, card holders, renewals and a CRL.

Generated with ``cryptography`` into one folder that the simulated card and the reference
linkage server both read, so a card served by ``kiosk sim`` verifies against a demo server out of
the box. Only ``O=JPKI-TEST`` names are issued: nothing here can pass for a real card.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import string
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

FORMAT_VERSION = 1
GENERATIONS = ("2015", "2019", "2023")
CURRENT_GENERATION = GENERATIONS[-1]
ISSUER_ORG = "JPKI-TEST"
FOREIGN_ORG = "JPKI-ROGUE-TEST"
AUTH_OU = "JPKI for user authentication"
SIGN_OU = "JPKI for digital signature"
JLIS_OU = "Japan Agency for Local Authority Information Systems"
KEY_SIZE = 2048
CN_ALPHABET = string.ascii_uppercase + string.digits
#: Where test certificates say their revocation data lives; the test responders serve these paths.
OCSP_PATH = "/ocsp/auth"
CRL_PATH = "/crl/auth-{generation}.crl"


def default_dir() -> Path:
    """The per-user cache folder used when no hierarchy folder is named."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kiosk" / "test-jpki"


@dataclass(frozen=True)
class HolderSpec:
    """One card holder of the test hierarchy (see ``PRESET_HOLDERS``)."""

    slug: str
    name: str
    generation: str = CURRENT_GENERATION
    #: valid, expired, not_yet_valid, revoked, foreign (issued by a CA no one trusts)
    status: str = "valid"
    pin: str = "1234"
    cardinfo_pin: str | None = None  # None: the same digits as ``pin``
    pin_tries: int = 3
    renewal_of: str | None = None
    address: str = "東京都文京区本郷七丁目3番1号"
    birth_date: str = "19900401"
    sex: str = "9"
    description: str = ""


PRESET_HOLDERS: tuple[HolderSpec, ...] = (
    HolderSpec("linked-old", "佐藤　花子", generation="2019",
               description="Hanako Sato's previous card, the one her account was linked with"),
    HolderSpec("linked", "佐藤　花子", renewal_of="linked-old",
               description="Hanako Sato's renewed card: new certificate, same person"),
    HolderSpec("unlinked", "鈴木　一郎", pin="2580", cardinfo_pin="1357",
               description="a valid card with no link (different card-info PIN)"),
    HolderSpec("expired", "高橋　美咲", generation="2019", status="expired",
               description="the authentication certificate has expired"),
    HolderSpec("not-yet-valid", "中村　大輔", status="not_yet_valid",
               description="a certificate whose validity has not begun"),
    HolderSpec("revoked", "田中　健太", status="revoked",
               description="the authentication certificate is on the CRL"),
    HolderSpec("blocked", "伊藤　直子", pin_tries=0, description="the PIN is blocked"),
    HolderSpec("last-try", "加藤　優", pin_tries=1, description="one PIN try left"),
    HolderSpec("old-root", "渡辺　翔", generation="2015",
               description="issued under the oldest root generation"),
    HolderSpec("latin", "GARCIA　MARIA", pin="9021",
               description="a name in Latin letters, as on a foreign resident's card"),
    HolderSpec("foreign", "小林　誠", status="foreign",
               description="issued by a CA outside the JPKI trust anchors"),
)


@dataclass(frozen=True)
class Holder:
    """A generated holder: the spec plus what was issued for it."""

    spec: HolderSpec
    cn: str
    serial: int
    my_number: str
    auth_cert_pem: bytes
    auth_key_pem: bytes
    sign_cert_pem: bytes
    issuer_pem: bytes

    @property
    def slug(self) -> str:
        return self.spec.slug

    @property
    def auth_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.auth_cert_pem)

    @property
    def auth_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(
            self.auth_key_pem, password=None, unsafe_skip_rsa_key_validation=True
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        return key


@dataclass
class TestHierarchy:
    """A loaded hierarchy folder."""

    __test__ = False  # not a pytest class

    path: Path
    created: dt.datetime
    holders: dict[str, Holder] = field(default_factory=dict)
    renewals: list[tuple[int, int]] = field(default_factory=list)

    # -- files ---------------------------------------------------------------------------

    def auth_ca_path(self, generation: str) -> Path:
        return self.path / "ca" / f"auth-{generation}.pem"

    def auth_ca_key_path(self, generation: str) -> Path:
        return self.path / "ca" / f"auth-{generation}.key"

    def sign_ca_path(self) -> Path:
        return self.path / "ca" / f"sign-{CURRENT_GENERATION}.pem"

    def crl_path(self, generation: str) -> Path:
        return self.path / "crl" / f"auth-{generation}.crl"

    def trust_anchor_paths(self) -> list[Path]:
        """The authentication CAs of every generation: what a verifier trusts."""
        return [self.auth_ca_path(g) for g in GENERATIONS]

    def sign_ca_pem(self) -> bytes:
        return self.sign_ca_path().read_bytes()

    def sign_ca_key(self) -> rsa.RSAPrivateKey:
        return _load_key(self.path / "ca" / f"sign-{CURRENT_GENERATION}.key")

    def auth_ca_key(self, generation: str) -> rsa.RSAPrivateKey:
        return _load_key(self.auth_ca_key_path(generation))

    def holder(self, slug: str) -> Holder:
        try:
            return self.holders[slug]
        except KeyError:
            known = ", ".join(sorted(self.holders))
            raise KeyError(f"no holder {slug!r} in {self.path} (known: {known})") from None

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> TestHierarchy:
        path = Path(path)
        meta = json.loads((path / "hierarchy.json").read_text("utf-8"))
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: hierarchy format {meta.get('version')}, need {FORMAT_VERSION}")
        hierarchy = cls(path, dt.datetime.fromisoformat(meta["created"]))
        for item in meta["holders"]:
            spec = HolderSpec(**item["spec"])
            folder = path / "holders" / spec.slug
            hierarchy.holders[spec.slug] = Holder(
                spec=spec,
                cn=item["cn"],
                serial=int(item["serial"]),
                my_number=item["my_number"],
                auth_cert_pem=(folder / "auth-cert.pem").read_bytes(),
                auth_key_pem=(folder / "auth-key.pem").read_bytes(),
                sign_cert_pem=(folder / "sign-cert.pem").read_bytes(),
                issuer_pem=(folder / "auth-ca.pem").read_bytes(),
            )
        hierarchy.renewals = [(int(a), int(b)) for a, b in meta["renewals"]]
        return hierarchy

    @classmethod
    def ensure(cls, path: Path | None = None) -> TestHierarchy:
        """Load the folder, generating it first if it is missing or of another format."""
        path = Path(path) if path is not None else default_dir()
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path.parent / f".{path.name}.lock"):
            try:
                return cls.load(path)
            except (OSError, ValueError, KeyError):
                pass
            return generate(path)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    # Keys this module generated itself: OpenSSL's slow consistency check adds nothing.
    key = serialization.load_pem_private_key(
        path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def ca_name(org: str, ou: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, JLIS_OU),
    ])


def _utc(year: int, month: int = 1, day: int = 1) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


def _ca_certificate(
    key: rsa.RSAPrivateKey, name: x509.Name, not_before: dt.datetime, not_after: dt.datetime
) -> x509.Certificate:
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )


def _opaque_cn() -> str:
    return "".join(secrets.choice(CN_ALPHABET) for _ in range(20))


def _validity(spec: HolderSpec, now: dt.datetime, ca: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    day = dt.timedelta(days=1)
    if spec.status == "expired":
        not_after = now - 30 * day
        not_before = not_after - 5 * 365 * day
    elif spec.status == "not_yet_valid":
        not_before = now + 30 * day
        not_after = not_before + 5 * 365 * day
    elif spec.generation != CURRENT_GENERATION and spec.status == "valid":
        not_before = now - 3 * 365 * day
        not_after = now + 2 * 365 * day
    else:
        not_before = now - 60 * day
        not_after = now + 5 * 365 * day
    ca_start = ca.not_valid_before_utc
    ca_end = ca.not_valid_after_utc
    return max(not_before, ca_start), min(not_after, ca_end)


def _auth_key_usage(digital_signature: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False,
        key_encipherment=not digital_signature, data_encipherment=False,
        key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )


def _crl_distribution(generation: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([
        x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(
                "http://jpki-test.invalid" + CRL_PATH.format(generation=generation)
            )],
            relative_name=None, reasons=None, crl_issuer=None,
        )
    ])


def _ocsp_access() -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess([
        x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.OCSP,
            x509.UniformResourceIdentifier("http://jpki-test.invalid" + OCSP_PATH),
        )
    ])


def auth_certificate(
    *,
    holder_key: rsa.RSAPublicKey,
    cn: str,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
    key_usage_digital_signature: bool = True,
    generation: str = CURRENT_GENERATION,
) -> x509.Certificate:
    """A user authentication certificate of the JPKI profile: ``C=JP, CN=<20 characters>``."""
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(holder_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_auth_key_usage(key_usage_digital_signature), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(holder_key), critical=False)
        .add_extension(_crl_distribution(generation), critical=False)
        .add_extension(_ocsp_access(), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _sign_certificate(
    spec: HolderSpec, key: rsa.RSAPrivateKey, ca: x509.Certificate, ca_key: rsa.RSAPrivateKey,
    now: dt.datetime,
) -> x509.Certificate:
    # The signature certificate carries the four basic items; the kiosk never reads it.
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.COMMON_NAME, spec.name),
        x509.NameAttribute(NameOID.LOCALITY_NAME, spec.address),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, spec.birth_date + spec.sex),
    ])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=60))
        .not_valid_after(min(now + dt.timedelta(days=5 * 365), ca.not_valid_after_utc))
        .sign(ca_key, hashes.SHA256())
    )


def build_crl(
    ca: x509.Certificate, ca_key: rsa.RSAPrivateKey, serials: list[int], now: dt.datetime,
    next_update: dt.timedelta = dt.timedelta(days=7),
) -> x509.CertificateRevocationList:
    """A CRL from ``ca`` listing ``serials`` as revoked (key compromise)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + next_update)
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(days=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    return builder.sign(ca_key, hashes.SHA256())


_KeyPair = tuple[x509.Certificate, rsa.RSAPrivateKey]


@dataclass
class _Authorities:
    """The CAs of a hierarchy being generated: the authentication roots by generation, the
    signature CA and the foreign (untrusted) CA."""

    roots: dict[str, _KeyPair]
    sign: _KeyPair
    foreign: _KeyPair


@dataclass
class _Issued:
    """What issuing the holders' certificates leaves for the CRLs and the index."""

    holders: list[dict[str, object]] = field(default_factory=list)
    revoked: dict[str, list[int]] = field(default_factory=lambda: {g: [] for g in GENERATIONS})
    renewals: list[tuple[int, int]] = field(default_factory=list)


def _new_ca(org: str, ou: str, not_before: dt.datetime, not_after: dt.datetime) -> _KeyPair:
    key = _new_key()
    return _ca_certificate(key, ca_name(org, ou), not_before, not_after), key


def _write_ca(folder: Path, stem: str, pair: _KeyPair) -> None:
    (folder / f"{stem}.pem").write_bytes(_pem(pair[0]))
    (folder / f"{stem}.key").write_bytes(_key_pem(pair[1]))


def _write_authorities(folder: Path) -> _Authorities:
    """Create every CA and write its certificate and key into ``folder``."""
    roots: dict[str, _KeyPair] = {}
    for generation in GENERATIONS:
        year = int(generation)
        roots[generation] = _new_ca(ISSUER_ORG, AUTH_OU, _utc(year - 1, 12, 1), _utc(year + 21))
        _write_ca(folder, f"auth-{generation}", roots[generation])
    sign = _new_ca(ISSUER_ORG, SIGN_OU, _utc(2022, 12, 1), _utc(2044))
    _write_ca(folder, f"sign-{CURRENT_GENERATION}", sign)
    foreign = _new_ca(FOREIGN_ORG, AUTH_OU, _utc(2022, 12, 1), _utc(2044))
    _write_ca(folder, "foreign", foreign)
    return _Authorities(roots, sign, foreign)


def _issue_holders(
    folder: Path, holders: tuple[HolderSpec, ...], cas: _Authorities, now: dt.datetime
) -> _Issued:
    """Issue every holder's keys and certificates and write them into ``folder``."""
    # One signature key serves every holder's (never used) signature certificate.
    holder_sign_key = _new_key()
    issued = _Issued()
    serial_of: dict[str, int] = {}
    for spec in holders:
        issuer, issuer_key = cas.foreign if spec.status == "foreign" else cas.roots[spec.generation]
        key = _new_key()
        not_before, not_after = _validity(spec, now, issuer)
        cn = _opaque_cn()
        cert = auth_certificate(
            holder_key=key.public_key(), cn=cn, issuer=issuer, issuer_key=issuer_key,
            not_before=not_before, not_after=not_after, generation=spec.generation,
        )
        sign_cert = _sign_certificate(spec, holder_sign_key, *cas.sign, now)
        holder_folder = folder / spec.slug
        holder_folder.mkdir()
        (holder_folder / "auth-cert.pem").write_bytes(_pem(cert))
        (holder_folder / "auth-key.pem").write_bytes(_key_pem(key))
        (holder_folder / "sign-cert.pem").write_bytes(_pem(sign_cert))
        (holder_folder / "auth-ca.pem").write_bytes(_pem(issuer))
        serial_of[spec.slug] = cert.serial_number
        if spec.status == "revoked":
            issued.revoked[spec.generation].append(cert.serial_number)
        if spec.renewal_of:
            issued.renewals.append((serial_of[spec.renewal_of], cert.serial_number))
        issued.holders.append({
            "spec": asdict(spec),
            "cn": cn,
            "serial": str(cert.serial_number),
            "my_number": "".join(secrets.choice(string.digits) for _ in range(12)),
        })
    return issued


def _write_crls_and_index(folder: Path, cas: _Authorities, issued: _Issued, now: dt.datetime) -> None:
    """The CRL of every root, ``renewals.csv`` and ``hierarchy.json``."""
    for generation, (cert, key) in cas.roots.items():
        crl = build_crl(cert, key, issued.revoked[generation], now)
        (folder / "crl" / f"auth-{generation}.crl").write_bytes(
            crl.public_bytes(serialization.Encoding.DER)
        )
    renewals = issued.renewals
    (folder / "renewals.csv").write_text(
        "old_serial,new_serial\n" + "".join(f"{a},{b}\n" for a, b in renewals), "utf-8"
    )
    meta = {
        "version": FORMAT_VERSION,
        "created": now.isoformat(),
        "generations": list(GENERATIONS),
        "holders": issued.holders,
        "renewals": [[str(a), str(b)] for a, b in renewals],
    }
    (folder / "hierarchy.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2), "utf-8"
    )


def generate(
    path: Path, holders: tuple[HolderSpec, ...] = PRESET_HOLDERS, now: dt.datetime | None = None
) -> TestHierarchy:
    """Generate a fresh hierarchy into ``path`` (replacing it atomically)."""
    now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        for sub in ("ca", "crl", "holders"):
            (tmp / sub).mkdir()
        cas = _write_authorities(tmp / "ca")
        issued = _issue_holders(tmp / "holders", holders, cas, now)
        _write_crls_and_index(tmp, cas, issued, now)
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return TestHierarchy.load(path)
