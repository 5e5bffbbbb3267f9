"""A plain pytest run needs no KIOSK_TEST_POSTGRES_URL: the session starts PostgreSQL itself, once
under xdist, or fails every case that needs it with the command to run, never skipping them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.linkserver.helpers import POSTGRES_ENV, POSTGRES_HOWTO, POSTGRES_SCRIPT, POSTGRES_SCRIPT_ENV

ROOT = Path(__file__).resolve().parents[2]
#: The two migration tests that need no server, on PostgreSQL.
CASES = ["tests/linkserver/test_migrations.py", "-k", "postgresql and not command"]


def pytest_run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest in a process of its own, on two workers, without KIOSK_TEST_POSTGRES_URL."""
    environment = {key: value for key, value in os.environ.items() if key != POSTGRES_ENV}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-v", "-rA",
         "--basetemp", str(tmp_path / "basetemp"), *CASES, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env={**environment, **env})


def test_without_a_url_the_run_starts_postgresql_once_for_every_worker(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    counting = tmp_path / "postgres"  # scripts/postgres, noting each run
    counting.write_text(f'#!/bin/sh\necho run >> "{runs}"\nexec "{POSTGRES_SCRIPT}" "$@"\n', "utf-8")
    counting.chmod(0o755)
    result = pytest_run(tmp_path, **{POSTGRES_SCRIPT_ENV: str(counting)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout and "skipped" not in result.stdout, result.stdout
    for worker in ("gw0", "gw1"):  # both asked for it
        assert re.search(rf"^\[{worker}\] .* PASSED ", result.stdout, re.MULTILINE), result.stdout
    assert runs.read_text("utf-8") == "run\n"  # the first worker started it; the other one waited
    url, source = json.loads((tmp_path / "basetemp" / "postgres.json").read_text("utf-8"))
    assert source == "scripts/postgres" and url.startswith("postgresql+psycopg://"), url


def test_without_a_postgresql_to_start_the_cases_fail_with_the_command_to_run(tmp_path: Path) -> None:
    no_tools = tmp_path / "bin"
    no_tools.mkdir()
    result = pytest_run(tmp_path, PATH=str(no_tools))  # no pg_lsclusters: nothing to start
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 errors" in result.stdout and "passed" not in result.stdout, result.stdout
    assert "skipped" not in result.stdout, result.stdout
    words = ("PostgreSQL is not running and the tests could not start it: PostgreSQL is not installed "
             f"(scripts/postgres would install it); {POSTGRES_HOWTO}")
    assert result.stdout.count(words) >= 2, result.stdout  # both cases say the same
