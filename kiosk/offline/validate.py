"""Checking a card's authentication certificate and signature on the kiosk while the server is away.

The checks mirror the linkage server's, with the same refusal codes, so that what the kiosk
accepts offline the server will normally accept later: the certificate chains to one of the cached
JPKI trust anchors (several root generations share one name, so the issuer is found by its key),
both are valid at the time of use, the certificate is an authentication end-entity certificate,
and a CRL signed by the issuing anchor's own key does not list it. Passing here proves possession
of a valid card and knowledge of its PIN; it authorises nothing by itself, since the server
re-verifies everything (revocation included) when the evidence reaches it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from kiosk.clock import Clock, utc_now

logger = logging.getLogger(__name__)


#: No JPKI authentication certificate comes near this; larger input is refused unparsed.
MAX_CERTIFICATE_BYTES = 16 * 1024
#: Every JPKI key so far is RSA-2048; anything smaller is refused outright.
MIN_RSA_KEY_BITS = 2048
#: Tolerated clock difference between the kiosk and a CRL's signer.
DEFAULT_MAX_SKEW = dt.timedelta(minutes=5)

#: The revocation status a successful validation can carry.
REVOCATION_GOOD = "good"
REVOCATION_NO_CRL = "no_crl"
REVOCATION_STALE_CRL = "stale_crl"

#: Plain-English words for each refusal code (the codes are the linkage server's).
MESSAGES: dict[str, str] = {
    "malformed_certificate": "The card's certificate could not be read.",
    "unknown_issuer": "The card's certificate was not issued by a trusted JPKI authority.",
    "expired": "The card's certificate (or the authority that issued it) has expired.",
    "not_yet_valid": "The card's certificate (or the authority that issued it) is not valid yet.",
    "key_usage": "The card's certificate cannot be used to prove who someone is.",
    "revoked": "The card's certificate has been revoked.",
    "revocation_unknown": "Whether the card's certificate has been revoked cannot be checked right now.",
    "bad_signature": "The card's signature does not match.",
    "unsupported_key": "The card uses a kind of key this kiosk cannot check.",
}


class OfflineRefused(Exception):
    """A card refused by the kiosk's own checks; ``code`` is one of the server's refusal codes."""

    def __init__(self, code: str, message: str | None = None) -> None:
        if code not in MESSAGES:
            raise ValueError(f"{code!r} is not a refusal code")
        self.code = code
        self.message = message or MESSAGES[code]
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class CrlAge:
    """The CRL in use for one trust anchor and how fresh it is, for the screen and ``kiosk doctor``."""

    #: The label of the trust anchor whose key signed the CRL.
    issuer: str
    this_update: dt.datetime
    next_update: dt.datetime | None
    age: dt.timedelta
    fresh: bool
    #: Where the CRL came from (its file, when loaded from files).
    source: str


@dataclass(frozen=True)
class LocalIdentity:
    """What a local validation establishes about the certificate."""

    serial: int
    not_after: dt.datetime
    #: The label of the trust anchor the certificate chains to (e.g. the root's file name).
    anchor: str
    #: ``good``, or why revocation was not established when the validator does not require it.
    revocation: str = REVOCATION_GOOD
    #: The CRL the revocation check used, if there was one.
    crl: CrlAge | None = None


@dataclass(frozen=True)
class _Anchor:
    index: int
    label: str
    certificate: x509.Certificate
    key_identifier: bytes | None


@dataclass(frozen=True)
class _Crl:
    source: str
    crl: x509.CertificateRevocationList


def _aware(at: dt.datetime, what: str) -> dt.datetime:
    # A naive time is a programming error, not something to guess a zone for.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"the {what} must be timezone-aware")
    return at.astimezone(dt.UTC)


def _extension(extensions: x509.Extensions, kind: type[Any]) -> Any:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _subject_key_identifier(cert: x509.Certificate) -> bytes | None:
    ski = _extension(cert.extensions, x509.SubjectKeyIdentifier)
    return None if ski is None else bytes(ski.digest)


def _authority_key_identifier(extensions: x509.Extensions) -> bytes | None:
    aki = _extension(extensions, x509.AuthorityKeyIdentifier)
    return None if aki is None or aki.key_identifier is None else bytes(aki.key_identifier)


def _check_anchor(cert: x509.Certificate, label: str) -> None:
    # A misconfigured anchor is an installation error: refuse it when loading, not per card.
    try:
        extensions = cert.extensions
    except (ValueError, x509.DuplicateExtension) as exc:
        raise ValueError(f"trust anchor {label}: its extensions do not parse ({exc})") from None
    constraints = _extension(extensions, x509.BasicConstraints)
    if constraints is not None and not constraints.ca:
        raise ValueError(f"trust anchor {label} is not a CA certificate")
    usage = _extension(extensions, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise ValueError(f"trust anchor {label} may not sign certificates (no keyCertSign)")


def _public_key(cert: x509.Certificate, whose: str) -> object:
    try:
        return cert.public_key()
    except UnsupportedAlgorithm:
        raise OfflineRefused("unsupported_key", f"{whose} has a key type this kiosk cannot use") from None
    except ValueError:
        raise OfflineRefused("malformed_certificate", f"{whose} has a key that does not parse") from None


def _rsa_key(cert: x509.Certificate, whose: str) -> rsa.RSAPublicKey:
    key = _public_key(cert, whose)
    if not isinstance(key, rsa.RSAPublicKey):
        raise OfflineRefused("unsupported_key", f"{whose} has a {type(key).__name__.lstrip('_')}, not RSA")
    if key.key_size < MIN_RSA_KEY_BITS:
        raise OfflineRefused("unsupported_key", f"{whose} has an RSA key of only {key.key_size} bits")
    return key


def parse_certificate(cert_der: bytes) -> tuple[x509.Certificate, x509.Extensions]:
    """A certificate and its extensions from untrusted DER bytes, or OfflineRefused."""
    if not isinstance(cert_der, bytes | bytearray | memoryview):
        raise OfflineRefused("malformed_certificate", "the certificate must be DER bytes")
    if len(cert_der) > MAX_CERTIFICATE_BYTES:
        raise OfflineRefused("malformed_certificate", f"a certificate of {len(cert_der)} bytes exceeds the "
                                                      f"{MAX_CERTIFICATE_BYTES}-byte limit")
    try:
        cert = x509.load_der_x509_certificate(bytes(cert_der))
        # cryptography parses extensions lazily; touch them now so a bad certificate fails here.
        extensions = cert.extensions
    except (ValueError, x509.DuplicateExtension):  # the latter is no ValueError
        raise OfflineRefused("malformed_certificate", "the certificate is not valid DER X.509") from None
    for extension in extensions:
        # RFC 5280: a critical extension that cannot be honoured means the certificate is refused.
        if extension.critical and isinstance(extension.value, x509.UnrecognizedExtension):
            raise OfflineRefused("malformed_certificate", "the certificate has an unrecognised critical "
                                                          f"extension {extension.oid.dotted_string}")
    _public_key(cert, "the certificate")
    return cert, extensions


def _check_validity(cert: x509.Certificate, at: dt.datetime, what: str) -> None:
    if at < cert.not_valid_before_utc:
        raise OfflineRefused("not_yet_valid", f"{what} is valid from {cert.not_valid_before_utc.isoformat()}")
    if at > cert.not_valid_after_utc:
        raise OfflineRefused("expired", f"{what} expired at {cert.not_valid_after_utc.isoformat()}")


def _check_end_entity_usage(extensions: x509.Extensions) -> None:
    usage = _extension(extensions, x509.KeyUsage)
    if usage is None:
        raise OfflineRefused("key_usage", "the certificate has no KeyUsage extension")
    if not usage.digital_signature:
        raise OfflineRefused("key_usage", "the certificate's KeyUsage does not allow digitalSignature")
    constraints = _extension(extensions, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise OfflineRefused("key_usage", "a CA certificate cannot authenticate a card holder")


def _crl_covers(crl: x509.CertificateRevocationList, extensions: x509.Extensions) -> bool:
    # Only a complete CRL whose scope includes this certificate can say it is not revoked, and a
    # CRL with a critical extension we cannot interpret must not be used at all (RFC 5280, 6.3.3).
    if any(ext.critical and isinstance(ext.value, x509.UnrecognizedExtension) for ext in crl.extensions):
        return False
    if _extension(crl.extensions, x509.DeltaCRLIndicator) is not None:
        return False
    idp = _extension(crl.extensions, x509.IssuingDistributionPoint)
    if idp is None:
        return True
    if idp.only_contains_ca_certs or idp.only_contains_attribute_certs or idp.indirect_crl:
        return False
    if idp.only_some_reasons:
        return False
    if idp.full_name is None:
        return bool(idp.relative_name is None)
    points = _extension(extensions, x509.CRLDistributionPoints)
    if points is None:
        return False
    names = set(idp.full_name)
    return any(point.full_name and names.intersection(point.full_name) for point in points)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _is_pem(data: bytes) -> bool:
    return data.lstrip().startswith(b"-----BEGIN")


def load_certificates(path: Path) -> list[x509.Certificate]:
    """The certificates in a PEM file (one or more) or a DER file; ValueError naming the file."""
    data = _read(path)
    try:
        if _is_pem(data):
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ValueError(f"{path}: not a PEM or DER certificate ({exc})") from None


def load_crl(path: Path) -> x509.CertificateRevocationList:
    """A CRL from a PEM or DER file; ValueError naming the file otherwise."""
    data = _read(path)
    try:
        crl = x509.load_pem_x509_crl(data) if _is_pem(data) else x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ValueError(f"{path}: not a PEM or DER CRL ({exc})") from None
    try:
        crl.extensions  # noqa: B018 - parsed lazily; DuplicateExtension is no ValueError
    except (ValueError, x509.DuplicateExtension) as exc:
        raise ValueError(f"{path}: the CRL's extensions do not parse ({exc})") from None
    return crl


class LocalValidator:
    """The kiosk's offline check of a card: chain, validity, key usage, revocation, signature.

    ``anchors`` and ``crls`` are (label, object) pairs; labels name them on screens and in logs.
    With ``require_crl`` (the default) a certificate whose anchor has no fresh CRL is refused with
    ``revocation_unknown``; without it the certificate passes and ``LocalIdentity.revocation``
    says why its status was not established.
    """

    def __init__(
        self,
        anchors: Sequence[tuple[str, x509.Certificate]],
        crls: Sequence[tuple[str, x509.CertificateRevocationList]],
        *,
        clock: Clock = utc_now,
        require_crl: bool = True,
        max_skew: dt.timedelta = DEFAULT_MAX_SKEW,
    ) -> None:
        if not anchors:
            raise ValueError("a local validator needs at least one trust anchor")
        loaded = []
        for index, (label, cert) in enumerate(anchors):
            _check_anchor(cert, label)
            loaded.append(_Anchor(index, label, cert, _subject_key_identifier(cert)))
        self._anchors: tuple[_Anchor, ...] = tuple(loaded)
        self._crls: tuple[_Crl, ...] = tuple(_Crl(source, crl) for source, crl in crls)
        self._clock = clock
        self._max_skew = max_skew
        self.require_crl = require_crl
        # Each anchor's CRL, found once: matching a CRL costs a signature check per candidate.
        self._crl_of: dict[int, _Crl | None] = {
            anchor.index: self._search_crl(anchor) for anchor in self._anchors
        }

    @classmethod
    def from_files(cls, anchor_paths: Sequence[Path], crl_paths: Sequence[Path], **kw: Any) -> LocalValidator:
        """A validator from anchor and CRL files, PEM or DER; each anchor is labelled by its file name."""
        anchors: list[tuple[str, x509.Certificate]] = []
        for path in map(Path, anchor_paths):
            certs = load_certificates(path)
            for index, cert in enumerate(certs):
                anchors.append((path.name if len(certs) == 1 else f"{path.name}[{index}]", cert))
        crls = [(str(path), load_crl(path)) for path in map(Path, crl_paths)]
        return cls(anchors, crls, **kw)

    # -- the certificate ----------------------------------------------------------------------

    def validate(self, cert_der: bytes, at: dt.datetime | None = None) -> LocalIdentity:
        """Check the certificate for use at ``at`` (default: now); OfflineRefused otherwise.

        Order as on the server: parse, find the issuing anchor, the anchor's and the certificate's
        validity, key usage, then revocation.
        """
        at = _aware(at if at is not None else self._clock(), "validation time")
        cert, extensions = parse_certificate(cert_der)
        anchor = self._issuer_of(cert, extensions)
        _check_validity(anchor.certificate, at, f"the trust anchor {anchor.label}")
        _check_validity(cert, at, "the certificate")
        _check_end_entity_usage(extensions)
        revocation, age = self._check_revocation(cert, extensions, anchor, at)
        return LocalIdentity(
            serial=cert.serial_number, not_after=cert.not_valid_after_utc, anchor=anchor.label,
            revocation=revocation, crl=age,
        )

    def _issuer_of(self, cert: x509.Certificate, extensions: x509.Extensions) -> _Anchor:
        wanted = _authority_key_identifier(extensions)
        # A name match alone never makes an anchor the issuer: every root generation has the same
        # name, so the key identifier narrows the field and the signature decides.
        candidates = [
            anchor for anchor in self._anchors
            if anchor.certificate.subject == cert.issuer
            and (wanted is None or anchor.key_identifier is None or wanted == anchor.key_identifier)
        ]
        if not candidates:
            raise OfflineRefused(
                "unknown_issuer",
                "no trust anchor has the certificate's issuer name and key",
            )
        if cert.signature_algorithm_oid != SignatureAlgorithmOID.RSA_WITH_SHA256:
            name = getattr(cert.signature_algorithm_oid, "_name", cert.signature_algorithm_oid.dotted_string)
            raise OfflineRefused("unsupported_key", f"signature algorithm {name} is not accepted")
        for anchor in candidates:
            _rsa_key(anchor.certificate, f"trust anchor {anchor.label}")
            try:
                cert.verify_directly_issued_by(anchor.certificate)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return anchor
        raise OfflineRefused("unknown_issuer", "the certificate's signature verifies with no trust anchor")

    # -- revocation ---------------------------------------------------------------------------

    def _search_crl(self, anchor: _Anchor) -> _Crl | None:
        """The newest CRL that ``anchor``'s own key signed."""
        usage = _extension(anchor.certificate.extensions, x509.KeyUsage)
        if usage is not None and not usage.crl_sign:
            return None
        key = anchor.certificate.public_key()
        best: _Crl | None = None
        for loaded in self._crls:
            crl = loaded.crl
            if crl.issuer != anchor.certificate.subject:
                continue
            crl_aki = _authority_key_identifier(crl.extensions)
            if crl_aki is not None and anchor.key_identifier is not None and crl_aki != anchor.key_identifier:
                continue
            # Same-named generations mean the issuer name proves nothing: only the signature does.
            if crl.signature_algorithm_oid != SignatureAlgorithmOID.RSA_WITH_SHA256:
                continue
            try:
                if not isinstance(key, rsa.RSAPublicKey) or not crl.is_signature_valid(key):
                    continue
            except (ValueError, TypeError, UnsupportedAlgorithm):
                continue
            if best is None or crl.last_update_utc > best.crl.last_update_utc:
                best = loaded
        return best

    def _age(self, anchor: _Anchor, loaded: _Crl, at: dt.datetime) -> CrlAge:
        crl = loaded.crl
        next_update = crl.next_update_utc
        # A CRL without nextUpdate gives no promise of freshness, so it never counts as fresh.
        fresh = next_update is not None and at <= next_update and crl.last_update_utc <= at + self._max_skew
        return CrlAge(
            issuer=anchor.label, this_update=crl.last_update_utc, next_update=next_update,
            age=at - crl.last_update_utc, fresh=fresh, source=loaded.source,
        )

    def _check_revocation(
        self, cert: x509.Certificate, extensions: x509.Extensions, anchor: _Anchor, at: dt.datetime,
    ) -> tuple[str, CrlAge | None]:
        loaded = self._crl_of[anchor.index]
        if loaded is None or not _crl_covers(loaded.crl, extensions):
            return self._unknown(REVOCATION_NO_CRL, f"no usable CRL signed by {anchor.label}", None)
        age = self._age(anchor, loaded, at)
        # A listed serial is believed even from a stale CRL: JPKI revocation is never undone, and a
        # card known to be revoked must not be served because a newer list is out of reach.
        if loaded.crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise OfflineRefused("revoked")
        if not age.fresh:
            why = f"the CRL {loaded.source} is stale (age {age.age})"
            return self._unknown(REVOCATION_STALE_CRL, why, age)
        return REVOCATION_GOOD, age

    def _unknown(self, status: str, why: str, age: CrlAge | None) -> tuple[str, CrlAge | None]:
        if self.require_crl:
            raise OfflineRefused("revocation_unknown", f"{MESSAGES['revocation_unknown']} ({why})")
        logger.warning("revocation not established offline: %s", why)
        return status, age

    def crl_ages(self, at: dt.datetime | None = None) -> list[CrlAge]:
        """The CRL in use for each anchor that has one, with its age at ``at`` (default: now)."""
        at = _aware(at if at is not None else self._clock(), "time")
        ages = []
        for anchor in self._anchors:
            loaded = self._crl_of[anchor.index]
            if loaded is not None:
                ages.append(self._age(anchor, loaded, at))
        return ages

    def anchors_without_crl(self) -> list[str]:
        """The labels of the anchors for which no CRL signed by their key is loaded."""
        return [anchor.label for anchor in self._anchors if self._crl_of[anchor.index] is None]

    # -- the card's signature -----------------------------------------------------------------

    def check_signature(self, cert_der: bytes, message: bytes, signature: bytes) -> None:
        """Check the card's RSA PKCS#1 v1.5 / SHA-256 signature over ``message``; OfflineRefused otherwise."""
        cert, _ = parse_certificate(cert_der)
        key = _rsa_key(cert, "the certificate")
        if not isinstance(signature, bytes | bytearray | memoryview) or not isinstance(
                message, bytes | bytearray | memoryview):
            raise OfflineRefused("bad_signature", "the signature and message must be bytes")
        try:
            key.verify(bytes(signature), bytes(message), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise OfflineRefused("bad_signature") from None
