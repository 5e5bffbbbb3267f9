"""The kiosk's main window: shows the flow's screens, carries intents back, and keeps the counter safe.

``KioskWindow`` holds one instance of each registered ``ScreenWidget`` in a stack and, on every
``View`` from the ``FlowController``, shows the screen for its state and renders it. A screen's
``intent(name, argument)`` goes to the controller as that ``Intent``. The window also owns what
belongs to the whole counter rather than to one screen: the language (its own translators,
one installed while the window lives, and its locale and Japanese font, set on the window rather
than on the process; ``kiosk.ui.translations``; only while it lives, the process's default locale
follows the language too, as assistive technology reads the application's locale from it), the
idle timeout and the warning before it (``kiosk.ui.idle``), the reader's events, and kiosk mode
with its staff unlock.

A screen that cannot be shown (it was never built, or it raised while rendering or translating),
and the flow raising on the window's behalf, are never only logged: the window logs the failure,
shows the fallback error page at once (``kiosk.ui.fallback``), and tells the flow, which ends the
session on the error screen (``display.failed``), withdrawing a request that still waits.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QLocale, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence, QMouseEvent, QShortcut, QTouchEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QSizePolicy,
    QStackedWidget,
    QWidget,
)

from kiosk.flow import FlowCode, FlowController, Intent, IntentRefused, Screen, View
from kiosk.flow.machine import Backend
from kiosk.nfc.events import EventKind, ReaderEvent, ReaderState
from kiosk.staffpin import StaffLock
from kiosk.ui.base import INTENTS, SCREENS, ScreenWidget
from kiosk.ui.fallback import FallbackErrorPage
from kiosk.ui.idle import IdleWarning
from kiosk.ui.runner import Mailbox, QtRunner
from kiosk.ui.sizes import LARGE_TEXT, set_text_scale
from kiosk.ui.style import apply_style
from kiosk.ui.translations import LANGUAGES, Translators, kiosk_font, locale_for
from kiosk.ui.unlock import StaffUnlockDialog

logger = logging.getLogger(__name__)

#: The staff unlock: a long press in the window's top-left corner, or this key chord.
UNLOCK_CORNER_PX = 64
UNLOCK_HOLD_MS = 3000
UNLOCK_SHORTCUT = "Ctrl+Alt+Shift+Q"
_USER_INPUT = frozenset({
    QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseMove,
    QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.KeyPress, QEvent.Type.Wheel,
})


# -- the window -------------------------------------------------------------------------------------


def load_screens() -> None:
    """Import the screen modules so they register; a broken one is logged, and the states it would
    show end on the fallback error page."""
    try:
        importlib.import_module("kiosk.ui.screens")
    except Exception:
        logger.exception("the kiosk's screens could not be loaded")


class _InputWatcher(QObject):
    """Application-wide event filter: any touch, click or key counts as someone at the counter."""

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in _USER_INPUT:
            self._window._user_input(event)
        return False


class KioskWindow(QMainWindow):
    """The counter's window: one stacked page per screen, driven by the flow controller's views."""

    #: Every view after it was rendered (for tests and the developer panel).
    view_shown = Signal(object)
    #: The window closed for good (staff unlock, or closed outside kiosk mode).
    closed = Signal()
    #: A screen could not be shown (the state's name): the fallback page shows, the flow is told.
    display_failed = Signal(str)
    #: The warning before the idle wipe appeared (the seconds it shows), and when it went away.
    idle_warning_shown = Signal(int)
    idle_warning_hidden = Signal()

    def __init__(self, backend: Backend, *, language: str = "ja", idle_timeout_seconds: float = 90,
                 kiosk_mode: bool = False, staff_unlock_pin: str | None = None,
                 staff_unlock_hash: str | None = None,
                 runner: QtRunner | None = None, reader_name: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
        self.kiosk_mode = kiosk_mode
        #: The language the kiosk returns to when nobody is at the counter.
        self.default_language = language
        self.runner = runner or QtRunner()
        self._owns_runner = runner is None
        self.readers = ReaderState(reader_name)
        self._language = ""
        self._process_locale = QLocale()
        self.translators = Translators(self)
        self.setFont(kiosk_font())
        self._lock = (StaffLock(staff_unlock_pin) if staff_unlock_pin
                      else StaffLock(encoded=staff_unlock_hash) if staff_unlock_hash else None)
        self._unlocked = False
        self._shut_down = False
        self._mailbox = Mailbox(self)
        self._unlock_dialog: StaffUnlockDialog | None = None
        self._shown: View | None = None
        self._failure_pending = False

        self._text_scale = 1.0
        self._large_text = False
        set_text_scale(self, 1.0)  # a window before this one may have left larger text behind
        apply_style(self)
        self.stack = QStackedWidget()
        self._policies: dict[int, QSizePolicy] = {}
        self.stack.currentChanged.connect(self._fit_current)
        self.setCentralWidget(self.stack)
        self.pages: dict[Screen, QWidget] = {}
        self.screens: list[ScreenWidget] = []
        self._build_pages()

        self._build_idle(idle_timeout_seconds, clock)
        self._corner = QTimer(self)
        self._corner.setSingleShot(True)
        self._corner.setInterval(UNLOCK_HOLD_MS)
        self._corner.timeout.connect(self.request_unlock)
        self._input = _InputWatcher(self)
        app = QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self._input)
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._focus_changed)
        self._shortcut = QShortcut(QKeySequence(UNLOCK_SHORTCUT), self)
        self._shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self._shortcut.activated.connect(self.request_unlock)

        if kiosk_mode:
            self.setWindowFlags(self.windowFlags() | Qt.WindowType.FramelessWindowHint
                                | Qt.WindowType.WindowStaysOnTopHint)
        self.controller = FlowController(backend, self.runner, self._on_view, language=language)
        self._set_language(language)
        self._on_view(self.controller.view)

    # -- pages ------------------------------------------------------------------------------------

    def _build_pages(self) -> None:
        load_screens()
        self.fallback = FallbackErrorPage()
        self.fallback.finished.connect(self._fallback_finished)
        self.stack.addWidget(self.fallback)
        built: dict[type[ScreenWidget], ScreenWidget | None] = {}
        for state in Screen:
            cls = SCREENS.get(state)
            page: QWidget | None = None
            if cls is not None:
                if cls not in built:
                    built[cls] = self._make_screen(cls)
                page = built[cls]
            # A state without a screen is a display failure whenever the flow shows it.
            self.pages[state] = page if page is not None else self.fallback
        self._fit_current(self.stack.currentIndex())

    def _make_screen(self, cls: type[ScreenWidget]) -> ScreenWidget | None:
        try:
            widget = cls()
        except Exception:
            logger.exception("the screen %s could not be built", cls.__name__)
            return None
        widget.intent.connect(self._dispatch)
        widget.retranslated_by_owner = True  # by _set_language, where a failure is caught
        self.stack.addWidget(widget)
        self.screens.append(widget)
        return widget

    def _fit_current(self, _index: int) -> None:
        # A stack is as large as its largest page; only the page on show should size the window,
        # so the others ignore their size hints until they are shown (with their own policy back).
        current = self.stack.currentWidget()
        for index in range(self.stack.count()):
            page = self.stack.widget(index)
            if page is None:
                continue
            own = self._policies.setdefault(id(page), page.sizePolicy())
            if page is current:
                page.setSizePolicy(own)
            else:
                page.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.stack.updateGeometry()

    def page(self, screen: Screen) -> QWidget:
        """The page that shows ``screen`` (its screen widget, or the fallback error page)."""
        return self.pages[screen]

    @property
    def current_page(self) -> QWidget | None:
        return self.stack.currentWidget()

    @property
    def language(self) -> str:
        return self._language

    @property
    def view(self) -> View:
        return self.controller.view

    # -- views and intents ------------------------------------------------------------------------

    def _on_view(self, view: View) -> None:
        if view.language != self._language:
            self._set_language(view.language)
        previous = self._shown
        self._shown = view
        self.show_view(view)
        self._arm_idle(view, fresh=previous is None or previous.screen is not view.screen
                       or previous.busy != view.busy)
        self.view_shown.emit(view)

    def show_view(self, view: View) -> None:
        """Render ``view`` on its screen and bring that screen forward (also used for screenshots);
        a screen that cannot show it is a display failure."""
        if view.language != self._language:
            self._set_language(view.language)
        self._follow_text_size(view)
        page = self.pages[view.screen]
        if not isinstance(page, ScreenWidget):
            logger.error("no screen could be built for the %s state", view.screen.value)
            self._display_failed(view.screen)
            return
        try:
            page.render(view)
        except Exception:
            logger.exception("the %s screen failed to render", view.screen.value)
            self._display_failed(view.screen)
            return
        self._settle_layouts()  # before the focus scrolls into view, and before anything is drawn
        self._bring_forward(page)

    def _bring_forward(self, page: QWidget) -> None:
        if self.stack.currentWidget() is not page:
            self.stack.setCurrentWidget(page)
            # A physical keyboard goes on with the new screen (its first focus: the PIN pad, the
            # field to type in, the first choice), not with a widget of the screen just hidden.
            first = page.first_focus() if isinstance(page, ScreenWidget) else None
            (first or page).setFocus(Qt.FocusReason.OtherFocusReason)
            focus = QApplication.focusWidget()
            if isinstance(page, ScreenWidget) and focus is not None:
                self._settle_layouts()
                page.bring_into_view(focus)  # once the new screen has its final layout

    def _dispatch(self, name: str, argument: object) -> None:
        """A screen's intent, handed to the controller's table (never a crash)."""
        if name not in INTENTS:
            logger.warning("unknown intent %r ignored", name)
            return
        try:
            self.controller.intent(name, argument)
        except (IntentRefused, ValueError) as exc:
            # A late tap after the screen moved on, or an argument the flow does not take; the
            # arguments (PIN digits) stay out of the log.
            logger.info("intent %s refused on %s: %s", name, self.controller.view.screen.value,
                        type(exc).__name__)
            self.show_view(self.controller.view)
        except Exception:
            logger.exception("the flow failed on the intent %s", name)
            self._display_failed(self.controller.view.screen)

    def _call_flow(self, call: Callable[[], None], what: str) -> None:
        try:
            call()
        except Exception:
            logger.exception("the flow failed on %s", what)
            self._display_failed(self.controller.view.screen)

    # -- display failures ---------------------------------------------------------------------------

    def _display_failed(self, screen: Screen) -> None:
        """``screen`` could not be shown: the fallback page says so now, and the flow is told once
        the current call is over (it ends the session on the error screen)."""
        self.display_failed.emit(screen.value)
        self.fallback.show_error(FlowCode.DISPLAY_FAILED, screen.value)
        self._bring_forward(self.fallback)
        if not self._failure_pending and not self._shut_down:
            self._failure_pending = True
            self._mailbox.post(self._end_on_display_failure)

    def _end_on_display_failure(self) -> None:
        self._failure_pending = False
        view = self.controller.view
        if self._shut_down or (view.screen is Screen.ERROR and view.error == FlowCode.DISPLAY_FAILED):
            return  # already there: the error screen itself failed, and the fallback page stays
        try:
            self.controller.dispatch(Intent.DISPLAY_FAILED, self.fallback.where)
        except Exception:  # the fallback page already says it; nothing is left to try
            logger.exception("the flow failed to end the session after a display failure")

    def _fallback_finished(self) -> None:
        self._dispatch(Intent.FINISH.value, None)

    # -- language -----------------------------------------------------------------------------------

    def _set_language(self, language: str) -> None:
        if language not in LANGUAGES or self._shut_down:
            return  # a window that is shut down installs nothing again
        self.translators.install(language)
        self.setLocale(locale_for(language))
        # A screen reader asks the application for its locale as well as each control: without
        # this it would read English in the voice of the system's language. Put back at shutdown.
        QLocale.setDefault(locale_for(language))
        self._language = language
        self.setWindowTitle(self.tr("My Number Card kiosk"))
        self.setAccessibleName(self.tr("My Number Card kiosk"))
        self._retranslate_screens()

    def _retranslate_screens(self) -> None:
        for widget in self.screens:
            try:
                widget.retranslate()
            except Exception:
                logger.exception("the %s screen failed to retranslate", type(widget).__name__)
                self._display_failed(widget.states[0] if widget.states else self.controller.view.screen)
        self.fallback.retranslate()
        self.idle_warning.retranslate()  # at once, as the screens beneath it
        if self._unlock_dialog is not None:
            self._unlock_dialog.retranslate()
        self._settle_layouts()

    # -- text size ----------------------------------------------------------------------------------

    @property
    def text_scale(self) -> float:
        return self._text_scale

    def set_text_scale(self, scale: float) -> None:
        """Size every text of the window at ``scale`` (1.0 normal; the user's "larger text" is
        ``LARGE_TEXT``); the screens lay themselves out again, scrolling where they must."""
        if scale == self._text_scale or self._shut_down:
            return
        set_text_scale(self, scale)
        self._text_scale = scale
        self._retranslate_screens()  # keys of equal width, measured again

    @staticmethod
    def _settle_layouts() -> None:
        # After new words or sizes each layout asks its parent's again, one posted event at a
        # time: settle them all now, so no screen is drawn with the old sizes (they nest a few deep).
        for _ in range(8):
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    def _follow_text_size(self, view: View) -> None:
        if view.large_text != self._large_text:
            self._large_text = view.large_text
            self.set_text_scale(LARGE_TEXT if view.large_text else 1.0)

    def set_language(self, language: str) -> None:
        """Switch the language (as the screens' ``set_language`` intent does)."""
        self._dispatch("set_language", language)

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        # The focus moved into a part of the screen scrolled away (by Tab, or by the screen): show it.
        page = self.stack.currentWidget()
        if new is not None and isinstance(page, ScreenWidget):
            page.bring_into_view(new)

    # -- the idle timeout --------------------------------------------------------------------------

    def _build_idle(self, seconds: float, clock: Callable[[], float]) -> None:
        """The timer that wipes the session, and the warning before it (its countdown read from
        ``clock``), over every screen inside the window: kiosk mode keeps one full-screen window."""
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(max(1, int(seconds * 1000)))
        self._idle.timeout.connect(self._idle_expired)
        self.idle_warning = IdleWarning(self, clock=clock)
        self.idle_warning.more_time.connect(self._more_time)
        self.idle_warning.appeared.connect(self.idle_warning_shown)
        self.idle_warning.dismissed.connect(self.idle_warning_hidden)

    def _idle_applies(self, view: View) -> bool:
        # While busy the kiosk is working or waiting on someone else (staff, the user's phone):
        # the person at the counter is not idle, and each wait has its own deadline.
        if view.busy:
            return False
        # The start screen holds nothing to wipe; only a language chosen by the last person goes.
        return (view.screen is not Screen.START or view.language != self.default_language
                or view.large_text)

    def _arm_idle(self, view: View, *, fresh: bool) -> None:
        """A new screen gets the whole allowance; a view from a reader event or a worker keeps the clock."""
        if not self._idle_applies(view):
            self._idle.stop()
            self.idle_warning.disarm()
        elif fresh or not self._idle.isActive():
            self._restart_idle()

    def _restart_idle(self) -> None:
        """The whole allowance from now, and the warning before its end (hidden until then)."""
        self._idle.start()
        self.idle_warning.arm(self._idle.interval() / 1000)

    def _more_time(self) -> None:
        if self._idle.isActive():
            self._restart_idle()

    def _idle_expired(self) -> None:
        """Nobody is at the counter: the session is wiped and the next person meets the default language."""
        self.idle_warning.disarm()
        view = self.controller.view
        if not self._idle_applies(view):
            return
        if view.screen is not Screen.START or view.large_text:
            logger.info("idle timeout on %s", view.screen.value)
            self._call_flow(lambda: self.controller.dispatch(Intent.IDLE_TIMEOUT), "idle timeout")
        if self.controller.view.language != self.default_language:
            self._call_flow(lambda: self.controller.dispatch(Intent.SET_LANGUAGE, self.default_language),
                            "idle timeout")

    @property
    def idle_timer(self) -> QTimer:
        return self._idle

    def _user_input(self, event: QEvent) -> None:
        if self._idle.isActive():
            self._restart_idle()  # the warning too: any touch or key is "more time"
        self._watch_corner(event)

    def _watch_corner(self, event: QEvent) -> None:
        kind = event.type()
        position: QPoint | None = None
        if isinstance(event, QMouseEvent):
            position = event.globalPosition().toPoint()
        elif isinstance(event, QTouchEvent) and event.points():
            position = event.points()[0].globalPosition().toPoint()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin) and position is not None:
            local = self.mapFromGlobal(position)
            if 0 <= local.x() < UNLOCK_CORNER_PX and 0 <= local.y() < UNLOCK_CORNER_PX:
                self._corner.start()
            else:
                self._corner.stop()
        elif kind in (QEvent.Type.MouseButtonRelease, QEvent.Type.KeyPress):
            self._corner.stop()

    # -- reader events -----------------------------------------------------------------------------

    def deliver(self, call: Callable[[], None]) -> None:
        """Run ``call`` on the GUI thread; safe from any thread (``CardWatcher(deliver=...)``)."""
        self._mailbox.post(call)

    def reader_event(self, event: ReaderEvent) -> None:
        """A reader or card event, on the GUI thread: the flow hears of it."""
        if not self.readers.update(event):
            return
        if event.kind is EventKind.CARD_INSERTED:
            self._call_flow(lambda: self.controller.dispatch(Intent.CARD_INSERTED), "card inserted")
        elif event.kind is EventKind.CARD_REMOVED:
            self._call_flow(lambda: self.controller.dispatch(Intent.CARD_REMOVED), "card removed")
        else:
            if event.kind is EventKind.SERVICE_LOST and self.controller.view.card_present:
                self._call_flow(lambda: self.controller.dispatch(Intent.CARD_REMOVED), "card removed")
            ready = self.readers.ready
            self._call_flow(lambda: self.controller.dispatch(Intent.READER_STATUS, ready), "reader status")

    # -- kiosk mode and closing ---------------------------------------------------------------------

    def present(self) -> None:
        """Show the window: full screen in kiosk mode, a normal window otherwise.

        Full screen is a request to the window manager; on X without one (a common kiosk set-up)
        nobody grants it, so the window is given the whole screen's geometry itself first."""
        if self.kiosk_mode:
            screen = self.screen() or QGuiApplication.primaryScreen()
            if screen is not None:
                self.setGeometry(screen.geometry())
            self.showFullScreen()
        else:
            self.show()

    def request_unlock(self) -> None:
        """The staff unlock gesture: ask for the staff PIN, or (outside kiosk mode, no PIN) just close."""
        if self._lock is None:
            if self.kiosk_mode:
                logger.warning("staff unlock asked for, but no staff PIN is configured")
                return
            self._unlocked = True
            self.close()
            return
        if self._unlock_dialog is not None:
            return
        dialog = StaffUnlockDialog(self)
        dialog.accepted.connect(self._unlock_answered)
        dialog.rejected.connect(self._unlock_dismissed)
        self._unlock_dialog = dialog
        dialog.open()

    def _unlock_answered(self) -> None:
        dialog, lock = self._unlock_dialog, self._lock
        if dialog is None or lock is None:
            return
        if lock.check(dialog.take_pin()):
            self._unlock_dismissed()
            logger.info("staff unlocked the kiosk")
            self._unlocked = True
            self.close()
            return
        logger.warning("a wrong staff unlock PIN was entered")
        dialog.refuse(lock.locked)
        dialog.open()  # accepting closed it: ask again

    def _unlock_dismissed(self) -> None:
        dialog, self._unlock_dialog = self._unlock_dialog, None
        if dialog is not None:
            dialog.take_pin()
            dialog.deleteLater()

    def unlock_for_shutdown(self) -> None:
        """Let the window close: the process is being stopped (SIGTERM from the service manager)."""
        self._unlocked = True

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.kiosk_mode and not self._unlocked:
            event.ignore()  # no way out at the counter without staff
            return
        self.shutdown()
        event.accept()
        self.closed.emit()

    def shutdown(self) -> None:
        """Stop the timers and the input watch, wipe the session and wait briefly for the workers."""
        if self._shut_down:
            return
        self._shut_down = True
        self._idle.stop()
        self.idle_warning.disarm()
        self._corner.stop()
        app = QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self._input)
        if isinstance(app, QApplication):
            app.focusChanged.disconnect(self._focus_changed)
        self._call_flow(lambda: self.controller.dispatch(Intent.CANCEL), "shutdown")
        self.translators.uninstall()  # after the last view: the language leaves with the window
        QLocale.setDefault(self._process_locale)
        if self._owns_runner:
            self.runner.close(timeout=5)
