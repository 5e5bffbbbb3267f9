"""Whose linkage server the load benchmark starts, and on which database.

This tree's server ("now"), or an earlier commit's from a temporary git worktree of it (the
baseline ``bench/linkserver_bench.py --baseline-commit`` runs in the same levels); SQLite in the
server's own state folder, or a fresh PostgreSQL schema, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.linkserver_prepare import prepare
from bench.server_process import pythonpath_env
from tests.linkserver.helpers import POSTGRES_ENV, postgres_from_script, postgres_schema

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Code:
    """Whose server a run starts: this tree's ("now") or an earlier commit's, from a checkout of it
    put first on ``PYTHONPATH`` (with stand-ins hiding packages that commit's lock did not name)."""

    label: str
    pythonpath: tuple[Path, ...] = ()


NOW = Code("now")
#: Packages uvicorn picks up by itself when they are installed: an earlier commit whose lock does not
#: name them ran without them, and its baseline server is kept from them.
AUTO_PICKED = ("uvloop", "httptools")


def prepare_state(code: Code, state: Path, hierarchy: Path, port: int, kiosks: int,
                  database_url: str | None) -> tuple[Path, list[tuple[str, Path]]]:
    """The server's configuration file and the kiosks' client IDs and keys, prepared by the code
    that will serve them."""
    if not code.pythonpath:
        return prepare(state, hierarchy, port, kiosks, database_url)
    command = [sys.executable, str(Path(__file__).with_name("linkserver_prepare.py")), str(state),
               str(hierarchy), str(port), str(kiosks), *([database_url] if database_url else [])]
    done = subprocess.run(command, capture_output=True, text=True, env=pythonpath_env(code.pythonpath),
                          timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"preparing the state for {code.label}'s server failed:\n{done.stderr[-3000:]}")
    found = json.loads(done.stdout.splitlines()[-1])
    return Path(found["config"]), [(client, Path(key)) for client, key in found["kiosks"]]


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@contextlib.contextmanager
def earlier_commit(revision: str) -> Iterator[Code]:
    """An earlier commit's server: a temporary worktree of it, removed afterwards."""
    label = git("rev-parse", "--short", f"{revision}^{{commit}}")
    folder = Path(tempfile.mkdtemp(prefix="kiosk-bench-baseline-"))
    tree = folder / label
    git("worktree", "add", "--detach", str(tree), label)
    try:
        lock = tree / "packaging" / "requirements" / "linkserver.txt"
        locked = lock.read_text("utf-8") if lock.exists() else ""
        hidden = folder / "hidden"
        for name in AUTO_PICKED:
            if not re.search(rf"^{name}==", locked, re.MULTILINE):
                (hidden / name).mkdir(parents=True)
                (hidden / name / "__init__.py").write_text(
                    f"raise ImportError('{name} is not in {label}\\'s lock')\n", "utf-8")
        yield Code(label, (hidden, tree / "linkserver"))
    finally:
        git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(folder, ignore_errors=True)


def head_label() -> str:
    """This tree's commit, marked when it has uncommitted changes."""
    try:
        changed = git("status", "--porcelain", "--untracked-files=no")
        return git("rev-parse", "--short", "HEAD") + ("-dirty" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def find_postgres(explicit: str | None) -> tuple[str | None, str]:
    """A PostgreSQL URL and where it came from, or None and why there is none."""
    if explicit:
        return explicit, "--postgres-url"
    if os.environ.get(POSTGRES_ENV):
        return os.environ[POSTGRES_ENV], POSTGRES_ENV
    return postgres_from_script(unattended=False)


@contextlib.contextmanager
def backend_url(backend: str, postgres: str | None) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None  # the demo's own SQLite file in the state folder
        return
    assert postgres is not None
    with postgres_schema(postgres) as url:
        yield url
