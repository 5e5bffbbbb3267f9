"""The keys of the token service: the server's signing key from its PEM file, a kiosk's public key
as a JWK (RSA of 2048 bits or more, or EC P-256, nothing else), the published key set, and the
issuer an assertion claims before anything about it is checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc.jwk import ECKey

from linkserver.tokens import (
    TOKEN_ALGORITHM,
    generate_ec_private_key_pem,
    load_ec_private_key,
    public_jwk_from_pem,
    unverified_issuer,
)
from tests.linkserver.units.token_parts import Bench, b64, ec_key, private_pem, public_pem, rsa_key, unsigned

WRONG_KEY_WORDS = "the key must be RSA (2048 bits or more) or EC P-256"


def test_the_signing_key_is_loaded_from_its_pem_file(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(private_pem(ec_key("server")))
    key = load_ec_private_key(path)
    assert isinstance(key, ECKey)
    assert key.thumbprint() == ECKey.import_key(ec_key("server")).thumbprint()
    assert key.as_dict(private=True)["d"]


@pytest.mark.parametrize("key", [rsa_key(), ec_key("other", "P-384")], ids=["rsa", "p-384"])
def test_a_signing_key_other_than_ec_p256_is_refused(tmp_path: Path, key: object) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(private_pem(key))
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))} is not an EC P-256 private key$"):
        load_ec_private_key(path)


def test_a_generated_signing_key_is_an_unencrypted_p256_pkcs8_pem(tmp_path: Path) -> None:
    pem = generate_ec_private_key_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert generate_ec_private_key_pem() != pem


def test_a_kiosks_ec_p256_key_becomes_a_public_jwk() -> None:
    jwk = public_jwk_from_pem(public_pem(ec_key()))
    numbers = ec_key().public_key().public_numbers()
    assert jwk == {"kty": "EC", "crv": "P-256", "x": b64(numbers.x.to_bytes(32, "big")),
                   "y": b64(numbers.y.to_bytes(32, "big"))}


def test_a_kiosks_rsa_key_of_2048_bits_becomes_a_public_jwk() -> None:
    jwk = public_jwk_from_pem(public_pem(rsa_key()))
    assert (jwk["kty"], jwk["e"]) == ("RSA", "AQAB")
    assert "d" not in jwk
    assert len(jwk["n"]) == 342  # 256 bytes in base64url


def test_an_rsa_key_below_2048_bits_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^RSA keys must have at least 2048 bits$"):
        public_jwk_from_pem(public_pem(rsa_key(2047)))


@pytest.mark.parametrize("key", [ec_key("other", "P-384"), ed25519.Ed25519PrivateKey.generate()],
                         ids=["p-384", "ed25519"])
def test_other_key_types_are_refused(key: object) -> None:
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,  # type: ignore[attr-defined]
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match=f"^{re.escape(WRONG_KEY_WORDS)}$"):
        public_jwk_from_pem(pem)


@pytest.mark.parametrize("pem", [b"not a key", private_pem(ec_key())], ids=["junk", "private key"])
def test_what_is_no_public_key_pem_is_refused(pem: bytes) -> None:
    with pytest.raises(ValueError, match=r"^not a PEM public key: "):
        public_jwk_from_pem(pem)


def test_the_published_key_set_holds_the_public_signing_key(bench: Bench) -> None:
    [jwk] = bench.tokens.public_jwks()["keys"]
    assert jwk == {**bench.signing_key.as_dict(private=False), "kid": bench.tokens.key_id, "use": "sig",
                   "alg": TOKEN_ALGORITHM}
    assert "d" not in jwk
    assert bench.tokens.key_id == bench.signing_key.thumbprint()


def test_the_claimed_issuer_is_read_without_checking_anything() -> None:
    assert unverified_issuer(unsigned({"alg": "none"}, {"iss": "kiosk-x", "sub": "y"})) == "kiosk-x"


@pytest.mark.parametrize("claims", [{"sub": "kiosk-x"}, {"iss": 42}, ["kiosk-x"]],
                         ids=["none", "number", "list"])
def test_an_assertion_naming_no_issuer_claims_none(claims: object) -> None:
    header = b64(b'{"alg":"none"}')
    payload = b64(repr(claims).replace("'", '"').encode())
    assert unverified_issuer(f"{header}.{payload}.") is None


@pytest.mark.parametrize("text", ["", "not.a.jwt", "one-part", "kiosk-ü.eyJ9.x",
                                  f"{b64(b'{}')}.{b64(b'[')}."],
                         ids=["empty", "junk", "one part", "not ascii", "bad json"])
def test_what_is_no_jwt_has_no_issuer(text: str) -> None:
    with pytest.raises(ValueError, match=r"^not a JWT$"):
        unverified_issuer(text)
