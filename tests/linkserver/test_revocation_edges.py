"""Revocation at its exact edges: a CRL whose extensions do not parse, two CRLs of one moment, and
OCSP answers and responder certificates at the very second a limit is reached."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from kiosk.nfc.sim import TestHierarchy
from kiosk.offline.validate import load_crl as kiosk_load_crl
from linkserver import CrlFileChecker, OcspChecker, RevocationStatus
from linkserver.revocation import load_crl
from tests.linkserver.conftest import OCSP_URL, ca_cert, now
from tests.linkserver.test_revocation import RESPONDER_NAME, cert_of, crl_with, write_crl

DER = serialization.Encoding.DER
GOOD, UNKNOWN = RevocationStatus.GOOD, RevocationStatus.UNKNOWN
SECOND = dt.timedelta(seconds=1)
SKEW = dt.timedelta(minutes=5)

#: The DER of OID 1.2.3.4 and of cRLNumber (2.5.29.20), the same length: renaming one to the other
#: makes a CRL that states its number twice.
PRIVATE_OID, CRL_NUMBER_OID = bytes.fromhex("06032a0304"), bytes.fromhex("0603551d14")


def crl_with_its_number_twice(hierarchy: TestHierarchy) -> bytes:
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x02\x01\x01")
    crl = crl_with(hierarchy, (x509.CRLNumber(1), False), (odd, False))
    der = crl.public_bytes(DER)
    assert der.count(PRIVATE_OID) == 1
    return der.replace(PRIVATE_OID, CRL_NUMBER_OID)


@pytest.mark.parametrize("load", [load_crl, kiosk_load_crl], ids=["server", "kiosk"])
def test_a_crl_with_an_extension_twice_is_refused_when_loaded(
    hierarchy: TestHierarchy, tmp_path: Path, load: Callable[[Path], x509.CertificateRevocationList],
) -> None:
    """cryptography parses a CRL's extensions lazily and raises DuplicateExtension, no ValueError:
    unchecked, the first card asked about would meet it as a 500."""
    path = tmp_path / "twice.crl"
    path.write_bytes(crl_with_its_number_twice(hierarchy))
    words = f"{path}: the CRL's extensions do not parse (Duplicate 2.5.29.20 "
    with pytest.raises(ValueError, match=f"^{re.escape(words)}"):
        load(path)


def test_a_checker_keeps_its_crls_when_a_reloaded_file_does_not_parse(
    hierarchy: TestHierarchy, tmp_path: Path,
) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    path = write_crl(tmp_path, "auth.crl", crl_with(hierarchy))
    checker = CrlFileChecker([path])
    path.write_bytes(crl_with_its_number_twice(hierarchy))
    with pytest.raises(ValueError, match="extensions do not parse"):
        checker.reload()
    assert checker.check(cert, issuer) is GOOD
    with pytest.raises(ValueError, match="extensions do not parse"):
        CrlFileChecker([path])


def test_of_two_crls_of_one_moment_the_first_listed_is_used(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    issuer = cert_of(hierarchy, "linked")[1]
    moment = now().replace(microsecond=0) - dt.timedelta(hours=1)
    first = write_crl(tmp_path, "first.crl", crl_with(hierarchy, this_update=moment))
    second = write_crl(tmp_path, "second.crl", crl_with(hierarchy, this_update=moment))
    for paths in ([first, second], [second, first]):
        info = CrlFileChecker(paths).crl_info(issuer)
        assert info is not None and info.source == str(paths[0])


def test_an_ocsp_answer_produced_exactly_at_the_tolerated_skew_is_used(hierarchy: TestHierarchy) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    produced: list[dt.datetime] = []

    def post(url: str, body: bytes) -> bytes:
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(cert, issuer, hashes.SHA256(), ocsp.OCSPCertStatus.GOOD,
                          now() - dt.timedelta(hours=1), now() + dt.timedelta(hours=1), None, None)
            .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
            .sign(hierarchy.auth_ca_key("2023"), hashes.SHA256())
        )
        produced.append(response.produced_at_utc)
        return response.public_bytes(DER)

    for early, expected in ((dt.timedelta(0), GOOD), (SECOND, UNKNOWN)):
        # The clock is read after the answer arrives: it says producedAt, less the skew (and more).
        checker = OcspChecker(OCSP_URL, post, use_nonce=False, max_skew=SKEW,
                              clock=lambda early=early: produced[-1] - SKEW - early)
        assert checker.check(cert, issuer) is expected, early


def responder_valid(hierarchy: TestHierarchy, start: dt.datetime,
                    end: dt.datetime) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder().subject_name(RESPONDER_NAME).issuer_name(ca_cert(hierarchy, "2023").subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .sign(hierarchy.auth_ca_key("2023"), hashes.SHA256())
    )
    return cert, key


def test_a_responder_certificate_counts_from_its_first_to_its_last_second(hierarchy: TestHierarchy) -> None:
    cert, issuer = cert_of(hierarchy, "linked")
    start = now().replace(microsecond=0) - dt.timedelta(days=2)
    end = start + dt.timedelta(days=1)
    responder, key = responder_valid(hierarchy, start, end)
    answer = (
        ocsp.OCSPResponseBuilder()
        .add_response(cert, issuer, hashes.SHA256(), ocsp.OCSPCertStatus.GOOD, start - dt.timedelta(hours=1),
                      end + dt.timedelta(hours=1), None, None)
        .responder_id(ocsp.OCSPResponderEncoding.NAME, responder)
        .certificates([responder])
        .sign(key, hashes.SHA256())
        .public_bytes(DER)
    )
    # A skew of days lets an answer produced today pass at the responder's edges of two days ago.
    for at, expected in ((start - SECOND, UNKNOWN), (start, GOOD), (end, GOOD), (end + SECOND, UNKNOWN)):
        checker = OcspChecker(OCSP_URL, lambda url, body: answer, use_nonce=False,
                              max_skew=dt.timedelta(days=3), clock=lambda at=at: at)
        assert checker.check(cert, issuer) is expected, at
