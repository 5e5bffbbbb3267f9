"""``kiosk-linkserver init`` and ``import-accounts`` as an administrator types them: the secrets made
once (0600, never replaced), the settings then complete; accounts from CSV into the embedded
directory, every bad row named before anything is stored."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.nfc.sim import TestHierarchy
from linkserver.cli import main
from linkserver.config import load_settings
from linkserver.demo import prepare_demo
from linkserver.models import Account, AuditEntry
from tests.linkserver.helpers import LiveServer

SECRETS = ("ppid_secret_file", "signing_key_file", "sealing_key_file", "audit_key_file")


def settings_without_secrets(tmp_path: Path, hierarchy: TestHierarchy) -> Path:
    """The demo's settings (and CRLs) in a folder of their own, naming secrets in a folder not made yet."""
    demo = prepare_demo(tmp_path / "demo", hierarchy.path).config_path
    site = tmp_path / "site"
    site.mkdir()
    for crl in demo.parent.glob("*.crl"):
        shutil.copy(crl, site)
    text = demo.read_text("utf-8")
    for old, new in (("ppid.secret", "ppid.secret"), ("token-signing.pem", "signing.pem"),
                     ("sealing.pem", "sealing.pem"), ("audit.key", "audit.key")):
        text = text.replace(f'"{old}"', f'"secrets/{new}"')
    (site / "linkserver.toml").write_text(text, "utf-8")
    return site / "linkserver.toml"


def test_init_makes_each_missing_secret_once_and_never_replaces_one(
        tmp_path: Path, hierarchy: TestHierarchy, capsys: pytest.CaptureFixture[str]) -> None:
    config = settings_without_secrets(tmp_path, hierarchy)
    assert main(["init", "--config", str(config)]) == 0
    said = capsys.readouterr().out
    folder = config.parent / "secrets"
    assert folder.stat().st_mode & 0o777 == 0o700
    made = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert sorted(made) == ["audit.key", "ppid.secret", "sealing.pem", "signing.pem"]
    assert all((folder / name).stat().st_mode & 0o777 == 0o600 for name in made)
    assert said.count("made secrets.") == 4 and "next: kiosk-linkserver migrate" in said
    assert load_settings(config).ppid_secret_file == folder / "ppid.secret"  # they pass its checks
    (folder / "audit.key").unlink()
    assert main(["init", "--config", str(config)]) == 0
    again = capsys.readouterr().out
    assert again.count("kept secrets.") == 3 and "made secrets.audit_key_file" in again
    assert all((folder / name).read_bytes() == made[name] for name in made if name != "audit.key")


def test_init_names_a_secret_the_settings_leave_out(tmp_path: Path, hierarchy: TestHierarchy,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = settings_without_secrets(tmp_path, hierarchy)
    config.write_text(re.sub(r"^sealing_key_file = .*$", "", config.read_text("utf-8"), flags=re.MULTILINE))
    assert main(["init", "--config", str(config)]) == 2
    assert "secrets.sealing_key_file is missing" in capsys.readouterr().err
    assert not (config.parent / "secrets").exists()


CSV_HEADER = "account_id,display_name,email,status,left_on,mfa_methods\n"


def test_import_accounts_adds_and_updates_them_with_an_audit_entry(
        live: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(CSV_HEADER + "2026000001,山田 太郎,taro@example.ac.jp,,,\n"
                        "2024000002,Ichiro Suzuki,ichiro@example.ac.jp,left,2026-03-31,1\n", "utf-8")
    assert main(["import-accounts", "--config", str(live.setup.config_path), str(accounts)]) == 0
    assert "imported 2 account(s): 1 new, 1 updated" in capsys.readouterr().out
    with live.server.parts.db.transaction() as session:
        new = session.get(Account, "2026000001")
        old = session.get(Account, "2024000002")
        assert new is not None
        assert (new.display_name, new.status, new.password_hash) == ("山田 太郎", "active", None)
        assert old is not None and (old.status, old.left_at is not None, old.mfa_methods) == ("left", True, 1)
        assert old.password_hash is not None  # a password it had is kept
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None and last.event == "accounts_imported"


@pytest.mark.parametrize(("rows", "words"), [
    ("2026000001,Taro,not-a-mail,,,\n", "line 3: email must be a mail address"),
    ("2026000001,Taro,t@example.ac.jp,left,,\n", "line 3: a former member (status left) needs left_on"),
    ("2026000001,Taro,t@example.ac.jp,gone,,\n", "line 3: status must be active or left"),
    ("2026000001,Taro,t@example.ac.jp,,,many\n", "line 3: mfa_methods must be a whole number"),
    ("2026000001,Taro,t@example.ac.jp,,,\n2026000001,Taro,t@example.ac.jp,,,\n", "line 4: account 2026000001 "
                                                                                  "appears twice"),
])
def test_a_bad_row_is_named_and_nothing_is_stored(live: LiveServer, tmp_path: Path, rows: str, words: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(CSV_HEADER + "2026000009,Good Row,good@example.ac.jp,,,\n" + rows, "utf-8")
    assert main(["import-accounts", "--config", str(live.setup.config_path), str(accounts)]) == 1
    assert words in capsys.readouterr().err
    with live.server.parts.db.transaction() as session:
        assert session.get(Account, "2026000009") is None
