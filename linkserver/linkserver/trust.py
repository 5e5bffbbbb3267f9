"""The JPKI trust anchors and the check that an authentication certificate chains to one of them.

JPKI root generations (2015, 2019, 2023, ...) share one subject name, so an issuer is found by its
key: the certificate's Authority Key Identifier against each anchor's Subject Key Identifier, and
where either is missing, by trying each same-named anchor's signature. A subject match alone
never makes an anchor the issuer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from linkserver.errors import (
    Expired,
    KeyUsageRefused,
    MalformedCertificate,
    NotYetValid,
    UnknownIssuer,
    UnsupportedKey,
)
from linkserver.signature import verify_issued_signature


@dataclass(frozen=True)
class TrustAnchor:
    """A trusted root certificate and a label for it (by default its file name)."""

    certificate: x509.Certificate
    label: str

    # An anchor never changes: its name, key identifier and key are read from it once, not per
    # request (cryptography builds a new ``Name`` each time ``subject`` is read).
    @cached_property
    def subject(self) -> x509.Name:
        return self.certificate.subject

    @cached_property
    def key_identifier(self) -> bytes | None:
        return subject_key_identifier(self.certificate)

    @cached_property
    def public_key(self) -> CertificatePublicKeyTypes:
        """The anchor's key (``UnsupportedKey`` if this verifier cannot use it)."""
        try:
            return self.certificate.public_key()
        except UnsupportedAlgorithm as exc:
            raise UnsupportedKey(f"trust anchor {self.label} has an unusable key") from exc


def subject_key_identifier(cert: x509.Certificate) -> bytes | None:
    """The certificate's Subject Key Identifier, if it has one."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def authority_key_identifier(cert: x509.Certificate) -> bytes | None:
    """The key identifier of the certificate's Authority Key Identifier, if it names one."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    return aki.key_identifier


def require_aware(at: dt.datetime, what: str = "time") -> dt.datetime:
    """``at`` in UTC; a naive datetime is a programming error, not something to guess about."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"the {what} must be timezone-aware")
    return at.astimezone(dt.UTC)


def _check_anchor(cert: x509.Certificate, label: str) -> None:
    # A misconfigured anchor is an operator error: refuse it at load time, not per request.
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and not constraints.ca:
        raise ValueError(f"trust anchor {label} is not a CA certificate")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise ValueError(f"trust anchor {label} may not sign certificates (no keyCertSign)")


class TrustStore:
    """The configured JPKI trust anchors; ``verify_chain`` finds and checks a leaf's issuer."""

    def __init__(self, anchors: Iterable[TrustAnchor]) -> None:
        self._anchors: tuple[TrustAnchor, ...] = tuple(anchors)
        if not self._anchors:
            raise ValueError("a trust store needs at least one anchor")
        for anchor in self._anchors:
            _check_anchor(anchor.certificate, anchor.label)

    @classmethod
    def from_pem_files(cls, paths: Sequence[Path | str]) -> TrustStore:
        """Anchors from PEM files; each file may hold several certificates."""
        anchors: list[TrustAnchor] = []
        for path in map(Path, paths):
            try:
                certs = x509.load_pem_x509_certificates(path.read_bytes())
            except ValueError as exc:
                raise ValueError(f"{path}: not a PEM certificate file ({exc})") from None
            for index, cert in enumerate(certs):
                label = path.stem if len(certs) == 1 else f"{path.stem}[{index}]"
                anchors.append(TrustAnchor(cert, label))
        return cls(anchors)

    @property
    def anchors(self) -> tuple[TrustAnchor, ...]:
        return self._anchors

    def candidates(self, cert: x509.Certificate) -> list[TrustAnchor]:
        """Anchors that may have issued ``cert``: same name, and no key identifier contradicting it.

        The key identifiers are compared first: they are bytes, and the root generations share
        their name, so the names would be compared for every anchor."""
        wanted, issuer = authority_key_identifier(cert), cert.issuer
        found = []
        for anchor in self._anchors:
            have = anchor.key_identifier
            if wanted is not None and have is not None and wanted != have:
                continue
            if anchor.subject == issuer:
                found.append(anchor)
        return found

    def find_anchor(self, cert: x509.Certificate, at: dt.datetime) -> TrustAnchor:
        """The anchor that issued ``cert``, after every check of ``verify_chain``."""
        at = require_aware(at)
        extensions = leaf_extensions(cert)
        anchor = self._issuer_of(cert)
        _check_validity(anchor.certificate, at, f"the trust anchor {anchor.label}")
        _check_validity(cert, at, "the certificate")
        _check_end_entity_usage(extensions)
        return anchor

    def verify_chain(self, cert: x509.Certificate, at: dt.datetime) -> x509.Certificate:
        """The trust anchor that issued ``cert``, with the leaf judged for use at time ``at``.

        Checks the issuer's signature on the certificate, the anchor's and the certificate's
        validity at ``at``, KeyUsage with digitalSignature, and that the leaf is not a CA.
        Raises a VerificationRefused subclass otherwise.
        """
        return self.find_anchor(cert, at).certificate

    def _issuer_of(self, cert: x509.Certificate) -> TrustAnchor:
        candidates = self.candidates(cert)
        if not candidates:
            raise UnknownIssuer("no configured trust anchor has the certificate's issuer name and key")
        for anchor in candidates:
            if verify_issued_signature(
                anchor.public_key, cert.signature_algorithm_oid, cert.signature, cert.tbs_certificate_bytes
            ):
                return anchor
        raise UnknownIssuer("the certificate's signature does not verify with any trust anchor")


def _check_validity(cert: x509.Certificate, at: dt.datetime, what: str) -> None:
    if at < cert.not_valid_before_utc:
        raise NotYetValid(f"{what} is valid from {cert.not_valid_before_utc.isoformat()}")
    if at > cert.not_valid_after_utc:
        raise Expired(f"{what} expired at {cert.not_valid_after_utc.isoformat()}")


def leaf_extensions(cert: x509.Certificate) -> x509.Extensions:
    """The certificate's extensions, refusing ones that do not parse or cannot be honoured.

    An unrecognised critical extension is a constraint this verifier cannot check, and RFC 5280
    says such a certificate must be rejected.
    """
    try:
        extensions = cert.extensions
    except (ValueError, x509.DuplicateExtension) as exc:  # the latter is no ValueError
        raise MalformedCertificate(f"the certificate's extensions do not parse ({exc})") from None
    for extension in extensions:
        if extension.critical and isinstance(extension.value, x509.UnrecognizedExtension):
            raise MalformedCertificate(
                f"the certificate has an unrecognised critical extension {extension.oid.dotted_string}"
            )
    return extensions


def _check_end_entity_usage(extensions: x509.Extensions) -> None:
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise KeyUsageRefused("the certificate has no KeyUsage extension") from None
    if not usage.digital_signature:
        raise KeyUsageRefused("the certificate's KeyUsage does not allow digitalSignature")
    try:
        constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return
    if constraints.ca:
        raise KeyUsageRefused("a CA certificate cannot authenticate a card holder")
