"""The flow's table against the fast tier: together, the tier's cases take every transition of the
table and no other; and the tier runs with no Qt, no pyscard, no server and no pcscd."""

from __future__ import annotations

import subprocess
import sys

from kiosk.flow import handlers
from kiosk.flow.intents import ARGUMENTS, Intent, Work
from kiosk.flow.table import RULES, TABLE, transitions
from kiosk.flow.view import Screen
from tests.fast.cases import CASES
from tests.fast.fakes import TAKEN

#: Modules the fast tier must not load: the window, the card reader, the server and its harness.
FORBIDDEN = ("PySide6", "pytestqt", "smartcard", "linkserver", "uvicorn", "fastapi", "kiosk.ui",
             "kiosk.nfc.pcsc", "kiosk.nfc.sim", "tests.conftest", "tests.linkserver")


def test_the_tier_takes_every_transition_of_the_table() -> None:
    TAKEN.clear()
    for case in CASES.values():
        case()
    table = transitions()
    missing = sorted(f"{s.value} --{e.value}--> {t.value}" for s, e, t in table - TAKEN)
    extra = sorted(f"{s.value} --{e.value}--> {t.value}" for s, e, t in TAKEN - table)
    assert not missing, f"transitions of the table no case takes: {missing}"
    assert not extra, f"transitions taken that the table does not list: {extra}"


def test_every_intent_and_every_work_has_a_place_in_the_table() -> None:
    events = {event for _, event in TABLE}
    assert set(Intent) <= events and set(Work) <= events
    assert set(ARGUMENTS) == set(Intent)


def test_every_state_has_its_rows_and_a_way_out() -> None:
    for state in Screen:
        for intent in (Intent.CANCEL, Intent.IDLE_TIMEOUT, Intent.CARD_REMOVED, Intent.SET_LANGUAGE):
            assert (state, intent) in TABLE, (state, intent)


def test_the_handlers_are_the_flows_own() -> None:
    for _states, _event, handler, _to in RULES:
        assert getattr(handlers, handler.__name__) is handler


def test_the_tier_imports_no_qt_card_reader_server_or_pcscd() -> None:
    code = ("import sys, tests.fast.test_flow_fast, tests.fast.test_flow_table, tests.fast.cases; "
            f"print([m for m in sys.modules if m.startswith({FORBIDDEN!r})])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
