"""The kiosk's languages: compiled translations (built from the sources when stale), the translator
installed application-wide, the locale, the Japanese font, and the filling of ``%1`` in words.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QTranslator
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

logger = logging.getLogger(__name__)

LANGUAGES = ("ja", "en")
#: Set explicitly for both languages: without it kanji may take Chinese glyph shapes.
FONT_FAMILY = "Noto Sans CJK JP"
BASE_POINT_SIZE = 16
#: Compiled translations inside the package (built by scripts/setup, not kept in git).
QM_DIR = Path(__file__).resolve().parent / "i18n"
#: The translation sources, present in a source checkout.
TS_DIR = Path(__file__).resolve().parents[2] / "resources" / "i18n"


def fill(text: str, *values: str) -> str:
    """``text`` (already translated) with ``%1``, ``%2``, ... replaced by ``values`` in order."""
    for number, value in enumerate(values, start=1):
        text = text.replace(f"%{number}", value)
    return text


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kiosk" / "i18n"


def _lrelease() -> list[str] | None:
    try:
        import PySide6

        binary = Path(PySide6.__file__).resolve().parent / "lrelease"
        if binary.is_file() and os.access(binary, os.X_OK):
            return [str(binary)]
    except ImportError:  # pragma: no cover - PySide6 is what imports this module
        pass
    script = Path(sys.executable).with_name("pyside6-lrelease")
    if script.is_file():
        return [str(script)]
    found = shutil.which("pyside6-lrelease") or shutil.which("lrelease")
    return [found] if found else None


def compile_translation(source: Path, target: Path) -> bool:
    """Compile one ``.ts`` file to ``.qm`` with lrelease; False (logged) when that is not possible."""
    command = _lrelease()
    if command is None:
        logger.warning("no lrelease found to compile %s", source)
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=target.stem, suffix=".qm", dir=target.parent)
    os.close(fd)
    try:
        result = subprocess.run([*command, "-silent", str(source), "-qm", partial],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0 or Path(partial).stat().st_size == 0:
            logger.warning("lrelease failed on %s: %s", source, result.stderr.strip())
            return False
        os.replace(partial, target)  # whole or not at all: another process may read it
        return True
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("lrelease could not run on %s: %s", source, exc)
        return False
    finally:
        Path(partial).unlink(missing_ok=True)


def translation_file(language: str) -> Path | None:
    """The compiled translation for ``language``, compiling the source into a cache when needed.

    The package's own ``.qm`` is used unless the ``.ts`` beside it in the checkout is newer, so a
    fresh checkout (nothing compiled yet) and an edited translation both show the current words.
    """
    name = f"kiosk_{language}"
    built = QM_DIR / f"{name}.qm"
    source = TS_DIR / f"{name}.ts"
    if not source.is_file():
        return built if built.is_file() else None
    if built.is_file() and built.stat().st_mtime >= source.stat().st_mtime:
        return built
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cached = _cache_dir() / f"{name}-{digest}.qm"
    if cached.is_file() or compile_translation(source, cached):
        return cached
    return built if built.is_file() else None


_translators: dict[str, QTranslator | None] = {}


def translator_for(language: str) -> QTranslator | None:
    """A loaded translator for ``language`` (kept for the process), or None for the source text."""
    if language not in _translators:
        translator: QTranslator | None = None
        path = translation_file(language)
        if path is not None:
            candidate = QTranslator()
            if candidate.load(str(path)) and not candidate.isEmpty():
                translator = candidate
            elif language != "en":
                logger.warning("the %s translation %s could not be loaded", language, path)
        elif language != "en":
            logger.warning("no %s translation found; showing the source text", language)
        _translators[language] = translator
    return _translators[language]


def kiosk_font() -> QFont:
    """The kiosk's font for both languages: Japanese glyphs for every kanji, Latin text included."""
    font = QFont(FONT_FAMILY, BASE_POINT_SIZE)
    font.setFamilies([FONT_FAMILY])
    font.setStyleHint(QFont.StyleHint.SansSerif)
    return font


def apply_language(language: str) -> None:
    """Install ``language``'s translator application-wide (and only it), its locale, and the font."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("no QApplication")
    for other in LANGUAGES:
        installed = _translators.get(other)
        if installed is not None:
            app.removeTranslator(installed)
    translator = translator_for(language)
    if translator is not None:
        app.installTranslator(translator)
    locale = QLocale(QLocale.Language.Japanese, QLocale.Country.Japan) if language == "ja" \
        else QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
    QLocale.setDefault(locale)
    if isinstance(app, QApplication):
        app.setFont(kiosk_font())
