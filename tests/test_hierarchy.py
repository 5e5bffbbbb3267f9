"""The test JPKI hierarchy: certificate profile, generations, renewal, revocation."""

from __future__ import annotations

import datetime as dt
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from kiosk.nfc.sim import TestHierarchy
from kiosk.nfc.sim.hierarchy import GENERATIONS


def anchors(hierarchy: TestHierarchy) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(p.read_bytes()) for p in hierarchy.trust_anchor_paths()]


def test_certificate_profile(hierarchy: TestHierarchy) -> None:
    for holder in hierarchy.holders.values():
        cert = holder.auth_certificate
        attrs = [(a.oid, a.value) for a in cert.subject]
        assert attrs[0] == (NameOID.COUNTRY_NAME, "JP")
        assert attrs[1][0] == NameOID.COMMON_NAME and len(attrs) == 2
        assert re.fullmatch(r"[A-Z0-9]{20}", attrs[1][1])
        key = cert.public_key()
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
        assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.digital_signature
        # No personal attribute in the authentication certificate.
        assert holder.spec.name not in cert.subject.rfc4514_string()


def test_three_generations_with_the_same_name(hierarchy: TestHierarchy) -> None:
    roots = anchors(hierarchy)
    assert len(roots) == len(GENERATIONS) == 3
    assert len({r.subject for r in roots}) == 1
    subject = roots[0].subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "JPKI-TEST"
    assert len({r.public_key().public_numbers().n for r in roots}) == 3


def test_each_card_chains_to_its_generation(hierarchy: TestHierarchy) -> None:
    roots = anchors(hierarchy)
    for holder in hierarchy.holders.values():
        cert = holder.auth_certificate
        issuers = []
        for root in roots:
            try:
                cert.verify_directly_issued_by(root)
                issuers.append(root)
            except (InvalidSignature, ValueError):
                continue
        if holder.spec.status == "foreign":
            assert issuers == []
        else:
            assert len(issuers) == 1
            assert issuers[0] == anchors(hierarchy)[GENERATIONS.index(holder.spec.generation)]


def test_validity_matches_status(hierarchy: TestHierarchy) -> None:
    now = dt.datetime.now(dt.UTC)
    for holder in hierarchy.holders.values():
        cert = holder.auth_certificate
        valid = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
        assert valid == (holder.spec.status in ("valid", "revoked", "foreign")), holder.slug
        if holder.spec.status == "expired":
            assert cert.not_valid_after_utc < now
        if holder.spec.status == "not_yet_valid":
            assert cert.not_valid_before_utc > now


def test_renewal_links_old_and_new_serials(hierarchy: TestHierarchy) -> None:
    old, new = hierarchy.holder("linked-old"), hierarchy.holder("linked")
    assert (old.serial, new.serial) in hierarchy.renewals
    assert old.serial != new.serial and old.cn != new.cn
    assert old.spec.name == new.spec.name
    text = (hierarchy.path / "renewals.csv").read_text()
    assert f"{old.serial},{new.serial}" in text


def test_crl_lists_exactly_the_revoked_card(hierarchy: TestHierarchy) -> None:
    revoked = hierarchy.holder("revoked")
    root = anchors(hierarchy)[GENERATIONS.index(revoked.spec.generation)]
    crl = x509.load_der_x509_crl(hierarchy.crl_path(revoked.spec.generation).read_bytes())
    assert crl.is_signature_valid(root.public_key())
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial) is not None
    for holder in hierarchy.holders.values():
        if holder.slug != "revoked":
            assert crl.get_revoked_certificate_by_serial_number(holder.serial) is None


def test_reloading_gives_the_same_hierarchy(hierarchy: TestHierarchy) -> None:
    again = TestHierarchy.ensure(hierarchy.path)
    assert {s: h.serial for s, h in again.holders.items()} == {
        s: h.serial for s, h in hierarchy.holders.items()
    }
