"""JpkiVerifier end to end: real signatures from the simulated card, one test per outcome."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kiosk.nfc.sim import TestHierarchy
from kiosk.nfc.sim.hierarchy import auth_certificate, build_crl
from linkserver import (
    CrlFileChecker,
    JpkiVerifier,
    NoRevocationCheck,
    OcspChecker,
    PpidDeriver,
    RenewalTable,
    RevocationStatus,
    TrustStore,
    VerificationRefused,
)
from linkserver.verifier import MAX_CERTIFICATE_BYTES, parse_certificate
from tests.linkserver.conftest import (
    OCSP_URL,
    OTHER_SECRET,
    SECRET,
    CardAnswer,
    OcspResponder,
    SignWithCard,
    ca_cert,
    now,
    verify,
)

DER = serialization.Encoding.DER


def refused(code: str, call: Callable[[], object]) -> VerificationRefused:
    with pytest.raises(VerificationRefused) as caught:
        call()
    assert caught.value.code == code, str(caught.value)
    return caught.value


def leaf(
    hierarchy: TestHierarchy, public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, *,
    generation: str = "2023", digital_signature: bool = True,
    algorithm: hashes.SHA256 | hashes.SHA512 | None = None,
) -> x509.Certificate:
    """A leaf certificate from a test root, with the profile's extensions."""
    issuer = ca_cert(hierarchy, generation)
    start = now() - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, "A" * 20)]))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365))
        .add_extension(x509.KeyUsage(
            digital_signature=digital_signature, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        ), critical=True)
    )
    return builder.sign(hierarchy.auth_ca_key(generation), algorithm or hashes.SHA256())


# -- accepted --------------------------------------------------------------------------------


def test_valid_card_of_the_current_generation(
    verifier: JpkiVerifier, sign_with_card: SignWithCard, hierarchy: TestHierarchy
) -> None:
    identity = verify(verifier, sign_with_card("linked"))
    cert = hierarchy.holder("linked").auth_certificate
    assert identity.serial == cert.serial_number
    assert identity.not_after == cert.not_valid_after_utc
    assert identity.issuer_generation_hint == "auth-2023"
    # A renewal: keyed on the serial of the card it renewed.
    assert identity.ppid == expected_ppid(cert, hierarchy.holder("linked-old").serial)


def test_card_under_the_oldest_root(verifier: JpkiVerifier, sign_with_card: SignWithCard) -> None:
    identity = verify(verifier, sign_with_card("old-root"))
    assert identity.issuer_generation_hint == "auth-2015"


def expected_ppid(cert: x509.Certificate, first_serial: int) -> str:
    """The PPID as the design defines it, computed here and not by the server: HMAC-SHA-256 under the
    service secret of the tag, the issuer's name and the first serial of the renewal chain, each of
    the last two prefixed with its 4-byte length."""
    serial = first_serial.to_bytes((first_serial.bit_length() + 7) // 8, "big")
    issuer = cert.issuer.public_bytes()
    key = (b"jp.kiosk.ppid.v1\x00" + len(issuer).to_bytes(4, "big") + issuer
           + len(serial).to_bytes(4, "big") + serial)
    return hmac.new(SECRET, key, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("holder", ["unlinked", "latin", "linked-old"])
def test_other_valid_cards(
    verifier: JpkiVerifier, sign_with_card: SignWithCard, hierarchy: TestHierarchy, holder: str
) -> None:
    identity = verify(verifier, sign_with_card(holder))
    card = hierarchy.holder(holder)
    cert = card.auth_certificate
    assert identity.serial == card.serial == cert.serial_number
    assert identity.not_after == cert.not_valid_after_utc
    assert identity.issuer_generation_hint == f"auth-{card.spec.generation}"
    assert identity.ppid == expected_ppid(cert, card.serial)  # none of them renews another card


def test_renewed_card_keeps_the_ppid(verifier: JpkiVerifier, sign_with_card: SignWithCard) -> None:
    old = verify(verifier, sign_with_card("linked-old"))
    new = verify(verifier, sign_with_card("linked"))
    other = verify(verifier, sign_with_card("unlinked"))
    assert old.issuer_generation_hint == "auth-2019" and new.issuer_generation_hint == "auth-2023"
    assert old.serial != new.serial
    assert old.ppid == new.ppid
    assert other.ppid != new.ppid


def test_two_services_get_unlinkable_ppids(
    trust: TrustStore, crl_checker: CrlFileChecker, renewals: RenewalTable,
    verifier: JpkiVerifier, sign_with_card: SignWithCard,
) -> None:
    answer = sign_with_card("linked")
    other_service = JpkiVerifier(trust, crl_checker, PpidDeriver(OTHER_SECRET, renewals))
    first = verify(verifier, answer)
    second = verify(other_service, answer)
    assert first.serial == second.serial
    assert first.ppid != second.ppid
    # Deterministic per service: the same card always maps to the same PPID.
    assert verify(verifier, answer).ppid == first.ppid


def test_valid_card_with_ocsp(
    hierarchy: TestHierarchy, trust: TrustStore, ppid: PpidDeriver, sign_with_card: SignWithCard
) -> None:
    responder = OcspResponder(hierarchy, {hierarchy.holder("revoked").serial})
    verifier = JpkiVerifier(trust, OcspChecker(OCSP_URL, responder.post), ppid)
    identity = verify(verifier, sign_with_card("old-root"))
    assert identity.issuer_generation_hint == "auth-2015"
    [(url, request)] = responder.requests
    assert url == OCSP_URL and request.serial_number == identity.serial


def test_no_revocation_check_is_explicit(
    trust: TrustStore, ppid: PpidDeriver, sign_with_card: SignWithCard, hierarchy: TestHierarchy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Only for demos: it lets even a revoked card through, which is why it says so when made.
    with caplog.at_level(logging.WARNING, logger="linkserver.revocation"):
        checker = NoRevocationCheck()
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("linkserver.revocation", logging.WARNING,
         "revocation checking is disabled: every certificate counts as not revoked")]
    verifier = JpkiVerifier(trust, checker, ppid)
    identity = verify(verifier, sign_with_card("revoked"))
    assert identity.serial == hierarchy.holder("revoked").serial


# -- refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"", b"\x00" * 10, b"not a certificate at all", b"\x30\x82\xff\xff"])
def test_garbage_is_a_malformed_certificate(
    verifier: JpkiVerifier, sign_with_card: SignWithCard, garbage: bytes
) -> None:
    answer = sign_with_card("linked")
    refused("malformed_certificate", lambda: verify(verifier, answer, cert_der=garbage))


def test_truncated_der_is_a_malformed_certificate(
    verifier: JpkiVerifier, sign_with_card: SignWithCard
) -> None:
    answer = sign_with_card("linked")
    for cut in (1, 20, len(answer.cert_der) // 2, len(answer.cert_der) - 1):
        with pytest.raises(VerificationRefused) as caught:
            verify(verifier, answer, cert_der=answer.cert_der[:cut])
        assert caught.value.code == "malformed_certificate", cut
    # Trailing bytes after the certificate are not tolerated either.
    refused("malformed_certificate",
            lambda: verify(verifier, answer, cert_der=answer.cert_der + b"\x00"))


@pytest.mark.parametrize(("size", "message"), [
    (MAX_CERTIFICATE_BYTES, "the certificate is not valid DER X.509"),  # parsed, then refused
    (MAX_CERTIFICATE_BYTES + 1,
     f"a certificate of {MAX_CERTIFICATE_BYTES + 1} bytes exceeds the {MAX_CERTIFICATE_BYTES}-byte limit"),
], ids=["at-the-limit", "over-it"])
def test_oversized_certificate_is_refused_unparsed_and_the_limit_is_inclusive(
    verifier: JpkiVerifier, sign_with_card: SignWithCard, size: int, message: str
) -> None:
    answer = sign_with_card("linked")
    padded = answer.cert_der + b"\x00" * (size - len(answer.cert_der))
    error = refused("malformed_certificate", lambda: verify(verifier, answer, cert_der=padded))
    assert error.message == message


#: The SPKI's AlgorithmIdentifier of an RSA key: rsaEncryption with NULL parameters.
RSA_ENCRYPTION = bytes.fromhex("06092a864886f70d0101010500")


def test_a_key_of_an_unknown_type_or_that_does_not_parse_is_refused_with_its_reason(
    hierarchy: TestHierarchy,
) -> None:
    der = hierarchy.holder("linked").auth_certificate.public_bytes(DER)
    at = der.index(RSA_ENCRYPTION)
    unknown_type = bytearray(der)
    unknown_type[at + 10] = 0x63  # 1.2.840.113549.1.1.99: no key type at all
    error = refused("unsupported_key", lambda: parse_certificate(bytes(unknown_type)))
    assert error.message == "the certificate's public key type is not supported"
    # BIT STRING (03 82 len len 00), RSAPublicKey SEQUENCE (30 82 len len), then the modulus's
    # INTEGER tag, turned into an OCTET STRING: the key no longer parses.
    bad_key = bytearray(der)
    bits = at + len(RSA_ENCRYPTION)
    assert bad_key[bits] == 0x03 and bad_key[bits + 9] == 0x02
    bad_key[bits + 9] = 0x04
    error = refused("malformed_certificate", lambda: parse_certificate(bytes(bad_key)))
    assert error.message == "the certificate's public key does not parse"


def test_what_is_not_bytes_or_not_der_is_refused_with_its_reason() -> None:
    error = refused("malformed_certificate", lambda: parse_certificate("MIIB..."))  # type: ignore[arg-type]
    assert error.message == "the certificate must be DER bytes"
    error = refused("malformed_certificate", lambda: parse_certificate(b"not a certificate"))
    assert error.message == "the certificate is not valid DER X.509"


def test_foreign_chain_is_an_unknown_issuer(verifier: JpkiVerifier, sign_with_card: SignWithCard) -> None:
    error = refused("unknown_issuer", lambda: verify(verifier, sign_with_card("foreign")))
    assert "no configured trust anchor" in error.message


def test_forged_certificate_with_a_trusted_name_is_an_unknown_issuer(
    hierarchy: TestHierarchy, verifier: JpkiVerifier, sign_with_card: SignWithCard
) -> None:
    # Right issuer name and key identifier, wrong key: the subject alone never makes an issuer.
    holder = hierarchy.holder("linked")
    forged = auth_certificate(
        holder_key=holder.auth_key.public_key(), cn=holder.cn, issuer=ca_cert(hierarchy, "2023"),
        issuer_key=hierarchy.auth_ca_key("2019"), not_before=now() - dt.timedelta(days=1),
        not_after=now() + dt.timedelta(days=30),
    )
    answer = sign_with_card("linked")
    error = refused("unknown_issuer", lambda: verify(verifier, answer, cert_der=forged.public_bytes(DER)))
    assert "does not verify" in error.message


def test_expired(verifier: JpkiVerifier, sign_with_card: SignWithCard) -> None:
    refused("expired", lambda: verify(verifier, sign_with_card("expired")))


def test_not_yet_valid(verifier: JpkiVerifier, sign_with_card: SignWithCard) -> None:
    refused("not_yet_valid", lambda: verify(verifier, sign_with_card("not-yet-valid")))


def test_validity_is_judged_at_the_signing_time(
    verifier: JpkiVerifier, sign_with_card: SignWithCard, hierarchy: TestHierarchy
) -> None:
    answer = sign_with_card("expired")
    before_expiry = hierarchy.holder("expired").auth_certificate.not_valid_after_utc - dt.timedelta(days=1)
    verify(verifier, answer, signed_at=before_expiry)
    linked = sign_with_card("linked")
    refused("expired", lambda: verify(verifier, linked, signed_at=now() + dt.timedelta(days=20 * 365)))
    with pytest.raises(ValueError, match=r"^the signing time must be timezone-aware$"):
        verify(verifier, linked, signed_at=dt.datetime(2025, 1, 1))


def test_leaf_without_digital_signature_is_refused(
    hierarchy: TestHierarchy, verifier: JpkiVerifier, sign_with_card: SignWithCard
) -> None:
    holder = hierarchy.holder("linked")
    cert = auth_certificate(
        holder_key=holder.auth_key.public_key(), cn=holder.cn, issuer=ca_cert(hierarchy, "2023"),
        issuer_key=hierarchy.auth_ca_key("2023"), not_before=now() - dt.timedelta(days=1),
        not_after=now() + dt.timedelta(days=30), key_usage_digital_signature=False,
    )
    answer = sign_with_card("linked")  # a real signature by the same key: only the usage differs
    error = refused("key_usage", lambda: verify(verifier, answer, cert_der=cert.public_bytes(DER)))
    assert "digitalSignature" in error.message


def test_a_ca_certificate_is_not_a_card(
    hierarchy: TestHierarchy, verifier: JpkiVerifier, sign_with_card: SignWithCard
) -> None:
    answer = sign_with_card("linked")
    root = ca_cert(hierarchy, "2023").public_bytes(DER)
    refused("key_usage", lambda: verify(verifier, answer, cert_der=root))


def test_revoked_via_crl(verifier: JpkiVerifier, sign_with_card: SignWithCard) -> None:
    refused("revoked", lambda: verify(verifier, sign_with_card("revoked")))


def test_revoked_via_ocsp(
    hierarchy: TestHierarchy, trust: TrustStore, ppid: PpidDeriver, sign_with_card: SignWithCard
) -> None:
    responder = OcspResponder(hierarchy, {hierarchy.holder("revoked").serial})
    verifier = JpkiVerifier(trust, OcspChecker(OCSP_URL, responder.post), ppid)
    refused("revoked", lambda: verify(verifier, sign_with_card("revoked")))
    verify(verifier, sign_with_card("linked"))


def test_stale_crl_is_revocation_unknown(
    hierarchy: TestHierarchy, trust: TrustStore, ppid: PpidDeriver, sign_with_card: SignWithCard,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    old = now() - dt.timedelta(days=30)
    crl = build_crl(ca_cert(hierarchy, "2023"), hierarchy.auth_ca_key("2023"), [], old)
    path = tmp_path_factory.mktemp("crl") / "auth-2023.crl"
    path.write_bytes(crl.public_bytes(DER))
    verifier = JpkiVerifier(trust, CrlFileChecker([path]), ppid)
    refused("revocation_unknown", lambda: verify(verifier, sign_with_card("linked")))


def test_missing_crl_is_revocation_unknown(
    hierarchy: TestHierarchy, trust: TrustStore, ppid: PpidDeriver, sign_with_card: SignWithCard
) -> None:
    # The 2019 CRL has the same issuer name as the 2023 one but another key: it says nothing here.
    verifier = JpkiVerifier(trust, CrlFileChecker([hierarchy.crl_path("2019")]), ppid)
    refused("revocation_unknown", lambda: verify(verifier, sign_with_card("linked")))


def test_unreachable_ocsp_is_revocation_unknown(
    trust: TrustStore, ppid: PpidDeriver, sign_with_card: SignWithCard
) -> None:
    def down(url: str, body: bytes) -> bytes:
        raise ConnectionError("no route to host")

    verifier = JpkiVerifier(trust, OcspChecker(OCSP_URL, down), ppid)
    refused("revocation_unknown", lambda: verify(verifier, sign_with_card("linked")))


def test_a_failing_checker_fails_closed(
    trust: TrustStore, ppid: PpidDeriver, sign_with_card: SignWithCard
) -> None:
    class Broken:
        local = True

        def check(self, cert: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
            raise RuntimeError("database is locked")

    class Unsure:
        local = True

        def check(self, cert: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
            return RevocationStatus.UNKNOWN

    answer = sign_with_card("linked")
    broken = refused("revocation_unknown", lambda: verify(JpkiVerifier(trust, Broken(), ppid), answer))
    assert broken.message == "the revocation checker failed"
    assert isinstance(broken.__cause__, RuntimeError)
    unsure = refused("revocation_unknown", lambda: verify(JpkiVerifier(trust, Unsure(), ppid), answer))
    assert unsure.message == unsure.code.meaning


@pytest.mark.parametrize("changes", [
    {"nonce": bytes(16)},
    {"kiosk_id": "kiosk-hongo-02"},
    {"account": "ichiro.suzuki@example.ac.jp"},
], ids=["nonce", "kiosk_id", "account"])
def test_signature_over_another_claim_is_bad(
    verifier: JpkiVerifier, sign_with_card: SignWithCard, changes: dict[str, Any]
) -> None:
    answer = sign_with_card("linked")
    refused("bad_signature", lambda: verify(verifier, answer, **changes))


def test_signature_from_another_card_is_bad(verifier: JpkiVerifier, sign_with_card: SignWithCard) -> None:
    mine = sign_with_card("linked")
    theirs = sign_with_card("unlinked")
    refused("bad_signature", lambda: verify(verifier, mine, signature=theirs.signature))
    refused("bad_signature", lambda: verify(verifier, mine, signature=mine.signature[:-1]))
    refused("bad_signature", lambda: verify(verifier, mine, signature=b""))


def test_unsupported_key_type_on_the_card(
    hierarchy: TestHierarchy, verifier: JpkiVerifier
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = leaf(hierarchy, key.public_key())
    answer = CardAnswer(cert.public_bytes(DER), b"\x00" * 64)
    error = refused("unsupported_key", lambda: verify(verifier, answer))
    assert "card signature scheme" in error.message


def test_unsupported_certificate_signature_algorithm(
    hierarchy: TestHierarchy, verifier: JpkiVerifier, sign_with_card: SignWithCard
) -> None:
    answer = sign_with_card("linked")
    public_key = hierarchy.holder("linked").auth_key.public_key()
    cert = leaf(hierarchy, public_key, algorithm=hashes.SHA512())
    error = refused("unsupported_key", lambda: verify(verifier, answer, cert_der=cert.public_bytes(DER)))
    assert "sha512WithRSAEncryption" in error.message


def test_small_rsa_key_is_unsupported(hierarchy: TestHierarchy, verifier: JpkiVerifier) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    cert = leaf(hierarchy, key.public_key())
    answer = CardAnswer(cert.public_bytes(DER), b"\x00" * 128)
    error = refused("unsupported_key", lambda: verify(verifier, answer))
    assert "too small" in error.message
