"""``kiosk flow`` and ``kiosk doctor``: the core services from the command line, for scripts and support."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.config import ConfigError, KioskSettings, check_server_url, load_config
from kiosk.exitcodes import EXIT_CONFIG, EXIT_FAILED, exit_codes
from kiosk.linkage.models import OPERATION_KINDS

if TYPE_CHECKING:
    from kiosk.services.headless import FlowInput

CONFIG_ENV = "KIOSK_CONFIG"
#: What an environment variable's name looks like (a PIN or a password does not, mostly).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


FLOW_DESCRIPTION = """\
Run one whole operation headless: wait for a card, check the PIN on it, verify against the
linkage server, send the request and wait for the staff's decision, then print the result.
Each step is printed with its time (one JSON document per line with --json).

With no --reader (and no reader.name in the configuration) the first reader with a card is
used, waiting up to --card-timeout for one. The PIN's format, and for password_reset the new
password against the server's policy, are checked before anything is requested. An operation
that needs staff approval waits for it up to the configuration's
server.approval_timeout_seconds (the wait can be interrupted with Ctrl-C). Offline, with
--offline-staff and --offline-pin-from-env (that member's offline PIN, checked against the staff
roster the kiosk last received), the evidence is recorded in the kiosk's outbox and a one-time
voucher is printed; it is sent to the server when it is back (kiosk outbox list / sync).
"""

FLOW_EXIT_CODES = """\
exit codes:
  0    done: the result is printed last
  1    a step failed: its error code and message are printed last (card, PIN, server,
       staff refused or did not decide in time, ...)
  2    the configuration or the input was refused before any operation was requested: a
       bad or missing configuration, an unset --*-from-env variable, a malformed PIN, a
       missing or weak new password, an unknown --reader
  130  interrupted (Ctrl-C)
"""


DOCTOR_DESCRIPTION = """\
Check every part the kiosk depends on and print one line for each: OK, or FAIL and what to do.
The doctor only looks: it creates nothing, and writes nothing to the kiosk's database.
"""


def add_parsers(sub: Any) -> None:
    flow = sub.add_parser("flow", help="run one whole operation headless against a card and a server",
                          description=FLOW_DESCRIPTION, epilog=FLOW_EXIT_CODES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    flow.add_argument("operation", choices=sorted(OPERATION_KINDS))
    flow.add_argument("--account", required=True, help="the account ID the request is for")
    flow.add_argument("--pin-from-env", required=True, metavar="VAR",
                      help="the environment variable holding the card's 4-digit PIN")
    flow.add_argument("--config", type=Path, help=f"the kiosk's TOML configuration (default ${CONFIG_ENV})")
    flow.add_argument("--server", help="the linkage server's URL (instead of the configuration's)")
    flow.add_argument("--reader", help="the reader's PC/SC name (default: the configuration's, or the "
                                       "first reader with a card)")
    flow.add_argument("--json", action="store_true", help="one JSON document per line for each step")
    flow.add_argument("--new-password-from-env", metavar="VAR",
                      help="password_reset: the environment variable holding the new password "
                           "(checked against the server's policy before the request)")
    flow.add_argument("--cardinfo-pin-from-env", metavar="VAR",
                      help="prelink: the environment variable holding the card-info AP's PIN")
    flow.add_argument("--same-pin", action="store_true", help="prelink: the card-info PIN is the same")
    flow.add_argument("--mode", choices=["backup", "forwarding"], help="salvage: what to open")
    flow.add_argument("--confirm-last-try", action="store_true", help="go on with one PIN try left")
    flow.add_argument("--offline-staff", metavar="STAFF_ID",
                      help="the staff member approving at the counter if the server is unreachable")
    flow.add_argument("--offline-pin-from-env", metavar="VAR",
                      help="the environment variable holding that staff member's offline PIN")
    flow.add_argument("--card-timeout", type=float, default=30.0,
                      help="seconds to wait for a card on the reader, or on any reader (default 30)")

    doctor = sub.add_parser("doctor", help="check readers, server, TLS, clock, trust anchors, CRL, database",
                            description=DOCTOR_DESCRIPTION, epilog=exit_codes(EXIT_FAILED, EXIT_CONFIG),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    doctor.add_argument("--config", type=Path, help=f"the kiosk's TOML configuration (default ${CONFIG_ENV})")
    doctor.add_argument("--server", metavar="URL",
                        help="check this linkage server instead of the configuration's server.url")


def load_settings(args: argparse.Namespace) -> KioskSettings:
    path = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if path is None:
        raise ConfigError(f"no configuration: pass --config FILE or set ${CONFIG_ENV}")
    settings = load_config(path)
    if getattr(args, "server", None):
        check_server_url(args.server.rstrip("/"), Path("--server"))
        settings = dataclasses.replace(settings, server=dataclasses.replace(settings.server,
                                                                             url=args.server.rstrip("/")))
    return settings


def env_problem(option: str, name: str, what: str = "is not set") -> str:
    """Why the variable named by ``option`` cannot be used, without its name: a name that is
    really the secret itself (an easy mistake) must never reach the screen."""
    text = f"the environment variable named by {option} {what}"
    if not ENV_NAME.fullmatch(name):
        text += (f"; {option} takes the name of the environment variable that holds the secret "
                 "(such as CARD_PIN), not the secret itself")
    return text


def secret_from_env(option: str, name: str | None) -> bytearray | None:
    """The secret held by the environment variable ``name`` (given as ``option``)."""
    if name is None:
        return None
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(env_problem(option, name))
    return bytearray(value.encode("utf-8"))


class JsonLogFormatter(logging.Formatter):
    """A log record as one JSON line: ``{"warning": "...", "code": "..."}``, the level as the key."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({record.levelname.lower(): record.getMessage(),
                           "code": str(getattr(record, "code", record.name))}, ensure_ascii=False)


def run_doctor(args: argparse.Namespace) -> int:
    import tempfile

    from kiosk.nfc.pcsc import list_readers, wait_for_any_card
    from kiosk.services.core import KioskCore
    from kiosk.services.doctor import run_checks

    try:
        settings = load_settings(args)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"FAIL configuration: {exc}")
        return EXIT_CONFIG
    missing = None if settings.store_path.is_file() else settings.store_path
    with contextlib.ExitStack() as stack:
        if missing is not None:
            # The doctor creates nothing of the kiosk's: it looks at an empty store of its own.
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="kiosk-doctor-"))
            settings = dataclasses.replace(settings, data_dir=Path(scratch))
        try:
            core = KioskCore.build(settings)
        except (ConfigError, ValueError, OSError) as exc:
            print(f"FAIL configuration: {exc}")
            return EXIT_CONFIG
        stack.callback(core.close)
        checks = run_checks(core, list_readers, lambda readers: wait_for_any_card(readers, 0),
                            store_missing=missing)
    for check in checks:
        print(f"{'OK  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return 0 if all(c.ok for c in checks) else EXIT_FAILED


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


def pick_reader(wanted: str, timeout: float) -> str:
    """The reader named ``wanted``, or with an empty name the first reader with a card, once a card
    is on it (waiting up to ``timeout``); a FlowFailed saying what is missing otherwise."""
    from kiosk.nfc.pcsc import list_readers, wait_for_any_card, wait_for_card
    from kiosk.services.headless import FlowFailed

    readers = list_readers()
    if wanted and wanted not in readers:
        raise FlowFailed("card", "reader.unknown", f"no reader named {wanted!r}; readers: "
                         f"{', '.join(readers) or 'none'}", bad_input=True)
    if not readers:
        raise FlowFailed("card", "reader.none", "no card reader")
    if wanted:
        if not wait_for_card(wanted, True, timeout):
            raise FlowFailed("card", "card.absent", f"no card on {wanted} within {timeout:g} s")
        return wanted
    found = wait_for_any_card(readers, timeout)
    if found is None:
        raise FlowFailed("card", "card.absent",
                         f"no card on any reader ({', '.join(readers)}) within {timeout:g} s")
    return found


def _flow_input(args: argparse.Namespace, out: Callable[[dict[str, Any], str], None]) -> FlowInput:
    from kiosk.services.headless import FlowInput, check_pin

    given = FlowInput(
        operation=args.operation, account_id=args.account,
        pin=secret_from_env("--pin-from-env", args.pin_from_env) or bytearray(),
        same_pin_for_name=args.same_pin, confirm_last_try=args.confirm_last_try, mode=args.mode,
        offline_staff_id=args.offline_staff,
        on_user_code=lambda code, uri: out({"step": "show_user_code", "user_code": code, "uri": uri},
                                           f"sign in on your phone: {uri}  (code {code})"),
    )
    try:
        check_pin(given.pin)
        given.new_password = secret_from_env("--new-password-from-env", args.new_password_from_env)
        given.cardinfo_pin = secret_from_env("--cardinfo-pin-from-env", args.cardinfo_pin_from_env)
        given.offline_pin = secret_from_env("--offline-pin-from-env", args.offline_pin_from_env)
    except BaseException:
        given.wipe()
        raise
    return given


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
    from kiosk.nfc.pcsc import PcscConnection
    from kiosk.services.core import KioskCore
    from kiosk.services.headless import Flow, FlowFailed, Step

    def out(document: dict[str, Any], text: str) -> None:
        print(json.dumps(document, ensure_ascii=False) if args.json else text, flush=True)

    def emit(step: Step) -> None:
        detail = " ".join(f"{k}={v}" for k, v in step.detail.items())
        out({"step": step.name, "ms": round(step.seconds * 1000, 2), **step.detail},
            f"{step.name:<22} {step.seconds * 1000:9.1f} ms  {detail}")

    def fail(exc: FlowFailed) -> int:
        document: dict[str, Any] = {"step": exc.step, "error": exc.code, "message": exc.message}
        text = f"FAILED at {exc.step}: {exc.code}: {exc.message}"
        if exc.problems:
            document.update(problems=list(exc.problems), rules=list(exc.problem_words))
            text += "".join(f"\n  - {words}" for words in exc.problem_words)
        out(document, text)
        return 2 if exc.bad_input else 1

    try:
        settings = load_settings(args)
        given = _flow_input(args, out)
    except (ConfigError, ValueError, OSError) as exc:
        return fail(FlowFailed("start", "config", str(exc), bad_input=True))
    except FlowFailed as exc:
        return fail(exc)
    try:
        core = KioskCore.build(settings)
    except (ConfigError, ValueError, OSError) as exc:
        given.wipe()
        return fail(FlowFailed("start", "config", str(exc), bad_input=True))
    try:
        core.start()
        try:
            reader = pick_reader(args.reader or settings.reader.name, args.card_timeout)
            card = PcscConnection(reader, timeout=settings.reader.timeout_seconds)
        except CardError as exc:
            return fail(FlowFailed("card", exc.code, str(exc)))
        try:
            result = Flow(core, emit, cancel).run(card, given)
        finally:
            card.close()
        out({"step": "done", "result": result},
            "done: " + json.dumps(result, ensure_ascii=False, sort_keys=True))
        if "outbox_key" in result:
            core.outbox.voucher_shown(result["outbox_key"])  # printed: the user has it
        return 0
    except FlowFailed as exc:
        return fail(exc)
    finally:
        given.wipe()
        core.close()
