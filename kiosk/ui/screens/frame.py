"""The frame every screen shares: its title, "larger text" and the language on top, its body, its buttons.

Black on white with large type, the same margins on every screen, and bottom-row buttons at least
14 mm tall and 40 mm wide: they end or decide a step. Cancel (or the way back) sits at the bottom
left on every screen, the step's way forward at the bottom right. Subclasses add to ``body`` and ``bottom``,
call ``retranslate()`` at the end of their ``__init__`` and call the frame's ``render`` and
``retranslate`` from theirs.

The body scrolls when it cannot fit (larger text, a long message, a small panel); the top row and
the bottom row stay in view, so the way out and the way forward can always be reached. Moving the
focus into a part scrolled away brings it into view.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.flow import Intent, View
from kiosk.ui.base import ScreenWidget
from kiosk.ui.sizes import size_text
from kiosk.ui.widgets import (
    BODY_PT,
    TITLE_PT,
    BigButton,
    LanguageSwitch,
    TextSizeToggle,
    high_contrast,
    label,
    mm,
)

#: Bottom-row buttons: tall and wide, as they end or decide a step.
ACTION_MM = 14.0
ACTION_WIDTH_MM = 40.0


class Frame(ScreenWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: The view last rendered (a language change renders it again).
        self.view: View | None = None
        high_contrast(self)
        size_text(self, BODY_PT)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(mm(6), mm(4), mm(6), mm(4))
        outer.setSpacing(mm(2))
        self._top = QHBoxLayout()
        self.title = label(TITLE_PT, bold=True)
        self._title_in_body = False
        self._top.addWidget(self.title, 1)
        corner = Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight
        self.text_size = TextSizeToggle()
        self.text_size.chosen.connect(self._set_large_text)
        self._top.addWidget(self.text_size, 0, corner)
        self.languages = LanguageSwitch()
        self.languages.chosen.connect(self._set_language)
        self._top.addWidget(self.languages, 0, corner)
        outer.addLayout(self._top)
        self.body_area, content = _body_scroll()
        self.body = QVBoxLayout(content)
        # Room between the controls and the scroll bar, so a focus ring never touches its edge.
        self.body.setContentsMargins(0, 0, mm(2), 0)
        self.body.setSpacing(mm(2))
        outer.addWidget(self.body_area, 1)
        self.bottom = QHBoxLayout()
        self.bottom.setSpacing(mm(6))
        outer.addLayout(self.bottom)
        self.title.installEventFilter(_OnResize(self._place_title, self))
        self.body_area.verticalScrollBar().rangeChanged.connect(self._keep_focus_in_view)

    def action(self, name: str | None = None, argument: object = None) -> BigButton:
        """A bottom-row button; with ``name``, it emits that intent (with ``argument``) when pressed."""
        button = BigButton(min_mm=ACTION_MM)
        button.setMinimumWidth(mm(ACTION_WIDTH_MM))
        button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        if name is not None:
            button.clicked.connect(lambda _checked=False: self.emit_intent(name, argument))
        return button

    def _place_title(self) -> None:
        """The title beside "larger text" and the language while it takes two lines there at most;
        with text so large that it would stand in a narrow column, it heads the scrolled body."""
        outer = self.layout()
        if outer is None:
            return
        margins = outer.contentsMargins()
        controls = self.text_size.sizeHint().width() + self.languages.sizeHint().width()
        beside = self.width() - margins.left() - margins.right() - controls - 2 * self._top.spacing()
        lines = self.title.heightForWidth(max(beside, 1)) / max(1, self.title.fontMetrics().lineSpacing())
        in_body = lines > 2.5
        if in_body == self._title_in_body:
            return
        self._title_in_body = in_body
        if in_body:
            self._top.removeWidget(self.title)
            self.body.insertWidget(0, self.title)
        else:
            self.body.removeWidget(self.title)
            self._top.insertWidget(0, self.title, 1)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._place_title()
        super().resizeEvent(event)

    def bring_into_view(self, widget: QWidget) -> None:
        """Scroll the body so that ``widget`` (the focus, wherever it came from) can be seen."""
        content = self.body_area.widget()
        if content is not None and content.isAncestorOf(widget):
            # The scroll range must be the one of the layout as it is now, not as it was.
            for _ in range(4):
                QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            self.body_area.ensureWidgetVisible(widget, mm(2), mm(2))

    def _keep_focus_in_view(self, _low: int, _high: int) -> None:
        # The body grew or shrank (the title joined it, a font settled, a message appeared): the
        # control with the focus stays in view. A finger's own scrolling changes no range.
        focus = QApplication.focusWidget()
        content = self.body_area.widget()
        if focus is not None and content is not None and content.isAncestorOf(focus):
            self.body_area.ensureWidgetVisible(focus, mm(2), mm(2))

    def showEvent(self, event: QShowEvent) -> None:
        # A screen arrived at again starts at its top; the first focus then scrolls into view.
        self.body_area.verticalScrollBar().setValue(0)
        super().showEvent(event)

    def first_focus(self) -> QWidget | None:
        """The screen's first control below the top row (which comes first in the Tab order)."""
        widget = self.body_area.nextInFocusChain()
        while widget is not None and widget is not self:
            if (self.isAncestorOf(widget) and widget.isVisibleTo(self) and widget.isEnabled()
                    and widget.focusPolicy() & Qt.FocusPolicy.TabFocus):
                return widget
            widget = widget.nextInFocusChain()
        return super().first_focus()

    # The contract's ``render(view)`` shadows QWidget.render, which type checkers flag on every override.
    def render(self, view: View) -> None:  # type: ignore[override]
        self.view = view
        self.languages.set_language(view.language)
        self.text_size.set_large(view.large_text)

    def retranslate(self) -> None:
        # Subclasses reach here from their own retranslate, at the end of their __init__.
        self._translated = True
        self.languages.retranslate()
        self.text_size.retranslate()

    # A slot is a bound method, never a lambda holding the screen, so Qt can tear screens down cleanly.
    def _set_language(self, code: str) -> None:
        self.emit_intent(Intent.SET_LANGUAGE, code)

    def _set_large_text(self, large: bool) -> None:
        self.emit_intent(Intent.SET_LARGE_TEXT, large)

    def changeEvent(self, event: QEvent) -> None:
        # Not before the subclass has built its widgets (its first retranslate says so), nor twice
        # when its owner retranslates it.
        if (event.type() == QEvent.Type.LanguageChange and getattr(self, "_translated", False)
                and not self.retranslated_by_owner):
            self.retranslate()
        super().changeEvent(event)


class _OnResize(QObject):
    """Calls ``react`` whenever the widget it watches is resized (the title: its height follows its words)."""

    def __init__(self, react: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._react = react

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._react()
        return False


class _Body(QWidget):
    """The scrolled body: as tall as its words need at the width it is given, so the scroll area
    scrolls instead of squeezing wrapped text (its own height-for-width misses nested columns)."""

    def __init__(self) -> None:
        super().__init__()
        # A QWidget subclass paints the style sheet's background (white paper) only when asked to.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        layout = self.layout()
        needed = layout.totalHeightForWidth(self.width()) if layout is not None else -1
        if needed > 0 and needed != self.minimumHeight():
            self.setMinimumHeight(needed)


def _body_scroll() -> tuple[QScrollArea, QWidget]:
    """The body's scroll area: no frame, a vertical bar only when needed, and a finger can drag it."""
    area = QScrollArea()
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    content = _Body()
    content.setAutoFillBackground(False)
    area.setWidget(content)
    QScroller.grabGesture(area.viewport(), QScroller.ScrollerGestureType.TouchGesture)
    return area, content
