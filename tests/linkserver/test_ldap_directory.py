"""The LDAP directory backend against a real slapd (tests/helpers/slapd.py): finding accounts, their
names and state, setting passwords by Password Modify, the password policy's refusals, the
directory going away and coming back, TLS with a pinned CA, and a whole password reset over HTTP
with the reference server configured for the directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.linkage import LinkageClient, ServerRefused
from kiosk.linkage.models import Operation as KioskOperation
from kiosk.nfc.sim import TestHierarchy
from linkserver.config import LdapSettings, Lifetimes, Policy
from linkserver.console.texts import TEXTS
from linkserver.errors import ApiError, ErrorCode
from linkserver.ldapdir import LdapDirectory
from linkserver.models import Account, AuditEntry, Operation
from linkserver.operations import OperationService
from tests.helpers.linkage_client import LINKED, ROOMY, card_verification, config_for, staff_decides
from tests.helpers.server_api import verified
from tests.helpers.slapd import PEOPLE, SERVICE_DN, Slapd, account_tables, available, binds, make_tls, started
from tests.linkserver.console_parts import ConsoleUser, seat_staff
from tests.linkserver.helpers import LiveServer, live_server

pytestmark = pytest.mark.skipif(not available(), reason="Debian's slapd is not installed (scripts/setup)")

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with started(tmp_path_factory.mktemp("slapd")) as server:
        yield server


@pytest.fixture
def running(slapd: Slapd) -> Iterator[Slapd]:
    """The session's slapd, running again after the test whatever the test did to it."""
    yield slapd
    if slapd.process is not None and slapd.process.poll() is None:
        slapd.process.send_signal(signal.SIGCONT)
    if slapd.process is None:
        slapd.start()


def settings_for(slapd: Slapd, **changes: object) -> LdapSettings:
    base = dict(url=slapd.ldaps_url, ca_file=slapd.ca_file, bind_dn=SERVICE_DN,
                bind_password_file=slapd.folder / "service.password", base_dn=PEOPLE, timeout_seconds=2)
    base.update(changes)
    return LdapSettings(**base)  # type: ignore[arg-type]


@pytest.fixture
def directory(running: Slapd) -> Iterator[LdapDirectory]:
    found = LdapDirectory(settings_for(running))
    yield found
    found.pool.close()


@pytest.fixture
def session() -> Iterator[Session]:
    with account_tables() as tables:
        yield tables


def refusal(call: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()  # type: ignore[operator]
    return caught.value


# -- reading accounts ------------------------------------------------------------------------------------

def test_an_active_account_has_its_names_mail_and_a_row_for_its_mfa(directory: LdapDirectory,
                                                                    session: Session) -> None:
    found = directory.find(session, "2025000001")
    assert found is not None
    assert (found.display_name, found.display_name_en) == ("山田 花子", "Hanako Yamada")
    assert (found.email, found.status, found.left_at) == ("2025000001@example.ac.jp", "active", None)
    row = session.get(Account, "2025000001")
    assert row is not None and row.display_name == "山田 花子" and row.password_hash is None


def test_a_former_member_has_left_on_the_directorys_date_and_salvage_counts_from_it(
        directory: LdapDirectory, session: Session) -> None:
    found = directory.find(session, "2025000002")
    assert found is not None
    assert (found.status, found.left_at) == ("left", dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    parts = SimpleNamespace(policy=Policy(salvage_days=180), directory=directory)
    service = OperationService(parts, Lifetimes())  # type: ignore[arg-type]
    assert service._salvage_open(found, found.left_at + dt.timedelta(days=180))
    assert not service._salvage_open(found, found.left_at + dt.timedelta(days=181))


@pytest.mark.parametrize("account_id", ["2099999999", "*", "2025000001)(uid=*"])
def test_no_account_and_no_filter_injection(directory: LdapDirectory, session: Session,
                                            account_id: str) -> None:
    assert directory.find(session, account_id) is None


def test_start_tls_on_the_plain_port_finds_the_account(running: Slapd, session: Session) -> None:
    directory = LdapDirectory(settings_for(running, url=running.ldap_url, start_tls=True))
    found = directory.find(session, "2025000003")
    assert found is not None and found.display_name_en == "Jiro Suzuki"


def test_a_directory_whose_certificate_the_pinned_ca_did_not_sign_is_refused(
        running: Slapd, session: Session, tmp_path: Path) -> None:
    other_ca = make_tls(tmp_path / "other", "another CA")
    directory = LdapDirectory(settings_for(running, ca_file=other_ca))
    refused = refusal(lambda: directory.find(session, "2025000001"))
    assert (refused.code, refused.status) == (ErrorCode.DIRECTORY_UNAVAILABLE, 503)


# -- passwords -------------------------------------------------------------------------------------------

def test_a_new_password_binds_and_the_old_one_no_longer_does(running: Slapd, directory: LdapDirectory,
                                                             session: Session) -> None:
    directory.find(session, "2025000001")
    assert directory.check_password(session, "2025000001", "Old-Password-1")
    directory.set_password(session, "2025000001", "Fresh-Password-77", NOW)
    assert binds(running, "2025000001", "Fresh-Password-77")
    assert not binds(running, "2025000001", "Old-Password-1")
    assert directory.check_password(session, "2025000001", "Fresh-Password-77")
    assert not directory.check_password(session, "2025000001", "Old-Password-1")
    assert not directory.check_password(session, "2025000001", "")  # never an anonymous bind
    row = session.get(Account, "2025000001")
    assert row is not None and row.password_changed_at == NOW


@pytest.mark.parametrize(("password", "problem", "reason"), [
    ("Short-1", "too_short", "quality"),
    ("Old-Password-3", "in_history", "existing value"),
])
def test_the_password_policy_refuses_with_its_problem_and_reason(
        running: Slapd, directory: LdapDirectory, session: Session, password: str, problem: str,
        reason: str) -> None:
    refused = refusal(lambda: directory.set_password(session, "2025000003", password, NOW))
    assert (refused.code, refused.status) == (ErrorCode.PASSWORD_POLICY, 422)
    assert refused.extra["problems"] == [problem]
    assert reason in str(refused.extra["reason"])
    assert binds(running, "2025000003", "Old-Password-3")


def test_a_password_used_before_is_refused_as_in_history(running: Slapd, directory: LdapDirectory,
                                                         session: Session) -> None:
    directory.set_password(session, "2025000004", "Second-Password-4", NOW)
    directory.set_password(session, "2025000004", "Third-Password-4", NOW)
    refused = refusal(lambda: directory.set_password(session, "2025000004", "Second-Password-4", NOW))
    assert refused.extra["problems"] == ["in_history"]
    assert binds(running, "2025000004", "Third-Password-4")


def test_a_stopped_directory_fails_with_its_code_changes_nothing_and_works_once_back(
        running: Slapd, directory: LdapDirectory, session: Session) -> None:
    directory.find(session, "2025000005")  # the pool holds a connection from before the restart
    running.stop()
    refused = refusal(lambda: directory.set_password(session, "2025000005", "After-Restart-55", NOW))
    assert (refused.code, refused.status) == (ErrorCode.DIRECTORY_UNAVAILABLE, 503)
    running.start()
    assert binds(running, "2025000005", "Old-Password-5")
    directory.set_password(session, "2025000005", "After-Restart-55", NOW)  # reconnected
    assert binds(running, "2025000005", "After-Restart-55")


def test_a_restart_between_two_calls_goes_unnoticed(running: Slapd, directory: LdapDirectory,
                                                   session: Session) -> None:
    """The pool's connection from before the restart is dead; the next call takes a new one."""
    assert directory.find(session, "2025000003") is not None
    running.stop()
    running.start()
    found = directory.find(session, "2025000003")
    assert found is not None and found.display_name_en == "Jiro Suzuki"


def wait_stopped(pid: int) -> None:
    """Until every thread of the process is stopped: SIGSTOP reaches a busy thread a moment later."""
    tasks = Path(f"/proc/{pid}/task")
    while not all((task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
                  for task in tasks.iterdir()):
        os.sched_yield()


def test_a_directory_that_hangs_times_out_with_its_code(running: Slapd, directory: LdapDirectory,
                                                       session: Session) -> None:
    directory.find(session, "2025000005")
    assert running.process is not None
    running.process.send_signal(signal.SIGSTOP)
    try:
        wait_stopped(running.process.pid)
        refused = refusal(lambda: directory.find(session, "2025000005"))
    finally:
        running.process.send_signal(signal.SIGCONT)
    assert refused.code == ErrorCode.DIRECTORY_UNAVAILABLE
    assert directory.find(session, "2025000005") is not None


# -- the whole reset over HTTP --------------------------------------------------------------------------

def approved_reset(live: LiveServer, client: LinkageClient) -> tuple[KioskOperation, str]:
    """A password reset for the linked account, verified with its card and approved by staff."""
    verification = card_verification(live, client, "linked", LINKED)
    operation = client.create_operation("password_reset", verification.verification_id, {},
                                        uuid.uuid4().hex)
    assert operation.session_key is not None
    staff_decides(live, operation.operation_id)
    return operation, operation.session_key


def test_a_password_reset_through_the_server_changes_the_directorys_password(
        running: Slapd, hierarchy: TestHierarchy, tmp_path: Path) -> None:
    """Card verification, staff approval, a password the policy refuses (the current one), then a
    good one: the refusal keeps the operation open, and afterwards only the new password binds."""
    settings = {"directory": settings_for(running)}
    with live_server(tmp_path / "state", hierarchy, limits=ROOMY, settings=settings) as live, \
            LinkageClient(config_for(live)) as client:
        operation, key = approved_reset(live, client)
        with pytest.raises(ServerRefused) as refused:
            client.set_password(operation.operation_id, "Old-Password-0", key)
        assert (refused.value.code, refused.value.extra["problems"]) == ("password_policy", ["in_history"])
        assert binds(running, LINKED, "Old-Password-0")
        done = client.set_password(operation.operation_id, "Counter-Reset-2026!", key)
        assert done.status == "completed"
    assert binds(running, LINKED, "Counter-Reset-2026!")
    assert not binds(running, LINKED, "Old-Password-0")


# -- the directory down while staff and users wait -------------------------------------------------------

def backend_outages(live: LiveServer) -> list[dict[str, object]]:
    with live.server.parts.db.transaction() as session:
        return [json.loads(entry.details) for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.event == "backend_unavailable").order_by(AuditEntry.seq))]


def operation_status(live: LiveServer, operation_id: str) -> str:
    with live.server.parts.db.transaction() as session:
        op = session.get(Operation, operation_id)
        assert op is not None
        return op.status


def test_the_console_queue_stays_usable_while_the_directory_is_down(
        running: Slapd, hierarchy: TestHierarchy, tmp_path: Path) -> None:
    """The queue shows every request, says why the names are missing, and an approval that cannot
    reach the directory changes nothing, says so in words and is written to the audit log."""
    with live_server(tmp_path / "state", hierarchy, limits=ROOMY,
                     settings={"directory": settings_for(running)}) as live:
        seat_staff(live)
        kiosk = live.kiosk()
        created = live.operation(kiosk, "mfa_reset", verified(live, kiosk)).json()
        operation_id = created["operation_id"]
        hanako = ConsoleUser(live, "hanako")
        before = hanako.sign_in().text
        assert operation_id in before and TEXTS["ja"]["name_unknown"] not in before
        running.stop()
        queue = hanako.get("/")
        assert queue.status_code == 200 and operation_id in queue.text
        assert TEXTS["ja"]["directory_down"] in queue.text and TEXTS["ja"]["name_unknown"] in queue.text
        answer = hanako.decide(operation_id, "approve")
        assert answer.status_code == 503 and TEXTS["ja"]["directory_unavailable"] in answer.text
        assert operation_status(live, operation_id) == "awaiting_approval"
        assert backend_outages(live) == [{"backend": "directory", "code": "directory_unavailable",
                                          "operation_id": operation_id, "staff": "hanako"}]
        running.start()
        assert TEXTS["ja"]["directory_down"] not in hanako.get("/").text
        assert hanako.decide(operation_id, "approve").status_code == 303
        assert operation_status(live, operation_id) == "completed"


def test_a_password_sent_while_the_directory_is_down_can_be_sent_again(
        running: Slapd, hierarchy: TestHierarchy, tmp_path: Path) -> None:
    with live_server(tmp_path / "state", hierarchy, limits=ROOMY,
                     settings={"directory": settings_for(running)}) as live, \
            LinkageClient(config_for(live)) as client:
        operation, key = approved_reset(live, client)
        running.stop()
        with pytest.raises(ServerRefused) as refused:
            client.set_password(operation.operation_id, "While-Down-2026!", key)
        assert (refused.value.status, refused.value.code) == (503, "directory_unavailable")
        assert operation_status(live, operation.operation_id) == "approved"
        assert [entry["operation_id"] for entry in backend_outages(live)] == [operation.operation_id]
        running.start()
        done = client.set_password(operation.operation_id, "While-Down-2026!", key)
        assert done.status == "completed"
    assert binds(running, LINKED, "While-Down-2026!")
