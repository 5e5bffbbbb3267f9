"""Staff console latency: a kiosk's request to the console showing it, and staff's click to the kiosk.

The reference server runs in this process on loopback (SQLite, the demo data, the kiosk at a
counter with a desk member), Debian's Chromium (Playwright) holds the console's queue open, signed
in as that member, and a kiosk (the linkage client, in a thread) asks for an MFA reset with a real
card verification and waits on its long-poll. For each request it measures:

- request → console: from the kiosk's request being answered to the request's entry in the page
  (the live queue: server-sent event, fetch, redraw);
- click → kiosk: from the click on Approve to the kiosk's wait returning with the decision (what
  puts the next screen up).

It reports each as p50 and p99 over the runs, and the clicks each approval took.

    .venv/bin/python bench/console_bench.py [--runs N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pyotp
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kiosk.linkage import LinkageClient  # noqa: E402
from kiosk.nfc.sim import TestHierarchy  # noqa: E402
from tests.helpers.linkage_client import LINKED, ROOMY, card_verification, config_for  # noqa: E402
from tests.linkserver.helpers import LiveServer, live_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "console bench passphrase"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def sign_in(page: Page, live: LiveServer) -> None:
    page.goto(live.url("/console/sign-in?lang=en"))
    page.fill("#staff_id", "bench-desk")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    secret = page.locator("code.secret").inner_text()
    page.fill("#code", pyotp.TOTP(secret).at(live.clock()))
    page.click("main button[type=submit]")
    page.wait_for_selector("#queue")


def one_run(page: Page, live: LiveServer, client: LinkageClient) -> tuple[float, float, int]:
    """The two latencies of one request (seconds), and the clicks its approval took."""
    verification = card_verification(live, client, "linked", LINKED)
    created = client.create_operation("mfa_reset", verification.verification_id, {}, uuid.uuid4().hex)
    asked = time.perf_counter()
    assert created.session_key is not None
    decided: list[float] = []

    def wait() -> None:
        answer = client.wait_for_decision(created.operation_id, created.session_key or "",
                                          cancel=threading.Event(), timeout=60)
        assert answer.status == "completed", answer.status
        decided.append(time.perf_counter())

    kiosk = threading.Thread(target=wait)
    kiosk.start()
    entry = page.wait_for_selector(f"#op-{created.operation_id}", timeout=30_000)
    shown = time.perf_counter()
    assert entry is not None
    button = page.locator(f"#op-{created.operation_id}").locator("xpath=..").get_by_role("button",
                                                                                       name="Approve")
    clicked = time.perf_counter()
    button.click()
    kiosk.join(60)
    page.wait_for_selector(f"#op-{created.operation_id}", state="detached", timeout=30_000)
    return shown - asked, decided[0] - clicked, 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as folder:
        hierarchy = TestHierarchy.ensure()
        with live_server(Path(folder) / "state", hierarchy, limits=ROOMY) as live, \
                LinkageClient(config_for(live)) as client, sync_playwright() as playwright:
            staff = live.server.console.staff
            staff.add_counter("bench", "Bench counter")
            staff.place_kiosk(live.setup.kiosk_id, "bench")
            staff.add("bench-desk", "Bench Desk", "desk", PASSWORD)
            staff.assign("bench-desk", "bench")
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--headless=new", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            sign_in(page, live)
            runs = [one_run(page, live, client) for _ in range(args.runs)]
            browser.close()
    appear, decide = [r[0] * 1000 for r in runs], [r[1] * 1000 for r in runs]
    report = {
        "runs": len(runs),
        "request_to_console_ms": {"p50": percentile(appear, 0.5), "p99": percentile(appear, 0.99),
                                  "mean": statistics.fmean(appear)},
        "click_to_kiosk_ms": {"p50": percentile(decide, 0.5), "p99": percentile(decide, 0.99),
                              "mean": statistics.fmean(decide)},
        "clicks_per_approval": max(r[2] for r in runs),
    }
    print(f"{len(runs)} requests at one counter, one desk member, SQLite, one worker")
    for name, label in (("request_to_console_ms", "request → console"),
                        ("click_to_kiosk_ms", "click → kiosk")):
        figures = report[name]
        assert isinstance(figures, dict)
        print(f"  {label:18} p50 {figures['p50']:7.1f} ms   p99 {figures['p99']:7.1f} ms")
    print(f"  clicks per approval: {report['clicks_per_approval']} "
          "(a refusal: pick the reason, then one click)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
