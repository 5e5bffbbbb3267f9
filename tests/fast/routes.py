"""The way to every state of the flow over the fake backend, stopping where the flow waits."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.flow import Intent, Screen
from kiosk.linkage import OperationKind
from tests.fast.fakes import ACCOUNT, CARDINFO_PIN, PIN, Card, FakeBackend, Kiosk

K = OperationKind


def start(kind: OperationKind, backend: FakeBackend | None = None) -> Kiosk:
    """The account screen of ``kind``."""
    return Kiosk(backend).do(Intent.CHOOSE, kind)


def place_card(kind: OperationKind = K.MFA_RESET, backend: FakeBackend | None = None) -> Kiosk:
    kiosk = start(kind, backend).do(Intent.SUBMIT_ACCOUNT, ACCOUNT)
    if kind is K.PRELINK:
        kiosk.settle()  # the phone sign-in, done
    return kiosk


def pin(kind: OperationKind = K.MFA_RESET, backend: FakeBackend | None = None) -> Kiosk:
    return place_card(kind, backend).do(Intent.CARD_INSERTED).settle()


def verifying(kind: OperationKind = K.MFA_RESET, backend: FakeBackend | None = None) -> Kiosk:
    """The PIN sent, its answer not back yet."""
    kiosk = pin(kind, backend).type_pin(PIN)
    if kind is K.PRELINK:
        kiosk.do(Intent.ANSWER_SAME_PIN, kiosk.backend.same_pin)
    return kiosk


def verified(kind: OperationKind = K.MFA_RESET, backend: FakeBackend | None = None) -> Kiosk:
    """The verification's answer taken; the request (if any) waiting to be sent."""
    kiosk = verifying(kind, backend)
    kiosk.runner.run_one()
    return kiosk


def verified_with(backend: FakeBackend) -> Kiosk:
    return verified(backend=backend)


def cardinfo_pin() -> Kiosk:
    kiosk = verifying(K.PRELINK, FakeBackend(same_pin=False))
    return kiosk.settle()


def cardinfo_working() -> Kiosk:
    """Pre-link: the card-information PIN sent, the name not read yet."""
    return cardinfo_pin().type_pin(CARDINFO_PIN)


def new_password() -> Kiosk:
    return verified(K.PASSWORD_RESET).settle()


def offline_approval(kind: OperationKind = K.MFA_RESET) -> Kiosk:
    return verified(kind, FakeBackend(online=False))


#: One way to each state, and the state's name for test IDs.
ROUTES: dict[Screen, Callable[[], Kiosk]] = {
    Screen.START: lambda: Kiosk(),
    Screen.ACCOUNT: lambda: start(K.MFA_RESET),
    Screen.DEVICE_GRANT: lambda: start(K.PRELINK).do(Intent.SUBMIT_ACCOUNT, ACCOUNT),
    Screen.PLACE_CARD: place_card,
    Screen.PIN: pin,
    Screen.LAST_TRY: lambda: pin(backend=FakeBackend(card=Card(tries_left=1))).type_pin(PIN),
    Screen.CARDINFO_QUESTION: lambda: pin(K.PRELINK).type_pin(PIN),
    Screen.CARDINFO_PIN: cardinfo_pin,
    Screen.VERIFYING: verifying,
    Screen.UNLINK_CONFIRM: lambda: verified(K.UNLINK),
    Screen.STAFF_WAIT: verified,
    Screen.OFFLINE_APPROVAL: offline_approval,
    Screen.NEW_PASSWORD: new_password,
    Screen.WORKING: lambda: verified(K.LINK_STATUS),
    Screen.DONE: lambda: verified(K.LINK_STATUS).settle(),
    Screen.ERROR: lambda: verified(backend=FakeBackend(card=Card(linked=False))),
}


def reach(state: Screen) -> Kiosk:
    kiosk = ROUTES[state]()
    assert kiosk.screen is state, (state, kiosk.screen)
    return kiosk
