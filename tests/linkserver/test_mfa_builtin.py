"""The builtin MFA backend over HTTP: an approved MFA reset enrols a fresh TOTP secret, whose
enrolment URI the kiosk's session gets once, whose codes the server then accepts, and which no
log, audit entry, mail or table holds in plain."""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.nfc.sim import TestHierarchy
from linkserver.directory import AccountInfo
from linkserver.logsafe import EscapingFormatter
from linkserver.mfa import Enrolment, MfaUnavailable
from linkserver.mfa_builtin import BuiltinMfa, SecretUnreadable
from linkserver.mfaconfig import MfaSettings
from linkserver.models import AccountTotp, AuditEntry, MailOutbox, Operation
from linkserver.operations import SEALED_URI
from linkserver.pages import TEXTS
from tests.helpers.secret_forms import leaks, leaks_in
from tests.helpers.server_api import (
    LINKED,
    UNLINKED,
    VOUCHER,
    Kiosk,
    account_row,
    decide,
    redeem,
    revealed,
    verified,
)
from tests.linkserver.helpers import LiveServer, live_server

ISSUER_NAME = "Example University"


@pytest.fixture
def builtin(tmp_path: Path, hierarchy: TestHierarchy, database_url: str) -> Iterator[LiveServer]:
    """The demo server with ``[mfa] backend = "builtin"``, on the parametrised database."""
    mfa = MfaSettings(backend="builtin", issuer_name=ISSUER_NAME)
    with live_server(tmp_path / "state", hierarchy, database_url, settings={"mfa": mfa}) as server:
        yield server


def reset(live: LiveServer) -> tuple[httpx2.Response, dict[str, object]]:
    """An MFA reset of the linked account, approved: its creation and the first keep-alive's answer."""
    kiosk, staff = live.kiosk(), live.staff()
    created = live.operation(kiosk, "mfa_reset", verified(live, kiosk))
    assert decide(live, staff, created.json()["operation_id"]).json()["status"] == "completed"
    return created, revealed(live, kiosk, created)


def backend(live: LiveServer) -> BuiltinMfa:
    found = live.server.operations.mfa
    assert isinstance(found, BuiltinMfa)
    return found


def accepts(live: LiveServer, code: str, at: dt.datetime | None = None) -> bool:
    """Whether the server accepts ``code`` as the linked account's TOTP (at its clock's time)."""
    with live.server.parts.db.transaction() as session:
        return backend(live).validate(session, LINKED, code, at or live.clock())


def code_of(uri: str, at: dt.datetime) -> str:
    return str(pyotp.parse_uri(uri).at(at))


def test_a_reset_clears_the_methods_and_enrols_a_totp_the_server_accepts_once(builtin: LiveServer) -> None:
    assert account_row(builtin, LINKED).mfa_methods == 2
    _created, shown = reset(builtin)
    result = shown["result"]
    assert isinstance(result, dict) and "enrolment_code" not in result
    uri = result["enrolment_uri"]
    totp = pyotp.parse_uri(uri)
    assert (totp.issuer, totp.name) == (ISSUER_NAME, LINKED)
    row = account_row(builtin, LINKED)
    assert (row.mfa_methods, row.enrolment_code_hash) == (1, None)  # the two old ones gone, the TOTP in
    code = code_of(uri, builtin.clock())
    assert accepts(builtin, code)
    assert not accepts(builtin, code)  # a code is good once
    assert not accepts(builtin, "000000" if code != "000000" else "111111")


def test_the_enrolment_uri_is_shown_to_its_session_once(builtin: LiveServer) -> None:
    created, shown = reset(builtin)
    assert "enrolment_uri" in shown["result"]  # type: ignore[operator]
    again = revealed(builtin, builtin.kiosk(), created)["result"]
    assert "enrolment_uri" not in again and again["shown"] is True
    with builtin.server.parts.db.transaction() as session:
        stored = session.get(Operation, created.json()["operation_id"])
        assert stored is not None and "enrolment_uri" not in stored.result


def test_the_uri_waits_to_be_shown_sealed_to_its_operation(builtin: LiveServer) -> None:
    kiosk, staff = builtin.kiosk(), builtin.staff()
    created = builtin.operation(kiosk, "mfa_reset", verified(builtin, kiosk))
    decide(builtin, staff, created.json()["operation_id"])
    with builtin.server.parts.db.transaction() as session:
        waiting = json.dumps([o.result for o in session.scalars(select(Operation))])
    assert SEALED_URI in waiting and "otpauth" not in waiting
    uri = revealed(builtin, kiosk, created)["result"]["enrolment_uri"]
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    assert leaks({"secret": secret, "uri": uri}, waiting) == []
    assert accepts(builtin, code_of(uri, builtin.clock()))


def test_a_second_reset_voids_the_first_secret(builtin: LiveServer) -> None:
    _created, first = reset(builtin)
    _created, second = reset(builtin)
    old_uri, new_uri = first["result"]["enrolment_uri"], second["result"]["enrolment_uri"]  # type: ignore[index]
    now = builtin.clock()
    assert code_of(old_uri, now) != code_of(new_uri, now)
    assert not accepts(builtin, code_of(old_uri, now))
    assert accepts(builtin, code_of(new_uri, now))


def test_a_secret_unconfirmed_within_its_lifetime_accepts_nothing(builtin: LiveServer) -> None:
    _created, shown = reset(builtin)
    uri = shown["result"]["enrolment_uri"]  # type: ignore[index]
    late = builtin.clock() + dt.timedelta(minutes=builtin.setup.settings.lifetimes.enrolment_code_minutes)
    assert not accepts(builtin, code_of(uri, late), late)


def test_a_confirmed_secret_stays_good_past_the_enrolment_lifetime(builtin: LiveServer) -> None:
    _created, shown = reset(builtin)
    uri = shown["result"]["enrolment_uri"]  # type: ignore[index]
    assert accepts(builtin, code_of(uri, builtin.clock()))
    later = builtin.clock() + dt.timedelta(days=30)
    assert accepts(builtin, code_of(uri, later), later)


def test_the_secret_is_sealed_and_in_no_log_audit_entry_or_mail(builtin: LiveServer,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created, shown = reset(builtin)
    revealed(builtin, builtin.kiosk(), created)
    uri = str(shown["result"]["enrolment_uri"])  # type: ignore[index]
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    formatter = EscapingFormatter()
    with builtin.server.parts.db.transaction() as session:
        stored = session.get(AccountTotp, LINKED)
        assert stored is not None
        sealed = stored.secret_sealed
        places = [("log", "\n".join(formatter.format(record) for record in caplog.records)),
                  ("audit", "\n".join(e.details for e in session.scalars(select(AuditEntry)))),
                  ("mail", "\n".join(m.body for m in session.scalars(select(MailOutbox)))),
                  ("operations", "\n".join(json.dumps(o.result) for o in session.scalars(select(Operation)))),
                  ("account_totp", sealed)]
    assert caplog.records  # the requests were logged, without the secret
    assert leaks_in({"secret": secret, "uri": uri}, places) == []
    assert backend(builtin).unseal(LINKED, sealed) == secret  # sealed, and this server opens it
    with pytest.raises(SecretUnreadable, match=f"the TOTP secret of {UNLINKED} cannot be opened"):
        backend(builtin).unseal(UNLINKED, sealed)  # bound to its account


def test_the_servers_log_blanks_an_enrolment_uri_whatever_logged_it() -> None:
    uri = "otpauth://totp/Example:2024000001?secret=JBSWY3DPEHPK3PXP&issuer=Example"
    record = logging.LogRecord("linkserver.test", logging.WARNING, __file__, 1, "enrolled %s", (uri,), None)
    written = EscapingFormatter().format(record)
    assert written.endswith("enrolled otpauth://[redacted]")
    assert leaks({"secret": "JBSWY3DPEHPK3PXP"}, written) == []


def voucher_page(live: LiveServer) -> httpx2.Response:
    """The voucher page's form posted from the user's own device, in English."""
    return httpx2.post(live.url("/voucher"), data={"code": VOUCHER, "account_id": LINKED, "lang": "en"})


def test_an_offline_mfa_voucher_enrols_a_totp_on_the_users_own_device(builtin: LiveServer) -> None:
    kiosk = Kiosk(builtin)
    [uploaded] = kiosk.upload(kiosk.seal(kiosk.payload(operation="mfa_reset")))
    assert uploaded["fate"] == "accepted"
    page = voucher_page(builtin)
    assert page.status_code == 200, page.text
    uri = html.unescape(re.search(r'<a href="(otpauth://totp/[^"]+)">', page.text)[1])  # type: ignore[index]
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    assert TEXTS["en"]["v_authenticator"] in page.text
    assert " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in page.text
    assert accepts(builtin, code_of(uri, builtin.clock()))
    assert redeem(builtin).status_code == 403  # once


def test_a_voucher_meeting_an_mfa_system_that_fails_still_works_later(builtin: LiveServer) -> None:
    kiosk = Kiosk(builtin)
    kiosk.upload(kiosk.seal(kiosk.payload(operation="mfa_reset")))
    working = builtin.server.operations.mfa
    builtin.server.operations.mfa = Unavailable()
    try:
        page = voucher_page(builtin)
        refused = redeem(builtin)
    finally:
        builtin.server.operations.mfa = working
    assert page.status_code == 503 and html.escape(TEXTS["en"]["v_mfa_unavailable"]) in page.text
    assert (refused.status_code, refused.json()["error"]) == (503, "mfa_unavailable")
    assert account_row(builtin, LINKED).mfa_methods == 2
    answer = redeem(builtin)
    assert answer.status_code == 200 and "enrolment_uri" in answer.json()["result"]


class Unavailable:
    """An MFA system that does not answer."""

    def reset(self, session: Session, account: AccountInfo, now: dt.datetime) -> Enrolment:
        raise MfaUnavailable("no answer within 5 s")

    def check(self) -> str:
        raise MfaUnavailable("no answer within 5 s")
