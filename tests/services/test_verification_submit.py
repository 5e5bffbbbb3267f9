"""A verification after the PIN: VERIFY, SIGN and the server's answer, a challenge renewed when
the PIN took too long, and the PIN's buffer wiped whatever happens, never sent anywhere.

The card is the simulated one in process and the server a stand-in (``FakeLinkage``) that checks
the card's signature over the nonce, the kiosk and the account, as the real one does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from cryptography import x509

from kiosk.linkage import ServerRefused
from kiosk.nfc.errors import CardCode, InvalidPinError, LastTryNotConfirmedError
from kiosk.nfc.sim import SimulatedCard
from kiosk.services.errors import VerificationError
from kiosk.services.verification import CHALLENGE_MARGIN, VerificationResult, mask_account, wipe
from tests.services.service_parts import (
    ACCOUNT,
    NAME_ON_RECORD,
    Clock,
    FakeLinkage,
    pin,
    prepared,
    session,
)

MakeCard = Callable[..., SimulatedCard]


def assert_nothing_sent_holds(linkage: FakeLinkage, digits: str) -> None:
    """No argument of any call to the server holds the PIN's digits, as text or as bytes."""
    for name, arguments in linkage.calls:
        for value in arguments.values():
            if isinstance(value, bytes | str):
                raw = value.encode() if isinstance(value, str) else value
                assert digits.encode() not in raw, f"{name} sent the PIN"


def test_the_server_gets_the_claim_signed_by_the_card_and_its_answer_comes_back(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("linked")
    verification = prepared(card, linkage, clock)
    typed = pin("1234")
    result = verification.submit(typed)
    not_after = x509.load_der_x509_certificate(card.profile.auth_cert_der).not_valid_after_utc
    assert result == VerificationResult(
        account_id=ACCOUNT, masked_account="20******01", match=True, name_on_record=NAME_ON_RECORD,
        certificate_not_after=not_after, online=True, verification_id="ver-1")
    [sent] = linkage.named("verify")  # the fake refuses a signature that does not verify
    assert sent["account_id"] == ACCOUNT and sent["nonce"] == linkage.nonces[0]
    assert sent["certificate"] == card.profile.auth_cert_der
    assert typed == bytearray(4)
    assert_nothing_sent_holds(linkage, "1234")


def test_a_card_not_linked_to_the_account_is_answered_as_no_match(
        make_card: MakeCard, clock: Clock) -> None:
    linkage = FakeLinkage(clock, match=False)
    verification = prepared(make_card("unlinked"), linkage, clock)
    result = verification.submit(pin("2580"))
    assert result.match is False and result.online and result.verification_id == "ver-1"


def test_a_wrong_pin_stops_before_the_server_and_is_wiped(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("linked")
    verification = prepared(card, linkage, clock)
    typed = pin("9999")
    with pytest.raises(InvalidPinError, match=r"^wrong PIN, 2 tries left$"):
        verification.submit(typed)
    assert typed == bytearray(4) and card.pin_state().tries == 2
    assert linkage.named("verify") == []


def test_the_last_try_is_spent_only_when_confirmed(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("last-try")
    verification = session(card, linkage, clock)
    assert verification.prepare().tries_left == 1
    with pytest.raises(LastTryNotConfirmedError, match=r"^one try left: confirm before spending it$"):
        verification.submit(pin())
    assert card.pin_state().tries == 1 and linkage.named("verify") == []
    assert verification.submit(pin(), confirm_last_try=True).match is True


def test_a_pin_for_a_card_not_prepared_is_refused_unsent_and_wiped(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("linked")
    never_prepared = session(card, linkage, clock)
    refused = session(card, None, clock)  # no server and no offline check: prepare refuses the card
    with pytest.raises(VerificationError, match=r"^the server cannot be reached"):
        refused.prepare()
    for verification in (never_prepared, refused):
        typed = pin()
        with pytest.raises(RuntimeError, match=r"^prepare\(\) first$"):
            verification.submit(typed)
        assert typed == bytearray(4)
    assert not [command for command in card.commands if command[1] == 0x20 and len(command) > 4]
    assert card.pin_state().tries == 3 and linkage.calls == []


def test_a_refusal_from_the_server_reaches_the_caller_with_the_pin_wiped(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    verification = prepared(make_card("linked"), linkage, clock)
    linkage.fail["verify"] = [ServerRefused("revoked", "the certificate has been revoked", status=403)]
    typed = pin()
    with pytest.raises(ServerRefused, match="revoked") as refused:
        verification.submit(typed)
    assert refused.value.code == "revoked" and typed == bytearray(4)


def test_a_challenge_about_to_expire_is_replaced_before_the_card_signs(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    linkage.lives = [CHALLENGE_MARGIN]  # expires exactly at the margin: replaced
    verification = prepared(make_card("linked"), linkage, clock)
    verification.submit(pin())
    assert len(linkage.nonces) == 2
    assert linkage.named("verify")[0]["nonce"] == linkage.nonces[1]


def test_a_challenge_that_outlives_the_margin_is_used(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    linkage.lives = [CHALLENGE_MARGIN + dt.timedelta(microseconds=1)]
    verification = prepared(make_card("linked"), linkage, clock)
    verification.submit(pin())
    assert linkage.named("verify")[0]["nonce"] == linkage.nonces[0] and len(linkage.nonces) == 1


def test_a_challenge_is_judged_at_the_time_of_the_pin(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    verification = prepared(make_card("linked"), linkage, clock)
    clock.now += dt.timedelta(minutes=5) - CHALLENGE_MARGIN  # the user took their time
    verification.submit(pin())
    assert linkage.named("verify")[0]["nonce"] == linkage.nonces[1]


def test_the_same_pin_reads_the_name_when_the_card_info_counter_is_full(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("linked")
    verification = prepared(card, linkage, clock, card_info=True)
    typed = pin()
    result = verification.submit(typed, same_pin_for_name=True)
    assert result.name_on_card == card.profile.name and result.match is True
    assert typed == bytearray(4)
    queries = [command for command in card.commands if command[1] == 0x20 and len(command) == 4]
    assert len(queries) == 2  # each AP's counter once: the card-info one by prepare, not again


def test_a_different_card_info_pin_costs_one_try_and_reads_no_name(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("unlinked")  # its card-info PIN is not its JPKI PIN
    verification = prepared(card, linkage, clock, card_info=True)
    result = verification.submit(pin("2580"), same_pin_for_name=True)
    assert result.name_on_card is None and result.online
    assert card.pin_state("cardinfo").tries == 2 and verification.cardinfo_tries_left() == 2


def test_the_same_pin_is_never_tried_on_a_card_info_counter_already_short(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("linked")
    card.pin_state("cardinfo").tries = 2
    verification = prepared(card, linkage, clock)  # the card-info AP not read yet: asked for here
    result = verification.submit(pin(), same_pin_for_name=True)
    assert result.name_on_card is None and card.pin_state("cardinfo").tries == 2
    assert card.selections.count(("cardinfo", 0x0011)) == 1  # the counter query, no VERIFY


def test_the_name_is_read_with_the_card_info_pin_and_the_buffer_wiped(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("unlinked")
    verification = prepared(card, linkage, clock, card_info=True)
    wrong, right = pin("0000"), pin("1357")
    with pytest.raises(InvalidPinError, match=r"^wrong PIN, 2 tries left$"):
        verification.read_name(wrong)
    assert wrong == bytearray(4) and verification.cardinfo_tries_left() == 2
    assert verification.read_name(right) == card.profile.name
    assert right == bytearray(4) and verification.cardinfo_tries_left() == 3


def test_the_card_info_pins_last_try_is_spent_only_when_confirmed(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("unlinked")
    card.pin_state("cardinfo").tries = 1
    verification = session(card, linkage, clock)
    assert verification.cardinfo_tries_left() == 1  # asked of the card: prepare read nothing yet
    with pytest.raises(LastTryNotConfirmedError) as unconfirmed:
        verification.read_name(pin("1357"))
    assert unconfirmed.value.code == CardCode.PIN_LAST_TRY_UNCONFIRMED
    assert verification.read_name(pin("1357"), confirm_last_try=True) == card.profile.name


def test_the_account_is_shown_with_all_but_its_ends_masked() -> None:
    assert mask_account("2024000001") == "20******01"
    assert mask_account("abcde") == "ab*de"
    assert [mask_account(short) for short in ("", "a", "abcd")] == ["", "*", "****"]


def test_a_wipe_leaves_only_zeros_of_the_same_length() -> None:
    buffer = bytearray(b"\x01\xff1234")
    wipe(buffer)
    assert buffer == bytearray(6)
