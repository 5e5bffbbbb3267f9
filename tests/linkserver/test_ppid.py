"""PPIDs: stable across card renewal, unlinkable across services, and a strict renewal import."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy
from linkserver import PpidDeriver, RenewalTable, load_renewals_csv
from linkserver.ppid import RenewalCycleError, parse_renewals_csv
from tests.linkserver.conftest import OTHER_SECRET, SECRET


def test_the_hierarchy_renewal_file_loads(hierarchy: TestHierarchy, renewals: RenewalTable) -> None:
    old = hierarchy.holder("linked-old").serial
    new = hierarchy.holder("linked").serial
    assert renewals.renewals == {old: new}
    assert renewals.first_serial(new) == old
    assert renewals.first_serial(old) == old


def test_renewal_keeps_the_ppid_and_secrets_separate(
    hierarchy: TestHierarchy, renewals: RenewalTable
) -> None:
    first, second = PpidDeriver(SECRET, renewals), PpidDeriver(OTHER_SECRET, renewals)
    old = hierarchy.holder("linked-old").auth_certificate
    new = hierarchy.holder("linked").auth_certificate
    other = hierarchy.holder("unlinked").auth_certificate
    assert first.ppid(old) == first.ppid(new) != first.ppid(other)
    assert second.ppid(old) == second.ppid(new)
    assert first.ppid(new) != second.ppid(new)
    assert first.stable_subject_key(old) == first.stable_subject_key(new)
    # Without the renewal table the renewed card would be a stranger.
    assert PpidDeriver(SECRET, RenewalTable()).ppid(new) != first.ppid(new)


def test_chains_of_renewals_resolve_to_the_first_serial() -> None:
    table = RenewalTable([(3, 4), (1, 2), (2, 3)])
    assert [table.first_serial(s) for s in (1, 2, 3, 4, 5)] == [1, 1, 1, 1, 5]


def test_secret_and_repr(renewals: RenewalTable) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        PpidDeriver(b"short", renewals)
    assert SECRET.decode() not in repr(PpidDeriver(SECRET, renewals))


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("old,new\n1,2\n", "line 1: expected the header"),
    ("old_serial,new_serial\n1,2\n3\n", "line 3: expected 2 fields"),
    ("old_serial,new_serial\n1,2\n3,4,5\n", "line 3: expected 2 fields"),
    ("old_serial,new_serial\n\n1,x7\n", "line 3: 'x7' is not a decimal serial"),
    ("old_serial,new_serial\n-1,2\n", "line 2: '-1' is not a decimal serial"),
    ("old_serial,new_serial\n0,2\n", "line 2: serial 0 is out of range"),
    ("old_serial,new_serial\n1,2\n1,3\n", "serial 1 is renewed twice"),
    ("old_serial,new_serial\n1,3\n2,3\n", "serial 3 renews two serials"),
    ('old_serial,new_serial\n"1,2\n', "line"),
], ids=["empty", "header", "short", "long", "letters", "negative", "zero", "fork", "merge", "quote"])
def test_malformed_renewal_csv(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_renewals_csv(text, "renewals.csv")


def test_renewal_cycle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "renewals.csv"
    path.write_text("old_serial,new_serial\n10,11\n11,12\n12,10\n", "utf-8")
    with pytest.raises(RenewalCycleError, match="cycle"):
        load_renewals_csv(path)
    with pytest.raises(RenewalCycleError, match=r"^the renewals of serial 7 form a cycle$"):
        RenewalTable([(7, 7)])


def test_csv_tolerates_bom_blank_lines_and_spaces() -> None:
    table = parse_renewals_csv("\ufeffold_serial,new_serial\r\n\r\n 5 , 6 \r\n6,7\r\n")
    assert table.renewals == {5: 6, 6: 7}
    assert table.first_serial(7) == 5
