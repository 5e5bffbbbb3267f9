"""Bad kiosk settings through the commands a person types: one line naming the file, the key, what
is wrong and what to do, exit code 2, and nothing written. ``kiosk doctor`` only looks."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.config import write_config
from kiosk.exitcodes import EXIT_CONFIG, EXIT_FAILED
from kiosk.nfc.sim import TestHierarchy
from kiosk.services.doctor import clock_check
from kiosk.store import KioskStore
from tests.helpers.linkage_client import ec_key_file
from tests.helpers.processes import finish, read_until
from tests.test_linkage_faults import RawServer, certificate_authority, http_answer

KIOSK = [sys.executable, "-m", "kiosk"]
#: Each command that reads the configuration, as a person types it (the file is added after it).
COMMANDS = {
    "run": ["run", "--config"],
    "doctor": ["doctor", "--config"],
    "flow": ["flow", "link_status", "--account", "2024000001", "--pin-from-env", "CARD_PIN", "--config"],
}


def kiosk_config(folder: Path, hierarchy: TestHierarchy, **kiosk: str) -> Path:
    """A configuration that loads, with ``kiosk`` table values replaced."""
    key = ec_key_file(folder, ec.SECP256R1())
    anchors = [str(p) for p in hierarchy.trust_anchor_paths()]
    crls = [str(hierarchy.crl_path("2023"))]
    return write_config(folder / "kiosk.toml", {
        "kiosk": {"id": "kiosk-01", "key_file": str(key), "data_dir": str(folder / "data"), **kiosk},
        "server": {"url": "http://127.0.0.1:9", "connect_timeout_seconds": 0.5, "retries": 0},
        "offline": {"trust_anchors": anchors, "crl_files": crls},
    })


def garbage(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(b"-----BEGIN X509 CRL-----\nnot base64 at all\n-----END X509 CRL-----\n")
    return path


Setup = Callable[[Path, TestHierarchy], tuple[Path, Path]]


def bad_crl(folder: Path, hierarchy: TestHierarchy) -> tuple[Path, Path]:
    config = kiosk_config(folder, hierarchy)
    text = config.read_text("utf-8").replace(str(hierarchy.crl_path("2023")), str(garbage(folder, "a.crl")))
    config.write_text(text, "utf-8")
    return config, folder / "data"


def bad_anchor(folder: Path, hierarchy: TestHierarchy) -> tuple[Path, Path]:
    config = kiosk_config(folder, hierarchy)
    first = str(hierarchy.trust_anchor_paths()[0])
    config.write_text(config.read_text("utf-8").replace(first, str(garbage(folder, "root.pem"))), "utf-8")
    return config, folder / "data"


def data_dir_is_a_file(folder: Path, hierarchy: TestHierarchy) -> tuple[Path, Path]:
    (folder / "data").write_text("notes")
    return kiosk_config(folder, hierarchy), folder / "data"


def data_dir_without_parent(folder: Path, hierarchy: TestHierarchy) -> tuple[Path, Path]:
    return kiosk_config(folder, hierarchy, data_dir=str(folder / "gone" / "data")), folder / "gone"


CASES: dict[str, tuple[Setup, str, str]] = {
    # case: how to make it, the key named, what the line says is wrong and what to do
    "garbage CRL": (bad_crl, "offline.crl_files names", "a.crl, which is not a PEM or DER CRL: replace it"),
    "garbage trust anchor": (bad_anchor, "offline.trust_anchors names",
                             "root.pem, which is not a PEM or DER certificate: replace it"),
    "data_dir is a file": (data_dir_is_a_file, "kiosk.data_dir names",
                           "which is a file, not a folder: name a folder"),
    "data_dir's parent missing": (data_dir_without_parent, "kiosk.data_dir names",
                                  "does not exist: create"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_setting_is_one_line_exit_2_and_nothing_written(tmp_path: Path, hierarchy: TestHierarchy,
                                                              case: str, command: str) -> None:
    setup, key, words = CASES[case]
    config, data = setup(tmp_path, hierarchy)
    before = data.read_bytes() if data.is_file() else None
    env = {**os.environ, "CARD_PIN": "1234", "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([*KIOSK, *COMMANDS[command], str(config)], capture_output=True, text=True,
                            timeout=120, env=env)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == EXIT_CONFIG, lines
    assert len(lines) == 1, lines
    assert f"{config}: {key}" in lines[0] and words in lines[0]
    assert "Errno" not in lines[0]
    if before is None:
        assert not data.exists()  # not created, nor anything in it
    else:
        assert data.read_bytes() == before
    assert list(tmp_path.rglob("kiosk.db")) == []


def test_doctor_creates_no_store_and_says_it_is_missing(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    config = kiosk_config(tmp_path, hierarchy)
    result = subprocess.run([*KIOSK, "doctor", "--config", str(config)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == EXIT_FAILED  # the server on port 9 is not there
    assert f"OK   database: {tmp_path / 'data' / 'kiosk.db'} does not exist yet" in result.stdout
    assert not (tmp_path / "data").exists()


def test_doctor_writes_nothing_to_an_existing_store(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    config = kiosk_config(tmp_path, hierarchy)
    store = KioskStore(tmp_path / "data" / "kiosk.db")
    try:
        store.audit("kiosk_started")
        entries = store.check_audit().entries
        result = subprocess.run([*KIOSK, "doctor", "--config", str(config)], capture_output=True, text=True,
                                timeout=120)
        assert f"OK   database: {tmp_path / 'data' / 'kiosk.db'}\n" in result.stdout
        assert store.check_audit().entries == entries
    finally:
        store.close()


def test_doctor_names_a_wrong_ca_file_as_a_tls_problem_once(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    _, context = certificate_authority(tmp_path, "institution-ca")
    wrong_ca, _ = certificate_authority(tmp_path, "someone-else")
    handshakes: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: handshakes.append(name)  # type: ignore[assignment,misc]
    server = RawServer(http_answer("200 OK", "application/json", b"{}"), tls=context)
    config = kiosk_config(tmp_path, hierarchy)
    config.write_text(config.read_text("utf-8").replace(
        "[server]", f"[server]\nca_file = {str(wrong_ca)!r}"), "utf-8")
    try:
        result = subprocess.run([*KIOSK, "doctor", "--config", str(config), "--server", server.base],
                                capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    line = next(line for line in result.stdout.splitlines() if line.startswith("FAIL server"))
    assert f"{server.base}: TLS certificate problem: server.ca_file ({wrong_ca})" in line
    assert "(unable to get local issuer certificate)" in line and "check the network" not in line
    assert (len(handshakes), server.requests) == (1, 0)  # one handshake, never retried, nothing sent
    assert result.returncode == EXIT_FAILED


@pytest.mark.parametrize(("seconds", "words", "ok"), [
    (90.0, "the kiosk's clock is 90.0 s behind the server's: set the clock (NTP)", False),
    (-75.5, "the kiosk's clock is 75.5 s ahead of the server's: set the clock (NTP)", False),
    (2.0, "the kiosk's clock is 2.0 s behind the server's", True),
])
def test_clock_skew_says_ahead_or_behind(seconds: float, words: str, ok: bool) -> None:
    check = clock_check(dt.timedelta(seconds=seconds))
    assert (check.detail, check.ok) == (words, ok)



def test_doctor_says_whether_the_kiosk_can_verify_while_the_server_is_away(
        tmp_path: Path, hierarchy: TestHierarchy) -> None:
    on = kiosk_config(tmp_path, hierarchy)
    off = write_config(tmp_path / "off.toml", {
        "kiosk": {"id": "kiosk-01", "key_file": str(ec_key_file(tmp_path, ec.SECP256R1())),
                  "data_dir": str(tmp_path / "off-data")},
        "server": {"url": "http://127.0.0.1:9", "connect_timeout_seconds": 0.5, "retries": 0},
        "offline": {"enabled": False},
    })
    said = {}
    for name, config in (("on", on), ("off", off)):
        result = subprocess.run([*KIOSK, "doctor", "--config", str(config)], capture_output=True, text=True,
                                timeout=120)
        said[name] = next(line for line in result.stdout.splitlines() if line.startswith("FAIL server:"))
    assert said["on"].endswith("the kiosk works offline meanwhile")
    assert said["off"].endswith("offline verification is switched off, so the kiosk cannot verify meanwhile")


def test_kiosk_run_logs_when_its_first_screen_shows(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    config = kiosk_config(tmp_path, hierarchy)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    window = subprocess.Popen([*KIOSK, "-v", "run", "--windowed", "--config", str(config)], env=env,
                              text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        read_until(window.stderr, "kiosk.ui.app: the first screen is showing")  # once it is painted
    finally:
        finish(window)
    assert window.returncode == 0
