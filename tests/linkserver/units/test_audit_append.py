"""Appending to the server's audit chain: the bytes each entry's HMAC covers (a chain written by an
earlier release must still verify, so they are spelt out here), numbering and chaining, details
as canonical JSON, times in UTC, secrets refused, no audit without a key, and which entries are
noted for a signed checkpoint.

The server's own database code on a temporary SQLite file, in this process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from pathlib import Path

import pytest

from linkserver import anchor, audit
from linkserver.db import Database
from tests.linkserver.units import audit_parts
from tests.linkserver.units.audit_parts import JST, KEY, T0, check, entries, server_database, write_history

#: The server's database with an audit key, and a local time zone other than UTC (fixtures).
db, japan_local_time = audit_parts.db, audit_parts.japan_local_time


@pytest.mark.usefixtures("japan_local_time")
def test_an_entry_s_hash_is_the_hmac_of_its_fields_in_the_documented_form(db: Database) -> None:
    first_at = dt.datetime(2030, 4, 1, 18, 0, tzinfo=JST)
    second_at = dt.datetime(2030, 4, 1, 18, 0, 5, 123, tzinfo=JST)
    with db.transaction() as session:
        first = audit.append(session, "login", client_id="kiosk-1", account_id="acct-1",
                             details={"name": "山田"}, at=first_at)
        second = audit.append(session, "logout", account_id="acct-1", at=second_at)
    # The previous hash, the number, the time in UTC to the microsecond, the event, the parties and
    # the details' text, as compact JSON in UTF-8.
    first_payload = ('["' + "0" * 64 + '",1,"2030-04-01T09:00:00.000000+00:00","login","kiosk-1","acct-1",'
                     '"{\\"name\\":\\"山田\\"}"]').encode()
    second_payload = (f'["{first.entry_hash}",2,"2030-04-01T09:00:05.000123+00:00","logout",null,"acct-1",'
                      '"{}"]').encode()
    assert audit.entry_payload(first.prev_hash, 1, first_at, "login", "kiosk-1", "acct-1",
                               first.details) == first_payload
    assert first.entry_hash == hmac.new(KEY, first_payload, hashlib.sha256).hexdigest()
    assert second.entry_hash == hmac.new(KEY, second_payload, hashlib.sha256).hexdigest()
    assert audit.entry_hash(KEY, first.entry_hash, 2, second_at, "logout", None, "acct-1", "{}") == \
        second.entry_hash
    assert check(db) == audit.ChainReport(2)


def test_entries_are_numbered_and_each_points_at_the_one_before(db: Database) -> None:
    hashes = write_history(db, 4)
    stored = entries(db)
    assert [entry.seq for entry in stored] == [1, 2, 3, 4]
    assert [entry.prev_hash for entry in stored] == ["0" * 64, *hashes[:3]]
    assert [entry.entry_hash for entry in stored] == hashes
    assert len(set(hashes)) == 4
    assert [(e.event, e.client_id, e.account_id, e.at) for e in stored] == [
        (f"event_{n}", f"kiosk-{n}", f"acct-{n}", T0 + dt.timedelta(minutes=n)) for n in range(4)]
    report = check(db)
    assert report == audit.ChainReport(4)
    assert report.ok


def test_details_are_kept_as_canonical_json(db: Database) -> None:
    with db.transaction() as session:
        details = {"b": 2, "a": "山田", "when": T0, "file": Path("/x/y")}
        entry = audit.append(session, "noted", details=details, at=T0)
        empty = audit.append(session, "noted", details=None, at=T0)
        given = audit.append(session, "noted", at=T0)
    # Sorted keys, no spaces, text as it is, anything else as its str().
    assert entry.details == '{"a":"山田","b":2,"file":"/x/y","when":"2030-04-01 09:00:00+00:00"}'
    assert (empty.details, given.details) == ("{}", "{}")
    assert check(db) == audit.ChainReport(3)


@pytest.mark.usefixtures("japan_local_time")
def test_the_time_is_now_unless_given_and_always_utc(db: Database) -> None:
    given = dt.datetime(2030, 4, 1, 18, 30, tzinfo=JST)
    before = dt.datetime.now(dt.UTC)
    with db.transaction() as session:
        now_entry = audit.append(session, "noted")
        given_entry = audit.append(session, "noted", at=given)
    after = dt.datetime.now(dt.UTC)
    assert before <= now_entry.at <= after
    assert now_entry.at.utcoffset() == dt.timedelta(0)
    assert given_entry.at == given
    assert given_entry.at.utcoffset() == dt.timedelta(0)
    assert [entry.at for entry in entries(db)] == [now_entry.at, given]
    assert check(db) == audit.ChainReport(2)


#: The detail keys the server refuses to log, as its documentation lists them.
SECRETS = ("pin", "password", "new_password", "token", "access_token", "client_assertion", "device_code",
           "enrolment_code", "ticket", "voucher", "secret", "certificate", "signature")


def test_a_detail_that_would_carry_a_secret_is_refused_and_nothing_is_written(db: Database) -> None:
    for name in SECRETS:
        words = re.escape(f"audit details may not carry ['{name}']")
        with db.transaction() as session, pytest.raises(ValueError, match=words):
            audit.append(session, "noted", details={name: "x", "code": "fine"})
    with db.transaction() as session:
        with pytest.raises(ValueError, match=re.escape("audit details may not carry ['password', 'pin']")):
            audit.append(session, "noted", details={"pin": "1234", "password": "x", "code": "fine"})
        audit.append(session, "noted", details={"voucher_hash": "ab", "certificate_serial": "12"})
    assert [entry.details for entry in entries(db)] == ['{"certificate_serial":"12","voucher_hash":"ab"}']


def test_a_database_without_an_audit_key_audits_nothing(tmp_path: Path) -> None:
    words = r"^this database has no audit key \(secrets.audit_key_file\): nothing may be audited$"
    with server_database(tmp_path / "bare.db", None) as bare:
        with bare.transaction() as session, pytest.raises(RuntimeError, match=words):
            audit.append(session, "noted")
        bare.sessions.configure(info={audit.ANCHOR_INFO: KEY})  # a key alone is not an anchor
        with bare.transaction() as session, pytest.raises(RuntimeError, match=words):
            audit.append(session, "noted")
        assert entries(bare) == []


def test_every_nth_entry_is_noted_for_a_checkpoint_when_there_is_a_checkpoint_file(tmp_path: Path) -> None:
    noted = audit.AuditAnchor(key=KEY, checkpoint_file=tmp_path / "checkpoints", every=3)
    with server_database(tmp_path / "noted.db", noted) as db, db.transaction() as session:
        queued = [audit.append(session, "noted", at=T0) for _ in range(7)]
        assert audit.PENDING_INFO not in session.info  # numbered only as the transaction commits
        audit.seal(session)
        assert session.info[audit.PENDING_INFO] == [(3, queued[2].entry_hash), (6, queued[5].entry_hash)]
    unnoted = audit.AuditAnchor(key=KEY, every=3)
    with server_database(tmp_path / "unnoted.db", unnoted) as db, db.transaction() as session:
        for _ in range(7):
            audit.append(session, "noted", at=T0)
        audit.seal(session)
        assert audit.PENDING_INFO not in session.info


def test_the_noted_entries_become_signed_checkpoints_that_the_check_uses(tmp_path: Path) -> None:
    anchored = audit.AuditAnchor(key=KEY, checkpoint_file=tmp_path / "checkpoints", every=2,
                                 signing_key=audit_parts.signing_key())
    with server_database(tmp_path / "server.db", None) as db:
        anchor.install(db, anchored)
        hashes = write_history(db, 5)
        assert anchor.read_checkpoints(anchored) == {2: hashes[1], 4: hashes[3]}
        assert anchor.check_anchored(db) == audit.ChainReport(5)
        # Entries after the latest checkpoint can go unnoticed; one it recorded cannot.
        audit_parts.remove(db, 5)
        assert anchor.check_anchored(db) == audit.ChainReport(4)
        audit_parts.remove(db, 4)
        truncated = "TRUNCATED: the log ends at entry 3, but a signed checkpoint recorded entry 4"
        assert anchor.check_anchored(db) == audit.ChainReport(3, 4, truncated, anchored=True)


def test_entries_are_chained_as_the_transaction_commits_and_a_rolled_back_savepoint_takes_its_own(
        db: Database) -> None:
    with db.transaction() as session:
        kept = audit.append(session, "before", at=T0)
        with session.begin_nested():
            inner = audit.append(session, "in_a_kept_savepoint", at=T0)
        with pytest.raises(RuntimeError, match=r"^undone$"), session.begin_nested():
            audit.append(session, "in_an_undone_savepoint", at=T0)
            with session.begin_nested():
                audit.append(session, "in_a_savepoint_inside_it", at=T0)
            raise RuntimeError("undone")
        last = audit.append(session, "after", at=T0)
        assert (kept.seq, inner.seq, last.seq) == (None, None, None)  # not numbered before the commit
    assert [(entry.seq, entry.event) for entry in entries(db)] == [
        (1, "before"), (2, "in_a_kept_savepoint"), (3, "after")]
    assert [kept.entry_hash, inner.entry_hash, last.entry_hash] == [e.entry_hash for e in entries(db)]
    assert check(db) == audit.ChainReport(3)


def test_a_rolled_back_transaction_leaves_nothing_queued_for_the_next(db: Database) -> None:
    with pytest.raises(RuntimeError, match=r"^undone$"), db.transaction() as session:
        audit.append(session, "undone", at=T0)
        raise RuntimeError("undone")
    with db.transaction() as session:
        audit.append(session, "kept", at=T0)
    assert [(entry.seq, entry.event) for entry in entries(db)] == [(1, "kept")]
