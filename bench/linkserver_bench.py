"""Linkage-server load benchmark: verifications per second and latency under concurrent kiosks.

The server runs as its own process (``kiosk-linkserver --config FILE``, one uvicorn worker) over
the demo data, on SQLite and on PostgreSQL. Kiosks are threads of this process, each with its own
client ID, access token and HTTP client, doing challenge + verification pairs over loopback with
real RSA-2048 card signatures made with the test holder's key between the two requests. For each
number of concurrent kiosks it reports verifications per second and the median and 99th-percentile
latency of the pair and of the verification request alone, beside the time one RSA-2048 PKCS#1
v1.5 / SHA-256 signature verification takes on this machine. After each backend it checks that
nothing was lost: every verification the server accepted is stored and audited, and the audit
chain verifies. It exits non-zero if a check fails.

    .venv/bin/python bench/linkserver_bench.py [--duration S | --requests N] [--concurrency 1,8,32]
        [--backends sqlite,postgresql] [--postgres-url URL] [--json FILE]
    .venv/bin/python bench/linkserver_bench.py --mix ...   (the counter's real mix: bench/linkserver_mix.py)

PostgreSQL comes from --postgres-url, else KIOSK_TEST_POSTGRES_URL, else scripts/postgres; each run
gets a fresh schema, dropped afterwards.
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
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx2
from authlib.integrations.httpx_client import OAuth2Client
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key
from sqlalchemy import func, select

from kiosk.nfc.sim import TestHierarchy
from linkserver import signed_message
from linkserver.admin import check_audit, register_client
from linkserver.anchor import open_database
from linkserver.config import Limits, Settings
from linkserver.demo import prepare_demo
from linkserver.models import AuditEntry, Verification
from linkserver.tokens import generate_ec_private_key_pem

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.server_process import BENCH_LIMITS, start_server, write_bench_limits  # noqa: E402
from tests.linkserver.helpers import (  # noqa: E402
    POSTGRES_ENV,
    b64,
    free_port,
    oauth_client,
    postgres_from_script,
    postgres_schema,
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


def one_pair(kiosk: Kiosk, account: str, expect_match: bool, tally: Tally, timed: bool) -> None:
    """Challenge, card signature, verification; only the two HTTP requests are timed."""
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
        tally.pair_s.append(challenge_s + verify_s)
        tally.verify_s.append(verify_s)


def make_kiosks(state: Path, settings: Settings, count: int) -> list[tuple[str, Path]]:
    """Register ``count`` kiosk clients, each with its own key, before the server starts."""
    db = open_database(settings)
    kiosks = []
    try:
        for number in range(1, count + 1):
            client_id = f"bench-kiosk-{number:02d}"
            key_path = state / f"{client_id}.pem"
            pem = generate_ec_private_key_pem()
            key_path.write_bytes(pem)
            key_path.chmod(0o600)
            public = load_pem_private_key(pem, password=None).public_key().public_bytes(
                Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            register_client(db, client_id, public)
            kiosks.append((client_id, key_path))
    finally:
        db.dispose()
    return kiosks


# -- one level ---------------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    kiosks: int
    verifications: int
    seconds: float
    per_second: float
    pair_p50_ms: float
    pair_p99_ms: float
    verify_p50_ms: float
    verify_p99_ms: float
    #: CPU used by the server process and by this load generator, in % of one core
    server_cpu_pct: float
    client_cpu_pct: float
    errors: int
    wrong_answers: int
    error_kinds: dict[str, int]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), or NaN where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_level(backend: str, kiosks: list[Kiosk], duration: float | None, requests: int | None,
              warmup: int, server_pid: int) -> tuple[Row, Tally]:
    """Every kiosk does pairs at once, for ``duration`` seconds or until ``requests`` pairs are done."""
    total = Tally()
    for kiosk in kiosks:
        kiosk.client.fetch_token()  # a fresh token per level, so none is renewed on the clock
    for index, kiosk in enumerate(kiosks):
        for n in range(warmup):
            account, expect = CLAIMS[(index + n) % len(CLAIMS)]
            one_pair(kiosk, account, expect, total, timed=False)
    tallies = [Tally() for _ in kiosks]
    barrier = threading.Barrier(len(kiosks) + 1)
    lock = threading.Lock()
    remaining = [requests or 0]
    deadline = [0.0]

    def take() -> bool:
        if requests is None:
            return time.perf_counter() < deadline[0]
        with lock:
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def work(index: int) -> None:
        kiosk, tally = kiosks[index], tallies[index]
        barrier.wait()
        n = index
        while take():
            account, expect = CLAIMS[n % len(CLAIMS)]
            try:
                one_pair(kiosk, account, expect, tally, timed=True)
            except Exception as exc:  # an answer that does not parse, say: count it, keep going
                tally.errors[f"client {type(exc).__name__}"] += 1
            n += 1

    threads = [threading.Thread(target=work, args=(i,), name=f"kiosk-{i}") for i in range(len(kiosks))]
    for thread in threads:
        thread.start()
    server_cpu, own_cpu = process_cpu_seconds(server_pid), time.process_time()
    deadline[0] = time.perf_counter() + (duration or 0.0)
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    server_cpu = (process_cpu_seconds(server_pid) - server_cpu) / elapsed * 100
    own_cpu = (time.process_time() - own_cpu) / elapsed * 100
    timed = Tally()
    for tally in tallies:
        timed.merge(tally)
    total.merge(timed)
    count = len(timed.pair_s)
    ms = [s * 1000 for s in timed.pair_s]
    vms = [s * 1000 for s in timed.verify_s]
    row = Row(backend, len(kiosks), count, elapsed, count / elapsed if elapsed else 0.0,
              percentile(ms, 50), percentile(ms, 99), percentile(vms, 50), percentile(vms, 99),
              server_cpu, own_cpu, sum(timed.errors.values()), timed.wrong_answers, dict(timed.errors))
    return row, total


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


# -- one backend -------------------------------------------------------------------------------


@dataclass
class BackendRun:
    backend: str
    rows: list[Row]
    checks: list[Check]
    command: list[str]


def run_backend(backend: str, database_url: str | None, hierarchy: TestHierarchy, levels: list[int],
                duration: float | None, requests: int | None, warmup: int) -> BackendRun:
    state = Path(tempfile.mkdtemp(prefix=f"kiosk-linkserver-bench-{backend}-"))
    try:
        port = free_port()
        setup = prepare_demo(state, hierarchy.path, issuer=f"http://127.0.0.1:{port}",
                             database_url=database_url)
        write_bench_limits(setup.config_path)
        registered = make_kiosks(state, setup.settings, max(levels))
        holder = hierarchy.holder(HOLDER)
        key = holder.auth_key
        certificate_b64 = b64(holder.auth_certificate.public_bytes(Encoding.DER))
        server = start_server(setup.config_path, port, state / "server.log")
        rows: list[Row] = []
        everything = Tally()
        kiosks: list[Kiosk] = []
        try:
            for client_id, key_path in registered:
                client = oauth_client(client_id, key_path, setup.settings.token_url)
                kiosks.append(Kiosk(client_id, client, key, certificate_b64, server.base))
            for level in levels:
                row, tally = run_level(backend, kiosks[:level], duration, requests, warmup,
                                       server.process.pid)
                rows.append(row)
                everything.merge(tally)
                print(f"  {backend}: {level} kiosks done, {row.verifications} verifications", file=sys.stderr,
                      flush=True)
        finally:
            for kiosk in kiosks:
                kiosk.client.close()
            exit_code = server.stop()
        checks = nothing_lost(setup.settings, everything.accepted, everything.wrong_answers,
                              everything.errors, exit_code, server.log.read_text("utf-8", errors="replace"))
        return BackendRun(backend, rows, checks, server.command)
    finally:
        shutil.rmtree(state, ignore_errors=True)


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


# -- output ------------------------------------------------------------------------------------


def print_table(rows: list[Row], floor: Floor) -> None:
    header = (f"{'backend':10} {'kiosks':>6} {'verifs':>7} {'verif/s':>8} {'pair p50':>9} {'pair p99':>9} "
              f"{'verif p50':>10} {'verif p99':>10} {'p50/floor':>9} {'srv CPU':>7} {'gen CPU':>7} "
              f"{'errors':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.backend:10} {r.kiosks:6d} {r.verifications:7d} {r.per_second:8.1f} {r.pair_p50_ms:9.2f} "
              f"{r.pair_p99_ms:9.2f} {r.verify_p50_ms:10.2f} {r.verify_p99_ms:10.2f} "
              f"{r.verify_p50_ms / floor.verify_ms:8.0f}x {r.server_cpu_pct:6.0f}% {r.client_cpu_pct:6.0f}% "
              f"{r.errors:6d}")
    print(f"{'floor':10} {'':>6} {'':>7} {1000 / floor.verify_ms:8.0f} {'':>9} {'':>9} "
          f"{floor.verify_ms:10.4f} {'':>10} {'1x':>9}")


def describe(args: argparse.Namespace, floor: Floor, levels: list[int]) -> None:
    amount = (f"{args.requests} pairs per level" if args.requests is not None
              else f"{args.duration:g} s per level")
    limits = ",\n         ".join(f"{name} = {value} (default {getattr(Limits(), name)})"
                                  for name, value in BENCH_LIMITS.items())
    cpus = os.cpu_count() or 0
    print(f"""Linkage-server load benchmark: {amount}, {args.warmup} untimed warm-up pair(s) per kiosk first
Server:  kiosk-linkserver --config <demo state>/linkserver.toml --host 127.0.0.1 --port <free port>
         --log-level warning, in its own process (one uvicorn worker, handlers on its thread pool),
         over the demo data prepared by linkserver.demo.prepare_demo; CRL revocation (no network).
Limits:  {limits}
         (appended as [limits] to the demo configuration, so that no limit binds).
Kiosks:  up to {max(levels)} threads in this process, one per kiosk, each its own registered client ID,
         access token (fetched before each level, off the clock) and keep-alive httpx2 client; loopback.
Pair:    POST /v1/challenges, then the card signature over the nonce (RSA-2048 PKCS#1 v1.5 / SHA-256 with
         the test holder "{HOLDER}"'s key, in this process), then POST /v1/verifications. Latencies time
         the HTTP requests only: client-side signing ({floor.sign_ms:.2f} ms median) is excluded.
Claims:  holder "{HOLDER}" claims 2024000001 (its account: match) 6 of 8 times, 2024000002 (an account
         not linked to it) and 2099999999 (no such account) once each; all must answer 200.
Floor:   one RSA-2048 PKCS#1 v1.5 / SHA-256 verification with cryptography: {floor.verify_ms:.4f} ms
         (median of {floor.verify_repeat}); a verification request does at least two (the certificate's
         issuer signature and the card's). The floor row's verif/s is 1 / that time, on one core.
Machine: {cpus} CPU(s), shared by the server and the load generator (and PostgreSQL). Latencies are
         in ms; srv CPU and gen CPU are the CPU time of the server process and of this load generator
         during the level, in % of one core.
""", flush=True)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[int], list[str]]:
    """The options, the concurrency levels and the backends."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, default=15.0,
                        help="seconds of load per concurrency level (default 15)")
    amount.add_argument("--requests", type=int, help="challenge + verification pairs per level, instead")
    parser.add_argument("--concurrency", default="1,8,32", help="kiosks at once, per level (default 1,8,32)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="default sqlite,postgresql")
    parser.add_argument("--postgres-url", help=f"PostgreSQL base URL (default: ${POSTGRES_ENV}, "
                                                "else the one scripts/postgres prints)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed pairs per kiosk before each level")
    parser.add_argument("--floor-repeat", type=int, default=5000,
                        help="RSA verifications timed for the floor (default 5000)")
    parser.add_argument("--hierarchy", type=Path, default=Path(tempfile.gettempdir()) / "kiosk-bench-jpki",
                        help="the test JPKI hierarchy folder (created if missing)")
    parser.add_argument("--json", type=Path, help="also write the rows and checks as JSON here")
    args = parser.parse_args(argv)
    if args.requests is not None:
        args.duration = None
    try:
        levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
    except ValueError:
        parser.error("--concurrency takes numbers separated by commas")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not levels or min(levels) < 1:
        parser.error("--concurrency needs at least one level of 1 or more kiosks")
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backend {sorted(unknown)[0]!r}: sqlite or postgresql")
    return args, levels, backends


def run_backends(args: argparse.Namespace, hierarchy: TestHierarchy, levels: list[int],
                 backends: list[str]) -> tuple[list[BackendRun], list[str]]:
    """Every backend's run, and a line for each backend skipped."""
    postgres: str | None = None
    runs: list[BackendRun] = []
    skipped: list[str] = []
    if "postgresql" in backends:
        postgres, source = find_postgres(args.postgres_url)
        if postgres is None:
            skipped.append(f"postgresql SKIPPED: no PostgreSQL ({source}); give --postgres-url or "
                           f"set {POSTGRES_ENV}")
            backends.remove("postgresql")
        else:
            print(f"PostgreSQL from {source}, a fresh schema for the run\n", flush=True)
    for backend in backends:
        with backend_url(backend, postgres) as url:
            runs.append(run_backend(backend, url, hierarchy, levels, args.duration, args.requests,
                                    args.warmup))
    return runs, skipped


def report(args: argparse.Namespace, floor: Floor, runs: list[BackendRun], skipped: list[str]) -> bool:
    """Print the table, the errors and the checks (and write the JSON when asked); True when all pass."""
    print_table([row for run in runs for row in run.rows], floor)
    for run in runs:
        for row in run.rows:
            for kind, count in sorted(row.error_kinds.items()):
                print(f"  {run.backend}, {row.kiosks} kiosks: {count} x {kind}")
    for line in skipped:
        print(line)
    ok = True
    for run in runs:
        print(f"\nNothing lost ({run.backend}):")
        for check in run.checks:
            ok = ok and check.ok
            print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    print(f"\n{'all checks passed' if ok else 'SOME CHECKS FAILED'}")
    if args.json:
        args.json.write_text(json.dumps({
            "floor": asdict(floor), "skipped": skipped,
            "runs": [{"backend": r.backend, "rows": [asdict(row) for row in r.rows],
                      "checks": [asdict(c) for c in r.checks]} for r in runs],
        }, indent=2))
    return ok


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--mix" in argv:  # the counter's real mix: bench/linkserver_mix.py
        from bench.linkserver_mix import main as mix_main

        return mix_main([arg for arg in argv if arg != "--mix"])
    args, levels, backends = parse_args(argv)
    hierarchy = TestHierarchy.ensure(args.hierarchy)
    floor = measure_floor(hierarchy.holder(HOLDER).auth_key, args.floor_repeat)
    describe(args, floor, levels)
    runs, skipped = run_backends(args, hierarchy, levels, backends)
    return 0 if report(args, floor, runs, skipped) else 1


if __name__ == "__main__":
    sys.exit(main())
