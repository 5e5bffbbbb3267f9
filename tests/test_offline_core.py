"""The kiosk's offline core: local validation on the test JPKI hierarchy, and evidence the server accepts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from joserfc import jwe, jws
from joserfc.jwk import ECKey, RSAKey

from kiosk.nfc import JpkiSession
from kiosk.nfc.sim import CardProfile, SimulatedCard, TestHierarchy
from kiosk.nfc.sim.hierarchy import GENERATIONS, auth_certificate, build_crl
from kiosk.offline import (
    OFFLINE_OPERATIONS,
    REVOCATION_GOOD,
    REVOCATION_NO_CRL,
    REVOCATION_STALE_CRL,
    Evidence,
    LocalIdentity,
    LocalValidator,
    OfflineRefused,
    new_voucher,
    offline_challenge,
    seal,
    voucher_hash,
)
from linkserver import offline as server_offline
from linkserver.directory import code_hash
from linkserver.errors import CODES
from linkserver.signature import signed_message
from tests.helpers.certs import DAY, anchors, ca, cert_der, hierarchy_validator, now, refusal, root
from tests.linkserver.helpers import live_server

KIOSK_ID = "kiosk-demo-01"
LINKED_ACCOUNT = "2024000001"


@pytest.fixture
def validator(hierarchy: TestHierarchy) -> LocalValidator:
    return hierarchy_validator(hierarchy)


# -- the certificate ------------------------------------------------------------------------------


@pytest.mark.parametrize(("holder", "anchor"), [
    ("linked", "auth-2023.pem"), ("linked-old", "auth-2019.pem"), ("old-root", "auth-2015.pem"),
    ("unlinked", "auth-2023.pem"),
])
def test_valid_cards_chain_to_their_own_generation(validator: LocalValidator, hierarchy: TestHierarchy,
                                                   holder: str, anchor: str) -> None:
    identity = validator.validate(cert_der(hierarchy, holder))
    expected = hierarchy.holder(holder).auth_certificate
    assert identity.serial == expected.serial_number and identity.anchor == anchor
    assert identity.not_after == expected.not_valid_after_utc
    assert identity.revocation == REVOCATION_GOOD
    assert identity.crl is not None and identity.crl.fresh and identity.crl.issuer == anchor


@pytest.mark.parametrize(("holder", "code"), [
    ("expired", "expired"), ("not-yet-valid", "not_yet_valid"), ("revoked", "revoked"),
    ("foreign", "unknown_issuer"),
])
def test_bad_cards_get_the_servers_codes(validator: LocalValidator, hierarchy: TestHierarchy, holder: str,
                                         code: str) -> None:
    assert refusal(lambda: validator.validate(cert_der(hierarchy, holder))) == code
    assert code in CODES


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01\x05", b"not a certificate", b"\x30" * (17 * 1024)])
def test_malformed_bytes_are_refused_as_malformed(validator: LocalValidator, data: bytes) -> None:
    assert refusal(lambda: validator.validate(data)) == "malformed_certificate"
    assert refusal(lambda: validator.check_signature(data, b"m", b"s")) == "malformed_certificate"


def test_a_stale_crl_leaves_revocation_unknown(hierarchy: TestHierarchy) -> None:
    stale = build_crl(root(hierarchy, "2023"), hierarchy.auth_ca_key("2023"), [], now() - 30 * DAY)
    strict = LocalValidator(anchors(hierarchy), [("stale.crl", stale)])
    assert refusal(lambda: strict.validate(cert_der(hierarchy, "linked"))) == "revocation_unknown"
    lenient = LocalValidator(anchors(hierarchy), [("stale.crl", stale)], require_crl=False)
    identity = lenient.validate(cert_der(hierarchy, "linked"))
    assert identity.revocation == REVOCATION_STALE_CRL
    assert identity.crl is not None and not identity.crl.fresh and identity.crl.source == "stale.crl"


def test_a_stale_crl_that_lists_the_card_still_revokes_it(hierarchy: TestHierarchy) -> None:
    serial = hierarchy.holder("revoked").serial
    stale = build_crl(root(hierarchy, "2023"), hierarchy.auth_ca_key("2023"), [serial], now() - 30 * DAY)
    lenient = LocalValidator(anchors(hierarchy), [("stale.crl", stale)], require_crl=False)
    assert refusal(lambda: lenient.validate(cert_der(hierarchy, "revoked"))) == "revoked"


def test_without_a_crl_the_card_passes_only_when_no_crl_is_required(hierarchy: TestHierarchy) -> None:
    lenient = LocalValidator(anchors(hierarchy), [], require_crl=False)
    identity = lenient.validate(cert_der(hierarchy, "linked"))
    assert identity == LocalIdentity(identity.serial, identity.not_after, "auth-2023.pem", REVOCATION_NO_CRL)
    strict = LocalValidator(anchors(hierarchy), [])
    assert refusal(lambda: strict.validate(cert_der(hierarchy, "linked"))) == "revocation_unknown"
    assert strict.anchors_without_crl() == [f"auth-{g}.pem" for g in GENERATIONS]


def test_a_crl_signed_with_another_generations_key_is_not_used(hierarchy: TestHierarchy) -> None:
    """Every generation has the same name: a CRL counts for a root only if that root's key signed it."""
    linked = hierarchy.holder("linked").serial
    genuine = build_crl(root(hierarchy, "2023"), hierarchy.auth_ca_key("2023"), [], now() - DAY)
    # Newer than the genuine one, named like 2023's, listing the card, signed by the 2019 key.
    forged = build_crl(root(hierarchy, "2019"), hierarchy.auth_ca_key("2019"), [linked], now())
    ski_2023 = root(hierarchy, "2023").extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    claiming = (x509.CertificateRevocationListBuilder().issuer_name(root(hierarchy, "2023").subject)
                .last_update(now() - dt.timedelta(minutes=1)).next_update(now() + DAY)
                .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(linked)
                                         .revocation_date(now() - DAY).build())
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski_2023),
                               critical=False)
                .sign(hierarchy.auth_ca_key("2019"), hashes.SHA256()))
    only_forged = LocalValidator(anchors(hierarchy), [("forged", forged), ("claiming", claiming)])
    assert refusal(lambda: only_forged.validate(cert_der(hierarchy, "linked"))) == "revocation_unknown"
    assert [age.issuer for age in only_forged.crl_ages()] == ["auth-2019.pem"]
    both = LocalValidator(anchors(hierarchy),
                          [("forged", forged), ("claiming", claiming), ("genuine", genuine)])
    identity = both.validate(cert_der(hierarchy, "linked"))
    assert identity.revocation == REVOCATION_GOOD and identity.crl is not None
    assert identity.crl.source == "genuine"


def test_the_issuer_is_the_same_named_root_whose_key_signed(hierarchy: TestHierarchy,
                                                           validator: LocalValidator) -> None:
    holder = hierarchy.holder("linked")
    base = holder.auth_certificate
    # Without an Authority Key Identifier only the signature can tell the generations apart.
    no_aki = (x509.CertificateBuilder().subject_name(base.subject).issuer_name(base.issuer)
              .public_key(holder.auth_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(base.not_valid_before_utc).not_valid_after(base.not_valid_after_utc)
              .add_extension(base.extensions.get_extension_for_class(x509.KeyUsage).value, critical=True)
              .sign(hierarchy.auth_ca_key("2019"), hashes.SHA256()))
    lenient = LocalValidator(anchors(hierarchy), [], require_crl=False)
    assert lenient.validate(no_aki.public_bytes(serialization.Encoding.DER)).anchor == "auth-2019.pem"
    # An identifier naming 2023 with a 2019 signature chains to neither.
    lying = auth_certificate(holder_key=holder.auth_key.public_key(), cn="X" * 20,
                             issuer=root(hierarchy, "2023"), issuer_key=hierarchy.auth_ca_key("2019"),
                             not_before=base.not_valid_before_utc, not_after=base.not_valid_after_utc)
    lying_der = lying.public_bytes(serialization.Encoding.DER)
    assert refusal(lambda: validator.validate(lying_der)) == "unknown_issuer"


def test_a_certificate_without_digital_signature_is_refused(hierarchy: TestHierarchy,
                                                           validator: LocalValidator) -> None:
    holder = hierarchy.holder("linked")
    base = holder.auth_certificate
    encipher_only = auth_certificate(
        holder_key=holder.auth_key.public_key(), cn="Y" * 20, issuer=root(hierarchy, "2023"),
        issuer_key=hierarchy.auth_ca_key("2023"), not_before=base.not_valid_before_utc,
        not_after=base.not_valid_after_utc, key_usage_digital_signature=False)
    der = encipher_only.public_bytes(serialization.Encoding.DER)
    assert refusal(lambda: validator.validate(der)) == "key_usage"


def test_the_anchors_own_validity_counts(hierarchy: TestHierarchy) -> None:
    start = now() - DAY
    anchor, key = ca("Short-Lived Test Root", start, start + 3 * DAY)
    leaf = auth_certificate(holder_key=hierarchy.holder("linked").auth_key.public_key(), cn="Z" * 20,
                            issuer=anchor, issuer_key=key, not_before=start, not_after=start + 30 * DAY)
    local = LocalValidator([("short", anchor)], [], require_crl=False)
    der = leaf.public_bytes(serialization.Encoding.DER)
    assert local.validate(der, at=now()).anchor == "short"
    with pytest.raises(OfflineRefused) as caught:
        local.validate(der, at=now() + 10 * DAY)
    assert caught.value.code == "expired" and "trust anchor" in caught.value.message
    with pytest.raises(ValueError, match="timezone-aware"):
        local.validate(der, at=dt.datetime(2030, 1, 1))


def test_crl_ages_report_each_anchors_crl(validator: LocalValidator, hierarchy: TestHierarchy) -> None:
    ages = validator.crl_ages()
    assert [age.issuer for age in ages] == [f"auth-{g}.pem" for g in GENERATIONS]
    assert [age.source for age in ages] == [str(hierarchy.crl_path(g)) for g in GENERATIONS]
    assert all(age.fresh and age.next_update is not None and age.age >= dt.timedelta(0) for age in ages)
    later = validator.crl_ages(now() + 8 * DAY)
    assert not any(age.fresh for age in later) and later[0].age > 8 * DAY


def test_files_that_cannot_be_read_are_named(hierarchy: TestHierarchy, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ValueError, match=r"missing\.pem"):
        LocalValidator.from_files([missing], [])
    garbage = tmp_path / "garbage.crl"
    garbage.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"garbage\.crl"):
        LocalValidator.from_files(hierarchy.trust_anchor_paths(), [garbage])
    # DER anchors and PEM CRLs load as well as the other way round.
    der_anchor = tmp_path / "auth-2023.der"
    der_anchor.write_bytes(root(hierarchy, "2023").public_bytes(serialization.Encoding.DER))
    pem_crl = tmp_path / "auth-2023.pem.crl"
    crl = x509.load_der_x509_crl(hierarchy.crl_path("2023").read_bytes())
    pem_crl.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    local = LocalValidator.from_files([der_anchor], [pem_crl])
    assert local.validate(cert_der(hierarchy, "linked")).anchor == "auth-2023.der"
    with pytest.raises(ValueError, match="trust anchor leaf"):
        LocalValidator([("leaf", hierarchy.holder("linked").auth_certificate)], [])


# -- the card's signature -------------------------------------------------------------------------


def card_signature(hierarchy: TestHierarchy, holder: str, message: bytes) -> tuple[bytes, bytes]:
    """The certificate read from a simulated card and the card's own signature over ``message``."""
    card = SimulatedCard(CardProfile.from_holder(hierarchy, holder))
    session = JpkiSession(card)
    session.verify_pin(card.profile.pin)
    der = session.auth_certificate().public_bytes(serialization.Encoding.DER)
    return der, session.sign_sha256(message)


def test_a_real_card_signature_verifies_and_a_wrong_one_does_not(validator: LocalValidator,
                                                                 hierarchy: TestHierarchy) -> None:
    challenge = offline_challenge(7, int(now().timestamp()), secrets.token_bytes(16))
    message = signed_message(challenge, KIOSK_ID, LINKED_ACCOUNT)
    der, signature = card_signature(hierarchy, "linked", message)
    validator.check_signature(der, message, signature)
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert refusal(lambda: validator.check_signature(der, message, tampered)) == "bad_signature"
    other_account = signed_message(challenge, KIOSK_ID, "2024000005")
    assert refusal(lambda: validator.check_signature(der, other_account, signature)) == "bad_signature"
    other_card = cert_der(hierarchy, "unlinked")
    assert refusal(lambda: validator.check_signature(other_card, message, signature)) == "bad_signature"
    assert refusal(lambda: validator.check_signature(der, message, b"")) == "bad_signature"


@pytest.mark.parametrize("make_key", [
    lambda: ec.generate_private_key(ec.SECP256R1()),
    lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
], ids=["ec", "rsa-1024"])
def test_keys_other_than_rsa_2048_are_unsupported(make_key: Callable[[], Any]) -> None:
    key = make_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "K" * 20)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now() - DAY).not_valid_after(now() + DAY)
            .sign(key, hashes.SHA256()))
    signature = (key.sign(b"m", ec.ECDSA(hashes.SHA256())) if isinstance(key, ec.EllipticCurvePrivateKey)
                 else key.sign(b"m", padding.PKCS1v15(), hashes.SHA256()))
    local = LocalValidator([("root", ca("Any Root", now() - DAY, now() + DAY)[0])], [])
    der = cert.public_bytes(serialization.Encoding.DER)
    assert refusal(lambda: local.check_signature(der, b"m", signature)) == "unsupported_key"


# -- evidence --------------------------------------------------------------------------------------


def test_the_challenge_layout_is_the_servers() -> None:
    good = [(1, 1_760_000_000, bytes(16)), (2**63 - 1, 2**40 - 1, secrets.token_bytes(16))]
    for counter, issued, random16 in good:
        ours = offline_challenge(counter, issued, random16)
        assert ours == server_offline.offline_challenge(counter, issued, random16)
        assert len(ours) == 32 and ours[16:] == random16
    counter_words = "^the offline counter must be an integer from 1 to 9223372036854775807$"
    bad = [(0, 1, bytes(16), counter_words),
           (1, 0, bytes(16), r"^issued_at must be Unix seconds \(a positive integer\)$"),
           (1, 1, bytes(15), "^16 random bytes are needed$"), (2**63, 1, bytes(16), counter_words)]
    for counter, issued, random16, words in bad:
        with pytest.raises(ValueError, match=words):
            offline_challenge(counter, issued, random16)


def test_vouchers_are_typable_and_hashed_as_the_server_redeems_them() -> None:
    vouchers = {new_voucher() for _ in range(200)}
    assert len(vouchers) == 200
    for voucher in vouchers:
        assert re.fullmatch(r"([A-HJ-NP-Z2-9]{4}-){3}[A-HJ-NP-Z2-9]{4}", voucher)
        assert voucher_hash(voucher) == code_hash(voucher.strip().upper())
        assert voucher_hash(f"  {voucher.lower()}\n") == voucher_hash(voucher)
    with pytest.raises(ValueError, match=r"^a voucher is 8 to 64 letters, digits and hyphens$"):
        voucher_hash("short")


def evidence(hierarchy: TestHierarchy, **changes: Any) -> Evidence:
    issued = int(now().timestamp())
    challenge = offline_challenge(3, issued, secrets.token_bytes(16))
    fields: dict[str, Any] = {
        "kiosk_id": KIOSK_ID, "counter": 3, "issued_at": issued, "challenge": challenge,
        "account_id": LINKED_ACCOUNT, "operation": "password_reset", "params": {},
        "certificate": cert_der(hierarchy, "linked"), "signature": b"\x01" * 256, "staff_id": "sato.k",
        "staff_approved_at": issued + 30, "voucher_hash": voucher_hash(new_voucher()),
    }
    fields.update(changes)
    return Evidence(**fields)


NOT_CARRIED = "the challenge does not carry the counter and issued_at"
SALVAGE_MODES = "salvage needs params {'mode': one of backup, forwarding}"
STAFF_ID = "the staff ID must be 1 to 64 characters"


@pytest.mark.parametrize(("changes", "words"), [
    ({"counter": 0}, "the offline counter must be an integer from 1 to 9223372036854775807"),
    ({"counter": 4}, NOT_CARRIED), ({"issued_at": 0}, "issued_at must be Unix seconds (a positive integer)"),
    ({"challenge": b"\x00" * 32}, NOT_CARRIED),
    ({"operation": "unlink"}, "'unlink' cannot be authorised offline"),
    ({"operation": "salvage"}, SALVAGE_MODES),
    ({"operation": "salvage", "params": {"mode": "all"}}, SALVAGE_MODES),
    ({"params": {"mode": "backup"}}, "password_reset takes no params"), ({"staff_id": ""}, STAFF_ID),
    ({"staff_id": "s" * 65}, STAFF_ID),
    ({"voucher_hash": "A" * 64}, "the voucher hash must be 64 lower-case hex digits (see voucher_hash)"),
    ({"kiosk_id": ""}, "the kiosk ID is missing"),
    ({"signature": b""}, "the certificate and the card's signature are needed"),
], ids=repr)
def test_evidence_the_server_would_refuse_cannot_be_made(hierarchy: TestHierarchy, changes: dict[str, Any],
                                                         words: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(words)}$"):
        evidence(hierarchy, **changes)


def test_the_payload_is_the_servers_format(hierarchy: TestHierarchy) -> None:
    item = evidence(hierarchy, operation="salvage", params={"mode": "forwarding"})
    payload = item.payload()
    assert payload["v"] == 1
    assert payload["staff"] == {"staff_id": "sato.k", "approved_at": item.staff_approved_at}
    assert payload["params"] == {"mode": "forwarding"} and payload["operation"] in OFFLINE_OPERATIONS
    for name in ("challenge", "certificate", "signature"):
        assert "=" not in payload[name]
        assert server_offline.unb64url(payload[name]) == getattr(item, name)
    assert set(payload) == {"v", "kiosk_id", "counter", "issued_at", "challenge", "account_id", "operation",
                            "params", "certificate", "signature", "staff", "voucher_hash"}


@pytest.mark.parametrize(("device", "algorithm"), [
    (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
], ids=["ec", "rsa"])
def test_sealing_signs_with_the_device_key_and_encrypts_to_the_server(
        hierarchy: TestHierarchy, device: Callable[[], Any], algorithm: str) -> None:
    key = device()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    server = ECKey.generate_key("P-256")
    public = server.as_dict(private=False)
    item = evidence(hierarchy)
    sealed = seal(item, pem, public)
    opened = jwe.decrypt_compact(sealed, server, algorithms=["ECDH-ES+A256KW", "A256GCM"])
    assert opened.protected["alg"] == "ECDH-ES+A256KW" and opened.protected["enc"] == "A256GCM"
    assert opened.plaintext is not None
    verify_key = ECKey.import_key(pem) if algorithm == "ES256" else RSAKey.import_key(pem)
    signed = jws.deserialize_compact(opened.plaintext, verify_key, algorithms=[algorithm])
    assert signed.protected["alg"] == algorithm
    assert json.loads(signed.payload) == item.payload()


@pytest.mark.parametrize("make_jwk", [
    lambda: RSAKey.generate_key(2048).as_dict(private=False),
    lambda: ECKey.generate_key("P-384").as_dict(private=False),
    lambda: ECKey.generate_key("P-256").as_dict(private=True),
    lambda: {**ECKey.generate_key("P-256").as_dict(private=False), "use": "sig"},
    lambda: {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
], ids=["rsa", "p-384", "private", "signing", "broken"])
def test_sealing_refuses_a_server_key_that_is_not_ec_p256_public(
        hierarchy: TestHierarchy, make_jwk: Callable[[], dict[str, object]]) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError, match="sealing key"):
        seal(evidence(hierarchy), pem, make_jwk())


# -- end to end with the reference server --------------------------------------------------------


def test_evidence_sealed_offline_is_accepted_by_the_server_and_the_voucher_works(
        hierarchy: TestHierarchy, tmp_path: Path) -> None:
    with live_server(tmp_path / "s", hierarchy) as live:
        client = live.minted()
        sealing_key = client.get(live.url("/v1/server-info")).json()["sealing_key"]
        kiosk_id = live.setup.kiosk_id
        device_key = live.setup.kiosk_key_path.read_bytes()
        validator = LocalValidator.from_files(hierarchy.trust_anchor_paths(),
                                              [hierarchy.crl_path(g) for g in GENERATIONS], clock=live.clock)

        def in_person(counter: int, voucher: str) -> Evidence:
            """What the kiosk does at the counter with the network down."""
            issued = int(live.clock().timestamp())
            challenge = offline_challenge(counter, issued, secrets.token_bytes(16))
            message = signed_message(challenge, kiosk_id, LINKED_ACCOUNT)
            der, signature = card_signature(hierarchy, "linked", message)
            identity = validator.validate(der, at=dt.datetime.fromtimestamp(issued, dt.UTC))
            assert identity.anchor == "auth-2023.pem"
            validator.check_signature(der, message, signature)
            return Evidence(kiosk_id=kiosk_id, counter=counter, issued_at=issued, challenge=challenge,
                            account_id=LINKED_ACCOUNT, operation="password_reset", params={},
                            certificate=der, signature=signature, staff_id="sato.k",
                            staff_approved_at=issued + 20, voucher_hash=voucher_hash(voucher))

        voucher = new_voucher()
        good = seal(in_person(1, voucher), device_key, sealing_key)
        stranger = ECKey.generate_key("P-256").as_dict(private=False)
        elsewhere = seal(in_person(2, new_voucher()), device_key, stranger)
        answer = client.post(live.url("/v1/offline/evidence"), json={"bundles": [
            {"idempotency_key": uuid.uuid4().hex, "sealed": good},
            {"idempotency_key": uuid.uuid4().hex, "sealed": elsewhere},
        ]})
        assert answer.status_code == 200, answer.text
        accepted, unreadable = answer.json()["results"]
        assert (accepted["fate"], accepted["error_code"]) == ("accepted", None)
        assert (unreadable["fate"], unreadable["error_code"]) == ("refused", "evidence_unreadable")

        # The user finishes from their own device; the page may get the code in lower case.
        done = httpx2.post(live.url("/v1/vouchers/redeem"), json={
            "voucher": voucher.lower(), "account_id": LINKED_ACCOUNT, "new_password": "Sakura-2026-spring"})
        assert done.status_code == 200, done.text
        assert done.json() == {"kind": "password_reset", "result": {"password_set": True}}
        again = httpx2.post(live.url("/v1/vouchers/redeem"), json={
            "voucher": voucher, "account_id": LINKED_ACCOUNT, "new_password": "Sakura-2026-summer"})
        assert again.status_code == 403 and again.json()["error"] == "voucher_invalid"
        assert hashlib.sha256(voucher.encode()).hexdigest() == voucher_hash(voucher)
