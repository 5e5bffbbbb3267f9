"""Recording offline evidence: what is sealed for the server, what the store keeps, what is audited,
and what is refused before anything is written. Also the server's sealing key kept for offline use,
and an item's age in words.

The real store on a temporary SQLite file; the sealed bundle is opened with the server's key, as
the server would, to see what it carries.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest

from kiosk.offline import voucher_hash
from kiosk.services.errors import OutboxError, ServiceCode
from kiosk.services.outbox import (
    SEALING_KEY_CACHE,
    OfflineOutbox,
    age_words,
    keep_sealing_key,
    remember_sealing_key,
)
from kiosk.services.verification import VerificationResult
from kiosk.store import KioskStore
from tests.helpers.store import Clock
from tests.services import outbox_parts
from tests.services.outbox_parts import (
    ACCOUNT,
    CERTIFICATE,
    DEVICE_KEY_PEM,
    ISSUED_AT,
    KIOSK_ID,
    MASKED,
    SEALING_JWK,
    SIGNATURE,
    FakeLinkage,
    audit_details,
    offline_result,
    open_sealed,
)

VOUCHER = re.compile(r"[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){3}")


#: The real store on a new SQLite file, and its clock (fixtures).
clock, store = outbox_parts.clock, outbox_parts.store


@pytest.fixture
def outbox(store: KioskStore) -> OfflineOutbox:
    """An outbox of a kiosk that reached the server once and kept its sealing key."""
    remember_sealing_key(store, FakeLinkage().client())
    return OfflineOutbox(store, KIOSK_ID, DEVICE_KEY_PEM)


def test_an_age_is_told_in_the_unit_a_person_reads_best() -> None:
    cases = [(-5, "0 s"), (0.4, "0 s"), (119.4, "119 s"), (120, "2 min"), (5400, "90 min"),
             (7199, "120 min"), (7200, "2.0 h"), (9000, "2.5 h"), (144200, "40.1 h"),
             (172799, "48.0 h"), (172800, "2.0 days"), (864000, "10.0 days"), (3460340, "40.1 days")]
    assert [age_words(dt.timedelta(seconds=seconds)) for seconds, _ in cases] == [words for _, words in cases]


def test_the_sealing_key_learnt_online_is_kept_for_offline_use(store: KioskStore) -> None:
    kept = remember_sealing_key(store, FakeLinkage().client())
    assert kept == SEALING_JWK
    assert OfflineOutbox(store, KIOSK_ID, DEVICE_KEY_PEM).sealing_key() == SEALING_JWK
    # Kept in one canonical form: the same key, its members in another order, is stored alike.
    stored = store.get_cache(SEALING_KEY_CACHE)
    assert stored is not None
    keep_sealing_key(store, dict(reversed(list(SEALING_JWK.items()))))
    again = store.get_cache(SEALING_KEY_CACHE)
    assert again is not None and again.value == stored.value
    assert json.loads(again.value.decode("utf-8")) == SEALING_JWK


def test_a_kiosk_that_never_reached_the_server_cannot_seal(store: KioskStore) -> None:
    outbox = OfflineOutbox(store, KIOSK_ID, DEVICE_KEY_PEM)
    words = r"^the kiosk has never reached the server, so it cannot seal evidence for it$"
    with pytest.raises(OutboxError, match=words) as raised:
        outbox.sealing_key()
    assert raised.value.code == ServiceCode.OFFLINE_NO_SERVER_KEY
    with pytest.raises(OutboxError, match=words) as raised:
        outbox.record("mfa_reset", offline_result(3), "tanaka.h", ISSUED_AT + 30)
    assert raised.value.code == ServiceCode.OFFLINE_NO_SERVER_KEY
    # Nothing was written, and no voucher is waiting to be shown.
    assert store.outbox_items() == []
    assert audit_details(store, "offline_evidence_recorded") == []
    assert outbox.being_shown() == frozenset()


def test_recorded_evidence_is_sealed_for_the_server_with_what_the_card_and_staff_gave(
        store: KioskStore, outbox: OfflineOutbox) -> None:
    result = offline_result(7)
    assert result.offline is not None
    voucher = outbox.record("mfa_reset", result, "tanaka.h", ISSUED_AT + 30)
    assert voucher.kind == "mfa_reset"
    assert VOUCHER.fullmatch(voucher.code)
    assert re.fullmatch(rf"{KIOSK_ID}-7-[0-9a-f]{{12}}", voucher.idempotency_key)
    [item] = store.outbox_items()
    assert (item.idempotency_key, item.kind) == (voucher.idempotency_key, "mfa_reset")
    assert item.account_hint == MASKED
    # Only the voucher's hash is kept, and the sealed bundle carries the same one.
    assert item.voucher_hash == voucher_hash(voucher.code)
    assert voucher.code not in item.sealed
    payload = open_sealed(item.sealed)
    assert payload == {
        "v": 1, "kiosk_id": KIOSK_ID, "counter": 7, "issued_at": ISSUED_AT,
        "challenge": _b64(result.offline.challenge), "account_id": ACCOUNT, "operation": "mfa_reset",
        "params": {}, "certificate": _b64(CERTIFICATE), "signature": _b64(SIGNATURE),
        "staff": {"staff_id": "tanaka.h", "approved_at": ISSUED_AT + 30},
        "voucher_hash": voucher_hash(voucher.code),
    }
    assert audit_details(store, "offline_evidence_recorded") == [
        {"kind": "mfa_reset", "account": MASKED, "counter": 7, "staff": "tanaka.h"}]
    assert store.check_audit().ok


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_an_operation_s_params_travel_sealed_and_none_means_none(
        store: KioskStore, outbox: OfflineOutbox) -> None:
    salvage = outbox.record("salvage", offline_result(8), "sato.k", ISSUED_AT + 5, {"mode": "forwarding"})
    reset = outbox.record("password_reset", offline_result(9), "sato.k", ISSUED_AT + 6)
    sealed = {item.idempotency_key: open_sealed(item.sealed) for item in store.outbox_items()}
    assert sealed[salvage.idempotency_key]["params"] == {"mode": "forwarding"}
    assert sealed[salvage.idempotency_key]["operation"] == "salvage"
    assert sealed[reset.idempotency_key]["params"] == {}
    assert sealed[reset.idempotency_key]["operation"] == "password_reset"
    assert [entry["kind"] for entry in audit_details(store, "offline_evidence_recorded")] == [
        "salvage", "password_reset"]


def test_each_record_gets_its_own_key_and_voucher(store: KioskStore, outbox: OfflineOutbox) -> None:
    first = outbox.record("mfa_reset", offline_result(11), "tanaka.h", ISSUED_AT + 1)
    second = outbox.record("mfa_reset", offline_result(11), "tanaka.h", ISSUED_AT + 1)
    assert first.idempotency_key != second.idempotency_key
    assert first.code != second.code
    assert len(store.outbox_items()) == 2


def test_only_an_offline_operation_with_an_offline_verification_is_recorded(
        store: KioskStore, outbox: OfflineOutbox) -> None:
    with pytest.raises(OutboxError, match=r"^unlink cannot be done while offline$") as raised:
        outbox.record("unlink", offline_result(4), "tanaka.h", ISSUED_AT + 1)
    assert raised.value.code == ServiceCode.OFFLINE_NOT_FOR_OPERATION
    online = VerificationResult(ACCOUNT, MASKED, True, "Yamada Taro", dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
                                True, verification_id="v-1")
    with pytest.raises(OutboxError, match=r"^no offline verification to record$") as raised:
        outbox.record("mfa_reset", online, "tanaka.h", ISSUED_AT + 1)
    assert raised.value.code == ServiceCode.OFFLINE_NO_PROOF
    assert store.outbox_items() == []
    assert audit_details(store, "offline_evidence_recorded") == []
    assert outbox.being_shown() == frozenset()


def test_a_voucher_is_on_its_way_until_shown_and_showing_it_is_noted_once(
        store: KioskStore, outbox: OfflineOutbox, clock: Clock) -> None:
    first = outbox.record("mfa_reset", offline_result(21), "tanaka.h", ISSUED_AT + 1)
    second = outbox.record("mfa_reset", offline_result(22), "tanaka.h", ISSUED_AT + 2)
    assert outbox.being_shown() == {first.idempotency_key, second.idempotency_key}
    clock.advance(seconds=5)
    shown_at = clock.now
    outbox.voucher_shown(first.idempotency_key)  # nobody listens yet
    assert outbox.being_shown() == {second.idempotency_key}
    woken: list[str] = []
    outbox.on_shown = lambda: woken.append("wake")
    clock.advance(seconds=5)
    outbox.voucher_shown(second.idempotency_key)
    outbox.voucher_shown(first.idempotency_key)  # again: the first time counts
    assert woken == ["wake", "wake"]
    assert outbox.being_shown() == frozenset()
    shown = {item.idempotency_key: item.voucher_shown_at for item in store.outbox_items()}
    assert shown == {first.idempotency_key: shown_at, second.idempotency_key: clock.now}
