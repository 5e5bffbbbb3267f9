"""Linkage-server load benchmark with a counter's real mix, not only verification pairs.

Each kiosk loops: a challenge and a verification with a genuine card signature, then most often a
``link_status`` operation (and its keep-alive), sometimes a password reset (approved by a staff
client, then the new password set) or an MFA reset (approved), and now and then a replay of the
verification just sent (refused: its nonce is spent). Every kiosk claims the same account, so the
staff approvals and the password sets meet on one row. For each backend, number of server
workers and number of kiosks it reports the 5xx count (which must be 0), p50, p95 and p99 per
endpoint, pairs per second, and the server's RSS (all its processes) at the start and the end;
after each server it checks that the audit chain verifies. It exits non-zero if a check fails.

    .venv/bin/python bench/linkserver_bench.py --mix [--duration S | --rounds N] [--concurrency 8,32]
        [--workers 1,2] [--backends sqlite,postgresql] [--postgres-url URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx2
from authlib.integrations.httpx_client import OAuth2Client
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from bench.linkserver_bench import HOLDER, PKCS1, Kiosk, _error_name, percentile
from bench.linkserver_codes import backend_url, find_postgres
from bench.linkserver_prepare import make_kiosks, write_bench_limits
from bench.server_process import start_server, tree_rss_mb
from kiosk.nfc.sim import TestHierarchy
from linkserver import signed_message
from linkserver.admin import check_audit
from linkserver.anchor import open_database
from linkserver.demo import prepare_demo
from tests.linkserver.helpers import b64, free_port, oauth_client, unb64

ACCOUNT = "2024000001"  # the holder's own account: every kiosk's operations meet on its row
#: What a kiosk does after its verification, and how often (out of 100).
MIX = (("link_status", 70), ("password_reset", 12), ("mfa_reset", 10), ("replay", 8))
ENDPOINTS = ("challenge", "verification", "operation", "keepalive", "decision", "password")


@dataclass
class MixTally:
    """What the kiosks saw in one level."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server_errors: Counter[str] = field(default_factory=Counter)
    wrong: Counter[str] = field(default_factory=Counter)
    pairs: int = 0
    requests: int = 0

    def merge(self, other: MixTally) -> None:
        for name, values in other.latencies.items():
            self.latencies[name] += values
        self.server_errors.update(other.server_errors)
        self.wrong.update(other.wrong)
        self.pairs += other.pairs
        self.requests += other.requests


@dataclass
class MixKiosk:
    kiosk: Kiosk
    staff: OAuth2Client
    rng: random.Random
    rounds: int = 0


def call(tally: MixTally, endpoint: str, expected: int,
         request: Callable[[], httpx2.Response]) -> httpx2.Response | None:
    """One timed request; a 5xx or any other unexpected answer is counted, and None returned."""
    start = time.perf_counter()
    try:
        response = request()
    except httpx2.HTTPError as exc:
        tally.wrong[f"{endpoint} transport {type(exc).__name__}"] += 1
        return None
    tally.latencies[endpoint].append(time.perf_counter() - start)
    tally.requests += 1
    if response.status_code >= 500:
        tally.server_errors[_error_name(endpoint, response)] += 1
        return None
    if response.status_code != expected:
        tally.wrong[_error_name(endpoint, response)] += 1
        return None
    return response


def verification(mix: MixKiosk, tally: MixTally) -> tuple[str, bytes] | None:
    """A challenge and a verification with the card's signature: its ID and the body sent."""
    kiosk = mix.kiosk
    challenge = call(tally, "challenge", 201, lambda: kiosk.client.post(kiosk.base + "/v1/challenges"))
    if challenge is None:
        return None
    nonce = unb64(challenge.json()["nonce"])
    signature = kiosk.key.sign(signed_message(nonce, kiosk.client_id, ACCOUNT), PKCS1, hashes.SHA256())
    body = json.dumps({"account_id": ACCOUNT, "nonce": b64(nonce), "certificate": kiosk.certificate_b64,
                       "signature": b64(signature)}).encode("ascii")
    answer = call(tally, "verification", 200, lambda: kiosk.client.post(
        kiosk.base + "/v1/verifications", content=body, headers={"Content-Type": "application/json"}))
    if answer is None:
        return None
    tally.pairs += 1
    return str(answer.json()["verification_id"]), body


def one_round(mix: MixKiosk, tally: MixTally) -> None:
    """A verification and what follows it at the counter."""
    kiosk, base = mix.kiosk, mix.kiosk.base
    mix.rounds += 1
    got = verification(mix, tally)
    if got is None:
        return
    verification_id, body = got
    kind = mix.rng.choices([name for name, _ in MIX], [weight for _, weight in MIX])[0]
    if kind == "replay":
        call(tally, "verification", 403, lambda: kiosk.client.post(
            base + "/v1/verifications", content=body, headers={"Content-Type": "application/json"}))
        return
    created = call(tally, "operation", 201, lambda: kiosk.client.post(
        base + "/v1/operations", json={"kind": kind, "verification_id": verification_id, "params": {}},
        headers={"Idempotency-Key": uuid.uuid4().hex}))
    if created is None:
        return
    op, session_key = created.json()["operation_id"], created.json()["session_key"]
    if kind == "link_status":
        call(tally, "keepalive", 200, lambda: kiosk.client.post(
            f"{base}/v1/operations/{op}/keepalive", headers={"Session-Key": session_key}))
        return
    decided = call(tally, "decision", 200, lambda: mix.staff.post(
        f"{base}/v1/staff/operations/{op}/decision", json={"approve": True, "staff_id": "yamada.t"}))
    if decided is not None and kind == "password_reset":
        password = f"Sakura-{kiosk.client_id[-2:]}-{mix.rounds:06d}-spring"
        call(tally, "password", 200, lambda: kiosk.client.post(
            f"{base}/v1/operations/{op}/password", json={"new_password": password},
            headers={"Session-Key": session_key}))


@dataclass
class MixRow:
    backend: str
    workers: int
    kiosks: int
    seconds: float
    requests: int
    pairs_per_s: float
    server_errors: int
    wrong_answers: int
    rss_start_mb: float
    rss_end_mb: float
    #: endpoint -> [p50, p95, p99] in milliseconds
    latency_ms: dict[str, list[float]]
    error_kinds: dict[str, int]


def run_level(backend: str, workers: int, mixes: list[MixKiosk], duration: float | None, rounds: int | None,
              pid: int) -> MixRow:
    """Every kiosk looping for ``duration`` seconds, or for ``rounds`` rounds each."""
    tallies = [MixTally() for _ in mixes]
    stop = threading.Event()
    rss_start = tree_rss_mb(pid)

    def work(index: int) -> None:
        done = 0
        while not stop.is_set() and (rounds is None or done < rounds):
            one_round(mixes[index], tallies[index])
            done += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(mixes))]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    if duration is not None:
        stop.wait(duration)
        stop.set()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    total = MixTally()
    for tally in tallies:
        total.merge(tally)
    latency = {name: [round(percentile(total.latencies[name], p) * 1000, 1) for p in (50, 95, 99)]
               for name in ENDPOINTS if total.latencies.get(name)}
    return MixRow(backend, workers, len(mixes), round(seconds, 1), total.requests,
                  round(total.pairs / seconds, 1), sum(total.server_errors.values()),
                  sum(total.wrong.values()),
                  round(rss_start, 1), round(tree_rss_mb(pid), 1), latency,
                  dict(total.server_errors + total.wrong))


def run_server(backend: str, url: str | None, workers: int, hierarchy: TestHierarchy,
               args: argparse.Namespace) -> tuple[list[MixRow], bool]:
    """One server (a fresh demo state) through every level; its rows and whether its chain verifies."""
    state = Path(tempfile.mkdtemp(prefix=f"kiosk-linkserver-mix-{backend}-"))
    try:
        port = free_port()
        setup = prepare_demo(state, hierarchy.path, issuer=f"http://127.0.0.1:{port}", database_url=url)
        write_bench_limits(setup.config_path)
        registered = make_kiosks(state, setup.settings, max(args.levels))
        holder = hierarchy.holder(HOLDER)
        certificate = b64(holder.auth_certificate.public_bytes(Encoding.DER))
        server = start_server(setup.config_path, port, state / "server.log", workers=workers)
        rows: list[MixRow] = []
        try:
            mixes = [MixKiosk(Kiosk(client_id, oauth_client(client_id, key_path, setup.settings.token_url),
                                    holder.auth_key, certificate, server.base),
                              oauth_client(setup.staff_id, setup.staff_key_path, setup.settings.token_url),
                              random.Random(n))
                     for n, (client_id, key_path) in enumerate(registered)]
            for level in args.levels:
                rows.append(run_level(backend, workers, mixes[:level], args.duration, args.rounds,
                                      server.process.pid))
                print(f"  {backend}, {workers} worker(s): {level} kiosks done", file=sys.stderr, flush=True)
        finally:
            server.stop()
        db = open_database(setup.settings)
        try:
            chain_ok = check_audit(db).ok
        finally:
            db.dispose()
        return rows, chain_ok
    finally:
        shutil.rmtree(state, ignore_errors=True)


def print_rows(rows: list[MixRow]) -> None:
    print(f"{'backend':10} {'workers':>7} {'kiosks':>6} {'requests':>8} {'pairs/s':>8} {'5xx':>4} "
          f"{'wrong':>5} {'RSS start':>9} {'RSS end':>8}  p50/p95/p99 ms per endpoint")
    for row in rows:
        spread = "  ".join(f"{name} {'/'.join(f'{v:g}' for v in values)}"
                           for name, values in row.latency_ms.items())
        print(f"{row.backend:10} {row.workers:>7} {row.kiosks:>6} {row.requests:>8} {row.pairs_per_s:>8} "
              f"{row.server_errors:>4} {row.wrong_answers:>5} {row.rss_start_mb:>8}M {row.rss_end_mb:>7}M  "
              f"{spread}")
        for kind, count in sorted(row.error_kinds.items()):
            print(f"    {count} x {kind}")


def _numbers(parser: argparse.ArgumentParser, option: str, text: str) -> list[int]:
    """A comma-separated list of counts of 1 or more."""
    try:
        numbers = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        parser.error(f"{option} takes numbers separated by commas")
    if not numbers or min(numbers) < 1:
        parser.error(f"{option} needs numbers of 1 or more")
    return numbers


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="linkserver_bench.py --mix", description=__doc__.splitlines()[0])
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, default=20.0, help="seconds per level (default 20)")
    amount.add_argument("--rounds", type=int, help="rounds per kiosk per level, instead")
    parser.add_argument("--concurrency", default="8,32", help="kiosks at once, per level (default 8,32)")
    parser.add_argument("--workers", default="1,2", help="server workers, per server (default 1,2)")
    parser.add_argument("--json", type=Path, help="also write the rows and checks as JSON here")
    parser.add_argument("--hierarchy", type=Path, default=Path(tempfile.gettempdir()) / "kiosk-bench-jpki",
                        help="the test JPKI hierarchy folder (created if missing)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="default sqlite,postgresql")
    parser.add_argument("--postgres-url", help="PostgreSQL base URL (as for the pairs bench)")
    args = parser.parse_args(argv)
    args.levels = _numbers(parser, "--concurrency", args.concurrency)
    args.worker_counts = _numbers(parser, "--workers", args.workers)
    if args.rounds is not None:
        args.duration = None
    args.backend_list = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(args.backend_list) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backend {sorted(unknown)[0]!r}: sqlite or postgresql")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    hierarchy = TestHierarchy.ensure(args.hierarchy)
    postgres: str | None = None
    if "postgresql" in args.backend_list:
        postgres, source = find_postgres(args.postgres_url)
        if postgres is None:
            print(f"postgresql SKIPPED: no PostgreSQL ({source})")
            args.backend_list.remove("postgresql")
    rows: list[MixRow] = []
    chains: dict[str, bool] = {}
    for backend in args.backend_list:
        for workers in args.worker_counts:
            with backend_url(backend, postgres) as url:
                found, ok = run_server(backend, url, workers, hierarchy, args)
            chains[f"{backend}, {workers} worker(s)"] = ok
            rows += found
    print_rows(rows)
    no_5xx = all(row.server_errors == 0 for row in rows)
    print(f"\n{'ok  ' if no_5xx else 'FAIL'} no 5xx: {sum(row.server_errors for row in rows)} in all")
    for name, ok in chains.items():
        print(f"{'ok  ' if ok else 'FAIL'} the audit chain verifies ({name})")
    if args.json:
        args.json.write_text(json.dumps({"rows": [asdict(row) for row in rows], "chains": chains}, indent=2))
    return 0 if no_5xx and all(chains.values()) else 1
