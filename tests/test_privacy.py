"""Privacy invariants of the card layer: the PIN reaches the card and nothing else."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import pytest

from kiosk.nfc import CardInfoSession, JpkiSession
from kiosk.nfc.errors import CardError
from kiosk.nfc.pcsc import PcscConnection
from kiosk.nfc.sim import Fault, FaultKind, SimulatedCard
from tests.conftest import Reader
from tests.helpers.secret_forms import RARE_PIN, RARE_WRONG_PIN, leaks

PIN = RARE_PIN
#: The PIN and a wrong one typed first, each looked for in every form (plain, UTF-16, hex, base64).
SECRETS = {"the PIN": PIN, "the wrong PIN": RARE_WRONG_PIN}


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=1)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + repr(record.args)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.texts.append(text)


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(1)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


def assert_no_pin(capture: Capture) -> None:
    joined = "\n".join(capture.texts)
    assert "00 20 00 80" in joined, "APDU tracing was not captured: the test would prove nothing"
    assert leaks(SECRETS, joined) == []


def flow(session: JpkiSession, card_info: CardInfoSession) -> None:
    for attempt in (RARE_WRONG_PIN, PIN):
        with contextlib.suppress(CardError):
            session.verify_pin(attempt)
    session.sign_sha256(b"challenge")
    card_info.verify_pin(PIN)
    card_info.read_name()


def test_no_log_record_holds_the_pin_in_process(
    capture: Capture, make_card: Callable[..., SimulatedCard]
) -> None:
    card = make_card(pin=PIN, apdu_log=lambda line: logging.getLogger("sim.apdu").info(line))
    session = JpkiSession(card)
    flow(session, CardInfoSession(session.channel))
    assert_no_pin(capture)


def test_no_log_record_holds_the_pin_through_pcscd(
    capture: Capture, make_card: Callable[..., SimulatedCard], reader: Reader
) -> None:
    reader.insert(make_card(pin=PIN))
    with PcscConnection(reader.name) as connection:
        session = JpkiSession(connection)
        flow(session, CardInfoSession(session.channel))
    assert_no_pin(capture)


@pytest.mark.parametrize("kind", [FaultKind.GARBAGE, FaultKind.STATUS, FaultKind.REMOVE])
def test_errors_after_verify_hold_no_pin(
    capture: Capture, make_card: Callable[..., SimulatedCard], kind: FaultKind
) -> None:
    card = make_card(pin=PIN, faults=[Fault(kind, ins=0x20, nth=2)])
    session = JpkiSession(card)
    session.pin_tries_left()
    with pytest.raises(CardError) as err:
        session.verify_pin(PIN)
    logging.getLogger("test").error("failed", exc_info=err.value)
    assert leaks(SECRETS, f"{err.value} {err.value.args!r}") == []
    assert_no_pin(capture)


def test_wipe_leaves_only_zeros_in_the_pin_buffer() -> None:
    from kiosk.services.verification import wipe
    buffer = bytearray(b"0729")
    wipe(buffer)
    assert buffer == bytearray(4)
