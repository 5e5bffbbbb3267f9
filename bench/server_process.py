"""The reference linkage server as a process of its own, for the benchmarks: start it on the demo
configuration, wait for ``/health``, stop it, and lift its rate limits out of the way."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kiosk.linkage.readiness import wait_until_healthy
from linkserver.config import load_settings

#: Requests per minute and verifications per hour high enough never to bind during the bench.
BENCH_LIMITS = {"kiosk_requests_per_minute": 1_000_000_000, "account_verifications_per_hour": 1_000_000_000}
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


def server_command(config: Path, port: int, workers: int = 1) -> list[str]:
    script = Path(sys.executable).with_name("kiosk-linkserver")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "linkserver.cli"]
    return [*launcher, "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--workers", str(workers)]


def start_server(config: Path, port: int, log: Path, workers: int = 1) -> ServerProcess:
    command = server_command(config, port, workers)
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = ServerProcess(f"http://127.0.0.1:{port}", config, command, process, log)
    if wait_until_healthy(server.base, timeout=SERVER_START_SECONDS, alive=lambda: process.poll() is None):
        return server
    if process.poll() is not None:
        raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log_tail()}")
    server.stop()
    raise RuntimeError(f"the server did not answer /health within {SERVER_START_SECONDS} s:\n"
                       f"{server.log_tail()}")


def write_bench_limits(config: Path) -> None:
    """Append the bench's ``[limits]`` table to the demo configuration and check it still loads."""
    table = "".join(f"{name} = {value}\n" for name, value in BENCH_LIMITS.items())
    with config.open("a", encoding="utf-8") as out:
        out.write(f"\n[limits]\n{table}")
    limits = load_settings(config).limits
    for name, value in BENCH_LIMITS.items():
        if getattr(limits, name) != value:
            raise RuntimeError(f"limits.{name} did not take effect")
