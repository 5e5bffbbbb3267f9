"""Revocation checkers: CRL files of several same-named roots, and OCSP against the test responder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiosk.nfc.sim import TestHierarchy
from kiosk.nfc.sim.hierarchy import GENERATIONS, build_crl
from linkserver import CrlFileChecker, NoRevocationCheck, OcspChecker, RevocationStatus
from linkserver.revocation import build_ocsp_response, cert_id_hashes
from tests.linkserver.conftest import OCSP_URL, OcspResponder, ca_cert, now

DER = serialization.Encoding.DER
GOOD, REVOKED, UNKNOWN = RevocationStatus.GOOD, RevocationStatus.REVOKED, RevocationStatus.UNKNOWN


def cert_of(hierarchy: TestHierarchy, slug: str) -> tuple[x509.Certificate, x509.Certificate]:
    holder = hierarchy.holder(slug)
    return holder.auth_certificate, x509.load_pem_x509_certificate(holder.issuer_pem)


def write_crl(folder: Path, name: str, crl: x509.CertificateRevocationList, pem: bool = False) -> Path:
    path = folder / name
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM if pem else DER))
    return path


# -- CRL -------------------------------------------------------------------------------------


def test_crl_answers_per_generation(hierarchy: TestHierarchy, crl_checker: CrlFileChecker) -> None:
    for slug in ("linked", "linked-old", "old-root", "unlinked"):
        assert crl_checker.check(*cert_of(hierarchy, slug)) is GOOD, slug
    assert crl_checker.check(*cert_of(hierarchy, "revoked")) is REVOKED


def test_crl_info_reports_the_age(hierarchy: TestHierarchy, crl_checker: CrlFileChecker) -> None:
    info = crl_checker.crl_info(ca_cert(hierarchy, "2023"))
    assert info is not None
    assert info.source.endswith("auth-2023.crl")
    assert info.fresh and info.revoked_entries == 1
    assert dt.timedelta(0) < info.age < dt.timedelta(days=1)
    assert info.next_update is not None and info.next_update > now()


def test_crl_of_a_same_named_root_is_not_used(
    hierarchy: TestHierarchy, tmp_path: Path
) -> None:
    # A CRL bearing the 2023 root's name but signed with the 2019 key lists a valid card.
    cert, issuer = cert_of(hierarchy, "linked")
    forged = build_crl(issuer, hierarchy.auth_ca_key("2019"), [cert.serial_number], now())
    forged_path = write_crl(tmp_path, "forged.crl", forged)
    assert CrlFileChecker([forged_path]).check(cert, issuer) is UNKNOWN
    both = CrlFileChecker([forged_path, hierarchy.crl_path("2023")])
    assert both.check(cert, issuer) is GOOD


def test_stale_or_future_crl_is_unknown(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    paths = [hierarchy.crl_path(g) for g in GENERATIONS]
    later = CrlFileChecker(paths, clock=lambda: now() + dt.timedelta(days=8))
    assert later.check(cert, issuer) is UNKNOWN
    info = later.crl_info(issuer)
    assert info is not None and not info.fresh and info.age > dt.timedelta(days=8)
    earlier = CrlFileChecker(paths, clock=lambda: now() - dt.timedelta(days=1))
    assert earlier.check(cert, issuer) is UNKNOWN


def test_pem_crl_and_reload(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    key = hierarchy.auth_ca_key("2023")
    path = write_crl(tmp_path, "auth.pem", build_crl(issuer, key, [], now()), pem=True)
    checker = CrlFileChecker([path])
    assert checker.check(cert, issuer) is GOOD
    write_crl(tmp_path, "auth.pem", build_crl(issuer, key, [cert.serial_number], now()), pem=True)
    assert checker.check(cert, issuer) is GOOD  # still the CRL loaded before
    checker.reload()
    assert checker.check(cert, issuer) is REVOKED


def test_unreadable_crl_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.crl"
    path.write_bytes(b"\x30\x03\x02\x01")
    with pytest.raises(ValueError, match=r"broken\.crl"):
        CrlFileChecker([path])
    with pytest.raises(ValueError, match="at least one"):
        CrlFileChecker([])


def test_delta_crl_does_not_count(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    delta = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now() - dt.timedelta(hours=1))
        .next_update(now() + dt.timedelta(days=1))
        .add_extension(x509.DeltaCRLIndicator(1), critical=True)
        .sign(hierarchy.auth_ca_key("2023"), hashes.SHA256())
    )
    assert CrlFileChecker([write_crl(tmp_path, "delta.crl", delta)]).check(cert, issuer) is UNKNOWN


def test_no_revocation_check_says_good(hierarchy: TestHierarchy) -> None:
    assert NoRevocationCheck().check(*cert_of(hierarchy, "revoked")) is GOOD


# -- OCSP ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def responder_revoked(hierarchy: TestHierarchy) -> set[int]:
    return {hierarchy.holder("revoked").serial}


def test_ocsp_request_is_real(hierarchy: TestHierarchy, responder_revoked: set[int]) -> None:
    responder = OcspResponder(hierarchy, responder_revoked)
    cert, issuer = cert_of(hierarchy, "linked")
    assert OcspChecker(OCSP_URL, responder.post).check(cert, issuer) is GOOD
    [(url, request)] = responder.requests
    assert url == OCSP_URL
    assert isinstance(request.hash_algorithm, hashes.SHA256)
    assert (request.issuer_name_hash, request.issuer_key_hash) == cert_id_hashes(issuer, hashes.SHA256())
    assert request.serial_number == cert.serial_number
    nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert len(nonce) == 16


def test_ocsp_answers_for_every_generation(hierarchy: TestHierarchy, responder_revoked: set[int]) -> None:
    checker = OcspChecker(OCSP_URL, OcspResponder(hierarchy, responder_revoked).post)
    for slug in ("linked", "linked-old", "old-root"):
        assert checker.check(*cert_of(hierarchy, slug)) is GOOD, slug
    assert checker.check(*cert_of(hierarchy, "revoked")) is REVOKED


def test_ocsp_signed_by_another_key_is_unknown(
    hierarchy: TestHierarchy, responder_revoked: set[int]
) -> None:
    # Same issuer name, responder ID of the 2023 root, signature by the 2019 key.
    responder = OcspResponder(hierarchy, responder_revoked, signing_key=hierarchy.auth_ca_key("2019"))
    checker = OcspChecker(OCSP_URL, responder.post)
    assert checker.check(*cert_of(hierarchy, "linked")) is UNKNOWN


def test_stale_ocsp_is_unknown(hierarchy: TestHierarchy, responder_revoked: set[int]) -> None:
    responder = OcspResponder(hierarchy, responder_revoked, clock=lambda: now() - dt.timedelta(hours=2))
    assert OcspChecker(OCSP_URL, responder.post).check(*cert_of(hierarchy, "linked")) is UNKNOWN
    future = OcspResponder(hierarchy, responder_revoked, clock=lambda: now() + dt.timedelta(hours=1))
    assert OcspChecker(OCSP_URL, future.post).check(*cert_of(hierarchy, "linked")) is UNKNOWN


def test_replayed_ocsp_answer_is_unknown(hierarchy: TestHierarchy, responder_revoked: set[int]) -> None:
    responder = OcspResponder(hierarchy, responder_revoked)
    recorded: list[bytes] = []

    def recording(url: str, body: bytes) -> bytes:
        recorded.append(responder.post(url, body))
        return recorded[0]

    checker = OcspChecker(OCSP_URL, recording)
    cert, issuer = cert_of(hierarchy, "linked")
    assert checker.check(cert, issuer) is GOOD
    assert checker.check(cert, issuer) is UNKNOWN  # the first answer echoes the first nonce


def test_ocsp_answer_for_another_certificate_is_unknown(
    hierarchy: TestHierarchy, responder_revoked: set[int]
) -> None:
    responder = OcspResponder(hierarchy, responder_revoked)
    other, other_issuer = cert_of(hierarchy, "unlinked")
    checker = OcspChecker(OCSP_URL, responder.post)

    def swapped(url: str, body: bytes) -> bytes:
        return responder.post(url, checker.build_request(other, other_issuer, None).public_bytes(DER))

    assert OcspChecker(OCSP_URL, swapped).check(*cert_of(hierarchy, "linked")) is UNKNOWN


@pytest.mark.parametrize("answer", [
    b"",
    b"garbage",
    b"\x00" * (64 * 1024 + 1),
    ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER).public_bytes(DER),
], ids=["empty", "garbage", "oversized", "try_later"])
def test_unusable_ocsp_answers_are_unknown(hierarchy: TestHierarchy, answer: bytes) -> None:
    checker = OcspChecker(OCSP_URL, lambda url, body: answer)
    assert checker.check(*cert_of(hierarchy, "linked")) is UNKNOWN


def test_responder_refuses_other_issuers(hierarchy: TestHierarchy) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    request = OcspChecker(OCSP_URL, lambda u, b: b"").build_request(cert, issuer, None)
    other = ca_cert(hierarchy, "2019")
    answer = build_ocsp_response(request.public_bytes(DER), other, hierarchy.auth_ca_key("2019"), [], now())
    assert ocsp.load_der_ocsp_response(answer).response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
    garbage = build_ocsp_response(b"nope", other, hierarchy.auth_ca_key("2019"), [], now())
    status = ocsp.load_der_ocsp_response(garbage).response_status
    assert status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def delegated_responder(
    hierarchy: TestHierarchy, *, ocsp_signing: bool
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = ca_cert(hierarchy, "2023")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "JPKI-TEST OCSP responder")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - dt.timedelta(days=1))
        .not_valid_after(now() + dt.timedelta(days=30))
    )
    if ocsp_signing:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]),
                                        critical=False)
    return builder.sign(hierarchy.auth_ca_key("2023"), hashes.SHA256()), key


@pytest.mark.parametrize("ocsp_signing", [True, False])
def test_delegated_responder_needs_ocsp_signing(hierarchy: TestHierarchy, ocsp_signing: bool) -> None:
    responder_cert, responder_key = delegated_responder(hierarchy, ocsp_signing=ocsp_signing)
    cert, issuer = cert_of(hierarchy, "linked")

    def post(url: str, body: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(body)
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(cert, issuer, hashes.SHA1(), ocsp.OCSPCertStatus.GOOD, now(),
                          now() + dt.timedelta(minutes=10), None, None)
            .responder_id(ocsp.OCSPResponderEncoding.NAME, responder_cert)
            .certificates([responder_cert])
            .add_extension(nonce, critical=False)
            .sign(responder_key, hashes.SHA256())
        )
        return response.public_bytes(DER)

    expected = GOOD if ocsp_signing else UNKNOWN
    assert OcspChecker(OCSP_URL, post).check(cert, issuer) is expected


def test_ocsp_without_next_update_has_a_max_age(hierarchy: TestHierarchy) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    produced = now() - dt.timedelta(hours=2)

    def post(url: str, body: bytes) -> bytes:
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(cert, issuer, hashes.SHA256(), ocsp.OCSPCertStatus.GOOD, produced, None,
                          None, None)
            .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
            .sign(hierarchy.auth_ca_key("2023"), hashes.SHA256())
        )
        return response.public_bytes(DER)

    assert OcspChecker(OCSP_URL, post, use_nonce=False).check(cert, issuer) is GOOD
    strict = OcspChecker(OCSP_URL, post, max_age=dt.timedelta(hours=1))
    assert strict.check(cert, issuer) is UNKNOWN
