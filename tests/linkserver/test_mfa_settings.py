"""The [mfa] table: its documented defaults, and a wrong value stopping the server with key and file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy
from linkserver.config import ConfigError, load_settings
from linkserver.mfaconfig import MfaSettings, PrivacyIdeaSettings
from tests.helpers.example_config import EXAMPLE, example_table
from tests.helpers.example_config import config_with as shared_config_with

MFA_FILES = {"mfa/ca.pem": "placeholder", "secrets/privacyidea-admin.password": "secret\n"}


def config_with(tmp_path: Path, hierarchy: TestHierarchy, table: str) -> Path:
    return shared_config_with(tmp_path, hierarchy, table, MFA_FILES)


def test_the_example_documents_every_default_of_the_privacyidea_backend(tmp_path: Path,
                                                                       hierarchy: TestHierarchy) -> None:
    config = config_with(tmp_path, hierarchy, example_table("mfa", "privacyidea"))
    folder = config.parent
    expected = PrivacyIdeaSettings(url="https://mfa.example.ac.jp", admin_user="kiosk-admin",
                                   admin_password_file=folder / "secrets" / "privacyidea-admin.password",
                                   realm="students", ca_file=folder / "mfa" / "ca.pem")
    assert load_settings(config).mfa == MfaSettings(backend="privacyidea", privacyidea=expected)


def test_the_examples_default_is_the_enrolment_code_as_without_the_table(tmp_path: Path,
                                                                        hierarchy: TestHierarchy) -> None:
    default = EXAMPLE.read_text("utf-8").split("\n[mfa]", 1)[1].split("\n# privacyIDEA", 1)[0]
    assert load_settings(config_with(tmp_path, hierarchy, "\n[mfa]" + default)).mfa == MfaSettings()
    assert MfaSettings().backend == "code"


def test_builtin_takes_the_institutions_name(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    table = '\n[mfa]\nbackend = "builtin"\nissuer_name = "東京大学"\n'
    found = load_settings(config_with(tmp_path, hierarchy, table)).mfa
    assert found == MfaSettings(backend="builtin", issuer_name="東京大学")


#: A text of the example's privacyIDEA table, what replaces it, and the words of the refusal.
WRONG = [
    ('backend = "privacyidea"', 'backend = "totp"', "mfa.backend must be one of code, builtin, privacyidea"),
    ('issuer_name = "University"', 'issuer_name = "A:B"', "mfa.issuer_name must be 1-64 characters"),
    ('url = "https://mfa.example.ac.jp"', 'url = "http://mfa.example.ac.jp"', "mfa.url must be an https://"),
    ('ca_file = "mfa/ca.pem"', 'ca_file = "mfa/none.pem"', "mfa.ca_file names"),
    ('realm = "students"\n', "", "mfa.realm is missing"),
    ('admin_user = "kiosk-admin"', "admin_user = 7", "mfa.admin_user must be a str"),
    ("timeout_seconds = 5", "timeout_seconds = 0", "mfa.timeout_seconds must be between 1 and 120"),
    ("timeout_seconds = 5", "timeout_seconds = 5\ntokens = 3", "mfa.tokens is not a known setting"),
    ('backend = "privacyidea"', 'backend = "builtin"', "mfa.admin_password_file is not a known setting"),
]


@pytest.mark.parametrize(("text", "replacement", "message"), WRONG)
def test_a_wrong_mfa_setting_stops_the_server_naming_key_and_file(
        tmp_path: Path, hierarchy: TestHierarchy, text: str, replacement: str, message: str) -> None:
    table = example_table("mfa", "privacyidea")
    assert text in table
    config = config_with(tmp_path, hierarchy, table.replace(text, replacement, 1))
    with pytest.raises(ConfigError, match=f"^{re.escape(str(config.resolve()))}: {re.escape(message)}"):
        load_settings(config)
