"""Runs Debian's pcscd with the vpcd virtual readers, for tests, benchmarks and the demo.

Each ``PcscdProcess`` is a private pcscd: it runs in a mount namespace of its own, where ``/run``
(and with it ``/run/pcscd/pcscd.comm``, the socket, and the pid file) is a folder of ours and the
USB driver folder is empty. So it runs beside the machine's own pcscd, or beside another private
one, and never sees or claims a real reader. A client reaches it by setting
``PCSCLITE_CSOCK_NAME`` to its socket before its first PC/SC call: :meth:`PcscdProcess.start`
sets it for this process and its children. vpcd itself listens on every interface: it belongs to
test machines, never to a kiosk install.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
USB_DRIVERS = Path("/usr/lib/pcsc/drivers")
CONF_PREFIX = "kiosk-pcscd-"
SOCKET_ENV = "PCSCLITE_CSOCK_NAME"


#: This process's pcscd socket folder (see ``PcscdProcess``).
_PROCESS_SOCKET_DIR = Path(tempfile.gettempdir()) / f"{CONF_PREFIX}run-{secrets.token_hex(6)}"


def _pcscd_processes() -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and Path(cmdline[0].decode(errors="replace")).name == "pcscd":
            found.append((int(entry.name), " ".join(c.decode(errors="replace") for c in cmdline if c)))
    return found


def _orphaned(pid: int) -> bool:
    """Whether ``pid`` has lost the Python process that started it (it was handed to a reaper).

    The parent is judged by its executable where it can be read, not by its command line, which a
    process may rewrite (pytest-xdist's workers show "[pytest-xdist running] ..." there when
    setproctitle is installed): a live test worker's pcscd is never taken for an orphan. Where the
    executable cannot be read (a reaper of another user), by its command line.
    """
    try:
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return False
    try:
        parent = os.readlink(f"/proc/{ppid}/exe")
    except OSError:
        try:
            parent = Path(f"/proc/{ppid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            return False
    return not Path(parent).name.startswith("python")


def _pcscd_binary() -> str:
    return shutil.which("pcscd") or "/usr/sbin/pcscd"


#: vpcd's ports are taken below the kernel's ephemeral range (32768 and up), so that no outgoing
#: connection is given one while a pcscd is about to listen on it.
PORT_RANGE = (20000, 32000)
#: The lock files of the port pairs this process holds (released when it exits).
_RESERVED: dict[int, IO[str]] = {}


def free_port_pair() -> int:
    """An even port ``p`` such that ``p`` and ``p + 1`` are free now, reserved for this process.

    The reservation is a lock file per pair, held while the process lives: two test workers or
    runs at once never take the same pair, even before either pcscd listens on it.
    """
    lock_dir = Path(tempfile.gettempdir()) / f"{CONF_PREFIX}ports"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    for _ in range(200):
        port = PORT_RANGE[0] + 2 * secrets.randbelow((PORT_RANGE[1] - PORT_RANGE[0]) // 2)
        handle = open(lock_dir / str(port), "a")  # noqa: SIM115  (held until the process exits)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        if _bindable(port) and _bindable(port + 1):
            _RESERVED[port] = handle
            return port
        handle.close()
    raise RuntimeError("no two free consecutive ports for the vpcd readers")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("", port))  # vpcd listens on every interface
        except OSError:
            return False
        return True


def stop_process(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """End a child process: SIGTERM, then SIGKILL if it has not gone within ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class PcscdProcess:
    """A private pcscd whose only readers are two vpcd readers on ``port`` and ``port + 1``.

    By default (``port=None``) it takes a free pair. libpcsclite reads ``PCSCLITE_CSOCK_NAME``
    once per process, so by default every instance in a process uses the same socket path, named
    when the process starts and made at ``start()``: a process reaches the pcscd it starts, and
    starts again, one at a time. ``socket_dir`` runs another at the same time, for child
    processes to reach.
    """

    def __init__(self, port: int | None = None, name: str = "Virtual PCD",
                 socket_dir: Path | None = None) -> None:
        self.port = free_port_pair() if port is None else port
        self.name = name
        self._own_socket_dir = socket_dir is None
        self.socket_dir = socket_dir or _PROCESS_SOCKET_DIR
        self.work_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def readers(self) -> list[str]:
        return [f"{self.name} 00 00", f"{self.name} 00 01"]

    @property
    def socket_path(self) -> Path:
        """pcscd's socket, as clients outside its namespace reach it."""
        return self.socket_dir / "pcscd" / "pcscd.comm"

    def start(self, timeout: float = 15.0) -> PcscdProcess:
        if not Path(_pcscd_binary()).exists() or not DRIVER.exists() or shutil.which("unshare") is None:
            raise RuntimeError("pcscd and vsmartcard-vpcd are not installed (scripts/setup installs them)")
        _end_orphans(timeout)
        self.work_dir = Path(tempfile.mkdtemp(prefix=CONF_PREFIX))
        if self._own_socket_dir:
            try:
                self.socket_dir.mkdir(mode=0o700)
            except FileExistsError:
                raise RuntimeError(f"{self.socket_dir} is taken: another pcscd of this process runs "
                                   "(give this one a socket_dir of its own)") from None
        (self.socket_dir / "pcscd").mkdir(exist_ok=True)
        os.environ[SOCKET_ENV] = str(self.socket_path)
        self.log_path = self.work_dir / "pcscd.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._wait_ready(timeout)
        return self

    def _command(self) -> list[str]:
        """pcscd in its own mount namespace: our folder as /run, no USB drivers, our vpcd reader."""
        assert self.work_dir is not None
        driver = self.work_dir / DRIVER.name
        shutil.copyfile(DRIVER, driver)
        no_drivers = self.work_dir / "no-usb-drivers"
        no_drivers.mkdir()
        conf_dir = self.work_dir / "reader.conf.d"
        conf_dir.mkdir()
        (conf_dir / "vpcd").write_text(
            f'FRIENDLYNAME "{self.name}"\n'
            f"DEVICENAME   /dev/null:0x{self.port:04X}\n"
            f"LIBPATH      {driver}\n"
            f"CHANNELID    0x{self.port:04X}\n"
        )
        script = (f'mount --bind "{self.socket_dir}" /run && '
                  f'mount --bind "{no_drivers}" "{USB_DRIVERS}" && '
                  f'exec "{_pcscd_binary()}" --foreground --config "{conf_dir}"')
        user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
        return ["unshare", *user, "--mount", "--propagation", "private", "sh", "-c", script]

    def _wait_ready(self, timeout: float) -> None:
        """Until pcscd listens on its socket (it has loaded the vpcd readers before it listens)."""
        assert self.process is not None and self.log_path is not None
        deadline = time.monotonic() + timeout
        delay = 0.02
        while not self._listening():
            if self.process.poll() is not None:
                raise RuntimeError(f"pcscd exited: {self.log_path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("pcscd did not start listening in time")
            time.sleep(delay)  # pcscd signals readiness only by listening
            delay = min(delay * 2, 0.2)

    def _listening(self) -> bool:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(self.socket_path))
            except OSError:
                return False
            return True

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None
        shutil.rmtree(self.socket_dir if self._own_socket_dir else self.socket_dir / "pcscd",
                      ignore_errors=True)

    def __enter__(self) -> PcscdProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _end_orphans(timeout: float) -> None:
    """Stop private pcscds left behind by runs of ours that were killed (their parent has gone)."""
    for pid, cmdline in _pcscd_processes():
        if CONF_PREFIX in cmdline and _orphaned(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            _wait_gone(pid, timeout)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
