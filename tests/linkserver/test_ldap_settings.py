"""The [directory] table and the requests the LDAP directory builds, without a directory server:
Active Directory's password reset (``unicodePwd``) and how a refusal becomes problem codes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import ldap
import pytest

from kiosk.nfc.sim import TestHierarchy
from linkserver.config import ConfigError, LdapSettings, load_settings
from linkserver.directory import AccountInfo
from linkserver.errors import ApiError, ErrorCode
from linkserver.ldapdir import LdapDirectory, parse_generalized_time, refusal_problems, unicode_pwd_change
from tests.helpers.example_config import config_with as shared_config_with
from tests.helpers.example_config import example_table
from tests.helpers.slapd import account_tables

LDAP_FILES = {"ldap/ca.pem": "placeholder", "secrets/ldap-service.password": "secret\n"}


def example_directory_table() -> str:
    """The example's [directory] table with every commented key in force and the backend "ldap"."""
    return example_table("directory", "ldap")


def config_with(tmp_path: Path, hierarchy: TestHierarchy, table: str) -> Path:
    return shared_config_with(tmp_path, hierarchy, table, LDAP_FILES)


def test_the_example_documents_every_default_of_the_ldap_directory(tmp_path: Path,
                                                                  hierarchy: TestHierarchy) -> None:
    config = config_with(tmp_path, hierarchy, example_directory_table())
    found = load_settings(config).directory
    assert found is not None
    folder = config.parent
    expected = LdapSettings(url="ldaps://ldap.example.ac.jp", ca_file=folder / "ldap" / "ca.pem",
                            bind_dn="cn=kiosk-service,ou=services,dc=example,dc=ac,dc=jp",
                            bind_password_file=folder / "secrets" / "ldap-service.password",
                            base_dn="ou=people,dc=example,dc=ac,dc=jp")
    assert found == expected


def test_without_a_directory_table_the_server_keeps_its_own_accounts(tmp_path: Path,
                                                                    hierarchy: TestHierarchy) -> None:
    assert load_settings(config_with(tmp_path, hierarchy, "")).directory is None


#: A text of the example's table, what replaces it, and the words of the refusal.
WRONG = [
    ('backend = "ldap"', 'backend = "ad"', "directory.backend must be"),
    ('url = "ldaps://', 'url = "ldap://', "directory.url must be ldaps://"),
    ('password_mode = "password_modify"', 'password_mode = "plain"',
     "directory.password_mode must be one of"),
    ('ca_file = "ldap/ca.pem"', 'ca_file = "ldap/none.pem"', "directory.ca_file names"),
    ('base_dn = "ou=people,dc=example,dc=ac,dc=jp"\n', "", "directory.base_dn is missing"),
    ('account_attribute = "uid"', 'account_attribute = "uid)(x"',
     "directory.account_attribute must be an attribute name"),
    ("timeout_seconds = 5", "timeout_seconds = 0", "directory.timeout_seconds must be"),
    ("pool_size = 4", "pool_size = 4\npool = 3", "directory.pool is not a known setting"),
]


@pytest.mark.parametrize(("text", "replacement", "message"), WRONG)
def test_a_wrong_directory_setting_stops_the_server_naming_key_and_file(
        tmp_path: Path, hierarchy: TestHierarchy, text: str, replacement: str, message: str) -> None:
    table = example_directory_table()
    assert text in table
    config = config_with(tmp_path, hierarchy, table.replace(text, replacement))
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert message in str(raised.value) and str(config) in str(raised.value)


# -- requests and answers ---------------------------------------------------------------------------------

class FakeConnection:
    """Records the calls a directory makes, answering searches with one entry."""

    def __init__(self, refuse: ldap.LDAPError | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse = refuse

    def search_ext_s(self, base: str, scope: int, query: str, attrs: list[str], **_: Any) -> Any:
        self.calls.append(("search", query))
        return [("CN=Hanako,OU=People,DC=example", {"sAMAccountName": [b"hanako"]})]

    def modify_ext_s(self, dn: str, changes: Any) -> None:
        self.calls.append(("modify", (dn, changes)))
        if self.refuse is not None:
            raise self.refuse


class FakePool:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn

    def connection(self) -> Any:
        from contextlib import nullcontext
        return nullcontext(self.conn)


def active_directory(conn: FakeConnection) -> LdapDirectory:
    settings = LdapSettings(url="ldaps://ad.example", ca_file=Path("ca.pem"), bind_dn="svc",
                            bind_password_file=Path("pw"), base_dn="OU=People,DC=example",
                            account_attribute="sAMAccountName", password_mode="unicode_pwd")
    return LdapDirectory(settings, pool=FakePool(conn))  # type: ignore[arg-type]


def test_active_directory_gets_the_password_as_quoted_utf16_in_unicode_pwd() -> None:
    conn = FakeConnection()
    with account_tables() as session:
        active_directory(conn).set_password(session, "hanako", "Pässword-1", dt.datetime.now(dt.UTC))
    assert conn.calls[0] == ("search", "(sAMAccountName=hanako)")
    dn, changes = conn.calls[1][1]
    assert dn == "CN=Hanako,OU=People,DC=example"
    assert changes == [(ldap.MOD_REPLACE, "unicodePwd", ['"Pässword-1"'.encode("utf-16-le")])]
    assert changes == unicode_pwd_change("Pässword-1")


def test_active_directorys_refusal_becomes_the_policy_code_with_its_words() -> None:
    words = "0000052D: Constraint violation - check_password_restrictions: password is too short"
    conn = FakeConnection(ldap.CONSTRAINT_VIOLATION({"desc": "Constraint violation", "info": words}))
    with account_tables() as session, pytest.raises(ApiError) as refused:
        active_directory(conn).set_password(session, "hanako", "Short-1", dt.datetime.now(dt.UTC))
    assert (refused.value.code, refused.value.status) == (ErrorCode.PASSWORD_POLICY, 422)
    assert refused.value.extra["problems"] == ["directory_refused"] and refused.value.extra["reason"] == words


def test_a_policy_control_names_the_broken_rule() -> None:
    history = ldap.CONSTRAINT_VIOLATION({"info": "in history", "ctrls": [
        ("1.3.6.1.4.1.42.2.27.8.5.1", 0, b"0\x03\x81\x01\x08")]})
    assert refusal_problems(history) == (["in_history"], "in history")


@pytest.mark.parametrize(("text", "expected"), [
    ("20260601000000Z", dt.datetime(2026, 6, 1, tzinfo=dt.UTC)),
    ("20260601123000.0Z", dt.datetime(2026, 6, 1, 12, 30, tzinfo=dt.UTC)),
    ("2026060112Z", dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)),
])
def test_generalized_times_are_read_as_utc(text: str, expected: dt.datetime) -> None:
    assert parse_generalized_time(text) == expected


def test_an_entry_without_a_japanese_name_shows_its_english_one() -> None:
    directory = active_directory(FakeConnection())
    found = directory.info("hanako", {"displayName": [b"Hanako Sato"], "mail": [b"h@example"]})
    assert found == dataclasses.replace(
        AccountInfo("hanako", "Hanako Sato", "h@example", "active", None, 0), display_name_en="Hanako Sato")
