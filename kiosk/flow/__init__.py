"""The counter's flow without Qt: the screens' state machine, its table, its link to the services."""

from kiosk.flow.intents import Intent, StaffCredential, Work
from kiosk.flow.machine import FlowController, IntentRefused
from kiosk.flow.ports import Backend, ImmediateRunner, Runner
from kiosk.flow.view import (
    FlowCode,
    LinkStatus,
    MfaEnrolment,
    Outcome,
    PasswordSet,
    Prelinked,
    Result,
    SalvageTicket,
    Screen,
    Unlinked,
    View,
    VoucherIssued,
)

__all__ = [
    "Backend",
    "FlowCode",
    "FlowController",
    "ImmediateRunner",
    "Intent",
    "IntentRefused",
    "LinkStatus",
    "MfaEnrolment",
    "Outcome",
    "PasswordSet",
    "Prelinked",
    "Result",
    "Runner",
    "SalvageTicket",
    "Screen",
    "StaffCredential",
    "Unlinked",
    "View",
    "VoucherIssued",
    "Work",
]
