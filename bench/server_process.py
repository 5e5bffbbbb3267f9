"""The reference linkage server as a process of its own, for the benchmarks: start it on the demo
configuration (this tree's server, or an earlier commit's from a checkout of it), wait for
``/health``, stop it, and read the CPU time and memory of it and its workers from /proc."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.linkserver_prepare import BENCH_LIMITS, write_bench_limits
from kiosk.linkage.readiness import wait_until_healthy

__all__ = ["BENCH_LIMITS", "ServerProcess", "start_server", "write_bench_limits"]

SERVER_START_SECONDS = 60


@dataclass
class ServerProcess:
    base: str
    config: Path
    command: list[str]
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def pythonpath_env(pythonpath: tuple[Path, ...]) -> dict[str, str] | None:
    """The environment that puts these folders first on Python's path (None: none, as installed)."""
    if not pythonpath:
        return None
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(folder) for folder in pythonpath)}


def server_command(config: Path, port: int, workers: int = 1, pythonpath: tuple[Path, ...] = ()) -> list[str]:
    script = Path(sys.executable).with_name("kiosk-linkserver")
    installed = script.exists() and not pythonpath
    launcher = [str(script)] if installed else [sys.executable, "-m", "linkserver.cli"]
    return [*launcher, "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--workers", str(workers)]


def start_server(config: Path, port: int, log: Path, workers: int = 1,
                 pythonpath: tuple[Path, ...] = ()) -> ServerProcess:
    """The server on ``config``, answering ``/health``; ``pythonpath``: where to find the server to run
    first (an earlier commit's checkout), else the installed one."""
    command = server_command(config, port, workers, pythonpath)
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=pythonpath_env(pythonpath))
    server = ServerProcess(f"http://127.0.0.1:{port}", config, command, process, log)
    if wait_until_healthy(server.base, timeout=SERVER_START_SECONDS, alive=lambda: process.poll() is None):
        return server
    if process.poll() is not None:
        raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log_tail()}")
    server.stop()
    raise RuntimeError(f"the server did not answer /health within {SERVER_START_SECONDS} s:\n"
                       f"{server.log_tail()}")


def process_tree(pid: int) -> list[int]:
    """A process and all its living descendants (Linux /proc), parents first."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), or NaN where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """Each process's CPU time so far, for a process and its descendants (a server and its workers)."""
    return {member: process_cpu_seconds(member) for member in process_tree(pid)}


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes used between two readings (a process new since counts from zero)."""
    return sum(seconds - before.get(member, 0.0) for member, seconds in after.items()
               if not math.isnan(seconds))


def tree_rss_mb(pid: int) -> float:
    """The resident memory of a process and all its descendants (Linux /proc), in MiB."""
    total_kb = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
            total_kb += next(int(line.split()[1]) for line in status.splitlines()
                             if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total_kb / 1024
