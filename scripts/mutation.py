"""Mutation testing (mutmut 3) of the modules that guard the kiosk's invariants, one module at a time.

    scripts/mutation [--max-children N] [--with-server] [--survivors DIR] [--report-only] [MODULE ...]

MODULE is a path (``kiosk/nfc/session.py``, ``linkserver/linkserver/ppid.py``) or a dotted name
(``kiosk.nfc.session``, ``linkserver.ppid``); none means every module in ``TARGETS``. Each module is
tested in a layout of its own, ``mutants/<dotted name>/``, that holds a copy of ``kiosk``, of the
server's package at the top (``linkserver/linkserver`` becomes ``linkserver``: mutmut derives
module names from paths), of ``tests`` and ``resources``, and a generated ``pyproject.toml`` that
tells mutmut which one file to mutate and which tests to run. mutmut writes its own copy below
that, in ``mutants/<dotted name>/mutants/``. A run starts afresh; ``--report-only`` prints the
last run's figures again.

The tests are each module's fast ones: no pcscd (the ``pcsc`` marker is deselected), no server,
no PostgreSQL (its URL is not passed on), and none that starts a process (mutmut follows no
other process). ``--with-server`` adds, for the modules that have them, tests over the reference
server served in process on SQLite (``mutants/<dotted name>+server/``). The score counts a
timeout as killed, and a mutant that no selected test reaches ("no tests") as survived.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "mutants"
MUTMUT = Path(sys.executable).with_name("mutmut")

FAST = ("tests/fast",)
#: The kiosk's services with a simulated card in process, a stand-in for the server and a real store.
SERVICE_TESTS = ("tests/services", *FAST)
#: The server's modules over its database in process, without HTTP.
SERVER_UNIT_TESTS = ("tests/linkserver/units",)
CARD_TESTS = ("tests/test_apdu.py", "tests/test_tlv.py", "tests/test_jpki_session.py",
              "tests/test_cardinfo_session.py", "tests/test_sim_card.py", "tests/test_hostile_card.py",
              "tests/test_privacy.py", "tests/linkserver/test_signature.py", *FAST)
SERVER_CORE_TESTS = ("tests/linkserver/test_verifier.py", "tests/linkserver/test_revocation.py",
                     "tests/linkserver/test_ppid.py", "tests/linkserver/test_signature.py",
                     "tests/linkserver/test_trust.py", "tests/linkserver/test_words.py",
                     "tests/linkserver/test_migrations.py")
#: With ``--with-server``: tests over the reference server served in this process (SQLite, loopback).
FLOW_TESTS = ("tests/test_flow.py",)
SERVER_API_TESTS = tuple(f"tests/linkserver/test_{name}.py" for name in (
    "api_operations", "api_operation_sessions", "api_offline", "api_verification", "api_client_refusals",
    "audit_anchor", "server_admin"))
OFFLINE_TESTS = "tests/test_offline_core.py"
#: Tests in the selected files that need the server: only with ``--with-server``.
NEEDS_SERVER = (
    f"{OFFLINE_TESTS}::test_evidence_sealed_offline_is_accepted_by_the_server_and_the_voucher_works",
)
#: Tests in the selected files that start a process: never (mutmut follows no other process).
STARTS_A_PROCESS = (
    "tests/test_store.py::test_a_store_at_the_newest_migration_opens_without_alembic",
    "tests/test_store.py::test_the_store_imports_no_qt_card_linkage_http_or_server",
    "tests/test_store.py::test_two_processes_never_share_a_counter_value_or_break_the_chain",
    "tests/test_store.py::test_a_process_killed_while_writing_loses_nothing_it_reported",
    "tests/fast/test_flow_table.py::test_the_tier_imports_no_qt_card_reader_server_or_pcscd",
    "tests/linkserver/test_audit_anchor.py::test_check_audit_prints_only_its_verdict",
    "tests/linkserver/test_server_admin.py::test_the_command_reports_a_bad_configuration_without_a_traceback",
    "tests/linkserver/test_server_admin.py::test_the_demo_command_serves_cards_from_the_simulators_hierarchy",
)


@dataclass(frozen=True)
class Target:
    """One module to mutate, the fast tests that may kill its mutants, and the server tests."""

    path: str  # in the repository
    tests: tuple[str, ...]
    server_tests: tuple[str, ...] = ()

    @property
    def layout_path(self) -> str:
        """The module's path in the layout, where the server's package sits at the top."""
        return self.path.removeprefix("linkserver/")

    @property
    def name(self) -> str:
        return self.layout_path.removesuffix(".py").replace("/", ".")


def server_target(module: str, server_tests: tuple[str, ...] = (), units: bool = False) -> Target:
    tests = SERVER_CORE_TESTS + (SERVER_UNIT_TESTS if units else ())
    return Target(f"linkserver/linkserver/{module}.py", tests, server_tests)


TARGETS = (
    Target("kiosk/nfc/session.py", CARD_TESTS),
    Target("kiosk/nfc/jpki.py", CARD_TESTS),
    Target("kiosk/nfc/cardinfo.py", CARD_TESTS),
    Target("kiosk/nfc/apdu.py", CARD_TESTS),
    Target("kiosk/nfc/tlv.py", CARD_TESTS),
    Target("kiosk/services/verification.py", SERVICE_TESTS, FLOW_TESTS),
    Target("kiosk/services/operations.py", SERVICE_TESTS, FLOW_TESTS),
    Target("kiosk/services/outbox.py", SERVICE_TESTS, FLOW_TESTS),
    Target("kiosk/store/store.py", ("tests/test_store.py", "tests/test_store_edges.py", *FAST)),
    # Its server test is one in its own file, deselected without --with-server (NEEDS_SERVER).
    Target("kiosk/offline/validate.py", (OFFLINE_TESTS, "tests/test_offline_refusals.py", *FAST),
           (OFFLINE_TESTS,)),
    server_target("operations", SERVER_API_TESTS, units=True),
    server_target("verifier"),
    server_target("tokens", SERVER_API_TESTS, units=True),
    server_target("revocation"),
    server_target("ppid"),
    server_target("audit", SERVER_API_TESTS, units=True),
    # The limits' buckets on SQLite (and on PostgreSQL when KIOSK_TEST_POSTGRES_URL is set).
    Target("linkserver/linkserver/ratelimit.py", ("tests/linkserver/test_ratelimit.py",),
           ("tests/linkserver/test_server_admin.py",)),
)


@dataclass(frozen=True)
class Run:
    """One module with the tests of one tier."""

    target: Target
    with_server: bool

    @property
    def name(self) -> str:
        return self.target.name + ("+server" if self.with_server else "")

    @property
    def layout(self) -> Path:
        return OUTPUT / self.name

    @property
    def tests(self) -> list[str]:
        tests = self.target.tests + (self.target.server_tests if self.with_server else ())
        return list(dict.fromkeys(tests))

    @property
    def left_out(self) -> tuple[str, ...]:
        return STARTS_A_PROCESS + (() if self.with_server else NEEDS_SERVER)


def find_target(word: str) -> Target:
    for target in TARGETS:
        if word in (target.path, target.name, target.layout_path):
            return target
    names = "\n  ".join(target.path for target in TARGETS)
    raise SystemExit(f"mutation: no module {word!r}; the modules are:\n  {names}")


def toml_value(value: object) -> str:
    """A string or a list of strings in TOML (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=True)


def layout_config(run: Run) -> str:
    """The layout's pyproject.toml: mutmut's settings for this run, and the project's pytest's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    pytest_options = project["tool"]["pytest"]["ini_options"]
    mutmut = {
        "source_paths": ["kiosk", "linkserver"],
        "only_mutate": [run.target.layout_path],
        "also_copy": ["resources"],
        "pytest_add_cli_args_test_selection": run.tests,
        # No PostgreSQL: its cases (``[postgresql]``) would fail for want of one, not for a mutant.
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-m", "not pcsc", "-k", "not postgresql",
                                *(arg for test in run.left_out for arg in ("--deselect", test))],
    }
    lines = ["[tool.mutmut]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in mutmut.items()]
    lines += ["use_git_change_detection = false", "", "[tool.pytest.ini_options]",
              'testpaths = ["tests"]', f"timeout = {int(pytest_options['timeout'])}",
              'addopts = "--strict-markers"', f"markers = {toml_value(pytest_options['markers'])}", ""]
    return "\n".join(lines)


def build_layout(run: Run) -> None:
    """A fresh layout for one run: the packages, the tests and the generated configuration."""
    if run.layout.exists():
        shutil.rmtree(run.layout)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.qm")
    for source, copy in (("kiosk", "kiosk"), ("linkserver/linkserver", "linkserver"), ("tests", "tests"),
                         ("resources", "resources")):
        shutil.copytree(ROOT / source, run.layout / copy, ignore=ignore)
    (run.layout / "pyproject.toml").write_text(layout_config(run), "utf-8")


#: What mutmut says, and exits 1, when no selected test reaches the module at all.
NOTHING_REACHED = "could not find any test case for any mutant"


def run_mutmut(run: Run, max_children: int) -> None:
    """Runs mutmut on one module in its layout, and notes when, on what and how long in ``run.json``."""
    build_layout(run)
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "KIOSK_TEST_POSTGRES_URL", "MUTANT_UNDER_TEST")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    log_path = run.layout / "run.log"
    print(f"{run.name}: running mutmut (log: {log_path.relative_to(ROOT)})", flush=True)
    started = time.monotonic()
    with log_path.open("w") as log:
        result = subprocess.run([str(MUTMUT), "run", "--max-children", str(max_children)], cwd=run.layout,
                                env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    text = log_path.read_text("utf-8", "replace")
    reached = NOTHING_REACHED not in text
    if result.returncode != 0 and reached:
        tail = text.replace("\r", "\n").splitlines()[-15:]
        print(f"{run.name}: mutmut exited {result.returncode}:\n  " + "\n  ".join(tail), flush=True)
    (run.layout / "run.json").write_text(json.dumps({
        "seconds": round(seconds), "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "kiosk", "linkserver", "tests")),
        "date": dt.date.today().isoformat(), "exit": result.returncode, "reached": reached}), "utf-8")


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


@dataclass
class Score:
    run: Run
    by_status: dict[str, list[str]]
    facts: dict[str, Any]

    KILLED = ("killed", "timeout", "segfault")  # a worker past its CPU limit is killed (-9)

    @property
    def killed(self) -> int:
        return sum(len(self.by_status.get(status, [])) for status in self.KILLED)

    @property
    def total(self) -> int:
        return sum(len(names) for status, names in self.by_status.items() if status != "skipped")

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 0.0

    def not_killed(self) -> list[tuple[str, str]]:
        return sorted((name, status) for status, names in self.by_status.items()
                      if status not in (*self.KILLED, "skipped") for name in names)

    def headline(self) -> str:
        minutes, seconds = divmod(int(self.facts.get("seconds", 0)), 60)
        counts = ", ".join(f"{status} {len(names)}" for status, names in sorted(self.by_status.items()))
        return (f"{self.run.name}: killed {self.killed}/{self.total} ({self.percent:.1f} %); {counts}; "
                f"{minutes} min {seconds} s, commit {self.facts.get('commit', '?')}"
                + (" with changes" if self.facts.get("dirty") else "") + f", {self.facts.get('date', '?')}")


def read_score(run: Run) -> Score | None:
    from mutmut.stats import status_by_exit_code

    meta = run.layout / "mutants" / (run.target.layout_path + ".meta")
    if not meta.exists():
        return None
    facts_file = run.layout / "run.json"
    facts = json.loads(facts_file.read_text("utf-8")) if facts_file.exists() else {}
    by_status: dict[str, list[str]] = {}
    for name, code in json.loads(meta.read_text("utf-8"))["exit_code_by_key"].items():
        status = status_by_exit_code[code]
        if status == "not checked" and facts.get("reached") is False:
            status = "no tests"
        by_status.setdefault(status, []).append(name)
    return Score(run, by_status, facts)


def print_score(score: Score) -> None:
    print(score.headline(), flush=True)
    for name, status in score.not_killed():
        print(f"  {name}" + ("" if status == "survived" else f"  ({status})"))


def write_survivors(score: Score, folder: Path) -> None:
    """Every mutant not killed, with its diff (as ``mutmut show`` prints it), in ``folder/<run name>.txt``."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    folder.mkdir(parents=True, exist_ok=True)
    parts = [f"# {score.headline()}\n"]
    with contextlib.chdir(score.run.layout):  # mutmut reads mutants/<path> from here
        for name, status in score.not_killed():
            diff = get_diff_for_mutant(name, path=score.run.target.layout_path)
            parts.append(f"# {name}: {status}\n{diff}\n")
    (folder / f"{score.run.name}.txt").write_text("\n".join(parts), "utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--with-server", action="store_true",
                        help="add the module's tests over the reference server in process (SQLite)")
    parser.add_argument("--report-only", action="store_true", help="print the last run's figures again")
    parser.add_argument("--survivors", type=Path, metavar="DIR",
                        help="write each module's mutants not killed, with their diffs, into DIR")
    args = parser.parse_args(argv)
    targets = [find_target(word) for word in args.modules] or list(TARGETS)
    scores = []
    for target in targets:
        if args.with_server and not target.server_tests:
            print(f"{target.path}: no server tests beyond its fast ones; left out", flush=True)
            continue
        run = Run(target, args.with_server)
        if not args.report_only:
            run_mutmut(run, args.max_children)
        score = read_score(run)
        if score is None:
            print(f"{run.name}: no results (run it first)", flush=True)
            continue
        print_score(score)
        if args.survivors:
            write_survivors(score, args.survivors)
        scores.append(score)
    if len(scores) > 1:
        print("\n| module | mutants | killed | score |\n|---|---|---|---|")
        for score in scores:
            print(f"| `{score.run.name}` | {score.total} | {score.killed} | {score.percent:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
