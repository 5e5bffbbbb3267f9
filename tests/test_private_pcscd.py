"""The tests' pcscd is private: it runs beside the machine's own pcscd and never sees its readers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.nfc.sim.pcscd import DRIVER, SOCKET_ENV, PcscdProcess, free_port_pair, stop_process

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


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


OWNER = """import sys
from kiosk.nfc.sim.pcscd import PcscdProcess
pcscd = PcscdProcess(name="Owned PCD").start()
print(pcscd.process.pid, flush=True)
sys.stdin.read()
pcscd.stop()
"""


def test_a_pcscd_is_ended_as_an_orphan_only_once_its_owner_is_gone(tmp_path: Path) -> None:
    """Starting a pcscd ends those left by killed runs, never one whose owner lives (even when a test
    runner has rewritten the owner's process title, as xdist's workers do)."""
    # Its command line shows another name, as a worker's does once the runner rewrites its title.
    # Under another name Python does not find its virtual environment: it imports kiosk from the
    # checkout it runs in (the stdlib is all the owner needs besides).
    owner = subprocess.Popen(["bash", "-c", 'exec -a "$0" "$1" -c "$2"', "[pytest-xdist running] gw0",
                              sys.executable, OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, cwd=Path(__file__).resolve().parents[1])
    environment = os.environ[SOCKET_ENV]
    try:
        owned = int(owner.stdout.readline())  # type: ignore[union-attr]
        with PcscdProcess(name="Second PCD", socket_dir=tmp_path):
            assert running(owned), "a live owner's pcscd was ended"
        owner.kill()
        owner.wait(timeout=30)
        with PcscdProcess(name="Third PCD", socket_dir=tmp_path):
            assert not running(owned)
    finally:
        os.environ[SOCKET_ENV] = environment
        owner.kill()
