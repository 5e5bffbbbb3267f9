"""What a new deployment makes once: its secrets (``init``) and, for a trial on the embedded
directory, its accounts (``import-accounts``).

``kiosk-linkserver init --config F`` reads only the ``[secrets]`` table of the settings file, and
makes each file it names that does not exist yet: the PPID secret and the audit key (32 random
bytes, hex), and the token-signing and sealing keys (EC P-256, PEM), each 0600 in a folder made
0700. A file that exists is never replaced: replacing the PPID secret would unlink every card,
and replacing the sealing key would make the kiosks' sealed offline evidence unreadable.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import secrets
import tomllib
from pathlib import Path

from linkserver import audit
from linkserver.configread import ConfigError
from linkserver.db import Database
from linkserver.directory import AccountInfo
from linkserver.models import Account
from linkserver.tokens import generate_ec_private_key_pem

#: The [secrets] keys, and how each is made.
SECRET_FILES = {"ppid_secret_file": "secret", "audit_key_file": "secret",
                "signing_key_file": "ec_key", "sealing_key_file": "ec_key"}


def _make(kind: str) -> bytes:
    return secrets.token_bytes(32).hex().encode("ascii") + b"\n" if kind == "secret" \
        else generate_ec_private_key_pem()


def make_secrets(config: Path) -> list[tuple[str, Path, bool]]:
    """Make every secret the settings name that is missing: (key, file, made) for each."""
    source = config.resolve()
    try:
        table = tomllib.loads(source.read_text("utf-8")).get("secrets", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source}: cannot be read as TOML ({exc})") from None
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [secrets] must be a table")
    named = {}
    for key in SECRET_FILES:  # every name first: nothing is made for settings that lack one
        name = table.get(key)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{source}: secrets.{key} is missing: name the file to keep it in")
        named[key] = (source.parent / name).resolve()
    done = []
    for key, kind in SECRET_FILES.items():
        path = named[key]
        if path.exists():
            done.append((key, path, False))
            continue
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(_make(kind))
        done.append((key, path, True))
    return done


# -- accounts for a trial --------------------------------------------------------------------------

ACCOUNT_COLUMNS = ("account_id", "display_name", "email", "status", "left_on", "mfa_methods")


def parse_accounts_csv(text: str, where: str) -> list[AccountInfo]:
    """Accounts from CSV (header: account_id,display_name,email[,status,left_on,mfa_methods]);
    ValueError naming the line and the column for any bad row, before anything is stored."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [name for name in ACCOUNT_COLUMNS[:3] if name not in header]
    unknown = [name for name in header if name not in ACCOUNT_COLUMNS]
    if missing or unknown:
        wrong = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise ValueError(f"{where}: the header must be {','.join(ACCOUNT_COLUMNS)} (the last three "
                         f"optional); {wrong}")
    rows, seen = [], set()
    for number, raw in enumerate(reader, start=2):
        rows.append(_account_row(raw, f"{where} line {number}"))
        if rows[-1].account_id in seen:
            raise ValueError(f"{where} line {number}: account {rows[-1].account_id} appears twice")
        seen.add(rows[-1].account_id)
    return rows


def _account_row(raw: dict[str, str | None], where: str) -> AccountInfo:
    values = {key: (value or "").strip() for key, value in raw.items() if key}
    account_id, name, email = values["account_id"], values["display_name"], values["email"]
    if not account_id or len(account_id) > 64:
        raise ValueError(f"{where}: account_id must be 1-64 characters")
    if not name or len(name) > 200:
        raise ValueError(f"{where}: display_name must be 1-200 characters")
    if "@" not in email or len(email) > 254:
        raise ValueError(f"{where}: email must be a mail address, not {email!r}")
    status = values.get("status") or "active"
    if status not in ("active", "left"):
        raise ValueError(f"{where}: status must be active or left, not {status!r}")
    left_at = None
    if status == "left":
        try:
            left_at = dt.datetime.strptime(values.get("left_on", ""), "%Y-%m-%d").replace(tzinfo=dt.UTC)
        except ValueError:
            raise ValueError(f"{where}: a former member (status left) needs left_on as YYYY-MM-DD") from None
    methods = values.get("mfa_methods") or "0"
    if not methods.isdigit() or int(methods) > 50:
        raise ValueError(f"{where}: mfa_methods must be a whole number from 0 to 50, not {methods!r}")
    return AccountInfo(account_id, name, email, status, left_at, int(methods))


def import_accounts(db: Database, rows: list[AccountInfo]) -> tuple[int, int]:
    """Add or update the accounts in the server's own table, in one transaction: (added, updated).

    Passwords are not imported: an account without one gets it from a reset at the kiosk.
    """
    added = updated = 0
    with db.transaction() as session:
        for row in rows:
            account = session.get(Account, row.account_id)
            if account is None:
                account = Account(account_id=row.account_id, password_hash=None)
                session.add(account)
                added += 1
            else:
                updated += 1
            account.display_name, account.email, account.status = row.display_name, row.email, row.status
            account.left_at, account.mfa_methods = row.left_at, row.mfa_methods
        audit.append(session, "accounts_imported", details={"added": added, "updated": updated})
    return added, updated
