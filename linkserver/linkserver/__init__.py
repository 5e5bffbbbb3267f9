"""Reference linkage server: verifies a My Number Card's authentication and derives the PPID.

This package is the verification core only: trust anchors, revocation, the signed message, the
PPID and the verifier that ties them together. The HTTP service is built on top of it.
"""

from linkserver.errors import CODES, VerificationRefused
from linkserver.ppid import PpidDeriver, RenewalTable, load_renewals_csv
from linkserver.revocation import (
    CrlFileChecker,
    NoRevocationCheck,
    OcspChecker,
    RevocationChecker,
    RevocationStatus,
)
from linkserver.signature import DOMAIN_TAG, signed_message, verify_card_signature
from linkserver.trust import TrustAnchor, TrustStore
from linkserver.verifier import JpkiVerifier, VerifiedIdentity

__all__ = [
    "CODES",
    "DOMAIN_TAG",
    "CrlFileChecker",
    "JpkiVerifier",
    "NoRevocationCheck",
    "OcspChecker",
    "PpidDeriver",
    "RenewalTable",
    "RevocationChecker",
    "RevocationStatus",
    "TrustAnchor",
    "TrustStore",
    "VerificationRefused",
    "VerifiedIdentity",
    "load_renewals_csv",
    "signed_message",
    "verify_card_signature",
]
