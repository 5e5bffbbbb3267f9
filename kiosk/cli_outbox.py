"""``kiosk outbox``: the offline evidence waiting for the server, listed, and sent by hand.

Neither command shows a voucher: the kiosk never stores one (only its hash, which is not shown
either). An item whose voucher was never shown to the user (the kiosk stopped between recording
the evidence and showing it) is listed so, and the server is told when the item is sent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from kiosk.cli_core import CONFIG_ENV, load_settings
from kiosk.config import ConfigError, KioskSettings
from kiosk.exitcodes import EXIT_CONFIG, EXIT_FAILED, exit_codes
from kiosk.services.outbox import age_words
from kiosk.store import KioskStore, OutboxItem

#: Every item the store keeps (settled ones until retention removes them).
ALL = 1_000_000

LIST_EPILOG = """\
exit codes:
  0  listed (an empty outbox too)
  2  the configuration could not be used
"""
SYNC_EPILOG = """\
exit codes:
  0  nothing is left waiting: every item has its fate (accepted or refused)
  1  an item is still waiting: the server could not be reached, refused the batch, or asked
     for it again later; each item's last error is printed
  2  the configuration could not be used
"""


def add_parsers(sub: Any) -> None:
    outbox = sub.add_parser("outbox",
                            help="the offline evidence waiting for the server: list it, send it now",
                            description="The offline evidence waiting for the server: list it, send it now.",
                            epilog=exit_codes(EXIT_FAILED, EXIT_CONFIG),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = outbox.add_subparsers(dest="outbox_command", required=True)
    listing = commands.add_parser(
        "list", help="each item: its age, attempts, last error, fate, whether its voucher was shown",
        description="List the offline outbox, oldest first: each item's key, operation, masked "
                    "account, age, delivery attempts, last error, fate, and whether its voucher was "
                    "shown to the user. Never a voucher.",
        epilog=LIST_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sync = commands.add_parser(
        "sync", help="send every waiting item now and report each one's fate",
        description="Send every item still waiting to the linkage server now, whatever the backoff "
                    "of the background sync, and report each one's fate.",
        epilog=SYNC_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sync.add_argument("--server", help="the linkage server's URL (instead of the configuration's)")
    for command in (listing, sync):
        command.add_argument("--config", type=Path,
                             help=f"the kiosk's TOML configuration (default ${CONFIG_ENV})")
        command.add_argument("--json", action="store_true", help="print one JSON document")


def run_outbox(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args)
        if args.outbox_command == "list":
            with KioskStore(settings.store_path) as store:
                return _print_list(store.outbox_items(ALL)[::-1], args.json)
        return _sync(args, settings)
    except (ConfigError, ValueError, OSError) as exc:
        if args.json:
            print(json.dumps({"error": "config", "message": str(exc)}, ensure_ascii=False))
        else:
            print(f"kiosk outbox: {exc}")
        return 2


def item_document(item: OutboxItem, now: dt.datetime) -> dict[str, Any]:
    return {"key": item.idempotency_key, "kind": item.kind, "account": item.account_hint,
            "created_at": item.created_at.isoformat(),
            "age_seconds": round((now - item.created_at).total_seconds(), 1), "attempts": item.attempts,
            "last_error": item.last_error, "fate": item.fate, "error_code": item.error_code,
            "evidence_id": item.evidence_id, "voucher_shown": item.voucher_shown_at is not None}


def fate_words(item: OutboxItem) -> str:
    if item.fate == "refused":
        return f"refused ({item.error_code})"
    if item.fate is not None:
        return item.fate
    return f"still waiting ({item.last_error})" if item.last_error else "waiting"


def _print_list(items: list[OutboxItem], as_json: bool) -> int:
    now = dt.datetime.now(dt.UTC)
    if as_json:
        documents = [item_document(item, now) for item in items]
        print(json.dumps({"items": documents}, ensure_ascii=False, indent=2))
        return 0
    if not items:
        print("The outbox is empty.")
    for item in items:
        attempts = f"{item.attempts} attempt{'' if item.attempts == 1 else 's'}"
        shown = "voucher shown" if item.voucher_shown_at is not None else "voucher never shown"
        print(f"{item.idempotency_key}  {item.kind:<14} {item.account_hint}  "
              f"{age_words(now - item.created_at)} old  {attempts}  {fate_words(item)}  {shown}")
    return 0


def _sync(args: argparse.Namespace, settings: KioskSettings) -> int:
    from kiosk.services.core import KioskCore

    core = KioskCore.build(settings)
    try:
        waiting = [item.idempotency_key for item in core.store.outbox_items(ALL) if item.fate is None]
        core.sync.sync_now()
        after = {item.idempotency_key: item for item in core.store.outbox_items(ALL)}
    finally:
        core.close()
    now = dt.datetime.now(dt.UTC)
    items = [after[key] for key in reversed(waiting) if key in after]
    left = sum(item.fate is None for item in items)
    if args.json:
        print(json.dumps({"items": [item_document(item, now) for item in items], "left": left},
                         ensure_ascii=False, indent=2))
    elif not items:
        print("nothing waiting")
    else:
        for item in items:
            print(f"{item.idempotency_key}: {fate_words(item)}")
        print(f"{len(items) - left} of {len(items)} item(s) settled, {left} still waiting")
    return 1 if left else 0
