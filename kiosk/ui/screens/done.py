"""The done screen: what the user takes away, by the flow's outcome, then "take your card" and Finish.

The view's ``result`` is one typed value per ``Outcome``; each has a method here that says what to
show for it. A code, ticket, voucher or authenticator enrolment is shown once and never logged.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import assert_never

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.flow import (
    Intent,
    LinkStatus,
    MfaEnrolment,
    PasswordSet,
    Prelinked,
    Result,
    SalvageTicket,
    Screen,
    Unlinked,
    View,
    VoucherIssued,
)
from kiosk.ui.base import screen
from kiosk.ui.qrcode import QrCode
from kiosk.ui.screens.frame import Frame
from kiosk.ui.screens.parts import code_label, local_time, shown
from kiosk.ui.translations import fill
from kiosk.ui.widgets import TITLE_PT, Notice, StatusIcon, label


@dataclass(frozen=True)
class Shown:
    """What the done screen shows for one result (empty parts are hidden)."""

    title: str
    message: str
    code: str = ""
    qr: str = ""
    expiry: str = ""
    once: str = ""
    instructions: str = ""


@screen(Screen.DONE)
class DoneScreen(Frame):
    """What the user takes away, by outcome, then "take your card" and Finish."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = label()
        self.code = code_label()
        self.qr = QrCode(min_mm=45.0)
        self.expiry = label(bold=True)
        self.once = Notice("warning")
        self.instructions = label()
        codes = QHBoxLayout()
        column = QVBoxLayout()
        column.addWidget(self.code)
        column.addWidget(self.expiry)
        column.addWidget(self.once)
        codes.addLayout(column, 2)
        codes.addWidget(self.qr, 1)
        self.body.addWidget(self.message)
        self.body.addLayout(codes)
        self.body.addWidget(self.instructions)
        self.body.addStretch(1)
        self.take_icon = StatusIcon("info", size_mm=10.0)
        self.take_card = label(TITLE_PT + 4, bold=True)
        self.take_detail = label()
        take = QFrame()
        take.setFrameShape(QFrame.Shape.Box)
        take.setLineWidth(4)
        take_layout = QGridLayout(take)
        take_layout.addWidget(self.take_icon, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        take_layout.addWidget(self.take_card, 0, 1)
        take_layout.addWidget(self.take_detail, 1, 1)
        take_layout.setColumnStretch(1, 1)
        self.body.addWidget(take)
        self.finish_button = self.action(Intent.FINISH)
        self.bottom.addStretch(1)
        self.bottom.addWidget(self.finish_button)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.finish_button.setText(self.tr("Finish"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        what = self.shown_for(view.result)
        self.title.setText(what.title)
        self.message.setText(what.message)
        self.code.setText(what.code)
        self.code.setVisible(bool(what.code))
        spoken = fill(self.tr("Code: %1"), " ".join(what.code)) if what.code else ""
        self.code.setAccessibleName(spoken)
        self.qr.set_text(what.qr or None)
        self.qr.setVisible(bool(what.qr))
        self.expiry.setText(what.expiry)
        self.expiry.setVisible(bool(what.expiry))
        self.once.set_message(what.once, "warning")
        self.instructions.setText(what.instructions)
        self.instructions.setVisible(bool(what.instructions))
        if view.card_present:
            self.take_icon.set_kind("warning")
            self.take_card.setText(self.tr("Take your card"))
            self.take_detail.setText(self.tr("The kiosk finishes when you take your card off the reader."))
        else:
            self.take_icon.set_kind("info")
            self.take_card.setText(self.tr("Do not forget your card"))
            self.take_detail.setText(self.tr("Press Finish when you are done."))

    def shown_for(self, result: Result | None) -> Shown:
        """What to show for ``result``, by its outcome (no result: a plain "done")."""
        match result:
            case VoucherIssued():
                return self._voucher(result)
            case PasswordSet():
                return Shown(self.tr("Your new password is set"),
                             self.tr("Use it from now on to sign in. You will receive a notice of this "
                                     "change."))
            case MfaEnrolment():
                return self._mfa(result)
            case SalvageTicket():
                return self._salvage(result)
            case Unlinked():
                return Shown(self.tr("The link is deleted"),
                             self.tr("This card is no longer linked to your account. You can link a card "
                                     "again at any time with \"Link my card\"."))
            case LinkStatus():
                return self._link_status(result)
            case Prelinked():
                return Shown(self.tr("Your card is linked"),
                             self.tr("From now on you can use your My Number Card to reset your password, "
                                     "re-register MFA or salvage your data."))
            case None:
                return Shown(self.tr("Done"), self.tr("Your request is complete."))
        assert_never(result)

    def _voucher(self, result: VoucherIssued) -> Shown:
        page = shown(result.page) if result.page else ""
        if page:
            instructions = fill(self.tr("Later, open the voucher page on your phone or computer (%1), enter "
                                        "this code and your account ID, and finish there."), page)
        else:
            instructions = self.tr("Later, open the university's voucher page on your phone or computer, "
                                   "enter this code and your account ID, and finish there. The help desk "
                                   "can tell you where to find it.")
        return Shown(
            self.tr("Your voucher code"),
            self.tr("Staff approved your request. The kiosk is offline, so it keeps the request and sends it "
                    "to the university's server when the connection is back."),
            code=shown(result.code), qr=page, instructions=instructions,
            once=self.tr("Write it down or photograph it now: it is shown only once, and it disappears when "
                         "you take your card."))

    def _valid_until(self, code: str, result: MfaEnrolment | SalvageTicket) -> str:
        moment = local_time(result.expires_at, self.tr("yyyy-MM-dd HH:mm"))
        return fill(self.tr("Valid until %1"), moment) if moment and code else ""

    def _mfa(self, result: MfaEnrolment) -> Shown:
        if result.uri:
            return self._authenticator(result)
        code = shown(result.code)
        title = self.tr("Your MFA enrolment code")
        if not code:
            return Shown(title, self.tr("Your registered sign-in methods were cleared, but the code can no "
                                        "longer be shown. Please ask a staff member."))
        return Shown(title, self.tr("Your registered sign-in methods were cleared. Use this code on the "
                                    "university's MFA registration page to register a new one."),
                     code=code, qr=code, expiry=self._valid_until(code, result),
                     once=self.tr("Write it down or photograph it now: it is shown only once."))

    def _authenticator(self, result: MfaEnrolment) -> Shown:
        """A new authenticator to register: its enrolment URI as a QR code, and its key in groups of
        four for an app that cannot scan."""
        key = " ".join(textwrap.wrap(shown(result.secret), 4))
        return Shown(
            self.tr("Register your authenticator app"),
            self.tr("Your registered sign-in methods were cleared. Open your authenticator app, choose to "
                    "add an account, and scan this QR code with it. If the app cannot scan, type in this "
                    "key instead."),
            code=key, qr=result.uri, expiry=self._valid_until(result.uri, result),
            once=self.tr("The QR code and the key are shown only once. Do not photograph them or show them "
                         "to anyone."),
            instructions=self.tr("Then sign in once with the six-digit code the app shows, before the time "
                                 "above, so that the new sign-in method is kept."))

    def _salvage(self, result: SalvageTicket) -> Shown:
        code = shown(result.code)
        title = self.tr("Your salvage ticket")
        if not code:
            return Shown(title, self.tr("The ticket can no longer be shown. Please ask a staff member."))
        if result.mode == "forwarding":
            what = self.tr("It sets up forwarding of your cloud mail.")
        elif result.mode == "backup":
            what = self.tr("It gives you access to back up your cloud mail and cloud drive data.")
        else:
            what = fill(self.tr("It gives you access to your cloud data (%1)."), shown(result.mode))
        return Shown(title, what, code=code, qr=code, expiry=self._valid_until(code, result),
                     once=self.tr("Write it down or photograph it now: it is shown only once."))

    def _link_status(self, result: LinkStatus) -> Shown:
        if not result.linked:
            return Shown(self.tr("Your card is not linked"),
                         self.tr("No card is linked to this account. Choose \"Link my card\" to link one."))
        name = shown(result.name_on_card)
        since = local_time(result.linked_at, self.tr("yyyy-MM-dd"))
        linked = fill(self.tr("Linked for %1 since %2."), name or "-", since or "-")
        return Shown(self.tr("Your card is linked"), linked)
