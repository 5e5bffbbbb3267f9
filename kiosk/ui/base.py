"""What every screen is: a passive widget that renders a ``View`` and emits intents.

A screen never calls the flow itself. It emits ``intent(name, argument)``; the window maps the
name to the flow controller's method of that name (``choose``, ``submit_account``, ``pin_digit``,
``pin_backspace``, ``pin_clear``, ``pin_submit``, ``confirm_last_try``, ``answer_same_pin``,
``confirm_unlink``, ``password_changed``, ``submit_password``, ``approve_offline``, ``cancel``,
``finish``, ``set_language``), calling it with the argument unless it is ``None``.
Screens register themselves with ``@screen(Screen.X, ...)`` for the states they render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from kiosk.flow import Screen, View

#: Every intent a screen may emit, with the type of its argument.
INTENTS: dict[str, type | None] = {
    "choose": str, "submit_account": str, "pin_digit": str, "pin_backspace": None, "pin_clear": None,
    "pin_submit": None, "confirm_last_try": bool, "answer_same_pin": bool, "confirm_unlink": bool,
    "password_changed": str, "submit_password": bytearray, "approve_offline": str, "cancel": None,
    "finish": None, "set_language": str,
}


class ScreenWidget(QWidget):
    """One screen of the kiosk. Subclasses build their widgets in ``__init__`` and fill them in ``render``."""

    #: (intent name, argument or None)
    intent = Signal(str, object)
    #: The flow states this screen renders (set by ``@screen``).
    states: ClassVar[tuple[Screen, ...]] = ()

    def render(self, view: View) -> None:  # type: ignore[override]  # screens never paint to devices
        """Show ``view``; called on every change while this screen is current, and before it is shown."""
        raise NotImplementedError

    def retranslate(self) -> None:
        """Set every text again after the language changed (``render`` follows)."""

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
