"""Flow cases: an MFA reset whose result is an authenticator app's enrolment URI rather than a code
(registered in ``CASES`` of ``tests.fast.cases``)."""

from __future__ import annotations

import datetime as dt

from kiosk.flow import Intent, MfaEnrolment, Screen
from kiosk.linkage import OperationKind as K
from tests.fast import routes
from tests.fast.cases import case
from tests.fast.fakes import FakeBackend

EXPIRES = "2026-05-01T10:00:00+00:00"
URI = "otpauth://totp/University:2024000001?secret=JBSWY3DPEHPK3PXP&issuer=University"


@case("journey/mfa_reset with an authenticator's enrolment: the URI, its key, then wiped")
def _mfa_enrolment_uri() -> None:
    backend = FakeBackend()
    backend.operations.results[K.MFA_RESET] = {"enrolment_uri": URI, "expires_at": EXPIRES}
    kiosk = routes.verified(K.MFA_RESET, backend).settle()
    result = kiosk.view.result
    assert kiosk.screen is Screen.DONE
    assert result == MfaEnrolment("", dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC), URI)
    assert isinstance(result, MfaEnrolment) and result.secret == "JBSWY3DPEHPK3PXP"
    assert URI not in "".join(repr(view) for view in kiosk.views)  # never in a view's text, so never logged
    kiosk.do(Intent.FINISH)
    assert (kiosk.screen, kiosk.view.result) == (Screen.START, None)


@case("journey/mfa_reset with an enrolment URI once shown: the URI withheld, nothing to scan")
def _mfa_enrolment_withheld() -> None:
    backend = FakeBackend()
    backend.operations.results[K.MFA_RESET] = {"shown": True, "expires_at": EXPIRES}
    result = routes.verified(K.MFA_RESET, backend).settle().view.result
    assert isinstance(result, MfaEnrolment) and (result.uri, result.code, result.secret) == ("", "", "")
