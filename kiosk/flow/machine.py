"""The counter's flow as a plain state machine: its states are screens, its transitions one table.

Screens are passive: they render a ``View`` and send intents (``Intent``); the window sends the
reader's events and the idle timeout the same way. ``FlowController.dispatch`` looks the current
state and the intent up in ``kiosk.flow.table.TABLE`` and runs the handler found there
(``kiosk.flow.handlers``); an intent the state does not take is refused. Card and network work runs
through a ``Runner`` (worker threads in the window, the calling thread in tests) and comes back as a
``Work`` event through the same table.

The controller owns the session: it wipes the PIN buffer at the end of every step, and the whole
session on cancel, idle timeout, card removal or the end, withdrawing its request on the server if
it still waits. A view never carries a PIN digit, a password or a card's certificate; the PIN screen
learns only how many digits were typed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from kiosk.flow.intents import Event, Intent, Work
from kiosk.flow.ports import Backend, ImmediateRunner, Runner
from kiosk.flow.session import Session, close_card
from kiosk.flow.table import TABLE
from kiosk.flow.view import Screen, Step, View
from kiosk.services.operations import OPEN_STATUSES, EndReason
from kiosk.services.verification import wipe

__all__ = ["Backend", "FlowController", "ImmediateRunner", "IntentRefused", "Runner", "TransitionHook"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class IntentRefused(RuntimeError):
    """An intent the current state does not take (a late tap after the screen moved on)."""


#: Called with every transition taken: the state, the event and the state it led to.
TransitionHook = Callable[[Screen, Event, Screen], None]


def _ignore(_value: object) -> None:
    """The outcome of work nobody waits for (withdrawing a request is best effort)."""


@dataclass
class _Frame:
    """A transition under way: the state it left, and the state its handler showed last."""

    state: Screen
    landed: Screen | None = None


class FlowController:
    """The flow's state and session; the handlers (``kiosk.flow.handlers``) change them."""

    def __init__(self, backend: Backend, runner: Runner, on_view: Callable[[View], None], *,
                 language: str = "ja", on_transition: TransitionHook | None = None) -> None:
        self.backend = backend
        self.runner = runner
        self._on_view = on_view
        self._on_transition = on_transition
        self._view = View(Screen.START, language)
        self.session: Session | None = None
        self.pin = bytearray()
        self.generation = 0  # results of a wiped session's work are dropped
        # One card read at a time: a late read (its card lifted, and maybe put back) never talks to
        # the card beside the fresh read that follows it.
        self.card_lock = threading.Lock()
        self.reader_ready = False
        self.card_present = False
        self._frames: list[_Frame] = []

    @property
    def view(self) -> View:
        return self._view

    # -- the table ------------------------------------------------------------------------------

    def dispatch(self, event: Event, argument: Any = None) -> None:
        """Take ``event`` in the current state, as the table says; ``IntentRefused`` if it does not."""
        state = self._view.screen
        transition = TABLE.get((state, event))
        if transition is None:
            raise IntentRefused(f"{event.value} is not taken on the {state.value} screen")
        frame = _Frame(state)
        self._frames.append(frame)
        try:
            transition.handler(self, argument)
        finally:
            self._frames.pop()
        landed = frame.landed or state
        if landed not in transition.to:
            logger.error("the flow went from %s on %s to %s, which its table does not list",
                         state.value, event.value, landed.value)
        if self._on_transition is not None:
            self._on_transition(state, event, landed)

    def intent(self, name: str, argument: Any = None) -> None:
        """A screen's intent by name (``ValueError`` for a name that is no ``Intent``)."""
        self.dispatch(Intent(name), argument)

    # -- what the handlers use ------------------------------------------------------------------

    def show(self, screen: Screen, **changes: Any) -> None:
        self._view = replace(self._view, screen=screen, reader_ready=self.reader_ready,
                             card_present=self.card_present, pin_digits=len(self.pin), **changes)
        if self._frames:
            self._frames[-1].landed = screen
        self._on_view(self._view)

    def require(self) -> Session:
        if self.session is None:
            raise IntentRefused(f"no session on the {self._view.screen.value} screen")
        return self.session

    def work(self, work: Callable[[], T], event: Work, step: Step,
             discard: Callable[[T], None] | None = None) -> None:
        """Run ``work``; its value comes back as ``event`` (or goes to ``discard`` if the session moved
        on meanwhile), a failure as ``Work.FAILED`` with the exception and ``step``."""
        generation = self.generation

        def on_done(value: T) -> None:
            if generation == self.generation:
                self._dispatch_work(event, value)
            elif discard is not None:
                discard(value)

        def on_failed(exc: BaseException) -> None:
            if generation == self.generation:
                self._dispatch_work(Work.FAILED, (exc, step))

        self.runner.submit(work, on_done, on_failed)

    def _dispatch_work(self, event: Work, value: object) -> None:
        try:
            self.dispatch(event, value)
        except IntentRefused:
            logger.error("work %s came back on the %s screen, which does not take it", event.value,
                         self._view.screen.value)

    def take_pin(self) -> bytearray:
        """The PIN typed, handed over (the caller wipes it); the buffer starts empty again."""
        pin, self.pin = self.pin, bytearray()
        return pin

    def clear_pin(self) -> None:
        wipe(self.pin)
        self.pin = bytearray()

    def end_session(self, reason: str = EndReason.USER_CANCELLED) -> None:
        """Wipe every personal value, drop the results of work still running, and withdraw the
        session's request on the server if it still waits (``reason`` is recorded there)."""
        self.clear_pin()
        session, self.session = self.session, None
        self.generation += 1
        if session is not None:
            session.ended_because = reason
            session.cancel.set()
            if session.card is not None:
                close_card(session.card)
            if session.op is not None and session.op.status in OPEN_STATUSES:
                op, operations = session.op, self.backend.operations
                self.runner.submit(lambda: operations.abandon(op, reason), _ignore, _ignore)
        # The language and the text size stay for the person at the counter; the idle timeout
        # returns them to the defaults for the next person.
        self._view = View(Screen.START, self._view.language, large_text=self._view.large_text)
