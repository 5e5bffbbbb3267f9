"""No window test depends on the one before it: the window owns its language, and what a test leaves
of Qt's process-wide state is put back (or, a window left open or a translator left installed,
named) before the next test starts.

The language is the window's: its translators are its children, one installed while it lives and
taken out when it shuts down or is deleted; its locale and font are set on it, never on the process.
``QtStateGuard`` (``tests/helpers/qt_state.py``, run around every window test by ``tests/ui/conftest.py``)
restores the rest.
"""

from __future__ import annotations

import os
from typing import cast

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QLocale, Qt, QTranslator
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from kiosk.flow.machine import Backend
from kiosk.ui.sizes import set_text_scale, text_scale
from kiosk.ui.translations import translation_file
from kiosk.ui.window import KioskWindow
from tests.fast.fakes import FakeBackend
from tests.helpers.qt_state import QtState, QtStateGuard, translated_messages

TITLE = ("KioskWindow", "My Number Card kiosk")
#: What the first of the two tests below leaves behind, and the second must not meet.
LEAKED_FONT = QFont("Noto Serif CJK JP", 41)
LEAKED_NAME = "left-by-the-test-before"
LEAKED_ENV = "KIOSK_TEST_QT_STATE_LEAK"
LEAKED_SCALE = 2.0


def window(language: str, **options: object) -> KioskWindow:
    return KioskWindow(cast(Backend, FakeBackend()), language=language, idle_timeout_seconds=3600,
                       **options)  # type: ignore[arg-type]


def title_now() -> str:
    return QCoreApplication.translate(*TITLE)


def test_a_window_owns_its_language_and_takes_it_away_when_it_shuts_down(
        qtbot: QtBot, qapp: QApplication) -> None:
    font, default_locale = qapp.font(), QLocale()
    japanese = window("ja")
    qtbot.addWidget(japanese)
    assert title_now() == japanese.windowTitle() != TITLE[1]  # installed application-wide
    assert (japanese.locale().name(), japanese.font().family()) == ("ja_JP", "Noto Sans CJK JP")
    assert qapp.font() == font  # the process's font is untouched; its default locale, read by
    assert QLocale().name() == "ja_JP"  # assistive technology, follows the window while it lives
    japanese.unlock_for_shutdown()
    japanese.close()
    assert title_now() == TITLE[1] and not translated_messages() and QLocale() == default_locale

    english = window("en")  # its translator holds the English plurals only
    qtbot.addWidget(english)
    assert english.windowTitle() == TITLE[1] and english.locale().name() == "en_US"
    english.close()
    assert not translated_messages()


def test_a_window_deleted_without_shutting_down_takes_its_translator_with_it(qtbot: QtBot) -> None:
    japanese = window("ja")
    assert title_now() != TITLE[1]
    japanese.runner.close(timeout=5)
    japanese.deleteLater()  # Qt deletes the window and its children, the translator too
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(japanese)
    assert title_now() == TITLE[1] and not translated_messages()


def test_the_guard_puts_back_what_a_test_changed_and_names_what_it_left(
        qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEAKED_ENV, "as it was")
    guard = QtStateGuard(qapp)  # the test's own, inside the one every window test has
    os.environ[LEAKED_ENV] = "changed"
    os.environ[LEAKED_ENV + "_NEW"] = "added"
    qapp.setFont(LEAKED_FONT)
    qapp.setStyleSheet("QLabel { color: red; }")
    qapp.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    qapp.setApplicationName(LEAKED_NAME)
    QLocale.setDefault(QLocale(QLocale.Language.Arabic, QLocale.Country.Egypt))
    qapp.clipboard().setText("a password on the clipboard")
    set_text_scale(QWidget(), LEAKED_SCALE)
    hidden = QLabel("made, never shown")
    shown = QWidget()
    shown.setWindowTitle("left open")
    shown.show()
    counter = window("ja", kiosk_mode=True)  # refuses to close without staff
    counter.show()
    counter.close()
    assert counter.isVisible()
    counter_title = counter.windowTitle()
    translator = QTranslator()
    catalogue = translation_file("ja")
    assert catalogue is not None and translator.load(str(catalogue))
    QCoreApplication.installTranslator(translator)  # and never taken out

    problems = guard.finish()

    QCoreApplication.removeTranslator(translator)
    assert set(problems[:2]) == {"a top-level window was left open: QWidget 'left open'",
                                 f"a top-level window was left open: KioskWindow {counter_title!r}"}
    assert len(problems) == 3 and problems[2].startswith("a translator was left installed")
    assert not guard.before.changed(QtState.now(qapp))
    assert os.environ[LEAKED_ENV] == "as it was" and LEAKED_ENV + "_NEW" not in os.environ
    assert not any(shiboken6.isValid(widget) for widget in (hidden, shown, counter))
    assert not translated_messages()  # the kiosk window's translator went with it


def test_a_test_leaves_its_language_font_and_style_behind(qtbot: QtBot, qapp: QApplication) -> None:
    """The first of two: it changes what is the process's and leaves it (the guard puts it back)."""
    qapp.setFont(LEAKED_FONT)
    qapp.setStyleSheet("QLabel { color: red; }")
    qapp.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    qapp.setApplicationName(LEAKED_NAME)
    QLocale.setDefault(QLocale(QLocale.Language.Japanese, QLocale.Country.Japan))
    os.environ[LEAKED_ENV] = "left"
    japanese = window("ja")
    qtbot.addWidget(japanese)
    japanese.set_text_scale(LEAKED_SCALE)  # the window's larger text, left for whatever comes next
    assert title_now() != TITLE[1]


def test_the_next_test_starts_clean(qapp: QApplication) -> None:
    """The second: run after the first (in file order, or on any worker after any test), it meets
    none of it."""
    assert not translated_messages() and title_now() == TITLE[1]
    assert qapp.font() != LEAKED_FONT and qapp.styleSheet() == ""
    assert qapp.layoutDirection() is Qt.LayoutDirection.LeftToRight
    assert qapp.applicationName() != LEAKED_NAME and LEAKED_ENV not in os.environ
    assert QLocale().name() != "ja_JP" and text_scale() == 1.0
    assert not [widget for widget in qapp.topLevelWidgets() if widget.isVisible()]
