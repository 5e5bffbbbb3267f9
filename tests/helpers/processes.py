"""Commands the tests start and read: wait for the line that says a process is ready, then stop it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from typing import IO


def read_until(stream: IO[str] | None, marker: str | Callable[[str], bool]) -> list[str]:
    """Read ``stream`` line by line until a line holds ``marker`` (or satisfies it); returns the lines
    read, that one last. Fails with every line read if the stream ends first."""
    assert stream is not None, "the process's output is not piped"
    found = marker if callable(marker) else (lambda line: marker in line)
    lines: list[str] = []
    for line in stream:
        lines.append(line)
        if found(line):
            return lines
    raise AssertionError(f"the output ended before {marker!r}:\n" + "".join(lines))


def finish(process: subprocess.Popen[str], signum: int = signal.SIGTERM,
           timeout: float = 60) -> tuple[str | None, str | None]:
    """Send ``signum`` to a process still running and read its output on until it exits (one blocked
    writing to a full pipe would never end); killed if it takes longer than ``timeout``."""
    if process.poll() is None:
        process.send_signal(signum)
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()
