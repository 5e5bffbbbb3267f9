"""Refused client assertions over HTTP: each audited, and too many answered 429 per client and per address."""

from __future__ import annotations

from pathlib import Path

import httpx2
from joserfc.jwk import ECKey
from sqlalchemy import select

from kiosk.nfc.sim import TestHierarchy
from linkserver.config import Limits
from linkserver.models import AuditEntry
from tests.helpers.server_api import ASSERTION_TYPE, assertion
from tests.linkserver.helpers import LiveServer, live_server

FAILURES = 3


def token_from(live: LiveServer, address: str, client_assertion: str) -> httpx2.Response:
    """A token request sent from ``address`` (any 127.x.y.z reaches the server on loopback)."""
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion}
    with httpx2.Client(transport=httpx2.HTTPTransport(local_address=address), timeout=30) as client:
        return client.post(live.setup.settings.token_url, data=form)


def refusals(live: LiveServer) -> list[str]:
    with live.server.parts.db.transaction() as session:
        return list(session.scalars(select(AuditEntry.details).where(AuditEntry.event == "client_refused")
                                    .order_by(AuditEntry.seq)))


def test_a_refused_assertion_is_audited(live: LiveServer) -> None:
    forged = token_from(live, "127.0.0.1", assertion(live, key=ECKey.generate_key("P-256")))
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_client"
    unknown = token_from(live, "127.0.0.1", assertion(live, client_id="kiosk-nobody"))
    assert unknown.status_code == 401
    rows = refusals(live)
    assert len(rows) == 2
    assert live.setup.kiosk_id in rows[0] and "kiosk-nobody" in rows[1]


def test_failed_assertions_for_one_client_are_limited(tmp_path: Path, hierarchy: TestHierarchy,
                                                      database_url: str) -> None:
    with live_server(tmp_path / "s", hierarchy, database_url,
                     limits=Limits(failed_client_assertions_per_minute=FAILURES)) as live:
        # Each from another address, so only the client's own count can refuse them.
        codes = [token_from(live, f"127.0.0.{10 + i}", assertion(live, key=ECKey.generate_key("P-256")))
                 for i in range(FAILURES + 1)]
        assert [c.status_code for c in codes] == [401] * FAILURES + [429]
        assert codes[-1].json()["error"] == "rate_limited"
        assert int(codes[-1].headers["retry-after"]) >= 1
        # The kiosk holding the key is not locked out by someone else's forgeries.
        assert token_from(live, "127.0.0.30", assertion(live)).status_code == 200


def test_failed_assertions_from_one_address_are_limited(tmp_path: Path, hierarchy: TestHierarchy,
                                                        database_url: str) -> None:
    with live_server(tmp_path / "s", hierarchy, database_url,
                     limits=Limits(failed_client_assertions_per_minute=FAILURES)) as live:
        codes = [token_from(live, "127.0.0.40", assertion(live, client_id=f"kiosk-guess-{i}")).status_code
                 for i in range(FAILURES + 2)]
        assert codes == [401] * FAILURES + [429, 429]
        blocked = token_from(live, "127.0.0.40", assertion(live))
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        assert token_from(live, "127.0.0.41", assertion(live)).status_code == 200
