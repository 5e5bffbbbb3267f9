"""The server's example settings file in tests: one backend table of it with every documented key in
force, added to the demo's settings with the files that table names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from kiosk.nfc.sim import TestHierarchy
from linkserver.demo import prepare_demo

EXAMPLE = Path(__file__).parents[2] / "linkserver" / "linkserver.example.toml"


def example_table(name: str, backend: str) -> str:
    """The example's ``[name]`` table with every commented key in force and ``backend`` chosen."""
    table = EXAMPLE.read_text("utf-8").split(f"\n[{name}]", 1)[1].split("\n[", 1)[0]
    table = re.sub(r"^# (\w+ = .*)$", r"\1", table, flags=re.MULTILINE)
    return f"\n[{name}]" + re.sub(r'^backend = "\w+"', f'backend = "{backend}"', table, flags=re.MULTILINE)


def config_with(tmp_path: Path, hierarchy: TestHierarchy, table: str, files: Mapping[str, str]) -> Path:
    """The demo's settings file with ``table`` added, and ``files`` (path: text) beside it."""
    config = prepare_demo(tmp_path / "cfg", hierarchy.path).config_path
    for name, text in files.items():
        (config.parent / name).parent.mkdir(parents=True, exist_ok=True)
        (config.parent / name).write_text(text)
    config.write_text(config.read_text("utf-8") + table, "utf-8")
    return config
