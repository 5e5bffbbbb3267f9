"""``kiosk-linkserver screenshots --out DIR``: every console page in Japanese and English as PNG
(``PAGE-LANG.png``), for review.

The demo server is started in this process on a loopback port with a few requests waiting, two
offline bundles and an audit trail, and Debian's Chromium (driven by Playwright, a development
dependency) signs in as the demo's staff and opens each page at a desk PC's size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp

from linkserver.demo import (
    DEMO_COUNTER_ID,
    DEMO_DESK_ID,
    DEMO_DESK_PASSWORD,
    DEMO_DESK_TOTP_FILE,
    DEMO_KIOSK_ID,
)
from linkserver.models import OfflineEvidence, Operation, Verification
from linkserver.service import new_id

CHROMIUM = Path("/usr/bin/chromium")
DESK = {"width": 1366, "height": 900}
LANGUAGES = ("ja", "en")
SUPERVISOR, AUDITOR = "supervisor-demo", "auditor-demo"
#: Each page: who looks at it and where.
PAGES: tuple[tuple[str, str | None, str], ...] = (
    ("sign-in", None, "/console/sign-in"),
    ("second-factor", "enrol", "/console/second-factor"),
    ("queue", DEMO_DESK_ID, "/console/"),
    ("offline", DEMO_DESK_ID, "/console/offline"),
    ("kiosks", DEMO_DESK_ID, "/console/kiosks"),
    ("audit", AUDITOR, "/console/audit"),
    ("chain", AUDITOR, "/console/audit/chain"),
    ("auditor-queue", AUDITOR, "/console/"),
    ("staff", SUPERVISOR, "/console/staff"),
)


def take(out: Path, hierarchy: Path | None = None) -> list[Path]:
    """Writes every page in both languages into ``out``; the files written."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ValueError("screenshots need Playwright (a development dependency: scripts/setup installs "
                         "it) and Debian's chromium") from exc
    if not CHROMIUM.exists():
        raise ValueError(f"screenshots need Debian's chromium at {CHROMIUM}")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with _server(hierarchy) as (base, secrets_of), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox", "--headless=new", "--disable-gpu"])
        try:
            # One browser per member, signed in once (each TOTP code works once), then each language.
            contexts: dict[str | None, Any] = {}
            for language in LANGUAGES:
                for name, who, path in PAGES:
                    if who not in contexts:
                        contexts[who] = _signed_in(browser, base, who, secrets_of)
                    page = contexts[who]
                    page.goto(f"{base}/console/sign-in?lang={language}")  # the language's cookie
                    answer = page.goto(base + path)
                    if answer is None or answer.status != 200 or page.url != base + path:
                        raise RuntimeError(f"the {name} page did not open for {who} (now at {page.url})")
                    target = out / f"{name}-{language}.png"
                    page.screenshot(path=str(target), full_page=True)
                    written.append(target)
        finally:
            browser.close()
    return written


def _signed_in(browser: Any, base: str, who: str | None, secrets_of: Callable[[str], str | None]) -> Any:
    """A page in a browser of its own, signed in as ``who`` (nobody: None)."""
    page = browser.new_context(locale="ja-JP", viewport=DESK).new_page()
    page.goto(f"{base}/console/sign-in")
    if who is not None:
        _sign_in(page, who, secrets_of)
    return page


def _sign_in(page: Any, who: str, secrets_of: Callable[[str], str | None]) -> None:
    staff_id = "enrol-demo" if who == "enrol" else who
    page.fill("#staff_id", staff_id)
    page.fill("#password", DEMO_DESK_PASSWORD)
    page.click("button[type=submit]")
    secret = secrets_of(staff_id)
    if secret is None:
        return  # left at the enrolment page
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")


@contextmanager
def _server(hierarchy: Path | None) -> Iterator[tuple[str, Callable[[str], str | None]]]:
    from linkserver.demo import prepare_demo
    from linkserver.server import build_server, serving

    with tempfile.TemporaryDirectory(prefix="console-screenshots-") as folder:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        setup = prepare_demo(Path(folder), hierarchy, issuer=base)
        server = build_server(setup.settings)
        known = {DEMO_DESK_ID: (Path(folder) / DEMO_DESK_TOTP_FILE).read_text("ascii").strip()}
        known.update(_seed(server))
        try:
            with serving(server.app, sock):
                yield base, known.get
        finally:
            server.parts.db.dispose()


def _seed(server: Any) -> dict[str, str]:
    """A supervisor and an auditor (TOTP enrolled), a member still to enrol, two requests waiting
    and two offline bundles; the TOTP keys back."""
    staff = server.console.staff
    keys = {}
    for staff_id, role in ((SUPERVISOR, "supervisor"), (AUDITOR, "auditor"), ("enrol-demo", "desk")):
        staff.add(staff_id, staff_id.replace("-", " ").title(), role, DEMO_DESK_PASSWORD, by="screenshots")
        if staff_id != "enrol-demo":
            keys[staff_id] = pyotp.random_base32()
            staff.enrol(staff_id, keys[staff_id], by="screenshots")
    staff.assign("enrol-demo", DEMO_COUNTER_ID, by="screenshots")
    now = dt.datetime.now(dt.UTC)
    with server.parts.db.transaction() as session:
        for minutes, kind, account in ((6, "password_reset", "2024000001"), (2, "mfa_reset", "2024000004")):
            verification_id, created = new_id("ver"), now - dt.timedelta(minutes=minutes)
            session.add(Verification(
                verification_id=verification_id, client_id=DEMO_KIOSK_ID, account_id=account,
                ppid=secrets.token_hex(16), matched=True, certificate_serial="1",
                certificate_not_after=now + dt.timedelta(days=900), created_at=created,
                expires_at=created + dt.timedelta(minutes=5), operation_id=None))
            session.add(Operation(
                operation_id=new_id("op"), client_id=DEMO_KIOSK_ID, idempotency_key=secrets.token_hex(8),
                request_digest="0" * 64, kind=kind, account_id=account, verification_id=verification_id,
                status="awaiting_approval", params={}, result={}, created_at=created, updated_at=created,
                # Kept alive for the screenshots' minute, as a waiting kiosk would keep it.
                last_seen_at=now + dt.timedelta(hours=1)))
        for fate, code, used in (("accepted", None, now), ("refused", "certificate_revoked", None)):
            session.add(OfflineEvidence(
                evidence_id=new_id("ev"), client_id=DEMO_KIOSK_ID, idempotency_key=secrets.token_hex(8),
                counter=None, bundle_digest=hashlib.sha256(secrets.token_bytes(8)).hexdigest(),
                received_at=now - dt.timedelta(hours=2), fate=fate, error_code=code, account_id="2024000005",
                kind="salvage", mode="backup", voucher_hash=None, voucher_used_at=used, voucher_shown=True))
    return keys
