"""Offline evidence: sealed bundles uploaded in batches, re-verified, each fate recorded; vouchers."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from joserfc.jwk import ECKey
from sqlalchemy import select

from linkserver.models import Account, AuditEntry, OfflineEvidence
from linkserver.passwords import password_matches
from tests.helpers.server_api import LINKED, Kiosk, redeem
from tests.linkserver.helpers import LiveServer


def test_accepted_evidence_lets_the_user_finish_with_the_voucher(live: LiveServer) -> None:
    kiosk = Kiosk(live)
    [result] = kiosk.upload(kiosk.seal(kiosk.payload()))
    assert result["fate"] == "accepted" and result["error_code"] is None
    weak = redeem(live, new_password="weak")
    assert weak.status_code == 422 and weak.json()["error"] == "password_policy"
    done = redeem(live, new_password="Momiji-autumn-77")
    assert done.status_code == 200, done.text
    assert done.json() == {"kind": "password_reset", "result": {"password_set": True}}
    with live.server.parts.db.transaction() as session:
        account = session.get(Account, LINKED)
        assert account is not None and password_matches(account.password_hash, "Momiji-autumn-77")
    again = redeem(live, new_password="Momiji-autumn-88")
    assert again.status_code == 403 and again.json()["error"] == "voucher_invalid"


def test_a_voucher_only_works_for_its_account(live: LiveServer) -> None:
    kiosk = Kiosk(live)
    kiosk.upload(kiosk.seal(kiosk.payload(operation="mfa_reset")))
    assert redeem(live, account="2024000002").json()["error"] == "voucher_invalid"
    assert redeem(live, voucher="VCHR-0000-0000-0000").json()["error"] == "voucher_invalid"
    code = redeem(live).json()["result"]["enrolment_code"]
    assert len(code) == 19


def test_uploading_the_same_batch_twice_changes_nothing(live: LiveServer) -> None:
    kiosk = Kiosk(live)
    sealed = [kiosk.seal(kiosk.payload(voucher=f"VCHR-{i:04d}-AAAA-BBBB")) for i in range(3)]
    keys = [f"outbox-{i:04d}-{uuid.uuid4().hex[:8]}" for i in range(3)]
    first = kiosk.upload(*sealed, keys=keys)
    second = kiosk.upload(*sealed, keys=keys)
    assert [r["fate"] for r in first] == ["accepted"] * 3
    assert [r["duplicate"] for r in second] == [True] * 3
    assert [r["evidence_id"] for r in first] == [r["evidence_id"] for r in second]
    with live.server.parts.db.transaction() as session:
        assert len(session.scalars(select(OfflineEvidence)).all()) == 3


def test_a_reused_key_with_another_bundle_is_a_conflict(live: LiveServer) -> None:
    kiosk = Kiosk(live)
    kiosk.upload(kiosk.seal(kiosk.payload()), keys=["outbox-key-1"])
    [again] = kiosk.upload(kiosk.seal(kiosk.payload()), keys=["outbox-key-1"])
    assert again["fate"] == "refused" and again["error_code"] == "idempotency_conflict"


def test_each_bad_bundle_gets_its_own_fate(live: LiveServer) -> None:
    kiosk = Kiosk(live)
    stranger = ECKey.generate_key("P-256")
    good = kiosk.payload(voucher="VCHR-GOOD-0001-AAAA")
    reused_counter = kiosk.payload(voucher="VCHR-DUPE-0001-AAAA", counter=good["counter"])
    bundles = {
        "accepted": kiosk.seal(good),
        "revoked": kiosk.seal(kiosk.payload("revoked", "2024000007", voucher="VCHR-REVK-0001-AAAA")),
        "expired": kiosk.seal(kiosk.payload("expired", "2019000008", voucher="VCHR-EXPD-0001-AAAA")),
        "no_match": kiosk.seal(kiosk.payload("unlinked", LINKED, voucher="VCHR-NOMT-0001-AAAA")),
        "evidence_unreadable": kiosk.seal(kiosk.payload(), server_key=ECKey.generate_key("P-256")),
        "evidence_bad_kiosk_signature": kiosk.seal(kiosk.payload(), key=stranger),
        "operation_not_offline": kiosk.seal(kiosk.payload(operation="unlink")),
        "evidence_no_approval": kiosk.seal(kiosk.payload(staff=None)),
        "evidence_invalid": kiosk.seal(kiosk.payload(kiosk_id="kiosk-elsewhere")),
        "bad_signature": kiosk.seal(kiosk.payload(account_id="2024000005")),
        "salvage_not_eligible": kiosk.seal(kiosk.payload(operation="salvage", voucher="VCHR-SALV-0001-AAAA")),
        "evidence_counter_reused": kiosk.seal(reused_counter),
    }
    results = kiosk.upload(*bundles.values())
    fates = {expected: (r["fate"], r["error_code"]) for expected, r in zip(bundles, results, strict=True)}
    assert fates.pop("accepted") == ("accepted", None)
    assert fates == {code: ("refused", code) for code in fates}


def test_evidence_is_checked_against_the_servers_revocation_list(live: LiveServer) -> None:
    """The kiosk could not check revocation offline; the server does, and no voucher works."""
    kiosk = Kiosk(live)
    payload = kiosk.payload("revoked", "2024000007")
    [result] = kiosk.upload(kiosk.seal(payload))
    assert result["error_code"] == "revoked"
    assert redeem(live, account="2024000007", new_password="Momiji-autumn-77").status_code == 403


def test_the_server_publishes_its_sealing_key(live: LiveServer) -> None:
    info = live.minted().get(live.url("/v1/server-info")).json()
    assert info["sealing_key"]["kty"] == "EC" and "d" not in info["sealing_key"]
    assert info["sealing_key"]["alg"] == "ECDH-ES+A256KW"
    assert info["password_policy"]["min_length"] == 12


def test_a_passing_revocation_problem_is_retried_not_refused(live: LiveServer) -> None:
    """With its CRL stale the server records nothing and says retry; the same bundle passes later."""
    kiosk = Kiosk(live)
    sealed = kiosk.seal(kiosk.payload())
    live.clock.advance(8 * 86400)  # the bundle arrives after the CRL's next update
    [first] = kiosk.upload(sealed, keys=["outbox-retry-0001"])
    assert (first["fate"], first["error_code"], first["evidence_id"]) == ("retry", "revocation_unknown", None)
    with live.server.parts.db.transaction() as session:
        assert session.scalars(select(OfflineEvidence)).all() == []
    live.clock.offset = live.clock.offset - dt.timedelta(days=8)  # a fresh CRL again
    [second] = kiosk.upload(sealed, keys=["outbox-retry-0001"])
    assert second["fate"] == "accepted" and second["duplicate"] is False


def test_a_voucher_the_kiosk_never_showed_is_recorded_with_the_evidence(live: LiveServer) -> None:
    kiosk = Kiosk(live)
    bundles = [{"idempotency_key": f"unshown-{uuid.uuid4().hex[:8]}", "sealed": kiosk.seal(kiosk.payload(
        voucher=f"VCHR-{n}AAA-BBBB-CCCC")), **shown} for n, shown in enumerate(
        [{"voucher_shown": False}, {"voucher_shown": True}, {}])]
    answer = live.minted().post(live.url("/v1/offline/evidence"), json={"bundles": bundles})
    assert answer.status_code == 200, answer.text
    assert [r["fate"] for r in answer.json()["results"]] == ["accepted"] * 3
    with live.server.parts.db.transaction() as session:
        rows = {row.idempotency_key: row for row in session.scalars(select(OfflineEvidence))}
        audited = {json.loads(e.details)["evidence_id"]: json.loads(e.details) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.event == "offline_evidence"))}
        shown = [rows[b["idempotency_key"]].voucher_shown for b in bundles]
        told = [audited[rows[b["idempotency_key"]].evidence_id].get("voucher_shown") for b in bundles]
    assert shown == [False, True, None]
    assert told == [False, True, None]
    wrong = live.minted().post(live.url("/v1/offline/evidence"), json={"bundles": [
        {**bundles[0], "voucher_shown": "no"}]})
    assert wrong.status_code == 422
