"""The ``kiosk`` command: the window, the demo, card status, the simulated card, headless flows and checks."""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiosk.cli_core import JsonLogFormatter, env_problem, run_doctor, run_flow
from kiosk.cli_core import add_parsers as add_core_parsers
from kiosk.cli_outbox import add_parsers as add_outbox_parsers
from kiosk.cli_outbox import run_outbox
from kiosk.cli_sim import add_parser as add_sim_parser
from kiosk.cli_sim import run_sim
from kiosk.exitcodes import EXIT_BUSY, EXIT_CONFIG, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, exit_codes
from kiosk.messages import describe
from kiosk.nfc.errors import CardAbsentError, CardError, tries_left_words
from kiosk.staffpin import STAFF_PIN_RULE
from kiosk.stopping import Stopped, stop_on_signals

logger = logging.getLogger("kiosk")


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


DESCRIPTION = ("The kiosk at a help desk: its window, a demo of the whole counter, card status, a simulated "
               "card, one operation run headless, and checks of what the kiosk depends on.")
#: The same where the developer's tools are left out (the kiosk package).
COUNTER_DESCRIPTION = ("The kiosk at a help desk: its window, card status, one operation run headless, and "
                       "checks of what the kiosk depends on.")
#: The help of a command that only reads the screen's state or writes pictures.
RENDER_CODES = exit_codes(EXIT_FAILED)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kiosk")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str,
             *codes: int, description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its exit codes."""
    words = description or help_text[:1].upper() + help_text[1:] + "."
    return sub.add_parser(name, help=help_text, description=words, epilog=exit_codes(*codes),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_key_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The kiosk's own key pair, and the staff unlock PIN's setting."""
    keygen = _command(sub, "keygen", "make this kiosk's key pair once: the private key for kiosk.key_file "
                      "(0600) and its public key beside it, for kiosk-linkserver register-kiosk",
                      EXIT_FAILED, EXIT_CONFIG)
    keygen.add_argument("--key", type=Path, required=True, metavar="FILE",
                        help="where the private key goes (e.g. /etc/kiosk/kiosk-key.pem); the public key "
                             "goes beside it as FILE.pub.pem")
    keygen.add_argument("--kiosk-id", metavar="ID", help="the kiosk's client ID, for the command it prints")

    pin_hash = _command(sub, "staff-pin-hash", "the kiosk.staff_unlock setting for a staff unlock PIN",
                        EXIT_CONFIG)
    pin_hash.add_argument("--pin-from-env", required=True, metavar="VAR",
                          help=f"the environment variable holding the staff unlock PIN ({STAFF_PIN_RULE})")


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """``-v`` after a command (and its subcommand) as well as before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in set(action.choices.values()):
                if "-v" not in command._option_string_actions:
                    command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                                         help="more log output (-vv: APDU traffic, PIN data always hidden)")
                _verbose_everywhere(command)


def developer_tools_installed() -> bool:
    """Whether the simulated card (and with it ``kiosk sim`` and ``kiosk demo``) is here: a checkout
    has it; the kiosk package leaves it out, as no counter needs it."""
    return importlib.util.find_spec("kiosk.nfc.sim") is not None


def build_parser() -> argparse.ArgumentParser:
    developer = developer_tools_installed()
    parser = argparse.ArgumentParser(prog="kiosk",
                                     description=DESCRIPTION if developer else COUNTER_DESCRIPTION,
                                     epilog=exit_codes(EXIT_FAILED, EXIT_CONFIG, EXIT_BUSY),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv: APDU traffic, PIN data always hidden)")
    sub = parser.add_subparsers(dest="command", required=True)

    card = _command(sub, "card", "read a card on a PC/SC reader", EXIT_FAILED, EXIT_CONFIG)
    card_sub = card.add_subparsers(dest="card_command", required=True)
    status = _command(card_sub, "status", "readers, card kind, certificate, PIN tries left", EXIT_FAILED,
                      EXIT_CONFIG)
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.add_argument("--reader", help="only this reader (exact name; default: every reader)")
    status.add_argument("--timeout", type=_positive_float, default=5.0,
                        help="seconds to wait for each reader or card call (default 5)")

    if developer:
        add_sim_parser(sub)

        demo = _command(sub, "demo", "the whole kiosk: the reference server, a simulated card, the window "
                                     "and a developer panel", EXIT_FAILED, EXIT_CONFIG)
        demo.add_argument("--status-only", action="store_true",
                          help="no window: pcscd, a simulated card and its card status")
        demo.add_argument("--no-pcscd", action="store_true",
                          help="keep the simulated card in this process instead of behind pcscd's vpcd "
                               "reader")
        demo.add_argument("--language", choices=["ja", "en"], default="ja",
                          help="the first language (default ja)")
        demo.add_argument("--holder", default="linked", help="the card holder chosen first (default linked)")

    run = _command(sub, "run", "the kiosk's window at a counter: PC/SC readers, full screen", EXIT_CONFIG)
    run.add_argument("--config", type=Path, help="the kiosk's TOML configuration (default $KIOSK_CONFIG)")
    run.add_argument("--windowed", action="store_true",
                     help="a normal window instead of kiosk mode (for setting up and testing)")
    run.add_argument("--staff-pin-from-env", metavar="VAR",
                     help="the environment variable holding the staff unlock PIN (instead of the "
                          "configuration's kiosk.staff_unlock)")

    _add_key_parsers(sub)

    shots = _command(sub, "screenshots", "render every screen in both languages to PNG files", EXIT_FAILED)
    shots.add_argument("--out", type=Path, required=True, help="the folder for SCREEN-LANG.png files")
    shots.add_argument("--language", choices=["ja", "en"], action="append",
                       help="only this language (repeatable; default both)")
    audit = _command(sub, "audit-screens", "measure every screen for accessibility: layout, targets, "
                                           "keyboard, locale, names, contrast", EXIT_FAILED)
    audit.add_argument("--scale", type=float, action="append",
                       help="a text scale to measure (repeatable; default 1.0, 1.5 and 2.0)")
    audit.add_argument("--language", choices=["ja", "en"], action="append",
                       help="only this language (repeatable; default both)")
    add_core_parsers(sub)
    add_outbox_parsers(sub)
    _verbose_everywhere(parser)
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
            with stop_on_signals():
                return run_status_demo(args.holder) if args.status_only else run_window_demo(args)
        if args.command == "run":
            return run_window(args)
        if args.command == "screenshots":
            return run_screenshots(args)
        if args.command == "audit-screens":
            return run_audit_screens(args)
        if args.command == "keygen":
            return make_keys(args.key, args.kiosk_id)
        if args.command == "staff-pin-hash":
            return print_staff_pin_hash(args.pin_from_env)
        if args.command == "flow":
            return run_flow(args)
        if args.command == "doctor":
            return run_doctor(args)
        if args.command == "outbox":
            return run_outbox(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Stopped as stopped:
        return 128 + stopped.signum
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


# -- kiosk demo ----------------------------------------------------------------------------


def run_status_demo(holder_slug: str = "linked") -> int:
    """``kiosk demo --status-only``: a simulated card behind real pcscd, and its status."""
    from kiosk.nfc.pcsc import wait_for_card
    from kiosk.nfc.sim import CardProfile, SimulatedCard, TestHierarchy
    from kiosk.nfc.sim.pcscd import PcscdProcess
    from kiosk.nfc.sim.vpcd import VpcdBridge

    hierarchy = TestHierarchy.ensure()
    if holder_slug not in hierarchy.holders:
        print(f"kiosk demo: no holder {holder_slug!r} (known: {', '.join(sorted(hierarchy.holders))})",
              file=sys.stderr)
        return EXIT_CONFIG
    holder = hierarchy.holder(holder_slug)
    card = SimulatedCard(CardProfile.from_holder(hierarchy, holder))
    pcscd = PcscdProcess()
    try:
        pcscd.start()  # a private pcscd, beside the machine's own if one runs
    except RuntimeError as exc:
        print(f"kiosk demo: {exc}", file=sys.stderr)
        return EXIT_FAILED
    bridge = VpcdBridge(card, port=pcscd.port)
    try:
        bridge.insert()
        reader = pcscd.readers[0]
        if not wait_for_card(reader, present=True, timeout=10):
            print("kiosk demo: the simulated card did not appear on the reader", file=sys.stderr)
            return EXIT_FAILED
        name = holder.spec.name.replace("\u3000", " ")
        print(f"A simulated My Number Card (holder: {name}) is on the virtual reader.\n")
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
        return run_status_demo(args.holder)
    holders = TestHierarchy.ensure().holders
    if args.holder not in holders:
        print(f"kiosk demo: no holder {args.holder!r} (known: {', '.join(sorted(holders))})", file=sys.stderr)
        return EXIT_CONFIG
    return run_demo(language=args.language, use_pcscd=not args.no_pcscd, holder=args.holder)


def make_keys(key: Path, kiosk_id: str | None) -> int:
    """``kiosk keygen``: the key pair, and the command that registers it on the server."""
    from kiosk.keygen import make_key_pair

    try:
        public = make_key_pair(key)
    except FileExistsError as exc:
        print(f"kiosk keygen: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"kiosk keygen: {key.parent} cannot be written ({exc.strerror or exc}): name a folder "
              "this user may write", file=sys.stderr)
        return EXIT_CONFIG
    print(f"private key: {key} (0600; set kiosk.key_file to it)\npublic key: {public}\n"
          f"on the server: kiosk-linkserver register-kiosk --config F --client-id {kiosk_id or 'KIOSK_ID'} "
          f"--public-key {public.name}\n{public.read_text('ascii')}", end="")
    return EXIT_OK


def print_staff_pin_hash(variable: str) -> int:
    import os

    from kiosk.staffpin import hash_staff_pin, staff_pin_problem

    pin = os.environ.get(variable)
    problem = "is not set" if pin is None else staff_pin_problem(pin)
    if pin is None or problem:
        print(f"kiosk staff-pin-hash: {env_problem('--pin-from-env', variable, problem)}", file=sys.stderr)
        return EXIT_CONFIG
    print(f'staff_unlock = "{hash_staff_pin(pin)}"')
    return 0


def run_window(args: argparse.Namespace) -> int:
    import os

    from kiosk.cli_core import CONFIG_ENV
    from kiosk.config import ConfigError, load_config
    from kiosk.staffpin import staff_pin_problem

    path = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    staff_pin = None
    try:
        if path is None:
            raise ConfigError(f"no configuration: pass --config FILE or set ${CONFIG_ENV}")
        settings = load_config(path)
        if args.staff_pin_from_env:
            staff_pin = os.environ.get(args.staff_pin_from_env)
            if not staff_pin or staff_pin_problem(staff_pin):
                raise ConfigError(env_problem("--staff-pin-from-env", args.staff_pin_from_env,
                                              staff_pin_problem(staff_pin) if staff_pin else "is not set"))
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
