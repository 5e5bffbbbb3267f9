"""The staff console in a real browser (Debian's Chromium driven by Playwright, a desk PC's viewport):
sign-in with the password and a TOTP code, the live queue that shows a kiosk's request without a
reload, and decisions that reach the kiosk waiting on its long-poll."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from kiosk.linkage import LinkageClient
from kiosk.linkage.models import Operation
from kiosk.nfc.sim import TestHierarchy
from kiosk.services.operations import refusal_code
from kiosk.ui.errors import ErrorWords
from linkserver.console.texts import TEXTS
from tests.helpers.browser import DESK, chromium, console_sign_in
from tests.helpers.linkage_client import LINKED, card_verification, config_for
from tests.helpers.server_api import VOUCHER, Kiosk, verified
from tests.linkserver.console_parts import PASSWORD, staff_of
from tests.linkserver.helpers import LiveServer, live_server

JA, EN = TEXTS["ja"], TEXTS["en"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def live(tmp_path: Path, hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    with live_server(tmp_path / "state", hierarchy) as server:
        staff = staff_of(server)
        staff.add_counter("north", "North counter")
        staff.place_kiosk(server.setup.kiosk_id, "north")
        staff.add("hanako", "Hanako Sato", "desk", PASSWORD)
        staff.assign("hanako", "north")
        yield server


@pytest.fixture
def desk(browser: Browser, live: LiveServer) -> Iterator[tuple[Page, list[str]]]:
    """A desk PC's browser in Japanese; the second value collects the page's errors (a script the
    security policy blocked, a failed request)."""
    context = browser.new_context(locale="ja-JP", **DESK)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: _note(errors, message))
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page, errors
    context.close()


def _note(errors: list[str], message: ConsoleMessage) -> None:
    if message.type == "error":
        errors.append(message.text)


def sign_in(page: Page, live: LiveServer) -> str:
    return console_sign_in(page, live.base, "hanako", PASSWORD, live.clock)


class WaitingKiosk:
    """A kiosk that asked for an MFA reset and waits for staff on its long-poll, in a thread."""

    def __init__(self, live: LiveServer) -> None:
        self.client = LinkageClient(config_for(live))
        verification = card_verification(live, self.client, "linked", LINKED)
        created = self.client.create_operation("mfa_reset", verification.verification_id, {},
                                               uuid.uuid4().hex)
        assert created.session_key is not None
        self.operation_id, self.key = created.operation_id, created.session_key
        self.decided: Operation | None = None
        self.thread = threading.Thread(target=self._wait)
        self.thread.start()

    def _wait(self) -> None:
        self.decided = self.client.wait_for_decision(self.operation_id, self.key, cancel=threading.Event(),
                                                     timeout=60)

    def outcome(self) -> Operation:
        self.thread.join(60)
        self.client.close()
        assert self.decided is not None
        return self.decided


def test_sign_in_and_a_request_appears_without_a_reload_and_is_approved(desk: tuple[Page, list[str]],
                                                                         live: LiveServer) -> None:
    page, errors = desk
    sign_in(page, live)
    expect(page.get_by_text(JA["queue_empty"])).to_be_visible()
    kiosk = WaitingKiosk(live)
    request = page.locator(f"#op-{kiosk.operation_id}").locator("xpath=..")
    expect(request).to_be_visible()  # drawn by the live queue: the page was not reloaded
    assert page.locator("#queue").get_attribute("data-updates") == "1"
    expect(request).to_contain_text(JA["mfa_reset"])
    request.get_by_role("button", name=JA["approve"]).click()  # one click
    expect(page.get_by_role("status")).to_have_text(JA["approved"])
    assert kiosk.outcome().status == "completed"
    expect(page.locator(f"#op-{kiosk.operation_id}")).to_have_count(0)
    assert errors == []


def test_a_refusal_with_a_reason_reaches_the_kiosk(desk: tuple[Page, list[str]], live: LiveServer) -> None:
    page, errors = desk
    sign_in(page, live)
    kiosk = WaitingKiosk(live)
    request = page.locator(f"#op-{kiosk.operation_id}").locator("xpath=..")
    request.get_by_label(JA["reason"]).select_option("photo_mismatch")
    request.get_by_role("button", name=JA["refuse"]).click()
    expect(page.get_by_role("status")).to_have_text(JA["refused"])
    outcome = kiosk.outcome()
    assert outcome.status == "refused" and outcome.result == {"refusal_reason": "photo_mismatch"}
    code = refusal_code(outcome)  # what the kiosk's error screen is drawn from
    assert code == "refused.photo_mismatch"
    assert "photo" in ErrorWords.describe(code).explanation
    assert errors == []


def test_the_console_in_english_names_everything_in_english(desk: tuple[Page, list[str]],
                                                           live: LiveServer) -> None:
    page, errors = desk
    page.goto(live.url("/console/sign-in"))
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_label(EN["staff_id"])).to_be_visible()
    expect(page.get_by_role("button", name=EN["continue"])).to_be_visible()
    assert errors == []



def test_an_auditor_searches_the_trail_and_downloads_it(browser: Browser, live: LiveServer) -> None:
    client = live.kiosk()
    operation_id = live.operation(client, "mfa_reset", verified(live, client)).json()["operation_id"]
    staff_of(live).add("kansa", "Kansa", "auditor", PASSWORD)
    context = browser.new_context(locale="ja-JP", **DESK)
    page = context.new_page()
    console_sign_in(page, live.base, "kansa", PASSWORD, live.clock)
    expect(page.get_by_text(JA["auditor_only"])).to_be_visible()
    page.get_by_role("link", name=JA["audit_heading"]).click()
    page.get_by_label(JA["field_operation"]).fill(operation_id)
    page.get_by_role("button", name=JA["search"]).click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    expect(page.locator("table tbody")).to_contain_text("operation_requested")
    with page.expect_download() as download:
        page.get_by_role("link", name=JA["export_csv"]).click()
    saved = download.value
    assert saved.suggested_filename == "audit.csv"
    rows = Path(saved.path()).read_text("utf-8").splitlines()
    assert rows[0] == "seq,at,event,client,account,details" and len(rows) == 2
    assert "operation_requested" in rows[1] and operation_id in rows[1]
    page.get_by_role("link", name=JA["check_chain"]).click()
    expect(page.get_by_role("status")).to_contain_text("完全です")
    context.close()


def test_the_offline_queue_after_an_offline_approval_reached_the_server(desk: tuple[Page, list[str]],
                                                                          live: LiveServer) -> None:
    page, errors = desk
    sign_in(page, live)
    offline = Kiosk(live)  # what the kiosk recorded offline, staff approving at it, then synced
    [fate] = offline.upload(offline.seal(offline.payload()))
    assert fate["fate"] == "accepted"
    page.get_by_role("link", name=JA["offline_heading"]).click()
    row = page.locator("table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(live.setup.kiosk_id)
    expect(row).to_contain_text(JA["fate_reverified"])
    expect(row).to_contain_text(JA["voucher_waiting"])
    assert VOUCHER not in page.content()
    assert errors == []
