"""A verification before the PIN: what ``prepare`` reads from the simulated card, whether it is
online, and each refusal it lets the screen show before anyone types a PIN.

The card is the simulated one in process; the server is a stand-in that answers challenges
(``FakeLinkage``); the offline check is the kiosk's own validator over the test hierarchy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

import pytest
from cryptography import x509

from kiosk.linkage import ServerRefused, ServerUnreachable
from kiosk.nfc.errors import CardCode, NoCardInfoError
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.offline import OfflineRefused
from kiosk.services.errors import ServiceCode, VerificationError
from kiosk.services.verification import NOT_BEFORE_MARGIN, REFUSALS, CardReady
from tests.services.service_parts import Clock, FakeLinkage, session, validator_for

MakeCard = Callable[..., SimulatedCard]
MICROSECOND = dt.timedelta(microseconds=1)


def certificate(card: SimulatedCard) -> x509.Certificate:
    return x509.load_der_x509_certificate(card.profile.auth_cert_der)


def test_online_the_card_is_read_and_a_challenge_fetched_on_a_worker(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("linked")
    cert = certificate(card)
    ready = session(card, linkage, clock).prepare()
    assert ready == CardReady(serial=cert.serial_number, not_after=cert.not_valid_after_utc, expired=False,
                              tries_left=3, online=True, offline_reason=None, not_yet_valid=False)
    assert ready.refusal() is None
    assert linkage.calls == [("challenge", {})]
    assert linkage.threads[0].startswith("challenge")  # not the card's thread
    assert all(app == "jpki" for app, _ in card.selections)  # the card-info AP only for pre-link


def test_without_a_server_set_up_the_card_is_checked_offline(
        make_card: MakeCard, clock: Clock, hierarchy: TestHierarchy) -> None:
    ready = session(make_card("linked"), None, clock, validator=validator_for(hierarchy)).prepare()
    assert not ready.online and ready.offline_reason == ServiceCode.SERVER_NOT_CONFIGURED
    assert ready.refusal() is None and ready.tries_left == 3


def test_without_a_server_or_an_offline_check_the_card_is_refused(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage, caplog: pytest.LogCaptureFixture) -> None:
    unreachable = ServerUnreachable("connection refused")
    for port in (None, linkage):
        linkage.fail["challenge"] = [unreachable]
        with caplog.at_level(logging.INFO, logger="kiosk.services.verification"), \
                pytest.raises(VerificationError, match=r"^the server cannot be reached and offline "
                                                       r"verification is not set up$") as refused:
            session(make_card("linked"), port, clock).prepare()
        assert refused.value.code == ServiceCode.OFFLINE_UNAVAILABLE
    assert [r.getMessage() for r in caplog.records] == ["verifying offline: server.not_configured",
                                                         "verifying offline: server.unreachable"]


def test_a_server_out_of_reach_turns_the_verification_offline(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage, hierarchy: TestHierarchy) -> None:
    linkage.fail["challenge"] = [ServerUnreachable("connection refused")]
    card = make_card("linked")
    ready = session(card, linkage, clock, validator=validator_for(hierarchy)).prepare()
    assert not ready.online and ready.offline_reason == "server.unreachable"
    assert (ready.serial, ready.tries_left, ready.refusal()) == (certificate(card).serial_number, 3, None)


def test_a_server_that_answers_with_a_refusal_does_not_make_it_offline(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage, hierarchy: TestHierarchy) -> None:
    linkage.fail["challenge"] = [ServerRefused("rate_limited", "slow down", status=429)]
    verification = session(make_card("linked"), linkage, clock, validator=validator_for(hierarchy))
    with pytest.raises(ServerRefused, match="slow down") as refused:
        verification.prepare()
    assert refused.value.code == "rate_limited"


@pytest.mark.parametrize(("holder", "code"), [("revoked", "revoked"), ("foreign", "unknown_issuer"),
                                              ("expired", "expired")])
def test_offline_a_card_the_local_check_refuses_is_refused_before_the_pin(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage, hierarchy: TestHierarchy,
        holder: str, code: str) -> None:
    linkage.fail["challenge"] = [ServerUnreachable("connection refused")]
    card = make_card(holder)
    expected = validator_for(hierarchy)
    with pytest.raises(VerificationError) as refused:
        session(card, linkage, clock, validator=validator_for(hierarchy)).prepare()
    assert refused.value.code == code
    with pytest.raises(OfflineRefused) as direct:  # the validator's own words, passed on unchanged
        expected.validate(card.profile.auth_cert_der, clock())
    assert refused.value.message == direct.value.message
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_offline_the_certificate_is_checked_at_the_kiosks_time(
        make_card: MakeCard, clock: Clock, hierarchy: TestHierarchy) -> None:
    card = make_card("linked")
    clock.now = certificate(card).not_valid_after_utc + dt.timedelta(days=1)
    with pytest.raises(VerificationError, match=r"^the certificate expired at ") as refused:
        session(card, None, clock, validator=validator_for(hierarchy)).prepare()
    assert refused.value.code == "expired"


@pytest.mark.parametrize(("holder", "code"), [("expired", "expired"), ("not-yet-valid", "not_yet_valid"),
                                              ("blocked", CardCode.PIN_BLOCKED)])
def test_a_card_the_pin_cannot_help_is_refused_before_the_pin(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage, holder: str, code: str) -> None:
    ready = session(make_card(holder), linkage, clock).prepare()
    assert ready.online and ready.refusal() == code
    assert code in REFUSALS
    assert (ready.tries_left == 0) is (holder == "blocked")
    assert ready.expired is (holder == "expired") and ready.not_yet_valid is (holder == "not-yet-valid")


def test_a_certificate_is_expired_only_once_past_its_last_moment(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("linked")
    clock.now = certificate(card).not_valid_after_utc
    assert not session(card, linkage, clock).prepare().expired
    clock.now += MICROSECOND
    ready = session(card, linkage, clock).prepare()
    assert ready.expired and ready.refusal() == "expired"


def test_a_certificate_is_not_yet_valid_only_beyond_the_margin(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("not-yet-valid")
    clock.now = certificate(card).not_valid_before_utc - NOT_BEFORE_MARGIN
    assert not session(card, linkage, clock).prepare().not_yet_valid  # the server decides
    clock.now -= MICROSECOND
    assert session(card, linkage, clock).prepare().not_yet_valid


def test_the_first_refusal_is_the_one_the_pin_would_meet_first() -> None:
    ready = CardReady(serial=1, not_after=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), expired=True,
                      tries_left=0, online=True, not_yet_valid=True)
    assert ready.refusal() == CardCode.PIN_BLOCKED
    assert dataclasses.replace(ready, tries_left=1).refusal() == "expired"
    assert dataclasses.replace(ready, tries_left=1, expired=False).refusal() == "not_yet_valid"
    assert ready.offline_reason is None


def test_for_prelink_the_card_info_counter_is_read_first_and_only_once(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("linked")
    card.pin_state("cardinfo").tries = 2
    verification = session(card, linkage, clock)
    ready = verification.prepare(card_info=True)
    assert ready.tries_left == 3 and ready.online
    assert card.selections[0] == ("cardinfo", 0x0011)
    assert card.selections[-1] == ("jpki", 0x0018)  # the JPKI AP stays selected for the VERIFY
    asked = len(card.selections)
    assert verification.cardinfo_tries_left() == 2
    assert len(card.selections) == asked  # learned by prepare, not asked again


def test_for_prelink_a_card_without_the_card_info_ap_is_refused_before_the_pin(
        make_card: MakeCard, clock: Clock, linkage: FakeLinkage) -> None:
    card = make_card("linked", card_info=False)
    with pytest.raises(NoCardInfoError) as refused:
        session(card, linkage, clock).prepare(card_info=True)
    assert refused.value.code == CardCode.NO_CARD_INFO
    assert session(make_card("linked", card_info=False), linkage, clock).prepare().online  # not for others
