"""The message a card signs for the linkage server, and the signature checks the server accepts.

The card signs ``SHA-256(signed_message(...))``: the kiosk hands it a DigestInfo, and the card adds
PKCS#1 v1.5 padding, so the result is an ordinary RSA PKCS#1 v1.5 / SHA-256 signature over the
message. Which scheme applies is looked up from the key type (for the card) or the signature
algorithm identifier (for certificates, CRLs and OCSP responses), so a new card generation with
another algorithm is a new table entry rather than a new branch in the verifier.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ObjectIdentifier, SignatureAlgorithmOID

from linkserver.errors import BadSignature, UnsupportedKey

#: Separates this protocol's signatures from anything else the card's key might sign.
DOMAIN_TAG = b"jp.kiosk.verify.v1\x00"
#: Each field is prefixed with its length in this many bytes (big-endian).
LENGTH_PREFIX_BYTES = 2
MAX_FIELD_LENGTH = (1 << (8 * LENGTH_PREFIX_BYTES)) - 1
#: Smaller RSA keys are refused outright; every JPKI key so far is RSA-2048.
MIN_RSA_KEY_BITS = 2048

#: Checks ``signature`` over ``data`` with a public key: True, False, or UnsupportedKey.
SchemeVerifier = Callable[[PublicKeyTypes, bytes, bytes], bool]


def _field(value: bytes) -> bytes:
    if len(value) > MAX_FIELD_LENGTH:
        raise ValueError(f"a signed field of {len(value)} bytes exceeds {MAX_FIELD_LENGTH}")
    return len(value).to_bytes(LENGTH_PREFIX_BYTES, "big") + value


def signed_message(nonce: bytes, kiosk_id: str, account: str) -> bytes:
    """The bytes whose SHA-256 the card signs: tag, then nonce, kiosk ID and account, each length-prefixed.

    The length prefixes keep the encoding injective: no two (nonce, kiosk, account) triples give
    the same bytes, so a signature for one claim can never be read as another.
    """
    return (
        DOMAIN_TAG
        + _field(bytes(nonce))
        + _field(kiosk_id.encode("utf-8"))
        + _field(account.encode("utf-8"))
    )


def _rsa_pkcs1v15(algorithm: hashes.HashAlgorithm) -> SchemeVerifier:
    def verify(key: PublicKeyTypes, signature: bytes, data: bytes) -> bool:
        if not isinstance(key, rsa.RSAPublicKey):
            raise UnsupportedKey(f"an RSA signature cannot be checked with a {_key_name(key)}")
        if key.key_size < MIN_RSA_KEY_BITS:
            raise UnsupportedKey(f"RSA keys of {key.key_size} bits are too small")
        try:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            return False
        return True

    return verify


_RSA_PKCS1V15_SHA256 = _rsa_pkcs1v15(hashes.SHA256())

#: Signature algorithms accepted on certificates, CRLs and OCSP responses.
ISSUER_SIGNATURE_ALGORITHMS: dict[ObjectIdentifier, SchemeVerifier] = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: _RSA_PKCS1V15_SHA256,
}

#: How a card with a key of each type signs the linkage message.
CARD_SIGNATURE_SCHEMES: tuple[tuple[type[object], SchemeVerifier], ...] = (
    (rsa.RSAPublicKey, _RSA_PKCS1V15_SHA256),
)


def _key_name(key: object) -> str:
    return type(key).__name__.lstrip("_")


def verify_issued_signature(
    issuer_key: PublicKeyTypes, algorithm: ObjectIdentifier, signature: bytes, data: bytes
) -> bool:
    """Whether ``issuer_key`` made ``signature`` over ``data`` with ``algorithm``.

    For signed structures that name their algorithm (certificates, CRLs, OCSP responses).
    Raises UnsupportedKey for an algorithm or key outside ``ISSUER_SIGNATURE_ALGORITHMS``.
    """
    scheme = ISSUER_SIGNATURE_ALGORITHMS.get(algorithm)
    if scheme is None:
        name = getattr(algorithm, "_name", None) or algorithm.dotted_string
        raise UnsupportedKey(f"signature algorithm {name} is not accepted")
    return scheme(issuer_key, signature, data)


def _public_key(cert: x509.Certificate) -> PublicKeyTypes:
    try:
        return cert.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise UnsupportedKey("the certificate's public key cannot be used") from exc


def card_scheme(key: PublicKeyTypes) -> SchemeVerifier:
    """The signature scheme of a card with this key, looked up by key type, or UnsupportedKey."""
    for key_type, scheme in CARD_SIGNATURE_SCHEMES:
        if isinstance(key, key_type):
            return scheme
    raise UnsupportedKey(f"no card signature scheme for a {_key_name(key)}")


def verify_card_signature(cert: x509.Certificate, message: bytes, signature: bytes) -> None:
    """Check the card's signature over ``message`` with the certificate's key.

    Raises BadSignature when it does not verify and UnsupportedKey when the key type has no
    known card scheme.
    """
    key = _public_key(cert)
    if not card_scheme(key)(key, bytes(signature), message):
        raise BadSignature()
