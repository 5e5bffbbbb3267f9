"""The audit chain checked by the real ``kiosk-linkserver check-audit`` command, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from kiosk.nfc.sim import TestHierarchy
from linkserver import audit
from linkserver.models import AuditEntry
from tests.helpers.server_api import LINKED, decide, verified
from tests.linkserver.helpers import LiveServer, live_server, unb64


def check_audit_command(config: Path) -> subprocess.CompletedProcess[str]:
    """``kiosk-linkserver check-audit`` as administrators run it (the installed command if there is one)."""
    installed = Path(sys.executable).with_name("kiosk-linkserver")
    program = [str(installed)] if installed.is_file() else [sys.executable, "-m", "linkserver.cli"]
    return subprocess.run([*program, "check-audit", "--config", str(config)], capture_output=True, text=True,
                          timeout=120)


def some_history(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    op = live.operation(kiosk, "unlink", verified(live, kiosk)).json()["operation_id"]
    decide(live, staff, op)


def test_check_audit_prints_only_its_verdict(live: LiveServer) -> None:
    some_history(live)
    result = check_audit_command(live.setup.config_path)
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout
    assert "alembic" not in result.stdout + result.stderr
    assert "INFO" not in result.stdout + result.stderr


# -- the chain anchored outside the database ----------------------------------------------------------

EVERY = 4


@pytest.fixture
def anchored(tmp_path: Path, hierarchy: TestHierarchy, database_url: str) -> Iterator[LiveServer]:
    """A live server checkpointing its audit chain every few entries, with some history."""
    with live_server(tmp_path / "state", hierarchy, database_url, checkpoint_every=EVERY) as live:
        some_history(live)
        kiosk = live.kiosk()
        for _ in range(8):
            live.verify(kiosk, "linked", LINKED)
        if head(live) % EVERY == 0:  # leave entries after the last checkpoint
            live.verify(kiosk, "linked", LINKED)
        yield live


def checkpointed(live: LiveServer) -> list[int]:
    """The sequence numbers in the checkpoint file (its signatures are the command's to check)."""
    path = live.setup.settings.audit.checkpoint_file
    assert path is not None
    lines = path.read_text("ascii").split() if path.exists() else []
    return [json.loads(unb64(line.split(".")[1]))["seq"] for line in lines]


def head(live: LiveServer) -> int:
    with live.server.parts.db.transaction() as session:
        return int(session.scalar(select(func.max(AuditEntry.seq))) or 0)


def rewrite(live: LiveServer, seq: int, seal: Callable[[bytes], str]) -> None:
    """Edit entry ``seq`` and recompute every later link of the chain with ``seal`` (an attacker's
    hash over each entry's payload)."""
    with live.server.parts.db.transaction() as session:
        prev = session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq - 1))
        rows = session.scalars(select(AuditEntry).where(AuditEntry.seq >= seq).order_by(AuditEntry.seq)).all()
        rows[0].details = rows[0].details.replace("{", '{"forged":true,', 1)
        for row in rows:
            row.prev_hash = str(prev)
            row.entry_hash = seal(audit.entry_payload(row.prev_hash, row.seq, row.at, row.event,
                                                      row.client_id, row.account_id, row.details))
            prev = row.entry_hash


def with_audit_key(live: LiveServer) -> Callable[[bytes], str]:
    key_file = live.setup.settings.audit.key_file
    assert key_file is not None
    key = key_file.read_bytes().strip()
    return lambda payload: hmac.new(key, payload, hashlib.sha256).hexdigest()


def test_checkpoints_are_written_every_few_entries(anchored: LiveServer) -> None:
    # The demo's own setup wrote the first entries (its counter and staff) before the server was
    # told to checkpoint this often: the checkpoints start after them.
    entries, written = head(anchored), checkpointed(anchored)
    assert len(written) >= 3 and written[0] % EVERY == 0
    assert written == list(range(written[0], entries + 1, EVERY))
    result = check_audit_command(anchored.setup.config_path)
    assert result.returncode == 0 and f"intact: {entries} entries" in result.stdout


def test_cutting_off_the_last_entries_is_reported_as_truncation(anchored: LiveServer) -> None:
    last_checkpoint = checkpointed(anchored)[-1]
    with anchored.server.parts.db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= last_checkpoint - 1))
    result = check_audit_command(anchored.setup.config_path)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "TRUNCATED" in result.stdout and f"entry {last_checkpoint}" in result.stdout


def test_a_rewrite_without_the_audit_key_breaks_the_chain(anchored: LiveServer) -> None:
    rewrite(anchored, 5, lambda payload: hashlib.sha256(payload).hexdigest())
    result = check_audit_command(anchored.setup.config_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "BROKEN at entry 5" in result.stdout


def test_a_rewrite_with_the_audit_key_is_caught_up_to_the_last_checkpoint(anchored: LiveServer) -> None:
    first, second = checkpointed(anchored)[:2]
    rewrite(anchored, first + 1, with_audit_key(anchored))
    result = check_audit_command(anchored.setup.config_path)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "REWRITTEN" in result.stdout and f"entry {second}" in result.stdout


def test_a_rewrite_with_the_audit_key_after_the_last_checkpoint_goes_unseen(anchored: LiveServer) -> None:
    """The documented limit: with the key, entries after the latest checkpoint can be rewritten."""
    entries = head(anchored)
    assert entries > checkpointed(anchored)[-1]
    rewrite(anchored, entries, with_audit_key(anchored))
    assert check_audit_command(anchored.setup.config_path).returncode == 0


def test_a_forged_checkpoint_is_refused(anchored: LiveServer) -> None:
    path = anchored.setup.settings.audit.checkpoint_file
    assert path is not None
    with path.open("a", encoding="ascii") as file:
        file.write("eyJhbGciOiJFUzI1NiJ9.eyJzZXEiOjk5OTksImVudHJ5X2hhc2giOiIwMCJ9.AAAA\n")
    result = check_audit_command(anchored.setup.config_path)
    assert result.returncode == 4 and "NOT TRUSTWORTHY" in result.stdout
