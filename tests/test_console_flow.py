"""The whole counter with staff at the console: the kiosk's flow over its core services and the
simulated card behind the private pcscd, the reference server, and the staff member's console in
Chromium. The kiosk's request appears in the console without a reload; approving it lets the kiosk
go on; refusing it with a reason puts that reason on the kiosk's error screen."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kiosk.config import load_config
from kiosk.flow import Intent, Screen, StaffCredential
from kiosk.nfc.pcsc import PcscConnection
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.services.core import KioskCore
from linkserver.console.texts import TEXTS
from tests.conftest import Reader
from tests.helpers.browser import DESK as DESK_PC
from tests.helpers.browser import chromium, console_sign_in
from tests.helpers.kiosk import write_config
from tests.helpers.roster import DESK, keep_roster
from tests.helpers.server_api import LINKED
from tests.linkserver.console_parts import PASSWORD, staff_of
from tests.linkserver.helpers import LiveServer
from tests.test_flow import Counter, make_counter

JA = TEXTS["ja"]


@pytest.fixture
def console(server: LiveServer) -> Iterator[Page]:
    """Hanako at the desk of the demo kiosk's counter, signed in, looking at the queue."""
    staff = staff_of(server)
    staff.add_counter("north", "North counter")
    staff.place_kiosk(server.setup.kiosk_id, "north")
    staff.add("hanako", "Hanako Sato", "desk", PASSWORD)
    staff.assign("hanako", "north")
    browser: Browser
    with chromium() as browser:
        context = browser.new_context(locale="ja-JP", **DESK_PC)
        page = context.new_page()
        console_sign_in(page, server.base, "hanako", PASSWORD, server.clock)
        yield page
        context.close()


@pytest.fixture
def counter(tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy, reader: Reader,
            make_card: Callable[..., SimulatedCard]) -> Iterator[Counter]:
    reader.insert(make_card("linked"))
    yield from make_counter(tmp_path, server, hierarchy, server.base, make_card,
                            open_card=lambda: PcscConnection(reader.name))


def ask_for_mfa_reset(counter: Counter) -> threading.Thread:
    """The user's steps up to the PIN; the PIN's submission (which waits for staff) in a thread."""
    counter.flow.dispatch(Intent.CHOOSE, "mfa_reset")
    counter.flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
    counter.flow.dispatch(Intent.CARD_INSERTED)
    assert counter.screen is Screen.PIN
    for digit in "1234":
        counter.flow.dispatch(Intent.PIN_DIGIT, digit)
    waiting = threading.Thread(target=counter.flow.dispatch, args=(Intent.PIN_SUBMIT,))
    waiting.start()
    return waiting


def the_request(page: Page) -> object:
    entry = page.locator("#queue section.request")
    expect(entry).to_have_count(1)  # drawn by the live queue: nobody reloaded the page
    expect(entry).to_contain_text(JA["mfa_reset"])
    return entry


def test_staff_approve_at_the_console_and_the_kiosk_goes_on(console: Page, counter: Counter) -> None:
    waiting = ask_for_mfa_reset(counter)
    entry = the_request(console)
    entry.get_by_role("button", name=JA["approve"]).click()  # type: ignore[attr-defined]
    waiting.join(60)
    assert not waiting.is_alive()
    assert counter.screen is Screen.DONE
    assert Screen.STAFF_WAIT in counter.screens()
    expect(console.locator("#queue section.request")).to_have_count(0)


def test_a_refusal_reason_reaches_the_kiosks_error_screen(console: Page, counter: Counter) -> None:
    waiting = ask_for_mfa_reset(counter)
    entry = the_request(console)
    entry.get_by_label(JA["reason"]).select_option("card_damaged")  # type: ignore[attr-defined]
    entry.get_by_role("button", name=JA["refuse"]).click()  # type: ignore[attr-defined]
    waiting.join(60)
    assert not waiting.is_alive()
    assert counter.screen is Screen.ERROR
    assert counter.flow.view.error == "refused.card_damaged"


def test_an_offline_approval_once_synced_shows_in_the_offline_queue(
        tmp_path: Path, server: LiveServer, hierarchy: TestHierarchy, console: Page,
        make_card: Callable[..., SimulatedCard]) -> None:
    # The kiosk, cut off from the server, with what an earlier day online left it: the server's
    # sealing key and the staff roster.
    for offline in make_counter(tmp_path, server, hierarchy, "http://127.0.0.1:9", make_card):
        sealing = json.dumps(server.server.offline.sealing_public_jwk()).encode()
        offline.backend.core.store.put_cache("server.sealing_key", sealing)
        keep_roster(offline.backend.core.roster)
        offline.flow.dispatch(Intent.CHOOSE, "mfa_reset")
        offline.flow.dispatch(Intent.SUBMIT_ACCOUNT, LINKED)
        offline.place("linked")
        offline.type_pin("1234")
        assert offline.screen is Screen.OFFLINE_APPROVAL
        offline.flow.dispatch(Intent.APPROVE_OFFLINE, StaffCredential(DESK[0], bytearray(DESK[1].encode())))
        assert offline.screen is Screen.DONE and offline.backend.core.store.outbox_depth() == 1
    # Back online, the same kiosk syncs its outbox by hand (its background tries while cut off may
    # have put the item in backoff).
    core = KioskCore.build(load_config(write_config(tmp_path, server, hierarchy, server.base)))
    try:
        core.sync.sync_now()
        assert core.store.outbox_depth() == 0
    finally:
        core.close()
    console.get_by_role("link", name=JA["offline_heading"]).click()
    row = console.locator("table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(server.setup.kiosk_id)
    expect(row).to_contain_text(JA["mfa_reset"])
    expect(row).to_contain_text(JA["fate_reverified"])
    expect(row).to_contain_text(JA["voucher_waiting"])
