"""Kiosk-side benchmark: card placed to PIN ready, and PIN to result, each beside its floor.

The demo linkage server runs in its own process on loopback (``kiosk-linkserver --config FILE``,
SQLite), and the kiosk's own services (``KioskCore``, built from a kiosk configuration) verify the
simulated card of the test holder against it, with the card's latency model, over ``--repeat``
sessions, each with a fresh card and a new claim of the holder's account. Two steps are timed:

  A  card placed -> PIN can be submitted: ``VerificationSession.prepare()`` (the certificate and the
     PIN's tries left read on the card while the server's challenge is fetched at the same time);
     its floor is max(the card's reads alone, one challenge round trip alone).
  B  PIN submitted -> result: ``VerificationSession.submit(pin)`` (VERIFY, SIGN, one verification
     request); its floor is the card's VERIFY + SIGN alone plus one verification round trip alone
     (a signature made beforehand with the holder's key).

Each floor part is measured on its own in every session, and the kiosk's overhead is the measured
time minus the floor, in ms and in % of the floor. APDUs of each step are counted on the card,
beside the fewest any reader of the card could send, and those of the whole session (A and B)
in the card's APDU log. Then the linkage client's ways out (``bench/kiosk_bench_exits.py``): a
closed port, a silent server, a cancelled wait for staff, each timed until its error. It exits
non-zero if a session fails.

    .venv/bin/python bench/kiosk_bench.py [--repeat N] [--warmup N] [--latency none|typical|both]
        [--transport inprocess|pcscd] [--hierarchy DIR] [--json FILE]

``--transport pcscd`` puts each card behind a real pcscd and the vpcd reader driver instead (it
starts a private pcscd of its own, beside any other).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.config import load_config
from kiosk.linkage import signed_message
from kiosk.nfc import CardConnection, JpkiSession, TimedConnection
from kiosk.nfc.sim import CardProfile, LatencyModel, SimulatedCard, TestHierarchy
from kiosk.nfc.sim.faults import TYPICAL_NFC
from kiosk.services.core import KioskCore
from linkserver.demo import DemoSetup, prepare_demo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.card_bench import minimum_apdus  # noqa: E402
from bench.kiosk_bench_exits import ExitRow, measure_exits, print_exits  # noqa: E402
from bench.linkserver_bench import percentile  # noqa: E402
from bench.server_process import BENCH_LIMITS, ServerProcess, start_server, write_bench_limits  # noqa: E402
from tests.linkserver.helpers import free_port  # noqa: E402

HOLDER = "linked"
#: The holder's own account: every verification must answer "match".
ACCOUNT = "2024000001"
BENCH_READER = "Kiosk Bench PCD"
LATENCIES: dict[str, LatencyModel] = {"none": LatencyModel(), "typical NFC": TYPICAL_NFC}
LATENCY_CHOICES = {"none": ("none",), "typical": ("typical NFC",), "both": ("none", "typical NFC")}
PKCS1 = padding.PKCS1v15()
T = TypeVar("T")

#: The timed parts of one session: the kiosk's two steps, then the floor's parts, each on its own.
PREPARE, SUBMIT = "prepare", "submit"
#: The card's part of a whole session (prepare and submit), counted in the card's APDU log.
WHOLE = "whole session"
CARD_READS, CHALLENGE = "card reads", "challenge"
CARD_VERIFY, CARD_SIGN, VERIFICATION = "card VERIFY", "card SIGN", "verification"
PARTS = (PREPARE, SUBMIT, CARD_READS, CHALLENGE, CARD_VERIFY, CARD_SIGN, VERIFICATION)
PART_TEXT = {
    CARD_READS: "card: SELECT AP, auth certificate, PIN tries left (JpkiSession)",
    CHALLENGE: "server: one challenge round trip (LinkageClient.challenge)",
    CARD_VERIFY: "card: VERIFY with the PIN (JpkiSession.verify_pin)",
    CARD_SIGN: "card: SIGN the protocol message (JpkiSession.sign_sha256)",
    VERIFICATION: "server: one verification round trip (LinkageClient.verify)",
}
STEP_A = "A card placed -> PIN ready"
STEP_B = "B PIN submitted -> result"

#: A card put on the reader: a connection to it for the ``with`` block, then it is taken off.
Placer = Callable[[SimulatedCard], AbstractContextManager[CardConnection]]


class SessionFailed(Exception):
    """A session that did not end as it must (an error, or an answer other than the expected one)."""


# -- transports ---------------------------------------------------------------------------------


@contextmanager
def in_process(timeout: float) -> Iterator[Placer]:
    """The card in this process, behind the kiosk's card thread (``TimedConnection``)."""

    @contextmanager
    def place(card: SimulatedCard) -> Iterator[CardConnection]:
        connection = TimedConnection(card, timeout=timeout)
        try:
            yield connection
        finally:
            connection.close()

    yield place


@contextmanager
def through_pcscd(timeout: float) -> Iterator[Placer]:
    """Each card behind real pcscd and vpcd, read with pyscard (``PcscConnection``)."""
    from kiosk.nfc.pcsc import PcscConnection, wait_for_card
    from kiosk.nfc.sim.pcscd import PcscdProcess
    from kiosk.nfc.sim.vpcd import VpcdBridge

    with PcscdProcess(port=None, name=BENCH_READER) as pcscd:
        reader = pcscd.readers[0]

        @contextmanager
        def place(card: SimulatedCard) -> Iterator[CardConnection]:
            bridge = VpcdBridge(card, port=pcscd.port)
            bridge.insert()
            try:
                if not wait_for_card(reader, timeout=10):
                    raise RuntimeError("pcscd did not see the simulated card")
                with PcscConnection(reader, timeout=timeout) as connection:
                    yield connection
            finally:
                bridge.remove()
                wait_for_card(reader, present=False, timeout=10)

        yield place


TRANSPORTS: dict[str, Callable[[float], AbstractContextManager[Placer]]] = {
    "inprocess": in_process, "pcscd": through_pcscd}
TRANSPORT_TEXT = {
    "inprocess": "the simulated card in this process, behind the kiosk's card thread (TimedConnection)",
    "pcscd": f"each simulated card behind a real pcscd (a private one, reader "
             f"\"{BENCH_READER} 00 00\") through VpcdBridge, read with pyscard (PcscConnection)",
}


# -- the kiosk ------------------------------------------------------------------------------------


def write_kiosk_config(folder: Path, setup: DemoSetup, hierarchy: TestHierarchy, url: str) -> Path:
    """A kiosk configuration for the demo's kiosk client; every other setting is its default."""
    anchors = ", ".join(json.dumps(str(p)) for p in hierarchy.trust_anchor_paths())
    crls = ", ".join(json.dumps(str(p)) for p in sorted(setup.config_path.parent.glob("auth-*.crl")))
    config = folder / "kiosk.toml"
    config.write_text(f"""[kiosk]
id = {json.dumps(setup.kiosk_id)}
key_file = {json.dumps(str(setup.kiosk_key_path))}
data_dir = {json.dumps(str(folder / "kiosk-data"))}

[server]
url = {json.dumps(url)}

[offline]
trust_anchors = [{anchors}]
crl_files = [{crls}]
""", "utf-8")
    return config


# -- one session ------------------------------------------------------------------------------------


@dataclass
class Session:
    """What one session measured: seconds and APDUs of each part."""

    seconds: dict[str, float] = field(default_factory=dict)
    apdus: dict[str, int] = field(default_factory=dict)


class Bench:
    """The parts of a session, against one kiosk core and one holder."""

    def __init__(self, core: KioskCore, hierarchy: TestHierarchy, place: Placer) -> None:
        self.core = core
        self.place = place
        self.holder = hierarchy.holder(HOLDER)
        self.profile = CardProfile.from_holder(hierarchy, HOLDER)
        self.certificate = self.holder.auth_certificate.public_bytes(Encoding.DER)
        self.kiosk_id = core.settings.kiosk_id

    def card(self, model: LatencyModel) -> SimulatedCard:
        """A fresh card: full PIN counters, nothing selected."""
        return SimulatedCard(self.profile, latency=model)

    @staticmethod
    def timed(session: Session, part: str, fn: Callable[[], T], card: SimulatedCard | None = None) -> T:
        before = len(card.commands) if card is not None else 0
        start = time.perf_counter()
        result = fn()
        session.seconds[part] = time.perf_counter() - start
        if card is not None:
            session.apdus[part] = len(card.commands) - before
        return result

    def run(self, model: LatencyModel) -> Session:
        session = Session()
        self.server_floor(session)
        self.card_floor(session, model)
        self.kiosk(session, model)
        return session

    def server_floor(self, session: Session) -> None:
        """One verification round trip alone, then one challenge round trip alone.

        The first challenge is off the clock, so an access token near its end is renewed there.
        """
        linkage = self.core.linkage
        nonce = linkage.challenge().nonce
        signature = self.holder.auth_key.sign(signed_message(nonce, self.kiosk_id, ACCOUNT), PKCS1,
                                              hashes.SHA256())
        answer = self.timed(session, VERIFICATION,
                            lambda: linkage.verify(ACCOUNT, nonce, self.certificate, signature))
        if answer.match is not True:
            raise SessionFailed("the verification alone answered no match for the holder's own account")
        self.timed(session, CHALLENGE, linkage.challenge)

    def card_floor(self, session: Session, model: LatencyModel) -> None:
        """The card's reads, VERIFY and SIGN with no kiosk around them, on a fresh card."""
        card = self.card(model)
        message = signed_message(os.urandom(32), self.kiosk_id, ACCOUNT)
        with self.place(card) as connection:
            def read() -> JpkiSession:
                jpki = JpkiSession(connection)
                jpki.auth_certificate()
                jpki.pin_tries_left()
                return jpki

            jpki = self.timed(session, CARD_READS, read, card)
            self.timed(session, CARD_VERIFY, lambda: jpki.verify_pin(self.profile.pin), card)
            self.timed(session, CARD_SIGN, lambda: jpki.sign_sha256(message), card)

    def kiosk(self, session: Session, model: LatencyModel) -> None:
        """The kiosk's verification of a fresh card for a new claim of the holder's account."""
        card = self.card(model)
        log: list[str] = []
        card.apdu_log = log.append  # each command as "> ...", each answer as "< ..."
        with self.place(card) as connection:
            verification = self.core.verification(connection, ACCOUNT)
            ready = self.timed(session, PREPARE, verification.prepare, card)
            if not ready.online or ready.expired or ready.tries_left != self.profile.pin_tries:
                raise SessionFailed(f"card not ready as expected: online={ready.online}, "
                                    f"expired={ready.expired}, tries_left={ready.tries_left}")
            pin = bytearray(self.profile.pin.encode("ascii"))
            result = self.timed(session, SUBMIT, lambda: verification.submit(pin), card)
            if not result.online or result.match is not True:
                raise SessionFailed(f"the kiosk answered online={result.online}, match={result.match}")
            if any(pin):
                raise SessionFailed("the PIN buffer was not wiped")
        session.apdus[WHOLE] = sum(line.startswith("> ") for line in log)


def failure_text(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}" + (f" {code}" if code else "") + f": {exc}"


# -- figures ---------------------------------------------------------------------------------------


@dataclass
class StepRow:
    latency: str
    step: str
    sessions: int
    apdus_min: int
    apdus_max: int
    minimum: int
    median_ms: float
    p90_ms: float
    floor_median_ms: float
    floor_p90_ms: float
    #: median - floor median, and the same in % of the floor median
    overhead_ms: float
    overhead_pct: float
    #: p90 - floor p90
    overhead_p90_ms: float


@dataclass
class PartRow:
    latency: str
    part: str
    description: str
    apdus_min: int | None
    apdus_max: int | None
    minimum: int | None
    median_ms: float
    p90_ms: float


@dataclass
class WholeRow:
    """The APDUs of whole sessions, from the card's APDU log, beside the fewest a reader could send."""

    latency: str
    sessions: int
    apdus_min: int
    apdus_max: int
    minimum: int


@dataclass
class LatencyRun:
    latency: str
    sessions: list[Session]
    failures: Counter[str]


def stats(values: list[float]) -> tuple[float, float]:
    """Median and 90th percentile (nearest rank), in ms."""
    ms = [v * 1000 for v in values]
    return statistics.median(ms), percentile(ms, 90)


def figures(run: LatencyRun, cert_length: int) -> tuple[list[StepRow], list[PartRow]]:
    if not run.sessions:
        return [], []
    minimum = {name: minimum_apdus(name, cert_length, extended=True)
               for name in ("certificate", "tries left", "verify", "sign")}
    minimum_parts = {CARD_READS: minimum["certificate"] + minimum["tries left"],
                     CARD_VERIFY: minimum["verify"], CARD_SIGN: minimum["sign"]}

    def seconds(part: str) -> list[float]:
        return [s.seconds[part] for s in run.sessions]

    def apdus(part: str) -> tuple[int, int]:
        counts = [s.apdus[part] for s in run.sessions]
        return min(counts), max(counts)

    # Each session's own floor, from the parts measured alone in that session.
    floor_a = [max(s.seconds[CARD_READS], s.seconds[CHALLENGE]) for s in run.sessions]
    floor_b = [s.seconds[CARD_VERIFY] + s.seconds[CARD_SIGN] + s.seconds[VERIFICATION] for s in run.sessions]
    steps = []
    for step, part, floor, least in (
            (STEP_A, PREPARE, floor_a, minimum_parts[CARD_READS]),
            (STEP_B, SUBMIT, floor_b, minimum_parts[CARD_VERIFY] + minimum_parts[CARD_SIGN])):
        median, p90 = stats(seconds(part))
        floor_median, floor_p90 = stats(floor)
        low, high = apdus(part)
        steps.append(StepRow(run.latency, step, len(run.sessions), low, high, least, median, p90,
                             floor_median, floor_p90, median - floor_median,
                             (median - floor_median) / floor_median * 100, p90 - floor_p90))
    parts = []
    for part in (CARD_READS, CHALLENGE, CARD_VERIFY, CARD_SIGN, VERIFICATION):
        median, p90 = stats(seconds(part))
        low_high: tuple[int | None, int | None] = apdus(part) if part in minimum_parts else (None, None)
        parts.append(PartRow(run.latency, part, PART_TEXT[part], *low_high, minimum_parts.get(part),
                             median, p90))
    return steps, parts


def whole_row(run: LatencyRun, cert_length: int) -> WholeRow | None:
    """The card's APDUs over whole sessions; the fewest: the certificate, tries left, VERIFY, SIGN."""
    if not run.sessions:
        return None
    counts = [s.apdus[WHOLE] for s in run.sessions]
    least = sum(minimum_apdus(name, cert_length, extended=True)
                for name in ("certificate", "tries left", "verify", "sign"))
    return WholeRow(run.latency, len(run.sessions), min(counts), max(counts), least)


def print_whole(rows: list[WholeRow]) -> None:
    print("\nThe card's part of a whole session (card placed -> result), from the card's APDU log:\n")
    header = f"{'latency':12} {'':13} {'sessions':>8} {'APDUs':>5} {'min':>4}  what"
    print(header)
    print("-" * (len(header) + 60))
    for r in rows:
        print(f"{r.latency:12} {WHOLE:13} {r.sessions:8d} {apdu_text(r.apdus_min, r.apdus_max):>5} "
              f"{r.minimum:4d}  each thing read once: certificate, tries left, VERIFY, SIGN "
              "(no token info, no card-info AP)")


def apdu_text(low: int | None, high: int | None) -> str:
    if low is None or high is None:
        return "-"
    return str(low) if low == high else f"{low}-{high}"


def print_tables(steps: list[StepRow], parts: list[PartRow]) -> None:
    header = (f"{'latency':12} {'step':27} {'APDUs':>5} {'min':>4} {'median':>8} {'p90':>8} "
              f"{'floor med':>9} {'floor p90':>9} {'overhead':>9} {'over %':>7} {'over p90':>9}")
    print(header)
    print("-" * len(header))
    for r in steps:
        print(f"{r.latency:12} {r.step:27} {apdu_text(r.apdus_min, r.apdus_max):>5} {r.minimum:4d} "
              f"{r.median_ms:8.2f} {r.p90_ms:8.2f} {r.floor_median_ms:9.2f} {r.floor_p90_ms:9.2f} "
              f"{r.overhead_ms:9.2f} {r.overhead_pct:6.1f}% {r.overhead_p90_ms:9.2f}")
    print("\nFloor parts, each measured alone in every session:\n")
    header = f"{'latency':12} {'part':13} {'APDUs':>5} {'min':>4} {'median':>8} {'p90':>8}  what"
    print(header)
    print("-" * (len(header) + 60))
    for p in parts:
        least = "-" if p.minimum is None else str(p.minimum)
        print(f"{p.latency:12} {p.part:13} {apdu_text(p.apdus_min, p.apdus_max):>5} {least:>4} "
              f"{p.median_ms:8.2f} {p.p90_ms:8.2f}  {p.description}")


def describe(args: argparse.Namespace, latencies: list[str], server: ServerProcess, state: Path,
             kiosk_id: str, cert_length: int) -> None:
    command = " ".join(shlex.quote(part) for part in server.command).replace(str(state), "<state>")
    models = "\n         ".join(
        f"{name}: {m.per_apdu * 1000:g} ms per APDU, {m.per_byte * 1000:g} ms per byte, "
        f"{m.signature * 1000:g} ms per signature" for name, m in LATENCIES.items() if name in latencies)
    limits = ",\n         ".join(f"{name} = {value}" for name, value in BENCH_LIMITS.items())
    print(f"""Kiosk benchmark: {args.repeat} timed session(s) per latency setting, {args.warmup} untimed \
warm-up session(s) first
Run as:  {" ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])}
Server:  {command}
         in its own process on loopback (one uvicorn worker, SQLite), over the demo data prepared by
         linkserver.demo.prepare_demo, CRL revocation; appended as [limits], so that none binds:
         {limits}.
Kiosk:   KioskCore.build(load_config(<state>/kiosk/kiosk.toml)), started: the demo's kiosk client
         "{kiosk_id}", its LinkageClient (authlib private_key_jwt token, kept warm: the warm-up
         session fetches it, and each session begins with an untimed challenge), default timeouts.
Card:    {TRANSPORT_TEXT[args.transport]};
         holder "{HOLDER}" (RSA-2048, certificate {cert_length} bytes, extended reads), a fresh card
         for every session and for every floor measurement (full PIN counter).
Latency: {models}
         (a model of a contactless card on a reader, not a measurement of one).
Session: a new VerificationSession claiming account {ACCOUNT} (the holder's own: must match):
         {STEP_A}: prepare() with the card connected (the card's arrival and the
           connection to it are not timed), until the PIN pad can take the PIN;
           floor = max(card reads alone, one challenge round trip alone);
         {STEP_B}: submit(pin) until the server's answer;
           floor = card VERIFY alone + card SIGN alone + one verification round trip alone
           (signed beforehand with the holder's key; challenge off the clock).
         Each session's floor comes from the parts measured in that same session; overhead = median
         - floor median (and p90 - floor p90). APDUs are counted on the card; min = the fewest any
         reader could send (bench/card_bench.py's minimum: one extended READ for the certificate).
Machine: {os.cpu_count() or 0} CPU(s), Python {platform.python_version()}, {platform.platform()};
         the server, the kiosk and the card share it. Times in ms.
""", flush=True)


# -- the run ----------------------------------------------------------------------------------------


def run_latency(bench: Bench, latency: str, repeat: int, warmup: int) -> LatencyRun:
    model = LATENCIES[latency]
    run = LatencyRun(latency, [], Counter())
    for n in range(warmup + repeat):
        try:
            session = bench.run(model)
        except Exception as exc:  # any failure fails the bench; the others still run
            run.failures[failure_text(exc)] += 1
            continue
        if n >= warmup:
            run.sessions.append(session)
    print(f"  {latency}: {len(run.sessions)} timed sessions, {sum(run.failures.values())} failed",
          file=sys.stderr, flush=True)
    return run


def server_clean(server: ServerProcess, exit_code: int) -> tuple[bool, str]:
    log = server.log.read_text("utf-8", errors="replace") if server.log.exists() else ""
    errors = [line for line in log.splitlines() if re.search(r"\bERROR\b|Traceback", line)]
    return exit_code == 0 and not errors, f"exit {exit_code}, {len(errors)} error lines in its log"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20,
                        help="timed sessions per latency setting (default 20)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed sessions before each latency setting (default 1)")
    parser.add_argument("--latency", choices=sorted(LATENCY_CHOICES), default="both",
                        help="the card's latency model: none, typical (NFC) or both (default)")
    parser.add_argument("--transport", choices=sorted(TRANSPORTS), default="inprocess",
                        help="where the card is: inprocess (default) or behind pcscd + vpcd")
    parser.add_argument("--hierarchy", type=Path, default=Path(tempfile.gettempdir()) / "kiosk-bench-jpki",
                        help="the test JPKI hierarchy folder (created if missing)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0:
        parser.error("--repeat must be 1 or more and --warmup 0 or more")
    return args


@dataclass
class Outcome:
    """Every latency setting's run, and whether the server ended clean."""

    runs: list[LatencyRun]
    clean: bool
    clean_detail: str
    exits: list[ExitRow] = field(default_factory=list)
    exits_failure: str | None = None


def run_all(args: argparse.Namespace, latencies: list[str], hierarchy: TestHierarchy,
            cert_length: int) -> Outcome:
    """Start the demo server and a kiosk core, and run the sessions of every latency setting."""
    state = Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    runs: list[LatencyRun] = []
    exits: tuple[list[ExitRow], str | None] = ([], None)
    try:
        port = free_port()
        setup = prepare_demo(state / "server", hierarchy.path, issuer=f"http://127.0.0.1:{port}")
        write_bench_limits(setup.config_path)
        (state / "kiosk").mkdir()
        server = start_server(setup.config_path, port, state / "server.log")
        try:
            config = write_kiosk_config(state / "kiosk", setup, hierarchy, server.base)
            core = KioskCore.build(load_config(config)).start()
            try:
                describe(args, latencies, server, state, core.settings.kiosk_id, cert_length)
                with TRANSPORTS[args.transport](core.settings.reader.timeout_seconds) as place:
                    bench = Bench(core, hierarchy, place)
                    for latency in latencies:
                        runs.append(run_latency(bench, latency, args.repeat, args.warmup))
                exits = measure_exits(setup.kiosk_key_path, core.linkage, hierarchy, core.settings.kiosk_id,
                                      HOLDER, ACCOUNT, args.repeat)
            finally:
                core.close()
        finally:
            exit_code = server.stop()
        clean, clean_detail = server_clean(server, exit_code)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return Outcome(runs, clean, clean_detail, *exits)


def report(args: argparse.Namespace, latencies: list[str], outcome: Outcome, cert_length: int) -> bool:
    """Print the tables and the verdict (and write the JSON when asked); True when all passed."""
    runs = outcome.runs
    steps: list[StepRow] = []
    parts: list[PartRow] = []
    for run in runs:
        more_steps, more_parts = figures(run, cert_length)
        steps += more_steps
        parts += more_parts
    print_tables(steps, parts)
    wholes = [row for row in (whole_row(run, cert_length) for run in runs) if row is not None]
    print_whole(wholes)
    print_exits(outcome.exits)
    failures = Counter[str]()
    if outcome.exits_failure:
        print(f"  ways out: {outcome.exits_failure}")
        failures[outcome.exits_failure] += 1
    for run in runs:
        for text, count in sorted(run.failures.items()):
            print(f"  {run.latency}: {count} x {text}")
        failures.update(run.failures)
    print(f"\nServer: {'clean' if outcome.clean else 'NOT CLEAN'} ({outcome.clean_detail})")
    ok = not failures and outcome.clean and all(len(run.sessions) == args.repeat for run in runs)
    print("all sessions passed" if ok else f"FAILED: {sum(failures.values())} session(s) failed")
    if args.json:
        args.json.write_text(json.dumps({
            "settings": {"repeat": args.repeat, "warmup": args.warmup, "transport": args.transport,
                         "holder": HOLDER, "account": ACCOUNT, "certificate_bytes": cert_length,
                         "latency_models": {name: asdict(LATENCIES[name]) for name in latencies}},
            "steps": [asdict(row) for row in steps],
            "parts": [asdict(row) for row in parts],
            "whole_sessions": [asdict(row) for row in wholes],
            "exits": [asdict(row) for row in outcome.exits],
            "failures": {run.latency: dict(run.failures) for run in runs},
            "server": {"clean": outcome.clean, "detail": outcome.clean_detail},
            "ok": ok,
        }, indent=2))
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    latencies = list(LATENCY_CHOICES[args.latency])
    hierarchy = TestHierarchy.ensure(args.hierarchy)
    cert_length = len(hierarchy.holder(HOLDER).auth_certificate.public_bytes(Encoding.DER))
    outcome = run_all(args, latencies, hierarchy, cert_length)
    return 0 if report(args, latencies, outcome, cert_length) else 1


if __name__ == "__main__":
    sys.exit(main())
