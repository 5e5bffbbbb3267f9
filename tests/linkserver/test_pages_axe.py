"""Every web page, checked by axe-core (axe-playwright-python) in Chromium at WCAG 2.2 AA, in
Japanese and in English, with ``lang`` set on the page: the user's pages (the pre-link sign-in
and the voucher page, also with an error on them) and every console page, as each role sees it.
Zero violations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from kiosk.nfc.sim import TestHierarchy
from tests.helpers.browser import DESK, chromium, console_sign_in
from tests.helpers.linkage_client import ROOMY
from tests.helpers.server_api import verified
from tests.linkserver.console_parts import PASSWORD, seat_staff
from tests.linkserver.helpers import LiveServer, live_server

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LANGUAGES = ("ja", "en")
#: Each console page, and the member who looks at it.
CONSOLE = (("/console/", "hanako"), ("/console/offline", "hanako"), ("/console/kiosks", "hanako"),
           ("/console/audit", "kansa"), ("/console/audit?since=not-a-date", "kansa"),
           ("/console/audit/chain", "kansa"), ("/console/", "kansa"), ("/console/staff", "boss"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    folder: Path = tmp_path_factory.mktemp("axe")
    with live_server(folder / "state", hierarchy, limits=ROOMY) as live:
        seat_staff(live)
        kiosk = live.kiosk()
        live.operation(kiosk, "unlink", verified(live, kiosk))  # a request in the queue
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def members(browser: Browser, site: LiveServer) -> Iterator[dict[str, Page]]:
    """A browser signed in as each member, once (each TOTP code signs in once)."""
    pages = {}
    for staff_id in ("hanako", "kansa", "boss"):
        page = browser.new_context(locale="ja-JP", **DESK).new_page()
        console_sign_in(page, site.base, staff_id, PASSWORD, site.clock)
        pages[staff_id] = page
    yield pages
    for page in pages.values():
        page.context.close()


def assert_accessible(page: Page, language: str) -> None:
    assert page.locator("html").get_attribute("lang") == language
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA},
                                      "resultTypes": ["violations", "passes"]})
    violations = [(v["id"], [node["target"] for node in v["nodes"]]) for v in result.response["violations"]]
    assert violations == [], page.url
    assert result.response["passes"], "axe checked nothing"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("path", "staff_id"), CONSOLE)
def test_each_console_page(members: dict[str, Page], site: LiveServer, path: str, staff_id: str,
                           language: str) -> None:
    page = members[staff_id]
    page.goto(site.url(f"/console/sign-in?lang={language}"))  # the language's cookie
    answer = page.goto(site.url(path))
    assert answer is not None and answer.status in (200, 400) and page.url == site.url(path)
    assert_accessible(page, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_console_sign_in_and_its_errors(browser: Browser, site: LiveServer, language: str) -> None:
    page = browser.new_context(**DESK).new_page()
    page.goto(site.url(f"/console/sign-in?lang={language}"))
    assert_accessible(page, language)
    page.fill("#staff_id", "hanako")
    page.fill("#password", "not the password")
    page.click("main button[type=submit]")
    assert page.get_by_role("status").count() == 1  # the refusal is on the page
    assert_accessible(page, language)
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", ["/device", "/voucher"])
def test_the_users_pages_and_their_errors(browser: Browser, site: LiveServer, path: str,
                                          language: str) -> None:
    page = browser.new_context(**DESK).new_page()
    page.goto(site.url(f"{path}?lang={language}"))
    assert_accessible(page, language)
    fields = page.locator("form input:not([type=hidden])")
    for index in range(fields.count()):  # a form that cannot be right
        fields.nth(index).fill("X")
    page.locator("form button").first.click()
    assert page.get_by_role("alert").count() == 1  # the refusal is on the page
    assert_accessible(page, language)
    page.context.close()
