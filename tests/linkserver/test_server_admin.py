"""The server as administrators meet it: commands, configuration, audit chain, limits and logs."""

from __future__ import annotations

import gc
import re
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

import httpx2
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import delete, select, update

from kiosk.nfc import JpkiSession
from kiosk.nfc.sim import CardProfile, SimulatedCard, TestHierarchy
from linkserver import audit, signed_message
from linkserver.admin import check_audit, load_renewals
from linkserver.cli import main
from linkserver.config import ConfigError, Limits, load_settings
from linkserver.db import Database
from linkserver.demo import prepare_demo
from linkserver.models import AuditEntry, KioskClient, Renewal
from linkserver.server import app_to_serve, build_server
from linkserver.tokens import Caller
from tests.helpers.server_api import LINKED, NEW_PASSWORD, decide, revealed, send_password, verified
from tests.linkserver.helpers import (
    LiveServer,
    b64,
    demo_command,
    live_server,
    oauth_client,
    verify_with_card,
)

# -- the audit chain ------------------------------------------------------------------------------


def _some_history(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    op = live.operation(kiosk, "unlink", verified(live, kiosk)).json()["operation_id"]
    decide(live, staff, op)
    live.verify(kiosk, "revoked", "2024000007")


def test_the_audit_chain_verifies_and_the_command_says_so(live: LiveServer,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _some_history(live)
    report = check_audit(live.server.parts.db)
    assert report.ok and report.entries >= 8
    assert main(["check-audit", "--config", str(live.setup.config_path)]) == 0
    assert f"intact: {report.entries} entries" in capsys.readouterr().out


@pytest.mark.parametrize("tamper", ["edit", "delete", "retime"])
def test_a_tampered_audit_chain_is_detected(live: LiveServer, tamper: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _some_history(live)
    with live.server.parts.db.transaction() as session:
        target = session.scalars(select(AuditEntry).order_by(AuditEntry.seq).offset(3).limit(1)).one()
        seq = target.seq
        if tamper == "edit":
            session.execute(update(AuditEntry).where(AuditEntry.seq == seq)
                            .values(details=target.details.replace("true", "false") + " "))
        elif tamper == "delete":
            session.execute(delete(AuditEntry).where(AuditEntry.seq == seq))
        else:
            moved = target.at.replace(year=2020)
            session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(at=moved))
    report = check_audit(live.server.parts.db)
    assert not report.ok
    assert report.broken_at in (seq, seq + 1)
    assert main(["check-audit", "--config", str(live.setup.config_path)]) == 3
    assert "BROKEN" in capsys.readouterr().out


def test_the_audit_log_refuses_secret_fields(live: LiveServer) -> None:
    with live.server.parts.db.transaction() as session, pytest.raises(ValueError, match="password"):
        audit.append(session, "oops", details={"password": "hunter2hunter2"})


# -- commands -------------------------------------------------------------------------------------


def test_register_kiosk_from_a_public_key(live: LiveServer, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path / "kiosk.pub.pem"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    config = str(live.setup.config_path)
    assert main(["register-kiosk", "--config", config, "--client-id", "kiosk-komaba-03",
                 "--public-key", str(public), "--scope", "verify"]) == 0
    assert "registered kiosk-komaba-03 with scopes: verify" in capsys.readouterr().out
    with live.server.parts.db.transaction() as session:
        client = session.get(KioskClient, "kiosk-komaba-03")
        assert client is not None and client.public_jwk["kty"] == "RSA" and client.scopes == "verify"
    assert main(["register-kiosk", "--config", config, "--client-id", "kiosk-komaba-03",
                 "--public-key", str(public)]) == 1
    assert "already registered" in capsys.readouterr().err
    small = tmp_path / "small.pem"
    small.write_bytes(ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert main(["register-kiosk", "--config", config, "--client-id", "kiosk-x",
                 "--public-key", str(small)]) == 1
    assert "EC P-256" in capsys.readouterr().err


def test_import_renewals_merges_and_refuses_cycles(live: LiveServer, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = str(live.setup.config_path)
    pairs = tmp_path / "renewals.csv"
    pairs.write_text("old_serial,new_serial\n1001,1002\n1002,1003\n", "utf-8")
    assert main(["import-renewals", "--config", config, str(pairs)]) == 0
    assert "imported 2 new renewal pair(s)" in capsys.readouterr().out
    assert main(["import-renewals", "--config", config, str(pairs)]) == 0
    assert "imported 0 new" in capsys.readouterr().out
    cycle = tmp_path / "cycle.csv"
    cycle.write_text("old_serial,new_serial\n1003,1001\n", "utf-8")
    assert main(["import-renewals", "--config", config, str(cycle)]) == 1
    assert "cycle" in capsys.readouterr().err
    with live.server.parts.db.transaction() as session:
        assert load_renewals(session).first_serial(1003) == 1001


def test_a_renewal_imported_later_keeps_the_link(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    """Without the renewal pair the renewed card is a stranger to its account; after the import it matches."""
    setup = prepare_demo(tmp_path / "state", hierarchy.path)
    db = Database(setup.settings.database_url)
    with db.transaction() as session:
        session.execute(delete(Renewal))
    db.dispose()

    def renewed_card_matches() -> bool:
        server = build_server(setup.settings)
        try:
            caller = Caller(setup.kiosk_id, frozenset({"verify"}))
            nonce = server.verification.new_challenge(caller).nonce
            card = SimulatedCard(CardProfile.from_holder(hierarchy, "linked"))
            session = JpkiSession(card)
            session.verify_pin(card.profile.pin)
            signature = session.sign_sha256(signed_message(nonce, setup.kiosk_id, LINKED))
            cert = card.profile.auth_cert_der
            return server.verification.verify(caller, LINKED, nonce, cert, signature).match
        finally:
            server.parts.db.dispose()

    assert renewed_card_matches() is False
    renewals = str(hierarchy.path / "renewals.csv")
    assert main(["import-renewals", "--config", str(setup.config_path), renewals]) == 0
    assert renewed_card_matches() is True


# -- configuration -------------------------------------------------------------------------------


def _config(tmp_path: Path, hierarchy: TestHierarchy) -> Path:
    return prepare_demo(tmp_path / "cfg", hierarchy.path).config_path


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace('issuer = "http://127.0.0.1:8470"\n', ""), "server.issuer is missing"),
    (lambda t: t + "\n[limits]\nkiosk_requests_per_minute = \"many\"\n",
     "limits.kiosk_requests_per_minute must be an integer"),
    (lambda t: t + "\n[limits]\nkiosk_request_per_minute = 10\n",
     "limits.kiosk_request_per_minute is not a known"),
    (lambda t: t.replace('ppid_secret_file = "ppid.secret"', 'ppid_secret_file = "nowhere.secret"'),
     "secrets.ppid_secret_file names"),
    (lambda t: t.replace('audit_key_file = "audit.key"\n', ""), "secrets.audit_key_file is missing"),
    (lambda t: t + "\n[audit]\ncheckpoint_file = \"nowhere/checkpoints.jsonl\"\n",
     "audit.checkpoint_file names"),
    (lambda t: t + "\n[audit]\ncheckpoint_every = 0\n", "audit.checkpoint_every must be between"),
    (lambda t: t + "\n[polcy]\n", "[polcy] is not a known table"),
    (lambda t: t + "\n[policy]\npassword_min_length = 4\n", "policy.password_min_length must be between"),
    (lambda t: t.replace("[server]", "[server"), "not valid TOML"),
])
def test_a_wrong_setting_names_the_key_and_the_file(tmp_path: Path, hierarchy: TestHierarchy,
                                                    change: object, message: str) -> None:
    config = _config(tmp_path, hierarchy)
    config.write_text(change(config.read_text("utf-8")), "utf-8")  # type: ignore[operator]
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert message in str(raised.value)
    assert str(config) in str(raised.value)


def test_a_short_audit_key_is_refused_naming_the_key_and_the_file(tmp_path: Path,
                                                                 hierarchy: TestHierarchy) -> None:
    config = _config(tmp_path, hierarchy)
    (config.parent / "audit.key").write_text("too short")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    said = str(raised.value)
    assert "secrets.audit_key_file names" in said and "fewer than the 32 needed" in said
    assert str(config) in str(raised.value)


def test_the_command_reports_a_bad_configuration_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    result = subprocess.run([sys.executable, "-m", "linkserver.cli", "--config", str(missing)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{missing}: no such configuration file" in result.stderr
    assert "Traceback" not in result.stderr


# -- limits ---------------------------------------------------------------------------------------


def test_a_kiosk_over_its_rate_is_told_when_to_retry(tmp_path: Path, hierarchy: TestHierarchy,
                                                     database_url: str) -> None:
    with live_server(tmp_path / "s", hierarchy, database_url,
                     limits=Limits(kiosk_requests_per_minute=4)) as live:
        kiosk = live.minted()
        answers = [kiosk.post(live.url("/v1/challenges")) for _ in range(6)]
        assert [a.status_code for a in answers[:4]] == [201] * 4
        assert answers[4].status_code == 429
        assert answers[4].json()["error"] == "rate_limited"
        assert int(answers[4].headers["retry-after"]) >= 1


def test_verifications_for_one_account_are_limited(tmp_path: Path, hierarchy: TestHierarchy,
                                                   database_url: str) -> None:
    with live_server(tmp_path / "s", hierarchy, database_url,
                     limits=Limits(account_verifications_per_hour=2)) as live:
        kiosk = live.minted()
        codes = [live.verify(kiosk, "linked", LINKED).status_code for _ in range(2)]
        # Junk naming the account (a nonce never issued) does not use up its verifications.
        junk = live.verify(kiosk, "linked", LINKED, nonce=b64(b"n" * 32))
        assert (junk.status_code, junk.json()["error"]) == (403, "unknown_nonce")
        nonce = live.challenge(kiosk)
        certificate, signature = live.sign("linked", nonce, LINKED)
        body = {"account_id": LINKED, "nonce": b64(nonce), "certificate": b64(certificate),
                "signature": b64(signature)}
        third = kiosk.post(live.url("/v1/verifications"), json=body)
        assert [*codes, third.status_code] == [200, 200, 429]
        assert third.json()["error"] == "rate_limited"
        again = kiosk.post(live.url("/v1/verifications"), json=body)  # the refused attempt used its nonce up
        assert (again.status_code, again.json()["error"]) == (403, "replayed_nonce")
        assert live.verify(kiosk, "unlinked", "2024000002").status_code == 200  # another account


def test_every_verification_request_counts_against_the_kiosk(tmp_path: Path, hierarchy: TestHierarchy,
                                                             database_url: str) -> None:
    """Challenges and verifications, answered or refused, all count; a refused request changes nothing."""
    with live_server(tmp_path / "s", hierarchy, database_url,
                     limits=Limits(kiosk_requests_per_minute=5)) as live:
        kiosk = live.minted()
        assert live.verify(kiosk, "linked", LINKED).status_code == 200  # requests 1 and 2
        nonce = live.challenge(kiosk)  # 3
        certificate, signature = live.sign("linked", nonce, LINKED)
        body = {"account_id": LINKED, "nonce": b64(nonce), "certificate": b64(certificate),
                "signature": b64(signature)}
        refused = kiosk.post(live.url("/v1/verifications"), json={**body, "signature": b64(b"x" * 256)})  # 4
        assert (refused.status_code, refused.json()["error"]) == (403, "bad_signature")
        unknown = kiosk.post(live.url("/v1/verifications"), json={**body, "nonce": b64(b"n" * 32)})  # 5
        assert unknown.json()["error"] == "unknown_nonce"
        over = kiosk.post(live.url("/v1/verifications"), json=body)  # 6: over the limit
        assert (over.status_code, over.json()["error"]) == (429, "rate_limited")
        assert kiosk.post(live.url("/v1/challenges")).status_code == 429
        db = Database(database_url)
        try:
            with db.transaction() as session:
                events = session.scalars(select(AuditEntry.event).order_by(AuditEntry.seq)).all()
        finally:
            db.dispose()
        assert events.count("verification_refused") == 2 and events.count("verification") == 1


def test_a_large_body_is_refused_before_it_is_read(live: LiveServer) -> None:
    kiosk = live.minted()
    big = {"account_id": LINKED, "nonce": "A" * 43, "certificate": "A" * 70_000, "signature": "A" * 342}
    answer = kiosk.post(live.url("/v1/verifications"), json=big)
    assert answer.status_code == 413
    assert answer.json()["error"] == "request_too_large"

    def chunks() -> object:
        for _ in range(20):
            yield b"x" * 8192

    streamed = kiosk.post(live.url("/v1/verifications"), content=chunks(),  # type: ignore[arg-type]
                          headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


# -- logs -------------------------------------------------------------------------------------------


def test_no_secret_reaches_the_logs(live: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(1)
    kiosk, staff = live.kiosk(), live.staff()
    verification = live.verify(kiosk, "linked", LINKED).json()["verification_id"]
    created = live.operation(kiosk, "password_reset", verification)
    decide(live, staff, created.json()["operation_id"])
    send_password(live, kiosk, created, NEW_PASSWORD)
    mfa = live.operation(kiosk, "mfa_reset", live.verify(kiosk, "linked", LINKED).json()["verification_id"])
    decide(live, staff, mfa.json()["operation_id"])
    code = revealed(live, kiosk, mfa)["result"]["enrolment_code"]
    kiosk.post(live.url("/v1/verifications"), json={"account_id": LINKED, "nonce": "B" * 43,
                                                     "certificate": b64(b"x" * 10), "signature": "ZZZZ"})
    secrets_seen = [NEW_PASSWORD, code, kiosk.token["access_token"], staff.token["access_token"],
                    live.setup.settings.ppid_secret_file.read_text().strip()]
    text = "\n".join(record.getMessage() + " " + str(record.args) for record in caplog.records)
    assert "POST /v1/operations/{operation_id}/password 200" in text  # the request log is there
    for secret in secrets_seen:
        assert secret not in text


# -- the demo command ----------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_the_demo_command_serves_cards_from_the_simulators_hierarchy(tmp_path: Path, hierarchy: TestHierarchy,
                                                                    workers: int) -> None:
    with demo_command(tmp_path / "demo", hierarchy, "--workers", str(workers)) as (base, output):
        spec = httpx2.get(base + "/openapi.json").json()
        assert spec["info"]["title"] == "My Number Card linkage server"
        assert "/v1/verifications" in spec["paths"]
        setup_text = "".join(output)
        assert "kiosk-demo-01" in setup_text and "2024000001" in setup_text
        assert_desk_signs_in(base, setup_text)
        client = oauth_client("kiosk-demo-01", tmp_path / "demo" / "kiosk-demo.pem", base + "/oauth/token")
        for _ in range(3):  # with two workers, both serve some of these
            answer = verify_with_card(client, base, hierarchy, "kiosk-demo-01", "linked", LINKED)
            assert answer.status_code == 200 and answer.json()["match"] is True
    # Each worker checkpointed the audit chain's head as it stopped: nothing can be cut off unseen.
    checkpoints = (tmp_path / "demo" / "audit-checkpoints.jsonl").read_text("ascii").split()
    assert len(checkpoints) >= workers
    assert main(["check-audit", "--config", str(tmp_path / "demo" / "linkserver.toml")]) == 0


def assert_desk_signs_in(base: str, printed: str) -> None:
    """The demo's desk member signs in at the console with what the demo printed."""
    found = re.search(r"staff console (\S+) as (\S+) \(password (\S+)\),\s+TOTP key ([A-Z2-7]+)", printed)
    assert found is not None, printed
    console, staff_id, password, secret = found.groups()
    assert console == base + "/console/"
    with httpx2.Client(base_url=base, timeout=30) as browser:
        csrf = re.findall(r'name="csrf" value="([^"]+)"', browser.get("/console/sign-in").text)[0]
        browser.post("/console/sign-in", data={"csrf": csrf, "staff_id": staff_id, "password": password})
        csrf = re.findall(r'name="csrf" value="([^"]+)"', browser.get("/console/second-factor").text)[0]
        code = pyotp.TOTP(secret).now()
        signed_in = browser.post("/console/second-factor", data={"csrf": csrf, "code": code})
        assert signed_in.headers["location"] == "/console/"
        assert "Demo Desk" in browser.get("/console/").text


def test_the_example_configuration_documents_every_default(tmp_path: Path, hierarchy: TestHierarchy) -> None:
    from linkserver.config import AuditSettings, Lifetimes, Policy

    example = Path(__file__).parents[2] / "linkserver" / "linkserver.example.toml"
    config = tmp_path / "linkserver.toml"
    config.write_text(example.read_text("utf-8"), "utf-8")
    demo = prepare_demo(tmp_path / "demo", hierarchy.path).config_path.parent
    (tmp_path / "jpki").mkdir()
    (tmp_path / "secrets").mkdir()
    for generation in ("2015", "2019", "2023"):
        shutil.copy(hierarchy.path / "ca" / f"auth-{generation}.pem", tmp_path / "jpki")
        shutil.copy(demo / f"auth-{generation}.crl", tmp_path / "jpki")
    for name in ("ppid.secret", "token-signing.pem", "sealing.pem", "audit.key"):
        shutil.copy(demo / name, tmp_path / "secrets" / name)
    settings = load_settings(config)
    assert settings.limits == Limits()
    assert settings.lifetimes == Lifetimes()
    assert settings.policy == Policy()
    assert settings.database_url == f"sqlite:///{tmp_path / 'linkserver.db'}"
    assert settings.audit == AuditSettings(tmp_path / "secrets" / "audit.key",
                                           tmp_path / "audit-checkpoints.jsonl")


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_served_app_keeps_what_it_built_out_of_full_collections_and_no_garbage(
        tmp_path: Path, hierarchy: TestHierarchy) -> None:
    setup = prepare_demo(tmp_path / "state", hierarchy.path)
    garbage = weakref.ref(_Cycle())  # unreachable, but only a collection frees a cycle
    assert garbage() is not None
    frozen_before = gc.get_freeze_count()
    try:
        assert app_to_serve(setup.settings).routes
        assert gc.get_freeze_count() > frozen_before + 10_000  # the app and the modules it built
        assert garbage() is None  # collected first, not frozen along
    finally:
        gc.unfreeze()
