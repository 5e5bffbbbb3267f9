"""The mail sender's time per notice, against aiosmtpd on loopback with STARTTLS and AUTH.

The demo's database (SQLite) gets N password-reset notices for the demo accounts, queued as the
server queues them; then the sender drains them (batches of ten over one connection each). For
each notice it measures the time from the start of its SMTP transaction to the commit that records
it sent; a batch's connection (TCP, STARTTLS, AUTH) and its claim are counted in the total.

    .venv/bin/python bench/mail_bench.py [--mails N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kiosk.nfc.sim import TestHierarchy  # noqa: E402
from linkserver.config import load_settings  # noqa: E402
from linkserver.db import Database  # noqa: E402
from linkserver.demo import DEMO_ACCOUNTS, DEMO_KIOSK_ID, prepare_demo  # noqa: E402
from linkserver.directory import SqlDirectory  # noqa: E402
from linkserver.mailer import Drained, Outcome, Sender  # noqa: E402
from linkserver.mailsettings import NotifierSettings  # noqa: E402
from linkserver.notifier import MailOutboxNotifier  # noqa: E402
from linkserver.service import utc_now  # noqa: E402
from tests.helpers.mailbox import USER, smtp_server  # noqa: E402


class TimedSender(Sender):
    """The sender, with the time from each mail's SMTP transaction to its recorded send."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started = 0.0
        self.per_mail: list[float] = []

    def _send_one(self, smtp: Any, row: Any) -> Outcome:
        self.started = time.perf_counter()
        return super()._send_one(smtp, row)

    def _record(self, model: Any, row_id: int, attempts: int, outcome: Outcome) -> Drained:
        drained = super()._record(model, row_id, attempts, outcome)
        self.per_mail.append(time.perf_counter() - self.started)
        return drained


def queue(db: Database, count: int) -> None:
    notifier = MailOutboxNotifier(domain="bench.example.ac.jp")
    with db.transaction() as session:
        accounts = [SqlDirectory().find(session, spec.account_id) for spec in DEMO_ACCOUNTS]
        for number in range(count):
            account = accounts[number % len(accounts)]
            assert account is not None
            notifier.notify(session, account, "password_reset", utc_now(), DEMO_KIOSK_ID)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(mails: int, folder: Path) -> dict[str, Any]:
    hierarchy = TestHierarchy.ensure(Path(tempfile.gettempdir()) / "kiosk-bench-jpki")
    settings = load_settings(prepare_demo(folder / "state", hierarchy.path).config_path)
    db = Database(settings.database_url)
    try:
        queue(db, mails)
        with smtp_server(folder / "smtp") as smtp:
            notifier = NotifierSettings(backend="smtp", host=smtp.host, port=smtp.port, ca_file=smtp.ca_file,
                                        username=USER, password_file=smtp.password_file,
                                        from_address="it-helpdesk@example.ac.jp", timeout_seconds=10)
            sender = TimedSender(db, notifier)
            started = time.perf_counter()
            drained = sender.run_once()
            total = time.perf_counter() - started
            delivered = len(smtp.mailbox.wait_for(mails))
    finally:
        db.dispose()
    if drained.sent != mails or delivered != mails:
        raise SystemExit(f"FAIL: {drained.sent} recorded sent, {delivered} delivered, of {mails}")
    per_mail = [seconds * 1000 for seconds in sender.per_mail]
    return {"mails": mails, "p50_ms": percentile(per_mail, 0.5), "p99_ms": percentile(per_mail, 0.99),
            "mean_ms": statistics.fmean(per_mail), "total_s": total, "mails_per_s": mails / total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mail-bench-") as folder:
        figures = run(args.mails, Path(folder))
    print(f"{figures['mails']} notices over SMTP (STARTTLS, AUTH) to aiosmtpd on loopback, SQLite outbox\n"
          f"  per notice (SMTP transaction to recorded send): p50 {figures['p50_ms']:.1f} ms, "
          f"p99 {figures['p99_ms']:.1f} ms, mean {figures['mean_ms']:.1f} ms\n"
          f"  all of them, with claims and one connection per batch of ten: {figures['total_s']:.2f} s "
          f"({figures['mails_per_s']:.0f} notices/s)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
