"""Typed errors of the linkage client, each with a stable ``code`` the UI turns into words.

Which class an error is decides what the kiosk does next: ``ServerUnreachable`` switches it to
offline mode, ``ServerRefused`` carries the server's own documented refusal code to show,
``ServerProtocolError`` means the server answered something this client cannot trust.
Messages never carry a password, a token, an assertion, a nonce or a certificate.
"""

from __future__ import annotations

from collections.abc import Mapping


class LinkageError(Exception):
    """Anything that went wrong between the kiosk and the linkage server."""

    code: str = "linkage.error"

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

    code = "server.unreachable"

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

    code = "server.protocol"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class Cancelled(LinkageError):
    """The caller set the cancel event while the client was waiting."""

    code = "cancelled"

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class TimedOut(LinkageError):
    """A wait the client does on the caller's behalf (for a device sign-in) ran out of time."""

    code = "timeout"

    def __init__(self, message: str) -> None:
        super().__init__(message)
