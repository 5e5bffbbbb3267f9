"""The kiosk's offline check case by case: each refusal's code and its words, the edges of validity
and of CRL freshness, which CRL counts for which anchor, and which anchors and files are refused.

All fast: certificates and CRLs are built here or taken from the test hierarchy; no card, no server.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from kiosk.nfc.sim import TestHierarchy
from kiosk.offline import LocalValidator, OfflineRefused
from kiosk.offline.validate import MAX_CERTIFICATE_BYTES, MESSAGES, REVOCATION_GOOD
from tests.helpers.certs import DAY, anchors, ca, cert_der, now, refused, root

LEAF_NAME = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                       x509.NameAttribute(NameOID.COMMON_NAME, "L" * 20)])
SIGN_ONLY = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
CERT_SIGN_ONLY = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                               data_encipherment=False, key_agreement=False, key_cert_sign=True,
                               crl_sign=False, encipher_only=False, decipher_only=False)
CRITICAL = x509.KeyUsage | x509.BasicConstraints | x509.UnrecognizedExtension


def issue(issuer: x509.Certificate, issuer_key: rsa.RSAPrivateKey, *extensions: x509.ExtensionType,
          public_key: CertificatePublicKeyTypes | None = None,
          algorithm: hashes.SHA256 | hashes.SHA384 | None = None,
          not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> bytes:
    """A leaf certificate in DER from ``issuer``'s name, signed with ``issuer_key``."""
    builder = (x509.CertificateBuilder().subject_name(LEAF_NAME).issuer_name(issuer.subject)
               .public_key(public_key or rsa.generate_private_key(65537, 2048).public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before or now() - DAY)
               .not_valid_after(not_after or now() + DAY))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=isinstance(extension, CRITICAL))
    return builder.sign(issuer_key, algorithm or hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def crl_of(issuer: x509.Certificate, issuer_key: rsa.RSAPrivateKey,
           *extensions: tuple[x509.ExtensionType, bool],
           last_update: dt.datetime | None = None, algorithm: hashes.SHA256 | hashes.SHA384 | None = None,
           ) -> x509.CertificateRevocationList:
    """An empty CRL in ``issuer``'s name signed with ``issuer_key``, fresh for a day."""
    last = last_update or now() - dt.timedelta(hours=1)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject).last_update(last)
               .next_update(last + DAY))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, algorithm or hashes.SHA256())


def words(call: Callable[[], object]) -> tuple[str, str]:
    refusal = refused(call)
    return refusal.code, refusal.message


# -- each refusal's code and words ----------------------------------------------------------------


def test_unreadable_input_is_refused_with_its_reason(hierarchy: TestHierarchy) -> None:
    lenient = LocalValidator(anchors(hierarchy), [], require_crl=False)
    assert words(lambda: lenient.validate("MII...")) == (  # type: ignore[arg-type]
        "malformed_certificate", "the certificate must be DER bytes")
    too_long = b"\x30" * (MAX_CERTIFICATE_BYTES + 1)
    assert words(lambda: lenient.validate(too_long)) == (
        "malformed_certificate",
        f"a certificate of {MAX_CERTIFICATE_BYTES + 1} bytes exceeds the {MAX_CERTIFICATE_BYTES}-byte limit")
    # At the limit the bytes are parsed, and refused for what they are.
    at_limit = b"\x30" * MAX_CERTIFICATE_BYTES
    assert words(lambda: lenient.validate(at_limit)) == (
        "malformed_certificate", "the certificate is not valid DER X.509")


def test_an_unrecognised_critical_extension_refuses_the_certificate(hierarchy: TestHierarchy) -> None:
    lenient = LocalValidator(anchors(hierarchy), [], require_crl=False)
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    der = issue(root(hierarchy, "2023"), hierarchy.auth_ca_key("2023"), SIGN_ONLY, unknown)
    assert words(lambda: lenient.validate(der)) == (
        "malformed_certificate", "the certificate has an unrecognised critical extension 1.2.3.4")


def test_key_usage_refusals_say_which_rule(hierarchy: TestHierarchy) -> None:
    lenient = LocalValidator(anchors(hierarchy), [], require_crl=False)
    issuer, key = root(hierarchy, "2023"), hierarchy.auth_ca_key("2023")
    assert words(lambda: lenient.validate(issue(issuer, key))) == (
        "key_usage", "the certificate has no KeyUsage extension")
    assert words(lambda: lenient.validate(issue(issuer, key, CERT_SIGN_ONLY))) == (
        "key_usage", "the certificate's KeyUsage does not allow digitalSignature")
    as_ca = issue(issuer, key, SIGN_ONLY, x509.BasicConstraints(ca=True, path_length=None))
    assert words(lambda: lenient.validate(as_ca)) == (
        "key_usage", "a CA certificate cannot authenticate a card holder")
    not_ca = issue(issuer, key, SIGN_ONLY, x509.BasicConstraints(ca=False, path_length=None))
    assert lenient.validate(not_ca).anchor == "auth-2023.pem"


def test_issuer_refusals_say_which_rule(hierarchy: TestHierarchy) -> None:
    lenient = LocalValidator(anchors(hierarchy), [], require_crl=False)
    assert words(lambda: lenient.validate(cert_der(hierarchy, "foreign"))) == (
        "unknown_issuer", "no trust anchor has the certificate's issuer name and key")
    stranger = rsa.generate_private_key(65537, 2048)
    forged = issue(root(hierarchy, "2023"), stranger, SIGN_ONLY)
    assert words(lambda: lenient.validate(forged)) == (
        "unknown_issuer", "the certificate's signature verifies with no trust anchor")
    sha384 = issue(root(hierarchy, "2023"), hierarchy.auth_ca_key("2023"), SIGN_ONLY,
                   algorithm=hashes.SHA384())
    assert words(lambda: lenient.validate(sha384)) == (
        "unsupported_key", "signature algorithm sha384WithRSAEncryption is not accepted")


def test_an_anchor_with_a_key_other_than_rsa_is_named(hierarchy: TestHierarchy) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EC Root")])
    ec_root = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ec_key.public_key())
               .serial_number(1).not_valid_before(now() - DAY).not_valid_after(now() + DAY)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .sign(ec_key, hashes.SHA256()))
    # An RSA signature in the EC root's name: the root's key is what stops it.
    der = issue(ec_root, rsa.generate_private_key(65537, 2048), SIGN_ONLY)
    local = LocalValidator([("ec-root", ec_root)], [], require_crl=False)
    assert words(lambda: local.validate(der)) == (
        "unsupported_key", "trust anchor ec-root has a ECPublicKey, not RSA")


def test_keys_the_kiosk_cannot_check_are_named(hierarchy: TestHierarchy) -> None:
    local = LocalValidator(anchors(hierarchy), [])
    issuer, key = root(hierarchy, "2023"), hierarchy.auth_ca_key("2023")
    ec_leaf = issue(issuer, key, SIGN_ONLY, public_key=ec.generate_private_key(ec.SECP256R1()).public_key())
    assert words(lambda: local.check_signature(ec_leaf, b"m", b"s")) == (
        "unsupported_key", "the certificate has a ECPublicKey, not RSA")
    small = issue(issuer, key, SIGN_ONLY, public_key=rsa.generate_private_key(65537, 1024).public_key())
    assert words(lambda: local.check_signature(small, b"m", b"s")) == (
        "unsupported_key", "the certificate has an RSA key of only 1024 bits")
    rsa_oid = bytes.fromhex("06092a864886f70d0101010500")
    good = cert_der(hierarchy, "linked")
    assert good.count(rsa_oid) == 1
    # The key's algorithm made unknown (1.2.840.113549.1.1.2, a signature algorithm), then its bits broken.
    unknown_kind = good.replace(rsa_oid, rsa_oid[:10] + b"\x02" + rsa_oid[11:])
    assert words(lambda: local.validate(unknown_kind)) == (
        "unsupported_key", "the certificate has a key type this kiosk cannot use")
    key_at = good.index(rsa_oid) + len(rsa_oid)
    broken = good[:key_at + 5] + b"\x31" + good[key_at + 6:]
    assert words(lambda: local.check_signature(broken, b"m", b"s")) == (
        "malformed_certificate", "the certificate has a key that does not parse")


def test_signature_refusals_need_bytes_for_both(hierarchy: TestHierarchy) -> None:
    local = LocalValidator(anchors(hierarchy), [])
    der = cert_der(hierarchy, "linked")
    expected = ("bad_signature", "the signature and message must be bytes")
    assert words(lambda: local.check_signature(der, b"m", "signature")) == expected  # type: ignore[arg-type]
    assert words(lambda: local.check_signature(der, "m", b"signature")) == expected  # type: ignore[arg-type]


def test_validity_refusals_give_the_date(hierarchy: TestHierarchy) -> None:
    local = LocalValidator(anchors(hierarchy), [], require_crl=False)
    early = hierarchy.holder("not-yet-valid").auth_certificate
    assert words(lambda: local.validate(cert_der(hierarchy, "not-yet-valid"))) == (
        "not_yet_valid", f"the certificate is valid from {early.not_valid_before_utc.isoformat()}")
    late = hierarchy.holder("expired").auth_certificate
    assert words(lambda: local.validate(cert_der(hierarchy, "expired"))) == (
        "expired", f"the certificate expired at {late.not_valid_after_utc.isoformat()}")


def test_validity_includes_both_ends(hierarchy: TestHierarchy) -> None:
    start = (now() - DAY).replace(microsecond=0)
    anchor, key = ca("Edge Root", start - DAY, start + 30 * DAY)
    der = issue(anchor, key, SIGN_ONLY, not_before=start, not_after=start + DAY)
    local = LocalValidator([("edge", anchor)], [], require_crl=False)
    assert local.validate(der, at=start).anchor == "edge"
    assert local.validate(der, at=start + DAY).anchor == "edge"
    assert refused(lambda: local.validate(der, at=start - dt.timedelta(seconds=1))).code == "not_yet_valid"
    assert refused(lambda: local.validate(der, at=start + DAY + dt.timedelta(seconds=1))).code == "expired"


class _NoOffset(dt.tzinfo):
    """A time zone that does not know its offset: as good as none."""

    def utcoffset(self, when: dt.datetime | None) -> None:
        return None

    def dst(self, when: dt.datetime | None) -> None:
        return None

    def tzname(self, when: dt.datetime | None) -> str:
        return "unknown"


def test_times_without_a_known_offset_are_refused(hierarchy: TestHierarchy) -> None:
    local = LocalValidator(anchors(hierarchy), [], require_crl=False)
    der = cert_der(hierarchy, "linked")
    for at in (dt.datetime(2030, 1, 1), dt.datetime(2030, 1, 1, tzinfo=_NoOffset())):
        with pytest.raises(ValueError, match=r"^the validation time must be timezone-aware$"):
            local.validate(der, at=at)
        with pytest.raises(ValueError, match=r"^the time must be timezone-aware$"):
            local.crl_ages(at)


def test_revocation_unknown_says_why(hierarchy: TestHierarchy, caplog: pytest.LogCaptureFixture) -> None:
    der = cert_der(hierarchy, "linked")
    assert words(lambda: LocalValidator(anchors(hierarchy), []).validate(der)) == (
        "revocation_unknown", f"{MESSAGES['revocation_unknown']} (no usable CRL signed by auth-2023.pem)")
    stale = crl_of(root(hierarchy, "2023"), hierarchy.auth_ca_key("2023"), last_update=now() - 30 * DAY)
    code, message = words(lambda: LocalValidator(anchors(hierarchy), [("stale.crl", stale)]).validate(der))
    assert code == "revocation_unknown"
    assert re.fullmatch(re.escape(MESSAGES["revocation_unknown"]) + r" \(the CRL stale\.crl is stale "
                        r"\(age 30 days, \d+:\d\d:\d\d\.?\d*\)\)", message), message
    lenient = LocalValidator(anchors(hierarchy), [("stale.crl", stale)], require_crl=False)
    with caplog.at_level(logging.WARNING, logger="kiosk.offline.validate"):
        lenient.validate(der)
    assert any("the CRL stale.crl is stale" in record.getMessage() for record in caplog.records)


def test_bad_construction_is_refused_in_words(hierarchy: TestHierarchy) -> None:
    with pytest.raises(ValueError, match=r"^a local validator needs at least one trust anchor$"):
        LocalValidator([], [])
    with pytest.raises(ValueError, match=r"^'nope' is not a refusal code$"):
        OfflineRefused("nope")
    leafish, _ = ca("Leafish", now() - DAY, now() + DAY,
                    extensions=(x509.BasicConstraints(ca=False, path_length=None),))
    with pytest.raises(ValueError, match=r"^trust anchor leafish is not a CA certificate$"):
        LocalValidator([("leafish", leafish)], [])


# -- which CRL counts -----------------------------------------------------------------------------


def revocation_with(hierarchy: TestHierarchy, *crls: tuple[str, x509.CertificateRevocationList],
                    der: bytes | None = None) -> str:
    """The revocation status of a 2023 card with these CRLs loaded, or the refusal code."""
    local = LocalValidator(anchors(hierarchy), list(crls))
    try:
        identity = local.validate(der or cert_der(hierarchy, "linked"))
    except OfflineRefused as refusal:
        return refusal.code
    assert identity.crl is not None
    return f"{identity.revocation} from {identity.crl.source}"


def idp(full_name: Sequence[x509.GeneralName] | None = None,
        **flags: object) -> tuple[x509.ExtensionType, bool]:
    options: dict[str, object] = {
        "full_name": full_name, "relative_name": None, "only_contains_user_certs": False,
        "only_contains_ca_certs": False, "only_some_reasons": None, "indirect_crl": False,
        "only_contains_attribute_certs": False} | flags
    return x509.IssuingDistributionPoint(**options), True  # type: ignore[arg-type]


def card_crl_urls(hierarchy: TestHierarchy) -> list[x509.GeneralName]:
    points = hierarchy.holder("linked").auth_certificate.extensions.get_extension_for_class(
        x509.CRLDistributionPoints).value
    return list(points[0].full_name or [])


def test_only_a_complete_crl_whose_scope_holds_the_card_counts(hierarchy: TestHierarchy) -> None:
    issuer, key = root(hierarchy, "2023"), hierarchy.auth_ca_key("2023")
    urls = card_crl_urls(hierarchy)
    elsewhere = [x509.UniformResourceIdentifier("http://jpki-test.invalid/other.crl")]
    rdn = x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "crl")])
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    cases = {
        "plain": ((), REVOCATION_GOOD),
        "its own distribution point": ((idp(urls),), REVOCATION_GOOD),
        "user certificates only": ((idp(only_contains_user_certs=True),), REVOCATION_GOOD),
        "an unknown extension, not critical": (((unknown, False),), REVOCATION_GOOD),
        "an unknown extension, critical": (((unknown, True),), None),
        "a delta CRL": (((x509.DeltaCRLIndicator(1), False),), None),
        "CA certificates only": ((idp(only_contains_ca_certs=True),), None),
        "attribute certificates only": ((idp(only_contains_attribute_certs=True),), None),
        "an indirect CRL": ((idp(indirect_crl=True),), None),
        "some reasons only": ((idp(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise})),), None),
        "a relative name": ((idp(relative_name=rdn),), None),
        "another distribution point": ((idp(elsewhere),), None),
    }
    for case, (extensions, status) in cases.items():
        crl = crl_of(issuer, key, *extensions)
        expected = f"{status} from {case}" if status else "revocation_unknown"
        assert revocation_with(hierarchy, (case, crl)) == expected, case
    # A card that names no distribution point is outside a CRL that is scoped to one.
    pointless = issue(issuer, key, SIGN_ONLY)
    assert revocation_with(hierarchy, ("scoped", crl_of(issuer, key, idp(urls))), der=pointless) == (
        "revocation_unknown")
    assert revocation_with(hierarchy, ("plain", crl_of(issuer, key)), der=pointless) == "good from plain"


def test_crls_that_do_not_belong_to_the_anchor_are_passed_over(hierarchy: TestHierarchy) -> None:
    issuer, key = root(hierarchy, "2023"), hierarchy.auth_ca_key("2023")
    other_name, other_key = ca("Another Authority", now() - DAY, now() + DAY)
    newer = now() - dt.timedelta(minutes=5)
    wrong_aki = x509.AuthorityKeyIdentifier(b"\x01" * 20, None, None)
    own_aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
        issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value)
    skipped = [
        ("another name", crl_of(other_name, other_key, last_update=newer)),
        # Signed with the right key, but it says it is some other key's: not believed.
        ("another key's identifier", crl_of(issuer, key, (wrong_aki, False), last_update=newer)),
        ("sha-384", crl_of(issuer, key, last_update=newer, algorithm=hashes.SHA384())),
        ("2019's signature", crl_of(issuer, hierarchy.auth_ca_key("2019"), last_update=newer)),
    ]
    genuine = ("genuine", crl_of(issuer, key, (own_aki, False)))
    assert revocation_with(hierarchy, *skipped, genuine) == "good from genuine"
    for crl in skipped:
        assert revocation_with(hierarchy, crl) == "revocation_unknown", crl[0]
    # Of two CRLs issued at the same time, the first loaded is used.
    twin = ("twin", crl_of(issuer, key, last_update=genuine[1].last_update_utc))
    assert revocation_with(hierarchy, genuine, twin) == "good from genuine"


def test_an_anchor_that_may_not_sign_crls_has_none(hierarchy: TestHierarchy) -> None:
    anchor, key = ca("No CRL Root", now() - DAY, now() + DAY,
                     extensions=(x509.BasicConstraints(ca=True, path_length=0), CERT_SIGN_ONLY))
    local = LocalValidator([("no-crl", anchor)], [("its.crl", crl_of(anchor, key))])
    assert local.anchors_without_crl() == ["no-crl"] and local.crl_ages() == []
    # An anchor without a Subject Key Identifier is found by name and signature alone.
    bare, bare_key = ca("Bare Root", now() - DAY, now() + DAY,
                        extensions=(x509.BasicConstraints(ca=True, path_length=0),))
    found = LocalValidator([("bare", bare)], [("bare.crl", crl_of(bare, bare_key))])
    assert found.validate(issue(bare, bare_key, SIGN_ONLY)).anchor == "bare"


def test_crl_freshness_includes_its_edges(hierarchy: TestHierarchy) -> None:
    issuer, key = root(hierarchy, "2023"), hierarchy.auth_ca_key("2023")
    issued = now().replace(microsecond=0)
    edge = crl_of(issuer, key, last_update=issued)
    local = LocalValidator([("auth-2023.pem", issuer)], [("edge.crl", edge)])
    [age] = local.crl_ages(issued + DAY)
    assert age.fresh and age.this_update == issued and age.next_update == issued + DAY and age.age == DAY
    assert not local.crl_ages(issued + DAY + dt.timedelta(seconds=1))[0].fresh
    # A CRL from up to five minutes ahead (the signer's clock) is fresh; further ahead it is not.
    assert local.crl_ages(issued - dt.timedelta(minutes=5))[0].fresh
    assert not local.crl_ages(issued - dt.timedelta(minutes=5, seconds=1))[0].fresh


# -- files ----------------------------------------------------------------------------------------


def test_anchor_and_crl_files_load_as_the_kiosk_keeps_them(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    # A leading blank line (as an editor may leave) does not stop a PEM file being read as PEM.
    bundle.write_bytes(b"\n  \n" + b"".join(root(hierarchy, g).public_bytes(serialization.Encoding.PEM)
                                          for g in ("2019", "2023")))
    local = LocalValidator.from_files([bundle], [], require_crl=False)
    assert local.require_crl is False and local.anchors_without_crl() == ["bundle.pem[0]", "bundle.pem[1]"]
    assert local.validate(cert_der(hierarchy, "linked")).anchor == "bundle.pem[1]"
    missing = tmp_path / "missing.pem"
    with pytest.raises(ValueError, match=f"^{re.escape(str(missing))}: cannot be read "
                                         r"\(No such file or directory\)$"):
        LocalValidator.from_files([missing], [])
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=f"^{re.escape(str(garbage))}: not a PEM or DER certificate \\("):
        LocalValidator.from_files([garbage], [])


def test_an_extension_given_twice_is_refused_in_words(hierarchy: TestHierarchy) -> None:
    """cryptography's DuplicateExtension is no ValueError: it must not escape as one of its own."""
    first, second = (x509.UnrecognizedExtension(x509.ObjectIdentifier(f"1.2.3.{n}"), b"\x05\x00")
                     for n in (4, 5))
    oid_4, oid_5 = bytes.fromhex("06032a0304"), bytes.fromhex("06032a0305")

    def twice(der: bytes) -> bytes:
        assert der.count(oid_4) == der.count(oid_5) == 1
        return der.replace(oid_5, oid_4)

    card = twice(issue(root(hierarchy, "2023"), hierarchy.auth_ca_key("2023"), SIGN_ONLY, first, second))
    lenient = LocalValidator(anchors(hierarchy), [], require_crl=False)
    assert words(lambda: lenient.validate(card)) == (
        "malformed_certificate", "the certificate is not valid DER X.509")
    anchor, _ = ca("Twice", now() - DAY, now() + DAY,
                   extensions=(x509.BasicConstraints(ca=True, path_length=0), first, second))
    doubled = x509.load_der_x509_certificate(twice(anchor.public_bytes(serialization.Encoding.DER)))
    with pytest.raises(ValueError,
                       match=r"^trust anchor twice: its extensions do not parse \(Duplicate 1\.2\.3\.4 "):
        LocalValidator([("twice", doubled)], [])


def test_an_anchor_whose_key_cannot_be_used_is_named(hierarchy: TestHierarchy) -> None:
    anchor, key = ca("Odd Root", now() - DAY, now() + DAY,
                     extensions=(x509.BasicConstraints(ca=True, path_length=0), CERT_SIGN_ONLY))
    rsa_oid = bytes.fromhex("06092a864886f70d0101010500")
    anchor_der = anchor.public_bytes(serialization.Encoding.DER)
    assert anchor_der.count(rsa_oid) == 1
    # Its key's algorithm made one the kiosk does not know (as in test_keys_the_kiosk_cannot_check_are_named).
    odd = x509.load_der_x509_certificate(anchor_der.replace(rsa_oid, rsa_oid[:10] + b"\x02" + rsa_oid[11:]))
    local = LocalValidator([("odd", odd)], [], require_crl=False)
    assert words(lambda: local.validate(issue(anchor, key, SIGN_ONLY))) == (
        "unsupported_key", "trust anchor odd has a key type this kiosk cannot use")
