"""``kiosk-linkserver``: run the server (from a configuration or as the demo) and administer it."""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from linkserver import staffcli
from linkserver.config import ConfigError, load_settings
from linkserver.logsafe import log_config

logger = logging.getLogger("linkserver")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8470


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk-linkserver",
        description="The reference linkage server for the My Number Card help-desk kiosk.",
    )
    parser.add_argument("--config", type=Path, help="serve with this TOML configuration file")
    parser.add_argument("--demo", action="store_true",
                        help="serve the demo: the simulated card's test hierarchy, demo accounts and clients")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the port (default 1; rate limits count per process)")
    parser.add_argument("--hierarchy", type=Path,
                        help="the demo's test hierarchy folder (default: kiosk sim's)")
    parser.add_argument("--state", type=Path,
                        help="the demo's folder for keys, configuration and database (default: a new "
                             "temporary folder, removed on exit)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--config", type=Path, required=True, dest="sub_config")

    register = commands.add_parser("register-kiosk",
                                   help="register a kiosk (or staff) client from its public key")
    register.add_argument("--config", type=Path, required=True, dest="sub_config")
    register.add_argument("--client-id", required=True)
    register.add_argument("--public-key", type=Path, required=True,
                          help="PEM public key (RSA ≥ 2048 or EC P-256)")
    register.add_argument("--scope", action="append", dest="scopes",
                          help="a scope to grant (repeat; default: verify, operate, offline)")
    register.add_argument("--replace", action="store_true", help="re-key an existing client")

    renewals = commands.add_parser("import-renewals",
                                   help="import the JPKI platform's old/new serial pairs (CSV)")
    renewals.add_argument("--config", type=Path, required=True, dest="sub_config")
    renewals.add_argument("csv", type=Path, help="CSV with the header old_serial,new_serial")

    check = commands.add_parser("check-audit", help="verify the audit log's hash chain")
    check.add_argument("--config", type=Path, required=True, dest="sub_config")
    send = commands.add_parser("send-mail", help="send the queued notices over SMTP and the salvage "
                                                 "hand-offs to their webhook, until stopped")
    send.add_argument("--config", type=Path, required=True, dest="sub_config")
    send.add_argument("--once", action="store_true", help="send what is due now, then stop")
    staffcli.add_parsers(commands)
    shots = commands.add_parser("screenshots", help="every staff console page in Japanese and English as "
                                                    "PNG (PAGE-LANG.png), from the demo, for review")
    shots.add_argument("--out", type=Path, required=True, help="the folder to write them into")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
        return _admin(args)
    except ConfigError as exc:
        print(f"kiosk-linkserver: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"kiosk-linkserver: {exc}", file=sys.stderr)
        return 1


def _admin(args: argparse.Namespace) -> int:
    from linkserver.admin import check_audit, import_renewals, register_client
    from linkserver.anchor import CheckpointError, open_database
    from linkserver.ppid import load_renewals_csv
    from linkserver.tokens import DEFAULT_KIOSK_SCOPES

    settings = load_settings(args.sub_config)
    db = open_database(settings)
    try:
        db.migrate()
        if args.command == "migrate":
            print("the database schema is up to date")
        elif args.command == "register-kiosk":
            client = register_client(db, args.client_id, args.public_key.read_bytes(),
                                     args.scopes or DEFAULT_KIOSK_SCOPES, replace=args.replace)
            print(f"registered {client.client_id} with scopes: {client.scopes}")
        elif args.command == "import-renewals":
            added = import_renewals(db, load_renewals_csv(args.csv))
            print(f"imported {added} new renewal pair(s); restart the server to use them")
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


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from linkserver.http_guard import UVICORN_OPTIONS
    from linkserver.server import build_server

    if args.demo == (args.config is not None):
        print("kiosk-linkserver: give either --config FILE or --demo", file=sys.stderr)
        return 2
    if not 1 <= args.workers <= 64:
        print("kiosk-linkserver: --workers must be between 1 and 64", file=sys.stderr)
        return 2
    temporary: Path | None = None
    if args.demo:
        from linkserver.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, desk_sign_in, prepare_demo

        state = args.state
        if state is None:
            temporary = state = Path(tempfile.mkdtemp(prefix="kiosk-linkserver-demo-"))
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
                        log_config=log_config(args.log_level), **UVICORN_OPTIONS)
        else:
            server = build_server(settings)
            uvicorn.run(server.app, host=args.host, port=args.port, log_level=args.log_level,
                        log_config=log_config(args.log_level), **UVICORN_OPTIONS)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
