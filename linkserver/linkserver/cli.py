"""``kiosk-linkserver``: run the server (from a configuration or as the demo) and administer it."""

from __future__ import annotations

import argparse
import errno
import importlib.util
import logging
import logging.config
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from linkserver import staffcli
from linkserver.config import ConfigError, load_settings
from linkserver.logsafe import log_config

logger = logging.getLogger("linkserver")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8470


LOG_LEVELS = ("debug", "info", "warning", "error")
EXIT_CODES = """exit codes:
  0    done
  1    the command could not do it (the message says why)
  2    a wrong option, setting, settings file or state folder (the message names it)
  3    check-audit: the audit chain is broken; check-backends: a backend cannot be used
  4    check-audit: the chain was cut short or rewritten (it disagrees with its checkpoints)
  5    the port to serve on is taken
  130  interrupted"""
#: The exit code when the port to serve on is taken.
PORT_TAKEN = 5


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kiosk-linkserver")
    except PackageNotFoundError:
        return "(not installed)"


def demo_installed() -> bool:
    """Whether the demo (and the console's screenshots, made from it) is here: a checkout has it,
    the kiosk-linkserver package leaves it out with the simulated card it needs."""
    return importlib.util.find_spec("linkserver.demo") is not None


def _parser() -> argparse.ArgumentParser:
    demo = demo_installed()
    parser = argparse.ArgumentParser(
        prog="kiosk-linkserver",
        description="The reference linkage server for the My Number Card help-desk kiosk.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kiosk-linkserver {_version()}")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="the server's settings (TOML): serve with them, or the settings a command uses")
    if demo:
        parser.add_argument("--demo", action="store_true",
                            help="serve the demo: the simulated card's test hierarchy, demo accounts and "
                                 "clients")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the port (default 1; the rate limits, nonces and "
                             "audit chain are shared through the database: PostgreSQL for more than one)")
    if demo:
        parser.add_argument("--hierarchy", type=Path,
                            help="the demo's test hierarchy folder (default: kiosk sim's)")
        parser.add_argument("--state", type=Path,
                            help="the demo's folder for keys, configuration and database (default: a new "
                                 "temporary folder, removed on exit)")
    parser.set_defaults(demo=False, hierarchy=None, state=None)
    parser.add_argument("--log-level", default="info", choices=LOG_LEVELS,
                        help="how much the server logs (default info)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    _client_commands(commands)
    _setup_commands(commands)
    _mail_commands(commands)
    backends = commands.add_parser("check-backends",
                                   help="bind to the directory, log in to the MFA server and connect to "
                                        "the mail server, saying for each what was found (changes nothing)")
    backends.add_argument("--config", type=Path, required=True, dest="sub_config")
    staffcli.add_parsers(commands)
    if demo:
        shots = commands.add_parser("screenshots", help="every staff console page in Japanese and English "
                                                        "as PNG (PAGE-LANG.png), from the demo, for review")
        shots.add_argument("--out", type=Path, required=True, help="the folder to write them into")
    _finish_commands(commands)
    return parser


def _client_commands(commands: Any) -> None:
    """The database's schema, and the kiosk and staff clients."""
    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--config", type=Path, required=True, dest="sub_config")

    register = commands.add_parser("register-kiosk",
                                   help="register a kiosk (or staff) client from its public key")
    register.add_argument("--config", type=Path, required=True, dest="sub_config")
    register.add_argument("--client-id", required=True,
                          help="the client's ID: 1-64 letters, digits, '-', '_' or '.' (a kiosk's is in "
                               "its configuration, kiosk.id)")
    register.add_argument("--public-key", type=Path, required=True,
                          help="PEM public key (RSA ≥ 2048 or EC P-256)")
    register.add_argument("--scope", action="append", dest="scopes",
                          help="a scope to grant (repeat; default: a new client verify, operate, offline; "
                               "a re-keyed one keeps its scopes)")
    register.add_argument("--replace", action="store_true", help="re-key an existing client")

    clients = commands.add_parser("clients", help="list the registered kiosk and staff clients, or "
                                                  "revoke or enable one (its tokens stop within a second)")
    clients.add_argument("action", choices=["list", "revoke", "enable"])
    clients.add_argument("client_id", nargs="?", help="the client to revoke or enable")
    clients.add_argument("--config", type=Path, required=True, dest="sub_config")


def _setup_commands(commands: Any) -> None:
    """What a deployment makes or imports once, and the audit check."""
    renewals = commands.add_parser("import-renewals",
                                   help="import the JPKI platform's old/new serial pairs (CSV)")
    renewals.add_argument("--config", type=Path, required=True, dest="sub_config")
    renewals.add_argument("csv", type=Path, help="CSV with the header old_serial,new_serial")

    init = commands.add_parser("init", help="make the secrets the settings name that do not exist yet "
                                            "(PPID secret, audit key, signing and sealing keys; never "
                                            "replaces one)")
    init.add_argument("--config", type=Path, required=True, dest="sub_config")
    accounts = commands.add_parser("import-accounts",
                                   help="add or update accounts of the server's own directory from CSV "
                                        "(for a trial; no passwords)")
    accounts.add_argument("--config", type=Path, required=True, dest="sub_config")
    accounts.add_argument("csv", type=Path, help="CSV with the header "
                          "account_id,display_name,email[,status,left_on,mfa_methods]")
    check = commands.add_parser("check-audit", help="verify the audit log's hash chain")
    check.add_argument("--config", type=Path, required=True, dest="sub_config")


def _mail_commands(commands: Any) -> None:
    send = commands.add_parser("send-mail", help="send the queued notices over SMTP and the salvage "
                                                 "hand-offs to their webhook, until stopped")
    send.add_argument("--config", type=Path, required=True, dest="sub_config")
    send.add_argument("--once", action="store_true", help="send what is due now, then stop")


def _finish_commands(commands: Any) -> None:
    """What every command shares: ``--config FILE`` (which may come before the command too) and
    ``--log-level`` (after the command as before it), each explained, and the exit codes."""
    for sub in commands.choices.values():
        for action in sub._actions:
            if "--config" in action.option_strings:
                action.required, action.metavar, action.default = False, "FILE", None
                action.help = "the server's settings (TOML), as for serving; may also come before the command"
        sub.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
                         help="how much the server logs (default info)")
        sub.epilog = EXIT_CODES
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        for action in sub._actions:  # an action's own words: "staff add ... --config FILE" too
            if isinstance(action, argparse._SubParsersAction):
                for leaf in action.choices.values():
                    if not any("--config" in known.option_strings for known in leaf._actions):
                        leaf.add_argument("--config", type=Path, metavar="FILE", dest="sub_config",
                                          default=argparse.SUPPRESS,
                                          help="the server's settings (TOML); may also come before")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command not in (None, "screenshots"):
        args.sub_config = getattr(args, "sub_config", None) or args.config
        if args.sub_config is None:
            parser.error(f"{args.command} needs --config FILE (the server's settings)")
    logging.config.dictConfig(log_config(args.log_level))
    if args.log_level != "debug":
        # Alembic reports each step of a migration check at INFO; that is noise beside a command's answer.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if args.command is None:
            return _serve(args)
        if args.command == "screenshots":
            from linkserver.console.screenshots import take

            written = take(args.out, args.hierarchy)
            print(f"wrote {len(written)} screenshots into {args.out}")
            return 0
        if args.command == "check-backends":
            return _check_backends(args)
        if args.command == "init":
            return _init(args)
        return _admin(args)
    except ConfigError as exc:
        print(f"kiosk-linkserver: {exc}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        source = getattr(args, "sub_config", None) or args.config or "the demo's settings"
        reason = str(exc.orig).strip().split("\n")[0] if exc.orig is not None else type(exc).__name__
        print(f"kiosk-linkserver: {source}: server.database_url: the database cannot be used ({reason}); "
              "check that the database server runs and that the URL, user and password are right",
              file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"kiosk-linkserver: {exc}", file=sys.stderr)
        return 1


def _check_backends(args: argparse.Namespace) -> int:
    """Exit 0 when every backend can be used, 3 when one cannot (each said on its own line)."""
    from linkserver.backends import check_backends

    findings = check_backends(load_settings(args.sub_config))
    for finding in findings:
        print(finding.line(), file=sys.stdout if finding.ok else sys.stderr)
    return 0 if all(finding.ok for finding in findings) else 3


def _admin(args: argparse.Namespace) -> int:
    from linkserver.admin import check_audit, import_renewals, register_client
    from linkserver.anchor import CheckpointError, open_database
    from linkserver.ppid import load_renewals_csv

    settings = load_settings(args.sub_config)
    db = open_database(settings)
    try:
        db.migrate()
        if args.command == "migrate":
            print("the database schema is up to date")
        elif args.command == "register-kiosk":
            client = register_client(db, args.client_id, args.public_key.read_bytes(), args.scopes,
                                     replace=args.replace)
            print(f"registered {client.client_id} with scopes: {client.scopes}")
        elif args.command == "import-renewals":
            added = import_renewals(db, load_renewals_csv(args.csv))
            print(f"imported {added} new renewal pair(s); restart the server to use them")
        elif args.command == "clients":
            return _clients(db, args)
        elif args.command == "import-accounts":
            return _import_accounts(db, settings, args)
        elif args.command == "check-audit":
            return _report_audit(check_audit, db, CheckpointError)
        elif args.command == "send-mail":
            return _send_mail(settings, db, args.once)
        elif args.command in ("staff", "counter"):
            return staffcli.run(args, staffcli.directory_for(db, settings))
    finally:
        db.dispose()
    return 0


#: Set (by the fault tests): the sender prints "sent MESSAGE-ID" after the mail server's 250 and then
#: stops where it is, before recording the send, so a test can kill it exactly there.
HOLD_AFTER_SEND_ENV = "KIOSK_LINKSERVER_HOLD_AFTER_SEND"


def _hold_after_send(message_id: str) -> None:
    print(f"sent {message_id}", flush=True)
    threading.Event().wait()


def _send_mail(settings: Any, db: Any, once: bool) -> int:
    """The sender as its own process: one pass with ``once``, else until SIGTERM or SIGINT."""
    from linkserver.mailer import build_sender

    hold = _hold_after_send if os.environ.get(HOLD_AFTER_SEND_ENV) else None
    sender = build_sender(settings, db, after_send=hold)
    if sender is None:
        print("kiosk-linkserver: nothing to send: notifier.backend is \"outbox\" and salvage.handoff is "
              "not \"webhook\"", file=sys.stderr)
        return 2
    if once:
        drained = sender.run_once()
        print(f"{drained.sent} sent, {drained.retried} to retry later, {drained.failed} failed for good")
        return 0
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    sender.run(stop)
    return 0


def _init(args: argparse.Namespace) -> int:
    from linkserver.provision import make_secrets

    for key, path, made in make_secrets(args.sub_config):
        print(f"{'made' if made else 'kept'} secrets.{key}: {path}")
    load_settings(args.sub_config)  # the rest of the settings, now that the secrets exist
    print(f"the settings are complete; next: kiosk-linkserver migrate --config {args.sub_config}")
    return 0


def _import_accounts(db: Any, settings: Any, args: argparse.Namespace) -> int:
    from linkserver.provision import import_accounts, parse_accounts_csv

    if settings.directory is not None:
        print("kiosk-linkserver: the accounts live in the LDAP directory ([directory] backend = \"ldap\"); "
              "import-accounts fills the server's own directory only", file=sys.stderr)
        return 2
    rows = parse_accounts_csv(args.csv.read_text("utf-8"), str(args.csv))
    added, updated = import_accounts(db, rows)
    print(f"imported {len(rows)} account(s): {added} new, {updated} updated")
    return 0


def _clients(db: Any, args: argparse.Namespace) -> int:
    from linkserver.admin import list_clients, set_client_enabled

    if args.action == "list":
        for client in list_clients(db):
            state = "enabled" if client.enabled else "REVOKED"
            print(f"{client.client_id:<32} {state:<8} {client.counter_id or '-':<16} {client.scopes}")
        return 0
    if not args.client_id:
        print(f"kiosk-linkserver: clients {args.action} needs the client's ID", file=sys.stderr)
        return 2
    enable = args.action == "enable"
    try:
        changed = set_client_enabled(db, args.client_id, enable, by=f"kiosk-linkserver clients {args.action}")
    except LookupError as exc:
        print(f"kiosk-linkserver: {exc.args[0]}", file=sys.stderr)
        return 1
    done = "enabled" if enable else "revoked: its tokens stop working within a second"
    print(f"{args.client_id} {done}" if changed else f"{args.client_id} was already {args.action}d")
    return 0


def _report_audit(check: Any, db: Any, checkpoint_error: type[Exception]) -> int:
    """Exit 0: intact; 3: the chain is broken; 4: it does not match its signed checkpoints."""
    try:
        report = check(db)
    except checkpoint_error as exc:
        print(f"the audit log's checkpoints are NOT TRUSTWORTHY: {exc}")
        return 4
    if report.anchored:
        print(f"the audit log does NOT MATCH its checkpoints at entry {report.broken_at}: {report.reason} "
              f"({report.entries} entries read)")
        return 4
    if not report.ok:
        print(f"the audit chain is BROKEN at entry {report.broken_at}: {report.reason} "
              f"({report.entries} entries read)")
        return 3
    print(f"the audit chain is intact: {report.entries} entries")
    return 0


def _port_taken(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host``:``port``, or None when it can (checked by binding
    as uvicorn will, before anything is printed or written)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"port {port} on {host} is already in use (another server?): stop it, or give --port"
        return f"cannot listen on {host} port {port} ({exc.strerror or exc}): check --host and --port"
    return None


def _exit_on_signals() -> None:
    """SIGTERM and SIGHUP end the process by SystemExit, so ``finally`` blocks run.

    uvicorn handles SIGTERM while it serves (a graceful stop), and raises it again once it has
    stopped; with the default action the process would then die before removing the demo's
    temporary folder. SIGHUP, which uvicorn does not handle, is turned into that same SIGTERM.
    """
    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    def hang_up(_signum: int, _frame: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGHUP, hang_up)


def _serve_refused(args: argparse.Namespace) -> tuple[str, int] | None:
    """Why serving is refused before anything is printed or written, with the exit code; or None."""
    if args.demo == (args.config is not None):
        return "give either --config FILE or --demo" if demo_installed() else "give --config FILE", 2
    if not 1 <= args.workers <= 64:
        return "--workers must be between 1 and 64", 2
    taken = _port_taken(args.host, args.port)
    if taken is not None:
        return taken, PORT_TAKEN if "in use" in taken else 2
    if args.hierarchy is not None and not args.demo:
        return "--hierarchy is the demo's test hierarchy: give it with --demo only", 2
    return None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from linkserver.http_guard import UVICORN_OPTIONS
    from linkserver.server import app_to_serve

    refused = _serve_refused(args)
    if refused is not None:
        words, code = refused
        print(f"kiosk-linkserver: {words}", file=sys.stderr)
        return code
    temporary: Path | None = None
    if args.demo:
        from linkserver.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, desk_sign_in, prepare_demo

        state = args.state
        if state is None:
            temporary = state = Path(tempfile.mkdtemp(prefix="kiosk-linkserver-demo-"))
            _exit_on_signals()  # so that the temporary folder, with its private keys, is removed
        setup = prepare_demo(state, args.hierarchy, issuer=f"http://{args.host}:{args.port}")
        settings, config_path = setup.settings, setup.config_path
        print(f"demo state in {state}\n"
              f"  kiosk client {setup.kiosk_id}, private key {setup.kiosk_key_path}\n"
              f"  staff client {setup.staff_id}, private key {setup.staff_key_path}\n"
              f"  accounts {', '.join(a.account_id for a in DEMO_ACCOUNTS)} (password {DEMO_PASSWORD})\n"
              f"{desk_sign_in(state, f'http://{args.host}:{args.port}')}\n"
              f"  OpenAPI at http://{args.host}:{args.port}/openapi.json", flush=True)
    else:
        settings, config_path = load_settings(args.config), args.config.resolve()
    tls: dict[str, Any] = {}
    if settings.tls_cert_file is not None:
        tls = {"ssl_certfile": str(settings.tls_cert_file), "ssl_keyfile": str(settings.tls_key_file)}
    try:
        if args.workers > 1:
            # Workers import the app themselves; migrate once here so they do not race to.
            from linkserver.anchor import open_database
            from linkserver.server import CONFIG_ENV

            db = open_database(settings)
            db.migrate()
            db.dispose()
            os.environ[CONFIG_ENV] = str(config_path)
            uvicorn.run("linkserver.server:worker_app", factory=True, host=args.host, port=args.port,
                        workers=args.workers, log_level=args.log_level,
                        log_config=log_config(args.log_level), **UVICORN_OPTIONS, **tls)
        else:
            uvicorn.run(app_to_serve(settings), host=args.host, port=args.port, log_level=args.log_level,
                        log_config=log_config(args.log_level), **UVICORN_OPTIONS, **tls)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
