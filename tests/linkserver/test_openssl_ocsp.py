"""The server's OCSP check against a responder this project did not write: OpenSSL's own
(``openssl ocsp -index … -port …``) over HTTP on loopback, answering from a database kept by
``openssl ca`` for the hierarchy's current authentication CA.

In the index: "linked" valid, "revoked" revoked; "unlinked" is left out, so OpenSSL answers
unknown for it. The server's checker reaches the responders through its own HTTP transport.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from cryptography import x509

from kiosk.nfc.sim import TestHierarchy
from kiosk.nfc.sim.hierarchy import CURRENT_GENERATION
from linkserver import OcspChecker, RevocationStatus
from linkserver.revocation import HttpPost
from linkserver.server import ocsp_post
from tests.helpers.openssl_ocsp import OpensslCa, OpensslResponder, Signer
from tests.linkserver.helpers import live_server

GOOD, REVOKED, UNKNOWN = RevocationStatus.GOOD, RevocationStatus.REVOKED, RevocationStatus.UNKNOWN
ACCOUNTS = {"linked": "2024000001", "unlinked": "2024000002", "revoked": "2024000007"}
LOGGER = "linkserver.revocation"
#: The reasons the checker logs for an answer it cannot use.
SIGNATURE_FAILS = "the response signature does not verify"
NOT_AUTHORISED = "the response is not signed by the issuer or its OCSP responder"
#: The responders signing with a key the CA did not delegate, and why the checker refuses each.
NOT_DELEGATED = {
    "impostor-by-name": SIGNATURE_FAILS,  # names the CA: its key does not verify the signature
    "impostor-by-key": NOT_AUTHORISED,
    "other-root": NOT_AUTHORISED,
    "foreign": NOT_AUTHORISED,
    "not-delegated": NOT_AUTHORISED,
    "bad-signature": SIGNATURE_FAILS,  # the delegated responder, its signature corrupted
}
#: ``-nmin`` of the delegated responder: its answers' nextUpdate is this far after thisUpdate.
NEXT_UPDATE_MINUTES = 10


def holder_cert(hierarchy: TestHierarchy, slug: str) -> Path:
    return hierarchy.path / "holders" / slug / "auth-cert.pem"


@pytest.fixture(scope="module")
def responders(hierarchy: TestHierarchy, tmp_path_factory: pytest.TempPathFactory,
               ) -> Iterator[dict[str, OpensslResponder]]:
    """OpenSSL responders by name, started once for the module and stopped at its end.

    ``delegated`` signs with a responder certificate the CA issued for OCSP signing; ``ca-by-key``
    with the CA's own key, naming it by key hash and giving no nextUpdate. The others sign with a
    key the CA never delegated: its own certificate re-signed with another key (named by name or by
    key hash), responder certificates from the 2019 root (the same name as the CA's, no authority
    key identifier) and from the foreign CA, one the CA issued for client authentication only, and
    the delegated responder with its signature corrupted (``-badsig``).
    """
    ca = OpensslCa(tmp_path_factory.mktemp("openssl-ca"), hierarchy, CURRENT_GENERATION)
    ca.valid(holder_cert(hierarchy, "linked"))
    ca.revoke(holder_cert(hierarchy, "revoked"))
    delegated = ca.responder("delegated", ca.own, "delegated")
    impostor = ca.impostor()
    other_root = Signer(hierarchy.auth_ca_path("2019"), hierarchy.auth_ca_key_path("2019"))
    foreign = Signer(hierarchy.path / "ca" / "foreign.pem", hierarchy.path / "ca" / "foreign.key")
    setups: dict[str, tuple[Signer, tuple[str, ...]]] = {
        "delegated": (delegated, ("-nmin", str(NEXT_UPDATE_MINUTES))),
        "ca-by-key": (ca.own, ("-resp_key_id",)),
        "impostor-by-name": (impostor, ()),
        "impostor-by-key": (impostor, ("-resp_key_id",)),
        "other-root": (ca.responder("other-root", other_root, "delegated_without_key_id"), ()),
        "foreign": (ca.responder("foreign", foreign, "delegated"), ()),
        "not-delegated": (ca.responder("not-delegated", ca.own, "client_only"), ()),
        "bad-signature": (delegated, ("-badsig",)),
    }
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(OpensslResponder(ca, signer, *options))
               for name, (signer, options) in setups.items()}


def check(responder: OpensslResponder, hierarchy: TestHierarchy, holder: str,
          clock_offset: dt.timedelta = dt.timedelta(), *, post: HttpPost = ocsp_post,
          use_nonce: bool = True) -> RevocationStatus:
    """The server's checker asking ``responder`` about the holder's certificate, on a clock moved by
    ``clock_offset``, through the server's HTTP transport unless ``post`` replaces it."""
    found = hierarchy.holder(holder)
    checker = OcspChecker(responder.url, post, clock=lambda: dt.datetime.now(dt.UTC) + clock_offset,
                          use_nonce=use_nonce)
    return checker.check(found.auth_certificate, x509.load_pem_x509_certificate(found.issuer_pem))


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the checker logged about answers it could not use (or responders it could not reach)."""
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("responder", ["delegated", "ca-by-key"])
@pytest.mark.parametrize(("holder", "expected"),
                         [("linked", GOOD), ("revoked", REVOKED), ("unlinked", UNKNOWN)],
                         ids=["good", "revoked", "unknown"])
def test_openssl_answers_good_revoked_and_unknown(
    responders: dict[str, OpensslResponder], hierarchy: TestHierarchy, caplog: pytest.LogCaptureFixture,
    responder: str, holder: str, expected: RevocationStatus,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    assert check(responders[responder], hierarchy, holder) is expected
    assert refusals(caplog) == []  # a usable answer: "unknown" is OpenSSL's word, not a refusal


@pytest.mark.parametrize(("responder", "fresh", "stale", "reason"), [
    ("delegated", dt.timedelta(minutes=NEXT_UPDATE_MINUTES - 1),
     dt.timedelta(minutes=NEXT_UPDATE_MINUTES + 1), "stale: nextUpdate was "),
    # No nextUpdate: the checker allows 24 hours after thisUpdate.
    ("ca-by-key", dt.timedelta(hours=23), dt.timedelta(hours=25), "stale: thisUpdate was "),
    # A clock behind the responder's by more than the 5 minutes of tolerated skew.
    ("ca-by-key", -dt.timedelta(minutes=4), -dt.timedelta(minutes=6),
     "the response was produced in the future"),
], ids=["past-next-update", "a-day-old", "from-the-future"])
def test_a_stale_openssl_answer_is_unknown(
    responders: dict[str, OpensslResponder], hierarchy: TestHierarchy, caplog: pytest.LogCaptureFixture,
    responder: str, fresh: dt.timedelta, stale: dt.timedelta, reason: str,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    url = responders[responder].url
    assert check(responders[responder], hierarchy, "linked", fresh) is GOOD
    assert check(responders[responder], hierarchy, "revoked", fresh) is REVOKED
    assert refusals(caplog) == []
    assert check(responders[responder], hierarchy, "linked", stale) is UNKNOWN
    assert check(responders[responder], hierarchy, "revoked", stale) is UNKNOWN
    prefix = f"OCSP answer from {url} not usable: {reason}"
    assert [message.startswith(prefix) for message in refusals(caplog)] == [True, True], refusals(caplog)


@pytest.mark.parametrize("responder", sorted(NOT_DELEGATED))
def test_an_answer_signed_by_a_key_the_ca_did_not_delegate_is_unknown(
    responders: dict[str, OpensslResponder], hierarchy: TestHierarchy, caplog: pytest.LogCaptureFixture,
    responder: str,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    reason = NOT_DELEGATED[responder]
    assert check(responders[responder], hierarchy, "linked") is UNKNOWN
    assert check(responders[responder], hierarchy, "revoked") is UNKNOWN
    message = f"OCSP answer from {responders[responder].url} not usable: {reason}"
    assert refusals(caplog) == [message, message]


def test_a_replayed_openssl_answer_is_unknown(
    responders: dict[str, OpensslResponder], hierarchy: TestHierarchy, caplog: pytest.LogCaptureFixture,
) -> None:
    """OpenSSL's answer about "revoked", replayed to later requests (as someone on the path could):
    it echoes another request's nonce, and to a checker sending no nonce it answers about "revoked"
    when the question was "linked" (a certificate of the same CA)."""
    caplog.set_level(logging.WARNING, LOGGER)
    responder = responders["delegated"]
    answers: list[bytes] = []

    def recording(url: str, body: bytes) -> bytes:
        answers.append(ocsp_post(url, body))
        return answers[-1]

    assert check(responder, hierarchy, "revoked", post=recording) is REVOKED

    def replay(url: str, body: bytes) -> bytes:
        return answers[0]

    assert check(responder, hierarchy, "revoked", post=replay) is UNKNOWN
    assert check(responder, hierarchy, "linked", post=replay, use_nonce=False) is UNKNOWN
    prefix = f"OCSP answer from {responder.url} not usable: "
    assert refusals(caplog) == [prefix + "the response answers another request's nonce",
                                prefix + "the response does not answer for this certificate"]


def verdict(answer: httpx2.Response) -> tuple[int, str | bool]:
    """A verification's status code with its error code, or with whether it matched."""
    body = answer.json()
    return answer.status_code, body["error"] if "error" in body else body["match"]


def test_the_server_verifies_through_openssls_responder(
    tmp_path: Path, hierarchy: TestHierarchy, responders: dict[str, OpensslResponder],
) -> None:
    with live_server(tmp_path / "s", hierarchy, ocsp_url=responders["delegated"].url) as live:
        kiosk = live.minted()
        verdicts = {holder: verdict(live.verify(kiosk, holder, account))
                    for holder, account in ACCOUNTS.items()}
        assert verdicts == {"linked": (200, True), "unlinked": (403, "revocation_unknown"),
                            "revoked": (403, "revoked")}
        live.clock.advance((NEXT_UPDATE_MINUTES + 1) * 60)  # every answer is past its nextUpdate
        stale = live.verify(live.minted(), "linked", ACCOUNTS["linked"])
        assert verdict(stale) == (403, "revocation_unknown")


def test_the_server_refuses_an_answer_signed_by_another_key(
    tmp_path: Path, hierarchy: TestHierarchy, responders: dict[str, OpensslResponder],
) -> None:
    with live_server(tmp_path / "s", hierarchy, ocsp_url=responders["impostor-by-name"].url) as live:
        kiosk = live.minted()
        for holder in ("linked", "revoked"):
            answer = live.verify(kiosk, holder, ACCOUNTS[holder])
            assert verdict(answer) == (403, "revocation_unknown"), holder
