"""The kiosk's languages: compiled translations (built from the sources when stale), each window's
translators (one installed application-wide at a time, owned by the window), the locale, the
Japanese font, and the filling of ``%1`` in words.

Nothing here is kept for the process: the window holds its translators and sets its own locale
(and the process default only while it lives, for assistive technology)
and font, so a window that is gone leaves no language behind.
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

from PySide6.QtCore import QCoreApplication, QLocale, QObject, QTranslator
from PySide6.QtGui import QFont

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


def load_translator(language: str, parent: QObject | None = None) -> QTranslator | None:
    """A loaded translator for ``language`` (a child of ``parent``), or None for the source text."""
    path = translation_file(language)
    if path is None:
        if language != "en":
            logger.warning("no %s translation found; showing the source text", language)
        return None
    translator = QTranslator()
    if translator.load(str(path)) and not translator.isEmpty():
        translator.setParent(parent)
        return translator
    if language != "en":
        logger.warning("the %s translation %s could not be loaded", language, path)
    return None


class Translators(QObject):
    """One window's translators: each loaded once, a child of this object, and at most one of them
    installed at a time.

    Qt looks words up application-wide, so the installed one serves every widget; but it belongs to
    its window, not to the process: ``uninstall`` takes it out when the window shuts down, and
    Qt takes out any translator that is deleted with its owner.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loaded: dict[str, QTranslator | None] = {}
        self._installed: QTranslator | None = None

    def install(self, language: str) -> None:
        """Install ``language``'s translator application-wide in place of this object's last one."""
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("no QApplication")
        self.uninstall()
        if language not in self._loaded:
            self._loaded[language] = load_translator(language, self)
        translator = self._loaded[language]
        if translator is not None:
            app.installTranslator(translator)
            self._installed = translator

    def uninstall(self) -> None:
        """Take this object's translator out: the source text shows unless another one is installed."""
        translator, self._installed = self._installed, None
        if translator is not None:
            QCoreApplication.removeTranslator(translator)


def locale_for(language: str) -> QLocale:
    """The locale a window shows ``language`` in (set on the window; the process default follows it
    only while the window lives)."""
    if language == "ja":
        return QLocale(QLocale.Language.Japanese, QLocale.Country.Japan)
    return QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)


def kiosk_font() -> QFont:
    """The kiosk's font for both languages: Japanese glyphs for every kanji, Latin text included."""
    font = QFont(FONT_FAMILY, BASE_POINT_SIZE)
    font.setFamilies([FONT_FAMILY])
    font.setStyleHint(QFont.StyleHint.SansSerif)
    return font
