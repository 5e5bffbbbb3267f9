"""The flow's view of the kiosk's services: the core, a way to open the card, the password rules."""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from kiosk.linkage import LinkageError
from kiosk.nfc import CardConnection
from kiosk.services.core import KioskCore
from kiosk.services.operations import OperationService
from kiosk.services.outbox import OfflineOutbox
from kiosk.services.verification import VerificationSession

#: The reference service's rules, used until the server has said its own.
DEFAULT_POLICY: dict[str, Any] = {"min_length": 12, "max_length": 64, "min_classes": 3}


def password_problems(password: str, policy: dict[str, Any]) -> list[str]:
    """The rules a password still breaks, for the screen to show as the user types.

    The server checks the password again; this is only so that the user sees each rule turn
    green before sending it.
    """
    problems = []
    if len(password) < int(policy.get("min_length", 12)):
        problems.append("too_short")
    if len(password) > int(policy.get("max_length", 64)):
        problems.append("too_long")
    if any(ch not in string.printable or ch in "\t\n\r\x0b\x0c" for ch in password):
        problems.append("invalid_character")
    classes = sum((any(c.isupper() and c.isascii() for c in password),
                   any(c.islower() and c.isascii() for c in password),
                   any(c.isdigit() and c.isascii() for c in password),
                   any(c in string.punctuation or c == " " for c in password)))
    if classes < int(policy.get("min_classes", 3)):
        problems.append("too_few_classes")
    return problems


class CoreBackend:
    """``kiosk.flow.machine.Backend`` over the kiosk's core services."""

    def __init__(self, core: KioskCore, open_card: Callable[[], CardConnection]) -> None:
        self.core = core
        self._open_card = open_card
        self._policy: dict[str, Any] | None = None

    @property
    def operations(self) -> OperationService:
        return self.core.operations

    @property
    def outbox(self) -> OfflineOutbox:
        return self.core.outbox

    def account_ok(self, account_id: str) -> bool:
        return self.core.settings.account_id_ok(account_id)

    def open_card(self) -> CardConnection:
        return self._open_card()

    def verification(self, card: CardConnection, account_id: str) -> VerificationSession:
        return self.core.verification(card, account_id)

    def password_policy(self) -> dict[str, Any]:
        if self._policy is None:
            try:
                self._policy = dict(self.core.linkage.server_info().password_policy)
            except LinkageError:
                return dict(DEFAULT_POLICY)
        return dict(self._policy)

    def password_problems(self, password: str) -> list[str]:
        return password_problems(password, self.password_policy())

    def now(self) -> dt.datetime:
        return self.core.clock()

    def voucher_page(self, code: str) -> str | None:
        page = self.core.settings.offline.voucher_page_url
        # In the fragment: the browser fills the form from it and never sends it, so the voucher
        # reaches no server, proxy or access log before the user submits it.
        return f"{page}#{urlencode({'code': code})}" if page else None
