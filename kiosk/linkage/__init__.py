"""The kiosk's client of the linkage server (httpx2 and authlib; no Qt, no card, no SQL).

``LinkageClient`` speaks the server's HTTP API: client-credentials tokens with ``private_key_jwt``,
challenges, card verifications, operations with staff approval, the device authorization grant
for pre-link and offline evidence uploads. ``protocol`` holds the bytes both sides must agree on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiosk.linkage.config import LinkageConfig
from kiosk.linkage.errors import (
    Cancelled,
    LinkageCode,
    LinkageError,
    ServerProtocolError,
    ServerRefused,
    ServerUnreachable,
    TimedOut,
)
from kiosk.linkage.models import (
    Challenge,
    DeviceAuthorization,
    DevicePoll,
    EvidenceFate,
    HealthReport,
    Operation,
    OperationKind,
    OperationStatus,
    Roster,
    RosterMember,
    ServerInfo,
    VerificationResult,
)
from kiosk.linkage.protocol import DOMAIN_TAG, b64url, signed_message, unb64url

if TYPE_CHECKING:
    from kiosk.linkage.client import LinkageClient

__all__ = [
    "DOMAIN_TAG",
    "Cancelled",
    "Challenge",
    "DeviceAuthorization",
    "DevicePoll",
    "EvidenceFate",
    "HealthReport",
    "LinkageClient",
    "LinkageCode",
    "LinkageConfig",
    "LinkageError",
    "Operation",
    "OperationKind",
    "OperationStatus",
    "Roster",
    "RosterMember",
    "ServerInfo",
    "ServerProtocolError",
    "ServerRefused",
    "ServerUnreachable",
    "TimedOut",
    "VerificationResult",
    "b64url",
    "signed_message",
    "unb64url",
]


def __getattr__(name: str) -> Any:
    # The client (httpx2, authlib) is loaded when first asked for: the window's first screen does
    # not wait for it.
    if name == "LinkageClient":
        from kiosk.linkage.client import LinkageClient

        return LinkageClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
