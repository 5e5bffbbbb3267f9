"""The [notifier] and [salvage] settings, and the words of a notice in each language."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kiosk.nfc.sim import TestHierarchy
from linkserver.config import ConfigError, load_settings
from linkserver.demo import prepare_demo
from linkserver.mailsettings import NotifierSettings, SalvageSettings
from linkserver.mailtext import handoff_notice, notice
from tests.helpers.example_config import example_table

SMTP = ('[notifier]\nbackend = "smtp"\nhost = "mail.example.ac.jp"\nfrom_address = "it@example.ac.jp"\n')


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory, hierarchy: TestHierarchy) -> Path:
    """The demo's configuration, whose relative paths hold for any file beside it."""
    path = prepare_demo(tmp_path_factory.mktemp("mailsettings"), hierarchy.path).config_path
    (path.parent / "smtp.password").write_text("secret\n", "utf-8")
    return path


def config_with(tmp_path: Path, base: Path, tables: str) -> Path:
    """A copy of ``base`` beside it (named after the test's folder) with ``tables`` added."""
    path = base.parent / f"{tmp_path.name}.toml"
    path.write_text(base.read_text("utf-8") + "\n" + tables, "utf-8")
    return path


def test_the_defaults_keep_notices_in_the_outbox(tmp_path: Path, demo_config: Path) -> None:
    settings = load_settings(config_with(tmp_path, demo_config, ""))
    assert settings.notifier.backend == "outbox" and not settings.notifier.sends
    assert settings.notifier.language == "ja+en"
    assert settings.notifier.message_id_domain == "127.0.0.1"  # the issuer's host
    assert settings.salvage.handoff == "none"


def test_an_smtp_table_is_read_whole(tmp_path: Path, demo_config: Path) -> None:
    settings = load_settings(config_with(tmp_path, demo_config, SMTP + (
        'port = 2525\nusername = "kiosk"\npassword_file = "smtp.password"\nretry_base_seconds = 5\n'
        'retry_max_seconds = 50\nlanguage = "ja"\nmessage_id_domain = "mail.example.ac.jp"\n'
        '[salvage]\nhandoff = "webhook"\nwebhook_url = "https://custody.example.ac.jp/hook"\n')))
    notifier = settings.notifier
    assert (notifier.host, notifier.port, notifier.starttls, notifier.username) == (
        "mail.example.ac.jp", 2525, True, "kiosk")
    assert notifier.password_file == demo_config.parent / "smtp.password"
    assert (notifier.retry_base_seconds, notifier.retry_max_seconds, notifier.language) == (5, 50, "ja")
    assert notifier.message_id_domain == "mail.example.ac.jp"
    assert settings.salvage.webhook and settings.salvage.webhook_url == "https://custody.example.ac.jp/hook"


@pytest.mark.parametrize(("tables", "problem"), [
    ('[notifier]\nbackend = "pigeon"\n', 'notifier.backend must be "outbox" or "smtp", not \'pigeon\''),
    ('[notifier]\nbackend = "smtp"\nfrom_address = "it@example.ac.jp"\n', "notifier.host is missing"),
    ('[notifier]\nbackend = "smtp"\nhost = "mail.example.ac.jp"\n', "notifier.from_address is missing"),
    (SMTP.replace("it@example.ac.jp", "helpdesk"),
     "notifier.from_address must be a mail address (name@domain), not 'helpdesk'"),
    (SMTP + 'username = "kiosk"\npassword_file = "smtp.password"\nstarttls = false\n',
     "notifier.starttls must be true when a username is given: the password would cross the network "
     "in the clear"),
    (SMTP + 'username = "kiosk"\n', "notifier.password_file must be given together with username"),
    (SMTP + 'port = 0\n', "notifier.port must be between 1 and 65535, not 0"),
    (SMTP + 'language = "fr"\n', "notifier.language must be one of ja+en, ja, en, not 'fr'"),
    (SMTP + 'retry_base_seconds = 100\nretry_max_seconds = 50\n',
     "notifier.retry_base_seconds must be between 1 and 50, not 100"),
    (SMTP + 'ca_file = "missing.pem"\n', "notifier.ca_file names"),
    (SMTP + 'sender = "x"\n', "notifier.sender is not a known setting (a typo?)"),
    ('[salvage]\nhandoff = "fax"\n', "salvage.handoff must be one of none, webhook, mail, not 'fax'"),
    ('[salvage]\nhandoff = "webhook"\n', "salvage.webhook_url is missing"),
    ('[salvage]\nhandoff = "webhook"\nwebhook_url = "http://custody.example.ac.jp/hook"\n',
     "salvage.webhook_url must be an https:// URL (http:// only to loopback), not "
     "'http://custody.example.ac.jp/hook'"),
    ('[salvage]\nhandoff = "mail"\n', "salvage.custody_address is missing"),
])
def test_a_wrong_setting_names_its_key_and_the_file(tmp_path: Path, demo_config: Path, tables: str,
                                                    problem: str) -> None:
    path = config_with(tmp_path, demo_config, tables)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(f"{path}: {problem}")


def test_the_example_documents_every_default_of_the_notifier_and_the_salvage_hand_off(
        tmp_path: Path, demo_config: Path) -> None:
    folder = demo_config.parent
    for name in ("smtp/ca.pem", "secrets/smtp.password", "custody/ca.pem"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text("placeholder")
    tables = (example_table("notifier", "smtp")
              + example_table("salvage", "none").replace('handoff = "none"', 'handoff = "webhook"'))
    settings = load_settings(config_with(tmp_path, demo_config, tables))
    assert settings.notifier == NotifierSettings(
        backend="smtp", host="smtp.example.ac.jp", ca_file=folder / "smtp" / "ca.pem",
        username="kiosk-notices",
        password_file=folder / "secrets" / "smtp.password", from_address="it-helpdesk@example.ac.jp",
        message_id_domain="127.0.0.1")
    assert settings.salvage == SalvageSettings(
        handoff="webhook", webhook_url="https://custody.example.ac.jp/salvage",
        webhook_ca_file=folder / "custody" / "ca.pem", custody_address="data-custody@example.ac.jp")


AT = dt.datetime(2026, 12, 3, 15, 40, tzinfo=dt.UTC)  # already the 4th in Japan


def test_a_notice_says_when_in_japan_time_and_in_utc() -> None:
    both = notice("mfa_reset", name_ja="佐藤 花子", name_en="Hanako Sato", at=AT, where="Main desk (kiosk-1)")
    assert both.subject == ("お客様の多要素認証の設定が解除されました / "
                            "Your multi-factor authentication methods were cleared")
    assert both.body.startswith("佐藤 花子 様\n\nお客様の多要素認証の設定が解除されました。\n")
    assert "日時: 2026年12月4日 00:40（日本時間）\n  場所: Main desk (kiosk-1)\n" in both.body
    assert "Dear Hanako Sato,\n" in both.body and "When:  2026-12-03 15:40 UTC\n" in both.body
    japanese = notice("mfa_reset", name_ja="佐藤 花子", name_en="Hanako Sato", at=AT, where="x",
                      language="ja")
    assert japanese.subject == "お客様の多要素認証の設定が解除されました"
    assert "Dear" not in japanese.body and "UTC" not in japanese.body
    english = notice("mfa_reset", name_ja="佐藤 花子", name_en="Hanako Sato", at=AT, where="x",
                     language="en")
    assert english.subject == "Your multi-factor authentication methods were cleared"
    assert "様" not in english.body and "佐藤" not in english.body


def test_the_custody_team_is_told_what_to_prepare_but_not_the_ticket() -> None:
    text = handoff_notice(account_id="2019000003", mode="backup", expires=AT + dt.timedelta(days=14),
                          operation_id="op_123", at=AT)
    assert text.subject == "データ引き継ぎの依頼 / Salvage hand-off: 2019000003"
    assert "2019000003" in text.body and "backup" in text.body and "op_123" in text.body
    assert "2026-12-17 15:40 UTC" in text.body and "2026-12-04 00:40（日本時間 / JST）" in text.body
