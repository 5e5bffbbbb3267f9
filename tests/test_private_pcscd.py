"""The tests' pcscd is private: it runs beside the machine's own pcscd and never sees its readers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.nfc.sim.pcscd import (
    DRIVER,
    SOCKET_ENV,
    PcscdProcess,
    _end_orphans,
    _orphaned,
    free_port_pair,
    stop_process,
)

SYSTEM_SOCKET = Path("/run/pcscd/pcscd.comm")
SYSTEM_READER = "System PCD"


def readers_at(socket: Path) -> set[str]:
    """The readers a client sees through ``socket`` (in a new process: the name is read once)."""
    result = subprocess.run(
        [sys.executable, "-c", "from kiosk.nfc.pcsc import list_readers\n"
         "print('\\n'.join(list_readers(timeout=2)))"],
        env=dict(os.environ, **{SOCKET_ENV: str(socket)}), capture_output=True, text=True, timeout=60)
    return set(result.stdout.split("\n")) - {""} if result.returncode == 0 else set()


@pytest.fixture
def system_pcscd(tmp_path: Path) -> Iterator[set[str]]:
    """The machine's own pcscd at the default socket, as an engineer's PC runs it (started if none)."""
    if SYSTEM_SOCKET.exists() and readers_at(SYSTEM_SOCKET):
        yield readers_at(SYSTEM_SOCKET)
        return
    conf = tmp_path / "reader.conf.d"
    conf.mkdir()
    port = free_port_pair()
    (conf / "vpcd").write_text(f'FRIENDLYNAME "{SYSTEM_READER}"\nDEVICENAME /dev/null:0x{port:04X}\n'
                               f"LIBPATH {DRIVER}\nCHANNELID 0x{port:04X}\n")
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    process = subprocess.Popen([binary, "--foreground", "--config", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not (seen := readers_at(SYSTEM_SOCKET)) and process.poll() is None:
            assert time.monotonic() < deadline, "the machine's pcscd did not start"
            time.sleep(0.1)  # pcscd tells it is ready only by answering
        assert f"{SYSTEM_READER} 00 00" in seen, "the machine's pcscd did not start"
        yield seen
    finally:
        stop_process(process)


def test_ours_runs_beside_the_machines_pcscd_and_neither_sees_the_other(
    pcscd: PcscdProcess, system_pcscd: set[str]
) -> None:
    assert readers_at(pcscd.socket_path) == set(pcscd.readers)
    assert not set(pcscd.readers) & readers_at(SYSTEM_SOCKET)
    assert not system_pcscd & set(pcscd.readers)


def test_two_private_pcscds_side_by_side(pcscd: PcscdProcess, tmp_path: Path) -> None:
    other = PcscdProcess(port=None, name="Second PCD", socket_dir=tmp_path)
    environment = os.environ[SOCKET_ENV]
    try:
        other.start()
        assert readers_at(other.socket_path) == set(other.readers)
        assert other.port not in (pcscd.port, pcscd.port + 1)
    finally:
        other.stop()
        os.environ[SOCKET_ENV] = environment
    assert readers_at(pcscd.socket_path) == set(pcscd.readers)


def test_ours_loads_no_usb_driver(pcscd: PcscdProcess) -> None:
    """A real reader on the machine is never claimed: in pcscd's namespace the USB drivers are gone."""
    assert pcscd.process is not None
    drivers = Path(f"/proc/{pcscd.process.pid}/root/usr/lib/pcsc/drivers")
    assert list(drivers.iterdir()) == []
    assert any(Path("/usr/lib/pcsc/drivers").iterdir())


def test_processes_at_once_never_take_the_same_ports() -> None:
    """Two test workers start their pcscds at the same moment: their vpcd ports never meet."""
    code = ("import sys\nfrom kiosk.nfc.sim.pcscd import free_port_pair\n"
            "print(' '.join(str(free_port_pair()) for _ in range(40)), flush=True)\nsys.stdin.read()")
    workers = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for _ in range(2)]
    try:
        taken = [{int(port) for port in worker.stdout.readline().split()} for worker in workers]  # type: ignore[union-attr]
    finally:
        for worker in workers:
            worker.communicate("", timeout=30)
    assert [len(ports) for ports in taken] == [40, 40]
    pairs = [{port for first in ports for port in (first, first + 1)} for ports in taken]
    assert not pairs[0] & pairs[1]


def pcscd_in_a_child(tmp_path: Path, title: str) -> tuple[subprocess.Popen[str], int]:
    """A Python process whose command line shows ``title``, running a private pcscd (its socket in
    ``tmp_path``) until its stdin closes; the process and the pcscd's PID."""
    script = ("import sys\nfrom pathlib import Path\nfrom kiosk.nfc.sim.pcscd import PcscdProcess\n"
              f"pcscd = PcscdProcess(name='Child PCD', socket_dir=Path({str(tmp_path)!r})).start()\n"
              "assert pcscd.process is not None\nprint(pcscd.process.pid, flush=True)\nsys.stdin.read()\n"
              "pcscd.stop()\n")
    child = subprocess.Popen(["bash", "-c", 'exec -a "$0" "$1" -c "$2"', title, sys.executable, script],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def answers(socket_path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(socket_path))
        except OSError:
            return False
        return True


def test_a_pcscd_whose_parent_renamed_itself_is_no_orphan(tmp_path: Path) -> None:
    """A test worker whose title is rewritten (pytest-xdist does it with setproctitle installed)
    keeps its pcscd when another process starts one and ends the orphans it finds."""
    title = "[pytest-xdist running] gw0"
    worker, pid = pcscd_in_a_child(tmp_path, title)
    try:
        assert Path(f"/proc/{worker.pid}/cmdline").read_bytes().split(b"\0")[0] == title.encode()
        assert not _orphaned(pid)
        _end_orphans(timeout=5)
        assert answers(tmp_path / "pcscd" / "pcscd.comm")
    finally:
        worker.communicate("", timeout=30)
    assert worker.returncode == 0


def test_a_pcscd_left_behind_by_a_killed_run_is_ended(tmp_path: Path) -> None:
    run, pid = pcscd_in_a_child(tmp_path, sys.executable)
    run.kill()  # no chance to stop its pcscd
    run.communicate(timeout=30)
    assert _orphaned(pid)
    _end_orphans(timeout=10)
    assert not answers(tmp_path / "pcscd" / "pcscd.comm")
