"""Client authentication, challenges and card verification over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import inspect
import secrets
from typing import Any

import httpx2
import pytest
from joserfc.jwk import ECKey
from sqlalchemy import event, select

from linkserver.config import Limits
from linkserver.models import Challenge, Verification
from tests.helpers.server_api import ASSERTION_TYPE, assertion, claim, second_kiosk
from tests.linkserver.helpers import LiveServer, b64, live_server, unb64

LINKED_ACCOUNT = "2024000001"


def token_request(live: LiveServer, client_assertion: str, **extra: str) -> httpx2.Response:
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion, **extra}
    return httpx2.post(live.setup.settings.token_url, data=form)


# -- client authentication ----------------------------------------------------------------------


def test_a_registered_kiosk_gets_a_short_lived_token_with_its_scopes(live: LiveServer) -> None:
    answer = token_request(live, assertion(live))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert set(body["scope"].split()) == {"verify", "operate", "offline"}
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("case", ["replayed", "long_lived", "unknown_client", "wrong_key", "wrong_audience",
                                  "not_a_jwt", "wrong_type"])
def test_client_authentication_refusals(live: LiveServer, case: str) -> None:
    extra: dict[str, str] = {}
    if case == "replayed":
        value = assertion(live)
        assert token_request(live, value).status_code == 200
    elif case == "long_lived":
        value = assertion(live, expires_in=3600)  # authlib's default lifetime
    elif case == "unknown_client":
        value = assertion(live, client_id="kiosk-nobody")
    elif case == "wrong_key":
        value = assertion(live, key=ECKey.generate_key("P-256"))
    elif case == "wrong_audience":
        value = assertion(live, claims={"aud": "https://elsewhere.example/token"})
    elif case == "not_a_jwt":
        value = "not.a.jwt"
    else:
        value = assertion(live)
        extra["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
    answer = token_request(live, value, **extra)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_a_client_cannot_ask_for_scopes_it_was_not_given(live: LiveServer) -> None:
    answer = token_request(live, assertion(live), scope="verify staff")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"


def test_an_unknown_grant_type_is_an_oauth_error(live: LiveServer) -> None:
    answer = httpx2.post(live.setup.settings.token_url, data={"grant_type": "password"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic a2lvc2s6c2VjcmV0"])
def test_api_calls_need_a_valid_access_token(live: LiveServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = httpx2.post(live.url("/v1/challenges"), headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_an_access_token_expires(live: LiveServer) -> None:
    kiosk = live.kiosk()
    token = kiosk.token["access_token"]
    live.clock.advance(310)  # past the lifetime and the 5 s leeway
    answer = httpx2.post(live.url("/v1/challenges"), headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_scopes_separate_kiosks_from_staff(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    assert staff.post(live.url("/v1/challenges")).json()["error"] == "insufficient_scope"
    answer = kiosk.get(live.url("/v1/staff/operations"))
    assert answer.status_code == 403
    assert answer.json()["error"] == "insufficient_scope"


# -- challenges and nonces ------------------------------------------------------------------------


def test_a_challenge_is_32_random_bytes_stored_for_the_kiosk(live: LiveServer) -> None:
    kiosk = live.kiosk()
    nonces = {live.challenge(kiosk) for _ in range(5)}
    assert len(nonces) == 5
    assert all(len(n) == 32 for n in nonces)
    with live.server.parts.db.transaction() as session:
        rows = session.scalars(select(Challenge).where(Challenge.nonce.in_(nonces))).all()
    assert {r.client_id for r in rows} == {live.setup.kiosk_id}
    assert all(r.expires_at > r.created_at for r in rows)


def test_a_nonce_works_once(live: LiveServer) -> None:
    kiosk = live.kiosk()
    nonce = live.challenge(kiosk)
    cert, signature = live.sign("linked", nonce, LINKED_ACCOUNT)
    body = claim(LINKED_ACCOUNT, nonce, cert, signature)
    assert kiosk.post(live.url("/v1/verifications"), json=body).status_code == 200
    again = kiosk.post(live.url("/v1/verifications"), json=body)
    assert again.status_code == 403
    assert again.json()["error"] == "replayed_nonce"


def test_a_refused_attempt_still_uses_up_the_nonce(live: LiveServer) -> None:
    kiosk = live.kiosk()
    nonce = live.challenge(kiosk)
    cert, signature = live.sign("linked", nonce, "2024000002")  # signed for another claim
    body = claim(LINKED_ACCOUNT, nonce, cert, signature)
    assert kiosk.post(live.url("/v1/verifications"), json=body).json()["error"] == "bad_signature"
    cert, signature = live.sign("linked", nonce, LINKED_ACCOUNT)
    body.update(signature=b64(signature))
    assert kiosk.post(live.url("/v1/verifications"), json=body).json()["error"] == "replayed_nonce"


def test_another_kiosks_nonce_is_refused(live: LiveServer, tmp_path: Any) -> None:
    kiosk, other = live.kiosk(), second_kiosk(live, tmp_path)
    nonce = live.challenge(other)
    cert, signature = live.sign("linked", nonce, LINKED_ACCOUNT)
    answer = kiosk.post(live.url("/v1/verifications"), json=claim(LINKED_ACCOUNT, nonce, cert, signature))
    assert answer.status_code == 403
    assert answer.json()["error"] == "foreign_nonce"


def test_an_expired_nonce_is_refused(live: LiveServer) -> None:
    kiosk = live.kiosk()
    nonce = live.challenge(kiosk)
    live.clock.advance(121)
    cert, signature = live.sign("linked", nonce, LINKED_ACCOUNT)
    answer = kiosk.post(live.url("/v1/verifications"), json=claim(LINKED_ACCOUNT, nonce, cert, signature))
    assert answer.json()["error"] == "expired_nonce"


def test_a_nonce_the_server_never_issued_is_refused(live: LiveServer) -> None:
    kiosk = live.kiosk()
    nonce = bytes(32)
    cert, signature = live.sign("linked", nonce, LINKED_ACCOUNT)
    answer = kiosk.post(live.url("/v1/verifications"), json=claim(LINKED_ACCOUNT, nonce, cert, signature))
    assert answer.json()["error"] == "unknown_nonce"


# -- the verification matrix ----------------------------------------------------------------------


@pytest.mark.parametrize(("holder", "account"), [
    ("linked", LINKED_ACCOUNT),       # the renewed card of the account's linked card
    ("linked-old", LINKED_ACCOUNT),   # the card the link was made with
    ("old-root", "2015000006"),       # a certificate under the 2015 root generation
    ("latin", "2019000003"),          # a former member, name in Latin letters
])
def test_a_linked_card_matches_its_account(live: LiveServer, holder: str, account: str) -> None:
    answer = live.verify(live.kiosk(), holder, account)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["match"] is True
    assert body["name_on_record"] == live.hierarchy.holder(holder).spec.name
    with live.server.parts.db.transaction() as session:
        stored = session.get(Verification, body["verification_id"])
        assert stored is not None and stored.matched and stored.account_id == account


@pytest.mark.parametrize(("holder", "code"), [
    ("expired", "expired"),
    ("not-yet-valid", "not_yet_valid"),
    ("revoked", "revoked"),
    ("foreign", "unknown_issuer"),
])
def test_each_refused_certificate_has_its_own_code(live: LiveServer, holder: str, code: str) -> None:
    answer = live.verify(live.kiosk(), holder, LINKED_ACCOUNT)
    assert answer.status_code == 403
    assert answer.json()["error"] == code


def test_a_malformed_certificate_is_refused(live: LiveServer) -> None:
    answer = live.verify(live.kiosk(), "linked", LINKED_ACCOUNT, certificate=b64(b"\x30\x03\x02\x01\x01"))
    assert answer.json()["error"] == "malformed_certificate"


def test_a_signature_over_another_message_is_refused(live: LiveServer) -> None:
    answer = live.verify(live.kiosk(), "linked", LINKED_ACCOUNT, signature=b64(bytes(256)))
    assert answer.json()["error"] == "bad_signature"


def test_a_signature_for_another_kiosk_is_refused(live: LiveServer) -> None:
    kiosk = live.kiosk()
    nonce = live.challenge(kiosk)
    cert, signature = live.sign("linked", nonce, LINKED_ACCOUNT, kiosk_id="kiosk-elsewhere")
    answer = kiosk.post(live.url("/v1/verifications"), json=claim(LINKED_ACCOUNT, nonce, cert, signature))
    assert answer.json()["error"] == "bad_signature"


def test_an_account_id_of_the_wrong_format_is_refused_before_any_work(live: LiveServer) -> None:
    answer = live.verify(live.kiosk(), "linked", "hanako")
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_account"


# -- claim-then-match ---------------------------------------------------------------------------------


def _statements(live: LiveServer) -> tuple[list[str], Any]:
    """The statements the server sends, by their keywords; the revoked-client gate's read (its own
    transaction, at most once a second, whatever the account) is left out."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "kiosk_clients.enabled IS" in statement:
            if seen and seen[-1].startswith("BEGIN"):
                seen.pop()  # SQLite's BEGIN IMMEDIATE of the gate's own transaction
            return
        seen.append(statement.split()[0] + " " + " ".join(w for w in statement.split() if w.isupper())[:200])

    return seen, record


def test_no_match_looks_the_same_whether_or_not_the_account_exists(live: LiveServer) -> None:
    """An account that does not exist gets the same answer and costs the same database work."""
    kiosk = live.kiosk()
    engine = live.server.parts.db.engine
    answers, traces = [], []
    for account in ("2024000002", "2099999999"):  # exists and not linked to this card; does not exist
        seen, record = _statements(live)
        event.listen(engine, "before_cursor_execute", record)
        try:
            answers.append(live.verify(kiosk, "linked", account))
        finally:
            event.remove(engine, "before_cursor_execute", record)
        traces.append(seen)
    exists, missing = (a.json() for a in answers)
    assert answers[0].status_code == answers[1].status_code == 200
    assert exists.keys() == missing.keys()
    assert exists["match"] is missing["match"] is False
    assert exists["name_on_record"] is missing["name_on_record"] is None
    assert traces[0] == traces[1]


def test_a_verification_takes_the_audit_lock_once_with_its_last_write(live: LiveServer) -> None:
    """On PostgreSQL the statement that stores the verification locks and reads the audit chain's
    head, and the commit's seal neither locks nor reads it again: it adds the entry and moves the
    head in one statement. SQLite's write lock is the chain's lock there."""
    kiosk = live.kiosk()
    engine = live.server.parts.db.engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = live.verify(kiosk, "linked", LINKED_ACCOUNT)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert answer.status_code == 200 and answer.json()["match"] is True
    locking = [i for i, statement in enumerate(seen) if "FOR UPDATE" in statement]
    head_read = [i for i, statement in enumerate(seen) if "FROM audit_head" in statement]
    stored = [i for i, statement in enumerate(seen) if "INSERT INTO verifications" in statement]
    audited = [i for i, statement in enumerate(seen) if "INSERT INTO audit_log" in statement]
    moved = [i for i, statement in enumerate(seen) if "UPDATE audit_head" in statement]
    assert len(stored) == len(audited) == 1 and stored[0] < audited[0]
    assert not any("pg_advisory" in statement or "FROM audit_log" in statement for statement in seen)
    if engine.dialect.name == "postgresql":
        assert locking == head_read == stored  # one lock, in the verification's own statement
        assert moved == audited  # the entry and the head moved to it, in one statement
    else:
        assert locking == []
        assert len(head_read) == len(moved) == 1 and head_read[0] < audited[0] < moved[0]


@pytest.mark.parametrize("holder", ["linked", "revoked"])
def test_the_card_is_checked_before_the_claim_takes_a_lock(live: LiveServer, holder: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """No row lock (on SQLite, no write lock) is held while the card's RSA checks run: the card
    is checked before the statement that uses the nonce up. On PostgreSQL a card that passed is
    then claimed and stored by that one statement; one that failed is only claimed."""
    kiosk = live.kiosk()
    engine = live.server.parts.db.engine
    verifier = live.server.parts.verifier
    seen: list[str] = []
    check = verifier.verify

    def checked(*args: Any) -> Any:
        seen.append("card checked")
        return check(*args)

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    monkeypatch.setattr(verifier, "verify", checked)
    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = live.verify(kiosk, holder, LINKED_ACCOUNT)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert answer.status_code == (200 if holder == "linked" else 403), answer.text
    claims = [i for i, statement in enumerate(seen) if "UPDATE challenges" in statement]
    stored = [i for i, statement in enumerate(seen) if "INSERT INTO verifications" in statement]
    assert len(claims) == 1 and seen.index("card checked") < claims[0]
    assert len(stored) == (holder == "linked")
    if engine.dialect.name == "postgresql":
        assert stored in ([], claims)
    else:
        assert all(claims[0] < i for i in stored)


def test_the_verification_records_the_certificate_serial_not_the_certificate(live: LiveServer) -> None:
    answer = live.verify(live.kiosk(), "linked", LINKED_ACCOUNT).json()
    with live.server.parts.db.transaction() as session:
        stored = session.get(Verification, answer["verification_id"])
        assert stored is not None
        assert int(stored.certificate_serial, 16) == live.hierarchy.holder("linked").serial
    assert "certificate" not in {c.name for c in Verification.__table__.columns}


def test_the_nonce_field_is_base64url(live: LiveServer) -> None:
    kiosk = live.kiosk()
    nonce = live.challenge(kiosk)
    assert unb64(b64(nonce)) == nonce
    answer = live.verify(kiosk, "linked", LINKED_ACCOUNT, nonce="not base64!" * 3)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert answer.json()["problems"] == ["nonce"]


def test_junk_verifications_cannot_lock_an_account(tmp_path: Any, hierarchy: Any, database_url: str) -> None:
    """Only verifications with a nonce this kiosk was issued count toward the account's limit."""
    limits = Limits(account_verifications_per_hour=20, kiosk_requests_per_minute=1000)
    with live_server(tmp_path / "s", hierarchy, database_url, limits=limits) as live:
        kiosk = live.minted()
        cert, signature = live.sign("linked", bytes(32), LINKED_ACCOUNT)
        for _ in range(25):
            junk = kiosk.post(live.url("/v1/verifications"),
                              json=claim(LINKED_ACCOUNT, secrets.token_bytes(32), cert, signature))
            assert junk.status_code == 403 and junk.json()["error"] == "unknown_nonce"
        genuine = live.verify(kiosk, "linked", LINKED_ACCOUNT)
        assert genuine.status_code == 200, genuine.text
        assert genuine.json()["match"] is True


def test_the_connections_kept_for_every_pair_go_back_to_the_pool_as_the_server_stops(
        tmp_path: Any, hierarchy: Any, database_url: str) -> None:
    with live_server(tmp_path, hierarchy, database_url) as live:
        assert live.verify(live.kiosk(), "linked", LINKED_ACCOUNT).status_code == 200
        db = live.server.parts.db
        pool: Any = db.engine.pool
        # PostgreSQL: the challenge's and the verification's, kept by the event loop's thread.
        assert pool.checkedout() == (2 if db.postgresql else 0)
        for stop in live.server.app.router.on_shutdown:  # as uvicorn runs them when it stops
            done = stop()
            if inspect.isawaitable(done):
                asyncio.run(done)  # type: ignore[arg-type]
        assert pool.checkedout() == 0
