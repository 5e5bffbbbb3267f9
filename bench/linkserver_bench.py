"""Linkage-server load benchmark: server CPU per verification, throughput and latency under many kiosks.

The server runs as its own process (``kiosk-linkserver --config FILE --workers N``) over the demo
data, on SQLite and on PostgreSQL, with 1, 2 and 4 uvicorn workers. Kiosks are threads of this
process, each with its own client ID, access token and HTTP client, doing challenge + verification
pairs over loopback with real RSA-2048 card signatures made with the test holder's key between the
two requests. Each server meets closed loads (N kiosks, each sending its next pair when the last is
answered) and a fixed offered load (by default 200 pairs/s spread over 32 kiosks, each pair sent at
its scheduled time, its latency counted from then). For every level it reports the server's CPU
time per pair, read from the server's and its workers' own CPU counters in /proc (so that this load
generator, on the same cores, does not blur it), pairs per second, and the median and 99th
percentile latency of the pair and of the verification request alone, beside the time one RSA-2048
PKCS#1 v1.5 / SHA-256 signature verification takes on this machine. After each server it checks
that nothing was lost: every verification the server accepted is stored and audited, and the audit
chain verifies. It exits non-zero if a check fails.

With ``--baseline-commit REV`` the same levels also run, interleaved, against the server of an
earlier commit (checked out into a temporary git worktree, run in this virtual environment with
only the packages that commit's lock names), and a second table gives each figure's ratio to it;
``--baseline FILE`` takes the earlier figures from a JSON report instead.

    .venv/bin/python bench/linkserver_bench.py [--duration S | --requests N] [--concurrency 1,8,32]
        [--workers 1,2,4] [--fixed-rate 200 --fixed-kiosks 32] [--backends sqlite,postgresql]
        [--postgres-url URL] [--baseline-commit REV | --baseline FILE] [--json FILE]
    .venv/bin/python bench/linkserver_bench.py --mix ...   (the counter's real mix: bench/linkserver_mix.py)

PostgreSQL comes from --postgres-url, else KIOSK_TEST_POSTGRES_URL, else scripts/postgres; each
server gets a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx2
from authlib.integrations.httpx_client import OAuth2Client
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import func, select

from kiosk.nfc.sim import TestHierarchy
from linkserver import signed_message
from linkserver.admin import check_audit
from linkserver.anchor import open_database
from linkserver.config import Limits, Settings, load_settings
from linkserver.models import AuditEntry, Verification

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.linkserver_codes import (  # noqa: E402
    NOW,
    Code,
    backend_url,
    earlier_commit,
    find_postgres,
    head_label,
    prepare_state,
)
from bench.linkserver_prepare import BENCH_LIMITS  # noqa: E402
from bench.linkserver_rows import Load, Row, print_ratios, ratios, read_baseline  # noqa: E402
from bench.server_process import (  # noqa: E402
    cpu_used,
    start_server,
    tree_cpu_seconds,
)
from tests.linkserver.helpers import (  # noqa: E402
    POSTGRES_ENV,
    b64,
    free_port,
    oauth_client,
    unb64,
)

HOLDER = "linked"
#: The claims each kiosk cycles through: the holder's own account, and two that are not theirs.
CLAIMS: tuple[tuple[str, bool], ...] = (
    ("2024000001", True), ("2024000001", True), ("2024000001", True),
    ("2024000002", False),  # an existing account linked to no card
    ("2024000001", True), ("2024000001", True), ("2024000001", True),
    ("2099999999", False),  # no such account
)
PKCS1 = padding.PKCS1v15()


# -- the machine's floor -----------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    verify_ms: float
    verify_repeat: int
    sign_ms: float


def measure_floor(key: rsa.RSAPrivateKey, repeat: int) -> Floor:
    """Median time of one RSA-2048 PKCS#1 v1.5 / SHA-256 verification (and of one signature)."""
    public = key.public_key()
    message = signed_message(os.urandom(32), "bench-kiosk-01", "2024000001")
    signature = key.sign(message, PKCS1, hashes.SHA256())
    for _ in range(min(50, repeat)):
        public.verify(signature, message, PKCS1, hashes.SHA256())
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        public.verify(signature, message, PKCS1, hashes.SHA256())
        times.append(time.perf_counter() - start)
    signing = []
    for _ in range(max(20, repeat // 20)):
        start = time.perf_counter()
        key.sign(message, PKCS1, hashes.SHA256())
        signing.append(time.perf_counter() - start)
    return Floor(statistics.median(times) * 1000, repeat, statistics.median(signing) * 1000)


# -- kiosks ------------------------------------------------------------------------------------


@dataclass
class Kiosk:
    client_id: str
    client: OAuth2Client
    key: rsa.RSAPrivateKey
    certificate_b64: str
    base: str


@dataclass
class Tally:
    """What one kiosk saw in one level."""

    pair_s: list[float] = field(default_factory=list)
    verify_s: list[float] = field(default_factory=list)
    #: verification_id -> the match the server answered
    accepted: dict[str, bool] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    wrong_answers: int = 0

    def merge(self, other: Tally) -> None:
        self.pair_s += other.pair_s
        self.verify_s += other.verify_s
        self.accepted.update(other.accepted)
        self.errors.update(other.errors)
        self.wrong_answers += other.wrong_answers


def _error_name(step: str, response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error", "") if isinstance(body, dict) else ""
    return f"{step} {response.status_code} {code}".rstrip()


def one_pair(kiosk: Kiosk, account: str, expect_match: bool, tally: Tally, timed: bool,
             late_s: float = 0.0) -> None:
    """Challenge, card signature, verification; only the two HTTP requests are timed, plus
    ``late_s``, how long after its scheduled time the pair could start (under a fixed load)."""
    try:
        start = time.perf_counter()
        challenge = kiosk.client.post(kiosk.base + "/v1/challenges")
        challenge_s = time.perf_counter() - start
        if challenge.status_code != 201:
            tally.errors[_error_name("challenge", challenge)] += 1
            return
        nonce = unb64(challenge.json()["nonce"])
        signature = kiosk.key.sign(signed_message(nonce, kiosk.client_id, account), PKCS1, hashes.SHA256())
        body = json.dumps({"account_id": account, "nonce": b64(nonce), "certificate": kiosk.certificate_b64,
                           "signature": b64(signature)}).encode("ascii")
        start = time.perf_counter()
        answer = kiosk.client.post(kiosk.base + "/v1/verifications", content=body,
                                   headers={"Content-Type": "application/json"})
        verify_s = time.perf_counter() - start
    except httpx2.HTTPError as exc:
        tally.errors[f"transport {type(exc).__name__}"] += 1
        return
    if answer.status_code != 200:
        tally.errors[_error_name("verification", answer)] += 1
        return
    outcome = answer.json()
    tally.accepted[outcome["verification_id"]] = bool(outcome["match"])
    if bool(outcome["match"]) != expect_match:
        tally.wrong_answers += 1
    if timed:
        tally.pair_s.append(late_s + challenge_s + verify_s)
        tally.verify_s.append(verify_s)


# -- one level ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Level:
    """How one level runs: how long, or how many pairs, after how many warm-up pairs per kiosk."""

    duration: float | None
    requests: int | None
    warmup: int


@dataclass
class Measured:
    """One level's timed part: its seconds, the server's CPU seconds and this process's in that
    time, and what the kiosks saw."""

    seconds: float
    server_cpu_s: float
    own_cpu_s: float
    timed: Tally


def run_level(kiosks: list[Kiosk], load: Load, level: Level, server_pid: int) -> tuple[Measured, Tally]:
    """Every kiosk does pairs at once, for the level's duration or until its pairs are done: the
    timed part, and the untimed warm-up pairs before it."""
    warm = Tally()
    for kiosk in kiosks:
        kiosk.client.fetch_token()  # a fresh token per level, so none is renewed on the clock
    for index, kiosk in enumerate(kiosks):
        for n in range(level.warmup):
            account, expect = CLAIMS[(index + n) % len(CLAIMS)]
            one_pair(kiosk, account, expect, warm, timed=False)
    tallies = [Tally() for _ in kiosks]
    barrier = threading.Barrier(len(kiosks) + 1)
    lock = threading.Lock()
    remaining = [level.requests or 0]
    clock = {"start": 0.0, "deadline": 0.0}

    def take(at: float) -> bool:
        if level.requests is None:
            return at < clock["deadline"]
        with lock:
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def work(index: int) -> None:
        kiosk, tally = kiosks[index], tallies[index]
        barrier.wait()
        n, due = index, clock["start"] + (index / load.rate if load.rate else 0.0)
        while take(due if load.rate else time.perf_counter()):
            late_s = 0.0
            if load.rate:  # the pair's turn: wait for it, or count how late it starts
                if (wait := due - time.perf_counter()) > 0:
                    time.sleep(wait)
                late_s = max(0.0, time.perf_counter() - due)
                due += len(kiosks) / load.rate
            account, expect = CLAIMS[n % len(CLAIMS)]
            try:
                one_pair(kiosk, account, expect, tally, timed=True, late_s=late_s)
            except Exception as exc:  # an answer that does not parse, say: count it, keep going
                tally.errors[f"client {type(exc).__name__}"] += 1
            n += 1

    threads = [threading.Thread(target=work, args=(i,), name=f"kiosk-{i}") for i in range(len(kiosks))]
    for thread in threads:
        thread.start()
    server_cpu, own_cpu = tree_cpu_seconds(server_pid), time.process_time()
    clock["start"] = time.perf_counter()
    clock["deadline"] = clock["start"] + (level.duration or 0.0)
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - clock["start"]
    server_s = cpu_used(server_cpu, tree_cpu_seconds(server_pid))
    own_s = time.process_time() - own_cpu
    timed = Tally()
    for tally in tallies:
        timed.merge(tally)
    return Measured(elapsed, server_s, own_s, timed), warm


def level_row(code: str, backend: str, workers: int, load: Load, measured: Measured) -> Row:
    elapsed, server_s, own_s = measured.seconds, measured.server_cpu_s, measured.own_cpu_s
    tally = measured.timed
    count = len(tally.pair_s)
    ms = [s * 1000 for s in tally.pair_s]
    vms = [s * 1000 for s in tally.verify_s]
    return Row(code, backend, workers, load.kiosks, load.rate, count, elapsed,
               count / elapsed if elapsed else 0.0,
               percentile(ms, 50), percentile(ms, 99), percentile(vms, 50), percentile(vms, 99),
               server_s * 1000 / count if count else math.nan,
               server_s / elapsed * 100, own_s / elapsed * 100,
               sum(tally.errors.values()), tally.wrong_answers, dict(tally.errors))


# -- nothing lost ------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def nothing_lost(settings: Settings, accepted: dict[str, bool], wrong_answers: int, errors: Counter[str],
                 server_exit: int, server_log: str) -> list[Check]:
    db = open_database(settings)
    try:
        with db.transaction() as session:
            stored = dict(session.execute(select(Verification.verification_id, Verification.matched)).all())
            audited: set[str] = set()
            for (details,) in session.execute(
                    select(AuditEntry.details).where(AuditEntry.event == "verification")):
                audited.add(json.loads(details).get("verification_id", ""))
            entries = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
        chain = check_audit(db)
    finally:
        db.dispose()
    missing = [v for v in accepted if v not in stored]
    changed = [v for v, match in accepted.items() if v in stored and bool(stored[v]) != match]
    unaudited = [v for v in accepted if v not in audited]
    logged_errors = [line for line in server_log.splitlines() if re.search(r"\bERROR\b|Traceback", line)]
    warnings = sum(1 for line in server_log.splitlines() if re.search(r"\bWARNING\b", line))
    n = len(accepted)
    return [
        Check("accepted verifications stored", not missing and not changed,
              f"{n - len(missing)}/{n} in the verifications table"
              + (f", {len(changed)} stored with another match" if changed else "")),
        Check("accepted verifications audited", not unaudited,
              f"{n - len(unaudited)}/{n} have a 'verification' audit entry"),
        Check("audit entries >= accepted", entries >= n, f"{entries} entries for {n} accepted verifications"),
        Check("audit chain verifies", chain.ok,
              f"intact, {chain.entries} entries" if chain.ok
              else f"BROKEN at entry {chain.broken_at}: {chain.reason}"),
        Check("answers as expected", wrong_answers == 0, f"{wrong_answers} wrong match answers"),
        Check("no failed requests", not errors,
              "none" if not errors else ", ".join(f"{k}: {v}" for k, v in sorted(errors.items()))),
        Check("server clean", server_exit == 0 and not logged_errors,
              f"exit {server_exit}, {len(logged_errors)} error and {warnings} warning lines in its log"),
    ]


# -- one server --------------------------------------------------------------------------------


@dataclass
class ServerRun:
    code: str
    backend: str
    workers: int
    rows: list[Row]
    checks: list[Check]
    command: list[str]


def run_server(code: Code, backend: str, database_url: str | None, workers: int, hierarchy: TestHierarchy,
               loads: list[Load], level: Level) -> ServerRun:
    """Start one server, put every load on it in turn, stop it and check that nothing was lost."""
    state = Path(tempfile.mkdtemp(prefix=f"kiosk-linkserver-bench-{backend}-"))
    try:
        port = free_port()
        most = max(load.kiosks for load in loads)
        config, registered = prepare_state(code, state, hierarchy.path, port, most, database_url)
        settings = load_settings(config)
        holder = hierarchy.holder(HOLDER)
        certificate_b64 = b64(holder.auth_certificate.public_bytes(Encoding.DER))
        server = start_server(config, port, state / "server.log", workers=workers, pythonpath=code.pythonpath)
        rows: list[Row] = []
        everything = Tally()
        kiosks: list[Kiosk] = []
        try:
            for client_id, key_path in registered:
                client = oauth_client(client_id, key_path, settings.token_url)
                kiosks.append(Kiosk(client_id, client, holder.auth_key, certificate_b64, server.base))
            for load in loads:
                measured, warm = run_level(kiosks[:load.kiosks], load, level, server.process.pid)
                rows.append(level_row(code.label, backend, workers, load, measured))
                everything.merge(measured.timed)
                everything.merge(warm)
                print(f"  {code.label}, {backend}, {workers} worker(s), {load.name} kiosks: "
                      f"{rows[-1].verifications} pairs", file=sys.stderr, flush=True)
        finally:
            for kiosk in kiosks:
                kiosk.client.close()
            exit_code = server.stop()
        checks = nothing_lost(settings, everything.accepted, everything.wrong_answers,
                              everything.errors, exit_code, server.log.read_text("utf-8", errors="replace"))
        return ServerRun(code.label, backend, workers, rows, checks, server.command)
    finally:
        shutil.rmtree(state, ignore_errors=True)


# -- output ------------------------------------------------------------------------------------


def print_table(rows: list[Row], floor: Floor) -> None:
    header = (f"{'code':12} {'backend':10} {'workers':>7} {'kiosks':>9} {'pairs':>6} {'pairs/s':>8} "
              f"{'pair p50':>9} {'pair p99':>9} {'verif p50':>10} {'verif p99':>10} {'srv ms/pair':>11} "
              f"{'srv CPU':>7} {'gen CPU':>7} {'errors':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.code:12} {r.backend:10} {r.workers:7d} {r.load:>9} {r.verifications:6d} "
              f"{r.per_second:8.1f} {r.pair_p50_ms:9.2f} {r.pair_p99_ms:9.2f} {r.verify_p50_ms:10.2f} "
              f"{r.verify_p99_ms:10.2f} {r.server_cpu_ms_per_pair:11.2f} {r.server_cpu_pct:6.0f}% "
              f"{r.client_cpu_pct:6.0f}% {r.errors:6d}")
    print(f"{'floor':12} {'RSA-2048 verification, one core':>53} {1000 / floor.verify_ms:8.0f}/s "
          f"{floor.verify_ms:.4f} ms")


def describe(args: argparse.Namespace, floor: Floor, loads: list[Load], baseline: str | None) -> None:
    amount = (f"{args.requests} pairs per level" if args.requests is not None
              else f"{args.duration:g} s per level")
    limits = ",\n         ".join(f"{name} = {value} (default {getattr(Limits(), name)})"
                                  for name, value in BENCH_LIMITS.items())
    cpus = os.cpu_count() or 0
    closed = ", ".join(str(load.kiosks) for load in loads if load.rate is None) or "none"
    fixed = next((load for load in loads if load.rate), None)
    offered = (f"{fixed.rate:g} pairs/s offered by {fixed.kiosks} kiosks, each sending a pair every "
               f"{fixed.kiosks / (fixed.rate or 1) * 1000:.0f} ms on its own schedule;\n"
               "         a pair's latency counts from its scheduled time, so a server that falls behind "
               "shows it" if fixed else "none")
    print(f"""Linkage-server load benchmark: {amount}, {args.warmup} untimed warm-up pair(s) per kiosk first
Server:  kiosk-linkserver --config <demo state>/linkserver.toml --host 127.0.0.1 --port <free port>
         --log-level warning --workers {args.workers}, in its own process, over the demo data prepared by
         bench/linkserver_prepare.py; CRL revocation (no network).
Limits:  {limits}
         (appended as [limits] to the demo configuration, so that no limit binds).
Loads:   closed: {closed} kiosks at once, each sending its next pair when the last is answered;
         fixed: {offered}.
Kiosks:  threads in this process, each its own registered client ID, access token (fetched before each
         level, off the clock) and keep-alive httpx2 client; loopback.
Pair:    POST /v1/challenges, then the card signature over the nonce (RSA-2048 PKCS#1 v1.5 / SHA-256 with
         the test holder "{HOLDER}"'s key, in this process), then POST /v1/verifications. Latencies time
         the HTTP requests only: client-side signing ({floor.sign_ms:.2f} ms median) is excluded.
Claims:  holder "{HOLDER}" claims 2024000001 (its account: match) 6 of 8 times, 2024000002 (an account
         not linked to it) and 2099999999 (no such account) once each; all must answer 200.
CPU:     srv ms/pair is the user + system CPU time of the server process and its workers (/proc/PID/stat)
         during the level, divided by the pairs answered; srv CPU and gen CPU are the server's and this
         load generator's CPU in % of one core.
Floor:   one RSA-2048 PKCS#1 v1.5 / SHA-256 verification with cryptography: {floor.verify_ms:.4f} ms
         (median of {floor.verify_repeat}); a verification request does at least two (the certificate's
         issuer signature and the card's).
Before:  {baseline or "none (give --baseline-commit REV or --baseline FILE)"}
Machine: {cpus} CPU(s), shared by the server, the load generator and PostgreSQL. Latencies are in ms.
""", flush=True)


def numbers(parser: argparse.ArgumentParser, option: str, text: str) -> list[int]:
    try:
        found = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        parser.error(f"{option} takes numbers separated by commas")
    if not found or min(found) < 1:
        parser.error(f"{option} needs at least one number, each 1 or more")
    return found


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[Load], list[str]]:
    """The options, the loads and the backends."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, default=15.0,
                        help="seconds of load per level (default 15)")
    amount.add_argument("--requests", type=int, help="challenge + verification pairs per level, instead")
    parser.add_argument("--concurrency", default="1,8,32",
                        help="kiosks at once, per closed level (default 1,8,32)")
    parser.add_argument("--workers", default="1,2,4", help="server workers, per server (default 1,2,4)")
    parser.add_argument("--fixed-rate", type=float, default=200.0,
                        help="pairs/s offered in the fixed level (default 200; 0 leaves the level out)")
    parser.add_argument("--fixed-kiosks", type=int, default=32,
                        help="kiosks sharing the fixed level (default 32)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="default sqlite,postgresql")
    parser.add_argument("--postgres-url", help=f"PostgreSQL base URL (default: ${POSTGRES_ENV}, "
                                                "else the one scripts/postgres prints)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed pairs per kiosk before each level")
    parser.add_argument("--floor-repeat", type=int, default=5000,
                        help="RSA verifications timed for the floor (default 5000)")
    parser.add_argument("--hierarchy", type=Path, default=Path(tempfile.gettempdir()) / "kiosk-bench-jpki",
                        help="the test JPKI hierarchy folder (created if missing)")
    before = parser.add_mutually_exclusive_group()
    before.add_argument("--baseline-commit", metavar="REV",
                        help="also run an earlier commit's server (a temporary git worktree), interleaved")
    before.add_argument("--baseline", type=Path, metavar="FILE",
                        help="a JSON report of an earlier run to compare with")
    parser.add_argument("--json", type=Path, help="also write the rows, ratios and checks as JSON here")
    args = parser.parse_args(argv)
    if args.requests is not None:
        args.duration = None
    args.worker_counts = numbers(parser, "--workers", args.workers)
    loads = [Load(kiosks) for kiosks in numbers(parser, "--concurrency", args.concurrency)]
    if args.fixed_rate < 0 or args.fixed_kiosks < 1:
        parser.error("--fixed-rate must be 0 or more and --fixed-kiosks 1 or more")
    if args.fixed_rate:
        loads.append(Load(args.fixed_kiosks, args.fixed_rate))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backend {sorted(unknown)[0]!r}: sqlite or postgresql")
    return args, loads, backends


def run_all(args: argparse.Namespace, hierarchy: TestHierarchy, loads: list[Load], backends: list[str],
            codes: list[Code]) -> tuple[list[ServerRun], list[str]]:
    """Every backend's servers, with each number of workers, each code's in turn; and a line for
    each backend skipped."""
    postgres: str | None = None
    runs: list[ServerRun] = []
    skipped: list[str] = []
    if "postgresql" in backends:
        postgres, source = find_postgres(args.postgres_url)
        if postgres is None:
            skipped.append(f"postgresql SKIPPED: no PostgreSQL ({source}); give --postgres-url or "
                           f"set {POSTGRES_ENV}")
            backends.remove("postgresql")
        else:
            print(f"PostgreSQL from {source}, a fresh schema for each server\n", flush=True)
    level = Level(args.duration, args.requests, args.warmup)
    for backend in backends:
        for workers in args.worker_counts:
            for code in codes:
                with backend_url(backend, postgres) as url:
                    runs.append(run_server(code, backend, url, workers, hierarchy, loads, level))
    return runs, skipped


def report(args: argparse.Namespace, floor: Floor, runs: list[ServerRun], skipped: list[str],
           baseline: list[Row]) -> bool:
    """Print the tables, the errors and the checks (and write the JSON when asked); True when all pass."""
    rows = [row for run in runs for row in run.rows]
    now = [row for row in rows if row.code == NOW.label]
    print_table(rows, floor)
    for row in rows:
        for kind, count in sorted(row.error_kinds.items()):
            print(f"  {row.code}, {row.backend}, {row.workers} worker(s), {row.load} kiosks: "
                  f"{count} x {kind}")
    compared = ratios(now, baseline + [row for row in rows if row.code != NOW.label])
    print_ratios(compared)
    for line in skipped:
        print(line)
    ok = True
    for run in runs:
        print(f"\nNothing lost ({run.code}, {run.backend}, {run.workers} worker(s)):")
        for check in run.checks:
            ok = ok and check.ok
            print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    print(f"\n{'all checks passed' if ok else 'SOME CHECKS FAILED'}")
    if args.json:
        args.json.write_text(json.dumps({
            "commit": head_label(), "floor": asdict(floor), "skipped": skipped,
            "runs": [{"code": r.code, "backend": r.backend, "workers": r.workers, "command": r.command,
                      "rows": [asdict(row) for row in r.rows], "checks": [asdict(c) for c in r.checks]}
                     for r in runs],
            "ratios": compared,
        }, indent=2))
    return ok


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--mix" in argv:  # the counter's real mix: bench/linkserver_mix.py
        from bench.linkserver_mix import main as mix_main

        return mix_main([arg for arg in argv if arg != "--mix"])
    args, loads, backends = parse_args(argv)
    baseline = read_baseline(args.baseline) if args.baseline else []
    hierarchy = TestHierarchy.ensure(args.hierarchy)
    floor = measure_floor(hierarchy.holder(HOLDER).auth_key, args.floor_repeat)
    with contextlib.ExitStack() as stack:
        codes = [NOW]
        if args.baseline_commit:
            codes.append(stack.enter_context(earlier_commit(args.baseline_commit)))
        before = (f"{codes[1].label} (its server, run in the same levels)" if len(codes) > 1
                  else f"{args.baseline} ({baseline[0].code})" if baseline else None)
        describe(args, floor, loads, before)
        runs, skipped = run_all(args, hierarchy, loads, backends, codes)
    return 0 if report(args, floor, runs, skipped, baseline) else 1


if __name__ == "__main__":
    sys.exit(main())
