"""The two ways the window is started: ``kiosk demo`` (its developer panel, the demo server in its own
process) and ``kiosk run`` (the PC/SC readers through pcscd, as at a real counter)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton
from pytestqt.qtbot import QtBot

from kiosk.config import load_config
from kiosk.flow import MfaEnrolment, Screen
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.ui.app import open_counter
from kiosk.ui.demo import open_demo
from tests.conftest import Reader
from tests.helpers.kiosk import write_config
from tests.helpers.server_api import LINKED
from tests.linkserver.helpers import LiveServer, Staff
from tests.ui.counter import Counter, Slot


def click(qtbot: QtBot, button: QAbstractButton) -> None:
    qtbot.waitUntil(button.isEnabled, timeout=15_000)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_the_demo_and_its_developer_panel(qtbot: QtBot) -> None:
    said: list[str] = []
    with open_demo(language="en", use_pcscd=False, holder="linked", out=said.append) as demo:
        assert demo is not None, said
        window, panel = demo.window, demo.panel
        window.show()
        panel.show()
        counter = Counter(qtbot, window, Slot())
        qtbot.waitUntil(lambda: window.view.reader_ready, timeout=10_000)
        assert any("developer panel" in line for line in said)
        console = next(line for line in said if "staff console" in line)
        assert f"{demo.server.base_url}/console/ as desk-demo" in console
        assert "otpauth://totp/" in console and "█" in console  # the key's address, and as a QR code

        # Staff refuse: the user is told, in words.
        counter.begin("mfa_reset", LINKED)
        counter.wait_for(Screen.PLACE_CARD)
        click(qtbot, panel.insert_button)
        counter.wait_for(Screen.PIN)
        counter.enter_pin("1234", then=Screen.STAFF_WAIT)
        qtbot.waitUntil(lambda: panel.pending.count() == 1, timeout=15_000)
        assert LINKED in panel.pending.item(0).text()
        click(qtbot, panel.refuse_button)
        counter.wait_for(Screen.ERROR, timeout=20_000)
        assert window.view.error == "refused"
        # The kiosk hears of the decision by its long-poll, maybe before the panel hears back.
        qtbot.waitUntil(lambda: panel.staff_status.text().startswith("Refused"), timeout=15_000)
        counter.tap("OK")
        counter.wait_for(Screen.START)

        # Staff approve: the enrolment code is shown; taking the card off ends the session.
        counter.begin("mfa_reset", LINKED)
        counter.wait_for(Screen.PLACE_CARD)  # the card is still on the reader: it is read at once
        counter.wait_for(Screen.PIN)
        counter.enter_pin("1234", then=Screen.STAFF_WAIT)
        qtbot.waitUntil(lambda: panel.pending.count() == 1, timeout=15_000)
        click(qtbot, panel.approve_button)
        counter.wait_for(Screen.DONE, timeout=20_000)
        assert isinstance(window.view.result, MfaEnrolment) and window.view.result.code
        click(qtbot, panel.remove_button)
        counter.wait_for(Screen.START)

        # Another holder from the panel: an expired card is refused before any PIN.
        panel.holder.setCurrentIndex(panel.holder.findData("expired"))
        assert "2019000008" in panel.credentials.text() or "2019000008" in panel.hint.text()
        counter.begin("link_status", "2019000008")
        counter.wait_for(Screen.PLACE_CARD)
        click(qtbot, panel.insert_button)
        counter.wait_for(Screen.ERROR)
        assert window.view.error == "expired"
        assert "Kiosk: error" in panel.kiosk_status.text()


def test_the_counter_over_pcscd(qtbot: QtBot, tmp_path: Path, server: LiveServer, staff: Staff,
                                hierarchy: TestHierarchy, reader: Reader,
                                make_card: Callable[..., SimulatedCard]) -> None:
    """``kiosk run``'s window: pcscd's reader found by the card watcher, the card read through PC/SC."""
    settings = load_config(write_config(tmp_path, server, hierarchy, server.base, reader=reader.name))
    with open_counter(settings, kiosk_mode=False) as window:
        window.resize(1280, 800)
        window.show()
        counter = Counter(qtbot, window, Slot())
        assert window.language == "ja"  # the configuration's default
        counter.tap("English")
        qtbot.waitUntil(lambda: window.view.reader_ready and window.language == "en", timeout=10_000)
        counter.begin("mfa_reset", LINKED)
        counter.wait_for(Screen.PLACE_CARD)
        reader.insert(make_card("linked"))
        counter.wait_for(Screen.PIN)
        counter.enter_pin("1234", then=Screen.DONE)
        assert isinstance(window.view.result, MfaEnrolment) and window.view.result.code
        reader.remove()
        counter.wait_for(Screen.START)

        # Lifted on the PIN pad: pcscd reports it, the session ends on the error screen.
        counter.begin("link_status", LINKED)
        counter.wait_for(Screen.PLACE_CARD)
        reader.insert(make_card("linked"))
        counter.wait_for(Screen.PIN)
        counter.type_digits("12")
        reader.remove()
        counter.wait_for(Screen.ERROR)
        assert window.view.error == "card.removed" and window.view.pin_digits == 0
