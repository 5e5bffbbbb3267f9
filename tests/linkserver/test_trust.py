"""TrustStore: same-named root generations told apart by key, never by subject alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID, ObjectIdentifier

from kiosk.nfc.sim import TestHierarchy
from kiosk.nfc.sim.hierarchy import GENERATIONS
from linkserver import TrustStore, VerificationRefused
from tests.linkserver.conftest import ca_cert, now


def plain_leaf(
    hierarchy: TestHierarchy, signer_generation: str, *,
    aki_generation: str | None = None, extra: x509.ExtensionType | None = None,
) -> x509.Certificate:
    """A card-like leaf signed by one root; an AKI only when ``aki_generation`` is given."""
    issuer = ca_cert(hierarchy, signer_generation)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, "B" * 20)]))
        .issuer_name(issuer.subject)
        .public_key(hierarchy.holder("linked").auth_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - dt.timedelta(days=1))
        .not_valid_after(now() + dt.timedelta(days=30))
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False,
        ), critical=True)
    )
    if aki_generation is not None:
        ski = ca_cert(hierarchy, aki_generation).extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    if extra is not None:
        builder = builder.add_extension(extra, critical=True)
    return builder.sign(hierarchy.auth_ca_key(signer_generation), hashes.SHA256())


def code_of(trust: TrustStore, cert: x509.Certificate, at: dt.datetime | None = None) -> str:
    with pytest.raises(VerificationRefused) as caught:
        trust.verify_chain(cert, at or now())
    return caught.value.code


def test_the_issuing_generation_is_found(hierarchy: TestHierarchy, trust: TrustStore) -> None:
    assert [a.label for a in trust.anchors] == [f"auth-{g}" for g in GENERATIONS]
    for slug, generation in (("linked", "2023"), ("linked-old", "2019"), ("old-root", "2015")):
        anchor = trust.verify_chain(hierarchy.holder(slug).auth_certificate, now())
        assert anchor == ca_cert(hierarchy, generation)


def test_without_aki_each_same_named_root_is_tried(hierarchy: TestHierarchy, trust: TrustStore) -> None:
    cert = plain_leaf(hierarchy, "2015")
    assert len(trust.candidates(cert)) == 3
    assert trust.find_anchor(cert, now()).label == "auth-2015"


def test_aki_narrows_the_candidates(hierarchy: TestHierarchy, trust: TrustStore) -> None:
    honest = plain_leaf(hierarchy, "2019", aki_generation="2019")
    assert [a.label for a in trust.candidates(honest)] == ["auth-2019"]
    # An AKI naming the 2019 root on a certificate the 2023 key signed: no anchor vouches for it.
    mismatched = plain_leaf(hierarchy, "2023", aki_generation="2019")
    assert code_of(trust, mismatched) == "unknown_issuer"


def test_a_bundle_file_holds_several_anchors(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    bundle = tmp_path / "jpki-auth.pem"
    bundle.write_bytes(b"".join(p.read_bytes() for p in hierarchy.trust_anchor_paths()))
    store = TrustStore.from_pem_files([bundle])
    assert [a.label for a in store.anchors] == ["jpki-auth[0]", "jpki-auth[1]", "jpki-auth[2]"]
    assert store.find_anchor(hierarchy.holder("old-root").auth_certificate, now()).label == "jpki-auth[0]"


def test_anchor_validity_is_checked(hierarchy: TestHierarchy, trust: TrustStore) -> None:
    root = ca_cert(hierarchy, "2015")
    after_root = root.not_valid_after_utc + dt.timedelta(days=1)
    with pytest.raises(VerificationRefused, match="trust anchor") as caught:
        trust.verify_chain(hierarchy.holder("old-root").auth_certificate, after_root)
    assert caught.value.code == "expired"


def test_unrecognised_critical_extension_is_refused(hierarchy: TestHierarchy, trust: TrustStore) -> None:
    odd = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    assert code_of(trust, plain_leaf(hierarchy, "2023", extra=odd)) == "malformed_certificate"


def test_misconfigured_stores_are_refused(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        TrustStore([])
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(hierarchy.holder("linked").auth_cert_pem)
    with pytest.raises(ValueError, match="may not sign certificates"):
        TrustStore.from_pem_files([leaf])
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"hello")
    with pytest.raises(ValueError, match=r"junk\.pem"):
        TrustStore.from_pem_files([junk])


def test_naive_time_is_a_programming_error(hierarchy: TestHierarchy, trust: TrustStore) -> None:
    with pytest.raises(ValueError, match="timezone"):
        trust.verify_chain(hierarchy.holder("linked").auth_certificate, dt.datetime(2025, 1, 1))


def test_an_extension_given_twice_is_malformed(hierarchy: TestHierarchy, trust: TrustStore) -> None:
    """cryptography raises DuplicateExtension, no ValueError: it is a malformed certificate, not a
    500 (the leaf's extra extension is renamed KeyUsage in its DER, so KeyUsage stands twice)."""
    odd = x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    der = plain_leaf(hierarchy, "2023", extra=odd).public_bytes(serialization.Encoding.DER)
    assert der.count(bytes.fromhex("06032a0304")) == 1
    twice = x509.load_der_x509_certificate(der.replace(bytes.fromhex("06032a0304"),
                                                       bytes.fromhex("0603551d0f")))
    assert code_of(trust, twice) == "malformed_certificate"
