"""Flow cases: the larger text kept for the person at the counter, and a password the account
directory refuses (registered in ``CASES`` of ``tests.fast.cases``)."""

from __future__ import annotations

from kiosk.flow import Intent, PasswordSet, Screen
from kiosk.linkage import OperationKind as K
from kiosk.linkage import ServerRefused
from tests.fast import routes
from tests.fast.cases import case
from tests.fast.fakes import STRONG_PASSWORD, Kiosk


@case("text size/larger text holds through the session, and idle returns the normal size")
def _larger_text() -> None:
    kiosk = Kiosk().do(Intent.SET_LARGE_TEXT, True)
    assert kiosk.view.large_text is True
    kiosk.do(Intent.CHOOSE, K.MFA_RESET.value).do(Intent.CANCEL)
    assert (kiosk.screen, kiosk.view.large_text) == (Screen.START, True)
    kiosk.do(Intent.CHOOSE, K.MFA_RESET.value).do(Intent.IDLE_TIMEOUT)
    assert (kiosk.screen, kiosk.view.large_text) == (Screen.START, False)
    kiosk.do(Intent.SET_LARGE_TEXT, True).do(Intent.SET_LARGE_TEXT, False)
    assert kiosk.view.large_text is False


@case("password/the directory refuses the password: chosen again, the operation kept")
def _directory_refuses() -> None:
    kiosk = routes.new_password()
    kiosk.backend.fail["set_password"] = ServerRefused(
        "password_policy", "refused", status=422,
        extra={"problems": ["in_history"], "reason": "Password is in history of old passwords"})
    kiosk.do(Intent.PASSWORD_CHANGED, STRONG_PASSWORD).do(Intent.SUBMIT_PASSWORD,
                                                          bytearray(STRONG_PASSWORD.encode()))
    kiosk.settle()
    assert (kiosk.screen, kiosk.view.busy, kiosk.view.error) == (Screen.NEW_PASSWORD, False, None)
    assert kiosk.view.password_refused == ("in_history",)
    assert kiosk.view.password_refusal == "Password is in history of old passwords"
    assert kiosk.backend.operations.abandoned == []  # still approved: another password may follow
    other = "Another-Pass-2025"
    kiosk.do(Intent.PASSWORD_CHANGED, other).do(Intent.SUBMIT_PASSWORD, bytearray(other.encode()))
    assert (kiosk.view.password_refused, kiosk.view.password_refusal) == ((), None)
    kiosk.settle()
    assert kiosk.view.result == PasswordSet() and kiosk.backend.operations.passwords == [other]


@case("password/the directory does not answer: the same screen, the operation kept, sent again")
def _directory_down_at_the_password() -> None:
    kiosk = routes.new_password()
    kiosk.backend.fail["set_password"] = ServerRefused("directory_unavailable", "no answer", status=503)
    kiosk.do(Intent.PASSWORD_CHANGED, STRONG_PASSWORD).do(Intent.SUBMIT_PASSWORD,
                                                          bytearray(STRONG_PASSWORD.encode()))
    kiosk.settle()
    assert (kiosk.screen, kiosk.view.busy, kiosk.view.error) == (Screen.NEW_PASSWORD, False, None)
    assert kiosk.view.password_refused == ("directory_unavailable",)
    assert kiosk.backend.operations.abandoned == []
    kiosk.do(Intent.PASSWORD_CHANGED, STRONG_PASSWORD).do(Intent.SUBMIT_PASSWORD,
                                                          bytearray(STRONG_PASSWORD.encode()))
    kiosk.settle()
    assert kiosk.view.result == PasswordSet() and kiosk.backend.operations.passwords == [STRONG_PASSWORD]


@case("password/any other refusal of the password still ends on the error screen")
def _password_step_fails() -> None:
    kiosk = routes.new_password()
    kiosk.backend.fail["set_password"] = ServerRefused("operation_expired", "gone", status=409)
    kiosk.do(Intent.PASSWORD_CHANGED, STRONG_PASSWORD).do(Intent.SUBMIT_PASSWORD,
                                                          bytearray(STRONG_PASSWORD.encode()))
    kiosk.settle()
    assert (kiosk.screen, kiosk.view.error, kiosk.view.password_refused) == (
        Screen.ERROR, "operation_expired", ())
