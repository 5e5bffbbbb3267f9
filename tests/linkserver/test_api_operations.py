"""The six operations end to end over HTTP: verification, staff approval, effects, notifications."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from linkserver.demo import DEMO_PASSWORD
from linkserver.mailtext import subject
from linkserver.models import Account, AuditEntry, MailOutbox, Operation, SalvageTicket
from linkserver.pages import TEXTS
from linkserver.passwords import password_matches
from tests.helpers.server_api import (
    FORMER,
    LINKED,
    NEW_PASSWORD,
    UNLINKED,
    DeviceFlow,
    decide,
    link_of,
    revealed,
    send_password,
    stored_password,
    verified,
)
from tests.linkserver.helpers import LiveServer


def mails(live: LiveServer, account: str) -> list[str]:
    with live.server.parts.db.transaction() as session:
        return list(session.scalars(select(MailOutbox.subject).where(MailOutbox.account_id == account)
                                    .order_by(MailOutbox.mail_id)))


def account_row(live: LiveServer, account: str) -> Account:
    with live.server.parts.db.transaction() as session:
        row = session.get(Account, account)
        assert row is not None
        return row


def decision_entry(live: LiveServer, operation_id: str) -> tuple[str | None, object]:
    """The client and the staff member the operation's decision was audited under."""
    with live.server.parts.db.transaction() as session:
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.event == "operation_approved")):
            details = json.loads(entry.details)
            if details["operation_id"] == operation_id:
                return entry.client_id, details["staff"]
    raise AssertionError(f"no decision audited for {operation_id}")


def test_link_status_completes_at_once_and_notifies(live: LiveServer) -> None:
    kiosk = live.kiosk()
    answer = live.operation(kiosk, "link_status", verified(live, kiosk))
    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == "completed"
    assert body["result"]["linked"] is True
    assert body["result"]["name_on_card"] == "佐藤　花子"
    assert mails(live, LINKED) == [subject("link_status")]


def test_changing_operations_wait_for_staff(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    created = live.operation(kiosk, "mfa_reset", verified(live, kiosk)).json()
    assert created["status"] == "awaiting_approval"
    pending = staff.get(live.url("/v1/staff/operations")).json()["operations"]
    assert [op["operation_id"] for op in pending] == [created["operation_id"]]
    assert account_row(live, LINKED).mfa_methods == 2  # nothing changed yet
    assert mails(live, LINKED) == []


def test_mfa_reset_clears_methods_and_issues_a_time_limited_code(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    created = live.operation(kiosk, "mfa_reset", verified(live, kiosk))
    op = created.json()["operation_id"]
    approved = decide(live, staff, op).json()
    assert approved["status"] == "completed"
    # The body named "yamada.t"; the decision is the calling client's.
    assert approved["approved_by"] == live.setup.staff_id
    assert decision_entry(live, op) == (live.setup.staff_id, live.setup.staff_id)
    code = revealed(live, kiosk, created)["result"]["enrolment_code"]
    assert re.fullmatch(r"([A-Z2-9]{4}-){3}[A-Z2-9]{4}", code)
    row = account_row(live, LINKED)
    assert row.mfa_methods == 0
    assert row.enrolment_code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert row.enrolment_expires_at is not None
    assert mails(live, LINKED) == [subject("mfa_reset")]
    live.clock.advance(31 * 60)  # past its display time, the result says so
    later = live.minted().get(live.url(f"/v1/operations/{op}")).json()
    assert "enrolment_code" not in later["result"] and later["result"]["expired"] is True


def test_a_code_never_shown_is_dropped_after_its_display_time(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    created = live.operation(kiosk, "mfa_reset", verified(live, kiosk))
    decide(live, staff, created.json()["operation_id"])
    live.clock.advance(31 * 60)
    assert "enrolment_code" not in revealed(live, live.minted(), created)["result"]
    with live.server.parts.db.transaction() as session:
        stored = session.get(Operation, created.json()["operation_id"])
        assert stored is not None and "enrolment_code" not in stored.result


def test_password_reset_takes_the_users_password_through_the_policy(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    created = live.operation(kiosk, "password_reset", verified(live, kiosk))
    op = created.json()["operation_id"]
    before = stored_password(live)
    early = send_password(live, kiosk, created, NEW_PASSWORD)
    assert early.status_code == 409 and early.json()["error"] == "wrong_state"
    assert stored_password(live) == before  # nothing kept from a password refused before approval
    assert decide(live, staff, op).json()["status"] == "approved"
    weak = send_password(live, kiosk, created, "short")
    assert weak.status_code == 422
    assert stored_password(live) == before
    assert weak.json()["error"] == "password_policy"
    assert set(weak.json()["problems"]) == {"too_short", "too_few_classes"}
    assert weak.json()["policy"]["min_length"] == 12
    done = send_password(live, kiosk, created, NEW_PASSWORD)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    row = account_row(live, LINKED)
    assert password_matches(row.password_hash, NEW_PASSWORD)
    assert not password_matches(row.password_hash, DEMO_PASSWORD)
    again = send_password(live, kiosk, created, "Another-pass-99")
    assert again.status_code == 409  # one password per approval
    with live.server.parts.db.transaction() as session:
        stored = session.get(Operation, op)
        assert stored is not None and NEW_PASSWORD not in str(stored.result) + str(stored.params)
        audit_text = " ".join(session.scalars(select(AuditEntry.details)))
    assert NEW_PASSWORD not in audit_text
    assert mails(live, LINKED) == [subject("password_reset")]


def test_unlink_deletes_the_link_after_approval(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    op = live.operation(kiosk, "unlink", verified(live, kiosk)).json()["operation_id"]
    assert link_of(live, LINKED) is not None
    assert decide(live, staff, op).json()["status"] == "completed"
    assert link_of(live, LINKED) is None
    assert live.verify(kiosk, "linked", LINKED).json()["match"] is False


def test_salvage_is_for_former_members_only(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    active = live.operation(kiosk, "salvage", verified(live, kiosk), mode="backup")
    assert active.status_code == 403 and active.json()["error"] == "salvage_not_eligible"
    op = live.operation(kiosk, "salvage", verified(live, kiosk, "latin", FORMER), mode="forwarding")
    assert op.status_code == 201, op.text
    assert decide(live, staff, op.json()["operation_id"]).json()["status"] == "completed"
    done = revealed(live, kiosk, op)
    assert done["result"]["mode"] == "forwarding"
    with live.server.parts.db.transaction() as session:
        ticket = session.scalars(select(SalvageTicket).where(SalvageTicket.account_id == FORMER)).one()
    assert ticket.ticket_hash == hashlib.sha256(done["result"]["ticket"].encode()).hexdigest()
    assert ticket.mode == "forwarding"


def test_salvage_needs_a_mode(live: LiveServer) -> None:
    kiosk = live.kiosk()
    answer = live.operation(kiosk, "salvage", verified(live, kiosk, "latin", FORMER))
    assert answer.status_code == 422


def test_staff_can_refuse_and_the_holder_is_told(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    op = live.operation(kiosk, "unlink", verified(live, kiosk)).json()["operation_id"]
    refused = decide(live, staff, op, approve=False).json()
    assert refused["status"] == "refused"
    assert link_of(live, LINKED) is not None
    assert mails(live, LINKED) == [subject("refused")]
    assert decide(live, staff, op, approve=False).status_code == 200  # the same decision again
    other_way = decide(live, staff, op, approve=True)
    assert other_way.status_code == 409 and other_way.json()["error"] == "already_decided"


@pytest.mark.parametrize("kind", ["unlink", "password_reset", "mfa_reset", "link_status"])
def test_operations_on_an_account_need_a_matching_card(live: LiveServer, kind: str) -> None:
    kiosk = live.kiosk()
    answer = live.operation(kiosk, kind, verified(live, kiosk, "unlinked", LINKED))
    assert answer.status_code == 403
    assert answer.json()["error"] == "no_match"


def test_an_idempotency_key_replays_the_same_operation(live: LiveServer) -> None:
    kiosk = live.kiosk()
    verification = verified(live, kiosk)
    first = live.operation(kiosk, "mfa_reset", verification, key="key-0001-mfa")
    again = live.operation(kiosk, "mfa_reset", verification, key="key-0001-mfa")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["operation_id"] == again.json()["operation_id"]
    conflict = live.operation(kiosk, "unlink", verification, key="key-0001-mfa")
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_conflict"
    reuse = live.operation(kiosk, "unlink", verification, key="key-0002-unlink")
    assert reuse.status_code == 409 and reuse.json()["error"] == "verification_used"
    with live.server.parts.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Operation)) == 1


def test_an_operation_needs_a_fresh_verification(live: LiveServer) -> None:
    kiosk = live.kiosk()
    verification = verified(live, kiosk)
    live.clock.advance(601)
    fresh = live.minted()
    answer = live.operation(fresh, "mfa_reset", verification)
    assert answer.status_code == 403 and answer.json()["error"] == "verification_expired"
    unknown = live.operation(fresh, "mfa_reset", "ver_doesnotexist")
    assert unknown.status_code == 404 and unknown.json()["error"] == "verification_unknown"


def test_another_kiosk_cannot_see_an_operation(live: LiveServer, tmp_path: Any) -> None:
    from tests.helpers.server_api import second_kiosk

    kiosk, other = live.kiosk(), second_kiosk(live, tmp_path)
    op = live.operation(kiosk, "link_status", verified(live, kiosk)).json()["operation_id"]
    answer = other.get(live.url(f"/v1/operations/{op}"))
    assert answer.status_code == 404 and answer.json()["error"] == "operation_unknown"
    borrowed = live.operation(other, "link_status", verified(live, kiosk))
    assert borrowed.status_code == 404 and borrowed.json()["error"] == "verification_unknown"


def test_an_operation_not_decided_in_time_fails(live: LiveServer) -> None:
    kiosk = live.kiosk()
    op = live.operation(kiosk, "unlink", verified(live, kiosk)).json()["operation_id"]
    live.clock.advance(31 * 60)
    staff_later = live.minted_staff()
    assert staff_later.get(live.url("/v1/staff/operations")).json()["operations"] == []
    late = decide(live, staff_later, op)
    assert late.status_code == 409 and late.json()["error"] == "operation_expired"
    assert link_of(live, LINKED) is not None


# -- pre-link with the device authorization grant ----------------------------------------------------


def test_the_device_grant_follows_rfc_8628(live: LiveServer) -> None:
    flow = DeviceFlow(live)
    grant = flow.start()
    assert re.fullmatch(r"[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}", grant["user_code"])
    assert grant["verification_uri"] == live.url("/device")
    assert grant["verification_uri_complete"].endswith(grant["user_code"])
    assert grant["interval"] == 5 and grant["expires_in"] == 600
    pending = flow.poll(grant["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    too_fast = flow.poll(grant["device_code"])
    assert too_fast.json()["error"] == "slow_down"
    page = httpx2.get(grant["verification_uri_complete"])
    assert page.status_code == 200 and grant["user_code"] in page.text
    wrong = flow.sign_in(grant["user_code"], UNLINKED, "not the password")
    assert wrong.status_code == 403 and TEXTS["ja"]["wrong"] in wrong.text  # Japanese unless asked
    typed = grant["user_code"].lower().replace("-", "")  # as a user might type it
    assert flow.sign_in(typed, UNLINKED, DEMO_PASSWORD).status_code == 200
    live.clock.advance(11)  # respect the interval, raised by slow_down to 10 s
    token = flow.poll(grant["device_code"])
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "account"
    used = flow.poll(grant["device_code"])
    assert used.json()["error"] == "invalid_grant"


def test_the_device_grant_expires_and_can_be_denied(live: LiveServer) -> None:
    flow = DeviceFlow(live)
    denied = flow.start()
    answer = httpx2.post(live.url("/device"), data={"user_code": denied["user_code"], "action": "deny"})
    assert answer.status_code == 200
    assert flow.poll(denied["device_code"]).json()["error"] == "access_denied"
    expiring = flow.start()
    live.clock.advance(601)
    assert flow.poll(expiring["device_code"]).json()["error"] == "expired_token"
    assert flow.sign_in(expiring["user_code"], UNLINKED, DEMO_PASSWORD).status_code == 403


def test_five_wrong_passwords_end_the_device_grant(live: LiveServer) -> None:
    flow = DeviceFlow(live)
    grant = flow.start()
    for _ in range(5):
        assert flow.sign_in(grant["user_code"], UNLINKED, "wrong").status_code == 403
    assert flow.sign_in(grant["user_code"], UNLINKED, DEMO_PASSWORD).status_code == 403
    assert flow.poll(grant["device_code"]).json()["error"] == "access_denied"


def test_prelink_links_the_card_with_the_name_read_from_it(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    token = DeviceFlow(live).account_token(UNLINKED)
    verification = live.verify(kiosk, "unlinked", UNLINKED).json()
    assert verification["match"] is False
    op = live.operation(kiosk, "prelink", verification["verification_id"], account_token=token,
                        name_on_card="鈴木　一郎")
    assert op.status_code == 201, op.text
    assert op.json()["status"] == "awaiting_approval"
    assert decide(live, staff, op.json()["operation_id"]).json()["status"] == "completed"
    link = link_of(live, UNLINKED)
    assert link is not None and link.name_on_card == "鈴木　一郎"
    again = live.verify(kiosk, "unlinked", UNLINKED).json()
    assert again["match"] is True and again["name_on_record"] == "鈴木　一郎"
    assert mails(live, UNLINKED) == [subject("prelink")]


def test_one_card_one_account(live: LiveServer) -> None:
    kiosk = live.kiosk()
    flow = DeviceFlow(live)
    # The account already has a card: a second link is refused.
    verification = live.verify(kiosk, "unlinked", LINKED).json()["verification_id"]
    answer = live.operation(kiosk, "prelink", verification, account_token=flow.account_token(LINKED),
                            name_on_card="鈴木　一郎")
    assert answer.status_code == 409 and answer.json()["error"] == "account_already_linked"
    # The card is already linked to another account: refused too.
    verification = live.verify(kiosk, "linked", UNLINKED).json()["verification_id"]
    answer = live.operation(kiosk, "prelink", verification, account_token=flow.account_token(UNLINKED),
                            name_on_card="佐藤　花子")
    assert answer.status_code == 409 and answer.json()["error"] == "card_already_linked"


def test_prelink_needs_the_proof_for_the_claimed_account(live: LiveServer) -> None:
    kiosk = live.kiosk()
    flow = DeviceFlow(live)
    verification = live.verify(kiosk, "unlinked", UNLINKED).json()["verification_id"]
    mismatch = live.operation(kiosk, "prelink", verification, account_token=flow.account_token("2024000005"),
                              name_on_card="鈴木　一郎")
    assert mismatch.status_code == 403 and mismatch.json()["error"] == "account_proof_mismatch"
    verification = live.verify(kiosk, "unlinked", UNLINKED).json()["verification_id"]
    kiosk_token = kiosk.token["access_token"]  # a kiosk token is no account proof
    forged = live.operation(kiosk, "prelink", verification, account_token=kiosk_token,
                            name_on_card="鈴木　一郎")
    assert forged.status_code == 403 and forged.json()["error"] == "account_proof_invalid"


def test_every_decision_is_in_the_audit_chain(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    op = live.operation(kiosk, "unlink", verified(live, kiosk)).json()["operation_id"]
    decide(live, staff, op)
    live.verify(kiosk, "revoked", "2024000007")
    with live.server.parts.db.transaction() as session:
        events = list(session.scalars(select(AuditEntry.event).order_by(AuditEntry.seq)))
    tail = events[events.index("verification"):]
    assert tail == ["verification", "operation_requested", "operation_approved", "operation_completed",
                    "verification_refused"]


def test_notifications_never_carry_codes(live: LiveServer) -> None:
    kiosk, staff = live.kiosk(), live.staff()
    created = live.operation(kiosk, "mfa_reset", verified(live, kiosk))
    decide(live, staff, created.json()["operation_id"])
    code = revealed(live, kiosk, created)["result"]["enrolment_code"]
    with live.server.parts.db.transaction() as session:
        bodies = " ".join(session.scalars(select(MailOutbox.body)))
    assert code not in bodies
    assert "Hanako Sato" in bodies


def test_an_unknown_operation_id_is_404(live: LiveServer) -> None:
    kiosk = live.kiosk()
    answer = kiosk.get(live.url(f"/v1/operations/op_{uuid.uuid4().hex}"))
    assert answer.status_code == 404 and answer.json()["error"] == "operation_unknown"
