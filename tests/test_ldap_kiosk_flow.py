"""A password reset through the whole kiosk (its core services, the simulated card on the PC/SC
reader, the reference server) with the accounts in a real slapd: afterwards the user binds with the
new password and no longer with the old one; a password the directory's policy refuses reaches the
flow as its code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import load_config
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.services.core import KioskCore
from kiosk.services.headless import FlowFailed, FlowInput
from linkserver.config import LdapSettings
from tests.conftest import Reader
from tests.helpers.kiosk import pin, place, run, write_config
from tests.helpers.server_api import LINKED
from tests.helpers.slapd import PEOPLE, SERVICE_DN, Slapd, available, binds, started
from tests.linkserver.helpers import LiveServer, Staff, live_server

pytestmark = pytest.mark.skipif(not available(), reason="Debian's slapd is not installed (scripts/setup)")

OLD_PASSWORD = "Old-Password-0"  # the seeded password of the demo's linked account
NEW_PASSWORD = "Counter-Kiosk-2026!"


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with started(tmp_path_factory.mktemp("slapd")) as server:
        yield server


@pytest.fixture
def directory_server(slapd: Slapd, tmp_path: Path, hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    settings = LdapSettings(url=slapd.ldaps_url, ca_file=slapd.ca_file, bind_dn=SERVICE_DN,
                            bind_password_file=slapd.folder / "service.password", base_dn=PEOPLE)
    with live_server(tmp_path / "server", hierarchy, settings={"directory": settings}) as live:
        yield live


def reset(live: LiveServer, tmp_path: Path, hierarchy: TestHierarchy, reader: Reader,
          make_card: Callable[..., SimulatedCard], password: str) -> dict[str, Any]:
    core = KioskCore.build(load_config(write_config(tmp_path, live, hierarchy, live.base))).start()
    desk = Staff(live)
    try:
        given = FlowInput("password_reset", LINKED, pin(), new_password=bytearray(password.encode()))
        result, _ = run(core, place(reader, make_card, "linked"), given)
    finally:
        desk.stop()
        core.close()
    return result


def test_the_whole_kiosk_flow_sets_the_directorys_password(
        slapd: Slapd, directory_server: LiveServer, tmp_path: Path, hierarchy: TestHierarchy,
        reader: Reader, make_card: Callable[..., SimulatedCard]) -> None:
    assert binds(slapd, LINKED, OLD_PASSWORD)
    result = reset(directory_server, tmp_path, hierarchy, reader, make_card, NEW_PASSWORD)
    assert result["status"] == "completed", result
    assert binds(slapd, LINKED, NEW_PASSWORD) and not binds(slapd, LINKED, OLD_PASSWORD)


def test_a_password_in_the_directorys_history_reaches_the_flow_as_its_code(
        slapd: Slapd, directory_server: LiveServer, tmp_path: Path, hierarchy: TestHierarchy,
        reader: Reader, make_card: Callable[..., SimulatedCard]) -> None:
    current = NEW_PASSWORD if binds(slapd, LINKED, NEW_PASSWORD) else OLD_PASSWORD
    with pytest.raises(FlowFailed) as failed:
        reset(directory_server, tmp_path, hierarchy, reader, make_card, current)
    assert (failed.value.step, failed.value.code) == ("password", "password_policy")
    assert binds(slapd, LINKED, current)
