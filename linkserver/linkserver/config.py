"""The server's settings: one TOML file, with every default documented here.

A wrong or missing value stops the server before it starts, with a message naming the key and
the file. Relative paths are relative to the file.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from linkserver.configread import ConfigError, TableReader
from linkserver.mailsettings import NotifierSettings, SalvageSettings, notifier_settings, salvage_settings
from linkserver.mfaconfig import MfaSettings, mfa_settings
from linkserver.passwords import PasswordPolicy
from linkserver.settingsfiles import check_file

_Reader = TableReader
__all__ = ["ConfigError", "Settings", "load_settings"]


@dataclass(frozen=True)
class Limits:
    #: Requests a kiosk may make per minute (token bucket of that size, refilled continuously).
    kiosk_requests_per_minute: int = 120
    #: Verifications (successful or not) naming one account, per hour, counted once the nonce was accepted.
    account_verifications_per_hour: int = 20
    #: Unauthenticated requests (the sign-in page, voucher redemption) per client address per minute.
    public_requests_per_minute: int = 30
    #: Refused client assertions per minute, counted per claimed client ID and per client address.
    failed_client_assertions_per_minute: int = 10
    #: Largest request body accepted, in bytes.
    max_request_bytes: int = 64 * 1024


@dataclass(frozen=True)
class Lifetimes:
    access_token_seconds: int = 300
    #: Longest client assertion accepted (iat to exp).
    client_assertion_seconds: int = 300
    challenge_seconds: int = 120
    #: How long a verification may back an operation.
    verification_seconds: int = 600
    device_code_seconds: int = 600
    device_poll_interval_seconds: int = 5
    enrolment_code_minutes: int = 60
    salvage_ticket_days: int = 14
    #: How long an offline voucher may be redeemed after the evidence reached the server.
    voucher_days: int = 14
    #: An operation awaiting staff expires this long after its kiosk's last keep-alive.
    keepalive_timeout_seconds: int = 15
    #: How long after approval a password reset takes the new password (then it expires).
    password_window_seconds: int = 120


@dataclass(frozen=True)
class Policy:
    account_id_pattern: str = r"^[0-9]{10}$"
    password: PasswordPolicy = field(default_factory=PasswordPolicy)
    salvage_days: int = 180

    def account_id_ok(self, account_id: str) -> bool:
        return re.fullmatch(self.account_id_pattern, account_id) is not None


@dataclass(frozen=True)
class AuditSettings:
    #: The HMAC key of the audit chain (at least 32 bytes), kept outside the database.
    key_file: Path | None = None
    #: Where signed checkpoints of the chain's head are appended (JSON lines of compact JWS).
    checkpoint_file: Path | None = None
    #: A checkpoint every this many entries (and one when a server process stops).
    checkpoint_every: int = 1000


#: How the LDAP directory sets a password: RFC 3062 Password Modify, or AD's ``unicodePwd``.
PASSWORD_MODES = ("password_modify", "unicode_pwd")


@dataclass(frozen=True)
class LdapSettings:
    """The [directory] table when ``backend = "ldap"`` (see linkserver.example.toml)."""

    url: str
    ca_file: Path
    bind_dn: str
    bind_password_file: Path
    base_dn: str
    start_tls: bool = False
    account_attribute: str = "uid"
    name_ja_attribute: str = "displayName;lang-ja"
    name_en_attribute: str = "displayName"
    mail_attribute: str = "mail"
    #: A GeneralizedTime attribute: when present, the account is a former member's who left that day.
    left_at_attribute: str = "leftAt"
    password_mode: str = "password_modify"
    timeout_seconds: int = 5
    pool_size: int = 4


@dataclass(frozen=True)
class Settings:
    #: The server's public base URL: the token issuer and the audience of client assertions.
    issuer: str
    database_url: str
    trust_anchors: tuple[Path, ...]
    ppid_secret_file: Path
    signing_key_file: Path
    sealing_key_file: Path
    crl_files: tuple[Path, ...] = ()
    ocsp_url: str | None = None
    renewals_file: Path | None = None
    limits: Limits = field(default_factory=Limits)
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    policy: Policy = field(default_factory=Policy)
    #: The names a request may give in its Host header (lower case, an IPv6 address without
    #: brackets); empty: the default of ``host_names``.
    allowed_hosts: tuple[str, ...] = ()
    #: Addresses or networks (CIDR) of the reverse proxies whose X-Forwarded-For and
    #: X-Forwarded-Proto are believed; empty: those headers are ignored from everyone.
    trusted_proxies: tuple[str, ...] = ()
    #: Whether /docs serves the OpenAPI UI (whose scripts and styles come from a CDN).
    docs: bool = False
    #: The certificate chain and private key (PEM) to serve HTTPS with; None: plain HTTP, for
    #: loopback or behind a reverse proxy that terminates TLS.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    audit: AuditSettings = field(default_factory=AuditSettings)
    #: The LDAP directory of accounts; None: the server's own tables (the reference directory).
    directory: LdapSettings | None = None
    notifier: NotifierSettings = field(default_factory=NotifierSettings)
    salvage: SalvageSettings = field(default_factory=SalvageSettings)
    #: Where second factors are reset (linkserver.mfaconfig): by default, enrolment codes.
    mfa: MfaSettings = field(default_factory=MfaSettings)

    @property
    def token_url(self) -> str:
        return self.issuer.rstrip("/") + "/oauth/token"

    @property
    def host_names(self) -> tuple[str, ...]:
        """``allowed_hosts``, or by default the issuer's host and loopback's names."""
        if self.allowed_hosts:
            return self.allowed_hosts
        issuer_host = (urlsplit(self.issuer).hostname or "").lower()
        return tuple(dict.fromkeys((issuer_host, *LOOPBACK_NAMES)))


#: Always answered for unless ``server.allowed_hosts`` says otherwise: checks on the machine itself.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
HOST_NAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")


def _host_name(value: object) -> str | None:
    """``value`` as an allowed Host name (lower case, IPv6 without brackets), or None if it is not one."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    try:
        return str(ipaddress.ip_address(name.removeprefix("[").removesuffix("]")))
    except ValueError:
        return name if HOST_NAME.fullmatch(name) else None


def _network(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        return None


KNOWN_TABLES = {"server", "jpki", "secrets", "limits", "lifetimes", "policy", "audit", "directory", "mfa",
                "notifier", "salvage"}


def _policy_settings(data: dict[str, Any], source: Path) -> Policy:
    """The [policy] table."""
    policy_table = _Reader(data, "policy", source)
    pattern = policy_table.text("account_id_pattern", default=Policy.account_id_pattern)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"{source}: policy.account_id_pattern is not a regular expression ({exc})") from None
    password = PasswordPolicy(
        min_length=policy_table.number("password_min_length", 12, 8, 128),
        max_length=policy_table.number("password_max_length", 64, 8, 1024),
        min_classes=policy_table.number("password_min_classes", 3, 1, 4),
    )
    if password.min_length > password.max_length:
        raise ConfigError(f"{source}: policy.password_min_length exceeds policy.password_max_length")
    policy = Policy(account_id_pattern=pattern, password=password,
                    salvage_days=policy_table.number("salvage_days", 180, 1, 3650))
    policy_table.finish()
    return policy


def _audit_settings(data: dict[str, Any], source: Path, key_file: Path | None) -> AuditSettings:
    """The [audit] table, with the audit key named in [secrets] (at least 32 bytes)."""
    assert key_file is not None
    check_file(source, "secrets.audit_key_file", key_file, "secret")
    table = _Reader(data, "audit", source)
    default = source.parent / "audit-checkpoints.jsonl"
    checkpoints = table.path("checkpoint_file", must_exist=False) or default
    if not checkpoints.resolve().parent.is_dir():
        raise ConfigError(f"{source}: audit.checkpoint_file names {checkpoints.resolve()}, whose folder "
                          "does not exist")
    audit = AuditSettings(key_file=key_file, checkpoint_file=checkpoints.resolve(),
                          checkpoint_every=table.number("checkpoint_every", AuditSettings.checkpoint_every,
                                                        1, 10**7))
    table.finish()
    return audit


def _directory_settings(data: dict[str, Any], source: Path) -> LdapSettings | None:
    """The [directory] table: None for the SQL backend, else the LDAP directory's settings."""
    table = _Reader(data, "directory", source)
    backend = table.text("backend", default="sql")
    if backend not in ("sql", "ldap"):
        raise table.fail("backend", f"must be \"sql\" or \"ldap\", not {backend!r}")
    if backend == "sql":
        table.finish()
        return None
    url = table.text("url", required=True)
    start_tls = table.flag("start_tls", False)
    if not (url.startswith("ldaps://") or (url.startswith("ldap://") and start_tls)):
        raise table.fail("url", f"must be ldaps://, or ldap:// with start_tls = true, not {url!r}")
    base = LdapSettings("", Path(), "", Path(), "")
    names = ("account_attribute", "name_ja_attribute", "name_en_attribute", "mail_attribute",
             "left_at_attribute")
    attributes = {name: table.text(name, default=getattr(base, name)) for name in names}
    for name, value in attributes.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*", value):
            raise table.fail(name, f"must be an attribute name, not {value!r}")
    mode = table.text("password_mode", default=base.password_mode)
    if mode not in PASSWORD_MODES:
        raise table.fail("password_mode", f"must be one of {', '.join(PASSWORD_MODES)}, not {mode!r}")
    settings = LdapSettings(
        url=url, start_tls=start_tls, ca_file=table.path("ca_file", required=True),  # type: ignore[arg-type]
        bind_dn=table.text("bind_dn", required=True),
        bind_password_file=table.path("bind_password_file", required=True),  # type: ignore[arg-type]
        base_dn=table.text("base_dn", required=True), password_mode=mode,
        timeout_seconds=table.number("timeout_seconds", base.timeout_seconds, 1, 120),
        pool_size=table.number("pool_size", base.pool_size, 1, 64), **attributes)
    table.finish()
    return settings


def _database_url(value: str, source: Path) -> str:
    """The database URL, a SQLite file's path resolved against the settings file; ConfigError for a
    URL that is not one, names another database, or a SQLite file in a folder that does not exist."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "such as sqlite:///linkserver.db or postgresql://kiosk@db.example.ac.jp/kiosk"
    try:
        backend = make_url(value).get_backend_name()
    except (ArgumentError, ValueError):
        raise ConfigError(f"{source}: server.database_url must be a database URL {example}, "
                          f"not {value!r}") from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{source}: server.database_url names a {backend} database; the server runs on "
                          f"SQLite or PostgreSQL ({example})")
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        value = "sqlite:///" + str((source.parent / value.removeprefix("sqlite:///")).resolve())
    if value.startswith("sqlite:////"):
        folder = Path(value.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise ConfigError(f"{source}: server.database_url names a SQLite file in {folder}, which is not "
                              "a folder: create it, or name another")
    return value


def _server_settings(data: dict[str, Any], source: Path) -> dict[str, Any]:
    """The [server] table's settings, by their names in ``Settings``."""
    server = _Reader(data, "server", source)
    issuer = server.text("issuer", required=True)
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", issuer):
        raise ConfigError(f"{source}: server.issuer must be an http(s) URL, not {issuer!r}")
    database_url = _database_url(server.text("database_url", default="sqlite:///linkserver.db"), source)
    settings = {
        "issuer": issuer, "database_url": database_url,
        "allowed_hosts": server.items("allowed_hosts", _host_name,
                                      "host names or IP addresses (without scheme or port)"),
        "trusted_proxies": server.items("trusted_proxies", _network, "IP addresses or networks (CIDR)"),
        "docs": server.flag("docs", False),
        "tls_cert_file": server.path("tls_cert_file"), "tls_key_file": server.path("tls_key_file"),
    }
    if (settings["tls_cert_file"] is None) != (settings["tls_key_file"] is None):
        raise ConfigError(f"{source}: server.tls_cert_file and server.tls_key_file go together: give both "
                          "to serve HTTPS, or neither")
    if settings["tls_cert_file"] is not None:
        check_file(source, "server.tls_cert_file", settings["tls_cert_file"], "certificates")
        check_file(source, "server.tls_key_file", settings["tls_key_file"], "private_key")
    server.finish()
    return settings


def _jpki_settings(data: dict[str, Any], source: Path) -> dict[str, Any]:
    """The [jpki] table, each anchor and CRL read and judged."""
    jpki = _Reader(data, "jpki", source)
    anchors = jpki.paths("trust_anchors", required=True)
    crl_files = jpki.paths("crl_files")
    ocsp_url = jpki.text("ocsp_url")
    renewals = jpki.path("renewals")
    if not crl_files and not ocsp_url:
        raise ConfigError(f"{source}: jpki needs crl_files or ocsp_url: revocation is always checked")
    jpki.finish()
    for anchor in anchors:
        check_file(source, "jpki.trust_anchors", anchor, "certificates")
    for crl in crl_files:
        check_file(source, "jpki.crl_files", crl, "crl")
    return {"trust_anchors": anchors, "crl_files": crl_files, "ocsp_url": ocsp_url, "renewals_file": renewals}


def _secret_settings(data: dict[str, Any], source: Path) -> dict[str, Any]:
    """The [secrets] table (with [audit], which takes the audit key), each file read and judged."""
    secrets = _Reader(data, "secrets", source)
    found: dict[str, Any] = {}
    for key, kind in (("ppid_secret_file", "secret"), ("signing_key_file", "ec_key"),
                      ("sealing_key_file", "ec_key")):
        found[key] = secrets.path(key, required=True)
        check_file(source, f"secrets.{key}", found[key], kind)
    found["audit"] = _audit_settings(data, source, secrets.path("audit_key_file", required=True))
    secrets.finish()
    return found


def load_settings(path: Path | str) -> Settings:
    """Read and check the settings file; raises ConfigError naming the key and the file."""
    source = Path(path).resolve()
    try:
        data = tomllib.loads(source.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    for table in set(data) - KNOWN_TABLES:
        raise ConfigError(f"{source}: [{table}] is not a known table")

    server = _server_settings(data, source)

    jpki = _jpki_settings(data, source)
    secret_files = _secret_settings(data, source)

    limits_table = _Reader(data, "limits", source)
    base_limits = Limits()
    limits = Limits(**{name: limits_table.number(name, getattr(base_limits, name))
                       for name in Limits.__dataclass_fields__})
    limits_table.finish()

    lifetimes_table = _Reader(data, "lifetimes", source)
    base_lifetimes = Lifetimes()
    lifetimes = Lifetimes(**{name: lifetimes_table.number(name, getattr(base_lifetimes, name))
                             for name in Lifetimes.__dataclass_fields__})
    lifetimes_table.finish()

    policy = _policy_settings(data, source)
    directory = _directory_settings(data, source)

    return Settings(
        **server, **jpki, **secret_files,
        limits=limits, lifetimes=lifetimes, policy=policy, directory=directory,
        notifier=notifier_settings(data, source, urlsplit(server["issuer"]).hostname or ""),
        salvage=salvage_settings(data, source),
        mfa=mfa_settings(data, source),
    )
