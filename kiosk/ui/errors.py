"""Words for every error code the kiosk can meet: a title, what happened, and what to do next.

The card layer, the linkage client, the services, the flow and the linkage server each give a
failure a stable code; this is the one table that turns a code into words for the person at the
counter. Codes that call for the same remedy share one entry. The words are English source text
for Qt's translation system (context ``ErrorWords``), translated when they are looked up, so a
language switch changes them at once. No entry ever shows an exception's own message.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QCoreApplication, QObject

from kiosk.ui.translations import fill

CONTEXT = "ErrorWords"


class ErrorText(NamedTuple):
    """What the error screen shows: unpacks as ``(title, explanation, remedy)``."""

    title: str
    explanation: str
    remedy: str


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Marks ``text`` for lupdate under ``context`` and returns it untranslated (typed, unlike Qt's)."""
    return text


# Each group: untranslated English source texts (marked for lupdate), translated on lookup.
# An explanation may hold "%1", replaced by the error's code where showing it helps staff.
_GROUPS: dict[str, tuple[str, str, str]] = {
    "reader_none": (
        QT_TRANSLATE_NOOP("ErrorWords", "No card reader"),
        QT_TRANSLATE_NOOP("ErrorWords", "The kiosk cannot find its card reader."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member. Staff: connect the card reader and "
                          "check that the smart card service is running."),
    ),
    "reader_failed": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card reader stopped working"),
        QT_TRANSLATE_NOOP("ErrorWords", "The kiosk lost contact with its card reader."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member. Staff: check the reader's cable, "
                          "then start again."),
    ),
    "reader_unsuitable": (
        QT_TRANSLATE_NOOP("ErrorWords", "This card reader cannot be used"),
        QT_TRANSLATE_NOOP("ErrorWords", "The card reader does not support the commands this card needs."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member. Staff: connect a supported card "
                          "reader."),
    ),
    "card_absent": (
        QT_TRANSLATE_NOOP("ErrorWords", "No card on the reader"),
        QT_TRANSLATE_NOOP("ErrorWords", "The kiosk could not find a card on the reader."),
        QT_TRANSLATE_NOOP("ErrorWords", "Place your My Number Card on the reader and leave it there until "
                          "the end."),
    ),
    "card_removed": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card was taken off the reader"),
        QT_TRANSLATE_NOOP("ErrorWords", "Your card has to stay on the reader for the whole procedure."),
        QT_TRANSLATE_NOOP("ErrorWords", "Start again, place your card on the reader and leave it there "
                          "until the kiosk asks you to take it."),
    ),
    "card_reset": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card was interrupted"),
        QT_TRANSLATE_NOOP("ErrorWords", "The card was reset while it was in use, so the PIN has to be "
                          "entered again."),
        QT_TRANSLATE_NOOP("ErrorWords", "Start again and enter your PIN once more. Leave the card on the "
                          "reader."),
    ),
    "card_unreadable": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card could not be read"),
        QT_TRANSLATE_NOOP("ErrorWords", "The card did not answer as expected."),
        QT_TRANSLATE_NOOP("ErrorWords", "Take the card off the reader, place it flat on the reader again "
                          "and start again. If this happens again, please call a staff member."),
    ),
    "card_unknown": (
        QT_TRANSLATE_NOOP("ErrorWords", "This is not a My Number Card"),
        QT_TRANSLATE_NOOP("ErrorWords", "The card on the reader is not a My Number Card, or it has no "
                          "certificate for identification."),
        QT_TRANSLATE_NOOP("ErrorWords", "Take this card off the reader and place your My Number Card "
                          "instead."),
    ),
    "card_no_card_info": (
        QT_TRANSLATE_NOOP("ErrorWords", "This card cannot be used to link an account"),
        QT_TRANSLATE_NOOP("ErrorWords", "Linking reads the name printed on the card from the card "
                          "information application on the card, and this card does not have one (a Basic "
                          "Resident Registry Card, for example)."),
        QT_TRANSLATE_NOOP("ErrorWords", "Link with your My Number Card instead. If this is your My Number "
                          "Card, please call a staff member."),
    ),
    "key_unsupported": (
        QT_TRANSLATE_NOOP("ErrorWords", "This card cannot be used here"),
        QT_TRANSLATE_NOOP("ErrorWords", "The card uses a kind of key that this service does not accept "
                          "yet."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member."),
    ),
    "pin_format": (
        QT_TRANSLATE_NOOP("ErrorWords", "The PIN could not be checked"),
        QT_TRANSLATE_NOOP("ErrorWords", "The PIN for identification is 4 digits."),
        QT_TRANSLATE_NOOP("ErrorWords", "Enter the 4-digit PIN you chose for identification when you "
                          "received the card."),
    ),
    "pin_wrong": (
        QT_TRANSLATE_NOOP("ErrorWords", "Wrong PIN"),
        QT_TRANSLATE_NOOP("ErrorWords", "The card did not accept this PIN."),
        QT_TRANSLATE_NOOP("ErrorWords", "Check your PIN and enter it again. Too many wrong PINs lock the "
                          "PIN, and it then has to be reset before the card can be used here."),
    ),
    "pin_last_try": (
        QT_TRANSLATE_NOOP("ErrorWords", "Only one try left"),
        QT_TRANSLATE_NOOP("ErrorWords", "A wrong PIN now would lock the card."),
        QT_TRANSLATE_NOOP("ErrorWords", "If you are not sure of your PIN, stop here and have it reset at "
                          "your municipal office."),
    ),
    "pin_blocked": (
        QT_TRANSLATE_NOOP("ErrorWords", "The PIN is locked"),
        QT_TRANSLATE_NOOP("ErrorWords", "The PIN was entered wrongly too many times, so the card has "
                          "locked it."),
        QT_TRANSLATE_NOOP("ErrorWords", "Have the PIN reset at your municipal office (bring this card and "
                          "an identity document). If you know your signature certificate's password, you "
                          "can also reset it at a convenience store, after applying with J-LIS's "
                          "smartphone app. Then come back to this desk."),
    ),
    "expired": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card's certificate has expired"),
        QT_TRANSLATE_NOOP("ErrorWords", "The electronic certificate on your card is past its expiry date. "
                          "It has to be renewed every few years, separately from the card."),
        QT_TRANSLATE_NOOP("ErrorWords", "Renew the certificate at your municipal office (bring the card), "
                          "then come back to this desk."),
    ),
    "not_yet_valid": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card's certificate is not valid yet"),
        QT_TRANSLATE_NOOP("ErrorWords", "The electronic certificate on your card has not started its "
                          "validity yet. This can happen just after it was issued or renewed."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please try again later. If this continues, call a staff member "
                          "(the kiosk's clock may be wrong)."),
    ),
    "revoked": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card's certificate has been revoked"),
        QT_TRANSLATE_NOOP("ErrorWords", "The electronic certificate on your card is no longer valid: it "
                          "was revoked, for example because the card was reported lost or the "
                          "certificate was reissued."),
        QT_TRANSLATE_NOOP("ErrorWords", "Contact your municipal office to have a new certificate issued."),
    ),
    "revocation_unknown": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card cannot be checked right now"),
        QT_TRANSLATE_NOOP("ErrorWords", "Whether the card's certificate is still valid cannot be "
                          "confirmed at the moment."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please try again later, or call a staff member."),
    ),
    "card_untrusted": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card could not be confirmed"),
        QT_TRANSLATE_NOOP("ErrorWords", "The card's certificate or signature could not be confirmed as "
                          "those of a genuine My Number Card (code: %1)."),
        QT_TRANSLATE_NOOP("ErrorWords", "Take the card off the reader, place it again and start again. If "
                          "this happens again, please call a staff member."),
    ),
    "no_match": (
        QT_TRANSLATE_NOOP("ErrorWords", "This card is not linked to this account"),
        QT_TRANSLATE_NOOP("ErrorWords", "Your card was read correctly, but it is not linked to the "
                          "account ID you entered."),
        QT_TRANSLATE_NOOP("ErrorWords", "Check the account ID and start again. If you have never linked "
                          "your card to your account, choose \"Link my card\" first."),
    ),
    "invalid_account": (
        QT_TRANSLATE_NOOP("ErrorWords", "This account ID is not valid"),
        QT_TRANSLATE_NOOP("ErrorWords", "The account ID does not have the university's account ID format."),
        QT_TRANSLATE_NOOP("ErrorWords", "Check your account ID and enter it again."),
    ),
    "server_unreachable": (
        QT_TRANSLATE_NOOP("ErrorWords", "The university's server cannot be reached"),
        QT_TRANSLATE_NOOP("ErrorWords", "The kiosk lost its connection to the university's server, so "
                          "your request could not be completed."),
        QT_TRANSLATE_NOOP("ErrorWords", "Start again: while the server is away, a staff member can approve "
                          "a password reset, MFA re-registration or data salvage here, and you get a "
                          "voucher code to finish on your phone once the server is back. Or come back "
                          "later."),
    ),
    "offline_unavailable": (
        QT_TRANSLATE_NOOP("ErrorWords", "The kiosk is offline"),
        QT_TRANSLATE_NOOP("ErrorWords", "The university's server cannot be reached, and this kiosk is not "
                          "set up to check cards by itself."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please come back later, or ask a staff member for help."),
    ),
    "offline_not_for_operation": (
        QT_TRANSLATE_NOOP("ErrorWords", "This cannot be done while offline"),
        QT_TRANSLATE_NOOP("ErrorWords", "The university's server cannot be reached, and this request needs "
                          "it. While offline, the kiosk can only help with a password reset, MFA "
                          "re-registration or data salvage."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please come back later, when the kiosk is online again."),
    ),
    "offline_not_saved": (
        QT_TRANSLATE_NOOP("ErrorWords", "The request could not be saved"),
        QT_TRANSLATE_NOOP("ErrorWords", "The kiosk is offline and could not keep your request for the "
                          "university's server (code: %1)."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please come back later, or call a staff member."),
    ),
    "server_not_configured": (
        QT_TRANSLATE_NOOP("ErrorWords", "The kiosk has no server"),
        QT_TRANSLATE_NOOP("ErrorWords", "No university server is set up for this kiosk."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member. Staff: check the kiosk's "
                          "configuration."),
    ),
    "server_protocol": (
        QT_TRANSLATE_NOOP("ErrorWords", "The server's answer could not be used"),
        QT_TRANSLATE_NOOP("ErrorWords", "The university's server answered in a way the kiosk does not "
                          "understand (code: %1)."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please try again later, or call a staff member."),
    ),
    "server_refused_kiosk": (
        QT_TRANSLATE_NOOP("ErrorWords", "The server refused the request"),
        QT_TRANSLATE_NOOP("ErrorWords", "The university's server refused this kiosk's request "
                          "(code: %1)."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member and show them the code. Staff: check "
                          "the kiosk's registration with the server."),
    ),
    "verify_again": (
        QT_TRANSLATE_NOOP("ErrorWords", "The card check has to be done again"),
        QT_TRANSLATE_NOOP("ErrorWords", "The check of your card is no longer valid for this request: it "
                          "took too long, or it was already used (code: %1)."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please start again."),
    ),
    "already_decided": (
        QT_TRANSLATE_NOOP("ErrorWords", "This request was already decided"),
        QT_TRANSLATE_NOOP("ErrorWords", "A staff member already approved or refused this request."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please ask the staff member at the desk."),
    ),
    "request_lapsed": (
        QT_TRANSLATE_NOOP("ErrorWords", "The request was closed"),
        QT_TRANSLATE_NOOP("ErrorWords", "The request was closed before it was finished, because it "
                          "waited too long (code: %1). Nothing was changed."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please start again."),
    ),
    "rate_limited": (
        QT_TRANSLATE_NOOP("ErrorWords", "Too many attempts"),
        QT_TRANSLATE_NOOP("ErrorWords", "There have been too many requests for this account or from this "
                          "kiosk in a short time."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please wait a few minutes, then start again."),
    ),
    "password_policy": (
        QT_TRANSLATE_NOOP("ErrorWords", "The password was not accepted"),
        QT_TRANSLATE_NOOP("ErrorWords", "The new password does not meet the university's password rules."),
        QT_TRANSLATE_NOOP("ErrorWords", "Start again and choose a password that meets every rule shown on "
                          "the password screen."),
    ),
    "salvage_not_eligible": (
        QT_TRANSLATE_NOOP("ErrorWords", "Data salvage is not available for this account"),
        QT_TRANSLATE_NOOP("ErrorWords", "Salvage is only for former members, within a limited period "
                          "after they left the university."),
        QT_TRANSLATE_NOOP("ErrorWords", "If you think this is wrong, please ask a staff member."),
    ),
    "account_already_linked": (
        QT_TRANSLATE_NOOP("ErrorWords", "This account is already linked to a card"),
        QT_TRANSLATE_NOOP("ErrorWords", "An account can be linked to only one card."),
        QT_TRANSLATE_NOOP("ErrorWords", "To link a new card, first delete the existing link with \"Delete "
                          "my link\", then link again."),
    ),
    "card_already_linked": (
        QT_TRANSLATE_NOOP("ErrorWords", "This card is already linked to another account"),
        QT_TRANSLATE_NOOP("ErrorWords", "A card can be linked to only one account."),
        QT_TRANSLATE_NOOP("ErrorWords", "Use the account this card is linked to, or delete that link first "
                          "with \"Delete my link\"."),
    ),
    "not_linked": (
        QT_TRANSLATE_NOOP("ErrorWords", "There is no link to delete"),
        QT_TRANSLATE_NOOP("ErrorWords", "This account is not linked to any card."),
        QT_TRANSLATE_NOOP("ErrorWords", "Nothing needs to be done. You can link a card with \"Link my "
                          "card\"."),
    ),
    "account_unavailable": (
        QT_TRANSLATE_NOOP("ErrorWords", "This account cannot be used"),
        QT_TRANSLATE_NOOP("ErrorWords", "The university's directory has no usable account for this "
                          "request."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please ask a staff member for help."),
    ),
    "server_busy": (
        QT_TRANSLATE_NOOP("ErrorWords", "The university's server is busy"),
        QT_TRANSLATE_NOOP("ErrorWords", "Many requests reached the server at the same moment, so nothing "
                          "was changed."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please wait a moment, then start again."),
    ),
    "directory_unavailable": (
        QT_TRANSLATE_NOOP("ErrorWords", "The university's account directory did not answer"),
        QT_TRANSLATE_NOOP("ErrorWords", "The directory that holds your account did not answer in time, so "
                          "nothing was changed."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please wait a few minutes, then start again. If this happens again, "
                          "please ask a staff member."),
    ),
    "mfa_unavailable": (
        QT_TRANSLATE_NOOP("ErrorWords", "The university's sign-in method server did not answer"),
        QT_TRANSLATE_NOOP("ErrorWords", "The server that keeps your sign-in methods did not answer in time, "
                          "so nothing was changed."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please wait a few minutes, then start again. If this happens again, "
                          "please ask a staff member."),
    ),
    "device_expired": (
        QT_TRANSLATE_NOOP("ErrorWords", "The sign-in code expired"),
        QT_TRANSLATE_NOOP("ErrorWords", "The sign-in on your phone was not completed in time."),
        QT_TRANSLATE_NOOP("ErrorWords", "Start \"Link my card\" again and sign in on your phone right "
                          "away."),
    ),
    "device_denied": (
        QT_TRANSLATE_NOOP("ErrorWords", "The sign-in was not completed"),
        QT_TRANSLATE_NOOP("ErrorWords", "The sign-in on your phone was refused or cancelled."),
        QT_TRANSLATE_NOOP("ErrorWords", "Start again and sign in with your own university account."),
    ),
    "account_proof": (
        QT_TRANSLATE_NOOP("ErrorWords", "The sign-in could not be used"),
        QT_TRANSLATE_NOOP("ErrorWords", "The sign-in on your phone was for another account, or it is no "
                          "longer valid."),
        QT_TRANSLATE_NOOP("ErrorWords", "Start again and sign in with the same account ID you entered "
                          "here."),
    ),
    "evidence_refused": (
        QT_TRANSLATE_NOOP("ErrorWords", "The offline request was refused"),
        QT_TRANSLATE_NOOP("ErrorWords", "The university's server did not accept the request this kiosk "
                          "kept while offline (code: %1)."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member."),
    ),
    "voucher_invalid": (
        QT_TRANSLATE_NOOP("ErrorWords", "The voucher code cannot be used"),
        QT_TRANSLATE_NOOP("ErrorWords", "The voucher is unknown, already used, expired, or for another "
                          "account."),
        QT_TRANSLATE_NOOP("ErrorWords", "Check the code you wrote down, or come to the help desk."),
    ),
    "refused": (
        QT_TRANSLATE_NOOP("ErrorWords", "The request was not approved"),
        QT_TRANSLATE_NOOP("ErrorWords", "The staff member did not approve this request."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please ask the staff member at the desk."),
    ),
    "refused_photo_mismatch": (
        QT_TRANSLATE_NOOP("ErrorWords", "The request was not approved"),
        QT_TRANSLATE_NOOP("ErrorWords", "The staff member could not match you with the photo on the card."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please talk to the staff member at the desk."),
    ),
    "refused_card_damaged": (
        QT_TRANSLATE_NOOP("ErrorWords", "The request was not approved"),
        QT_TRANSLATE_NOOP("ErrorWords", "The card is damaged or looks altered, so it cannot be used here."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please ask the staff member at the desk what to do next."),
    ),
    "refused_not_the_holder": (
        QT_TRANSLATE_NOOP("ErrorWords", "The request was not approved"),
        QT_TRANSLATE_NOOP("ErrorWords", "Only the card's own holder can make this request."),
        QT_TRANSLATE_NOOP("ErrorWords", "The holder must come to the desk with their card."),
    ),
    "refused_needs_documents": (
        QT_TRANSLATE_NOOP("ErrorWords", "The request was not approved yet"),
        QT_TRANSLATE_NOOP("ErrorWords", "The staff member needs another document before approving."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please ask the staff member which document to bring."),
    ),
    "refused_other": (
        QT_TRANSLATE_NOOP("ErrorWords", "The request was not approved"),
        QT_TRANSLATE_NOOP("ErrorWords", "The staff member will explain the reason at the desk."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please talk to the staff member at the desk."),
    ),
    "approval_timeout": (
        QT_TRANSLATE_NOOP("ErrorWords", "No staff decision in time"),
        QT_TRANSLATE_NOOP("ErrorWords", "Your request waited too long for a staff member."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member, then start again."),
    ),
    "cancelled": (
        QT_TRANSLATE_NOOP("ErrorWords", "Cancelled"),
        QT_TRANSLATE_NOOP("ErrorWords", "The request was cancelled. Nothing was changed."),
        QT_TRANSLATE_NOOP("ErrorWords", "You can start again at any time."),
    ),
    "failed": (
        QT_TRANSLATE_NOOP("ErrorWords", "The request could not be completed"),
        QT_TRANSLATE_NOOP("ErrorWords", "The university's server could not complete the request "
                          "(code: %1)."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member and show them the code."),
    ),
    "staff_invalid": (
        QT_TRANSLATE_NOOP("ErrorWords", "Staff ID not accepted"),
        QT_TRANSLATE_NOOP("ErrorWords", "A staff ID is 1 to 64 characters, and the offline PIN is needed "
                          "too."),
        QT_TRANSLATE_NOOP("ErrorWords", "Staff: enter your staff ID and your offline PIN again."),
    ),
    "staff_refused": (
        QT_TRANSLATE_NOOP("ErrorWords", "Staff ID or offline PIN not accepted"),
        QT_TRANSLATE_NOOP("ErrorWords", "No one on this kiosk's staff roster has this staff ID and offline "
                          "PIN. Nothing was recorded."),
        QT_TRANSLATE_NOOP("ErrorWords", "Staff: enter your staff ID and your offline PIN again."),
    ),
    "staff_locked": (
        QT_TRANSLATE_NOOP("ErrorWords", "Offline approval paused"),
        QT_TRANSLATE_NOOP("ErrorWords", "Too many wrong staff IDs or offline PINs were entered. Nothing was "
                          "recorded."),
        QT_TRANSLATE_NOOP("ErrorWords", "Staff: wait five minutes, then try again."),
    ),
    "roster_missing": (
        QT_TRANSLATE_NOOP("ErrorWords", "No staff roster on this kiosk"),
        QT_TRANSLATE_NOOP("ErrorWords", "This kiosk has never received the list of staff who may approve "
                          "offline, so no one can approve here while the server is away. Nothing was "
                          "recorded."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please come back when the kiosk is online again, or ask at the "
                          "help desk."),
    ),
    "roster_stale": (
        QT_TRANSLATE_NOOP("ErrorWords", "The staff roster is too old"),
        QT_TRANSLATE_NOOP("ErrorWords", "The list of staff who may approve offline was last received from "
                          "the server too long ago to be trusted. Nothing was recorded."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please come back when the kiosk is online again, or ask at the "
                          "help desk."),
    ),
    "display_failed": (
        QT_TRANSLATE_NOOP("ErrorWords", "The kiosk could not show the next screen"),
        QT_TRANSLATE_NOOP("ErrorWords", "A fault in the kiosk ended your session. A request that was still "
                          "waiting has been withdrawn."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member and show them the code below. You can "
                          "then start again."),
    ),
    "internal": (
        QT_TRANSLATE_NOOP("ErrorWords", "Something went wrong"),
        QT_TRANSLATE_NOOP("ErrorWords", "The kiosk ran into a problem. Staff have been notified."),
        QT_TRANSLATE_NOOP("ErrorWords", "Please start again, or ask a staff member for help."),
    ),
}

# Used for a code this table does not know: it still shows the code, for staff to look up.
_UNKNOWN = (
    QT_TRANSLATE_NOOP("ErrorWords", "The request could not be completed"),
    QT_TRANSLATE_NOOP("ErrorWords", "The kiosk stopped with the error code %1."),
    QT_TRANSLATE_NOOP("ErrorWords", "Please call a staff member and show them this code."),
)

# Every code the card layer, the linkage client and server, the services and the flow produce.
_CODES: dict[str, str] = {
    # the reader (kiosk.nfc.errors)
    "reader.none": "reader_none",
    "reader.error": "reader_failed",
    "reader.no_extended_apdu": "reader_unsuitable",
    # the card
    "card.absent": "card_absent",
    "card.removed": "card_removed",
    "card.reset": "card_reset",
    "card.error": "card_unreadable",
    "card.timeout": "card_unreadable",
    "card.malformed_response": "card_unreadable",
    "card.unexpected_status": "card_unreadable",
    "card.not_verified": "card_unreadable",
    "card.unknown": "card_unknown",
    "card.no_card_info": "card_no_card_info",
    "card.unsupported_key": "key_unsupported",
    # the PIN
    "pin.error": "pin_format",
    "pin.format": "pin_format",
    "pin.wrong": "pin_wrong",
    "pin.last_try_unconfirmed": "pin_last_try",
    "pin.blocked": "pin_blocked",
    # the certificate (the server's refusal codes, also raised by the kiosk's offline checks)
    "expired": "expired",
    "not_yet_valid": "not_yet_valid",
    "revoked": "revoked",
    "revocation_unknown": "revocation_unknown",
    "malformed_certificate": "card_untrusted",
    "unknown_issuer": "card_untrusted",
    "key_usage": "card_untrusted",
    "bad_signature": "card_untrusted",
    "unsupported_key": "key_unsupported",
    # the account
    "no_match": "no_match",
    "invalid_account": "invalid_account",
    "account_unavailable": "account_unavailable",
    "directory_unavailable": "directory_unavailable",
    "mfa_unavailable": "mfa_unavailable",
    "database_busy": "server_busy",
    "account_already_linked": "account_already_linked",
    "card_already_linked": "card_already_linked",
    "not_linked": "not_linked",
    "salvage_not_eligible": "salvage_not_eligible",
    "password_policy": "password_policy",
    "rate_limited": "rate_limited",
    # the server and the network (kiosk.linkage.errors)
    "server.unreachable": "server_unreachable",
    "server.protocol": "server_protocol",
    "linkage.error": "server_protocol",
    "server.not_configured": "server_not_configured",
    "invalid_request": "server_refused_kiosk",
    "invalid_token": "server_refused_kiosk",
    "insufficient_scope": "server_refused_kiosk",
    "request_too_large": "server_refused_kiosk",
    "invalid_client": "server_refused_kiosk",
    "unauthorized_client": "server_refused_kiosk",
    "invalid_scope": "server_refused_kiosk",
    "unsupported_grant_type": "server_refused_kiosk",
    "idempotency_conflict": "server_refused_kiosk",
    "operation_unknown": "server_refused_kiosk",
    "unknown_nonce": "verify_again",
    "foreign_nonce": "verify_again",
    "replayed_nonce": "verify_again",
    "expired_nonce": "verify_again",
    "verification_unknown": "verify_again",
    "verification_expired": "verify_again",
    "verification_used": "verify_again",
    "wrong_state": "verify_again",
    "already_decided": "already_decided",
    "session_key_invalid": "server_refused_kiosk",
    # an operation that ended without its kiosk session (it stopped waiting, or waited too long)
    "operation_cancelled": "request_lapsed",
    "operation_expired": "request_lapsed",
    "kiosk_gone": "request_lapsed",
    "password_window_passed": "request_lapsed",
    "approval_window_passed": "request_lapsed",
    # pre-link's sign-in on the user's phone (RFC 8628)
    "timeout": "device_expired",
    "expired_token": "device_expired",
    # Handled by the client's polling; words in case one ever surfaces.
    "authorization_pending": "device_expired",
    "slow_down": "device_expired",
    "access_denied": "device_denied",
    "invalid_grant": "account_proof",
    "account_proof_invalid": "account_proof",
    "account_proof_mismatch": "account_proof",
    # offline
    "offline.unavailable": "offline_unavailable",
    "offline.not_for_operation": "offline_not_for_operation",
    "offline.not_online": "offline_not_for_operation",
    "operation_not_offline": "offline_not_for_operation",
    "offline.no_server_key": "offline_not_saved",
    "offline.no_proof": "offline_not_saved",
    "evidence_unreadable": "evidence_refused",
    "evidence_bad_kiosk_signature": "evidence_refused",
    "evidence_invalid": "evidence_refused",
    "evidence_counter_reused": "evidence_refused",
    "evidence_no_approval": "evidence_refused",
    "voucher_invalid": "voucher_invalid",
    # staff and the flow itself
    "refused": "refused",
    "refused.photo_mismatch": "refused_photo_mismatch",
    "refused.card_damaged": "refused_card_damaged",
    "refused.not_the_holder": "refused_not_the_holder",
    "refused.needs_documents": "refused_needs_documents",
    "refused.other": "refused_other",
    "approval.timeout": "approval_timeout",
    "cancelled": "cancelled",
    "failed": "failed",
    "staff.invalid": "staff_invalid",
    "offline.staff_refused": "staff_refused",
    "offline.staff_locked": "staff_locked",
    "offline.no_roster": "roster_missing",
    "offline.roster_stale": "roster_stale",
    "internal": "internal",
    "display.failed": "display_failed",
}


def _tr(text: str, n: int = -1) -> str:
    return QCoreApplication.translate(CONTEXT, text, None, n)


class ErrorWords(QObject):
    """The kiosk's one table from error code to translated words (a QObject only for ``tr``'s context)."""

    @staticmethod
    def known(code: str) -> bool:
        """Whether ``code`` has words of its own (and not the generic fallback)."""
        return code in _CODES

    @staticmethod
    def codes() -> frozenset[str]:
        return frozenset(_CODES)

    @staticmethod
    def describe(code: str | None, *, tries_left: int | None = None) -> ErrorText:
        """Title, explanation and remedy for ``code`` in the current language.

        ``tries_left`` adds how many PIN tries remain to a wrong-PIN explanation. A code the table
        does not know gets generic words that show the code, so staff can still look it up.
        """
        shown = code or "internal"
        group = _CODES.get(shown)
        title, explanation, remedy = _GROUPS[group] if group is not None else _UNKNOWN
        text = ErrorText(_tr(title), fill(_tr(explanation), shown), _tr(remedy))
        if group == "pin_wrong" and tries_left is not None:
            # tr works on the class at run time (the stubs only know the instance method); lupdate
            # sees the plural only through tr, not through QCoreApplication.translate.
            left = ErrorWords.tr("%n tries left before the card locks the PIN.", "",  # type: ignore[arg-type]
                                 tries_left)  # type: ignore[arg-type]
            text = text._replace(explanation=f"{text.explanation} {left}")
        return text


def describe(code: str | None, *, tries_left: int | None = None) -> ErrorText:
    """``ErrorWords.describe``: title, explanation and remedy for an error code."""
    return ErrorWords.describe(code, tries_left=tries_left)
