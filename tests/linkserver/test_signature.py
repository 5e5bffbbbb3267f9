"""The signed message, the card's signature over it, and the refusal codes."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kiosk.nfc.jpki import sha256_digest_info
from kiosk.nfc.sim import TestHierarchy
from linkserver import CODES, DOMAIN_TAG, VerificationRefused, signed_message, verify_card_signature
from linkserver.errors import REFUSALS, BadSignature, ErrorCode
from tests.linkserver.conftest import SignWithCard


def test_message_layout() -> None:
    message = signed_message(b"\x01\x02", "k1", "アカウント")
    account = "アカウント".encode()
    assert DOMAIN_TAG == b"jp.kiosk.verify.v1\x00"
    assert message == (DOMAIN_TAG + b"\x00\x02\x01\x02" + b"\x00\x02k1"
                       + len(account).to_bytes(2, "big") + account)


def test_message_is_unambiguous() -> None:
    claims = [
        (b"ab", "c", "d"), (b"a", "bc", "d"), (b"a", "b", "cd"), (b"abc", "", "d"),
        (b"", "abc", "d"), (b"ab", "cd", ""), (b"a\x00", "\x02c", "d"),
    ]
    assert len({signed_message(*claim) for claim in claims}) == len(claims)


def test_oversized_fields_are_refused() -> None:
    signed_message(b"x" * 0xFFFF, "k", "a")
    with pytest.raises(ValueError, match="exceeds"):
        signed_message(b"x" * 0x10000, "k", "a")
    with pytest.raises(ValueError, match="exceeds"):
        signed_message(b"n", "k", "あ" * 30000)


def test_card_signature_is_plain_pkcs1v15_sha256(
    sign_with_card: SignWithCard, hierarchy: TestHierarchy
) -> None:
    answer = sign_with_card("linked")
    message = signed_message(answer.nonce, answer.kiosk_id, answer.account)
    cert = x509.load_der_x509_certificate(answer.cert_der)
    verify_card_signature(cert, message, answer.signature)
    # The card padded a DigestInfo; a software PKCS#1 v1.5 signature over the message is identical.
    key = hierarchy.holder("linked").auth_key
    assert key.sign(message, padding.PKCS1v15(), hashes.SHA256()) == answer.signature
    assert sha256_digest_info(message).endswith(hashlib.sha256(message).digest())
    with pytest.raises(BadSignature, match=r"^bad_signature: The card's signature does not verify"):
        verify_card_signature(cert, message + b"!", answer.signature)


def test_every_code_is_documented_and_raisable() -> None:
    assert set(REFUSALS) == set(CODES) == {
        ErrorCode.MALFORMED_CERTIFICATE, ErrorCode.UNKNOWN_ISSUER, ErrorCode.EXPIRED, ErrorCode.NOT_YET_VALID,
        ErrorCode.KEY_USAGE, ErrorCode.REVOKED, ErrorCode.REVOCATION_UNKNOWN, ErrorCode.BAD_SIGNATURE,
        ErrorCode.UNSUPPORTED_KEY,
    }
    for code, cls in REFUSALS.items():
        error = cls()
        assert isinstance(error, VerificationRefused)
        assert error.code == code and error.message == CODES[code]
        assert str(error).startswith(f"{code}: ")
        assert cls("details").message == "details"
    with pytest.raises(TypeError, match=r"^VerificationRefused has no documented refusal code$"):
        VerificationRefused("no code")
