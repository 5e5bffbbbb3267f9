"""Typed errors of the linkage client, each with a stable ``code`` the UI turns into words.

Which class an error is decides what the kiosk does next: ``ServerUnreachable`` switches it to
offline mode, ``ServerRefused`` carries the server's own documented refusal code to show,
``ServerProtocolError`` means the server answered something this client cannot trust.
Messages never carry a password, a token, an assertion, a nonce or a certificate.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class LinkageCode(StrEnum):
    """The linkage client's own error codes (a ``ServerRefused`` carries the server's code instead,
    one of those it documents at ``GET /v1/codes``)."""

    ERROR = "linkage.error"
    """Something else went wrong between the kiosk and the server."""
    SERVER_UNREACHABLE = "server.unreachable"
    """The server could not be reached (the kiosk goes offline)."""
    SERVER_PROTOCOL = "server.protocol"
    """The server's answer broke the contract: not JSON, the wrong shape, too large, or a 500."""
    CANCELLED = "cancelled"
    """The caller set the cancel event while the client was waiting."""
    TIMEOUT = "timeout"
    """A wait the client does on the caller's behalf (for a device sign-in) ran out of time."""


class LinkageError(Exception):
    """Anything that went wrong between the kiosk and the linkage server."""

    #: A ``LinkageCode``, or for a ``ServerRefused`` the server's own code.
    code: str = LinkageCode.ERROR

    def __init__(self, message: str, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ServerUnreachable(LinkageError):
    """The server could not be reached: connection refused, DNS, TLS, a timeout, or a gateway
    answering 502/503/504 after the retries. The kiosk goes offline on this one."""

    code = LinkageCode.SERVER_UNREACHABLE

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ServerRefused(LinkageError):
    """The server answered and refused, with one of its documented codes.

    ``code`` is the server's code (``revoked``, ``rate_limited``, ``password_policy``, …),
    ``status`` the HTTP status, and ``extra`` the refusal's details when the server gave them:
    ``problems`` (list of rule codes), ``policy`` (dict) and ``retry_after`` (seconds).
    """

    def __init__(self, code: str, message: str, *, status: int,
                 extra: Mapping[str, object] | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.extra: dict[str, object] = dict(extra or {})

    @property
    def retry_after(self) -> int | None:
        value = self.extra.get("retry_after")
        return value if isinstance(value, int) else None


class ServerProtocolError(LinkageError):
    """The server's answer broke the contract: not JSON, the wrong shape, too large, or a 500."""

    code = LinkageCode.SERVER_PROTOCOL

    def __init__(self, message: str) -> None:
        super().__init__(message)


class Cancelled(LinkageError):
    """The caller set the cancel event while the client was waiting."""

    code = LinkageCode.CANCELLED

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class TimedOut(LinkageError):
    """A wait the client does on the caller's behalf (for a device sign-in) ran out of time."""

    code = LinkageCode.TIMEOUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
