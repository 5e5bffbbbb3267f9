"""Revocation checking, pluggable: a CRL file, an OCSP responder, or (for demos) nothing.

JPKI revocation data reaches only certified verifiers or a platform operator, so the source varies
by deployment; the verifier sees only ``RevocationChecker``. Every checker answers UNKNOWN rather
than GOOD when it cannot establish the status, and the verifier refuses on UNKNOWN.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from linkserver.errors import VerificationRefused
from linkserver.signature import verify_issued_signature
from linkserver.trust import authority_key_identifier, require_aware, subject_key_identifier

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
#: Sends a DER OCSP request to a URL and returns the response body; raises on transport failure.
HttpPost = Callable[[str, bytes], bytes]

#: Tolerated clock difference between this server and a CRL or OCSP signer.
DEFAULT_MAX_SKEW = dt.timedelta(minutes=5)
#: How old an OCSP answer without nextUpdate may be.
DEFAULT_OCSP_MAX_AGE = dt.timedelta(hours=24)
MAX_OCSP_RESPONSE_BYTES = 64 * 1024
OCSP_NONCE_BYTES = 16
#: CertID hash algorithms a responder may answer with.
_CERT_ID_HASHES: dict[str, hashes.HashAlgorithm] = {
    h.name: h for h in (hashes.SHA1(), hashes.SHA256(), hashes.SHA384(), hashes.SHA512())
}


def utc_now() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


class RevocationStatus(Enum):
    """What a checker established about one certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class RevocationChecker(Protocol):
    """Anything that can tell whether ``issuer`` has revoked ``cert``.

    ``local`` says it answers from what this process holds (no network round trip), so that a
    check may run on the event loop.
    """

    local: bool

    def check(self, cert: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus: ...


class _Unusable(Exception):
    """Revocation data that cannot be relied on; the reason goes to the log."""


def _signed_by(key_owner: x509.Certificate, algorithm: x509.ObjectIdentifier, signature: bytes,
               data: bytes) -> bool:
    """Whether ``key_owner``'s key made ``signature``; an unusable algorithm or key counts as no."""
    try:
        return verify_issued_signature(key_owner.public_key(), algorithm, signature, data)
    except (VerificationRefused, UnsupportedAlgorithm):
        return False


# -- CRL ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrlInfo:
    """Where a CRL came from and how fresh it is, for logs and the staff console."""

    source: str
    this_update: dt.datetime
    next_update: dt.datetime | None
    age: dt.timedelta
    fresh: bool
    revoked_entries: int


@dataclass(frozen=True)
class _LoadedCrl:
    source: str
    crl: x509.CertificateRevocationList


def load_crl(path: Path) -> x509.CertificateRevocationList:
    """A CRL from a DER or PEM file; ValueError naming the file otherwise."""
    data = path.read_bytes()
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(data)
        else:
            crl = x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ValueError(f"{path}: not a DER or PEM CRL ({exc})") from None
    try:
        # Parsed lazily by cryptography: a CRL whose extensions do not parse is refused at loading,
        # not at the first card it is asked about (DuplicateExtension is no ValueError).
        crl.extensions  # noqa: B018
    except (ValueError, x509.DuplicateExtension) as exc:
        raise ValueError(f"{path}: the CRL's extensions do not parse ({exc})") from None
    return crl


def _crl_covers(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> bool:
    # Only a complete CRL whose scope includes this certificate can say it is not revoked, and a
    # CRL with a critical extension we cannot interpret must not be used at all (RFC 5280, 6.3.3).
    if any(ext.critical and isinstance(ext.value, x509.UnrecognizedExtension) for ext in crl.extensions):
        return False
    try:
        crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        return False
    except x509.ExtensionNotFound:
        pass
    try:
        idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return True
    if idp.only_contains_ca_certs or idp.only_contains_attribute_certs or idp.indirect_crl:
        return False
    if idp.only_some_reasons:
        return False
    if idp.full_name is None:
        return idp.relative_name is None
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return False
    names = set(idp.full_name)
    return any(point.full_name and names.intersection(point.full_name) for point in points)


class CrlFileChecker:
    """Revocation from CRL files on disk, one per issuer (several roots may share a name).

    A CRL counts for an issuer only if that issuer's key signed it. A CRL past its nextUpdate (or
    without one) is stale: the answer is UNKNOWN, never GOOD. ``reload`` re-reads the files.
    """

    local = True

    def __init__(
        self, paths: Iterable[Path | str], *, clock: Clock = utc_now,
        max_skew: dt.timedelta = DEFAULT_MAX_SKEW,
    ) -> None:
        self._paths = tuple(Path(p) for p in paths)
        if not self._paths:
            raise ValueError("a CRL checker needs at least one CRL file")
        self._clock = clock
        self._max_skew = max_skew
        # The CRLs and a cache of issuer certificate -> its CRL (saving a CRL signature check per
        # verification), swapped together in one assignment so a reload never mixes the two. A
        # certificate is its own key: equal only to one of the same DER bytes, and hashed faster
        # than its fingerprint is computed.
        self._state: tuple[tuple[_LoadedCrl, ...], dict[x509.Certificate, _LoadedCrl | None]] = ((), {})
        self.reload()

    def reload(self) -> None:
        """Re-read every CRL file; on any error the previously loaded CRLs stay in use."""
        self._state = (tuple(_LoadedCrl(str(path), load_crl(path)) for path in self._paths), {})

    def _now(self) -> dt.datetime:
        return require_aware(self._clock(), "clock's time")

    def _find(self, issuer: x509.Certificate) -> _LoadedCrl | None:
        """The newest CRL signed by ``issuer``'s key (of two of the same moment, the first listed)."""
        crls, cache = self._state
        if issuer not in cache:
            cache[issuer] = self._search(crls, issuer)
        return cache[issuer]

    @staticmethod
    def _search(crls: tuple[_LoadedCrl, ...], issuer: x509.Certificate) -> _LoadedCrl | None:
        issuer_ski = subject_key_identifier(issuer)
        try:
            usage: x509.KeyUsage | None = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is not None and not usage.crl_sign:
            return None
        best: _LoadedCrl | None = None
        for loaded in crls:
            crl = loaded.crl
            if crl.issuer != issuer.subject:
                continue
            try:
                crl_aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
            except x509.ExtensionNotFound:
                crl_aki = None
            if crl_aki and crl_aki.key_identifier and issuer_ski and crl_aki.key_identifier != issuer_ski:
                continue
            if not _signed_by(issuer, crl.signature_algorithm_oid, crl.signature, crl.tbs_certlist_bytes):
                continue
            if best is None or crl.last_update_utc > best.crl.last_update_utc:
                best = loaded
        return best

    def crl_info(self, issuer: x509.Certificate) -> CrlInfo | None:
        """The CRL in use for ``issuer`` with its age, or None if there is none."""
        loaded = self._find(issuer)
        return None if loaded is None else self._info(loaded, self._now())

    def _info(self, loaded: _LoadedCrl, now: dt.datetime) -> CrlInfo:
        crl = loaded.crl
        next_update = crl.next_update_utc
        fresh = (
            next_update is not None
            and now <= next_update
            and crl.last_update_utc <= now + self._max_skew
        )
        return CrlInfo(
            source=loaded.source, this_update=crl.last_update_utc, next_update=next_update,
            age=now - crl.last_update_utc, fresh=fresh, revoked_entries=len(crl),
        )

    def check(self, cert: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        loaded = self._find(issuer)
        if loaded is None:
            logger.warning("no CRL signed by the issuing CA is loaded")
            return RevocationStatus.UNKNOWN
        info = self._info(loaded, self._now())
        if not info.fresh:
            logger.warning("CRL %s is stale or not yet valid (age %s)", loaded.source, info.age)
            return RevocationStatus.UNKNOWN
        if not _crl_covers(loaded.crl, cert):
            logger.warning("CRL %s does not cover this certificate", loaded.source)
            return RevocationStatus.UNKNOWN
        if loaded.crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            return RevocationStatus.REVOKED
        return RevocationStatus.GOOD


# -- OCSP -----------------------------------------------------------------------------------


def _der_item(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER item at ``offset``."""
    tag = data[offset]
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, start, end


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents (unused-bits byte removed), as CertID hashes it."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, start, _ = _der_item(spki, 0)  # SubjectPublicKeyInfo SEQUENCE
    _, _, algorithm_end = _der_item(spki, start)  # AlgorithmIdentifier
    tag, bits_start, bits_end = _der_item(spki, algorithm_end)
    if tag != 0x03:
        raise ValueError("SubjectPublicKeyInfo without a BIT STRING")
    return spki[bits_start + 1:bits_end]


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def cert_id_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """The (issuerNameHash, issuerKeyHash) of an OCSP CertID for certificates of ``issuer``."""
    return (
        _digest(algorithm, issuer.subject.public_bytes()),
        _digest(algorithm, _public_key_bits(issuer)),
    )


def _is_responder_for(candidate: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    if response.responder_key_hash is not None:
        return response.responder_key_hash == _digest(hashes.SHA1(), _public_key_bits(candidate))
    return response.responder_name == candidate.subject


class OcspChecker:
    """Revocation from an OCSP responder, reached through ``http_post``.

    The response must be signed by the issuer itself or by a responder certificate the issuer
    issued for OCSP signing, must answer for this certificate's CertID, echo our nonce if it
    carries one, and be fresh (thisUpdate not in the future; nextUpdate, or ``max_age`` when
    absent, not past). Transport errors and anything else give UNKNOWN.
    """

    local = False

    def __init__(
        self, url: str, http_post: HttpPost, *, clock: Clock = utc_now,
        hash_algorithm: hashes.HashAlgorithm | None = None,
        max_age: dt.timedelta = DEFAULT_OCSP_MAX_AGE, max_skew: dt.timedelta = DEFAULT_MAX_SKEW,
        use_nonce: bool = True,
    ) -> None:
        self.url = url
        self._post = http_post
        self._clock = clock
        self._hash = hash_algorithm or hashes.SHA256()
        self._max_age = max_age
        self._max_skew = max_skew
        self._use_nonce = use_nonce

    def build_request(self, cert: x509.Certificate, issuer: x509.Certificate,
                      nonce: bytes | None) -> ocsp.OCSPRequest:
        """The OCSP request for ``cert``, with a nonce extension when one is given."""
        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, self._hash)
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.build()

    def check(self, cert: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        nonce = os.urandom(OCSP_NONCE_BYTES) if self._use_nonce else None
        request = self.build_request(cert, issuer, nonce)
        try:
            body = self._post(self.url, request.public_bytes(serialization.Encoding.DER))
        except Exception as exc:
            logger.warning("OCSP responder %s unreachable: %s", self.url, type(exc).__name__)
            return RevocationStatus.UNKNOWN
        try:
            return self._evaluate(bytes(body), cert, issuer, nonce)
        except (_Unusable, ValueError, UnsupportedAlgorithm) as exc:
            logger.warning("OCSP answer from %s not usable: %s", self.url, exc)
            return RevocationStatus.UNKNOWN

    def _evaluate(self, body: bytes, cert: x509.Certificate, issuer: x509.Certificate,
                  nonce: bytes | None) -> RevocationStatus:
        if len(body) > MAX_OCSP_RESPONSE_BYTES:
            raise _Unusable(f"response of {len(body)} bytes")
        response = ocsp.load_der_ocsp_response(body)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise _Unusable(f"responder status {response.response_status.name}")
        now = require_aware(self._clock(), "clock's time")
        signer = self._signer(response, issuer, now)
        if not _signed_by(signer, response.signature_algorithm_oid, response.signature,
                          response.tbs_response_bytes):
            raise _Unusable("the response signature does not verify")
        if nonce is not None:
            try:
                echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
            except x509.ExtensionNotFound:
                echoed = None  # a pre-produced response: freshness below still bounds replay
            if echoed is not None and echoed != nonce:
                raise _Unusable("the response answers another request's nonce")
        if response.produced_at_utc > now + self._max_skew:
            raise _Unusable("the response was produced in the future")
        for single in response.responses:
            if self._matches(single, cert, issuer):
                self._check_fresh(single, now)
                return {
                    ocsp.OCSPCertStatus.GOOD: RevocationStatus.GOOD,
                    ocsp.OCSPCertStatus.REVOKED: RevocationStatus.REVOKED,
                }.get(single.certificate_status, RevocationStatus.UNKNOWN)
        raise _Unusable("the response does not answer for this certificate")

    def _signer(self, response: ocsp.OCSPResponse, issuer: x509.Certificate,
                now: dt.datetime) -> x509.Certificate:
        """The issuer, or a delegated responder certificate the issuer signed for OCSP."""
        if _is_responder_for(issuer, response):
            return issuer
        for candidate in response.certificates:
            if not _is_responder_for(candidate, response) or candidate.issuer != issuer.subject:
                continue
            aki = authority_key_identifier(candidate)
            ski = subject_key_identifier(issuer)
            if aki is not None and ski is not None and aki != ski:
                continue
            if not _signed_by(issuer, candidate.signature_algorithm_oid, candidate.signature,
                              candidate.tbs_certificate_bytes):
                continue
            if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
                continue
            try:
                eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except x509.ExtensionNotFound:
                continue
            if ExtendedKeyUsageOID.OCSP_SIGNING in eku:
                return candidate
        raise _Unusable("the response is not signed by the issuer or its OCSP responder")

    def _matches(self, single: ocsp.OCSPSingleResponse, cert: x509.Certificate,
                 issuer: x509.Certificate) -> bool:
        if single.serial_number != cert.serial_number:
            return False
        algorithm = _CERT_ID_HASHES.get(single.hash_algorithm.name)
        if algorithm is None:
            return False
        return (single.issuer_name_hash, single.issuer_key_hash) == cert_id_hashes(issuer, algorithm)

    def _check_fresh(self, single: ocsp.OCSPSingleResponse, now: dt.datetime) -> None:
        if single.this_update_utc > now + self._max_skew:
            raise _Unusable("thisUpdate is in the future")
        next_update = single.next_update_utc
        if next_update is not None and now > next_update:
            raise _Unusable(f"stale: nextUpdate was {next_update.isoformat()}")
        if next_update is None and now - single.this_update_utc > self._max_age:
            raise _Unusable(f"stale: thisUpdate was {single.this_update_utc.isoformat()}")


# -- no check -------------------------------------------------------------------------------


class NoRevocationCheck:
    """Reports every certificate GOOD: for demos and offline evaluation, never for production."""

    local = True

    def __init__(self) -> None:
        logger.warning("revocation checking is disabled: every certificate counts as not revoked")

    def check(self, cert: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        return RevocationStatus.GOOD


# -- a test responder -----------------------------------------------------------------------


def build_ocsp_response(
    request_der: bytes, issuer_cert: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes, revoked_serials: Iterable[int],
    now: dt.datetime, *, validity: dt.timedelta = dt.timedelta(hours=1),
) -> bytes:
    """An OCSP responder's answer to ``request_der``, signed directly by the issuing CA's key.

    For tests and demos built on the test hierarchy. A request for another issuer's certificates
    gets ``unauthorized``; one that does not parse gets ``malformed_request``.
    """
    now = require_aware(now)
    try:
        request = ocsp.load_der_ocsp_request(request_der)
    except ValueError:
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    algorithm = _CERT_ID_HASHES.get(request.hash_algorithm.name)
    if algorithm is None:
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    name_hash, key_hash = cert_id_hashes(issuer_cert, algorithm)
    if (request.issuer_name_hash, request.issuer_key_hash) != (name_hash, key_hash):
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    revoked = request.serial_number in set(revoked_serials)
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=name_hash, issuer_key_hash=key_hash, serial_number=request.serial_number,
        algorithm=algorithm,
        cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
        this_update=now, next_update=now + validity,
        revocation_time=now - dt.timedelta(days=1) if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer_cert)
    try:
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
    except x509.ExtensionNotFound:
        pass
    else:
        builder = builder.add_extension(nonce, critical=False)
    response = builder.sign(issuer_key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)
