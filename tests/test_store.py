"""The kiosk store: durable counter and outbox, crash safety, the audit chain, cache and retention.

Everything runs on real SQLite files; the concurrency and crash tests use real processes (the
same interpreter), synchronised on their output rather than on timing.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from kiosk.store import (
    AuditReport,
    CacheEntry,
    DuplicateEvidence,
    KioskStore,
    StoreError,
)
from kiosk.store.db import HEAD_REVISION, alembic_config, schema_is_current
from kiosk.store.models import Base
from tests.conftest import repo_root
from tests.helpers.outbox import synced_entries
from tests.helpers.store import T0, Clock, add, voucher_hash


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "kiosk.db"


@pytest.fixture
def store(db_path: Path, clock: Clock) -> Iterator[KioskStore]:
    with KioskStore(db_path, clock=clock) as opened:
        yield opened


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """The file opened directly, as someone editing it behind the kiosk's back would."""
    db = sqlite3.connect(path)
    try:
        with db:
            yield db
    finally:
        db.close()


def child(code: str, *args: str) -> subprocess.Popen[str]:
    """This interpreter running ``code`` with ``args``, its standard streams piped."""
    env = {**os.environ, "PYTHONPATH": str(repo_root())}
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=repo_root(), env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# The database itself.


def test_the_file_is_created_private_with_wal_and_full_sync(store: KioskStore, db_path: Path) -> None:
    assert db_path.parent.is_dir()
    assert db_path.stat().st_mode & 0o777 == 0o600
    with store.engine.connect() as connection:
        pragma = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                  for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}
    assert pragma["journal_mode"] == "wal"
    assert pragma["synchronous"] == 2  # FULL
    assert pragma["foreign_keys"] == 1
    assert isinstance(pragma["busy_timeout"], int) and pragma["busy_timeout"] >= 1000


def test_the_migrations_produce_exactly_the_models(store: KioskStore) -> None:
    engine = store.engine
    assert schema_is_current(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}


def test_reopening_migrates_nothing_and_keeps_the_data(db_path: Path, clock: Clock) -> None:
    with KioskStore.open(db_path, clock=clock) as first:
        add(first, "k-1")
    with KioskStore.open(db_path, clock=clock) as second:
        assert schema_is_current(second.engine)
        assert [item.idempotency_key for item in second.outbox_items()] == ["k-1"]


def test_a_store_at_the_newest_migration_opens_without_alembic(db_path: Path, clock: Clock) -> None:
    """Opening a current store (every kiosk start but the first) reads one row, and loads no Alembic."""
    with KioskStore.open(db_path, clock=clock) as first:
        script = ScriptDirectory.from_config(alembic_config(first.engine))
        assert set(script.get_heads()) == {HEAD_REVISION}  # a new migration moves HEAD_REVISION too
    probe = child("import sys\nfrom kiosk.store import KioskStore\n"
                  f"KioskStore.open({str(db_path)!r}).close()\n"
                  "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    out, err = probe.communicate(timeout=60)
    assert probe.returncode == 0, err
    assert out.strip() == "[]"


def test_a_closed_store_refuses_work(db_path: Path) -> None:
    store = KioskStore(db_path)
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(StoreError, match="closed"):
        store.next_offline_counter()


def test_the_store_imports_no_qt_card_linkage_http_or_server() -> None:
    forbidden = {"PySide6", "httpx", "httpx2", "linkserver", "kiosk.nfc", "kiosk.linkage"}
    for path in (repo_root() / "kiosk" / "store").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in forbidden), (path, name)
    probe = child("import sys, kiosk.store; print(sorted(m for m in sys.modules if m.split('.')[0] in "
                  "{'PySide6', 'httpx', 'httpx2', 'linkserver'} or m.startswith(('kiosk.nfc', "
                  "'kiosk.linkage'))))")
    out, err = probe.communicate(timeout=60)
    assert probe.returncode == 0, err
    assert out.strip() == "[]"


# The offline counter.


def test_the_counter_is_strictly_increasing_across_reopening(db_path: Path) -> None:
    with KioskStore(db_path) as store:
        assert [store.next_offline_counter() for _ in range(3)] == [1, 2, 3]
    with KioskStore(db_path) as store:
        assert store.next_offline_counter() == 4


HAMMER = """
import sys
from pathlib import Path
from kiosk.store import KioskStore
store = KioskStore(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
for _ in range(int(sys.argv[2])):
    value = store.next_offline_counter()
    store.audit("offline_counter_taken", value=value)
    print(value, flush=True)
store.close()
"""


def test_two_processes_never_share_a_counter_value_or_break_the_chain(db_path: Path) -> None:
    rounds = 150
    KioskStore(db_path).close()
    workers = [child(HAMMER, str(db_path), str(rounds)) for _ in range(2)]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready", worker.stderr
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    seen: list[list[int]] = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        seen.append([int(line) for line in out.split()])
    for values in seen:
        assert len(values) == rounds
        assert all(a < b for a, b in itertools.pairwise(values))
    every = seen[0] + seen[1]
    assert sorted(every) == list(range(1, 2 * rounds + 1))  # no duplicates, no values lost
    with KioskStore(db_path) as store:
        assert store.next_offline_counter() == 2 * rounds + 1
        assert store.check_audit() == AuditReport(entries=2 * rounds, ok=True)


def test_threads_share_one_store(store: KioskStore) -> None:
    threads, rounds = 8, 40
    start = threading.Barrier(threads)
    taken: list[list[int]] = [[] for _ in range(threads)]
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                taken[index].append(store.next_offline_counter())
                store.audit("thread_round", thread=index)
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert sorted(v for values in taken for v in values) == list(range(1, threads * rounds + 1))
    assert all(values == sorted(values) for values in taken)
    assert store.check_audit() == AuditReport(entries=threads * rounds, ok=True)


# The outbox.


def test_the_outbox_lifecycle(store: KioskStore, clock: Clock) -> None:
    first = add(store, "k-1")
    assert first.attempts == 0 and first.fate is None and first.next_attempt_at == T0
    assert first.sealed == "sealed-bundle-k-1" and "sealed-bundle" not in repr(first)
    clock.advance(seconds=1)
    add(store, "k-2", "mfa_reset")
    clock.advance(seconds=1)
    add(store, "k-3", "salvage")
    assert store.outbox_depth() == 3
    assert [i.idempotency_key for i in store.pending_evidence()] == ["k-1", "k-2", "k-3"]
    assert [i.idempotency_key for i in store.pending_evidence(limit=2)] == ["k-1", "k-2"]

    # A failed delivery backs the first two off; the third is still due.
    store.record_attempt(["k-1", "k-2"], "server.unreachable", 60)
    assert [i.idempotency_key for i in store.pending_evidence()] == ["k-3"]
    backed_off = {i.idempotency_key: i for i in store.outbox_items()}["k-1"]
    assert backed_off.attempts == 1 and backed_off.last_error == "server.unreachable"
    assert backed_off.next_attempt_at == clock.now + dt.timedelta(seconds=60)
    clock.advance(seconds=61)
    assert [i.idempotency_key for i in store.pending_evidence()] == ["k-1", "k-2", "k-3"]
    store.record_attempt(["k-1"], "http.503", 0)
    assert {i.idempotency_key: i.attempts for i in store.outbox_items()} == {"k-1": 2, "k-2": 1, "k-3": 0}

    # The server's answers.
    clock.advance(seconds=5)
    synced = clock.now
    settled = store.record_fates([("k-1", "accepted", None, "ev-1"),
                                  ("k-2", "refused", "certificate.revoked", "ev-2")])
    assert settled == ["k-1", "k-2"]
    assert store.outbox_depth() == 1
    assert [i.idempotency_key for i in store.pending_evidence()] == ["k-3"]
    items = {i.idempotency_key: i for i in store.outbox_items()}
    accepted = items["k-1"]
    assert (accepted.fate, accepted.evidence_id, accepted.synced_at) == ("accepted", "ev-1", synced)
    assert (items["k-2"].fate, items["k-2"].error_code) == ("refused", "certificate.revoked")

    # A batch delivered twice, a contradicting answer, a stray key: nothing changes.
    clock.advance(seconds=5)
    assert store.record_fates([("k-1", "accepted", None, "ev-1"), ("k-2", "accepted", None, "ev-2"),
                               ("unknown", "accepted", None, None)]) == []
    store.record_attempt(["k-1"], "late", 10)
    again = {i.idempotency_key: i for i in store.outbox_items()}
    assert again["k-1"] == items["k-1"] and again["k-2"] == items["k-2"]
    # Each fate was audited with it, once.
    assert synced_entries(store) == [
        {"item": "k-1", "fate": "accepted", "code": "", "evidence": "ev-1"},
        {"item": "k-2", "fate": "refused", "code": "certificate.revoked", "evidence": "ev-2"}]
    assert store.check_audit() == AuditReport(entries=2, ok=True)

    # Newest first for staff; the voucher finds its item by hash only.
    assert [i.idempotency_key for i in store.outbox_items()] == ["k-3", "k-2", "k-1"]
    assert [i.idempotency_key for i in store.outbox_items(limit=1)] == ["k-3"]
    found = store.find_voucher(voucher_hash("V-k-2"))
    assert found is not None and found.idempotency_key == "k-2"
    assert store.find_voucher(voucher_hash("V-k-2").upper()) == found
    assert store.find_voucher(voucher_hash("no such voucher")) is None


def test_a_duplicate_idempotency_key_is_refused(store: KioskStore) -> None:
    original = add(store, "k-1")
    with pytest.raises(DuplicateEvidence, match="idempotency key") as raised:
        store.add_evidence("k-1", "another bundle", "mfa_reset", "30******02", voucher_hash("other"))
    assert raised.value.idempotency_key == "k-1"
    with pytest.raises(DuplicateEvidence, match="voucher"):
        store.add_evidence("k-2", "another bundle", "mfa_reset", "30******02", original.voucher_hash)
    assert store.outbox_items() == [original]


def test_outbox_input_is_checked(store: KioskStore) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        store.add_evidence("k-1", "bundle", "password_reset", "20******01", "ABCD-EFGH-JKLM")
    # (A voucher hash that is one: "v" is no voucher, and its hash would be refused first.)
    with pytest.raises(ValueError, match=r"^idempotency_key must be text of 1 to 128 characters$"):
        store.add_evidence("", "bundle", "password_reset", "20******01", voucher_hash("ABCD-EFGH-JKLM"))
    with pytest.raises(ValueError, match=r"^sealed must be the non-empty sealed bundle text$"):
        store.add_evidence("k-1", "", "password_reset", "20******01", voucher_hash("ABCD-EFGH-JKLM"))
    add(store, "k-1")
    with pytest.raises(TypeError, match=r"^keys is a sequence of idempotency keys, not one key$"):
        store.record_attempt("k-1", "oops", 5)
    with pytest.raises(ValueError, match=r"^retry_in is a number of seconds, zero or more$"):
        store.record_attempt(["k-1"], "oops", -1)
    with pytest.raises(ValueError, match="fate"):
        store.record_fates([("k-1", "lost", None, None)])
    assert store.outbox_items()[0].attempts == 0


WRITER = """
import sys
from pathlib import Path
from kiosk.store import KioskStore
store = KioskStore(Path(sys.argv[1]))
bundle = "x" * 6000
while True:
    counter = store.next_offline_counter()
    key = f"kiosk-01-{counter}"
    store.add_evidence(key, bundle, "password_reset", "20******01", f"{counter:064x}")
    print(key, flush=True)
"""


def test_a_process_killed_while_writing_loses_nothing_it_reported(db_path: Path) -> None:
    KioskStore(db_path).close()
    writer = child(WRITER, str(db_path))
    assert writer.stdout is not None
    reported = []
    for _ in range(40):
        line = writer.stdout.readline()
        assert line.endswith("\n"), writer.stderr.read() if writer.stderr else ""
        reported.append(line.strip())
    writer.send_signal(signal.SIGKILL)
    rest, _ = writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    # Lines already in the pipe were printed after their add_evidence returned.
    reported += [line for line in rest.splitlines(keepends=True) if line.endswith("\n")]
    reported = [line.strip() for line in reported]
    highest = max(int(key.rsplit("-", 1)[1]) for key in reported)

    with KioskStore(db_path) as store:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        stored = {item.idempotency_key for item in store.outbox_items(limit=100_000)}
        assert set(reported) <= stored
        assert store.next_offline_counter() > highest


# The audit chain.


def test_the_audit_chain_verifies(store: KioskStore, clock: Clock) -> None:
    assert store.check_audit() == AuditReport(entries=0, ok=True)
    store.audit("kiosk_started", version="0.1.0")
    clock.advance(seconds=1)
    store.audit("verification", outcome="match", account="20******01", serial=123456, at=clock.now,
                checks={"chain": True, "revoked": False}, reasons=["a", "b"])
    store.audit("event", event="the word event is a detail too")
    assert store.check_audit() == AuditReport(entries=3, ok=True)
    with store.engine.connect() as connection:
        details = connection.exec_driver_sql("SELECT details FROM audit_log WHERE seq = 2").scalar()
    assert details == ('{"account":"20******01","at":"2030-04-01T09:00:01+00:00",'
                       '"checks":{"chain":true,"revoked":false},"outcome":"match","reasons":["a","b"],'
                       '"serial":123456}')


def _edit(db: sqlite3.Connection) -> None:
    db.execute("""UPDATE audit_log SET details = '{"outcome":"no_match"}' WHERE seq = 3""")


def _edit_and_rehash(db: sqlite3.Connection) -> None:
    # Recomputing the edited entry's own hash does not help: the next entry points at the old one.
    from kiosk.store.audit import entry_hash

    seq, at, event, prev = db.execute(
        "SELECT seq, at, event, prev_hash FROM audit_log WHERE seq = 3").fetchone()
    moment = dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC)
    db.execute("UPDATE audit_log SET details = '{}', entry_hash = ? WHERE seq = 3",
               (entry_hash(prev, seq, moment, event, "{}"),))


def _delete(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM audit_log WHERE seq = 3")


def _swap_contents(db: sqlite3.Connection) -> None:
    rows = {seq: rest for seq, *rest in db.execute(
        "SELECT seq, at, event, details, prev_hash, entry_hash FROM audit_log WHERE seq IN (3, 4)")}
    db.execute("DELETE FROM audit_log WHERE seq IN (3, 4)")
    for seq, source in ((3, 4), (4, 3)):
        db.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)", (seq, *rows[source]))


def _swap_numbers(db: sqlite3.Connection) -> None:
    db.execute("UPDATE audit_log SET seq = -1 WHERE seq = 3")
    db.execute("UPDATE audit_log SET seq = 3 WHERE seq = 4")
    db.execute("UPDATE audit_log SET seq = 4 WHERE seq = -1")


@pytest.mark.parametrize(("tamper", "broken_at", "reason"), [
    (_edit, 3, "contents"),
    (_edit_and_rehash, 4, "does not point"),
    (_delete, 4, "entry 3 is missing"),
    (_swap_contents, 3, "does not point"),
    (_swap_numbers, 3, "does not point"),
])
def test_a_tampered_audit_chain_is_detected(store: KioskStore, db_path: Path, clock: Clock,
                                            tamper: Callable[[sqlite3.Connection], None],
                                            broken_at: int, reason: str) -> None:
    for n in range(6):
        clock.advance(seconds=1)
        store.audit("step", n=n, outcome="match")
    with raw(db_path) as db:
        tamper(db)
    report = store.check_audit()
    assert not report.ok
    assert report.broken_at == broken_at
    assert reason in report.reason
    # Later entries still chain on, but the break stays visible.
    store.audit("after")
    assert store.check_audit().broken_at == broken_at


@pytest.mark.parametrize("key", [
    "pin", "password", "new_password", "my_number", "certificate", "signature", "token", "voucher",
    "enrolment_code", "enrolment_uri", "ticket", "secret", "PIN", "new-pin", "card_certificate",
    "access_token", "device_code", "private_key",
])
def test_audit_refuses_details_that_could_carry_a_secret(store: KioskStore, key: str) -> None:
    with pytest.raises(ValueError, match="may not carry"):
        store.audit("verification", **{key: "1234"})
    with pytest.raises(ValueError, match="may not carry"):
        store.audit("verification", checks={"inner": {key: "1234"}})
    assert store.check_audit().entries == 0


def test_audit_refuses_long_and_raw_values(store: KioskStore) -> None:
    pem = "-----BEGIN CERTIFICATE-----\n" + "MIIB" * 300 + "\n-----END CERTIFICATE-----"
    for bad, words in (({"serial": pem}, r"'serial' is 1254 characters \(at most 256\)"),
                       ({"reasons": ["x" * 100] * 3}, r"'reasons' is 310 characters \(at most 256\)"),
                       ({"der": b"\x30\x82"}, r"'der' has a type the log does not take \(bytes\)"),
                       ({"score": float("nan")}, "'score' is not a finite number")):
        with pytest.raises(ValueError, match=f"^audit detail {words}$"):
            store.audit("verification", **bad)
    with pytest.raises(ValueError, match="event"):
        store.audit("")
    assert store.check_audit().entries == 0
    # What may go in: derived values, up to the limit.
    store.audit("verification", voucher_hash=voucher_hash("v"), certificate_serial="0x1f",
                note="y" * 256, pin_tries_left=3)
    assert store.check_audit() == AuditReport(entries=1, ok=True)


# The cache.


def test_the_cache_keeps_the_newest_value(db_path: Path, clock: Clock) -> None:
    with KioskStore(db_path, clock=clock) as store:
        assert store.get_cache("server.sealing_key") is None
        store.put_cache("server.sealing_key", b'{"kty":"EC"}')
        clock.advance(hours=2)
        store.put_cache("server.sealing_key", b'{"kty":"RSA"}')
        store.put_cache("trust.anchors", b"\x00\x01")
    with KioskStore(db_path, clock=clock) as store:
        assert store.get_cache("server.sealing_key") == CacheEntry(b'{"kty":"RSA"}', clock.now)
        assert store.get_cache("trust.anchors") == CacheEntry(b"\x00\x01", clock.now)


# Retention.


def test_retention_purges_only_what_is_due_and_the_chain_still_verifies(
        store: KioskStore, db_path: Path, clock: Clock) -> None:
    add(store, "accepted-long-ago")
    add(store, "refused-lately")
    add(store, "never-answered")
    store.record_fates([("accepted-long-ago", "accepted", None, "ev-1")])  # audit entry 1
    for n in range(3):
        store.audit("early", n=n)
    clock.advance(days=20)
    store.record_fates([("refused-lately", "refused", "certificate.revoked", "ev-2")])  # entry 5
    store.audit("later", n=3)
    store.audit("later", n=4)

    clock.advance(days=20)  # day 40
    report = store.purge(30)
    assert (report.outbox_items, report.audit_entries, report.audit_checkpoint) == (1, 4, 4)
    assert report.audit_skipped is None
    assert {i.idempotency_key for i in store.outbox_items()} == {"refused-lately", "never-answered"}
    assert store.check_audit() == AuditReport(entries=3, ok=True)
    store.audit("after_purge")
    assert store.check_audit() == AuditReport(entries=4, ok=True)
    assert store.purge(30).audit_entries == 0  # nothing more is due

    clock.advance(days=400)
    report = store.purge(30)
    assert (report.outbox_items, report.audit_entries, report.audit_checkpoint) == (1, 4, 8)
    assert [i.idempotency_key for i in store.outbox_items()] == ["never-answered"]
    assert store.outbox_depth() == 1
    assert store.check_audit() == AuditReport(entries=0, ok=True)
    store.audit("fresh_start")
    assert store.check_audit() == AuditReport(entries=1, ok=True)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT min(seq) FROM audit_log").scalar() == 9

    # The checkpoint is part of what is checked.
    with raw(db_path) as db:
        db.execute("UPDATE audit_checkpoint SET entry_hash = ?", ("f" * 64,))
    assert store.check_audit().broken_at == 9
    with raw(db_path) as db:
        db.execute("DELETE FROM audit_checkpoint")
    report_without = store.check_audit()
    assert (report_without.broken_at, report_without.reason) == (9, "entry 1 is missing")


def test_retention_keeps_a_tampered_prefix(store: KioskStore, db_path: Path, clock: Clock) -> None:
    for n in range(4):
        store.audit("step", n=n)
    clock.advance(days=100)
    with raw(db_path) as db:
        _edit(db)
    report = store.purge(30)
    assert report.audit_entries == 0 and report.audit_checkpoint is None
    assert report.audit_skipped is not None and "entry 3" in report.audit_skipped
    assert store.check_audit().broken_at == 3


def test_retention_keeps_the_chain_whole_when_the_clock_stepped_back(store: KioskStore, clock: Clock) -> None:
    store.audit("day_0")
    clock.advance(days=50)
    store.audit("day_50")  # a clock running fast, corrected afterwards
    clock.advance(days=-49)
    store.audit("day_1")
    clock.advance(days=39)  # day 40
    report = store.purge(30)
    assert (report.audit_entries, report.audit_checkpoint) == (1, 1)
    assert store.check_audit() == AuditReport(entries=2, ok=True)


def test_retention_needs_a_sensible_period(store: KioskStore) -> None:
    with pytest.raises(ValueError, match=r"^retention_days is a whole number of days, zero or more$"):
        store.purge(-1)
