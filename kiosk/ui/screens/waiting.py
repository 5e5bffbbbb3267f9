"""The screens between the PIN and the result: verifying or working, the unlink question, the wait
for staff, and staff's approval while the server is away."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QHideEvent, QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from kiosk.flow import Intent, Screen, StaffCredential, View
from kiosk.ui.base import screen
from kiosk.ui.errors import ErrorWords
from kiosk.ui.keypads import OnScreenKeyboard
from kiosk.ui.screens.frame import Frame
from kiosk.ui.screens.parts import boxed, shown
from kiosk.ui.sizes import size_text
from kiosk.ui.translations import fill
from kiosk.ui.waitclock import WaitClock
from kiosk.ui.widgets import KEY_PT, BusyIndicator, Notice, label, mm


@screen(Screen.VERIFYING, Screen.WORKING)
class VerifyingScreen(Frame):
    """The card is being checked, or the request sent or saved: what is happening, and a busy sign."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.busy = BusyIndicator()
        self.detail = label()
        self.body.addWidget(self.busy)
        self.body.addWidget(self.detail)
        self.body.addStretch(1)
        self.cancel_button = self.action(Intent.CANCEL)
        self.bottom.addWidget(self.cancel_button)
        self.bottom.addStretch(1)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.cancel_button.setText(self.tr("Cancel"))
        self.busy.set_text(self.tr("Please wait"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        verifying = view.screen is Screen.VERIFYING
        if verifying and view.online:
            self.title.setText(self.tr("Checking your card with the university's server"))
            self.detail.setText(self.tr("This takes a few seconds. Leave your card on the reader."))
        elif verifying:
            self.title.setText(self.tr("Checking your card here at the kiosk"))
            self.detail.setText(self.tr("The university's server cannot be reached just now, so the kiosk "
                                        "checks your card by itself. Leave your card on the reader."))
        elif view.online:
            self.title.setText(self.tr("Working on your request"))
            self.detail.setText(self.tr("This takes a few seconds."))
        else:
            self.title.setText(self.tr("Saving your request on this kiosk"))
            self.detail.setText(self.tr("The kiosk is offline: your request is kept safely here and sent "
                                        "to the university's server when the connection is back."))
        # Once the request is on its way, stopping it half-way would leave the user unsure of the result.
        self.cancel_button.setVisible(verifying)


@screen(Screen.STAFF_WAIT)
class StaffWaitScreen(Frame):
    """Waiting for a staff decision; shows staff the account and the name on record to compare."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.busy = BusyIndicator()
        self.detail = label()
        self.staff_caption = label(bold=True)
        self.account = label()
        self.name = label()
        self.compare = label()
        self.clock = WaitClock()
        self.body.addWidget(self.busy)
        self.body.addWidget(self.clock)
        self.body.addWidget(self.detail)
        self.body.addWidget(boxed(self.staff_caption, self.account, self.name, self.compare))
        self.body.addStretch(1)
        self.cancel_button = self.action(Intent.CANCEL)
        self.bottom.addWidget(self.cancel_button)
        self.bottom.addStretch(1)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("A staff member is checking your request"))
        self.busy.set_text(self.tr("Please wait here"))
        self.detail.setText(self.tr("Nothing is changed until a staff member approves."))
        self.staff_caption.setText(self.tr("For staff"))
        self.compare.setText(self.tr("Compare the name with the name on the card, and the person with the "
                                     "photo on the card."))
        self.cancel_button.setText(self.tr("Cancel"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self.clock.set_limit(view.wait_seconds)
        self.account.setText(fill(self.tr("Account: %1"), shown(view.account)))
        if view.name_on_record:
            self.name.setText(fill(self.tr("Name on record: %1"), shown(view.name_on_record)))
        else:
            self.name.setText(self.tr("No name on record for this account."))


# -- unlink --------------------------------------------------------------------------------------------

@screen(Screen.UNLINK_CONFIRM)
class UnlinkConfirmScreen(Frame):
    """The explicit question before a link is deleted: Delete or Keep."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = label(bold=True)
        self.account = label()
        self.name = label()
        self.consequence = label()
        self.body.addWidget(self.question)
        self.body.addWidget(boxed(self.account, self.name))
        self.body.addWidget(self.consequence)
        self.body.addStretch(1)
        self.keep_button = self.action(Intent.CONFIRM_UNLINK, False)
        self.delete_button = self.action(Intent.CONFIRM_UNLINK, True)
        self.bottom.addWidget(self.keep_button)
        self.bottom.addStretch(1)
        self.bottom.addWidget(self.delete_button)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("Delete the link?"))
        self.question.setText(self.tr("Delete the link between this card and this account?"))
        self.consequence.setText(self.tr("After this, your My Number Card cannot be used for this account "
                                         "until you link it again. A staff member approves the deletion."))
        self.keep_button.setText(self.tr("Keep the link"))
        self.delete_button.setText(self.tr("Delete the link"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self.account.setText(fill(self.tr("Account: %1"), shown(view.account)))
        if view.name_on_record:
            self.name.setText(fill(self.tr("Name on record: %1"), shown(view.name_on_record)))
        else:
            self.name.setText(self.tr("No name on record for this account."))
        self.delete_button.setEnabled(not view.busy)


# -- offline approval ------------------------------------------------------------------------------------

@screen(Screen.OFFLINE_APPROVAL)
class OfflineApprovalScreen(Frame):
    """The server is away: staff approve here with their staff ID and offline PIN, which the kiosk
    checks against its staff roster; the request waits in the outbox.

    One on-screen keyboard types into the field chosen (a touch on it, or the focus moved there
    with Tab): the staff ID first, then the PIN, shown as dots. A physical keyboard types into the
    field with the focus. The PIN goes to the flow as a buffer, which wipes it once checked; the
    screen forgets it as it sends it, and whenever it is hidden.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explanation = label()
        self.staff_caption = label(bold=True)
        self.account = label()
        self.staff_id = self._field()
        self.offline_pin = self._field()
        self.offline_pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = Notice("no")
        self.keyboard = OnScreenKeyboard(keep_focus=True)
        # The screen's own "Approve as staff" is the one way to send; a second OK would only confuse.
        self.keyboard.ok_key.hide()
        self.keyboard.text_changed.connect(self._typed)
        self.keyboard.submitted.connect(lambda _text: self._next())
        self._texts = {"id": "", "pin": ""}
        self._target = "id"
        # The words and the fields on the left, the keyboard on the right: every message fits
        # beside the whole keyboard.
        columns = QHBoxLayout()
        columns.setSpacing(mm(4))
        words = QVBoxLayout()
        words.addWidget(self.explanation)
        words.addWidget(boxed(self.staff_caption, self.account, self.staff_id, self.offline_pin))
        words.addWidget(self.error)
        words.addStretch(1)
        columns.addLayout(words, 1)
        columns.addWidget(self.keyboard, 0, Qt.AlignmentFlag.AlignTop)
        self.body.addLayout(columns, 1)
        self.cancel_button = self.action(Intent.CANCEL)
        self.approve_button = self.action()
        self.approve_button.clicked.connect(self._approve)
        self.bottom.addWidget(self.cancel_button)
        self.bottom.addStretch(1)
        self.bottom.addWidget(self.approve_button)
        self.choose("id")
        self.retranslate()

    def _field(self) -> QLineEdit:
        field = QLineEdit()
        field.setReadOnly(True)
        field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        size_text(field, KEY_PT)
        field.setMinimumHeight(mm(12))
        field.installEventFilter(self)
        return field

    def retranslate(self) -> None:
        super().retranslate()
        self.title.setText(self.tr("The kiosk is offline"))
        self.explanation.setText(self.tr(
            "Your card has been checked here at the kiosk. The university's server cannot be reached just "
            "now, so a staff member approves your request here. It is kept safely on this kiosk and sent "
            "to the server when the connection is back; you then finish it on your phone or computer "
            "with a voucher code."))
        self.staff_caption.setText(self.tr("For staff: compare the person with the photo on the card, then "
                                           "enter your staff ID and your offline PIN, and approve."))
        self.staff_id.setAccessibleName(self.tr("Staff ID"))
        self.staff_id.setPlaceholderText(self.tr("Staff ID"))
        self.offline_pin.setAccessibleName(self.tr("Offline PIN"))
        self.offline_pin.setPlaceholderText(self.tr("Offline PIN"))
        self.cancel_button.setText(self.tr("Cancel"))
        self.approve_button.setText(self.tr("Approve as staff"))
        if self.view is not None:
            self.render(self.view)

    def render(self, view: View) -> None:  # type: ignore[override]
        super().render(view)
        self.account.setText(fill(self.tr("Account: %1"), shown(view.account)))
        if view.error:
            words = ErrorWords.describe(view.error)
            detail = f"{words.explanation} {words.remedy}"
            if view.roster_age is not None:  # the age says it shortest, beside the keyboard
                hours = f"{view.roster_age.total_seconds() / 3600:.0f}"
                age = fill(self.tr("The staff roster on this kiosk is %1 hours old."), hours)
                detail = f"{age} {words.remedy}"
            self.error.set_message(f"{words.title}\n{detail}", "no")
        else:
            self.error.set_message("")
        # A refusal is for staff, who know the screen: its words take the explanation's room.
        self.explanation.setVisible(not view.error)
        self._update()

    def choose(self, target: str, *, keys: bool = True) -> None:
        """Type into the staff ID (``id``) or the offline PIN (``pin``) from now on; with ``keys``,
        the keyboard shows the keys for it (digits for the PIN). Tab into a field leaves the keys
        as they are, so the keys Tab goes on to are the ones that were on show."""
        self._target = target
        self.keyboard.set_text(self._texts[target])
        if keys:
            self.keyboard.set_page("digits" if target == "pin" else "letters")
        for name, field in (("id", self.staff_id), ("pin", self.offline_pin)):
            field.setProperty("chosen", name == target)  # the style sheet marks the field typed into
            field.style().unpolish(field)
            field.style().polish(field)
        chosen = self.staff_id if target == "id" else self.offline_pin
        if self.isVisible() and not chosen.hasFocus():
            chosen.setFocus(Qt.FocusReason.OtherFocusReason)

    def first_focus(self) -> QWidget | None:
        return self.staff_id if self._target == "id" else self.offline_pin

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        fields = {self.staff_id: "id", self.offline_pin: "pin"}
        if watched in fields:
            kind = event.type()
            if kind == QEvent.Type.MouseButtonPress:
                self.choose(fields[watched])
            elif kind == QEvent.Type.FocusIn and self._target != fields[watched]:
                self.choose(fields[watched], keys=False)
            elif kind == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) \
                    and self.keyboard.handle_key(event):
                return True
        return super().eventFilter(watched, event)

    def _typed(self, text: str) -> None:
        self._texts[self._target] = text
        (self.staff_id if self._target == "id" else self.offline_pin).setText(text)
        self._update()

    def _update(self) -> None:
        busy = self.view is not None and self.view.busy
        ready = bool(self._texts["id"].strip()) and bool(self._texts["pin"])
        self.approve_button.setEnabled(ready and not busy)

    def _next(self) -> None:
        """The keyboard's Enter: from the staff ID on to the PIN, from the PIN to approving."""
        if self._target == "id":
            self.choose("pin")
        else:
            self._approve()

    def _approve(self) -> None:
        staff_id = self._texts["id"].strip()
        if not staff_id or not self._texts["pin"] or not self.approve_button.isEnabled():
            return
        pin = bytearray(self._texts["pin"].encode("ascii", "replace"))
        self._forget_pin()
        self.emit_intent(Intent.APPROVE_OFFLINE, StaffCredential(staff_id, pin))

    def _forget_pin(self) -> None:
        self._texts["pin"] = ""
        self.offline_pin.clear()
        self.choose("pin")

    def hideEvent(self, event: QHideEvent) -> None:
        self._texts["id"] = ""
        self.staff_id.clear()
        self._forget_pin()
        self.choose("id")
        super().hideEvent(event)
