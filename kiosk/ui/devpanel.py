"""The demo's developer panel: put simulated cards on the reader and answer as the help-desk staff would.

A small separate window beside the kiosk in ``kiosk demo``. It is a developer's tool, so it speaks
English only and is never part of a counter's install. The staff side uses the reference server's
staff API (``GET /v1/staff/operations``, ``POST /v1/staff/operations/{id}/decision``) with the demo
staff client's own key, exactly as the staff console would.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.flow import View
from kiosk.linkage.auth import load_client_key
from kiosk.linkage.transport import ShortAssertion
from kiosk.nfc.errors import tries_left_words
from kiosk.nfc.sim import CardProfile, SimulatedCard, TestHierarchy
from kiosk.ui.runner import QtRunner

logger = logging.getLogger(__name__)

#: Between the kiosk window and the panel beside it, in pixels.
PANEL_GAP = 16


def panel_geometry(window: QRect, panel: QSize, screen: QRect, gap: int = PANEL_GAP) -> QRect:
    """Where the panel goes: beside the window (right, else left) when it fits on the screen,
    otherwise over the window at the screen's right edge; never beyond the screen."""
    size = QSize(min(panel.width(), screen.width()), min(panel.height(), screen.height()))
    top = max(screen.top(), min(window.top(), screen.bottom() + 1 - size.height()))
    if window.right() + gap + size.width() <= screen.right():
        return QRect(QPoint(window.right() + 1 + gap, top), size)
    if window.left() - gap - size.width() >= screen.left():
        return QRect(QPoint(window.left() - gap - size.width(), top), size)
    return QRect(QPoint(screen.right() + 1 - size.width(), top), size)

STAFF_ID = "demo.staff"
REFRESH_MS = 1500
#: The holders a demo usually needs first; the rest of the test hierarchy follows.
FIRST_HOLDERS = ("linked", "linked-old", "unlinked", "expired", "revoked", "blocked", "last-try")
#: The account each holder's card belongs to in the demo server's seed data.
DEMO_ACCOUNTS = {
    "linked": "2024000001", "linked-old": "2024000001", "unlinked": "2024000002",
    "latin": "2019000003", "blocked": "2024000004", "last-try": "2024000005", "old-root": "2015000006",
    "revoked": "2024000007", "expired": "2019000008", "not-yet-valid": "2024000009",
}
OPERATION_NAMES = {
    "password_reset": "password reset", "mfa_reset": "MFA re-registration", "salvage": "data salvage",
    "prelink": "link the card", "unlink": "delete the link", "link_status": "check the link",
}


class Slot(Protocol):
    """What the panel needs of the card's slot (``kiosk.ui.demo.CardSlot``)."""

    def insert(self, card: SimulatedCard) -> None: ...

    def remove(self) -> None: ...


class DemoCards:
    """One simulated card per holder, kept between insertions so PIN counters behave like a real card's."""

    def __init__(self, hierarchy: TestHierarchy) -> None:
        self.hierarchy = hierarchy
        self._cards: dict[str, SimulatedCard] = {}

    @property
    def holders(self) -> list[str]:
        rest = sorted(slug for slug in self.hierarchy.holders if slug not in FIRST_HOLDERS)
        return [slug for slug in FIRST_HOLDERS if slug in self.hierarchy.holders] + rest

    def card(self, slug: str) -> SimulatedCard:
        if slug not in self._cards:
            self._cards[slug] = SimulatedCard(CardProfile.from_holder(self.hierarchy, slug))
        return self._cards[slug]

    def reset(self) -> None:
        """Forget every card: the next insertion brings fresh PIN counters."""
        self._cards.clear()

    def describe(self, slug: str) -> str:
        spec = self.hierarchy.holder(slug).spec
        return f"{spec.name}: {spec.description}"

    def credentials(self, slug: str) -> str:
        """What to type at the kiosk for this holder's card."""
        spec = self.hierarchy.holder(slug).spec
        account = DEMO_ACCOUNTS.get(slug, "none")
        pins = f"PIN {spec.pin}"
        if spec.cardinfo_pin and spec.cardinfo_pin != spec.pin:
            pins += f", card-info PIN {spec.cardinfo_pin}"
        return f"Account {account} · {pins}"


class StaffConsole:
    """The staff side of the reference server: pending operations and decisions (blocking calls)."""

    def __init__(self, base_url: str, client_id: str, key_path: Path) -> None:
        self.base_url = base_url.rstrip("/")
        token_url = self.base_url + "/oauth/token"
        key = load_client_key(key_path)
        self._lock = threading.Lock()
        self._client = OAuth2Client(
            client_id, key.key, token_endpoint_auth_method=ShortAssertion(token_url, key.alg),
            grant_type="client_credentials", token_endpoint=token_url, timeout=10, trust_env=False)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._lock:
            if not self._client.token:
                self._client.fetch_token()
            response = self._client.request(method, self.base_url + path, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    def pending(self) -> list[dict[str, Any]]:
        operations = self._request("GET", "/v1/staff/operations").get("operations", [])
        return [op for op in operations if isinstance(op, dict)]

    def decide(self, operation_id: str, approve: bool, staff_id: str = STAFF_ID) -> dict[str, Any]:
        answer: dict[str, Any] = self._request(
            "POST", f"/v1/staff/operations/{operation_id}/decision",
            json={"approve": approve, "staff_id": staff_id})
        return answer

    def close(self) -> None:
        self._client.close()


class DevPanel(QWidget):
    """Card on and off the reader, which holder's card, and the staff's approve / refuse."""

    def __init__(self, cards: DemoCards, slot: Slot, console: StaffConsole, runner: QtRunner, *,
                 server_url: str = "", state: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Kiosk demo: developer panel")
        self.cards = cards
        self.slot = slot
        self.console = console
        self.runner = runner
        self._inserted: str | None = None
        self._refreshing = False
        layout = QVBoxLayout(self)
        layout.addWidget(self._card_box())
        layout.addWidget(self._staff_box())

        self.kiosk_status = QLabel("Kiosk: start")
        layout.addWidget(self.kiosk_status)
        if server_url:
            server = QLabel(f"Server {server_url}" + (f"\nState {state}" if state else ""))
            server.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(server)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._holder_changed()
        self._update_buttons()

    def _card_box(self) -> QGroupBox:
        """The holder's choice, the card's PINs, and putting the card on or off the reader."""
        card_box = QGroupBox("Card")
        card_layout = QVBoxLayout(card_box)
        self.holder = QComboBox()
        self.holder.setAccessibleName("Card holder")
        for slug in self.cards.holders:
            self.holder.addItem(f"{slug} ({self.cards.hierarchy.holder(slug).spec.name})", slug)
        self.holder.currentIndexChanged.connect(self._holder_changed)
        self.hint = QLabel()
        self.credentials = QLabel()
        self.credentials.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bold = self.credentials.font()
        bold.setBold(True)
        self.credentials.setFont(bold)
        buttons = QHBoxLayout()
        self.insert_button = QPushButton("Put the card on the reader")
        self.insert_button.clicked.connect(self.insert_card)
        self.remove_button = QPushButton("Take the card off")
        self.remove_button.clicked.connect(self.remove_card)
        self.reset_button = QPushButton("New cards")
        self.reset_button.setToolTip("Fresh cards: PIN counters back to where each holder's card starts")
        self.reset_button.clicked.connect(self.reset_cards)
        for button in (self.insert_button, self.remove_button, self.reset_button):
            button.setAccessibleName(button.text())
            buttons.addWidget(button)
        self.card_status = QLabel("No card on the reader")
        card_layout.addWidget(self.holder)
        card_layout.addWidget(self.hint)
        card_layout.addWidget(self.credentials)
        card_layout.addLayout(buttons)
        card_layout.addWidget(self.card_status)
        return card_box

    def _staff_box(self) -> QGroupBox:
        """The operations waiting for staff, with approve and refuse."""
        staff_box = QGroupBox("Staff")
        staff_layout = QVBoxLayout(staff_box)
        self.pending = QListWidget()
        self.pending.setAccessibleName("Operations waiting for staff")
        decide = QHBoxLayout()
        self.approve_button = QPushButton("Approve")
        self.approve_button.clicked.connect(lambda: self.decide(True))
        self.refuse_button = QPushButton("Refuse")
        self.refuse_button.clicked.connect(lambda: self.decide(False))
        for button in (self.approve_button, self.refuse_button):
            button.setAccessibleName(button.text())
            decide.addWidget(button)
        self.staff_status = QLabel("Nothing waiting")
        staff_layout.addWidget(self.pending)
        staff_layout.addLayout(decide)
        staff_layout.addWidget(self.staff_status)
        return staff_box

    # -- the card ---------------------------------------------------------------------------------

    @property
    def selected_holder(self) -> str:
        return str(self.holder.currentData())

    def select_holder(self, slug: str) -> None:
        index = self.holder.findData(slug)
        if index >= 0:
            self.holder.setCurrentIndex(index)

    def _holder_changed(self, _index: int = 0) -> None:
        self.hint.setText(self.cards.describe(self.selected_holder))
        self.credentials.setText(self.cards.credentials(self.selected_holder))

    def insert_card(self) -> None:
        slug = self.selected_holder
        try:
            self.slot.insert(self.cards.card(slug))
        except (OSError, RuntimeError) as exc:
            self.card_status.setText(f"The card could not be put on the reader: {exc}")
            return
        self._inserted = slug
        self.card_status.setText(f"On the reader: {slug} ({self.cards.hierarchy.holder(slug).spec.name})")
        self._update_buttons()

    def remove_card(self) -> None:
        self.slot.remove()
        self._inserted = None
        self.card_status.setText("No card on the reader")
        self._update_buttons()

    def reset_cards(self) -> None:
        if self._inserted is not None:
            self.remove_card()
        self.cards.reset()

    def _update_buttons(self) -> None:
        self.insert_button.setEnabled(self._inserted is None)
        self.remove_button.setEnabled(self._inserted is not None)

    # -- the staff --------------------------------------------------------------------------------

    def refresh(self) -> None:
        if self._refreshing:
            return
        self._refreshing = True
        self.runner.submit(self.console.pending, self._show_pending, self._staff_failed)

    def _show_pending(self, operations: list[dict[str, Any]]) -> None:
        self._refreshing = False
        chosen = self._chosen_id()
        self.pending.clear()
        for op in operations:
            kind = OPERATION_NAMES.get(str(op.get("kind")), str(op.get("kind")))
            item = QListWidgetItem(f"{kind} for {op.get('account_id')} ({str(op.get('operation_id'))[:8]}…)")
            item.setData(Qt.ItemDataRole.UserRole, op.get("operation_id"))
            self.pending.addItem(item)
            if op.get("operation_id") == chosen:
                self.pending.setCurrentItem(item)
        if operations and self.pending.currentItem() is None:
            self.pending.setCurrentRow(0)
        has = bool(operations)
        self.approve_button.setEnabled(has)
        self.refuse_button.setEnabled(has)
        if not has and not self.staff_status.text().startswith(("Approved", "Refused")):
            self.staff_status.setText("Nothing waiting")

    def _staff_failed(self, exc: BaseException) -> None:
        self._refreshing = False
        self.staff_status.setText(f"The server's staff API failed: {exc}")

    def _chosen_id(self) -> str | None:
        item = self.pending.currentItem()
        value = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return str(value) if value else None

    def decide(self, approve: bool) -> None:
        operation_id = self._chosen_id()
        if operation_id is None:
            return
        self.approve_button.setEnabled(False)
        self.refuse_button.setEnabled(False)

        def decided(op: dict[str, Any]) -> None:
            word = "Approved" if approve else "Refused"
            self.staff_status.setText(f"{word}: {OPERATION_NAMES.get(str(op.get('kind')), op.get('kind'))} "
                                      f"for {op.get('account_id')} (now {op.get('status')})")
            self.refresh()

        self.runner.submit(lambda: self.console.decide(operation_id, approve), decided, self._staff_failed)

    # -- the kiosk ----------------------------------------------------------------------------------

    def show_view(self, view: View) -> None:
        """What the kiosk shows now (connected to ``KioskWindow.view_shown``)."""
        parts = [view.screen.value]
        if view.tries_left is not None:
            parts.append(f"PIN: {tries_left_words(view.tries_left)}")
        if view.error:
            parts.append(f"error {view.error}")
        if not view.online:
            parts.append("offline")
        self.kiosk_status.setText("Kiosk: " + ", ".join(parts))

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        super().closeEvent(event)

