"""Checking the server's audit chain after someone with access to the database changed it: each
field an edit can touch, a removed entry, an entry no longer pointing at the one before, the wrong
key, and, against signed checkpoints, a chain cut short or rewritten by someone holding the key.

The server's own database code on a temporary SQLite file, in this process. Each report is
compared whole: how many entries were read, which one broke the chain, and why in words.
"""

from __future__ import annotations

import datetime as dt

from linkserver.audit import ChainReport
from linkserver.db import Database
from tests.linkserver.units import audit_parts
from tests.linkserver.units.audit_parts import (
    OTHER_KEY,
    T0,
    check,
    edit,
    entries,
    rehash_from,
    remove,
    write_history,
)

#: The server's database with an audit key (a fixture).
db = audit_parts.db

CONTENTS = "its contents do not match its hash"
POINTER = "it does not point at the entry before it"


def test_an_intact_chain_checks_whole_in_any_batch_size(db: Database) -> None:
    assert check(db) == ChainReport(0)
    assert check(db).ok
    write_history(db, 5)
    for batch in (1, 2, 5, 1000):
        assert check(db, batch=batch) == ChainReport(5)


def test_an_edit_of_any_field_breaks_the_chain_at_that_entry(db: Database) -> None:
    write_history(db, 5)
    original = entries(db)[2]
    edits: dict[str, object] = {
        "details": '{"code":"c9","n":2}', "event": "event_9", "client_id": None, "account_id": "acct-9",
        "at": T0 + dt.timedelta(days=1)}
    for name, value in edits.items():
        edit(db, 3, **{name: value})
        report = check(db)
        assert report == ChainReport(3, 3, CONTENTS), name
        assert not report.ok
        edit(db, 3, **{name: getattr(original, name)})
        assert check(db) == ChainReport(5), name


def test_a_removed_entry_is_named_as_missing(db: Database) -> None:
    write_history(db, 5)
    remove(db, 3)
    assert check(db) == ChainReport(3, 4, "entry 3 is missing")
    remove(db, 1)
    assert check(db, batch=2) == ChainReport(1, 2, "entry 1 is missing")


def test_an_entry_that_does_not_point_at_the_one_before_breaks_the_chain(db: Database) -> None:
    write_history(db, 5)
    edit(db, 1, prev_hash="1" * 64)
    assert check(db) == ChainReport(1, 1, POINTER)
    edit(db, 1, prev_hash="0" * 64)
    assert check(db) == ChainReport(5)
    edit(db, 4, prev_hash=entries(db)[1].entry_hash)
    assert check(db) == ChainReport(4, 4, POINTER)


def test_an_edit_whose_hash_is_recomputed_without_the_key_still_breaks_the_chain(db: Database) -> None:
    write_history(db, 5)
    edit(db, 2, details='{"code":"c1","n":1,"forged":true}')
    rehash_from(db, 2, key=OTHER_KEY)
    assert check(db) == ChainReport(2, 2, CONTENTS)
    assert check(db, key=OTHER_KEY) == ChainReport(1, 1, CONTENTS)


def test_without_checkpoints_a_chain_cut_short_or_rewritten_with_the_key_looks_whole(db: Database) -> None:
    write_history(db, 5)
    remove(db, 4, 5)
    assert check(db) == ChainReport(3)
    edit(db, 2, details='{"code":"c1","n":1,"forged":true}')
    rehash_from(db, 2)
    assert check(db) == ChainReport(3)


def test_the_checkpoints_catch_a_chain_cut_short(db: Database) -> None:
    hashes = write_history(db, 5)
    checkpoints = {3: hashes[2], 5: hashes[4]}
    assert check(db, checkpoints=checkpoints) == ChainReport(5)
    remove(db, 5)
    assert check(db, checkpoints=checkpoints) == ChainReport(
        4, 5, "TRUNCATED: the log ends at entry 4, but a signed checkpoint recorded entry 5", anchored=True)
    remove(db, 4)
    # A checkpoint at the very last entry is no sign of a cut.
    assert check(db, checkpoints={3: hashes[2]}) == ChainReport(3)


def test_the_checkpoints_catch_a_chain_rewritten_with_the_key(db: Database) -> None:
    hashes = write_history(db, 5)
    edit(db, 2, details='{"code":"c1","n":1,"forged":true}')
    rehash_from(db, 2)
    assert check(db) == ChainReport(5)
    rewritten = "REWRITTEN: entry {} is not the one its signed checkpoint recorded"
    assert check(db, checkpoints={1: hashes[0], 3: hashes[2]}) == ChainReport(5, 3, rewritten.format(3),
                                                                            anchored=True)
    # Checkpoints are compared in order, whatever order they come in: the first one that fails is named.
    assert check(db, checkpoints={9: "f" * 64, 4: hashes[3], 1: hashes[0]}) == ChainReport(
        5, 4, rewritten.format(4), anchored=True)


def test_a_broken_chain_is_reported_as_broken_whatever_the_checkpoints_say(db: Database) -> None:
    hashes = write_history(db, 5)
    edit(db, 2, event="forged")
    assert check(db, checkpoints={1: hashes[0], 9: "f" * 64}) == ChainReport(2, 2, CONTENTS)
