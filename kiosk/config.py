"""The kiosk's settings: one TOML file with documented defaults, checked before anything starts.

Every key, its meaning and its default is in ``resources/kiosk.example.toml``. A wrong or missing
value raises ``ConfigError`` naming the key and the file; relative paths are relative to the file.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from kiosk.offline.validate import load_certificates, load_crl
from kiosk.staffpin import valid_hash


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the key and the file."""


@dataclass(frozen=True)
class ServerSettings:
    url: str
    ca_file: Path | None = None
    connect_timeout_seconds: float = 3.0
    read_timeout_seconds: float = 10.0
    retries: int = 2
    #: How long the kiosk waits for staff to approve an operation.
    approval_timeout_seconds: int = 600
    #: How often the kiosk reports its health while online (and learns its offline roster).
    heartbeat_seconds: float = 30.0


@dataclass(frozen=True)
class ReaderSettings:
    #: A reader's PC/SC name; empty: the first reader that holds a card.
    name: str = ""
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class OfflineSettings:
    enabled: bool = True
    #: The JPKI trust anchors and CRLs the kiosk checks cards against while the server is away.
    trust_anchors: tuple[Path, ...] = ()
    crl_files: tuple[Path, ...] = ()
    #: Refuse offline when no fresh CRL covers the card (otherwise proceed and say so).
    require_crl: bool = True
    sync_interval_seconds: float = 30.0
    max_backoff_seconds: float = 900.0
    #: Where the user finishes an offline-approved request with the voucher (shown with a QR code).
    voucher_page_url: str = ""
    #: An offline approval is refused when the staff roster was last synced longer ago than this.
    roster_max_age_hours: float = 72.0


@dataclass(frozen=True)
class KioskSettings:
    kiosk_id: str
    key_file: Path
    server: ServerSettings
    data_dir: Path
    language: str = "ja"
    idle_timeout_seconds: int = 90
    account_id_pattern: str = r"^[0-9]{10}$"
    retention_days: int = 90
    #: The staff unlock PIN's digest (``kiosk staff-pin-hash``); empty: no unlock, stop the service.
    staff_unlock: str = ""
    reader: ReaderSettings = field(default_factory=ReaderSettings)
    offline: OfflineSettings = field(default_factory=OfflineSettings)
    source: Path | None = None

    @property
    def store_path(self) -> Path:
        return self.data_dir / "kiosk.db"

    def account_id_ok(self, account_id: str) -> bool:
        return re.fullmatch(self.account_id_pattern, account_id) is not None


class _Table:
    """Typed access to one TOML table; every error names the key and the file."""

    def __init__(self, data: dict[str, Any], name: str, source: Path) -> None:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        self._data: dict[str, Any] = value
        self._name = name
        self._source = source
        self._seen: set[str] = set()

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self._source}: {self._name}.{key} {problem}")

    def _get(self, key: str, default: Any, required: bool) -> Any:
        self._seen.add(key)
        if key not in self._data:
            if required:
                raise self.fail(key, "is missing")
            return default
        return self._data[key]

    def text(self, key: str, default: str = "", *, required: bool = False) -> str:
        value = self._get(key, default, required)
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default, False)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self._get(key, default, False)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {value!r}")
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low:g} and {high:g}, not {value:g}")
        return float(value)

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._get(key, default, False)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, not {value!r}")
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}, not {value}")
        return value

    def path(self, key: str, *, required: bool = False, must_exist: bool = True,
             default: str = "") -> Path | None:
        value = self.text(key, default, required=required)
        if not value:
            if required:
                raise self.fail(key, "is empty")
            return None
        resolved = (self._source.parent / Path(value).expanduser()).resolve()
        if must_exist and not resolved.is_file():
            raise self.fail(key, f"names {resolved}, which is not a readable file")
        return resolved

    def paths(self, key: str, parse: Callable[[Path], object], what: str, todo: str) -> tuple[Path, ...]:
        """The files listed under ``key``, each read with ``parse`` now, so that a garbled one is
        named here (as not ``what``, with ``todo``) before the kiosk writes anything."""
        value = self._get(key, [], False)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of file names")
        result = []
        for item in value:
            resolved = (self._source.parent / Path(item).expanduser()).resolve()
            if not resolved.is_file():
                raise self.fail(key, f"names {resolved}, which is not a readable file")
            try:
                parse(resolved)
            except ValueError:
                raise self.fail(key, f"names {resolved}, which is not {what}: {todo}") from None
            result.append(resolved)
        return tuple(result)

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise self.fail(unknown[0], "is not a known setting (a typo?)")


TABLES = ("kiosk", "server", "reader", "offline", "store")


def check_server_url(url: str, source: Path) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{source}: server.url must be an http(s) URL, not {url!r}")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"{source}: server.url must use https (plain http only on this machine's "
                          f"loopback), not {url!r}")


def _read_toml(source: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(source.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    for name in data:
        if name not in TABLES:
            raise ConfigError(f"{source}: [{name}] is not a known table")
    return data


class _KioskTable(NamedTuple):
    """The checked values of the ``[kiosk]`` table."""

    kiosk_id: str
    key_file: Path
    data_dir: Path
    language: str
    idle_timeout_seconds: int
    account_id_pattern: str
    staff_unlock: str


def _kiosk_table(data: dict[str, Any], source: Path) -> _KioskTable:
    kiosk = _Table(data, "kiosk", source)
    kiosk_id = kiosk.text("id", required=True)
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", kiosk_id):
        raise kiosk.fail("id", "must be 1-64 letters, digits, '.', '_' or '-'")
    key_file = kiosk.path("key_file", required=True)
    data_dir_text = kiosk.text("data_dir", "data")
    data_dir = (source.parent / Path(data_dir_text).expanduser()).resolve()
    problem = data_dir_problem(data_dir)
    if problem:
        raise kiosk.fail("data_dir", problem)
    language = kiosk.text("language", "ja")
    if language not in ("ja", "en"):
        raise kiosk.fail("language", f"must be \"ja\" or \"en\", not {language!r}")
    idle = kiosk.integer("idle_timeout_seconds", 90, 15, 3600)
    pattern = kiosk.text("account_id_pattern", r"^[0-9]{10}$")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise kiosk.fail("account_id_pattern", f"is not a regular expression ({exc})") from None
    staff_unlock = kiosk.text("staff_unlock", "")
    if staff_unlock and not valid_hash(staff_unlock):
        raise kiosk.fail("staff_unlock", "is not a digest made by `kiosk staff-pin-hash`")
    kiosk.finish()
    assert key_file is not None
    return _KioskTable(kiosk_id, key_file, data_dir, language, idle, pattern, staff_unlock)


def data_dir_problem(data_dir: Path) -> str:
    """Why the kiosk could not keep its database in ``data_dir`` (and what to do), or "".

    A missing folder is fine when its parent is a writable folder: the store creates it, owner-only.
    """
    if data_dir.exists():
        if not data_dir.is_dir():
            return f"names {data_dir}, which is a file, not a folder: name a folder for the kiosk's database"
        if not os.access(data_dir, os.W_OK | os.X_OK):
            return (f"names {data_dir}, which this user cannot write: give the kiosk's user write access "
                    "to it, or name another folder")
        return ""
    parent = data_dir.parent
    if not parent.is_dir():
        return (f"names {data_dir}, whose parent folder {parent} does not exist: create {parent} "
                "first, or name another folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        return (f"names {data_dir}, which cannot be created because this user cannot write {parent}: "
                "create the folder for the kiosk's user, or name another folder")
    return ""


def _server_table(data: dict[str, Any], source: Path) -> ServerSettings:
    server = _Table(data, "server", source)
    url = server.text("url", required=True).rstrip("/")
    check_server_url(url, source)
    settings = ServerSettings(
        url=url, ca_file=server.path("ca_file"),
        connect_timeout_seconds=server.number("connect_timeout_seconds", 3.0, 0.1, 60),
        read_timeout_seconds=server.number("read_timeout_seconds", 10.0, 0.5, 300),
        retries=server.integer("retries", 2, 0, 10),
        approval_timeout_seconds=server.integer("approval_timeout_seconds", 600, 10, 7200),
        heartbeat_seconds=server.number("heartbeat_seconds", 30.0, 5, 3600),
    )
    server.finish()
    return settings


def _reader_table(data: dict[str, Any], source: Path) -> ReaderSettings:
    reader = _Table(data, "reader", source)
    settings = ReaderSettings(name=reader.text("name", ""),
                              timeout_seconds=reader.number("timeout_seconds", 5.0, 0.5, 60))
    reader.finish()
    return settings


def _offline_table(data: dict[str, Any], source: Path, server_url: str) -> OfflineSettings:
    offline = _Table(data, "offline", source)
    settings = OfflineSettings(
        enabled=offline.flag("enabled", True),
        trust_anchors=offline.paths("trust_anchors", load_certificates, "a PEM or DER certificate",
                                    "replace it with the JPKI authentication CA certificate, or remove it"),
        crl_files=offline.paths("crl_files", load_crl, "a PEM or DER CRL",
                                "replace it with the CA's current CRL, or remove it from the list"),
        require_crl=offline.flag("require_crl", True),
        sync_interval_seconds=offline.number("sync_interval_seconds", 30.0, 1, 3600),
        max_backoff_seconds=offline.number("max_backoff_seconds", 900.0, 1, 86400),
        voucher_page_url=offline.text("voucher_page_url", f"{server_url}/voucher").strip(),
        roster_max_age_hours=offline.number("roster_max_age_hours", 72.0, 1, 24 * 90),
    )
    if settings.voucher_page_url:
        parts = urlsplit(settings.voucher_page_url)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise offline.fail("voucher_page_url", "must be an http(s) address without a query, or empty")
    if settings.enabled and not settings.trust_anchors:
        raise offline.fail("trust_anchors", "must list the JPKI trust anchors when offline mode is enabled")
    offline.finish()
    return settings


def _store_retention_days(data: dict[str, Any], source: Path) -> int:
    store = _Table(data, "store", source)
    retention = store.integer("retention_days", 90, 1, 3650)
    store.finish()
    return retention


def load_config(path: Path | str) -> KioskSettings:
    """Read and check the kiosk's configuration file."""
    source = Path(path).expanduser().resolve()
    data = _read_toml(source)
    kiosk = _kiosk_table(data, source)
    server = _server_table(data, source)
    reader = _reader_table(data, source)
    offline = _offline_table(data, source, server.url)
    retention = _store_retention_days(data, source)
    return KioskSettings(
        kiosk_id=kiosk.kiosk_id, key_file=kiosk.key_file, server=server, data_dir=kiosk.data_dir,
        language=kiosk.language, idle_timeout_seconds=kiosk.idle_timeout_seconds,
        account_id_pattern=kiosk.account_id_pattern, retention_days=retention,
        staff_unlock=kiosk.staff_unlock, reader=reader, offline=offline, source=source,
    )


TomlValue = str | int | float | bool | list[str]


def _toml(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    # JSON's string escapes are TOML's as well; TOML also wants DEL escaped.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def write_config(path: Path, sections: dict[str, dict[str, TomlValue]], *, comment: str = "") -> Path:
    """Write a kiosk configuration (tables of plain values) that ``load_config`` reads back."""
    lines = [f"# {comment}"] if comment else []
    for table, values in sections.items():
        lines += ["", f"[{table}]", *(f"{key} = {_toml(value)}" for key, value in values.items())]
    path.write_text("\n".join(lines).lstrip("\n") + "\n", "utf-8")
    return path
