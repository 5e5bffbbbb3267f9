"""What a session read from the card, and the checks that it read each thing once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from kiosk.nfc.apdu import INS_COMPUTE_DIGITAL_SIGNATURE, INS_SELECT, INS_VERIFY, CommandApdu
from kiosk.nfc.cardinfo import CARD_INFO_AID
from kiosk.nfc.jpki import EF_AUTH_CERT, EF_AUTH_PIN, JPKI_AID
from kiosk.nfc.sim import SimulatedCard
from tests.helpers.tripwire import assert_my_number_untouched

#: SELECT the JPKI AP; SELECT and READ the token info; SELECT the certificate and READ it (one short
#: read for its header, one extended read for the rest); SELECT the PIN and ask its tries left;
#: VERIFY; SELECT the key and SIGN.
MINIMUM_APDUS = 10


#: Pre-link, besides: before the PIN, SELECT the card-info AP, its PIN and ask its tries left; after
#: SIGN, SELECT it and its PIN again, VERIFY, SELECT the basic information and READ it twice (the
#: offset table, then the name alone).
PRELINK_APDUS = MINIMUM_APDUS + 8


def commands(card: SimulatedCard) -> list[CommandApdu]:
    return [CommandApdu.from_bytes(raw) for raw in card.commands]


def signed_or_verified(card: SimulatedCard) -> list[int]:
    """The instructions that carried a PIN or data to sign."""
    return [c.ins for c in commands(card) if c.ins in (INS_VERIFY, INS_COMPUTE_DIGITAL_SIGNATURE) and c.data]


def card_reads(card: SimulatedCard) -> Reads:
    names = {JPKI_AID: "jpki", CARD_INFO_AID: "cardinfo"}
    selected: Counter[str] = Counter()
    tries: Counter[str] = Counter()
    app = ""
    for c in commands(card):
        if c.ins == INS_SELECT and c.p1 == 0x04:
            app = names.get(c.data, c.data.hex())
            selected[app] += 1
        elif c.ins == INS_VERIFY and not c.data:
            tries[app] += 1
    return Reads(len(card.commands), card.selections.count(("jpki", EF_AUTH_CERT)), selected, tries,
                 signed_or_verified(card))


def assert_read_once(card: SimulatedCard) -> None:
    """The certificate read once, the tries left asked once, the card-info AP never selected."""
    reads = card_reads(card)
    assert reads.certificate == 1
    assert reads.selected == Counter(jpki=1) and reads.tries == Counter(jpki=1)
    assert reads.secrets == [INS_VERIFY, INS_COMPUTE_DIGITAL_SIGNATURE]
    assert ("jpki", EF_AUTH_PIN) in card.selections
    assert_my_number_untouched(card)
    assert reads.apdus <= MINIMUM_APDUS, [f"{c.ins:02X}" for c in commands(card)]


def assert_prelink_read_once(card: SimulatedCard) -> None:
    """Pre-link: each AP's counter asked once, the card-info AP selected for its counter and its name."""
    reads = card_reads(card)
    assert reads.certificate == 1
    assert reads.tries == Counter(jpki=1, cardinfo=1)
    assert reads.selected["jpki"] == 1 and reads.selected["cardinfo"] <= 2
    assert_my_number_untouched(card)
    assert reads.apdus <= PRELINK_APDUS, [f"{c.ins:02X}" for c in commands(card)]


@dataclass
class Reads:
    """What a session asked of the card, from the card's own record of the commands it was sent."""

    apdus: int
    #: SELECTs of the certificate's file: each is one read of the certificate.
    certificate: int
    #: SELECTs of each application, and PIN counter queries (VERIFY with no data) in each.
    selected: Counter[str]
    tries: Counter[str]
    #: The instructions that carried a PIN or data to sign, in order.
    secrets: list[int]
