"""Named staff and counters: administration, the sign-in steps, TOTP and the lockout's back-off.

Over the server's own database (SQLite and PostgreSQL), with the clock pinned so that TOTP codes
and locks fall at known moments; the codes are made by pyotp as an authenticator app would.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from kiosk.nfc.sim.hierarchy import TestHierarchy
from linkserver.anchor import install
from linkserver.audit import AuditAnchor
from linkserver.db import Database
from linkserver.demo import prepare_demo
from linkserver.models import AuditEntry, ConsoleSession, KioskClient, StaffMember
from linkserver.staff import (
    FIRST_LOCK,
    LOCK_AFTER,
    LONGEST_LOCK,
    SignInRefused,
    StaffDirectory,
    StaffError,
    TotpSealer,
    lock_for,
)
from tests.linkserver.helpers import Clock

T0 = dt.datetime(2026, 12, 3, 9, 0, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> Clock:
    return Clock(follows=lambda: T0)


@pytest.fixture
def staff(database_url: str, clock: Clock) -> Iterator[StaffDirectory]:
    db = Database(database_url)
    db.migrate()
    install(db, AuditAnchor(key=b"k" * 32))
    yield StaffDirectory(db, TotpSealer(b"s" * 32), clock)
    db.dispose()


@pytest.fixture
def demo_config(tmp_path: Path, hierarchy: TestHierarchy) -> Path:
    return prepare_demo(tmp_path / "state", hierarchy.path).config_path


def code_at(secret: str, clock: Clock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock() + dt.timedelta(seconds=30 * steps))


def enrolled(staff: StaffDirectory, clock: Clock, staff_id: str = "hanako") -> str:
    """Adds a desk member and signs them in once, enrolling TOTP; their secret back."""
    staff.add(staff_id, "Hanako Sato", "desk", PASSWORD)
    staff.check_password(staff_id, PASSWORD)
    secret, pending = staff.offer_enrolment(staff_id)
    assert staff.confirm_enrolment(staff_id, pending, code_at(secret, clock)).enrolled
    clock.advance(30)
    return secret


def events(staff: StaffDirectory, event: str) -> list[dict[str, object]]:
    with staff.db.transaction() as session:
        return [json.loads(e.details) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.event == event).order_by(AuditEntry.seq))]


def test_a_member_is_added_listed_and_audited_without_their_password(staff: StaffDirectory) -> None:
    added = staff.add("hanako", " Hanako Sato ", "desk", PASSWORD, by="taro")
    assert (added.staff_id, added.display_name, added.role) == ("hanako", "Hanako Sato", "desk")
    assert added.enabled and not added.enrolled and added.counters == ()
    assert [m.staff_id for m in staff.members()] == ["hanako"]
    assert events(staff, "staff_added") == [{"staff": "hanako", "role": "desk", "by": "taro"}]
    with staff.db.transaction() as session:
        stored = session.get(StaffMember, "hanako")
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
        details = " ".join(e.details for e in session.scalars(select(AuditEntry)))
    assert PASSWORD not in details


@pytest.mark.parametrize(("staff_id", "name", "role", "password", "code", "words"), [
    ("Hanako", "H", "desk", PASSWORD, "bad_id", "no staff ID"),
    ("h", "H", "desk", PASSWORD, "bad_id", "no staff ID"),
    ("hanako", "H", "admin", PASSWORD, "bad_role", "desk, supervisor, auditor"),
    ("hanako", "  ", "desk", PASSWORD, "bad_name", "needs a name"),
    ("hanako", "H", "desk", "short pass", "weak_password", "at least 12"),
])
def test_a_bad_member_is_refused_in_words(staff: StaffDirectory, staff_id: str, name: str, role: str,
                                          password: str, code: str, words: str) -> None:
    with pytest.raises(StaffError, match=words) as refused:
        staff.add(staff_id, name, role, password)
    assert refused.value.code == code
    assert staff.members() == []


def test_a_member_cannot_be_added_twice(staff: StaffDirectory) -> None:
    staff.add("hanako", "Hanako Sato", "desk", PASSWORD)
    with pytest.raises(StaffError, match="exists already"):
        staff.add("hanako", "Someone Else", "supervisor", PASSWORD)
    assert staff.info("hanako").role == "desk"


def test_the_first_sign_in_enrols_totp_and_a_code_works_once(staff: StaffDirectory, clock: Clock) -> None:
    secret = enrolled(staff, clock)
    assert staff.info("hanako").enrolled
    code = code_at(secret, clock)
    assert staff.check_password("hanako", PASSWORD).enrolled
    assert staff.check_totp("hanako", code).staff_id == "hanako"
    staff.check_password("hanako", PASSWORD)
    with pytest.raises(SignInRefused) as replayed:
        staff.check_totp("hanako", code)
    assert replayed.value.code == "wrong"
    assert staff.check_totp("hanako", code_at(secret, clock, steps=1)).staff_id == "hanako"


def test_codes_one_step_either_side_count_and_two_steps_do_not(staff: StaffDirectory, clock: Clock) -> None:
    secret = enrolled(staff, clock)
    clock.advance(300)
    for steps, good in ((-2, False), (2, False), (-1, True)):
        if good:
            assert staff.check_totp("hanako", code_at(secret, clock, steps)).staff_id == "hanako"
        else:
            with pytest.raises(SignInRefused):
                staff.check_totp("hanako", code_at(secret, clock, steps))


def test_an_enrolment_needs_a_code_of_its_own_secret(staff: StaffDirectory, clock: Clock) -> None:
    staff.add("hanako", "Hanako Sato", "desk", PASSWORD)
    secret, pending = staff.offer_enrolment("hanako")
    other, _ = staff.offer_enrolment("hanako")
    with pytest.raises(SignInRefused):
        staff.confirm_enrolment("hanako", pending, code_at(other, clock))
    assert not staff.info("hanako").enrolled
    staff.confirm_enrolment("hanako", pending, code_at(secret, clock))
    with pytest.raises(SignInRefused):  # enrolled already: a second enrolment is no way round TOTP
        staff.confirm_enrolment("hanako", staff.offer_enrolment("hanako")[1], code_at(secret, clock, 1))


def test_a_sealed_secret_opens_only_for_its_own_member() -> None:
    sealer = TotpSealer(b"s" * 32)
    sealed = sealer.seal("hanako", "JBSWY3DPEHPK3PXP")
    assert sealer.open("hanako", sealed) == "JBSWY3DPEHPK3PXP"
    assert b"JBSWY3DPEHPK3PXP" not in sealed
    with pytest.raises(StaffError, match="cannot be opened"):
        sealer.open("taro", sealed)
    with pytest.raises(StaffError, match="cannot be opened"):
        TotpSealer(b"t" * 32).open("hanako", sealed)


def test_the_lock_doubles_from_a_minute_to_at_most_an_hour() -> None:
    assert [lock_for(n) for n in range(LOCK_AFTER)] == [None] * LOCK_AFTER
    assert lock_for(LOCK_AFTER) == FIRST_LOCK == dt.timedelta(minutes=1)
    assert lock_for(LOCK_AFTER + 1) == dt.timedelta(minutes=2)
    assert lock_for(LOCK_AFTER + 5) == dt.timedelta(minutes=32)
    assert lock_for(LOCK_AFTER + 6) == LONGEST_LOCK == dt.timedelta(hours=1)  # not 64 minutes
    assert lock_for(10_000) == LONGEST_LOCK


def test_wrong_passwords_lock_the_sign_in_with_a_back_off(staff: StaffDirectory, clock: Clock) -> None:
    staff.add("hanako", "Hanako Sato", "desk", PASSWORD)
    for _ in range(LOCK_AFTER):
        with pytest.raises(SignInRefused) as wrong:
            staff.check_password("hanako", "not the password")
        assert wrong.value.code == "wrong"
    with pytest.raises(SignInRefused) as locked:
        staff.check_password("hanako", PASSWORD)
    assert (locked.value.code, locked.value.until) == ("locked", T0 + FIRST_LOCK)
    clock.advance(60)
    with pytest.raises(SignInRefused, match="wrong"):
        staff.check_password("hanako", "still not it")
    assert staff.info("hanako").locked_until == T0 + dt.timedelta(minutes=1 + 2)
    clock.advance(119)
    with pytest.raises(SignInRefused, match="locked"):
        staff.check_password("hanako", PASSWORD)
    clock.advance(1)
    assert staff.check_password("hanako", PASSWORD).staff_id == "hanako"
    assert events(staff, "staff_sign_in_failed")[-1] == {"staff": "hanako", "failures": 6, "locked": True}


def test_only_a_whole_sign_in_clears_the_count(staff: StaffDirectory, clock: Clock) -> None:
    secret = enrolled(staff, clock)
    for _ in range(LOCK_AFTER - 1):
        with pytest.raises(SignInRefused):
            staff.check_password("hanako", "not the password")
    staff.check_password("hanako", PASSWORD)  # right, but it does not clear the count
    with pytest.raises(SignInRefused, match="wrong"):
        staff.check_totp("hanako", "000000" if code_at(secret, clock) != "000000" else "111111")
    with pytest.raises(SignInRefused, match="locked"):
        staff.check_totp("hanako", code_at(secret, clock))
    clock.advance(60)
    staff.check_password("hanako", PASSWORD)
    staff.check_totp("hanako", code_at(secret, clock))
    assert staff.info("hanako").locked_until is None
    for _ in range(LOCK_AFTER - 1):  # the count starts again from nothing
        with pytest.raises(SignInRefused, match="wrong"):
            staff.check_password("hanako", "not the password")
    assert staff.check_password("hanako", PASSWORD).staff_id == "hanako"


def test_an_unknown_member_is_told_the_same_as_a_wrong_password(staff: StaffDirectory) -> None:
    with pytest.raises(SignInRefused) as unknown:
        staff.check_password("nobody", PASSWORD)
    assert unknown.value.code == "wrong"
    with pytest.raises(SignInRefused, match="wrong"):
        staff.check_totp("nobody", "123456")


def test_a_disabled_member_cannot_sign_in_and_loses_their_sessions(staff: StaffDirectory,
                                                                    clock: Clock) -> None:
    secret = enrolled(staff, clock)
    with staff.db.transaction() as session:
        session.add(ConsoleSession(token_hash="a" * 64, staff_id="hanako", stage="signed_in", csrf_token="c",
                                   created_at=T0, last_seen_at=T0, expires_at=T0 + dt.timedelta(hours=1)))
    staff.set_enabled("hanako", False, by="taro")
    with staff.db.transaction() as session:
        assert session.scalars(select(ConsoleSession)).all() == []
    with pytest.raises(SignInRefused) as disabled:
        staff.check_password("hanako", PASSWORD)
    assert disabled.value.code == "disabled"
    with pytest.raises(SignInRefused, match="disabled"):
        staff.check_totp("hanako", code_at(secret, clock))
    staff.set_enabled("hanako", True)
    staff.check_password("hanako", PASSWORD)
    assert staff.check_totp("hanako", code_at(secret, clock, 1)).enabled


def test_a_reset_sets_the_password_and_enrols_totp_afresh(staff: StaffDirectory, clock: Clock) -> None:
    enrolled(staff, clock)
    for _ in range(LOCK_AFTER):
        with pytest.raises(SignInRefused):
            staff.check_password("hanako", "not the password")
    reset = staff.reset("hanako", "a brand new passphrase", by="taro")
    assert not reset.enrolled and reset.locked_until is None
    with pytest.raises(SignInRefused, match="wrong"):
        staff.check_password("hanako", PASSWORD)
    assert not staff.check_password("hanako", "a brand new passphrase").enrolled
    with pytest.raises(StaffError, match="at least 12"):
        staff.reset("hanako", "short")
    with pytest.raises(StaffError, match="no staff member nobody"):
        staff.reset("nobody", "a brand new passphrase")


def test_counters_group_kiosks_and_desk_staff_are_assigned(staff: StaffDirectory) -> None:
    with staff.db.transaction() as session:
        session.add(KioskClient(client_id="kiosk-1", public_jwk={}, scopes="verify", created_at=T0))
    staff.add("hanako", "Hanako Sato", "desk", PASSWORD)
    staff.add_counter("north", "North counter")
    staff.add_counter("south", "South counter")
    staff.place_kiosk("kiosk-1", "north")
    staff.place_kiosk("kiosk-1", "south")  # a kiosk stands at one counter
    assert staff.counters() == [("north", "North counter", []), ("south", "South counter", ["kiosk-1"])]
    assert staff.counter_of("kiosk-1") == "south"
    assert staff.assign("hanako", "north").counters == ("north",)
    assert staff.assign("hanako", "south").counters == ("north", "south")
    assert staff.assign("hanako", "north", assigned=False).counters == ("south",)
    with pytest.raises(StaffError, match="no counter east"):
        staff.assign("hanako", "east")
    with pytest.raises(StaffError, match="no kiosk client kiosk-9"):
        staff.place_kiosk("kiosk-9", "north")
    with pytest.raises(StaffError, match="exists already"):
        staff.add_counter("north", "Again")


def test_the_staff_command_manages_members(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str], demo_config: Path) -> None:
    from linkserver.cli import main

    monkeypatch.setenv("STAFF_PW", PASSWORD)
    base = ["staff", "--config", str(demo_config)]
    assert main([*base, "add", "hanako", "--name", "Hanako Sato", "--role", "desk",
                 "--password-from-env", "STAFF_PW"]) == 0
    assert main(["counter", "--config", str(demo_config), "add", "north", "--name", "North"]) == 0
    assert main([*base, "assign", "hanako", "north"]) == 0
    assert main([*base, "disable", "hanako"]) == 0
    capsys.readouterr()
    assert main([*base, "list"]) == 0
    listed = capsys.readouterr().out
    assert "hanako\tHanako Sato\tdesk\tDISABLED\tenrols TOTP at the next sign-in\tcounters: north" in listed
    assert PASSWORD not in listed
    assert main([*base, "add", "Bad!", "--name", "X", "--role", "desk",
                 "--password-from-env", "STAFF_PW"]) == 1
    assert "no staff ID" in capsys.readouterr().err
    assert main([*base, "reset", "hanako", "--password-from-env", "UNSET_VARIABLE"]) == 1
    assert "UNSET_VARIABLE is not set" in capsys.readouterr().err
