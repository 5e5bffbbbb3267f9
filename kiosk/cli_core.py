"""``kiosk flow`` and ``kiosk doctor``: the core services from the command line, for scripts and support."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kiosk.config import ConfigError, KioskSettings, check_server_url, load_config
from kiosk.services.operations import OPERATIONS

CONFIG_ENV = "KIOSK_CONFIG"


def add_parsers(sub: Any) -> None:
    flow = sub.add_parser("flow", help="run one whole operation headless against a card and a server")
    flow.add_argument("operation", choices=sorted(OPERATIONS))
    flow.add_argument("--account", required=True, help="the account ID the request is for")
    flow.add_argument("--pin-from-env", required=True, metavar="VAR",
                      help="the environment variable holding the card's 4-digit PIN")
    flow.add_argument("--config", type=Path, help=f"the kiosk's TOML configuration (default ${CONFIG_ENV})")
    flow.add_argument("--server", help="the linkage server's URL (instead of the configuration's)")
    flow.add_argument("--reader", help="the reader's PC/SC name (default: the configuration's, or the "
                                       "first reader with a card)")
    flow.add_argument("--json", action="store_true", help="one JSON document per line for each step")
    flow.add_argument("--new-password-from-env", metavar="VAR", help="password_reset: the new password")
    flow.add_argument("--cardinfo-pin-from-env", metavar="VAR", help="prelink: the card-info AP's PIN")
    flow.add_argument("--same-pin", action="store_true", help="prelink: the card-info PIN is the same")
    flow.add_argument("--mode", choices=["backup", "forwarding"], help="salvage: what to open")
    flow.add_argument("--confirm-last-try", action="store_true", help="go on with one PIN try left")
    flow.add_argument("--offline-staff", metavar="STAFF_ID",
                      help="the staff member approving at the counter if the server is unreachable")
    flow.add_argument("--card-timeout", type=float, default=30.0,
                      help="seconds to wait for a card on the reader (default 30)")

    doctor = sub.add_parser("doctor", help="check readers, server, TLS, clock, trust anchors, CRL, database")
    doctor.add_argument("--config", type=Path, help=f"the kiosk's TOML configuration (default ${CONFIG_ENV})")


def _settings(args: argparse.Namespace) -> KioskSettings:
    path = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if path is None:
        raise ConfigError(f"no configuration: pass --config FILE or set ${CONFIG_ENV}")
    settings = load_config(path)
    if getattr(args, "server", None):
        check_server_url(args.server.rstrip("/"), Path("--server"))
        settings = dataclasses.replace(settings, server=dataclasses.replace(settings.server,
                                                                             url=args.server.rstrip("/")))
    return settings


def _secret_from_env(name: str | None, what: str) -> bytearray | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"${name} is not set ({what})")
    return bytearray(value.encode("utf-8"))


def run_doctor(args: argparse.Namespace) -> int:
    from kiosk.nfc.pcsc import list_readers
    from kiosk.services.core import KioskCore
    from kiosk.services.doctor import run_checks

    try:
        core = KioskCore.build(_settings(args))
    except (ConfigError, ValueError, OSError) as exc:
        print(f"FAIL configuration: {exc}")
        return 2
    try:
        checks = run_checks(core, list_readers)
    finally:
        core.close()
    for check in checks:
        print(f"{'OK  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return 0 if all(c.ok for c in checks) else 1


#: ``kiosk flow``'s exit code when a signal (Ctrl-C, SIGTERM) ended it, as a shell reports SIGINT.
EXIT_SIGNALLED = 130


@contextlib.contextmanager
def _cancel_on_signals() -> Iterator[tuple[threading.Event, list[str]]]:
    """SIGINT and SIGTERM set the event (the flow then withdraws its request and stops) and are
    named in the list; a second Ctrl-C stops at once."""
    cancel, caught = threading.Event(), []

    def on_signal(signum: int, _frame: object) -> None:
        caught.append(signal.Signals(signum).name)
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield cancel, caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_flow(args: argparse.Namespace) -> int:
    with _cancel_on_signals() as (cancel, caught):
        status = _run_flow(args, cancel)
        if caught and status != 0:  # a flow that finished before it could stop stays finished
            print(json.dumps({"step": "cancelled", "signal": caught[0]}) if args.json else
                  f"cancelled ({caught[0]}): the request was withdrawn", flush=True)
            return EXIT_SIGNALLED
        return status


def _run_flow(args: argparse.Namespace, cancel: threading.Event) -> int:
    from kiosk.nfc.errors import CardError
    from kiosk.nfc.pcsc import PcscConnection, list_readers, wait_for_card
    from kiosk.services.core import KioskCore
    from kiosk.services.headless import Flow, FlowFailed, FlowInput, Step

    def out(document: dict[str, Any], text: str) -> None:
        print(json.dumps(document, ensure_ascii=False) if args.json else text, flush=True)

    def emit(step: Step) -> None:
        detail = " ".join(f"{k}={v}" for k, v in step.detail.items())
        out({"step": step.name, "ms": round(step.seconds * 1000, 2), **step.detail},
            f"{step.name:<22} {step.seconds * 1000:9.1f} ms  {detail}")

    def fail(step: str, code: str, message: str, status: int = 1) -> int:
        out({"step": step, "error": code, "message": message}, f"FAILED at {step}: {code}: {message}")
        return status

    try:
        settings = _settings(args)
        given = FlowInput(
            operation=args.operation, account_id=args.account,
            pin=_secret_from_env(args.pin_from_env, "the PIN") or bytearray(),
            new_password=_secret_from_env(args.new_password_from_env, "the new password"),
            cardinfo_pin=_secret_from_env(args.cardinfo_pin_from_env, "the card-info PIN"),
            same_pin_for_name=args.same_pin, confirm_last_try=args.confirm_last_try, mode=args.mode,
            offline_staff_id=args.offline_staff,
            on_user_code=lambda code, uri: out({"step": "show_user_code", "user_code": code, "uri": uri},
                                               f"sign in on your phone: {uri}  (code {code})"),
        )
        core = KioskCore.build(settings)
    except (ConfigError, ValueError, OSError) as exc:
        return fail("start", "config", str(exc), 2)
    try:
        core.start()
        reader = args.reader or settings.reader.name
        try:
            if not reader:
                readers = list_readers()
                if not readers:
                    return fail("card", "reader.none", "no card reader")
                reader = readers[0]
            if not wait_for_card(reader, True, args.card_timeout):
                return fail("card", "card.absent", f"no card on {reader} within {args.card_timeout:g} s")
            card = PcscConnection(reader, timeout=settings.reader.timeout_seconds)
        except CardError as exc:
            return fail("card", exc.code, str(exc))
        try:
            result = Flow(core, emit, cancel).run(card, given)
        except FlowFailed as exc:
            return fail(exc.step, exc.code, exc.message)
        finally:
            card.close()
        out({"step": "done", "result": result},
            "done: " + json.dumps(result, ensure_ascii=False, sort_keys=True))
        return 0
    finally:
        given.wipe()
        core.close()
