"""What each account backend adds to the requests that use it: an approval, and a password set.

The reference server runs in this process on loopback (SQLite, the demo data), configured in turn
for each backend: the embedded default (the server's own tables), an LDAP directory (Debian's
slapd, started here with TLS and a password policy, as the tests start it), and the MFA and mail
backends where they are configured. For each it runs the same requests as a kiosk and a staff
client would, over HTTP with real card signatures, and times the two that reach the backend:

- approve: a staff approval of an MFA reset (the reset runs in the approval);
- password: the user's new password, after a password reset was approved.

It reports p50 and p99 of each (milliseconds), and the difference from the embedded default's
figure measured in the same run.

    .venv/bin/python bench/backends_bench.py [--runs N] [--only NAME,...] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kiosk.linkage import LinkageClient  # noqa: E402
from kiosk.nfc.sim import TestHierarchy  # noqa: E402
from tests.helpers.linkage_client import LINKED, ROOMY, card_verification, config_for  # noqa: E402
from tests.linkserver.helpers import LiveServer, live_server  # noqa: E402

#: A backend's settings for the server, made inside a folder of its own (its servers kept running
#: until the block ends).
Setup = Callable[[Path], contextlib.AbstractContextManager[dict[str, Any]]]


@contextlib.contextmanager
def embedded(_folder: Path) -> Iterator[dict[str, Any]]:
    yield {}


@contextlib.contextmanager
def ldap_directory(folder: Path) -> Iterator[dict[str, Any]]:
    from linkserver.config import LdapSettings
    from tests.helpers.slapd import PEOPLE, SERVICE_DN, started

    with started(folder / "slapd") as slapd:
        yield {"directory": LdapSettings(url=slapd.ldaps_url, ca_file=slapd.ca_file, bind_dn=SERVICE_DN,
                                         bind_password_file=slapd.folder / "service.password",
                                         base_dn=PEOPLE)}


SETUPS: dict[str, Setup] = {"embedded": embedded, "ldap": ldap_directory}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Row:
    backend: str
    runs: int
    approve_p50_ms: float
    approve_p99_ms: float
    password_p50_ms: float
    password_p99_ms: float
    approve_added_p50_ms: float = 0.0
    password_added_p50_ms: float = 0.0


def timed_approval(live: LiveServer, client: LinkageClient, staff: Any, kind: str) -> tuple[float, Any]:
    """Seconds the staff approval of a new ``kind`` operation took, and the operation."""
    verification = card_verification(live, client, "linked", LINKED)
    created = client.create_operation(kind, verification.verification_id, {}, uuid.uuid4().hex)
    started = time.perf_counter()
    answer = staff.post(live.url(f"/v1/staff/operations/{created.operation_id}/decision"),
                        json={"approve": True, "staff_id": "bench"})
    took = time.perf_counter() - started
    if answer.status_code != 200 or answer.json()["status"] not in ("approved", "completed"):
        raise SystemExit(f"the approval failed: {answer.status_code} {answer.text[:200]}")
    return took, created


def measure(name: str, setup: Setup, hierarchy: TestHierarchy, runs: int, folder: Path) -> Row:
    approvals: list[float] = []
    passwords: list[float] = []
    with setup(folder) as settings, \
            live_server(folder / "state", hierarchy, limits=ROOMY, settings=settings) as live, \
            LinkageClient(config_for(live)) as client, live.minted_staff() as staff:
        for _ in range(runs):
            took, _op = timed_approval(live, client, staff, "mfa_reset")
            approvals.append(took)
            _, created = timed_approval(live, client, staff, "password_reset")
            password = "Bench-" + secrets.token_urlsafe(12) + "-9a"
            started = time.perf_counter()
            done = client.set_password(created.operation_id, password, created.session_key or "")
            passwords.append(time.perf_counter() - started)
            if done.status != "completed":
                raise SystemExit(f"{name}: the password was not set ({done.status})")
    return Row(name, runs, *(round(1000 * percentile(values, share), 2)
                             for values in (approvals, passwords) for share in (0.5, 0.99)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="requests of each kind per backend (default 50)")
    parser.add_argument("--only", default=",".join(SETUPS),
                        help=f"backends to measure, of {', '.join(SETUPS)}")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    names = [name for name in args.only.split(",") if name]
    unknown = sorted(set(names) - set(SETUPS))
    if unknown:
        parser.error(f"no such backend: {', '.join(unknown)}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="backends-bench-") as temp:
        hierarchy = TestHierarchy.ensure()
        for name in names:
            rows.append(measure(name, SETUPS[name], hierarchy, args.runs, Path(temp) / name))
            print(f"measured {name}", file=sys.stderr)
    base = next((row for row in rows if row.backend == "embedded"), None)
    print(f"{'backend':<14}{'approve p50':>12}{'p99':>9}{'added':>9}"
          f"{'password p50':>14}{'p99':>9}{'added':>9}")
    for row in rows:
        if base is not None:
            row.approve_added_p50_ms = round(row.approve_p50_ms - base.approve_p50_ms, 2)
            row.password_added_p50_ms = round(row.password_p50_ms - base.password_p50_ms, 2)
        print(f"{row.backend:<14}{row.approve_p50_ms:>12.1f}{row.approve_p99_ms:>9.1f}"
              f"{row.approve_added_p50_ms:>+9.1f}{row.password_p50_ms:>14.1f}{row.password_p99_ms:>9.1f}"
              f"{row.password_added_p50_ms:>+9.1f}")
    print(f"(milliseconds; {args.runs} of each per backend; added: p50 minus the embedded default's)")
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
