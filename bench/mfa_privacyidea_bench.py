"""What the ``privacyidea`` MFA backend adds to an approval: the time of one reset.

It starts privacyIDEA as the tests do (tests/helpers/privacyidea.py: gunicorn over TLS, SQLite, a
realm on its own slapd) and, for one user who holds one TOTP token before each reset (as a user
at the counter does), times ``PrivacyIdeaMfa.reset``: list the tokens, delete it, enrol a new
one. The admin's token is cached by the backend as in the server, so the first reset (which signs
in) is reported apart. Reports the median, the 99th percentile and the slowest.

    .venv/bin/python bench/mfa_privacyidea_bench.py [--resets N] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from linkserver.directory import AccountInfo
from linkserver.mfa_privacyidea import PrivacyIdeaMfa
from tests.helpers import privacyidea as pi
from tests.helpers.slapd import account_tables

USER = "2025000003"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(resets: int, folder: Path) -> dict[str, float | int]:
    times = []
    with pi.running_privacyidea(folder) as server, account_tables() as session:
        settings = argparse.Namespace(url=server.url, ca_file=server.ca_file, admin_user=pi.ADMIN,
                                      admin_password_file=server.admin_password_file, realm=pi.REALM,
                                      timeout_seconds=10)
        backend = PrivacyIdeaMfa(settings)
        account = AccountInfo(account_id=USER, display_name="鈴木 次郎", email="", status="active",
                              left_at=None, mfa_methods=1)
        server.enrol_totp(USER)
        for _ in range(resets + 1):
            start = time.perf_counter()
            enrolment = backend.reset(session, account, dt.datetime.now(dt.UTC))
            times.append(time.perf_counter() - start)
            assert enrolment.cleared == 1, enrolment.cleared
    first, rest = times[0], times[1:]
    return {"resets": len(rest), "first_with_login_ms": round(first * 1000, 1),
            "p50_ms": round(statistics.median(rest) * 1000, 1),
            "p99_ms": round(percentile(rest, 0.99) * 1000, 1), "max_ms": round(max(rest) * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resets", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not pi.installed():
        print(pi.SETUP_HOWTO, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pi-bench-") as folder:
        figures = run(args.resets, Path(folder))
    for name, value in figures.items():
        print(f"{name:>20}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
