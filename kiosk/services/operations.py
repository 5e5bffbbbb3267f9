"""The six operations, online: each under its own idempotency key, waiting for staff where it must.

An operation starts from a verification result. Account-changing operations wait for a staff
decision; a password reset then takes the user's own new password (sent once, never kept);
pre-link first proves the account with the device authorization grant. Every call that may be
repeated carries the same idempotency key, so a retry after a lost answer never acts twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk.linkage import (
    DeviceAuthorization,
    LinkageClient,
    LinkageError,
    Operation,
    OperationKind,
    OperationStatus,
)
from kiosk.linkage.models import OPERATION_KINDS
from kiosk.offline import OFFLINE_OPERATIONS
from kiosk.services.errors import REFUSAL_REASONS, OperationError, ServiceCode
from kiosk.services.verification import VerificationResult, wipe

logger = logging.getLogger(__name__)

#: An operation in these states still waits for this kiosk session (for staff, or for the password).
OPEN_STATUSES = frozenset({OperationStatus.AWAITING_APPROVAL, OperationStatus.APPROVED})

class EndReason(StrEnum):
    """Why a session ended, recorded by the server when its request is withdrawn."""

    USER_CANCELLED = "user_cancelled"
    IDLE_TIMEOUT = "idle_timeout"
    FINISHED = "finished"
    CARD_REMOVED = "card_removed"
    ERROR = "error"
    APPROVAL_TIMEOUT = "approval_timeout"
    INTERRUPTED = "interrupted"
    """``kiosk flow`` was stopped by a signal."""


def withdrawn_because(code: str) -> EndReason:
    """The reason recorded when a failure with ``code`` ends a session whose request still waited."""
    return EndReason.APPROVAL_TIMEOUT if code == ServiceCode.APPROVAL_TIMEOUT else EndReason.ERROR


#: Statuses of an operation that ended with nothing done, and the code to show when it gave none
#: (the server's own, not the card's ``expired``).
ENDED_WITHOUT_EFFECT = {OperationStatus.FAILED: ServiceCode.FAILED,
                        OperationStatus.CANCELLED: ServiceCode.OPERATION_CANCELLED,
                        OperationStatus.EXPIRED: ServiceCode.OPERATION_EXPIRED}

#: Operations that wait for a staff decision; the others are answered at once.
NEEDS_STAFF = frozenset(OperationKind) - {OperationKind.LINK_STATUS}
#: Operations staff may approve at the kiosk while the server is away (finished with a voucher).
OFFLINE_CAPABLE = frozenset(OperationKind(kind) for kind in OFFLINE_OPERATIONS)


@dataclass(frozen=True)
class Request:
    """One operation being asked for: what, for which verification, under which key."""

    kind: OperationKind
    verification_id: str
    params: dict[str, Any]
    idempotency_key: str


def refusal_code(operation: Operation) -> str:
    """``refused``, or ``refused.<reason>`` when staff picked one of the reasons the kiosk can word."""
    reason = operation.result.get("refusal_reason")
    if isinstance(reason, str) and reason in REFUSAL_REASONS:
        return f"{ServiceCode.REFUSED}.{reason}"
    return ServiceCode.REFUSED


class OperationService:
    def __init__(self, linkage: LinkageClient, *, approval_timeout: float = 600.0) -> None:
        self._linkage = linkage
        self.approval_timeout = approval_timeout

    def request(self, kind: str, verification: VerificationResult, **params: Any) -> Request:
        """The request for ``kind`` backed by an online verification (a new idempotency key)."""
        if kind not in OPERATION_KINDS:
            raise ValueError(f"unknown operation {kind!r}")
        if not verification.online or verification.verification_id is None:
            raise OperationError(ServiceCode.OFFLINE_NOT_ONLINE, "this step needs the server")
        if kind != OperationKind.PRELINK and verification.match is not True:
            raise OperationError(ServiceCode.NO_MATCH, "the card is not linked to this account")
        return Request(OperationKind(kind), verification.verification_id, params, f"kiosk-{uuid.uuid4().hex}")

    def submit(self, request: Request) -> Operation:
        """Send the request (safe to call again with the same request: the key makes it one)."""
        return self._linkage.create_operation(request.kind, request.verification_id, request.params,
                                              request.idempotency_key)

    def wait_for_staff(self, operation: Operation, cancel: threading.Event) -> Operation:
        """Wait (keeping the operation alive) until staff decided; a refusal is an OperationError
        with the code ``refused``."""
        if operation.status is OperationStatus.AWAITING_APPROVAL:
            operation = self._linkage.wait_for_decision(operation.operation_id, _session_key(operation),
                                                        cancel=cancel, timeout=self.approval_timeout)
        if operation.status is OperationStatus.AWAITING_APPROVAL:
            raise OperationError(ServiceCode.APPROVAL_TIMEOUT, "staff did not decide in time")
        if operation.status is OperationStatus.REFUSED:
            raise OperationError(refusal_code(operation), "staff refused the request")
        if operation.status in ENDED_WITHOUT_EFFECT:
            raise OperationError(operation.error_code or ENDED_WITHOUT_EFFECT[operation.status],
                                 "the server could not complete it")
        return operation

    def set_password(self, operation: Operation, new_password: bytearray) -> Operation:
        """Send the user's new password once; the buffer is wiped here whatever happens."""
        try:
            return self._linkage.set_password(operation.operation_id, new_password.decode("utf-8"),
                                              _session_key(operation))
        finally:
            wipe(new_password)

    def abandon(self, operation: Operation | None, reason: str) -> None:
        """The session is over: end its operation on the server if it still waits for this session.

        Every way out of a session calls this. Best effort: if the server cannot be reached, the
        operation expires there once this kiosk's keep-alives have stopped.
        """
        if operation is None or operation.status not in OPEN_STATUSES or operation.session_key is None:
            return
        try:
            self._linkage.cancel_operation(operation.operation_id, operation.session_key, reason)
        except LinkageError as exc:
            logger.info("could not cancel operation %s (%s): it expires on the server when the "
                        "keep-alives stop", operation.operation_id, exc.code)

    # -- pre-link -----------------------------------------------------------------------------------

    def begin_prelink(self) -> DeviceAuthorization:
        """The device authorization: the user code and the QR payload (its complete URI) to show."""
        return self._linkage.device_authorize()

    def wait_for_account(self, authorization: DeviceAuthorization, cancel: threading.Event) -> str:
        """The account token once the user signed in on their phone."""
        return self._linkage.wait_for_device_token(authorization, cancel=cancel)


def _session_key(operation: Operation) -> str:
    if operation.session_key is None:
        raise OperationError(ServiceCode.FAILED, "the operation has no session key")
    return operation.session_key
