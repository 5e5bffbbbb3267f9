"""The window's translations: every string of ``kiosk/ui`` is in the catalogues, and all of it is in Japanese.

To bring the catalogues up to date after changing a screen's words:

    .venv/bin/pyside6-lupdate -extensions py -locations relative -no-obsolete -source-language en \\
        -target-language ja_JP kiosk/ui -ts resources/i18n/kiosk_ja.ts
    .venv/bin/pyside6-lupdate -pluralonly -extensions py -locations relative -no-obsolete \\
        -source-language en -target-language en kiosk/ui -ts resources/i18n/kiosk_en.ts

then translate what is marked unfinished (``kiosk_en.ts`` holds only the English plural forms).
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QTranslator

from kiosk.ui.translations import compile_translation, translation_file
from tests.conftest import repo_root

TS_DIR = repo_root() / "resources" / "i18n"
LUPDATE = Path(sys.executable).with_name("pyside6-lupdate")
Key = tuple[str, str, str]  # context, source, disambiguation comment


def messages(ts_file: Path) -> dict[Key, ET.Element]:
    """The live messages of a catalogue (what lupdate marked obsolete or vanished is left out)."""
    found: dict[Key, ET.Element] = {}
    for context in ET.parse(ts_file).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            if translation is not None and translation.get("type") in ("obsolete", "vanished"):
                continue
            key = (name, message.findtext("source") or "", message.findtext("comment") or "")
            found[key] = message
    return found


def extract(tmp_path: Path, *options: str) -> dict[Key, ET.Element]:
    """What lupdate finds in ``kiosk/ui`` today, in a fresh catalogue."""
    out = tmp_path / "fresh.ts"
    result = subprocess.run(
        [str(LUPDATE), "-silent", "-extensions", "py", "-locations", "none", *options,
         str(repo_root() / "kiosk" / "ui"), "-ts", str(out)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return messages(out)


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"%(?:n|L?\d)", text))


def test_every_string_of_the_window_is_in_the_japanese_catalogue(tmp_path: Path) -> None:
    found = set(extract(tmp_path, "-target-language", "ja_JP"))
    catalogued = set(messages(TS_DIR / "kiosk_ja.ts"))
    missing = sorted(found - catalogued)
    assert not missing, f"run lupdate (see this module's docstring); new strings: {missing}"
    stale = sorted(catalogued - found)
    assert not stale, f"strings no longer in the code: {stale}"


def test_every_plural_is_in_the_english_catalogue(tmp_path: Path) -> None:
    found = set(extract(tmp_path, "-pluralonly", "-target-language", "en"))
    # Some lupdate releases do not see QCoreApplication.translate(..., n): a subset, not equality.
    assert found and found <= set(messages(TS_DIR / "kiosk_en.ts"))


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_message_is_translated_and_keeps_its_placeholders(language: str) -> None:
    catalogue = messages(TS_DIR / f"kiosk_{language}.ts")
    assert catalogue
    for (context, source, _comment), message in catalogue.items():
        translation = message.find("translation")
        assert translation is not None and translation.get("type") != "unfinished", (context, source)
        forms = [form.text or "" for form in translation.findall("numerusform")] or [translation.text or ""]
        for form in forms:
            assert form.strip(), (context, source)
            assert placeholders(form) == placeholders(source), (context, source, form)
            if language == "ja" and re.search(r"[A-Za-z]{4,}", source) and form == source:
                pytest.fail(f"{context}: {source!r} is left in English")


def test_the_catalogues_compile_and_load(tmp_path: Path, qapp: QCoreApplication) -> None:
    for language in ("ja", "en"):
        target = tmp_path / f"kiosk_{language}.qm"
        assert compile_translation(TS_DIR / f"kiosk_{language}.ts", target)
        translator = QTranslator()
        assert translator.load(str(target)) and not translator.isEmpty()
    path = translation_file("ja")
    assert path is not None and path.stat().st_size > 0
    translator = QTranslator()
    assert translator.load(str(path))
    assert translator.translate("KioskWindow", "My Number Card kiosk") == "マイナンバーカード本人確認端末"


def test_a_fresh_checkout_compiles_the_translation_on_the_fly(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.ui import translations

    monkeypatch.setattr(translations, "QM_DIR", tmp_path / "not-built")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = translations.translation_file("ja")
    assert path is not None and path.is_relative_to(tmp_path / "cache") and path.stat().st_size > 0
    assert translations.translation_file("ja") == path  # compiled once, then reused
