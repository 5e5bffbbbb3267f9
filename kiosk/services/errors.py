"""The services' own refusals: a stable code for the screen's words, and a message for people."""

from __future__ import annotations


class ServiceError(Exception):
    """A step that cannot go on, for a reason with a stable ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class VerificationError(ServiceError):
    """A verification that cannot go on."""


class OperationError(ServiceError):
    """An operation that cannot go on."""


class OutboxError(ServiceError):
    """Offline evidence that cannot be recorded."""
