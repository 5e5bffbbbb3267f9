"""PPIDs: stable across card renewal, unlinkable across services, and a strict renewal import."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy
from linkserver import PpidDeriver, RenewalTable, load_renewals_csv
from linkserver.ppid import MAX_SERIAL, RenewalCycleError, parse_renewals_csv
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


HEADER = "old_serial,new_serial\n"


@pytest.mark.parametrize(("text", "message"), [
    ("", "renewals.csv: empty, expected the header old_serial,new_serial"),
    ("old,new\n1,2\n", "renewals.csv, line 1: expected the header old_serial,new_serial, found 'old,new'"),
    (HEADER + "1,2\n3\n", "renewals.csv, line 3: expected 2 fields, found 1"),
    (HEADER + "1,2\n3,4,5\n", "renewals.csv, line 3: expected 2 fields, found 3"),
    (HEADER + "\n1,x7\n", "renewals.csv, line 3: 'x7' is not a decimal serial number"),
    (HEADER + "x7,1\n", "renewals.csv, line 2: 'x7' is not a decimal serial number"),
    (HEADER + "-1,2\n", "renewals.csv, line 2: '-1' is not a decimal serial number"),
    (HEADER + "0,2\n", "renewals.csv, line 2: serial 0 is out of range"),
    (HEADER + f"1,{MAX_SERIAL + 1}\n", f"renewals.csv, line 2: serial {MAX_SERIAL + 1} is out of range"),
    (HEADER + "1,2\n1,3\n", "renewals.csv: serial 1 is renewed twice (2 and 3)"),
    (HEADER + "1,3\n2,3\n", "renewals.csv: serial 3 renews two serials (1 and 2)"),
    (HEADER + '"1,2\n', "renewals.csv, line 2: expected 2 fields, found 1"),
    # A field past the csv module's limit is its error, with the line.
    (HEADER + "1" * 131_073 + ",2\n", "renewals.csv, line 2: field larger than field limit (131072)"),
], ids=["empty", "header", "short", "long", "letters", "letters-first", "negative", "zero", "too-large",
        "fork", "merge", "quote", "huge-field"])
def test_malformed_renewal_csv(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_renewals_csv(text, "renewals.csv")


def test_errors_name_the_source() -> None:
    with pytest.raises(ValueError, match=r"^<renewals>: empty, "):
        parse_renewals_csv(" \n")


def test_a_file_s_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "renewals.csv"
    path.write_text(HEADER + "1,2\n2,x\n", "utf-8")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}, line 3: 'x' is not a decimal serial"):
        load_renewals_csv(path)


def test_serials_range_from_1_to_20_octets() -> None:
    table = parse_renewals_csv(HEADER + f"{MAX_SERIAL - 1},{MAX_SERIAL}\n")
    assert table.first_serial(MAX_SERIAL) == MAX_SERIAL - 1
    for old, new, bad in ((0, 1, 0), (1, MAX_SERIAL + 1, MAX_SERIAL + 1)):
        with pytest.raises(ValueError, match=f"^serial {bad} is not a valid certificate serial number$"):
            RenewalTable([(old, new)])


def test_the_ppid_is_a_fixed_function_of_the_issuer_and_the_first_serial(hierarchy: TestHierarchy) -> None:
    # PPIDs are stored: a change to the derivation would turn every linked card into a stranger.
    cert = hierarchy.holder("linked").auth_certificate
    issuer = cert.issuer.public_bytes()
    for first, serial_bytes in ((0x80, b"\x80"), (0x0100, b"\x01\x00"), (MAX_SERIAL, b"\xff" * 20)):
        deriver = PpidDeriver(SECRET, RenewalTable([(first, cert.serial_number)]))
        key = (b"jp.kiosk.ppid.v1\x00" + len(issuer).to_bytes(4, "big") + issuer
               + len(serial_bytes).to_bytes(4, "big") + serial_bytes)
        assert deriver.stable_subject_key(cert) == key
        assert deriver.ppid(cert) == hmac.new(SECRET, key, hashlib.sha256).hexdigest()


def test_renewal_cycle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "renewals.csv"
    path.write_text("old_serial,new_serial\n10,11\n11,12\n12,10\n", "utf-8")
    with pytest.raises(RenewalCycleError, match="cycle"):
        load_renewals_csv(path)
    with pytest.raises(RenewalCycleError, match=r"^the renewals of serial 7 form a cycle$"):
        RenewalTable([(7, 7)])


def test_csv_tolerates_bom_blank_lines_and_spaces() -> None:
    table = parse_renewals_csv("\ufeffold_serial,new_serial\r\n\r\n 5 , 6 \r\n , \r\n6,7\r\n")
    assert table.renewals == {5: 6, 6: 7}
    assert table.first_serial(7) == 5
