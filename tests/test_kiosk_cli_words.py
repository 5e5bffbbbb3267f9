"""The ``kiosk`` command's words and refusals: plain help with exit codes, --version, the simulated
card's options, the staff PIN, and the demo's temporary folder on a signal."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from kiosk.cli import build_parser, main
from kiosk.cli_sim import make_card, width
from kiosk.exitcodes import EXIT_BUSY, EXIT_CONFIG
from kiosk.nfc.sim import TestHierarchy
from kiosk.nfc.sim.pcscd import PcscdProcess
from tests.helpers.processes import finish, read_until

KIOSK = [sys.executable, "-m", "kiosk"]


def run_kiosk(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KIOSK, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def command_paths(parser: argparse.ArgumentParser,
                  prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand of the parser, as the words a person types before --help."""
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from command_paths(child, (*prefix, name))


def test_every_help_is_plain_words_with_its_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    paths = list(command_paths(build_parser()))
    assert ("sim",) in paths and ("card", "status") in paths and ("outbox", "sync") in paths
    for path in paths:
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert "``" not in text, path
        codes = text.split("exit codes:\n", 1)[1]
        assert re.search(r"^  0 ", codes, re.MULTILINE), path
        assert re.search(r"^  (2|130) ", codes, re.MULTILINE), path
    main_help = run_kiosk("--help").stdout
    assert main_help.startswith("usage: kiosk") and "``" not in main_help
    assert "  3    a port or a reader it needs is taken" in main_help


def test_version_is_the_installed_distribution_s() -> None:
    result = run_kiosk("--version")
    assert (result.returncode, result.stdout) == (0, f"kiosk {version('kiosk')}\n")


def test_list_holders_shows_both_pins_in_aligned_columns(hierarchy: TestHierarchy) -> None:
    result = run_kiosk("sim", "--hierarchy", str(hierarchy.path), "--list-holders")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["holder", "name", "PIN", "card-info", "PIN"]
    cells = {row.split(" ", 1)[0]: re.split(r" {2,}", row) for row in rows[1:]}
    assert cells["unlinked"][1:4] == ["鈴木\u3000一郎", "2580", "1357"]
    assert cells["latin"][1:4] == ["GARCIA\u3000MARIA", "9021", "9021"]
    # Each column starts at the same screen column in every row, wide characters counted twice.
    header = cell_starts(rows[0])
    assert len(header) == 4
    assert [cell_starts(row)[:4] for row in rows[1:]] == [header] * (len(rows) - 1), result.stdout


def cell_starts(row: str) -> list[int]:
    """The screen columns where the row's cells (two spaces apart or more) begin."""
    return [width(row[:found.start()]) for found in re.finditer(r"(?:^|(?<=  ))\S", row)]


def test_the_card_info_pin_default_is_what_help_says(hierarchy: TestHierarchy,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    assert "unlinked 1357" in " ".join(capsys.readouterr().out.split())
    for holder, pin, expected in (("unlinked", None, "1357"), ("unlinked", "4444", "1357"),
                                  ("linked", "4444", "4444"), ("latin", None, "9021")):
        args = build_parser().parse_args(["sim", "--hierarchy", str(hierarchy.path), "--holder", holder]
                                         + (["--pin", pin] if pin else []))
        card, _, _ = make_card(args)
        assert card.profile.cardinfo_pin == expected, holder


def test_sim_refuses_a_hierarchy_folder_that_does_not_exist(tmp_path: Path) -> None:
    result = run_kiosk("sim", "--hierarchy", str(tmp_path / "nowhere"))
    assert result.returncode == EXIT_CONFIG
    assert f"--hierarchy {tmp_path / 'nowhere'} does not exist" in result.stderr
    assert not (tmp_path / "nowhere").exists() and "Traceback" not in result.stderr


def test_sim_refuses_an_export_dir_it_cannot_write(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    target = tmp_path / "a-file" / "x"
    result = run_kiosk("sim", "--hierarchy", str(hierarchy.path), "--export-dir", str(target))
    assert result.returncode == EXIT_CONFIG
    assert result.stderr == (f"kiosk sim: --export-dir: {tmp_path / 'a-file' / 'x'} cannot be written "
                             "(Not a directory): name a place this user may write\n")


def test_sim_refuses_a_port_nothing_listens_on(hierarchy: TestHierarchy) -> None:
    result = run_kiosk("sim", "--hierarchy", str(hierarchy.path), "--port", "1", "--wait", "0")
    assert result.returncode == EXIT_BUSY
    assert "nothing listens at 127.0.0.1:1" in result.stderr and "Serving" not in result.stdout


def test_a_second_sim_on_the_same_reader_is_refused(pcscd: PcscdProcess, hierarchy: TestHierarchy) -> None:
    from kiosk.nfc.pcsc import wait_for_card

    first = subprocess.Popen([*KIOSK, "sim", "--port", str(pcscd.port), "--hierarchy", str(hierarchy.path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline().startswith("Serving linked")
        second = run_kiosk("sim", "--port", str(pcscd.port), "--hierarchy", str(hierarchy.path),
                           "--holder", "unlinked")
        assert second.returncode == EXIT_BUSY
        assert f"another kiosk sim (process {first.pid}) already serves a card to vpcd at " \
               f"127.0.0.1:{pcscd.port}" in second.stderr
        assert "Serving" not in second.stdout
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(20)
    assert wait_for_card(pcscd.readers[0], present=False, timeout=10)


@pytest.mark.parametrize(("pin", "accepted"), [
    ("482913", True), ("123456789012", True),
    ("48291a", False), ("pass-word", False), ("12345", False), ("1234567890123", False),
])
def test_the_staff_pin_is_what_the_keypad_can_type(pin: str, accepted: bool) -> None:
    result = run_kiosk("staff-pin-hash", "--pin-from-env", "STAFF_PIN", STAFF_PIN=pin)
    if accepted:
        assert result.returncode == 0 and result.stdout.startswith('staff_unlock = "pbkdf2-sha256$')
    else:
        assert result.returncode == EXIT_CONFIG and result.stdout == ""
        assert "must hold a PIN of 6 to 12 digits, as typed on the unlock dialog's keypad" in result.stderr


def cached(hierarchy: TestHierarchy, tmp_path: Path) -> dict[str, str]:
    """The environment of a demo whose per-user cache holds the test hierarchy (none generated)."""
    shutil.copytree(hierarchy.path, tmp_path / "cache" / "kiosk" / "test-jpki")
    env = {key: value for key, value in os.environ.items()
           if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_demo_status_only_uses_the_holder_asked_for(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    result = subprocess.run([*KIOSK, "demo", "--status-only", "--holder", "unlinked"], capture_output=True,
                            text=True, timeout=120, env=cached(hierarchy, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first == "A simulated My Number Card (holder: 鈴木 一郎) is on the virtual reader."
    assert f"    Serial:  {hierarchy.holder('unlinked').serial:X}" in result.stdout.splitlines()


@pytest.mark.parametrize(("sig", "after"), [
    (signal.SIGHUP, "The kiosk is open with"),        # the window up, its event loop running
    (signal.SIGTERM, "Starting the reference linkage server"),  # still starting
    (signal.SIGHUP, "Starting the reference linkage server"),
])
def test_the_demo_removes_its_folder_on_a_signal(hierarchy: TestHierarchy, tmp_path: Path,
                                                 sig: signal.Signals, after: str) -> None:
    env = {**cached(hierarchy, tmp_path), "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen([*KIOSK, "demo", "--no-pcscd", "--language", "en"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = read_until(demo.stdout, lambda line: line.startswith(after))
        found = [match for line in lines
                 if (match := re.search(r"keys, configuration and database are in (\S+);", line))]
        assert found
        folder = Path(found[-1][1])
        assert folder.is_dir()
        assert (folder / "server").is_dir() or after.startswith("Starting")
    finally:
        finish(demo, sig)
    assert demo.returncode == 128 + sig
    assert not folder.exists()


def test_verbose_may_come_after_the_command_as_before_it() -> None:
    parser = build_parser()
    for args, level in ((["-v", "doctor"], 1), (["doctor", "-v"], 1), (["card", "status", "-vv"], 2),
                        (["outbox", "list", "-v"], 1), (["doctor"], 0)):
        assert parser.parse_args(args).verbose == level, args


def test_where_the_simulated_card_is_left_out_sim_and_demo_are_not_offered(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import kiosk.cli

    assert {"sim", "demo"} <= {path[0] for path in command_paths(build_parser()) if path}
    monkeypatch.setattr(kiosk.cli, "developer_tools_installed", lambda: False)  # as in the kiosk package
    counter = build_parser()
    offered = {path[0] for path in command_paths(counter) if path}
    assert offered.isdisjoint({"sim", "demo"}) and {"run", "doctor", "flow"} <= offered
    assert "simulated" not in counter.format_help() and "demo" not in counter.format_help()
    with pytest.raises(SystemExit) as refused:
        main(["demo"])
    assert refused.value.code == EXIT_CONFIG and "invalid choice: 'demo'" in capsys.readouterr().err
