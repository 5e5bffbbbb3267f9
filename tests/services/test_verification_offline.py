"""A verification the card proves with no server: before the PIN (none set up, or out of reach) or
after it (the server went away mid-verification, or while renewing the challenge).

The proof is the card's signature over a kiosk challenge that carries the kiosk's counter, taken
from the real kiosk store on a temporary SQLite file, and the time; it is checked on the spot by
the kiosk's own validator over the test hierarchy.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509

from kiosk.linkage import ServerUnreachable, signed_message
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.offline import LocalValidator
from kiosk.services.errors import ServiceCode, VerificationError
from kiosk.services.verification import VerificationResult, VerificationSession
from kiosk.store import KioskStore
from tests.services.service_parts import (
    ACCOUNT,
    KIOSK_ID,
    Clock,
    FakeLinkage,
    pin,
    prepared,
    signed_by,
    validator_for,
    with_key_of,
)

MakeCard = Callable[..., SimulatedCard]


@pytest.fixture
def clock() -> Clock:
    """A time with a fraction of a second: the proof's ``issued_at`` is the whole seconds."""
    return Clock(dt.datetime.now(dt.UTC).replace(microsecond=250_000))


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[KioskStore]:
    with KioskStore(tmp_path / "kiosk.db", clock=clock) as opened:
        yield opened


@pytest.fixture(scope="module")
def validator(hierarchy: TestHierarchy) -> LocalValidator:
    return validator_for(hierarchy)


def proving(card: SimulatedCard, linkage: FakeLinkage | None, clock: Clock, store: KioskStore,
            validator: LocalValidator | None, *, card_info: bool = False) -> VerificationSession:
    """A prepared verification that proves the card offline when it must, its counter from the store."""
    return prepared(card, linkage, clock, card_info=card_info, validator=validator,
                    next_counter=store.next_offline_counter)


def assert_offline_proof(result: VerificationResult, card: SimulatedCard, counter: int, clock: Clock) -> None:
    """An offline result: no answer from the server, and a proof the card signed for this claim."""
    cert = x509.load_der_x509_certificate(card.profile.auth_cert_der)
    assert result.online is False and result.match is None
    assert result.name_on_record is None and result.verification_id is None
    assert (result.account_id, result.masked_account) == (ACCOUNT, "20******01")
    assert result.certificate_not_after == cert.not_valid_after_utc and result.name_on_card is None
    proof = result.offline
    assert proof is not None
    issued_at = int(clock().timestamp())
    assert (proof.counter, proof.issued_at) == (counter, issued_at)
    assert proof.certificate == card.profile.auth_cert_der
    assert proof.challenge[:16] == counter.to_bytes(8, "big") + issued_at.to_bytes(8, "big")
    assert len(proof.challenge) == 32
    assert signed_by(cert, signed_message(proof.challenge, KIOSK_ID, ACCOUNT), proof.signature)


def test_with_no_server_set_up_the_card_signs_the_kiosks_own_challenge(
        make_card: MakeCard, clock: Clock, store: KioskStore, validator: LocalValidator) -> None:
    card = make_card("linked")
    verification = proving(card, None, clock, store, validator)
    typed = pin()
    result = verification.submit(typed)
    assert typed == bytearray(4)
    assert_offline_proof(result, card, 1, clock)


def test_each_offline_proof_takes_the_next_counter_and_fresh_randomness(
        make_card: MakeCard, clock: Clock, store: KioskStore, validator: LocalValidator) -> None:
    proofs = []
    for _ in range(2):
        card = make_card("linked")
        verification = proving(card, None, clock, store, validator)
        proofs.append(verification.submit(pin()).offline)
    assert [proof.counter for proof in proofs if proof] == [1, 2]
    assert proofs[0] and proofs[1] and proofs[0].challenge[16:] != proofs[1].challenge[16:]


def test_a_server_lost_after_the_pin_is_replaced_by_the_offline_proof(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage, store: KioskStore,
        validator: LocalValidator, caplog: pytest.LogCaptureFixture) -> None:
    card = make_card("linked")
    verification = proving(card, linkage, clock, store, validator)
    assert linkage.named("challenge") == [{}]  # online until the PIN
    linkage.fail["verify"] = [ServerUnreachable("read timed out")]
    with caplog.at_level(logging.INFO, logger="kiosk.services.verification"):
        result = verification.submit(pin())  # no second PIN: the JPKI AP is still verified
    assert_offline_proof(result, card, 1, clock)
    assert card.pin_state().tries == 3
    assert [r.getMessage() for r in caplog.records] == ["verifying offline: server.unreachable"]


def test_a_server_lost_while_renewing_the_challenge_gives_the_offline_proof(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage, store: KioskStore,
        validator: LocalValidator, caplog: pytest.LogCaptureFixture) -> None:
    card = make_card("linked")
    linkage.lives = [dt.timedelta(0)]
    verification = proving(card, linkage, clock, store, validator)
    linkage.fail["challenge"] = [ServerUnreachable("connection refused")]
    with caplog.at_level(logging.INFO, logger="kiosk.services.verification"):
        result = verification.submit(pin())
    assert_offline_proof(result, card, 1, clock)
    assert len(linkage.named("challenge")) == 2 and linkage.named("verify") == []
    assert [r.getMessage() for r in caplog.records] == ["verifying offline: server.unreachable"]


def test_a_server_lost_after_the_pin_with_no_offline_check_is_refused(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage, store: KioskStore) -> None:
    verification = proving(make_card("linked"), linkage, clock, store, None)
    linkage.fail["verify"] = [ServerUnreachable("read timed out")]
    with pytest.raises(VerificationError, match=r"^the server cannot be reached and offline") as refused:
        verification.submit(pin())
    assert refused.value.code == ServiceCode.OFFLINE_UNAVAILABLE
    assert store.next_offline_counter() == 1  # no counter was spent


def test_prelink_needs_the_server_and_gets_no_offline_proof(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage, store: KioskStore,
        validator: LocalValidator) -> None:
    verification = proving(make_card("linked"), linkage, clock, store, validator, card_info=True)
    linkage.fail["verify"] = [ServerUnreachable("read timed out")]
    typed = pin()
    with pytest.raises(ServerUnreachable, match="read timed out"):
        verification.submit(typed, same_pin_for_name=True)
    assert typed == bytearray(4) and store.next_offline_counter() == 1


def test_a_signature_that_does_not_match_the_certificate_is_refused_on_the_spot(
        make_card: MakeCard, clock: Clock, store: KioskStore, validator: LocalValidator) -> None:
    card = with_key_of(make_card("linked"), make_card("unlinked"))
    verification = proving(card, None, clock, store, validator)  # the certificate itself passes
    with pytest.raises(VerificationError, match=r"^The card's signature does not match\.$") as refused:
        verification.submit(pin())
    assert refused.value.code == "bad_signature"
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
