"""The simulated card's My Number tripwire, as the tests read it: from the card object in this
process, and from the trip file every simulated card appends to, whichever process serves it."""

from __future__ import annotations

import os
from pathlib import Path

from kiosk.nfc.sim import SimulatedCard
from kiosk.nfc.sim.card import TRIPWIRE_ENV


def trips(path: Path | None = None) -> list[str]:
    """The trips recorded in ``path`` (by default the current test's file): one line each."""
    path = path or Path(os.environ[TRIPWIRE_ENV])
    return path.read_text("ascii").splitlines() if path.exists() else []


def assert_my_number_untouched(card: SimulatedCard | None = None, *, trip_file: Path | None = None) -> None:
    """Nothing asked for the My Number EF: not of ``card``, nor of any simulated card of any process
    this test started (the trip file). ``tests/conftest.py`` checks the file after every test."""
    if card is not None:
        assert not card.my_number_selected, "the My Number EF was asked for"
        assert ("cardinfo", 0x0001) not in card.selections
    recorded = trips(trip_file)
    assert not recorded, "the My Number EF was asked for: " + "; ".join(recorded)
