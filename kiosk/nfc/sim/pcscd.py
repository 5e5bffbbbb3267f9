"""Runs Debian's pcscd with the vpcd virtual readers, for tests, benchmarks and the demo.

pcscd serves one socket per machine, so only one can run at a time. vpcd itself listens on every
interface: it belongs to test machines, never to a kiosk install.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from kiosk.nfc.errors import CardError
from kiosk.nfc.pcsc import list_readers

PID_FILE = Path("/run/pcscd/pcscd.pid")
DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
CONF_PREFIX = "kiosk-pcscd-"


def running_pcscd() -> tuple[int, str] | None:
    """PID and command line of a running pcscd, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and Path(cmdline[0].decode(errors="replace")).name == "pcscd":
            return int(entry.name), " ".join(c.decode(errors="replace") for c in cmdline if c)
    return None


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
    """A pcscd in the foreground whose only readers are two vpcd readers on ``port``, ``port+1``."""

    def __init__(self, port: int = 35963, name: str = "Virtual PCD") -> None:
        self.port = port
        self.name = name
        self.work_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def readers(self) -> list[str]:
        return [f"{self.name} 00 00", f"{self.name} 00 01"]

    def start(self, timeout: float = 15.0) -> PcscdProcess:
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if not Path(binary).exists() or not DRIVER.exists():
            raise RuntimeError("pcscd and vsmartcard-vpcd are not installed (scripts/setup installs them)")
        other = running_pcscd()
        if other is not None:
            pid, cmdline = other
            if CONF_PREFIX not in cmdline:
                raise RuntimeError(f"another pcscd is running (pid {pid}: {cmdline}); stop it first")
            os.kill(pid, signal.SIGTERM)  # a leftover of an earlier run of ours
            _wait_gone(pid, timeout)
        self.work_dir = Path(tempfile.mkdtemp(prefix=CONF_PREFIX))
        conf_dir = self.work_dir / "reader.conf.d"
        conf_dir.mkdir()
        (conf_dir / "vpcd").write_text(
            f'FRIENDLYNAME "{self.name}"\n'
            f"DEVICENAME   /dev/null:0x{self.port:04X}\n"
            f"LIBPATH      {DRIVER}\n"
            f"CHANNELID    0x{self.port:04X}\n"
        )
        self.log_path = self.work_dir / "pcscd.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [binary, "--foreground", "--config", str(conf_dir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"pcscd exited: {self.log_path.read_text(errors='replace')}")
            try:
                if set(self.readers) <= set(list_readers(timeout=2)):
                    return self
            except CardError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("pcscd did not offer the virtual readers in time")
            time.sleep(delay)  # pcscd signals readiness only by answering
            delay = min(delay * 2, 0.2)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None

    def __enter__(self) -> PcscdProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
