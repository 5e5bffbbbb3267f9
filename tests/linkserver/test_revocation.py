"""Revocation checkers: CRL files of several same-named roots, and OCSP against the test responder."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    path.write_bytes(b"\n  " + path.read_bytes())  # PEM after blank space is still PEM
    assert CrlFileChecker([path]).check(cert, issuer) is REVOKED


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


RESPONDER_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "JPKI-TEST OCSP responder")])


def delegated_responder(
    hierarchy: TestHierarchy, *, ocsp_signing: bool = True, name: x509.Name = RESPONDER_NAME,
    issuer_name: x509.Name | None = None, signed_by: str = "2023", aki: bytes | None = None,
    expired: bool = False, key: rsa.RSAPrivateKey | None = None,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A responder certificate from the 2023 root (by default), with a fresh key."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = now() - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or ca_cert(hierarchy, "2023").subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(days=30) if expired else start)
        .not_valid_after(start if expired else now() + dt.timedelta(days=30))
    )
    if ocsp_signing:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]),
                                        critical=False)
    if aki is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    return builder.sign(hierarchy.auth_ca_key(signed_by), hashes.SHA256()), key


def delegated_post(
    hierarchy: TestHierarchy, signer: tuple[x509.Certificate, rsa.RSAPrivateKey],
    certificates: list[x509.Certificate],
) -> Callable[[str, bytes], bytes]:
    """A responder answering GOOD for the linked card, signed by ``signer``, sending ``certificates``."""
    cert, issuer = cert_of(hierarchy, "linked")

    def post(url: str, body: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(body)
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(cert, issuer, hashes.SHA1(), ocsp.OCSPCertStatus.GOOD, now(),
                          now() + dt.timedelta(minutes=10), None, None)
            .responder_id(ocsp.OCSPResponderEncoding.NAME, signer[0])
            .certificates(certificates)
            .add_extension(nonce, critical=False)
            .sign(signer[1], hashes.SHA256())
        )
        return response.public_bytes(DER)

    return post


@pytest.mark.parametrize("ocsp_signing", [True, False])
def test_delegated_responder_needs_ocsp_signing(hierarchy: TestHierarchy, ocsp_signing: bool) -> None:
    responder = delegated_responder(hierarchy, ocsp_signing=ocsp_signing)
    cert, issuer = cert_of(hierarchy, "linked")
    expected = GOOD if ocsp_signing else UNKNOWN
    post = delegated_post(hierarchy, responder, [responder[0]])
    assert OcspChecker(OCSP_URL, post).check(cert, issuer) is expected


def test_the_delegated_responder_is_found_among_decoys(hierarchy: TestHierarchy) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    own_aki = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    real = delegated_responder(hierarchy, aki=own_aki)
    key = real[1]  # decoys with the responder's own key fail on their other flaw only
    other_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")])
    decoys = [
        delegated_responder(hierarchy, name=other_name)[0],  # names another responder
        delegated_responder(hierarchy, aki=b"\x00" * 20)[0],  # another issuer key's identifier
        delegated_responder(hierarchy, signed_by="2019", key=key)[0],  # not the issuer's signature
        delegated_responder(hierarchy, expired=True, key=key)[0],
        delegated_responder(hierarchy, ocsp_signing=False, key=key)[0],
    ]
    post = delegated_post(hierarchy, real, [*decoys, real[0]])
    assert OcspChecker(OCSP_URL, post).check(cert, issuer) is GOOD
    # Named for the responder and signed by the issuer's key, but naming another issuer: not one.
    foreign = delegated_responder(hierarchy, issuer_name=other_name)
    post = delegated_post(hierarchy, foreign, [foreign[0]])
    assert OcspChecker(OCSP_URL, post).check(cert, issuer) is UNKNOWN


def signed_answer(
    hierarchy: TestHierarchy, this_update: dt.datetime, next_update: dt.datetime | None, *,
    algorithm: hashes.HashAlgorithm | None = None, echo_nonce: bool = False,
) -> Callable[[str, bytes], bytes]:
    """A responder that answers GOOD for the linked card, signed by the 2023 root, with these times."""
    cert, issuer = cert_of(hierarchy, "linked")

    def post(url: str, body: bytes) -> bytes:
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(cert, issuer, algorithm or hashes.SHA256(), ocsp.OCSPCertStatus.GOOD,
                          this_update, next_update, None, None)
            .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
        )
        if echo_nonce:
            request = ocsp.load_der_ocsp_request(body)
            builder = builder.add_extension(
                request.extensions.get_extension_for_class(x509.OCSPNonce).value, critical=False)
        return builder.sign(hierarchy.auth_ca_key("2023"), hashes.SHA256()).public_bytes(DER)

    return post


def test_ocsp_without_next_update_has_a_max_age(hierarchy: TestHierarchy) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    post = signed_answer(hierarchy, now() - dt.timedelta(hours=2), None)
    assert OcspChecker(OCSP_URL, post, use_nonce=False).check(cert, issuer) is GOOD
    # A pre-produced answer (no nonce echoed) serves a request that carried one.
    assert OcspChecker(OCSP_URL, post).check(cert, issuer) is GOOD
    strict = OcspChecker(OCSP_URL, post, max_age=dt.timedelta(hours=1))
    assert strict.check(cert, issuer) is UNKNOWN


# -- what the log says, and the edges ---------------------------------------------------------


def unknown_because(caplog: pytest.LogCaptureFixture, checker: CrlFileChecker | OcspChecker,
                    cert: x509.Certificate, issuer: x509.Certificate) -> str:
    """The one warning the checker logs on answering UNKNOWN: the operator's only clue to why."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="linkserver.revocation"):
        assert checker.check(cert, issuer) is UNKNOWN
    [record] = [r for r in caplog.records if r.name == "linkserver.revocation"]
    return record.getMessage()


def crl_with(hierarchy: TestHierarchy, *extensions: tuple[x509.ExtensionType, bool],
             revoked: int | None = None, this_update: dt.datetime | None = None,
             algorithm: hashes.HashAlgorithm | None = None) -> x509.CertificateRevocationList:
    """A CRL of the 2023 root with the given (extension, critical) pairs, fresh for a day."""
    start = this_update or now() - dt.timedelta(hours=1)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert(hierarchy, "2023").subject)
               .last_update(start).next_update(start + dt.timedelta(days=1)))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    if revoked is not None:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(revoked).revocation_date(start).build())
    return builder.sign(hierarchy.auth_ca_key("2023"), algorithm or hashes.SHA256())


def idp(**fields: Any) -> tuple[x509.IssuingDistributionPoint, bool]:
    values = {"full_name": None, "relative_name": None, "only_contains_user_certs": False,
              "only_contains_ca_certs": False, "only_some_reasons": None, "indirect_crl": False,
              "only_contains_attribute_certs": False, **fields}
    return x509.IssuingDistributionPoint(**values), True


PRIVATE_EXTENSION = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
OWN_POINT = [x509.UniformResourceIdentifier("http://jpki-test.invalid/crl/auth-2023.crl")]


@pytest.mark.parametrize(("extensions", "expected"), [
    ([], GOOD),
    ([(PRIVATE_EXTENSION, False)], GOOD),
    ([(PRIVATE_EXTENSION, True)], UNKNOWN),
    ([(x509.CRLNumber(7), True)], GOOD),  # critical, but understood
    ([idp(only_contains_user_certs=True)], GOOD),
    ([idp(only_contains_ca_certs=True)], UNKNOWN),
    ([idp(only_contains_attribute_certs=True)], UNKNOWN),
    ([idp(indirect_crl=True)], UNKNOWN),
    ([idp(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise}))], UNKNOWN),
    ([idp(relative_name=x509.RelativeDistinguishedName(
        [x509.NameAttribute(NameOID.COMMON_NAME, "auth-2023")]))], UNKNOWN),
    ([idp(full_name=OWN_POINT)], GOOD),
    ([idp(full_name=[x509.UniformResourceIdentifier("http://jpki-test.invalid/crl/other.crl")])], UNKNOWN),
], ids=["plain", "unknown-noncritical", "unknown-critical", "crl-number", "user-certs", "ca-certs",
        "attribute-certs", "indirect", "some-reasons", "relative-name", "own-point", "other-point"])
def test_a_crl_counts_only_where_its_scope_covers_the_certificate(
    hierarchy: TestHierarchy, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    extensions: list[tuple[x509.ExtensionType, bool]], expected: RevocationStatus,
) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    path = write_crl(tmp_path, "scoped.crl", crl_with(hierarchy, *extensions))
    checker = CrlFileChecker([path])
    if expected is GOOD:
        assert checker.check(cert, issuer) is GOOD
        revoking = crl_with(hierarchy, *extensions, revoked=cert.serial_number)
        revoked = write_crl(tmp_path, "revoked.crl", revoking)
        assert CrlFileChecker([revoked]).check(cert, issuer) is REVOKED
    else:
        assert unknown_because(caplog, checker, cert, issuer) == f"CRL {path} does not cover this certificate"


def test_a_crl_with_a_distribution_point_does_not_cover_a_certificate_without_one(
    hierarchy: TestHierarchy, tmp_path: Path
) -> None:
    _, issuer = cert_of(hierarchy, "linked")
    cert = ca_cert(hierarchy, "2023")  # names no CRL distribution point
    path = write_crl(tmp_path, "scoped.crl", crl_with(hierarchy, idp(full_name=OWN_POINT)))
    assert CrlFileChecker([path]).check(cert, issuer) is UNKNOWN


def test_crl_warnings_name_the_file_and_the_reason(
    hierarchy: TestHierarchy, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    path = hierarchy.crl_path("2019")
    assert unknown_because(caplog, CrlFileChecker([path]), cert, issuer) == (
        "no CRL signed by the issuing CA is loaded")
    later = now() + dt.timedelta(days=8)
    stale = CrlFileChecker([hierarchy.crl_path("2023")], clock=lambda: later)
    info = stale.crl_info(issuer)
    assert info is not None
    assert unknown_because(caplog, stale, cert, issuer) == (
        f"CRL {hierarchy.crl_path('2023')} is stale or not yet valid (age {later - info.this_update})")
    assert CrlFileChecker([path]).crl_info(issuer) is None


def test_crl_freshness_edges(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    start = now().replace(microsecond=0)
    crl = crl_with(hierarchy, this_update=start)
    path = write_crl(tmp_path, "edge.crl", crl)
    skew = dt.timedelta(minutes=5)
    assert crl.next_update_utc is not None
    for at, expected in ((start, GOOD), (crl.next_update_utc, GOOD),
                         (crl.next_update_utc + dt.timedelta(seconds=1), UNKNOWN),
                         (start - skew, GOOD), (start - skew - dt.timedelta(seconds=1), UNKNOWN)):
        checker = CrlFileChecker([path], clock=lambda at=at: at)
        assert checker.check(cert, issuer) is expected, at
    info = CrlFileChecker([path], clock=lambda: start).crl_info(issuer)
    assert info is not None and info.this_update == start and info.age == dt.timedelta(0)
    with pytest.raises(ValueError, match=r"^the clock's time must be timezone-aware$"):
        CrlFileChecker([path], clock=lambda: dt.datetime(2025, 1, 1)).check(cert, issuer)


def test_which_crl_is_used(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    old_issuer = ca_cert(hierarchy, "2019")
    # Another issuer's CRL first, then ours: the search goes on past it.
    foreign = (x509.CertificateRevocationListBuilder()
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")]))
               .last_update(now() - dt.timedelta(hours=1)).next_update(now() + dt.timedelta(days=1))
               .sign(hierarchy.auth_ca_key("2023"), hashes.SHA256()))
    checker = CrlFileChecker([write_crl(tmp_path, "foreign.crl", foreign), hierarchy.crl_path("2019"),
                              hierarchy.crl_path("2023")])
    assert checker.check(cert, issuer) is GOOD
    info_2023, info_2019 = checker.crl_info(issuer), checker.crl_info(old_issuer)
    assert info_2023 is not None and info_2023.source == str(hierarchy.crl_path("2023"))
    assert info_2019 is not None and info_2019.source == str(hierarchy.crl_path("2019"))
    # The newest of two CRLs of one issuer is the one used.
    older = write_crl(tmp_path, "older.crl", crl_with(hierarchy, this_update=now() - dt.timedelta(hours=3)))
    newer = write_crl(tmp_path, "newer.crl", crl_with(hierarchy, revoked=cert.serial_number))
    assert CrlFileChecker([older, newer]).check(cert, issuer) is REVOKED
    assert CrlFileChecker([newer, older]).check(cert, issuer) is REVOKED
    # A CRL signed with an algorithm the checker does not accept says nothing.
    sha512 = crl_with(hierarchy, revoked=cert.serial_number, algorithm=hashes.SHA512())
    assert CrlFileChecker([write_crl(tmp_path, "sha512.crl", sha512)]).check(cert, issuer) is UNKNOWN


def issuer_variant(hierarchy: TestHierarchy, key_usage: x509.KeyUsage | None) -> x509.Certificate:
    """The 2023 root's name and key, with another KeyUsage (or none)."""
    root = ca_cert(hierarchy, "2023")
    builder = (x509.CertificateBuilder().subject_name(root.subject).issuer_name(root.subject)
               .public_key(root.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(root.not_valid_before_utc).not_valid_after(root.not_valid_after_utc)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return builder.sign(hierarchy.auth_ca_key("2023"), hashes.SHA256())


def test_an_issuer_must_be_allowed_to_sign_crls(hierarchy: TestHierarchy) -> None:
    cert, _ = cert_of(hierarchy, "linked")
    checker = CrlFileChecker([hierarchy.crl_path("2023")])
    usage = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=True,
                 encipher_only=False, decipher_only=False)
    assert checker.check(cert, issuer_variant(hierarchy, None)) is GOOD
    assert checker.check(cert, issuer_variant(hierarchy, x509.KeyUsage(crl_sign=True, **usage))) is GOOD
    assert checker.check(cert, issuer_variant(hierarchy, x509.KeyUsage(crl_sign=False, **usage))) is UNKNOWN


def test_the_crl_checker_needs_a_file() -> None:
    with pytest.raises(ValueError, match=r"^a CRL checker needs at least one CRL file$"):
        CrlFileChecker([])


def test_no_revocation_check_says_so_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="linkserver.revocation"):
        NoRevocationCheck()
    assert [r.getMessage() for r in caplog.records] == [
        "revocation checking is disabled: every certificate counts as not revoked"]


def flip_last_bit(der: bytes) -> bytes:
    """A DER structure whose trailing signature no longer verifies."""
    return der[:-1] + bytes([der[-1] ^ 1])


def test_ocsp_warnings_name_the_responder_and_the_reason(
    hierarchy: TestHierarchy, responder_revoked: set[int], caplog: pytest.LogCaptureFixture
) -> None:
    cert, issuer = cert_of(hierarchy, "linked")

    def reason(post: Callable[[str, bytes], bytes], **options: Any) -> str:
        message = unknown_because(caplog, OcspChecker(OCSP_URL, post, **options), cert, issuer)
        prefix = f"OCSP answer from {OCSP_URL} not usable: "
        assert message.startswith(prefix), message
        return message.removeprefix(prefix)

    def down(url: str, body: bytes) -> bytes:
        raise ConnectionError("no route to host")

    assert unknown_because(caplog, OcspChecker(OCSP_URL, down), cert, issuer) == (
        f"OCSP responder {OCSP_URL} unreachable: ConnectionError")
    assert reason(lambda u, b: b"\x00" * (64 * 1024 + 1)) == "response of 65537 bytes"
    assert not reason(lambda u, b: b"\x00" * (64 * 1024)).startswith("response of")  # parsed, then refused
    try_later = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    assert reason(lambda u, b: try_later.public_bytes(DER)) == "responder status TRY_LATER"
    fresh = OcspResponder(hierarchy, responder_revoked)
    assert reason(lambda u, b: flip_last_bit(fresh.post(u, b))) == "the response signature does not verify"
    at = now().replace(microsecond=0) - dt.timedelta(hours=2)
    stale = OcspResponder(hierarchy, responder_revoked, clock=lambda: at)
    assert reason(stale.post) == f"stale: nextUpdate was {(at + dt.timedelta(hours=1)).isoformat()}"
    assert reason(signed_answer(hierarchy, at, None), max_age=dt.timedelta(hours=1)) == (
        f"stale: thisUpdate was {at.isoformat()}")
    behind = reason(fresh.post, clock=lambda: now() - dt.timedelta(hours=1))  # producedAt is the real time
    assert behind == "the response was produced in the future"
    later = now() + dt.timedelta(minutes=10)
    ahead = signed_answer(hierarchy, later, later + dt.timedelta(hours=1))
    assert reason(ahead) == "thisUpdate is in the future"
    naive = reason(fresh.post, clock=lambda: dt.datetime(2025, 1, 1))
    assert naive == "the clock's time must be timezone-aware"
    other, other_issuer = cert_of(hierarchy, "unlinked")
    request = OcspChecker(OCSP_URL, down).build_request(other, other_issuer, None).public_bytes(DER)
    assert reason(lambda u, b: fresh.post(u, request)) == "the response does not answer for this certificate"
    replayed = fresh.post(OCSP_URL, OcspChecker(OCSP_URL, down).build_request(cert, issuer, b"\x01" * 16)
                          .public_bytes(DER))
    assert reason(lambda u, b: replayed) == "the response answers another request's nonce"
    no_eku = delegated_responder(hierarchy, ocsp_signing=False)
    assert reason(delegated_post(hierarchy, no_eku, [no_eku[0]])) == (
        "the response is not signed by the issuer or its OCSP responder")
    # A CertID hashed with an algorithm the checker does not know answers for nothing.
    sha224 = signed_answer(hierarchy, now(), now() + dt.timedelta(hours=1), algorithm=hashes.SHA224())
    assert reason(sha224, use_nonce=False) == "the response does not answer for this certificate"


def test_ocsp_freshness_edges(hierarchy: TestHierarchy) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    skew, hour = dt.timedelta(minutes=5), dt.timedelta(hours=1)
    start = now().replace(microsecond=0)
    ahead = start + dt.timedelta(minutes=1)  # thisUpdate just inside the tolerated skew
    for post, at, expected in (
        (signed_answer(hierarchy, ahead, ahead + hour), ahead - skew, GOOD),
        (signed_answer(hierarchy, ahead, ahead + hour), ahead - skew - dt.timedelta(seconds=1), UNKNOWN),
        (signed_answer(hierarchy, start - hour, start), start, GOOD),  # at nextUpdate
        (signed_answer(hierarchy, start - hour, start), start + dt.timedelta(seconds=1), UNKNOWN),
        (signed_answer(hierarchy, start - hour, None), start, GOOD),  # exactly max_age old
        (signed_answer(hierarchy, start - hour, None), start + dt.timedelta(seconds=1), UNKNOWN),
    ):
        checker = OcspChecker(OCSP_URL, post, clock=lambda at=at: at, use_nonce=False, max_age=hour)
        assert checker.check(cert, issuer) is expected, at


def test_the_request_s_nonce_is_optional_and_not_critical(hierarchy: TestHierarchy) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    sent: list[ocsp.OCSPRequest] = []

    def post(url: str, body: bytes) -> bytes:
        sent.append(ocsp.load_der_ocsp_request(body))
        return b""

    OcspChecker(OCSP_URL, post).check(cert, issuer)
    OcspChecker(OCSP_URL, post, use_nonce=False).check(cert, issuer)
    with_nonce, without = sent
    assert not with_nonce.extensions.get_extension_for_class(x509.OCSPNonce).critical
    assert len(without.extensions) == 0


def test_the_test_responder_s_answers(hierarchy: TestHierarchy) -> None:
    cert, issuer = cert_of(hierarchy, "revoked")
    at = now().replace(microsecond=0)
    request = OcspChecker(OCSP_URL, lambda u, b: b"").build_request(cert, issuer, b"\x02" * 16)
    answer = ocsp.load_der_ocsp_response(build_ocsp_response(
        request.public_bytes(DER), issuer, hierarchy.auth_ca_key("2023"), [cert.serial_number], at))
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_time_utc == at - dt.timedelta(days=1)
    assert answer.revocation_reason is x509.ReasonFlags.key_compromise
    assert not answer.extensions.get_extension_for_class(x509.OCSPNonce).critical
    sha224 = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA224()).build()
    refused = build_ocsp_response(sha224.public_bytes(DER), issuer, hierarchy.auth_ca_key("2023"), [], at)
    status = ocsp.load_der_ocsp_response(refused).response_status
    assert status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
