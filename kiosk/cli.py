"""The ``kiosk`` command: the window, the demo, card status, the simulated card, headless flows and checks."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiosk.cli_core import JsonLogFormatter, env_problem, run_doctor, run_flow
from kiosk.cli_core import add_parsers as add_core_parsers
from kiosk.cli_outbox import add_parsers as add_outbox_parsers
from kiosk.cli_outbox import run_outbox
from kiosk.messages import describe
from kiosk.nfc.errors import CardAbsentError, CardError, tries_left_words

logger = logging.getLogger("kiosk")


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a TCP port is 1 to 65535")
    return value


def _add_sim_parser(sub: Any) -> None:
    sim = sub.add_parser("sim", help="serve a simulated My Number Card to the vpcd reader")
    sim.add_argument("--host", default="127.0.0.1", help="where vpcd listens (default 127.0.0.1)")
    sim.add_argument("--port", type=_port, default=35963, help="vpcd port (default 35963)")
    sim.add_argument("--holder", default="linked",
                     help="holder of the test hierarchy (default: linked; --list-holders)")
    sim.add_argument("--list-holders", action="store_true", help="list the holders and exit")
    sim.add_argument("--pin", help="authentication PIN (default: the holder's)")
    sim.add_argument("--cardinfo-pin", help="card info AP PIN (default: the same as --pin)")
    sim.add_argument("--hierarchy", type=Path,
                     help="test JPKI folder (default: a per-user cache, generated once)")
    sim.add_argument("--export-dir", type=Path,
                     help="write auth-cert.pem and the CA certificates here")
    sim.add_argument("--apdu-log", type=Path, help="record every command and response (PINs hidden)")
    sim.add_argument("--no-extended", action="store_true",
                     help="refuse extended APDUs, like a reader without them")
    sim.add_argument("--latency", metavar="APDU_MS,BYTE_MS,SIGN_MS",
                     help="card latency model, e.g. 4,0.04,250")
    sim.add_argument("--contact", action="store_true", help="present the contact-interface ATR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__)
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv: APDU traffic, PIN data always hidden)")
    sub = parser.add_subparsers(dest="command", required=True)

    card = sub.add_parser("card", help="read a card on a PC/SC reader")
    card_sub = card.add_subparsers(dest="card_command", required=True)
    status = card_sub.add_parser("status", help="readers, card kind, certificate, PIN tries left")
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.add_argument("--reader", help="only this reader (exact name; default: every reader)")
    status.add_argument("--timeout", type=_positive_float, default=5.0,
                        help="seconds to wait for each reader or card call (default 5)")

    _add_sim_parser(sub)

    demo = sub.add_parser("demo", help="the whole kiosk: the reference server, a simulated card, the window "
                                        "and a developer panel")
    demo.add_argument("--status-only", action="store_true",
                      help="no window: pcscd, a simulated card and its card status")
    demo.add_argument("--no-pcscd", action="store_true",
                      help="keep the simulated card in this process instead of behind pcscd's vpcd reader")
    demo.add_argument("--language", choices=["ja", "en"], default="ja",
                      help="the first language (default ja)")
    demo.add_argument("--holder", default="linked", help="the card holder chosen first (default linked)")

    run = sub.add_parser("run", help="the kiosk's window at a counter: PC/SC readers, full screen")
    run.add_argument("--config", type=Path, help="the kiosk's TOML configuration (default $KIOSK_CONFIG)")
    run.add_argument("--windowed", action="store_true",
                     help="a normal window instead of kiosk mode (for setting up and testing)")
    run.add_argument("--staff-pin-from-env", metavar="VAR",
                     help="the environment variable holding the staff unlock PIN (instead of the "
                          "configuration's kiosk.staff_unlock)")

    pin_hash = sub.add_parser("staff-pin-hash", help="the kiosk.staff_unlock setting for a staff unlock PIN")
    pin_hash.add_argument("--pin-from-env", required=True, metavar="VAR",
                          help="the environment variable holding the staff unlock PIN")

    shots = sub.add_parser("screenshots", help="render every screen in both languages to PNG files")
    shots.add_argument("--out", type=Path, required=True, help="the folder for SCREEN-LANG.png files")
    shots.add_argument("--language", choices=["ja", "en"], action="append",
                       help="only this language (repeatable; default both)")
    audit = sub.add_parser("audit-screens",
                           help="measure every screen for accessibility: layout, targets, keyboard, "
                                "locale, names, contrast")
    audit.add_argument("--scale", type=float, action="append",
                       help="a text scale to measure (repeatable; default 1.0, 1.5 and 2.0)")
    audit.add_argument("--language", choices=["ja", "en"], action="append",
                       help="only this language (repeatable; default both)")
    add_core_parsers(sub)
    add_outbox_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING
    if args.verbose == 1:
        level = logging.INFO
    elif args.verbose >= 2:
        level = 5
    if getattr(args, "json", False):
        # Under --json everything a program reads is JSON: log records too, one per line on stderr.
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLogFormatter())
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "card":
            return card_status(args.reader, args.json, args.timeout)
        if args.command == "sim":
            return run_sim(args)
        if args.command == "demo":
            return run_status_demo() if args.status_only else run_window_demo(args)
        if args.command == "run":
            return run_window(args)
        if args.command == "screenshots":
            return run_screenshots(args)
        if args.command == "audit-screens":
            return run_audit_screens(args)
        if args.command == "staff-pin-hash":
            return print_staff_pin_hash(args.pin_from_env)
        if args.command == "flow":
            return run_flow(args)
        if args.command == "doctor":
            return run_doctor(args)
        if args.command == "outbox":
            return run_outbox(args)
    except KeyboardInterrupt:
        return 130
    raise AssertionError(args.command)


# -- kiosk card status ---------------------------------------------------------------------


class UnknownReader(Exception):
    code = "reader.unknown"


def collect_status(reader: str | None, timeout: float) -> dict[str, Any]:
    """Status of every reader (or the one named), as a JSON-ready dict."""
    from kiosk.nfc.pcsc import PcscConnection, list_readers
    from kiosk.nfc.status import read_status

    readers = list_readers(timeout)
    if reader:
        if reader not in readers:
            raise UnknownReader(f"no reader named {reader!r} (readers: {', '.join(readers) or 'none'})")
        readers = [reader]
    out: list[dict[str, Any]] = []
    for name in readers:
        entry: dict[str, Any] = {"name": name, "card": None, "error": None}
        try:
            with PcscConnection(name, timeout=timeout) as connection:
                entry["card"] = read_status(connection, connection.atr).to_dict()
        except CardAbsentError:
            pass
        except CardError as exc:
            entry["error"] = {"code": exc.code, "message": describe(exc), "detail": str(exc)}
        out.append(entry)
    return {"readers": out}


CARD_KINDS = {
    "my_number_card": "My Number Card",
    "resident_registry_card": "Basic Resident Registry Card",
    "unknown": "a JPKI card of an unknown kind",
}


def _print_status(report: dict[str, Any]) -> None:
    if not report["readers"]:
        print("No card reader found.")
    for entry in report["readers"]:
        print(f"Reader: {entry['name']}")
        card, error = entry["card"], entry["error"]
        if error:
            print(f"  Error: {error['message']} [{error['code']}]")
        elif card is None:
            print("  No card")
        else:
            cert = card["auth_certificate"]
            kind = CARD_KINDS.get(card["card_kind"], card["card_kind"])
            print(f"  Card:      {kind} ({card['token_label']})")
            print(f"  ATR:       {card['atr']}")
            print("  Authentication certificate")
            print(f"    Subject: {cert['subject']}")
            print(f"    Issuer:  {cert['issuer']}")
            print(f"    Serial:  {cert['serial']}")
            print(f"    Valid:   {cert['not_before']} to {cert['not_after']} ({cert['validity']})")
            print(f"    Key:     {cert['key']}")
            card_info = card["cardinfo_pin_tries_left"]
            card_info_text = ("card-info application: absent" if card_info is None
                              else f"{tries_left_words(card_info)} of 3 (card info)")
            print(f"  PIN:       {tries_left_words(card['pin_tries_left'])} of 3 (authentication), "
                  f"{card_info_text}")


def card_status(reader: str | None, as_json: bool, timeout: float) -> int:
    """Exit 0: every reader read; 1: no reader, or one failed; 2: no reader of that name."""
    try:
        report = collect_status(reader, timeout)
    except (CardError, UnknownReader) as exc:
        message = describe(exc) if isinstance(exc, CardError) else str(exc)
        report = {"readers": [], "error": {"code": exc.code, "message": message}}
        if as_json:
            print(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            print(f"kiosk: {message} [{exc.code}]", file=sys.stderr)
        return 2 if isinstance(exc, UnknownReader) else 1
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_status(report)
    failed = not report["readers"] or any(e["error"] for e in report["readers"])
    return 1 if failed else 0


# -- kiosk sim -----------------------------------------------------------------------------


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


def run_sim(args: argparse.Namespace) -> int:
    from kiosk.nfc.sim.hierarchy import TestHierarchy
    from kiosk.nfc.sim.vpcd import VpcdBridge

    if args.list_holders:
        hierarchy = TestHierarchy.ensure(args.hierarchy)
        for slug, holder in hierarchy.holders.items():
            print(f"{slug:15} {holder.spec.name:12} {holder.spec.description}")
        return 0
    try:
        card, holder, hierarchy = make_card(args)
    except (KeyError, ValueError, CardError) as exc:
        print(f"kiosk sim: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    log_file = None
    if args.apdu_log:
        log_file = open(args.apdu_log, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        card.apdu_log = lambda line: log_file.write(line + "\n")
    if args.export_dir:
        export_certificates(card, holder, hierarchy, args.export_dir)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"Serving {holder.slug} ({holder.spec.name}) to vpcd at {args.host}:{args.port}; "
          "Ctrl-C to remove the card.", flush=True)
    try:
        VpcdBridge(card, args.host, args.port).serve_forever(stop)
    finally:
        if log_file:
            log_file.close()
    return 0


# -- kiosk demo ----------------------------------------------------------------------------


def run_status_demo() -> int:
    """``kiosk demo --status-only``: a simulated card behind real pcscd, and its status."""
    from kiosk.nfc.pcsc import wait_for_card
    from kiosk.nfc.sim import CardProfile, SimulatedCard, TestHierarchy
    from kiosk.nfc.sim.pcscd import PcscdProcess
    from kiosk.nfc.sim.vpcd import VpcdBridge

    hierarchy = TestHierarchy.ensure()
    card = SimulatedCard(CardProfile.from_holder(hierarchy, "linked"))
    pcscd = PcscdProcess()
    try:
        pcscd.start()  # a private pcscd, beside the machine's own if one runs
    except RuntimeError as exc:
        print(f"kiosk demo: {exc}", file=sys.stderr)
        return 1
    bridge = VpcdBridge(card, port=pcscd.port)
    try:
        bridge.insert()
        reader = pcscd.readers[0]
        if not wait_for_card(reader, present=True, timeout=10):
            print("kiosk demo: the simulated card did not appear on the reader", file=sys.stderr)
            return 1
        print("A simulated My Number Card (holder: 佐藤 花子) is on the virtual reader.\n")
        return card_status(reader, False, 5.0)
    finally:
        bridge.remove()
        pcscd.stop()


# -- the window ------------------------------------------------------------------------------


def run_window_demo(args: argparse.Namespace) -> int:
    from kiosk.nfc.sim import TestHierarchy
    from kiosk.ui.app import display_problem
    from kiosk.ui.demo import run_demo

    problem = display_problem()
    if problem:
        # Without a screen the demo still shows the card path working, end to end through PC/SC.
        print(f"kiosk demo: {problem}\nkiosk demo: showing the simulated card's status instead",
              file=sys.stderr)
        return run_status_demo()
    holders = TestHierarchy.ensure().holders
    if args.holder not in holders:
        print(f"kiosk demo: no holder {args.holder!r} (known: {', '.join(sorted(holders))})", file=sys.stderr)
        return 2
    return run_demo(language=args.language, use_pcscd=not args.no_pcscd, holder=args.holder)


def print_staff_pin_hash(variable: str) -> int:
    import os

    from kiosk.staffpin import hash_staff_pin

    pin = os.environ.get(variable)
    if pin is None or len(pin) < 6:
        problem = env_problem("--pin-from-env", variable, "is not set" if pin is None
                              else "must hold a PIN of at least 6 characters")
        print(f"kiosk staff-pin-hash: {problem}", file=sys.stderr)
        return 2
    print(f'staff_unlock = "{hash_staff_pin(pin)}"')
    return 0


def run_window(args: argparse.Namespace) -> int:
    import os

    from kiosk.cli_core import CONFIG_ENV
    from kiosk.config import ConfigError, load_config

    path = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    staff_pin = None
    try:
        if path is None:
            raise ConfigError(f"no configuration: pass --config FILE or set ${CONFIG_ENV}")
        settings = load_config(path)
        if args.staff_pin_from_env:
            staff_pin = os.environ.get(args.staff_pin_from_env)
            if not staff_pin:
                raise ConfigError(env_problem("--staff-pin-from-env", args.staff_pin_from_env))
    except ConfigError as exc:
        print(f"kiosk run: {exc}", file=sys.stderr)
        return 2
    from kiosk.ui.app import display_problem, run_kiosk

    problem = display_problem()
    if problem:
        print(f"kiosk run: {problem}", file=sys.stderr)
        return 2
    return run_kiosk(settings, kiosk_mode=not args.windowed, staff_unlock_pin=staff_pin)


def run_screenshots(args: argparse.Namespace) -> int:
    from kiosk.ui.screenshots import LANGUAGES, main

    return main(args.out, args.language or LANGUAGES)


def run_audit_screens(args: argparse.Namespace) -> int:
    from kiosk.ui.audit import SCALES, main

    return main(args.scale or SCALES, args.language)
