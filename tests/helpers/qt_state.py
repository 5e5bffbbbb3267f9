"""What one window test may leave behind in the process, and how the next one gets a clean start.

Qt keeps some state for the whole process, whichever test set it: the application's font, palette,
style sheet, layout direction and names, the default locale, the clipboard, the translators
installed, and every top-level widget still alive. The environment is the process's too, and so
is the kiosk's text scale (``kiosk.ui.sizes``: a window at larger text leaves it for the next
screen built).
``QtStateGuard`` takes a snapshot before a test; ``finish`` after it deletes what the test left of
its own top-level widgets (qtbot's only asks for it with ``deleteLater``, which no event loop may
run), puts each property back as it was, and names what a test must not leave: a top-level
window still open, or a translator still installed (nobody can take it out but its owner).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, fields
from functools import cache

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QLocale, Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.ui.app import dispose
from kiosk.ui.sizes import set_text_scale, text_scale
from kiosk.ui.translations import TS_DIR

#: pytest's own, changed for every phase of every test.
_PYTEST_ENV = "PYTEST_CURRENT_TEST"


@dataclass(frozen=True)
class QtState:
    """The process-wide properties a test could change (each restored when it differs)."""

    environment: tuple[tuple[str, str], ...]
    style_sheet: str
    palette: QPalette
    font: QFont
    layout_direction: Qt.LayoutDirection
    names: tuple[str, str, str, str]
    locale: QLocale
    clipboard: str
    text_scale: float

    @classmethod
    def now(cls, app: QApplication) -> QtState:
        return cls(
            environment=tuple(sorted((k, v) for k, v in os.environ.items() if k != _PYTEST_ENV)),
            style_sheet=app.styleSheet(), palette=app.palette(), font=app.font(),
            layout_direction=app.layoutDirection(),
            names=(app.applicationName(), app.applicationDisplayName(), app.organizationName(),
                   app.applicationVersion()),
            locale=QLocale(), clipboard=app.clipboard().text(), text_scale=text_scale())

    def changed(self, other: QtState) -> list[str]:
        """The names of the properties that differ in ``other``."""
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def _restore_environment(saved: tuple[tuple[str, str], ...]) -> None:
    wanted = dict(saved)
    for name in [name for name in os.environ if name not in wanted and name != _PYTEST_ENV]:
        del os.environ[name]
    for name, value in wanted.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _restore_names(app: QApplication, names: tuple[str, str, str, str]) -> None:
    app.setApplicationName(names[0])
    app.setApplicationDisplayName(names[1])
    app.setOrganizationName(names[2])
    app.setApplicationVersion(names[3])


def _restore_clipboard(app: QApplication, text: str) -> None:
    if text:
        app.clipboard().setText(text)
    else:
        app.clipboard().clear()


def _restore(app: QApplication, state: QtState, changed: list[str]) -> None:
    # In the dataclass's order: the style sheet before the palette and font it may have changed.
    setters = {
        "environment": lambda: _restore_environment(state.environment),
        "style_sheet": lambda: app.setStyleSheet(state.style_sheet),
        "palette": lambda: app.setPalette(state.palette),
        "font": lambda: app.setFont(state.font),
        "layout_direction": lambda: app.setLayoutDirection(state.layout_direction),
        "names": lambda: _restore_names(app, state.names),
        "locale": lambda: QLocale.setDefault(state.locale),
        "clipboard": lambda: _restore_clipboard(app, state.clipboard),
        "text_scale": lambda: set_text_scale(QWidget(), state.text_scale),
    }
    for name in changed:
        setters[name]()


def _address(widget: QWidget) -> int:
    return int(shiboken6.getCppPointer(widget)[0])


def _delete_deferred() -> None:
    """Delete what waits for ``deleteLater``: outside an event loop nothing else does."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def describe(widget: QWidget) -> str:
    title = widget.windowTitle()
    return f"{type(widget).__name__}" + (f" {title!r}" if title else "")


@cache
def kiosk_messages() -> tuple[tuple[str, str, bool], ...]:
    """Every message of the kiosk's catalogue: (context, source, numerus)."""
    found: list[tuple[str, str, bool]] = []
    for context in ET.parse(TS_DIR / "kiosk_ja.ts").getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            found.append((name, message.findtext("source") or "", message.get("numerus") == "yes"))
    return tuple(found)


def translated_messages() -> list[str]:
    """The kiosk's messages that an installed translator (any) changes from the source text."""
    changed: list[str] = []
    for context, source, numerus in kiosk_messages():
        # Untranslated, a plural message comes back with its %n filled in.
        counts = {1: source.replace("%n", "1"), 2: source.replace("%n", "2")} if numerus else {-1: source}
        if any(QCoreApplication.translate(context, source, None, n) != plain for n, plain in counts.items()):
            changed.append(f"{context}: {source!r}")
    return changed


class QtStateGuard:
    """A snapshot of the process-wide Qt state, and the clean-up that puts it back."""

    def __init__(self, app: QApplication) -> None:
        self.app = app
        _delete_deferred()
        self.before = QtState.now(app)
        self.widgets = {_address(widget) for widget in app.topLevelWidgets()}
        self.translated = set(translated_messages())

    def finish(self) -> list[str]:
        """Put everything back; what the test must not have left (windows open, translators)."""
        problems = [f"a top-level window was left open: {name}" for name in self._delete_new_widgets()]
        _restore(self.app, self.before, self.before.changed(QtState.now(self.app)))
        left = [message for message in translated_messages() if message not in self.translated]
        if left:
            problems.append(f"a translator was left installed ({len(left)} of the kiosk's messages "
                            f"translated, e.g. {left[0]})")
        return problems

    def _delete_new_widgets(self) -> list[str]:
        """Delete every top-level widget the test made; the names of those still shown."""
        _delete_deferred()
        left = [widget for widget in self.app.topLevelWidgets() if _address(widget) not in self.widgets]
        shown = [describe(widget) for widget in left if widget.isVisible()]
        for widget in left:
            dispose(widget)
        _delete_deferred()
        return shown
