"""``kiosk sim``: a simulated My Number Card served to pcscd's vpcd reader, from the command line.

One card per vpcd reader: a second ``kiosk sim`` for the same port is refused (a lock file per
host and port says which process serves it), and so is a port nothing listens on.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import sys
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from kiosk.exitcodes import EXIT_BUSY, EXIT_CONFIG, exit_codes
from kiosk.nfc.errors import CardError

#: How long ``kiosk sim`` waits for vpcd to listen before it gives up (pcscd may be starting).
DEFAULT_WAIT_SECONDS = 10.0


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a TCP port is 1 to 65535")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be 0 to 3600 seconds")
    return value


def add_parser(sub: Any) -> None:
    sim = sub.add_parser("sim", help="serve a simulated My Number Card to the vpcd reader",
                         description="Serve a simulated My Number Card of the test hierarchy to pcscd's "
                                     "vpcd reader until Ctrl-C (or SIGTERM) takes it off.",
                         epilog=exit_codes(EXIT_CONFIG, EXIT_BUSY),
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument("--host", default="127.0.0.1", help="where vpcd listens (default 127.0.0.1)")
    sim.add_argument("--port", type=_port, default=35963,
                     help="vpcd port (default 35963; the second reader is 35964)")
    sim.add_argument("--wait", type=_seconds, default=DEFAULT_WAIT_SECONDS, metavar="SECONDS",
                     help=f"how long to wait for vpcd to listen (default {DEFAULT_WAIT_SECONDS:g})")
    sim.add_argument("--holder", default="linked",
                     help="holder of the test hierarchy (default: linked; --list-holders)")
    sim.add_argument("--list-holders", action="store_true", help="list the holders and their PINs, and exit")
    sim.add_argument("--pin", help="authentication PIN (default: the holder's; --list-holders)")
    sim.add_argument("--cardinfo-pin", help=f"card info AP PIN (default: the holder's own where it has one: "
                                            f"{own_cardinfo_pins()}; otherwise the same as --pin)")
    sim.add_argument("--hierarchy", type=Path,
                     help="an existing test JPKI folder (default: a per-user cache, generated once)")
    sim.add_argument("--export-dir", type=Path,
                     help="write auth-cert.pem and the CA certificates here")
    sim.add_argument("--apdu-log", type=Path, help="record every command and response (PINs hidden)")
    sim.add_argument("--no-extended", action="store_true",
                     help="refuse extended APDUs, like a reader without them")
    sim.add_argument("--latency", metavar="APDU_MS,BYTE_MS,SIGN_MS",
                     help="card latency model, e.g. 4,0.04,250")
    sim.add_argument("--contact", action="store_true", help="present the contact-interface ATR")


def own_cardinfo_pins() -> str:
    """The holders whose card-info PIN is not their authentication PIN, with it (for --help)."""
    from kiosk.nfc.sim.hierarchy import PRESET_HOLDERS

    return ", ".join(f"{spec.slug} {spec.cardinfo_pin}" for spec in PRESET_HOLDERS
                     if spec.cardinfo_pin and spec.cardinfo_pin != spec.pin)


def hierarchy_problem(path: Path | None) -> str:
    """Why ``--hierarchy`` cannot be used, or "": only the demo and the default cache generate one."""
    if path is None or path.is_dir():
        return ""
    return (f"--hierarchy {path} does not exist: name a test hierarchy folder made before (the per-user "
            "cache, or the one a test run made), or leave --hierarchy out to use the per-user cache")


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide (East Asian) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(columns - width(text), 0)


def holder_rows(holders: dict[str, Any]) -> list[str]:
    """``--list-holders``: one aligned row a holder, with both PINs."""
    rows = [("holder", "name", "PIN", "card-info PIN", "")]
    for slug, holder in holders.items():
        spec = holder.spec
        rows.append((slug, spec.name, spec.pin, spec.cardinfo_pin or spec.pin, spec.description))
    widths = [max(width(row[i]) for row in rows) for i in range(4)]
    return ["  ".join(pad(cell, widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
            for row in rows]


def export_certificates(card: Any, holder: Any, hierarchy: Any, export_dir: Path) -> None:
    """Write the card's certificates so anything reading the card can be checked."""
    export_dir.mkdir(parents=True, exist_ok=True)
    (export_dir / "auth-cert.pem").write_bytes(holder.auth_cert_pem)
    (export_dir / "auth-ca.pem").write_bytes(holder.issuer_pem)
    (export_dir / "sign-ca.pem").write_bytes(hierarchy.sign_ca_pem())
    anchors = b"".join(p.read_bytes() for p in hierarchy.trust_anchor_paths())
    (export_dir / "trust-anchors.pem").write_bytes(anchors)
    (export_dir / "auth-cert.der").write_bytes(card.profile.auth_cert_der)


def make_card(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from kiosk.nfc.session import pin_bytes
    from kiosk.nfc.sim import CardProfile, LatencyModel, SimulatedCard, TestHierarchy

    hierarchy = TestHierarchy.ensure(args.hierarchy)
    holder = hierarchy.holder(args.holder)
    for value in (args.pin, args.cardinfo_pin):
        if value is not None:
            pin_bytes(value, 4)  # a card's PIN is 4 digits; refuse anything else up front
    profile = CardProfile.from_holder(hierarchy, holder, pin=args.pin, cardinfo_pin=args.cardinfo_pin)
    latency = LatencyModel.parse(args.latency) if args.latency else None
    card = SimulatedCard(profile, extended=not args.no_extended, latency=latency, contact=args.contact)
    return card, holder, hierarchy


class ReaderTaken(Exception):
    """Another ``kiosk sim`` serves a card to this vpcd port."""


@contextlib.contextmanager
def serving_lock(host: str, port: int) -> Iterator[None]:
    """Hold the lock of vpcd at ``host:port`` for this process; ReaderTaken naming the holder if
    another process has it. The kernel releases it when the process ends, however it ends."""
    path = Path(tempfile.gettempdir()) / f"kiosk-sim-{host.replace('/', '_')}-{port}.lock"
    handle: IO[str] = open(path, "a+", encoding="ascii")  # noqa: SIM115 - held while serving
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ReaderTaken(f"another kiosk sim (process {holder}) already serves a card to vpcd at "
                              f"{host}:{port}: stop it first (Ctrl-C), or serve this card to another "
                              "reader (--port)") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def run_sim(args: argparse.Namespace) -> int:
    from kiosk.nfc.sim.hierarchy import TestHierarchy

    problem = hierarchy_problem(args.hierarchy)
    if problem:
        print(f"kiosk sim: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if args.list_holders:
        print("\n".join(holder_rows(TestHierarchy.ensure(args.hierarchy).holders)))
        return 0
    try:
        card, holder, hierarchy = make_card(args)
    except (KeyError, ValueError, CardError) as exc:
        print(f"kiosk sim: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        with serving_lock(args.host, args.port):
            return _serve(args, card, holder, hierarchy)
    except ReaderTaken as exc:
        print(f"kiosk sim: {exc}", file=sys.stderr)
        return EXIT_BUSY


def _serve(args: argparse.Namespace, card: Any, holder: Any, hierarchy: Any) -> int:
    from kiosk.nfc.sim.vpcd import VpcdBridge

    with contextlib.ExitStack() as stack:
        if args.apdu_log:
            try:
                log_file = stack.enter_context(open(args.apdu_log, "a", encoding="utf-8", buffering=1))
            except OSError as exc:
                return _cannot_write("--apdu-log", exc)
            card.apdu_log = lambda line: log_file.write(line + "\n")
        if args.export_dir:
            try:
                export_certificates(card, holder, hierarchy, args.export_dir)
            except OSError as exc:
                return _cannot_write("--export-dir", exc)
        bridge = VpcdBridge(card, args.host, args.port)
        try:
            bridge.insert(timeout=args.wait)
        except ConnectionError:
            print(f"kiosk sim: nothing listens at {args.host}:{args.port} (waited {args.wait:g} s): "
                  "vpcd's readers listen on 35963 and 35964 once pcscd has loaded the vpcd driver; "
                  "start pcscd, or pass the port vpcd listens on", file=sys.stderr)
            return EXIT_BUSY
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        print(f"Serving {holder.slug} ({holder.spec.name}) to vpcd at {args.host}:{args.port}; "
              "Ctrl-C to remove the card.", flush=True)
        bridge.serve_forever(stop)
    return 0


def _cannot_write(option: str, exc: OSError) -> int:
    print(f"kiosk sim: {option}: {exc.filename} cannot be written ({exc.strerror}): name a place this "
          "user may write", file=sys.stderr)
    return EXIT_CONFIG
