"""The pages a user opens on their own phone, in a real browser: Debian's Chromium driven by Playwright.

- The pre-link sign-in: the kiosk starts the device grant and shows its address as a QR code; the
  user opens it, signs in, and the kiosk's polling gets the account token.
- The voucher page: staff approved a request at a kiosk that was offline; once the kiosk's
  evidence has reached the server, the user finishes there with the voucher code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from kiosk.nfc.sim import TestHierarchy
from linkserver.demo import DEMO_PASSWORD
from linkserver.models import Account
from linkserver.pages import TEXTS, pick_language
from linkserver.passwords import password_matches
from tests.helpers.server_api import LINKED, UNLINKED, VOUCHER, DeviceFlow, Kiosk
from tests.linkserver.helpers import LiveServer, live_server

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Chromium is missing: scripts/setup installs Debian's chromium package"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=["--no-sandbox", "--headless=new", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def live(tmp_path: Path, hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    """The page does not touch the database itself: SQLite alone is enough here."""
    with live_server(tmp_path / "state", hierarchy) as server:
        yield server


def phone(browser: Browser, language: str) -> Page:
    context = browser.new_context(locale=language, **PHONE)
    return context.new_page()


def signed_in_token(flow: DeviceFlow, grant: dict[str, Any], live: LiveServer) -> Any:
    live.clock.advance(11)  # past the polling interval
    return flow.poll(grant["device_code"])


def test_a_japanese_phone_signs_in_and_the_kiosk_gets_the_token(browser: Browser, live: LiveServer) -> None:
    flow = DeviceFlow(live)
    grant = flow.start()
    page = phone(browser, "ja-JP")
    page.goto(grant["verification_uri_complete"])
    ja = TEXTS["ja"]
    expect(page).to_have_title(ja["title"])
    assert page.locator("html").get_attribute("lang") == "ja"
    expect(page.get_by_label(ja["code"])).to_have_value(grant["user_code"])  # filled in from the QR code
    page.get_by_label(ja["account"]).fill(UNLINKED)
    page.get_by_label(ja["password"]).fill("not the password")
    page.get_by_role("button", name=ja["approve"]).click()
    expect(page.get_by_role("alert")).to_have_text(ja["wrong"])
    expect(page.get_by_label(ja["code"])).to_have_value(grant["user_code"])
    expect(page.get_by_label(ja["password"])).to_have_value("")  # never written back into the page
    assert "not the password" not in page.content()
    assert flow.poll(grant["device_code"]).json()["error"] == "authorization_pending"

    page.get_by_label(ja["account"]).fill(UNLINKED)
    page.get_by_label(ja["password"]).fill(DEMO_PASSWORD)
    page.get_by_role("button", name=ja["approve"]).click()
    expect(page.get_by_role("status")).to_have_text(ja["approved"])
    token = signed_in_token(flow, grant, live)
    assert token.status_code == 200 and token.json()["scope"] == "account", token.text
    page.context.close()


def test_an_english_phone_gets_english_and_can_switch(browser: Browser, live: LiveServer) -> None:
    flow = DeviceFlow(live)
    grant = flow.start()
    page = phone(browser, "en-GB")
    page.goto(grant["verification_uri_complete"])
    en, ja = TEXTS["en"], TEXTS["ja"]
    expect(page.get_by_role("heading")).to_have_text(en["heading"])
    page.get_by_role("link", name=en["other"]).click()  # 日本語
    expect(page.get_by_role("heading")).to_have_text(ja["heading"])
    expect(page.get_by_label(ja["code"])).to_have_value(grant["user_code"])  # the code comes along
    page.get_by_role("link", name=ja["other"]).click()  # English
    expect(page.get_by_role("heading")).to_have_text(en["heading"])
    # "This was not me": the request is refused, in the language of the page.
    page.get_by_role("button", name=en["deny"]).click()
    expect(page.get_by_role("status")).to_have_text(en["denied"])
    assert signed_in_token(flow, grant, live).json()["error"] == "access_denied"
    page.context.close()


def test_a_code_typed_by_hand_and_one_that_expired(browser: Browser, live: LiveServer) -> None:
    flow = DeviceFlow(live)
    grant = flow.start()
    page = phone(browser, "en-US")
    page.goto(grant["verification_uri"])  # the address typed from the screen, without the code
    en = TEXTS["en"]
    expect(page.get_by_label(en["code"])).to_have_value("")
    page.get_by_role("button", name=en["approve"]).click()  # the browser asks for what is missing
    assert page.evaluate("document.querySelector('#user_code').validity.valueMissing")
    live.clock.advance(601)
    page.get_by_label(en["code"]).fill(grant["user_code"].lower())
    page.get_by_label(en["account"]).fill(UNLINKED)
    page.get_by_label(en["password"]).fill(DEMO_PASSWORD)
    page.get_by_role("button", name=en["approve"]).click()
    expect(page.get_by_role("alert")).to_have_text(en["expired"])
    page.context.close()


# -- the voucher page ---------------------------------------------------------------------------------


def test_a_password_voucher_in_japanese(browser: Browser, live: LiveServer) -> None:
    page = phone(browser, "ja-JP")
    ja = TEXTS["ja"]
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url + " " + (request.post_data or "")))
    page.goto(live.url(f"/voucher#code={VOUCHER}"))  # as the kiosk's QR code opens it
    expect(page.get_by_label(ja["v_code"])).to_have_value(VOUCHER)  # filled from the fragment
    assert sent and not any(VOUCHER in line for line in sent)  # which the browser never sent
    # Before the kiosk's evidence reached the server, the voucher is not known yet: the page says so.
    page.get_by_label(ja["v_account"]).fill(LINKED)
    page.get_by_role("button", name=ja["v_submit"]).click()
    expect(page.get_by_role("alert")).to_have_text(ja["v_invalid"])

    kiosk = Kiosk(live)
    [result] = kiosk.upload(kiosk.seal(kiosk.payload()))
    assert result["fate"] == "accepted"
    expect(page.get_by_label(ja["v_code"])).to_have_value(VOUCHER)
    page.get_by_label(ja["v_account"]).fill(LINKED)
    page.get_by_role("button", name=ja["v_submit"]).click()
    expect(page.get_by_role("alert")).to_have_text(ja["v_needs_password"])
    page.get_by_label(ja["v_account"]).fill(LINKED)
    page.get_by_label(ja["v_password"]).fill("weak")
    page.get_by_role("button", name=ja["v_submit"]).click()
    expect(page.get_by_role("alert")).to_have_text(ja["v_weak"])
    assert "weak" not in page.get_by_label(ja["v_password"]).input_value()
    page.get_by_label(ja["v_account"]).fill(LINKED)
    page.get_by_label(ja["v_password"]).fill("Momiji-autumn-77")
    page.get_by_role("button", name=ja["v_submit"]).click()
    expect(page.get_by_role("status")).to_have_text(ja["v_password_set"])
    with live.server.parts.db.transaction() as session:
        account = session.get(Account, LINKED)
        assert account is not None and password_matches(account.password_hash, "Momiji-autumn-77")
    # A voucher works once. (Going back would not show the form again: pages are never cached.)
    page.goto(live.url(f"/voucher?lang=ja#code={VOUCHER}"))
    page.get_by_label(ja["v_account"]).fill(LINKED)
    page.get_by_label(ja["v_password"]).fill("Momiji-autumn-88")
    page.get_by_role("button", name=ja["v_submit"]).click()
    expect(page.get_by_role("alert")).to_have_text(ja["v_invalid"])
    page.context.close()


def test_an_mfa_voucher_in_english_shows_the_enrolment_code(browser: Browser, live: LiveServer) -> None:
    kiosk = Kiosk(live)
    [result] = kiosk.upload(kiosk.seal(kiosk.payload(operation="mfa_reset")))
    assert result["fate"] == "accepted"
    page = phone(browser, "en-GB")
    en = TEXTS["en"]
    page.goto(live.url("/voucher"))
    page.get_by_label(en["v_code"]).fill(VOUCHER.lower())  # typed by hand
    page.get_by_label(en["v_account"]).fill(LINKED)
    page.get_by_role("button", name=en["v_submit"]).click()
    expect(page.get_by_role("status")).to_have_text(en["v_enrolment"])
    code = page.locator("#result").inner_text()
    assert len(code) >= 8
    with live.server.parts.db.transaction() as session:
        account = session.get(Account, LINKED)
        assert account is not None and account.mfa_methods == 0
    page.context.close()


@pytest.mark.parametrize(("asked", "header", "expected"), [
    ("en", "ja-JP,ja;q=0.9", "en"),
    (None, "en-GB,en;q=0.9,ja;q=0.8", "en"),
    (None, "fr-FR,ja;q=0.5,en;q=0.4", "ja"),
    (None, "en;q=0.2, ja;q=0.8", "ja"),
    (None, "fr-FR", "ja"),
    (None, None, "ja"),
    ("xx", "en;q=bad, en-US", "en"),
])
def test_the_page_language(asked: str | None, header: str | None, expected: str) -> None:
    assert pick_language(asked, header) == expected
