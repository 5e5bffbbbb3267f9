"""The kiosk on an X server without a window manager (Xvfb), as at a counter: ``kiosk run`` fills
the screen, and the demo's developer panel stays on it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.config import write_config
from kiosk.nfc.sim import TestHierarchy
from tests.helpers.linkage_client import ec_key_file

KIOSK = [sys.executable, "-m", "kiosk"]
SCREENS = [(1280, 800), (1920, 1080)]
PANEL = "Kiosk demo: developer panel"
#: A top-level window as xwininfo shows it: title, x, y, width and height.
Window = tuple[str, int, int, int, int]


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Whether ``condition`` came true within ``timeout`` (a generous guard against a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)  # polling an X server that sends us no event
    return True


def xvfb(width: int, height: int) -> Iterator[str]:
    """An Xvfb display of that size with no window manager; its name, once it accepts clients."""
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24",
                               "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as ready:
            number = ready.readline().strip()  # written once the server is ready
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture(params=SCREENS, ids=lambda size: f"{size[0]}x{size[1]}")
def display(request: pytest.FixtureRequest) -> Iterator[tuple[str, int, int]]:
    width, height = request.param
    for name in xvfb(width, height):
        yield name, width, height


def top_windows(name: str) -> list[Window]:
    """The root's viewable children: title, x, y, width and height."""
    tree = subprocess.run(["xwininfo", "-root", "-children", "-display", name], capture_output=True,
                          text=True, timeout=30).stdout
    found: list[Window] = []
    for window_id in re.findall(r"^\s+(0x[0-9a-f]+) ", tree, re.MULTILINE):
        info = subprocess.run(["xwininfo", "-id", window_id, "-display", name], capture_output=True,
                              text=True, timeout=30).stdout
        if "Map State: IsViewable" not in info:
            continue
        title = re.search(r'xwininfo: Window id: \S+ "(.*)"', info)
        labels = ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")
        x, y, width, height = (int(match[1]) if (match := re.search(rf"{label}:\s+(-?\d+)", info)) else -1
                               for label in labels)
        found.append((title[1] if title else "", x, y, width, height))
    return found


def settled(name: str, process: subprocess.Popen[str], ready: Callable[[list[Window]], bool]) -> list[Window]:
    """The viewable top-level windows once ``ready`` holds for them (the process still running)."""
    seen: list[Window] = []

    def check() -> bool:
        seen[:] = top_windows(name)
        return ready(seen) or process.poll() is not None

    assert wait_for(check), f"the windows never settled: {seen}"
    assert process.poll() is None, process.communicate()[0]
    return seen


def titled(windows: list[Window], title: str) -> list[Window]:
    """The windows of that title (Qt may add " — " and the application's name)."""
    return [w for w in windows if w[0] == title or w[0].startswith(f"{title} — ")]


def x_env(name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    return {**env, "DISPLAY": name, "QT_QPA_PLATFORM": "xcb"}


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_kiosk_run_fills_a_screen_without_a_window_manager(display: tuple[str, int, int],
                                                           tmp_path: Path) -> None:
    name, width, height = display
    config = write_config(tmp_path / "kiosk.toml", {
        "kiosk": {"id": "kiosk-01", "key_file": str(ec_key_file(tmp_path, ec.SECP256R1())),
                  "data_dir": str(tmp_path / "data"), "language": "en"},
        "server": {"url": "http://127.0.0.1:9", "retries": 0},
        "offline": {"enabled": False},
    })
    kiosk = subprocess.Popen([*KIOSK, "run", "--config", str(config)], env=x_env(name), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        full = ("My Number Card kiosk", 0, 0, width, height)
        assert full in settled(name, kiosk, lambda windows: full in windows)
    finally:
        stop(kiosk)


def test_the_demo_s_developer_panel_stays_on_the_screen(display: tuple[str, int, int], tmp_path: Path,
                                                        hierarchy: TestHierarchy) -> None:
    name, width, height = display
    shutil.copytree(hierarchy.path, tmp_path / "cache" / "kiosk" / "test-jpki")  # none generated
    env = {**x_env(name), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    demo = subprocess.Popen([*KIOSK, "demo", "--no-pcscd", "--language", "en"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    kiosk = ("My Number Card kiosk", 0, 0, min(1280, width), min(800, height))
    try:
        windows = settled(name, demo, lambda seen: kiosk in seen and bool(titled(seen, PANEL)))
    finally:
        stop(demo)
    [(_, x, y, panel_width, panel_height)] = titled(windows, PANEL)
    assert x + panel_width <= width and y + panel_height <= height
    assert min(x, y) >= 0
    assert panel_width >= 300  # shown whole, not squeezed to nothing
