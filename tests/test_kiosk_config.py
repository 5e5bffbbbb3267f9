"""The kiosk's configuration: documented defaults, and every mistake named with its key and file."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.config import (
    ConfigError,
    OfflineSettings,
    ReaderSettings,
    ServerSettings,
    load_config,
    write_config,
)
from kiosk.nfc.sim import TestHierarchy

EXAMPLE = Path(__file__).parents[1] / "resources" / "kiosk.example.toml"
FILES = ("kiosk-key.pem", "jpki/auth-2015.pem", "jpki/auth-2019.pem", "jpki/auth-2023.pem",
         "jpki/auth-2015.crl", "jpki/auth-2019.crl", "jpki/auth-2023.crl")


@pytest.fixture
def config(tmp_path: Path, hierarchy: TestHierarchy) -> Path:
    for name in FILES:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        source = hierarchy.path / ("crl" if name.endswith(".crl") else "ca") / Path(name).name
        (tmp_path / name).write_bytes(source.read_bytes() if name.startswith("jpki/") else b"a key")
    path = tmp_path / "kiosk.toml"
    path.write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    return path


def test_the_example_documents_every_default(config: Path) -> None:
    settings = load_config(config)
    assert settings.kiosk_id == "kiosk-hongo-01"
    assert settings.key_file == config.parent / "kiosk-key.pem"
    assert settings.store_path == config.parent / "data" / "kiosk.db"
    defaults = ServerSettings(url="https://linkage.example.ac.jp")
    assert settings.server == defaults
    assert settings.reader == ReaderSettings()
    offline = settings.offline
    assert (offline.require_crl, offline.sync_interval_seconds, offline.max_backoff_seconds,
            offline.roster_max_age_hours) == (
        OfflineSettings().require_crl, OfflineSettings().sync_interval_seconds,
        OfflineSettings().max_backoff_seconds, 72.0)
    assert settings.server.heartbeat_seconds == 30.0
    assert len(offline.trust_anchors) == 3 and len(offline.crl_files) == 3
    assert (settings.language, settings.idle_timeout_seconds, settings.retention_days) == ("ja", 90, 90)
    assert settings.account_id_ok("2024000001") and not settings.account_id_ok("hanako")
    assert offline.voucher_page_url == "https://linkage.example.ac.jp/voucher"  # the server's own page


Edit = Callable[[str], str]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('id = "kiosk-hongo-01"\n', ""), "kiosk.id is missing"),
    (lambda t: t.replace('url = "https://linkage.example.ac.jp"', 'url = "http://linkage.example.ac.jp"'),
     "server.url must use https"),
    (lambda t: t.replace('url = "https://linkage.example.ac.jp"', 'url = "ftp://x"'),
     "server.url must be an http(s) URL"),
    (lambda t: t.replace("retries = 2", "retries = \"two\""), "server.retries must be a whole number"),
    (lambda t: t.replace("retries = 2", "retries = 99"), "server.retries must be between 0 and 10"),
    (lambda t: t.replace("read_timeout_seconds = 10.0", "read_timeout_secs = 10.0"),
     "server.read_timeout_secs is not a known setting"),
    (lambda t: t.replace('key_file = "kiosk-key.pem"', 'key_file = "missing.pem"'), "kiosk.key_file names"),
    (lambda t: t.replace('language = "ja"', 'language = "fr"'), "kiosk.language must be"),
    (lambda t: t.replace("enabled = true", "enabled = 1"), "offline.enabled must be true or false"),
    (lambda t: t.replace('trust_anchors = ["jpki/auth-2015.pem", "jpki/auth-2019.pem", "jpki/auth-2023.pem"]',
                         "trust_anchors = []"), "offline.trust_anchors must list"),
    (lambda t: t.replace("require_crl = true", 'require_crl = true\nvoucher_page_url = "vouchers.example"'),
     "offline.voucher_page_url must be an http(s) address"),
    (lambda t: t.replace("require_crl = true", 'require_crl = true\nvoucher_page_url = "https://x/v?a=1"'),
     "offline.voucher_page_url must be an http(s) address without a query"),
    (lambda t: t.replace("roster_max_age_hours = 72.0", "roster_max_age_hours = 0.5"),
     "offline.roster_max_age_hours must be between 1 and 2160"),
    (lambda t: t.replace("roster_max_age_hours = 72.0", "roster_max_age_hours = \"3 days\""),
     "offline.roster_max_age_hours must be a number"),
    (lambda t: t.replace("heartbeat_seconds = 30.0", "heartbeat_seconds = 1"),
     "server.heartbeat_seconds must be between 5 and 3600"),
    (lambda t: t + "\n[printer]\n", "[printer] is not a known table"),
    (lambda t: t.replace("[server]", "[server"), "not valid TOML"),
])
def test_a_wrong_setting_names_the_key_and_the_file(config: Path, edit: Edit, message: str) -> None:
    config.write_text(edit(config.read_text("utf-8")), "utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert message in str(raised.value)
    assert str(config) in str(raised.value)


def test_loopback_may_be_plain_http(config: Path) -> None:
    config.write_text(config.read_text("utf-8").replace(
        'url = "https://linkage.example.ac.jp"', 'url = "http://127.0.0.1:8470/"'), "utf-8")
    assert load_config(config).server.url == "http://127.0.0.1:8470"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nowhere.toml")


def test_the_staff_unlock_pin_is_kept_as_a_digest(config: Path) -> None:
    import os
    import subprocess
    import sys

    from kiosk.staffpin import staff_pin_matches

    made = subprocess.run([sys.executable, "-m", "kiosk", "staff-pin-hash", "--pin-from-env", "STAFF_PIN"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "STAFF_PIN": "482913"})
    assert made.returncode == 0, made.stderr
    line = made.stdout.strip()
    assert line.startswith('staff_unlock = "pbkdf2-sha256$') and "482913" not in line
    config.write_text(config.read_text("utf-8").replace('staff_unlock = ""', line), "utf-8")
    settings = load_config(config)
    assert staff_pin_matches(settings.staff_unlock, "482913")
    assert not staff_pin_matches(settings.staff_unlock, "482914")
    config.write_text(config.read_text("utf-8").replace(line, 'staff_unlock = "482913"'), "utf-8")
    with pytest.raises(ConfigError, match=r"kiosk\.staff_unlock is not a digest"):
        load_config(config)


def test_a_written_configuration_reads_back_with_any_characters(tmp_path: Path,
                                                                hierarchy: TestHierarchy) -> None:
    odd = 'C:\\kiosk "counter" 窓口\t\x7f'
    # A certificate: the key file is only read when used, a trust anchor is parsed at once.
    (tmp_path / odd).write_bytes(hierarchy.trust_anchor_paths()[0].read_bytes())
    path = write_config(tmp_path / "kiosk.toml", {
        "kiosk": {"id": "counter-01", "key_file": str(tmp_path / odd), "language": "en"},
        "server": {"url": "http://127.0.0.1:8470", "retries": 2, "read_timeout_seconds": 2.5},
        "offline": {"trust_anchors": [str(tmp_path / odd)], "crl_files": []},
    }, comment="written by a test")
    assert path.read_text("utf-8").startswith("# written by a test\n\n[kiosk]\n")
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    assert raw["kiosk"]["key_file"] == str(tmp_path / odd)
    assert raw["offline"]["trust_anchors"] == [str(tmp_path / odd)]
    settings = load_config(path)
    assert settings.key_file == tmp_path / odd and settings.server.retries == 2 and settings.language == "en"
    assert settings.server.read_timeout_seconds == 2.5
