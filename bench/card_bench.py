"""Card-layer benchmark: APDUs and time of each step of a verification, and of each fault.

For each transport (the card in process, and the same card behind real pcscd + vpcd + pyscard),
each read mode (one extended READ BINARY, or 256-byte chunks) and each latency model (none, and a
typical contactless card), it reports the APDUs sent beside the minimum possible, and the median
and 90th-percentile time of: reading the certificate, reading the PIN's tries left, VERIFY, SIGN.

Then the hostile card: for each fault of the simulated card on each instruction (as
tests/test_hostile_card.py puts them), the time from opening a session to the typed error that ends
it, and that error's code, beside the per-APDU deadline; and a silent card behind pcscd, whose
every call ends in the connection's own deadline (as tests/test_pcsc.py's). The tests assert the
codes only; these times are the figures.

    .venv/bin/python bench/card_bench.py [--repeat N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.nfc import ApduChannel, CardConnection, JpkiSession, TimedConnection
from kiosk.nfc.errors import CardError
from kiosk.nfc.sim import CardProfile, Fault, FaultKind, LatencyModel, SimulatedCard, TestHierarchy
from kiosk.nfc.sim.faults import TYPICAL_NFC

T = TypeVar("T")


@dataclass
class Row:
    transport: str
    reads: str
    latency: str
    step: str
    apdus: int
    minimum: int
    median_ms: float
    p90_ms: float


def minimum_apdus(step: str, cert_length: int, extended: bool) -> int:
    """The fewest APDUs any reader of the card could send for the step."""
    if step == "certificate":
        # SELECT AP, SELECT EF, then one extended READ or the 256-byte chunks.
        return 2 + (1 if extended else -(-cert_length // 256))
    return {"tries left": 2, "verify": 1, "sign": 2}[step]


@contextmanager
def in_process(card: SimulatedCard) -> Iterator[CardConnection]:
    yield card


@contextmanager
def through_pcscd(card: SimulatedCard, timeout: float = 5.0) -> Iterator[CardConnection]:
    from kiosk.nfc.pcsc import PcscConnection, wait_for_card
    from kiosk.nfc.sim.pcscd import PcscdProcess
    from kiosk.nfc.sim.vpcd import VpcdBridge

    with PcscdProcess(port=None, name="Bench PCD") as pcscd:
        bridge = VpcdBridge(card, port=pcscd.port)
        bridge.insert()
        try:
            if not wait_for_card(pcscd.readers[0], timeout=10):
                raise RuntimeError("pcscd did not see the simulated card")
            with PcscConnection(pcscd.readers[0], timeout=timeout) as connection:
                yield connection
        finally:
            bridge.remove()


def measure(
    connection: CardConnection, repeat: int, cert_length: int, extended: bool
) -> dict[str, tuple[int, list[float]]]:
    """Run the four steps ``repeat`` times; APDUs of the last run and every duration."""
    times: dict[str, list[float]] = {s: [] for s in ("certificate", "tries left", "verify", "sign")}
    apdus: dict[str, int] = {}

    def step(name: str, channel: ApduChannel, fn: Callable[[], T]) -> T:
        before = channel.apdu_count
        start = time.perf_counter()
        result = fn()
        times[name].append(time.perf_counter() - start)
        apdus[name] = channel.apdu_count - before
        return result

    def open_and_read(channel: ApduChannel) -> JpkiSession:
        session = JpkiSession(channel)
        session.auth_certificate()
        return session

    for _ in range(repeat):
        channel = ApduChannel(connection)
        channel.extended_supported = extended  # steady state: learned on the first read
        session = step("certificate", channel, partial(open_and_read, channel))
        step("tries left", channel, session.pin_tries_left)
        step("verify", channel, partial(session.verify_pin, "1234"))
        step("sign", channel, partial(session.sign_sha256, b"challenge" * 4))
    return {name: (apdus[name], durations) for name, durations in times.items()}


def run(hierarchy: TestHierarchy, repeat: int, rows: list[Row]) -> None:
    """Measure every scenario, adding each row to ``rows`` as it is done (kept if a later one fails)."""
    cert_length = len(hierarchy.holder("linked").auth_certificate.public_bytes(Encoding.DER))
    latencies = {"none": LatencyModel(), "typical NFC": TYPICAL_NFC}
    for transport, opener in (("in process", in_process), ("pcscd", through_pcscd)):
        for reads, extended in (("extended", True), ("chunked", False)):
            for latency_name, model in latencies.items():
                card = SimulatedCard(
                    CardProfile.from_holder(hierarchy, "linked"), extended=extended, latency=model
                )
                runs = repeat if latency_name == "none" else max(3, repeat // 5)
                with opener(card) as connection:
                    results = measure(connection, runs, cert_length, extended)
                for step, (apdus, durations) in results.items():
                    ms = sorted(d * 1000 for d in durations)
                    rows.append(Row(
                        transport, reads, latency_name, step, apdus,
                        minimum_apdus(step, cert_length, extended),
                        statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.9))],
                    ))


@dataclass
class FaultRow:
    transport: str
    fault: str
    instruction: str
    code: str
    deadline_ms: float
    median_ms: float
    max_ms: float


#: The instructions a fault hits, by name: the second SELECT (the first selects the AP), the first
#: of the others.
FAULT_INSTRUCTIONS = {"select": (0xA4, 2), "read": (0xB0, 1), "verify": (0x20, 1), "sign": (0x2A, 1)}
#: The in-process card thread's deadline per APDU, and the pcscd connection's.
INPROCESS_DEADLINE, PCSCD_DEADLINE = 0.5, 1.0


def until_error(steps: Callable[[], object]) -> tuple[str, float]:
    """Run ``steps``: the code of the card error that ends them, and the seconds taken."""
    start = time.perf_counter()
    try:
        steps()
    except CardError as exc:
        return str(exc.code), time.perf_counter() - start
    return "no error", time.perf_counter() - start


def whole_flow(connection: CardConnection) -> None:
    """A session opened, then every step of a verification."""
    session = JpkiSession(connection)
    session.token_info()
    session.auth_certificate()
    session.pin_tries_left()
    session.verify_pin("1234")
    session.sign_sha256(b"challenge")


def fault_row(transport: str, fault: str, instruction: str, deadline: float,
              results: list[tuple[str, float]]) -> FaultRow:
    codes = sorted({code for code, _ in results})
    ms = [seconds * 1000 for _, seconds in results]
    return FaultRow(transport, fault, instruction, "/".join(codes), deadline * 1000,
                    statistics.median(ms), max(ms))


def run_faults(hierarchy: TestHierarchy, repeat: int, rows: list[FaultRow]) -> None:
    """Every fault on every instruction in process, then a silent card behind pcscd."""
    profile = CardProfile.from_holder(hierarchy, "linked")
    for kind in FaultKind:
        for name, (ins, nth) in FAULT_INSTRUCTIONS.items():
            if kind is FaultKind.TRUNCATE and name in ("select", "verify"):
                continue  # their answers carry no data to cut short
            results = []
            for _ in range(repeat):
                card = SimulatedCard(profile, faults=[Fault(kind, ins=ins, nth=nth, sw=0x6F00)])
                connection = TimedConnection(card, timeout=INPROCESS_DEADLINE)
                try:
                    results.append(until_error(partial(whole_flow, connection)))
                finally:
                    card.remove()
                    connection.close()
            rows.append(fault_row("in process", kind.value, name, INPROCESS_DEADLINE, results))
    silent_behind_pcscd(profile, repeat, rows)


def silent_behind_pcscd(profile: CardProfile, repeat: int, rows: list[FaultRow]) -> None:
    """A card that never answers VERIFY, each time a fresh one behind pcscd: the first call that asks
    the PIN's tries left, then the next one on the same connection."""
    from kiosk.nfc.pcsc import PcscConnection, wait_for_card
    from kiosk.nfc.sim.pcscd import PcscdProcess
    from kiosk.nfc.sim.vpcd import VpcdBridge

    first, again = [], []
    with PcscdProcess(port=None, name="Bench PCD") as pcscd:
        reader = pcscd.readers[0]
        for _ in range(repeat):
            card = SimulatedCard(profile, faults=[Fault(FaultKind.SILENCE, ins=0x20, repeat=True)])
            bridge = VpcdBridge(card, port=pcscd.port)
            bridge.insert()
            if not wait_for_card(reader, timeout=10):
                raise RuntimeError("pcscd did not see the simulated card")
            connection = PcscConnection(reader, timeout=PCSCD_DEADLINE)
            try:
                session = JpkiSession(connection)
                first.append(until_error(session.pin_tries_left))
                again.append(until_error(session.pin_tries_left))
            finally:
                bridge.remove()
                connection.close()
                wait_for_card(reader, present=False, timeout=10)
    rows.append(fault_row("pcscd", "silence", "verify", PCSCD_DEADLINE, first))
    rows.append(fault_row("pcscd", "silence", "again", PCSCD_DEADLINE, again))


def print_rows(header: str, lines: Iterable[str]) -> None:
    """A table: its header, a rule as long, then a line a row."""
    print(header)
    print("-" * len(header))
    for line in lines:
        print(line)


def print_faults(rows: list[FaultRow]) -> None:
    print("\nThe hostile card: a session opened until the typed error that ends it (\"again\": the next\n"
          "call on the connection after a timeout), beside the connection's deadline per APDU\n")
    print_rows(f"{'transport':11} {'fault':9} {'ins':7} {'code':24} {'deadline':>8} "
               f"{'median ms':>10} {'max ms':>8}",
               (f"{r.transport:11} {r.fault:9} {r.instruction:7} {r.code:24} {r.deadline_ms:8.0f} "
                f"{r.median_ms:10.2f} {r.max_ms:8.2f}" for r in rows))


def print_table(rows: list[Row]) -> None:
    print_rows(f"{'transport':11} {'reads':9} {'latency':12} {'step':12} "
               f"{'APDUs':>5} {'min':>4} {'median ms':>10} {'p90 ms':>8}",
               (f"{r.transport:11} {r.reads:9} {r.latency:12} {r.step:12} "
                f"{r.apdus:5d} {r.minimum:4d} {r.median_ms:10.2f} {r.p90_ms:8.2f}" for r in rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="runs per scenario (default 30)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    hierarchy = TestHierarchy.ensure(Path(tempfile.gettempdir()) / "kiosk-bench-jpki")
    rows: list[Row] = []
    fault_rows: list[FaultRow] = []
    failures = []
    fault_repeat = max(3, args.repeat // 10)
    for table, measure_table in (("steps", partial(run, hierarchy, args.repeat, rows)),
                                 ("faults", partial(run_faults, hierarchy, fault_repeat, fault_rows))):
        try:
            measure_table()
        except (CardError, RuntimeError, OSError) as exc:  # the rows measured so far are still shown
            failures.append(f"{table}: {exc}")
    print(f"Typical NFC latency model: {TYPICAL_NFC.per_apdu * 1000:g} ms per APDU, "
          f"{TYPICAL_NFC.per_byte * 1000:g} ms per byte, {TYPICAL_NFC.signature * 1000:g} ms per "
          "signature (a model, not a measurement of a real card)\n")
    print_table(rows)
    print_faults(fault_rows)
    if args.json:
        args.json.write_text(json.dumps({"steps": [r.__dict__ for r in rows],
                                         "faults": [r.__dict__ for r in fault_rows]}, indent=2))
    if failures:
        print(f"card_bench: stopped after {len(rows)} step rows and {len(fault_rows)} fault rows, which "
              f"are above: {'; '.join(failures)}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
