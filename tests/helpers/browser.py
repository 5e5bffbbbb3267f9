"""Debian's Chromium driven by Playwright (no browser download), and a staff member signing in to
the console in it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
DESK = {"viewport": {"width": 1366, "height": 768}}


@contextmanager
def chromium() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Chromium is missing: scripts/setup installs Debian's chromium package"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=["--no-sandbox", "--headless=new", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


def console_sign_in(page: Page, base: str, staff_id: str, password: str, clock: Any) -> str:
    """The first sign-in at the console, in Japanese: the password, then the enrolment with the key
    the page shows and a code pyotp makes from it at ``clock()``; the key back."""
    from linkserver.console.texts import TEXTS

    ja = TEXTS["ja"]
    page.goto(base + "/console/")
    expect(page).to_have_title(f"{ja['sign_in']} – {ja['console']}")
    page.get_by_label(ja["staff_id"]).fill(staff_id)
    page.get_by_label(ja["password"]).fill(password)
    page.get_by_role("button", name=ja["continue"]).click()
    expect(page.get_by_role("heading", name=ja["enrol_heading"])).to_be_visible()
    secret = page.locator("code.secret").inner_text()
    page.get_by_label(ja["code"]).fill(pyotp.TOTP(secret).at(clock()))
    page.get_by_role("button", name=ja["continue"]).click()
    expect(page).to_have_url(base + "/console/")  # signed in: the queue, or an auditor's first page
    return secret
