"""The screens after the PIN: verifying, unlink confirmation, staff approval, new password, done and errors.

Each is a passive ``ScreenWidget``: it renders the flow's ``View`` and emits intents. They live in
modules of their own; importing this one registers all of them.
"""

from __future__ import annotations

from kiosk.ui.screens.done import DoneScreen
from kiosk.ui.screens.error import ErrorScreen
from kiosk.ui.screens.password import NewPasswordScreen, PasswordField, PasswordKeyboard
from kiosk.ui.screens.waiting import (
    OfflineApprovalScreen,
    StaffWaitScreen,
    UnlinkConfirmScreen,
    VerifyingScreen,
)

__all__ = [
    "DoneScreen",
    "ErrorScreen",
    "NewPasswordScreen",
    "OfflineApprovalScreen",
    "PasswordField",
    "PasswordKeyboard",
    "StaffWaitScreen",
    "UnlinkConfirmScreen",
    "VerifyingScreen",
]
