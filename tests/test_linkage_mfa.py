"""The linkage client against the reference server with the builtin MFA backend: an approved MFA
reset reaches the kiosk as an authenticator's enrolment URI, once, and no log of either side holds it."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator

import pyotp
import pytest

from kiosk.flow import MfaEnrolment
from kiosk.flow.view import result_of
from kiosk.linkage import LinkageClient, OperationKind, ServerProtocolError
from kiosk.linkage.models import parse_operation
from kiosk.nfc.sim import TestHierarchy
from linkserver.mfa_builtin import BuiltinMfa
from linkserver.mfaconfig import MfaSettings
from tests.helpers.linkage_client import LINKED, ROOMY, card_verification, config_for, staff_decides
from tests.linkserver.helpers import LiveServer, live_server


@pytest.fixture(scope="module")
def builtin(tmp_path_factory: pytest.TempPathFactory, hierarchy: TestHierarchy) -> Iterator[LiveServer]:
    mfa = MfaSettings(backend="builtin", issuer_name="Example University")
    with live_server(tmp_path_factory.mktemp("mfa") / "state", hierarchy, limits=ROOMY,
                     settings={"mfa": mfa}) as server:
        yield server


def test_the_kiosk_gets_the_enrolment_uri_once_and_its_codes_are_accepted(
        builtin: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(1)
    with LinkageClient(config_for(builtin)) as client:
        verification = card_verification(builtin, client, "linked", LINKED)
        operation = client.create_operation("mfa_reset", verification.verification_id, {},
                                            f"kiosk-{uuid.uuid4().hex}")
        assert operation.session_key is not None
        staff_decides(builtin, operation.operation_id)
        done = client.wait_for_decision(operation.operation_id, operation.session_key,
                                        cancel=threading.Event(), poll=0.05, timeout=10)
        again = client.wait_for_decision(operation.operation_id, operation.session_key,
                                         cancel=threading.Event(), poll=0.05, timeout=10)
    result = result_of(OperationKind.MFA_RESET, done.result)
    assert isinstance(result, MfaEnrolment) and result.code == "" and result.expires_at is not None
    assert pyotp.parse_uri(result.uri).name == LINKED
    assert result_of(OperationKind.MFA_RESET, again.result) == MfaEnrolment("", result.expires_at)
    backend = builtin.server.operations.mfa
    assert isinstance(backend, BuiltinMfa)
    now = builtin.clock()
    with builtin.server.parts.db.transaction() as session:
        assert backend.validate(session, LINKED, pyotp.parse_uri(result.uri).at(now), now)
    written = "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    assert caplog.records and result.uri not in written and result.secret not in written


@pytest.mark.parametrize("uri", ["https://evil.example/totp", "otpauth://hotp/x?secret=AAAA", 42,
                                 "otpauth://totp/" + "A" * 1001, "otpauth://totp/a b"])
def test_an_enrolment_uri_of_another_form_is_a_protocol_error_naming_the_field(uri: object) -> None:
    answer = {"operation_id": "op_1", "kind": "mfa_reset", "status": "completed", "account_id": LINKED,
              "result": {"enrolment_uri": uri}, "error_code": None, "approved_by": "desk",
              "created_at": "2026-04-01T09:00:00+00:00", "updated_at": "2026-04-01T09:00:00+00:00"}
    refusal = re.escape("'result.enrolment_uri': not an otpauth://totp/ URI")
    with pytest.raises(ServerProtocolError, match=refusal):
        parse_operation(answer)
    answer["result"] = {"enrolment_uri": "otpauth://totp/U:1?secret=AAAA&issuer=U"}
    assert parse_operation(answer).result == answer["result"]
