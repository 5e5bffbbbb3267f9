"""``kiosk-linkserver clients list|revoke|enable`` and ``register-kiosk --replace``, as an
administrator types them, against a live server: a revoked kiosk's token stops working at once,
each change is in the audit log, and re-keying a client keeps its scopes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from linkserver.cli import main
from linkserver.clientgate import CLIENT_GATE_SECONDS
from linkserver.models import AuditEntry, KioskClient
from tests.linkserver.helpers import LiveServer


def public_key_file(folder: Path) -> Path:
    path = folder / "new.pub.pem"
    path.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def client_events(live: LiveServer, client_id: str) -> list[tuple[str, dict[str, object]]]:
    with live.server.parts.db.transaction() as session:
        return [(entry.event, json.loads(entry.details)) for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.client_id == client_id,
                                     AuditEntry.event.like("client_%")).order_by(AuditEntry.seq))]


def challenge_status(live: LiveServer, http: object) -> int:
    answer = http.post(live.url("/v1/challenges"))  # type: ignore[attr-defined]
    return int(answer.status_code)


def status_after_the_gate(live: LiveServer, http: object) -> int:
    """The challenge's status once the gate rereads the revoked clients (every CLIENT_GATE_SECONDS
    of the server's clock)."""
    live.clock.advance(CLIENT_GATE_SECONDS)
    return challenge_status(live, http)


def test_a_revoked_kiosks_live_token_stops_working_and_enabling_restores_it(
        live: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(live.setup.config_path)
    kiosk = live.setup.kiosk_id
    with live.minted() as http:
        assert challenge_status(live, http) == 201
        assert main(["clients", "revoke", kiosk, "--config", config]) == 0
        assert "revoked" in capsys.readouterr().out
        assert status_after_the_gate(live, http) == 401
        answer = http.post(live.url("/v1/challenges"))
        assert answer.json()["error"] == "invalid_token"
        with pytest.raises(Exception, match="invalid_client"):
            live.kiosk().fetch_token()  # and no new token either
        assert main(["clients", "enable", kiosk, "--config", config]) == 0
        assert status_after_the_gate(live, http) == 201
    assert [event for event, _ in client_events(live, kiosk)][-2:] == ["client_revoked", "client_enabled"]
    assert main(["clients", "enable", kiosk, "--config", config]) == 0
    assert "already enabled" in capsys.readouterr().out


def test_the_list_shows_each_clients_state_and_scopes(live: LiveServer,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = str(live.setup.config_path)
    assert main(["clients", "revoke", live.setup.staff_id, "--config", config]) == 0
    capsys.readouterr()
    assert main(["clients", "list", "--config", config]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows[live.setup.kiosk_id][0] == "enabled" and rows[live.setup.kiosk_id][-3:] == [
        "verify", "operate", "offline"]
    assert rows[live.setup.staff_id][0] == "REVOKED" and rows[live.setup.staff_id][-1] == "staff"


def test_an_unknown_client_or_a_missing_id_is_said(live: LiveServer,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = str(live.setup.config_path)
    assert main(["clients", "revoke", "kiosk-nowhere", "--config", config]) == 1
    assert "no client 'kiosk-nowhere'" in capsys.readouterr().err
    assert main(["clients", "revoke", "--config", config]) == 2
    assert "needs the client's ID" in capsys.readouterr().err


def test_re_keying_a_client_keeps_its_scopes_unless_new_ones_are_given(
        live: LiveServer, tmp_path: Path) -> None:
    config = str(live.setup.config_path)
    staff = live.setup.staff_id
    assert main(["register-kiosk", "--config", config, "--client-id", staff, "--public-key",
                 str(public_key_file(tmp_path)), "--replace"]) == 0
    with live.server.parts.db.transaction() as session:
        client = session.get(KioskClient, staff)
        assert client is not None and client.scopes == "staff"
    assert main(["register-kiosk", "--config", config, "--client-id", staff, "--public-key",
                 str(public_key_file(tmp_path)), "--replace", "--scope", "verify"]) == 0
    with live.server.parts.db.transaction() as session:
        client = session.get(KioskClient, staff)
        assert client is not None and client.scopes == "verify"
    assert client_events(live, staff)[-1] == ("client_registered", {"scopes": ["verify"], "replaced": True})
