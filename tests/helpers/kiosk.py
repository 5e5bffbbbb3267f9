"""The kiosk core's test helpers: a configuration, a card placed, a flow run, a PIN buffer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.config import write_config as save_config
from kiosk.nfc.pcsc import PcscConnection
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.services.core import KioskCore
from kiosk.services.headless import Flow, FlowInput, Step
from tests.conftest import Reader
from tests.linkserver.helpers import LiveServer


def write_config(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy, url: str, *,
                 read_timeout: float = 5.0, reader: str = "", approval_timeout: int = 60) -> Path:
    """The test kiosk's configuration: the demo server's kiosk key, short timeouts, a quick sync."""
    state = server.setup.config_path.parent
    return save_config(tmp_path / "kiosk.toml", {
        "reader": {"name": reader},
        "kiosk": {"id": server.setup.kiosk_id, "key_file": str(server.setup.kiosk_key_path),
                  "data_dir": str(tmp_path / "kiosk-data")},
        "server": {"url": url, "connect_timeout_seconds": 1.0, "read_timeout_seconds": read_timeout,
                   "retries": 1, "approval_timeout_seconds": approval_timeout},
        "offline": {"trust_anchors": [str(p) for p in hierarchy.trust_anchor_paths()],
                    "crl_files": [str(p) for p in sorted(state.glob("auth-*.crl"))],
                    "sync_interval_seconds": 1.0, "max_backoff_seconds": 2.0},
    })


def place(reader: Reader, make_card: Callable[..., SimulatedCard], holder: str,
          **options: Any) -> PcscConnection:
    reader.insert(make_card(holder, **options))
    return PcscConnection(reader.name)


def run(core: KioskCore, card: PcscConnection, given: FlowInput,
        on_step: Callable[[Step], None] | None = None,
        cancel: threading.Event | None = None) -> tuple[dict[str, Any], list[Step]]:
    steps: list[Step] = []

    def emit(step: Step) -> None:
        steps.append(step)
        if on_step is not None:
            on_step(step)

    try:
        return Flow(core, emit, cancel).run(card, given), steps
    finally:
        card.close()


def pin(digits: str = "1234") -> bytearray:
    return bytearray(digits.encode())
