"""The flow's transitions, as one table: in a state, an event leads to a handler and the next states.

A row names the states it applies to, the event (an ``Intent`` from a screen or the window, or the
``Work`` the flow started coming back), the handler (``kiosk.flow.handlers``) and the states the
handler may show next (``SAME``: the state it was taken in). Which of them it shows depends on the
session (the operation, the card, the server's answer). An event a state has no row for is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from kiosk.flow import handlers as h
from kiosk.flow.intents import Event, Intent, Work
from kiosk.flow.view import Screen

S, I, W = Screen, Intent, Work  # noqa: E741  (short names keep each rule on one line)
Handler = Callable[[Any, Any], None]
Rule = tuple[tuple[Screen, ...], Event, Handler, tuple[Screen | str, ...]]
#: In the "next" column: the state the event was taken in.
SAME = "same"

EVERY = tuple(Screen)
PINS = (S.PIN, S.CARDINFO_PIN)
#: Card removal changes nothing here: no card needed yet, none needed any more, or no session.
CARD_NOT_NEEDED = (S.START, S.ACCOUNT, S.DEVICE_GRANT, S.PLACE_CARD, S.STAFF_WAIT, S.NEW_PASSWORD,
                   S.WORKING, S.ERROR)
#: Card removal ends the session here: the card is still needed.
CARD_NEEDED = (S.PIN, S.LAST_TRY, S.CARDINFO_QUESTION, S.CARDINFO_PIN, S.VERIFYING, S.UNLINK_CONFIRM,
               S.OFFLINE_APPROVAL)
#: Waiting for work that either comes back or fails.
WAITING = (S.DEVICE_GRANT, S.PLACE_CARD, S.STAFF_WAIT)

RULES: tuple[Rule, ...] = (
    # in these states     on this event        the handler         may lead to
    (EVERY,               I.SET_LANGUAGE,      h.set_language,     (SAME,)),
    (EVERY,               I.SET_LARGE_TEXT,    h.set_large_text,   (SAME,)),
    (EVERY,               I.READER_STATUS,     h.reader_status,    (SAME,)),
    (EVERY,               I.CANCEL,            h.cancel,           (S.START,)),
    (EVERY,               I.IDLE_TIMEOUT,      h.idle_timeout,     (S.START,)),
    (EVERY,               I.CARD_INSERTED,     h.card_inserted,    (SAME,)),
    (EVERY,               I.DISPLAY_FAILED,    h.display_failed,   (S.ERROR,)),
    (CARD_NOT_NEEDED,     I.CARD_REMOVED,      h.card_removed,     (SAME,)),
    (CARD_NEEDED,         I.CARD_REMOVED,      h.card_removed,     (S.ERROR,)),
    ((S.DONE,),           I.CARD_REMOVED,      h.card_removed,     (S.START,)),
    ((S.DONE, S.ERROR),   I.FINISH,            h.finish,           (S.START,)),
    ((S.START,),          I.CHOOSE,            h.choose,           (S.ACCOUNT,)),
    ((S.ACCOUNT,),        I.SUBMIT_ACCOUNT,    h.submit_account,   (S.ACCOUNT, S.DEVICE_GRANT, S.PLACE_CARD)),
    ((S.DEVICE_GRANT,),   W.DEVICE_STARTED,    h.device_started,   (S.DEVICE_GRANT,)),
    ((S.DEVICE_GRANT,),   W.ACCOUNT_PROVED,    h.account_proved,   (S.PLACE_CARD,)),
    ((S.PLACE_CARD,),     W.CARD_READ,         h.card_read,        (S.PIN, S.ERROR)),
    (PINS,                I.PIN_DIGIT,         h.pin_digit,        (SAME,)),
    (PINS,                I.PIN_BACKSPACE,     h.pin_backspace,    (SAME,)),
    (PINS,                I.PIN_CLEAR,         h.pin_clear,        (SAME,)),
    ((S.PIN,),            I.PIN_SUBMIT,        h.pin_submit,       (SAME, S.LAST_TRY, S.CARDINFO_QUESTION,
                                                                    S.VERIFYING)),
    ((S.LAST_TRY,),       I.CONFIRM_LAST_TRY,  h.confirm_last_try, (S.PIN, S.CARDINFO_QUESTION, S.VERIFYING)),
    ((S.CARDINFO_QUESTION,), I.ANSWER_SAME_PIN, h.answer_same_pin, (S.VERIFYING,)),
    ((S.VERIFYING,),      W.VERIFIED,          h.verified,         (SAME, S.OFFLINE_APPROVAL, S.ERROR,
                                                                    S.UNLINK_CONFIRM, S.STAFF_WAIT,
                                                                    S.WORKING)),
    ((S.VERIFYING,),      W.CARDINFO_TRIES,    h.cardinfo_tries,   (S.CARDINFO_PIN,)),
    ((S.CARDINFO_PIN,),   I.PIN_SUBMIT,        h.pin_submit,       (SAME, S.WORKING)),
    ((S.WORKING,),        W.NAME_READ,         h.name_read,        (S.STAFF_WAIT, S.ERROR)),
    ((S.UNLINK_CONFIRM,), I.CONFIRM_UNLINK,    h.confirm_unlink,   (S.START, S.STAFF_WAIT, S.ERROR)),
    ((S.STAFF_WAIT,),     W.DECIDED,           h.decided,          (S.NEW_PASSWORD, S.DONE)),
    ((S.WORKING,),        W.DECIDED,           h.decided,          (S.DONE,)),
    ((S.NEW_PASSWORD,),   I.PASSWORD_CHANGED,  h.password_changed, (SAME,)),
    ((S.NEW_PASSWORD,),   I.SUBMIT_PASSWORD,   h.submit_password,  (SAME, S.WORKING)),
    ((S.WORKING,),        W.PASSWORD_SET,      h.password_set,     (S.DONE,)),
    ((S.OFFLINE_APPROVAL,), I.APPROVE_OFFLINE, h.approve_offline,  (SAME, S.WORKING)),
    ((S.WORKING,),        W.RECORDED,          h.recorded,         (S.DONE,)),
    (WAITING,             W.FAILED,            h.failed,           (S.ERROR,)),
    ((S.VERIFYING,),      W.FAILED,            h.failed,           (S.ERROR, S.PIN)),
    ((S.WORKING,),        W.FAILED,            h.failed,           (S.ERROR, S.CARDINFO_PIN,
                                                                    S.OFFLINE_APPROVAL, S.NEW_PASSWORD)),
)


@dataclass(frozen=True)
class Transition:
    """What an event does in one state: its handler, and the states it may lead to."""

    handler: Handler
    to: frozenset[Screen]


def _expand(rules: Iterable[Rule]) -> Mapping[tuple[Screen, Event], Transition]:
    table: dict[tuple[Screen, Event], Transition] = {}
    for states, event, handler, targets in rules:
        for state in states:
            if (state, event) in table:
                raise ValueError(f"two rules for {event} on {state}")
            to = frozenset(state if target == SAME else target for target in targets)
            table[(state, event)] = Transition(handler, to)  # type: ignore[arg-type]
    return MappingProxyType(table)


#: (state, event) -> the handler and the states it may lead to.
TABLE = _expand(RULES)


def transitions() -> frozenset[tuple[Screen, Event, Screen]]:
    """Every transition the table allows: (state, event, next state)."""
    return frozenset((state, event, to) for (state, event), transition in TABLE.items()
                     for to in transition.to)


def markdown() -> str:
    """The rules as a Markdown table (``docs/architecture.md`` holds this; a test compares them)."""

    def names(items: Iterable[Screen | str]) -> str:
        return ", ".join(str(getattr(item, "name", item)).lower() for item in items)

    lines = ["| in these states | on this event | handler | may lead to |", "|---|---|---|---|"]
    for states, event, handler, targets in RULES:
        where = "every state" if states == EVERY else names(states)
        kind = "intent" if isinstance(event, Intent) else "work"
        lines.append(f"| {where} | {event.value} ({kind}) | `{handler.__name__}` | {names(targets)} |")
    return "\n".join(lines) + "\n"
