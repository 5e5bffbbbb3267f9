"""What every screen is: a passive widget that renders a ``View`` and emits intents.

A screen never calls the flow itself. It emits ``intent(name, argument)``, the name an ``Intent``
of the flow's (``kiosk.flow.intents``); the window hands it to the flow controller, whose table
decides what it does on the current screen.
Screens register themselves with ``@screen(Screen.X, ...)`` for the states they render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

from kiosk.flow import Screen, View
from kiosk.flow.intents import ARGUMENTS, FROM_WINDOW

#: Every intent a screen may emit (by name), with the type of its argument.
INTENTS: dict[str, type | None] = {intent.value: kind for intent, kind in ARGUMENTS.items()
                                   if intent not in FROM_WINDOW}


class ScreenWidget(QWidget):
    """One screen of the kiosk. Subclasses build their widgets in ``__init__`` and fill them in ``render``."""

    #: (intent name, argument or None)
    intent = Signal(str, object)
    #: The flow states this screen renders (set by ``@screen``).
    states: ClassVar[tuple[Screen, ...]] = ()
    #: Set by an owner (the window) that calls ``retranslate`` itself when the language changes, so
    #: that a failure there reaches it; a screen on its own follows Qt's LanguageChange event.
    retranslated_by_owner = False

    def render(self, view: View) -> None:  # type: ignore[override]  # screens never paint to devices
        """Show ``view``; called on every change while this screen is current, and before it is shown."""
        raise NotImplementedError

    def retranslate(self) -> None:
        """Set every text again after the language changed (``render`` follows)."""

    def bring_into_view(self, widget: QWidget) -> None:
        """Show ``widget``, which just took the focus, if the screen scrolls (the frame's body does)."""

    def first_focus(self) -> QWidget | None:
        """Where the keyboard focus goes when the screen comes forward (default: its first stop).

        Screens name their main control (the PIN pad's first key, the field to type in); the rest
        stay in the window's Tab order, so Tab still reaches the language and Cancel.
        """
        widget = self.nextInFocusChain()
        while widget is not self and widget is not None:
            if (self.isAncestorOf(widget) and widget.isVisibleTo(self) and widget.isEnabled()
                    and widget.focusPolicy() & Qt.FocusPolicy.TabFocus):
                return widget
            widget = widget.nextInFocusChain()
        return None

    def emit_intent(self, name: str, argument: object = None) -> None:
        if name not in INTENTS:
            raise ValueError(f"unknown intent {name!r}")
        self.intent.emit(name, argument)


#: Flow state -> the screen class that renders it.
SCREENS: dict[Screen, type[ScreenWidget]] = {}

W = TypeVar("W", bound=type[ScreenWidget])


def screen(*states: Screen) -> Callable[[W], W]:
    def register(cls: W) -> W:
        for state in states:
            if state in SCREENS:
                raise ValueError(f"{state} already has a screen ({SCREENS[state].__name__})")
            SCREENS[state] = cls
        cls.states = states
        return cls

    return register
