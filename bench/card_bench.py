"""Card-layer benchmark: APDUs and time of each step of a verification.

For each transport (the card in process, and the same card behind real pcscd + vpcd + pyscard),
each read mode (one extended READ BINARY, or 256-byte chunks) and each latency model (none, and a
typical contactless card), it reports the APDUs sent beside the minimum possible, and the median
and 90th-percentile time of: reading the certificate, reading the PIN's tries left, VERIFY, SIGN.

    .venv/bin/python bench/card_bench.py [--repeat N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.nfc import ApduChannel, CardConnection, JpkiSession
from kiosk.nfc.errors import CardError
from kiosk.nfc.sim import CardProfile, LatencyModel, SimulatedCard, TestHierarchy
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
def through_pcscd(card: SimulatedCard) -> Iterator[CardConnection]:
    from kiosk.nfc.pcsc import PcscConnection, wait_for_card
    from kiosk.nfc.sim.pcscd import PcscdProcess
    from kiosk.nfc.sim.vpcd import VpcdBridge

    with PcscdProcess(port=None, name="Bench PCD") as pcscd:
        bridge = VpcdBridge(card, port=pcscd.port)
        bridge.insert()
        try:
            if not wait_for_card(pcscd.readers[0], timeout=10):
                raise RuntimeError("pcscd did not see the simulated card")
            with PcscConnection(pcscd.readers[0]) as connection:
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


def run(repeat: int, rows: list[Row]) -> None:
    """Measure every scenario, adding each row to ``rows`` as it is done (kept if a later one fails)."""
    hierarchy = TestHierarchy.ensure(Path(tempfile.gettempdir()) / "kiosk-bench-jpki")
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


def print_table(rows: list[Row]) -> None:
    header = (f"{'transport':11} {'reads':9} {'latency':12} {'step':12} "
              f"{'APDUs':>5} {'min':>4} {'median ms':>10} {'p90 ms':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.transport:11} {r.reads:9} {r.latency:12} {r.step:12} "
              f"{r.apdus:5d} {r.minimum:4d} {r.median_ms:10.2f} {r.p90_ms:8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="runs per scenario (default 30)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    try:
        run(args.repeat, rows)
    except (CardError, RuntimeError, OSError) as exc:
        failure: Exception | None = exc
    else:
        failure = None
    print(f"Typical NFC latency model: {TYPICAL_NFC.per_apdu * 1000:g} ms per APDU, "
          f"{TYPICAL_NFC.per_byte * 1000:g} ms per byte, {TYPICAL_NFC.signature * 1000:g} ms per "
          "signature (a model, not a measurement of a real card)\n")
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2))
    if failure is not None:
        print(f"card_bench: stopped after {len(rows)} rows, which are above: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
