"""``kiosk-linkserver staff …`` and ``counter …``: the administration of named staff and counters.

A password (or an offline PIN) is read from the terminal (twice), or from the environment variable
that ``--password-from-env`` (``--pin-from-env``) names, for scripts; never from the command line,
where other users of the machine could read it.
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from linkserver.roster import set_offline_pin
from linkserver.service import utc_now
from linkserver.staff import ROLES, StaffDirectory, StaffInfo, TotpSealer


def add_parsers(commands: Any) -> None:
    """The ``staff`` and ``counter`` commands, on the main parser's subcommands."""
    staff = commands.add_parser("staff", help="staff members of the console: add, reset, disable, enable, "
                                              "assign, list, offline-pin")
    staff.add_argument("--config", required=True, dest="sub_config", type=Path)
    actions = staff.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a member (the first sign-in enrols their TOTP)")
    add.add_argument("staff_id")
    add.add_argument("--name", required=True, help="the name shown in the console and the audit")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-from-env", metavar="VAR", help="read the password from this variable")
    reset = actions.add_parser("reset", help="a new password; the next sign-in enrols TOTP again")
    reset.add_argument("staff_id")
    reset.add_argument("--password-from-env", metavar="VAR")
    for name, words in (("disable", "refuse their sign-in and end their sessions"),
                        ("enable", "allow their sign-in again")):
        actions.add_parser(name, help=words).add_argument("staff_id")
    assign = actions.add_parser("assign", help="assign a desk member to a counter")
    assign.add_argument("staff_id")
    assign.add_argument("counter_id")
    assign.add_argument("--remove", action="store_true", help="take the assignment away instead")
    actions.add_parser("list", help="every member, their role, state and counters")
    offline_pin = actions.add_parser("offline-pin", help="a desk member's or supervisor's offline PIN "
                                                         "(6 to 12 digits), checked by kiosks offline")
    offline_pin.add_argument("staff_id")
    offline_pin.add_argument("--pin-from-env", metavar="VAR", help="read the PIN from this variable")

    counter = commands.add_parser("counter", help="help-desk counters: add, place a kiosk, list")
    counter.add_argument("--config", required=True, dest="sub_config", type=Path)
    counter_actions = counter.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_counter = counter_actions.add_parser("add", help="add a counter")
    add_counter.add_argument("counter_id")
    add_counter.add_argument("--name", required=True)
    place = counter_actions.add_parser("place", help="put a registered kiosk at a counter")
    place.add_argument("client_id")
    place.add_argument("counter_id")
    counter_actions.add_parser("list", help="every counter and its kiosks")


def run(args: argparse.Namespace, directory: StaffDirectory) -> int:
    """Runs one ``staff`` or ``counter`` action; a refusal raises ``StaffError`` (a ValueError)."""
    if args.command == "counter":
        return _counter(args, directory)
    if args.action == "add":
        _show(directory.add(args.staff_id, args.name, args.role, _password(args)))
    elif args.action == "reset":
        _show(directory.reset(args.staff_id, _password(args)))
    elif args.action in ("disable", "enable"):
        _show(directory.set_enabled(args.staff_id, args.action == "enable"))
    elif args.action == "assign":
        _show(directory.assign(args.staff_id, args.counter_id, not args.remove))
    elif args.action == "offline-pin":
        set_offline_pin(directory.db, args.staff_id, _secret(args.pin_from_env, "offline PIN"))
        print(f"offline PIN set for {args.staff_id}; kiosks learn it at their next heartbeat")
    else:
        members = directory.members()
        for member in members:
            _show(member)
        if not members:
            print("no staff members yet: add one with `staff add`")
    return 0


def _counter(args: argparse.Namespace, directory: StaffDirectory) -> int:
    if args.action == "add":
        directory.add_counter(args.counter_id, args.name)
        print(f"added counter {args.counter_id}")
    elif args.action == "place":
        directory.place_kiosk(args.client_id, args.counter_id)
        print(f"kiosk {args.client_id} now stands at counter {args.counter_id}")
    else:
        counters = directory.counters()
        for counter_id, name, kiosks in counters:
            print(f"{counter_id}\t{name}\tkiosks: {', '.join(kiosks) or 'none'}")
        if not counters:
            print("no counters yet: add one with `counter add`")
    return 0


def _show(member: StaffInfo) -> None:
    state = "enabled" if member.enabled else "DISABLED"
    totp = "TOTP enrolled" if member.enrolled else "enrols TOTP at the next sign-in"
    counters = ", ".join(member.counters) or ("all" if member.all_counters else "none")
    print(f"{member.staff_id}\t{member.display_name}\t{member.role}\t{state}\t{totp}\tcounters: {counters}")


def _password(args: argparse.Namespace) -> str:
    return _secret(args.password_from_env, "password")


def _secret(variable: str | None, what: str) -> str:
    if variable:
        value = os.environ.get(variable)
        if not value:
            raise ValueError(f"the variable {variable} is not set or empty")
        return value
    first = getpass.getpass(f"new {what}: ")
    if getpass.getpass("the same again: ") != first:
        raise ValueError(f"the two {what}s differ; nothing was changed")
    return first


def directory_for(db: Any, settings: Any) -> StaffDirectory:
    return StaffDirectory(db, TotpSealer(settings.ppid_secret_file.read_bytes().strip()), utc_now)
