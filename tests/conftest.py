"""Shared fixtures: the test JPKI hierarchy, simulated cards, and pcscd with the vpcd reader."""

from __future__ import annotations

import logging
import os
import uuid

# Qt renders off screen in the tests (screenshots under Xvfb set their own platform).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.linkage import LinkageClient
from kiosk.nfc.sim import CardProfile, SimulatedCard, TestHierarchy
from kiosk.nfc.sim.card import TRIPWIRE_ENV
from kiosk.nfc.sim.hierarchy import generate
from kiosk.nfc.sim.pcscd import SOCKET_ENV, PcscdProcess
from kiosk.nfc.sim.vpcd import VpcdBridge
from tests.helpers.linkage_client import ROOMY, Recorder, config_for
from tests.helpers.tripwire import assert_my_number_untouched
from tests.linkserver.helpers import LiveServer, Staff, live_server

TEST_READER_NAME = "Kiosk Test PCD"
#: The tests' own private pcscd, on free vpcd ports. This process and every command the tests
#: start talk to it alone (its socket is set before any PC/SC call), never to the machine's pcscd.
TEST_PCSCD = PcscdProcess(port=None, name=TEST_READER_NAME)
os.environ[SOCKET_ENV] = str(TEST_PCSCD.socket_path)


@pytest.fixture(autouse=True)
def _command_logging_removed() -> Iterator[None]:
    """A test that runs a command's ``main`` in this process (``kiosk``, ``kiosk-linkserver``) gets
    its logging set up: a stream handler on the stderr pytest captured for that test, closed after
    it. Taken off again here, so that later tests in the same worker do not log into a closed
    file ("--- Logging error ---")."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler and handler not in before:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def hierarchy(tmp_path_factory: pytest.TempPathFactory) -> TestHierarchy:
    """A fresh test JPKI hierarchy for the whole run."""
    return generate(tmp_path_factory.mktemp("jpki") / "hierarchy")


@pytest.fixture(scope="session")
def trip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tripwire")


@pytest.fixture(autouse=True)
def my_number_tripwire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                       trip_folder: Path) -> Iterator[Path]:
    """After every test: no simulated card was asked for the My Number EF, whether in this process or
    in one the test started (``kiosk sim``, ``kiosk flow``, the demo): each appends its trips to the
    file named in ``KIOSK_SIM_TRIPWIRE_FILE``. A test that asks on purpose is marked ``my_number_asked``."""
    trip_file = trip_folder / f"{uuid.uuid4().hex}.trips"
    monkeypatch.setenv(TRIPWIRE_ENV, str(trip_file))
    yield trip_file
    if request.node.get_closest_marker("my_number_asked") is None:
        assert_my_number_untouched(trip_file=trip_file)


@pytest.fixture
def make_card(hierarchy: TestHierarchy) -> Callable[..., SimulatedCard]:
    """A new simulated card: ``make_card(holder="linked", pin=None, **card_options)``."""

    def factory(holder: str = "linked", *, pin: str | None = None,
                cardinfo_pin: str | None = None, **options: Any) -> SimulatedCard:
        profile = CardProfile.from_holder(hierarchy, holder, pin=pin, cardinfo_pin=cardinfo_pin)
        return SimulatedCard(profile, **options)

    return factory


@pytest.fixture
def card(make_card: Callable[..., SimulatedCard]) -> SimulatedCard:
    return make_card()


@pytest.fixture(scope="session")
def pcscd() -> Iterator[PcscdProcess]:
    """A real pcscd whose readers are two vpcd virtual readers on the test ports."""
    yield TEST_PCSCD.start()
    TEST_PCSCD.stop()


class Reader:
    """A vpcd reader of the test pcscd, with cards put on and taken off it."""

    def __init__(self, pcscd: PcscdProcess, slot: int = 0) -> None:
        self.name = pcscd.readers[slot]
        self.port = pcscd.port + slot
        self.bridge: VpcdBridge | None = None

    def insert(self, card: SimulatedCard, wait: bool = True) -> VpcdBridge:
        from kiosk.nfc.pcsc import wait_for_card

        self.remove()
        self.bridge = VpcdBridge(card, port=self.port)
        self.bridge.insert()
        if wait:
            assert wait_for_card(self.name, present=True, timeout=10), "pcscd did not see the card"
        return self.bridge

    def remove(self, wait: bool = True) -> None:
        from kiosk.nfc.pcsc import wait_for_card

        if self.bridge is not None:
            self.bridge.remove()
            self.bridge = None
            if wait:
                assert wait_for_card(self.name, present=False, timeout=10), "card still seen"


@pytest.fixture
def reader(pcscd: PcscdProcess) -> Iterator[Reader]:
    """The first virtual reader, empty; whatever a test inserts is removed afterwards."""
    slot = Reader(pcscd)
    yield slot
    slot.remove()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "pcscd" in getattr(item, "fixturenames", ()) or "reader" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pcsc)
    # The packages' test is the longest single stretch (one worker builds, installs and upgrades for
    # minutes), then the tests marked long: first, so that none of them starts last, alone, with
    # the rest of the suite already done, and the other workers share the rest meanwhile.
    items.sort(key=lambda item: (item.get_closest_marker("packages") is None,
                                 item.get_closest_marker("long") is None))


@pytest.fixture
def server(tmp_path: Path, hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    """The reference linkage server with the demo's accounts, on loopback, on SQLite."""
    with live_server(tmp_path / "server", hierarchy) as live:
        yield live


@pytest.fixture
def staff(server: LiveServer) -> Iterator[Staff]:
    """A staff member at the console, approving every request that comes in."""
    desk = Staff(server)
    yield desk
    desk.stop()


def distinct_screens(views: Iterable[Any]) -> list[Any]:
    """The screens a flow showed, in order, a screen shown twice in a row counted once."""
    seen: list[Any] = []
    for view in views:
        if not seen or seen[-1] is not view.screen:
            seen.append(view.screen)
    return seen


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


# -- the linkage client's tests --------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    """The reference server for one test module, with limits it never reaches by accident."""
    with live_server(tmp_path_factory.mktemp("linkage") / "state", hierarchy, limits=ROOMY) as server:
        yield server


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(live: LiveServer, recorder: Recorder) -> Iterator[LinkageClient]:
    """The kiosk's linkage client on ``live``, its requests recorded by ``recorder``."""
    with LinkageClient(config_for(live), transport=recorder) as linkage:
        yield linkage
