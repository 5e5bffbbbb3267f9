"""``kiosk-linkserver check-backends`` against a real slapd: what it says when every backend can be
used, and the words and exit code for a wrong service password, a wrong base DN and a directory
that is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy
from linkserver.cli import main
from linkserver.demo import prepare_demo
from tests.helpers.slapd import PEOPLE, SERVICE_DN, Slapd, available, started

pytestmark = pytest.mark.skipif(not available(), reason="Debian's slapd is not installed (scripts/setup)")


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with started(tmp_path_factory.mktemp("slapd")) as server:
        yield server


def config_for(tmp_path: Path, hierarchy: TestHierarchy, slapd: Slapd | None, *,
               password: str | None = None, base_dn: str = PEOPLE) -> Path:
    """The demo's settings, with the [directory] table on ``slapd`` (none: the SQL directory)."""
    config = prepare_demo(tmp_path / "cfg", hierarchy.path).config_path
    if slapd is None:
        return config
    secret = config.parent / "ldap-service.password"
    service_password = (slapd.folder / "service.password").read_text("utf-8")
    secret.write_text(password if password is not None else service_password, "utf-8")
    config.write_text(config.read_text("utf-8") + f"""
[directory]
backend = "ldap"
url = "{slapd.ldaps_url}"
ca_file = "{slapd.ca_file}"
bind_dn = "{SERVICE_DN}"
bind_password_file = "{secret}"
base_dn = "{base_dn}"
timeout_seconds = 2
""", "utf-8")
    return config


def check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check-backends", "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_reachable_directory_is_reported_with_what_was_found(
        slapd: Slapd, hierarchy: TestHierarchy, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(config_for(tmp_path, hierarchy, slapd), capsys)
    assert code == 0, err
    found = f"LDAP at {slapd.ldaps_url} over LDAPS: bound as {SERVICE_DN}, {PEOPLE} found"
    assert f"directory: ok: {found}" in out
    assert (slapd.folder / "service.password").read_text("utf-8").strip() not in out + err


def test_the_sql_directory_needs_nothing_reached(hierarchy: TestHierarchy, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(config_for(tmp_path, hierarchy, None), capsys)
    assert code == 0 and "directory: ok: the server's own tables" in out


@pytest.mark.parametrize(("change", "words"), [
    ({"password": "not the password"}, f"refused the service account {SERVICE_DN}"),
    ({"base_dn": "ou=nobody,dc=example,dc=ac,dc=jp"}, "there is no ou=nobody,dc=example,dc=ac,dc=jp"),
])
def test_a_wrong_setting_is_named_with_exit_code_3(
        slapd: Slapd, hierarchy: TestHierarchy, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        change: dict[str, str], words: str) -> None:
    code, out, err = check(config_for(tmp_path, hierarchy, slapd, **change), capsys)
    assert code == 3 and "directory:" not in out and "mfa: ok: " in out  # the others are still checked
    assert err.startswith("directory: FAILED: ") and words in err and "Traceback" not in err
    assert "not the password" not in err


def test_a_directory_that_is_down_is_named(slapd: Slapd, hierarchy: TestHierarchy, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = config_for(tmp_path, hierarchy, slapd)
    slapd.stop()
    try:
        code, _, err = check(config, capsys)
    finally:
        slapd.start()
    assert code == 3 and err.startswith(f"directory: FAILED: {slapd.ldaps_url}: ")
    assert "Can't contact LDAP server" in err
