"""One user's session at the counter, and the codes and reasons it ends with."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from kiosk.flow.ports import Verification
from kiosk.flow.view import FlowCode
from kiosk.linkage import DeviceAuthorization, LinkageError, Operation, OperationKind
from kiosk.nfc import CardConnection
from kiosk.nfc.errors import CardError
from kiosk.offline import OfflineRefused
from kiosk.services.errors import OperationError, OutboxError, VerificationError
from kiosk.services.operations import EndReason, Request
from kiosk.services.verification import CardReady, VerificationResult

PIN_LENGTH = 4
MAX_ACCOUNT_LENGTH = 64

#: Failures that carry a stable code for the screen's words; anything else is shown as "internal".
CODED = (CardError, LinkageError, VerificationError, OperationError, OutboxError, OfflineRefused)


def error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None) if isinstance(exc, CODED) else None
    return code if isinstance(code, str) and code else FlowCode.INTERNAL


def close_card(card: CardConnection) -> None:
    close = getattr(card, "close", None)
    if close is not None:
        close()


@dataclass
class Session:
    """One user's personal values; dropped as a whole."""

    operation: OperationKind
    account: str = ""
    card: CardConnection | None = None
    verification: Verification | None = None
    ready: CardReady | None = None
    result: VerificationResult | None = None
    request: Request | None = None
    op: Operation | None = None
    device: DeviceAuthorization | None = None
    account_token: str | None = None
    same_pin: bool = False
    last_try_confirmed: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    #: Why the session ended, once ``cancel`` is set: recorded with a request it still had to withdraw.
    ended_because: str = EndReason.USER_CANCELLED
