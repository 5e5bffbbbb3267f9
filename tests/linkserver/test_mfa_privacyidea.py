"""The ``privacyidea`` MFA backend against a real privacyIDEA (tests/helpers/privacyidea.py), whose
user realm is an LDAP resolver on the tests' slapd: a reset deletes the user's tokens and enrols a
TOTP that /validate/check accepts, the old ones no longer validate; the check's words; and every
failure in words: a refused login, an unknown realm, a deletion refused part way, an enrolment
refused after the deletion, privacyIDEA stopped, a port that refuses, a server that never answers,
a certificate from another CA. privacyIDEA's refusals are real: admin policies. Nothing secret is
logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyotp
import pytest
from sqlalchemy.orm import Session

from linkserver.directory import AccountInfo
from linkserver.mfa import MfaUnavailable
from linkserver.mfa_privacyidea import MfaPartlyReset, PrivacyIdeaMfa
from linkserver.mfaconfig import PrivacyIdeaSettings as Settings
from tests.helpers.privacyidea import ADMIN, ADMIN_PASSWORD, REALM, RESOLVER, PrivacyIdea
from tests.helpers.slapd import account_tables

NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def running(privacyidea: PrivacyIdea) -> Iterator[PrivacyIdea]:
    """The session's privacyIDEA, running again after the test whatever the test did to it."""
    yield privacyidea
    if privacyidea.process is None:
        privacyidea.start()


@pytest.fixture
def session() -> Iterator[Session]:
    with account_tables() as tables:
        yield tables


def settings_for(server: PrivacyIdea, **changes: object) -> Settings:
    base = Settings(url=server.url, ca_file=server.ca_file, admin_user=ADMIN,
                    admin_password_file=server.admin_password_file, realm=REALM, timeout_seconds=5)
    return replace(base, **changes)  # type: ignore[arg-type]


def account(account_id: str) -> AccountInfo:
    return AccountInfo(account_id=account_id, display_name="利用者", email=f"{account_id}@example.ac.jp",
                       status="active", left_at=None, mfa_methods=1)


def test_reset_replaces_the_tokens_with_one_that_validates(privacyidea: PrivacyIdea,
                                                           session: Session) -> None:
    user = "2025000003"
    old = [privacyidea.enrol_totp(user), privacyidea.enrol_totp(user)]
    assert privacyidea.validates(user, old[0])
    old_serials = {token["serial"] for token in privacyidea.tokens(user)}

    enrolment = PrivacyIdeaMfa(settings_for(privacyidea)).reset(session, account(user), NOW)

    assert enrolment.cleared == 2
    assert enrolment.code is None
    assert enrolment.expires_at == NOW + dt.timedelta(hours=24)
    assert enrolment.uri is not None and enrolment.uri.startswith("otpauth://totp/")
    serials = {token["serial"] for token in privacyidea.tokens(user)}
    assert len(serials) == 1 and not serials & old_serials
    # The next time step of each old secret: privacyIDEA's window would take it, had the token stayed.
    assert not privacyidea.validates(user, old[0], steps_ahead=1)
    assert not privacyidea.validates(user, old[1], steps_ahead=1)
    new_secret = pyotp.parse_uri(enrolment.uri).secret
    assert privacyidea.validates(user, new_secret)


def test_reset_of_a_user_without_tokens_enrols_one(privacyidea: PrivacyIdea, session: Session) -> None:
    user = "2025000004"
    backend = PrivacyIdeaMfa(settings_for(privacyidea), first_use=dt.timedelta(hours=2))
    enrolment = backend.reset(session, account(user), NOW)
    assert enrolment.cleared == 0
    assert enrolment.expires_at == NOW + dt.timedelta(hours=2)
    assert enrolment.uri is not None
    assert privacyidea.validates(user, pyotp.parse_uri(enrolment.uri).secret)


def test_check_says_who_signed_in_and_which_realm(privacyidea: PrivacyIdea) -> None:
    words = PrivacyIdeaMfa(settings_for(privacyidea)).check()
    assert words == (f"privacyIDEA at {privacyidea.url}: signed in as admin '{ADMIN}', "
                     f"realm '{REALM}' found (resolvers: {RESOLVER})")


def test_check_names_a_realm_privacyidea_lacks(privacyidea: PrivacyIdea) -> None:
    with pytest.raises(MfaUnavailable, match="realm 'nowhere' not found"):
        PrivacyIdeaMfa(settings_for(privacyidea, realm="nowhere")).check()


def test_a_wrong_admin_password_is_a_refused_login(privacyidea: PrivacyIdea, session: Session,
                                                   tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n", "utf-8")
    backend = PrivacyIdeaMfa(settings_for(privacyidea, admin_password_file=wrong))
    refusal = f"privacyIDEA at {privacyidea.url} refused the admin login of '{ADMIN}': .*credentials"
    with pytest.raises(MfaUnavailable, match=refusal):
        backend.check()
    with pytest.raises(MfaUnavailable, match=refusal) as raised:
        backend.reset(session, account("2025000005"), NOW)
    assert "not-the-password" not in str(raised.value)


def test_an_unknown_realm_is_privacyideas_own_message(privacyidea: PrivacyIdea, session: Session) -> None:
    user = "2025000005"
    secret = privacyidea.enrol_totp(user)
    backend = PrivacyIdeaMfa(settings_for(privacyidea, realm="nowhere"))
    with pytest.raises(MfaUnavailable, match=r"refused to list the tokens of '2025000005': "
                                             r"ERR\d+: .*; nothing was changed"):
        backend.reset(session, account(user), NOW)
    assert privacyidea.validates(user, secret)


def test_an_enrolment_refused_after_the_deletion_says_the_user_has_none(
        privacyidea: PrivacyIdea, session: Session) -> None:
    user = "2025000001"
    privacyidea.enrol_totp(user)
    # An admin policy that lets the admin list and delete tokens, but not enrol TOTP.
    privacyidea.api("POST", "/policy/no-totp", json={
        "scope": "admin", "action": "tokenlist, delete, policywrite, policydelete, userlist",
        "realm": REALM, "active": True})
    backend = PrivacyIdeaMfa(settings_for(privacyidea))
    try:
        words = r"refused to enrol a TOTP token for '2025000001': .*; the user's 1 old token\(s\) were"
        with pytest.raises(MfaPartlyReset, match=words) as raised:
            backend.reset(session, account(user), NOW)
    finally:
        privacyidea.api("DELETE", "/policy/no-totp")
    assert raised.value.cleared == 1
    assert privacyidea.tokens(user) == []
    retried = backend.reset(session, account(user), NOW)
    assert retried.cleared == 0 and retried.uri is not None
    assert privacyidea.validates(user, pyotp.parse_uri(retried.uri).secret)


def test_privacyidea_stopped_is_unreachable(running: PrivacyIdea) -> None:
    running.stop()
    with pytest.raises(MfaUnavailable, match=f"privacyIDEA at {running.url} could not be reached: "):
        PrivacyIdeaMfa(settings_for(running)).check()


def test_a_port_that_refuses_is_unreachable(privacyidea: PrivacyIdea, session: Session) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{closed.getsockname()[1]}"
        with pytest.raises(MfaUnavailable, match=f"privacyIDEA at {url} could not be reached: .*refused"):
            PrivacyIdeaMfa(settings_for(privacyidea, url=url)).reset(session, account("2025000005"), NOW)


def test_a_server_that_never_answers_times_out(privacyidea: PrivacyIdea, session: Session) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections are accepted by the kernel; nothing is ever read or written
        url = f"https://127.0.0.1:{silent.getsockname()[1]}"
        backend = PrivacyIdeaMfa(settings_for(privacyidea, url=url, timeout_seconds=1))
        with pytest.raises(MfaUnavailable, match=f"privacyIDEA at {url} did not answer within 1 s"):
            backend.reset(session, account("2025000005"), NOW)


def test_the_admin_token_is_kept_until_near_its_expiry(privacyidea: PrivacyIdea, tmp_path: Path) -> None:
    password = tmp_path / "admin.password"
    password.write_text(ADMIN_PASSWORD, "utf-8")
    clock = [1000.0]
    backend = PrivacyIdeaMfa(settings_for(privacyidea, admin_password_file=password), clock=lambda: clock[0])
    backend.check()
    password.unlink()  # a second login would now fail: the cached token serves
    backend.check()
    clock[0] += 3600
    with pytest.raises(MfaUnavailable, match=f"admin password file {password} cannot be read"):
        backend.check()


def test_a_token_privacyidea_refuses_is_replaced_by_a_fresh_login(privacyidea: PrivacyIdea) -> None:
    backend = PrivacyIdeaMfa(settings_for(privacyidea))
    backend.check()
    backend._jwt = "eyJhbGciOiJIUzI1NiJ9.e30.not-a-signature"
    assert "signed in as admin" in backend.check()
    assert backend._jwt != "eyJhbGciOiJIUzI1NiJ9.e30.not-a-signature"


def test_nothing_secret_is_logged(privacyidea: PrivacyIdea, session: Session,
                                  caplog: pytest.LogCaptureFixture) -> None:
    user = "2025000002"
    privacyidea.enrol_totp(user)
    backend = PrivacyIdeaMfa(settings_for(privacyidea))
    with caplog.at_level(logging.DEBUG):
        enrolment = backend.reset(session, account(user), NOW)
        with pytest.raises(MfaUnavailable):
            PrivacyIdeaMfa(settings_for(privacyidea, realm="nowhere")).reset(session, account(user), NOW)
    assert enrolment.uri is not None and backend._jwt is not None
    secret = pyotp.parse_uri(enrolment.uri).secret
    logged = caplog.text + repr(enrolment)
    assert "token(s) deleted" in caplog.text  # the reset is logged, only without its secrets
    for forbidden in (enrolment.uri, secret, backend._jwt, ADMIN_PASSWORD):
        assert forbidden not in logged


def test_a_certificate_from_another_ca_is_refused(privacyidea: PrivacyIdea) -> None:
    other_ca = privacyidea.slapd.ca_file  # the slapd's own CA, which never signed privacyIDEA's certificate
    with pytest.raises(MfaUnavailable, match=f"privacyIDEA at {privacyidea.url} could not be reached: "
                                             r".*certificate verify failed"):
        PrivacyIdeaMfa(settings_for(privacyidea, ca_file=other_ca)).check()


@pytest.mark.parametrize("deletable", [0, 1], ids=["first-deleted", "first-refused"])
def test_a_deletion_refused_part_way_says_how_many_went(privacyidea: PrivacyIdea, session: Session,
                                                        deletable: int) -> None:
    user = "2024000001"
    keys = [privacyidea.enrol_totp(user), privacyidea.enrol_totp(user)]
    serials = [token["serial"] for token in privacyidea.tokens(user)]
    # Admin policies: everything the reset needs, but deleting only one of the two tokens.
    privacyidea.api("POST", "/policy/base", json={
        "scope": "admin", "action": "tokenlist, enrollTOTP, userlist, policywrite, policydelete",
        "realm": REALM, "active": True})
    privacyidea.api("POST", "/policy/delete-one", json={
        "scope": "admin", "action": "delete", "realm": REALM, "active": True,
        "conditions": [["token", "serial", "equals", serials[deletable], True]]})
    backend = PrivacyIdeaMfa(settings_for(privacyidea))
    try:
        with pytest.raises(MfaUnavailable, match=f"refused to delete token {serials[1 - deletable]} of "
                                                 f"'{user}': .*action delete is not allowed") as raised:
            backend.reset(session, account(user), NOW)
    finally:
        privacyidea.api("DELETE", "/policy/delete-one")
        privacyidea.api("DELETE", "/policy/base")
    kept = [token["serial"] for token in privacyidea.tokens(user)]
    if deletable == 0:
        assert isinstance(raised.value, MfaPartlyReset) and raised.value.cleared == 1
        assert "1 of the user's 2 tokens were already deleted and no new one enrolled" in str(raised.value)
        assert kept == [serials[1]]
    else:
        assert not isinstance(raised.value, MfaPartlyReset)
        assert str(raised.value).endswith("; nothing was changed")
        assert kept == serials
    assert privacyidea.validates(user, keys[1])
    assert backend.reset(session, account(user), NOW).cleared == len(kept)
