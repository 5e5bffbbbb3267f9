"""The reference server configured with ``mfa.backend = "privacyidea"``: an MFA reset requested by a
kiosk with a real card verification and approved by staff, over HTTP, replaces the user's tokens
in a real privacyIDEA (the kiosk's result holds the enrolment URI, whose TOTP privacyIDEA accepts,
and the old token no longer validates); and ``check-backends`` reports privacyIDEA in words."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyotp
import pytest

from kiosk.linkage import LinkageClient
from kiosk.nfc.sim import TestHierarchy
from linkserver.backends import check_backends
from linkserver.demo import prepare_demo
from linkserver.mfaconfig import MfaSettings, PrivacyIdeaSettings
from tests.helpers.linkage_client import LINKED, ROOMY, card_verification, config_for, staff_decides
from tests.helpers.privacyidea import ADMIN, REALM, PrivacyIdea
from tests.linkserver.helpers import live_server


def mfa_settings(server: PrivacyIdea, **changes: object) -> MfaSettings:
    connection = PrivacyIdeaSettings(url=server.url, ca_file=server.ca_file, admin_user=ADMIN,
                                     admin_password_file=server.admin_password_file, realm=REALM,
                                     timeout_seconds=5)
    return MfaSettings(backend="privacyidea", privacyidea=connection, **changes)  # type: ignore[arg-type]


@pytest.fixture
def linked_user(privacyidea: PrivacyIdea) -> Iterator[str]:
    """The demo's linked account as a privacyIDEA user, its tokens removed afterwards (the session's
    privacyIDEA is shared with other tests)."""
    yield LINKED
    for token in privacyidea.tokens(LINKED):
        privacyidea.api("DELETE", f"/token/{token['serial']}")


def test_an_mfa_reset_through_the_server_replaces_the_users_tokens(
        privacyidea: PrivacyIdea, linked_user: str, hierarchy: TestHierarchy, tmp_path: Path) -> None:
    old = privacyidea.enrol_totp(linked_user)
    assert privacyidea.validates(linked_user, old)
    with live_server(tmp_path / "state", hierarchy, limits=ROOMY,
                     settings={"mfa": mfa_settings(privacyidea)}) as live, \
            LinkageClient(config_for(live)) as client:
        verification = card_verification(live, client, "linked", linked_user)
        operation = client.create_operation("mfa_reset", verification.verification_id, {},
                                            uuid.uuid4().hex)
        assert operation.session_key is not None
        staff_decides(live, operation.operation_id)
        done = client.wait_for_decision(operation.operation_id, operation.session_key,
                                        cancel=threading.Event(), timeout=30)
    assert done.status == "completed"
    secret = pyotp.parse_uri(str(done.result["enrolment_uri"])).secret
    assert privacyidea.validates(linked_user, secret)
    assert not privacyidea.validates(linked_user, old, steps_ahead=1)
    assert [token["tokentype"] for token in privacyidea.tokens(linked_user)] == ["totp"]


def test_check_backends_signs_in_to_privacyidea_and_names_a_wrong_password(
        privacyidea: PrivacyIdea, hierarchy: TestHierarchy, tmp_path: Path) -> None:
    demo = prepare_demo(tmp_path / "state", hierarchy.path).settings
    settings = replace(demo, mfa=mfa_settings(privacyidea))
    found = {finding.backend: finding for finding in check_backends(settings)}
    assert found["mfa"].ok and f"signed in as admin '{ADMIN}'" in found["mfa"].words, found["mfa"]
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not the password\n")
    connection = settings.mfa.privacyidea
    assert connection is not None
    wrong_password = replace(connection, admin_password_file=wrong)
    broken = replace(settings, mfa=replace(settings.mfa, privacyidea=wrong_password))
    refused = {finding.backend: finding for finding in check_backends(broken)}["mfa"]
    assert not refused.ok and f"refused the admin login of '{ADMIN}'" in refused.words
    assert "not the password" not in refused.words
