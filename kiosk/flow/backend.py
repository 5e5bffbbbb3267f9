"""The flow's view of the kiosk's services: the core, a way to open the card, the password rules.

``DEFAULT_POLICY`` and ``password_problems`` (the rules checked as the user types) are the
services' own, offered here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from kiosk.flow.ports import Operations, Outbox, Roster, Verification
from kiosk.nfc import CardConnection
from kiosk.services.core import KioskCore
from kiosk.services.passwords import DEFAULT_POLICY, password_problems, server_policy

__all__ = ["DEFAULT_POLICY", "CoreBackend", "password_problems"]


class CoreBackend:
    """``kiosk.flow.ports.Backend`` over the kiosk's core services."""

    def __init__(self, core: KioskCore, open_card: Callable[[], CardConnection]) -> None:
        self.core = core
        self._open_card = open_card
        self._policy: dict[str, Any] | None = None

    @property
    def operations(self) -> Operations:
        return self.core.operations

    @property
    def outbox(self) -> Outbox:
        return self.core.outbox

    @property
    def roster(self) -> Roster:
        return self.core.roster

    def account_ok(self, account_id: str) -> bool:
        return self.core.settings.account_id_ok(account_id)

    def open_card(self) -> CardConnection:
        return self._open_card()

    def verification(self, card: CardConnection, account_id: str) -> Verification:
        return self.core.verification(card, account_id)

    def password_policy(self) -> dict[str, Any]:
        if self._policy is None:
            policy = server_policy(self.core.linkage)
            if policy is None:
                return dict(DEFAULT_POLICY)
            self._policy = policy
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
