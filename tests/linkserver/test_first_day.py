"""The server on an administrator's first day, through the commands they type: every bad setting
named in one line with exit code 2 and nothing written; the demo's state reused, never clobbered,
and named by a relative path; the demo's temporary folder removed on SIGTERM and SIGHUP; the
database file readable by its owner only."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy
from linkserver.cli import main
from linkserver.demo import DemoStateError, prepare_demo
from tests.helpers.processes import finish, read_until
from tests.linkserver.helpers import free_port

SERVER = [sys.executable, "-m", "linkserver.cli"]


def command(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SERVER, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def replace_line(config: Path, key: str, value: str) -> None:
    text = config.read_text("utf-8")
    changed = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, count=1, flags=re.MULTILINE)
    config.write_text(changed, "utf-8")


def garbage(name: str) -> Callable[[Path], str]:
    def spoil(state: Path) -> str:
        (state / name).write_bytes(b"-----BEGIN garbage\n\x00\x01\n")
        return str(state / name)
    return spoil


def short_secret(state: Path) -> str:
    (state / "ppid.secret").write_text("too short\n")
    return str(state / "ppid.secret")


#: A spoiled setting or file, and the words its one-line error must hold.
BAD_SETTINGS: list[tuple[str, str | Callable[[Path], str], str]] = [
    ("database_url", '"postgresql://nobody@127.0.0.1:1/x"',
     "server.database_url: the database cannot be used"),
    ("database_url", '"not a url"', "server.database_url must be a database URL"),
    ("database_url", '"mysql://x"', "server.database_url names a mysql database"),
    ("database_url", '"sqlite:///no/such/folder/x.db"', "which is not a folder"),
    ("signing_key_file", garbage("token-signing.pem"), "secrets.signing_key_file names"),
    ("sealing_key_file", garbage("sealing.pem"), "is not an unencrypted PEM private key"),
    ("ppid_secret_file", short_secret, "fewer than the 32 needed"),
    ("crl_files", garbage("auth-2023.crl"), "jpki.crl_files names"),
]


@pytest.mark.parametrize(("key", "spoil", "words"), BAD_SETTINGS,
                         ids=[f"{key}-{index}" for index, (key, _, _) in enumerate(BAD_SETTINGS)])
def test_a_bad_setting_is_one_line_naming_the_key_and_nothing_is_written(
        tmp_path: Path, hierarchy: TestHierarchy, key: str, spoil: str | Callable[[Path], str],
        words: str) -> None:
    state = tmp_path / "state"
    config = prepare_demo(state, hierarchy.path).config_path
    replace_line(config, "database_url", '"sqlite:///fresh.db"')  # nothing should create it
    if isinstance(spoil, str):
        replace_line(config, key, spoil)
    else:
        spoil(state)
    before = sorted(path.name for path in state.iterdir())
    result = command("migrate", "--config", str(config))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and str(config) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(path.name for path in state.iterdir()) == before  # no fresh.db, nothing else


def test_the_hierarchy_option_outside_the_demo_is_refused(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    config = prepare_demo(tmp_path / "state", hierarchy.path).config_path
    result = command("--config", str(config), "--hierarchy", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "--hierarchy" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_a_demo_state_is_reused_with_its_keys_and_data(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    state = tmp_path / "state"
    first = prepare_demo(state, hierarchy.path)
    keys = {name: (state / name).read_bytes() for name in ("sealing.pem", "token-signing.pem",
                                                           "kiosk-demo.pem", "ppid.secret")}
    again = prepare_demo(state, hierarchy.path, issuer="http://127.0.0.1:9999")
    assert {name: (state / name).read_bytes() for name in keys} == keys
    assert again.settings.issuer == "http://127.0.0.1:9999"
    assert again.settings.database_url == first.settings.database_url


def test_a_folder_that_is_not_a_demo_state_is_refused_before_anything_is_written(
        tmp_path: Path, hierarchy: TestHierarchy) -> None:
    state = tmp_path / "state"
    prepare_demo(state, hierarchy.path)
    (state / "sealing.pem").unlink()
    before = {path.name: path.read_bytes() for path in state.iterdir() if path.is_file()}
    with pytest.raises(DemoStateError, match=r"lacks sealing\.pem"):
        prepare_demo(state, hierarchy.path)
    assert {path.name: path.read_bytes() for path in state.iterdir() if path.is_file()} == before


def test_a_relative_state_folder_works_from_any_working_directory(
        tmp_path: Path, hierarchy: TestHierarchy, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "work").mkdir()
    with monkeypatch.context() as inside:  # the worker's own folder back afterwards, whatever happens
        inside.chdir(tmp_path / "work")
        config = prepare_demo(Path("state"), hierarchy.path).config_path
    assert config == tmp_path / "work" / "state" / "linkserver.toml"
    result = command("migrate", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = tomllib.loads(config.read_text("utf-8"))
    assert written["jpki"]["crl_files"] == ["auth-2015.crl", "auth-2019.crl", "auth-2023.crl"]
    assert written["server"]["database_url"] == "sqlite:///linkserver.db"  # relative to the file


def test_the_database_file_is_the_owners_alone(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    config = prepare_demo(tmp_path / "state", hierarchy.path).config_path
    database = config.parent / "linkserver.db"
    assert database.stat().st_mode & 0o777 == 0o600
    assert all((config.parent / f"linkserver.db{suffix}").stat().st_mode & 0o777 == 0o600
               for suffix in ("-wal", "-shm") if (config.parent / f"linkserver.db{suffix}").exists())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_the_demos_temporary_folder_goes_on_a_signal(hierarchy: TestHierarchy, signum: int) -> None:
    demo = [*SERVER, "--demo", "--port", str(free_port()), "--hierarchy", str(hierarchy.path)]
    server = subprocess.Popen(demo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = read_until(server.stdout, lambda _line: True)[0]
        assert first.startswith("demo state in "), first
        folder = Path(first.removeprefix("demo state in ").strip())
        assert (folder / "sealing.pem").is_file()
        read_until(server.stderr, "Uvicorn running on")  # so its own signal handling is in place
    finally:
        finish(server, signum)
    assert not folder.exists()


# -- words and commands ------------------------------------------------------------------------------


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``kiosk-linkserver ARGS`` in this process: the exit code, stdout and stderr."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_config_and_log_level_may_come_before_or_after_the_command(
        tmp_path: Path, hierarchy: TestHierarchy, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(prepare_demo(tmp_path / "state", hierarchy.path).config_path)
    before = run_main(capsys, "--config", config, "--log-level", "warning", "migrate")
    after = run_main(capsys, "migrate", "--config", config, "--log-level", "warning")
    assert before == after == (0, "the database schema is up to date\n", ""), (before, after)
    missing = run_main(capsys, "migrate")
    assert missing[0] == 2 and "migrate needs --config FILE" in missing[2]


def test_every_help_explains_config_and_states_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for args in ([], ["migrate"], ["register-kiosk"], ["clients"], ["check-backends"], ["staff"]):
        code, shown, _ = run_main(capsys, *args, "--help")
        assert code == 0 and "exit codes:" in shown and "5    the port" in shown
        assert "SUB_CONFIG" not in shown and "--config FILE" in shown.replace("\n", " ")
    assert "1-64 letters" in run_main(capsys, "register-kiosk", "--help")[1]
    code, version, _ = run_main(capsys, "--version")
    assert code == 0 and re.fullmatch(r"kiosk-linkserver \S+\n", version)


def test_a_taken_port_is_named_with_its_own_exit_code_before_anything_is_printed(
        hierarchy: TestHierarchy) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = command("--demo", "--port", str(port), "--hierarchy", str(hierarchy.path))
    assert result.returncode == 5 and result.stdout == ""
    assert result.stderr.strip() == (f"kiosk-linkserver: port {port} on 127.0.0.1 is already in use "
                                     "(another server?): stop it, or give --port")


def test_where_the_demo_is_left_out_it_is_not_offered(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import linkserver.cli

    assert "--demo" in run_main(capsys, "--help")[1]
    monkeypatch.setattr(linkserver.cli, "demo_installed", lambda: False)  # as in the server package
    code, shown, _ = run_main(capsys, "--help")
    assert code == 0 and "--demo" not in shown and "screenshots" not in shown and "--hierarchy" not in shown
    assert run_main(capsys, "--demo")[0] == 2
    code, _, said = run_main(capsys, "--port", str(free_port()))
    assert code == 2 and said.strip() == "kiosk-linkserver: give --config FILE"


def test_config_may_come_after_an_actions_own_words(tmp_path: Path, hierarchy: TestHierarchy,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = str(prepare_demo(tmp_path / "state", hierarchy.path).config_path)
    before = run_main(capsys, "--config", config, "counter", "add", "--name", "Counter 9", "counter-9")
    after = run_main(capsys, "counter", "list", "--config", config)
    assert before[0] == 0 and after[0] == 0, (before, after)
    assert "counter-9" in after[1] and "Counter 9" in after[1]
