"""JpkiSession over the in-process simulated card, asserting the exact APDUs sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from kiosk.nfc import JpkiSession
from kiosk.nfc.errors import (
    CardProtocolError,
    InvalidPinError,
    InvalidPinFormatError,
    LastTryNotConfirmedError,
    PinBlockedError,
    SecurityStatusError,
    UnknownCardError,
    UnsupportedKeyError,
)
from kiosk.nfc.jpki import JPKI_AID, CardKind, TokenInfo, sha256_digest_info
from kiosk.nfc.sim import SimulatedCard, TestHierarchy
from kiosk.nfc.sim.card import BinaryEF

SELECT_JPKI = "00A4040C0AD392F000260100000001"
SELECT_TOKEN = "00A4020C020006"
SELECT_CERT = "00A4020C02000A"
SELECT_PIN = "00A4020C020018"
SELECT_KEY = "00A4020C020017"
EMPTY_VERIFY = "00200080"


def sent(card: SimulatedCard) -> list[str]:
    return [c.hex().upper() for c in card.commands]


def jpki_files(card: SimulatedCard) -> dict[int, Any]:
    """The simulated card's JPKI files, to put bad content in."""
    return card._apps[JPKI_AID].files


def test_select_and_token_info(card: SimulatedCard) -> None:
    session = JpkiSession(card)
    info = session.token_info()
    assert info.label == "JPKIAPICCTOKEN2"
    assert info.kind is CardKind.MY_NUMBER_CARD
    assert sent(card) == [SELECT_JPKI, SELECT_TOKEN, "00B0000020"]


def test_certificate_in_one_extended_read(card: SimulatedCard, hierarchy: TestHierarchy) -> None:
    session = JpkiSession(card)
    cert = session.auth_certificate()
    expected = hierarchy.holder("linked").auth_certificate
    assert cert == expected
    length = len(cert.public_bytes(Encoding.DER))
    rest = length - 256
    assert sent(card) == [SELECT_JPKI, SELECT_CERT, "00B0000000", f"00B0010000{rest:04X}"]
    assert session.channel.extended_supported is True
    # The certificate is read once per session.
    session.auth_certificate()
    assert len(card.commands) == 4


def test_certificate_in_chunks_without_extended_apdus(
    make_card: Callable[..., SimulatedCard], hierarchy: TestHierarchy
) -> None:
    card = make_card(extended=False)
    session = JpkiSession(card)
    cert = session.auth_certificate()
    assert cert == hierarchy.holder("linked").auth_certificate
    length = len(cert.public_bytes(Encoding.DER))
    commands = sent(card)
    # One refused extended attempt, then 256-byte chunks to the end of the certificate.
    assert commands[:4] == [SELECT_JPKI, SELECT_CERT, "00B0000000", f"00B0010000{length - 256:04X}"]
    chunk_reads = commands[4:]
    assert chunk_reads[0] == "00B0010000"
    assert len(chunk_reads) == -(-(length - 256) // 256)
    last_offset = 256 * len(chunk_reads)
    assert chunk_reads[-1] == f"00B0{last_offset:04X}{length - last_offset:02X}"
    assert session.channel.extended_supported is False
    # The next read goes straight to chunks.
    card.commands.clear()
    session.auth_ca_certificate()
    assert all(len(c) == 5 for c in card.commands[1:])


def test_ca_certificate_is_the_issuer(card: SimulatedCard, hierarchy: TestHierarchy) -> None:
    session = JpkiSession(card)
    ca = session.auth_ca_certificate()
    cert = session.auth_certificate()
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)


def test_tries_left_spends_nothing(card: SimulatedCard) -> None:
    session = JpkiSession(card)
    assert session.pin_tries_left() == 3
    assert session.pin_tries_left() == 3
    assert card.pin_state().tries == 3
    assert sent(card) == [SELECT_JPKI, SELECT_PIN, EMPTY_VERIFY, EMPTY_VERIFY]


def test_verify_right_pin_then_sign(card: SimulatedCard) -> None:
    session = JpkiSession(card)
    cert = session.auth_certificate()
    session.pin_tries_left()
    card.commands.clear()
    session.verify_pin("1234")
    signature = session.sign_sha256(b"challenge")
    digest_info = sha256_digest_info(b"challenge").hex().upper()
    # The PIN EF is still selected from the counter query: VERIFY, SELECT key, SIGN is all.
    assert sent(card) == ["0020008004" + "31323334", SELECT_KEY,
                          "802A008033" + digest_info + "00"]
    cert.public_key().verify(signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())


def test_wrong_pin_counts_down_then_blocks(make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card()
    session = JpkiSession(card)
    with pytest.raises(InvalidPinError) as first:
        session.verify_pin("0000")
    assert first.value.tries_left == 2
    with pytest.raises(InvalidPinError) as second:
        session.verify_pin("0000")
    assert second.value.tries_left == 1
    # The last try is never spent without an explicit confirmation.
    before = len(card.commands)
    with pytest.raises(LastTryNotConfirmedError, match=r"^one try left: confirm before spending it$"):
        session.verify_pin("0000")
    assert len(card.commands) == before and card.pin_state().tries == 1
    with pytest.raises(PinBlockedError, match=r"^the PIN is now blocked$"):  # by this try
        session.verify_pin("0000", confirm_last_try=True)
    assert card.pin_state().tries == 0
    assert session.pin_tries_left() == 0
    before = len(card.commands)
    with pytest.raises(PinBlockedError, match=r"^the PIN is blocked$"):  # known before sending
        session.verify_pin("1234", confirm_last_try=True)
    assert len(card.commands) == before  # nothing sent to a blocked PIN


def test_right_pin_resets_the_counter(card: SimulatedCard) -> None:
    session = JpkiSession(card)
    with pytest.raises(InvalidPinError, match=r"^wrong PIN, 2 tries left$"):
        session.verify_pin("9999")
    session.verify_pin("1234")
    assert card.pin_state().tries == 3
    # The session knows the counter is full again: the next VERIFY asks nothing first.
    card.commands.clear()
    session.verify_pin("1234")
    assert sent(card) == ["0020008004" + "31323334"]
    assert session.pin_tries_left() == 3


def test_last_try_confirmed_with_the_right_pin(make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card("last-try")
    session = JpkiSession(card)
    assert session.pin_tries_left() == 1
    with pytest.raises(LastTryNotConfirmedError, match=r"^one try left: confirm before spending it$"):
        session.verify_pin("1234")
    session.verify_pin("1234", confirm_last_try=True)
    assert card.pin_state().tries == 3


def test_blocked_card_reports_zero(make_card: Callable[..., SimulatedCard]) -> None:
    card = make_card("blocked")
    session = JpkiSession(card)
    assert session.pin_tries_left() == 0
    with pytest.raises(PinBlockedError, match=r"^the PIN is blocked$"):
        session.verify_pin("1234", confirm_last_try=True)


@pytest.mark.parametrize("pin", ["123", "12345", "12a4", "", "１２３４", "12 4", b"12\x003"])
def test_malformed_pin_sends_nothing(card: SimulatedCard, pin: str | bytes) -> None:
    session = JpkiSession(card)
    before = len(card.commands)
    with pytest.raises(InvalidPinFormatError, match=r"^the PIN must be 4 digits$"):
        session.verify_pin(pin)
    assert len(card.commands) == before
    assert card.pin_state().tries == 3


def test_session_keeps_no_copy_of_the_pin(card: SimulatedCard) -> None:
    session = JpkiSession(card)
    session.verify_pin(bytearray(b"1234"))
    import gc

    held = [session, session.channel, *vars(session).values(), *vars(session.channel).values()]
    for obj in held:
        assert b"1234" not in repr(obj).encode() and "1234" not in repr(obj)
    referrers = [r for r in gc.get_referrers(session) if isinstance(r, bytearray | bytes)]
    assert referrers == []


def test_sign_before_verify_is_refused(card: SimulatedCard) -> None:
    session = JpkiSession(card)
    with pytest.raises(SecurityStatusError, match=r"^signing before the PIN was verified: status 69 82$"):
        session.sign_sha256(b"x")


def test_reselecting_drops_verification(card: SimulatedCard) -> None:
    session = JpkiSession(card)
    session.verify_pin("1234")
    session.select()
    with pytest.raises(SecurityStatusError, match=r"^signing before the PIN was verified: status 69 82$"):
        session.sign_sha256(b"x")


def test_signature_files_are_never_selected(card: SimulatedCard) -> None:
    session = JpkiSession(card)
    for fid in (0x0001, 0x001A, 0x001B):
        with pytest.raises(PermissionError, match=f"^EF {fid:04X} is never selected by this kiosk$"):
            session._select_ef(fid)
    assert not any(fid in (0x0001, 0x001A, 0x001B) for app, fid in card.selections if app == "jpki")


def test_a_card_without_jpki_is_unknown(card: SimulatedCard) -> None:
    card._apps.pop(bytes.fromhex("D392F000260100000001"))
    with pytest.raises(UnknownCardError, match=r"^the card has no JPKI application$"):
        JpkiSession(card)


def test_sign_needs_no_certificate_read_first(card: SimulatedCard, hierarchy: TestHierarchy) -> None:
    """Before the certificate is read, the key is taken as RSA-2048: 256 bytes, a short SIGN."""
    session = JpkiSession(card)
    session.verify_pin("1234")
    card.commands.clear()
    signature = session.sign(sha256_digest_info(b"challenge"))
    assert sent(card)[-1].endswith("00") and len(card.commands[-1]) == 5 + 0x33 + 1
    key = hierarchy.holder("linked").auth_certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("length", [1, 245])
def test_sign_takes_1_to_245_bytes_for_rsa_2048(card: SimulatedCard, length: int) -> None:
    session = JpkiSession(card)
    session.auth_certificate()
    session.verify_pin("1234")
    assert len(session.sign(b"\x5a" * length)) == 256


@pytest.mark.parametrize("length", [0, 246])
def test_sign_refuses_other_lengths_before_sending(card: SimulatedCard, length: int) -> None:
    session = JpkiSession(card)
    session.auth_certificate()
    session.verify_pin("1234")
    before = len(card.commands)
    with pytest.raises(ValueError, match=r"^data to sign must be 1 to 245 bytes$"):
        session.sign(b"\x5a" * length)
    assert len(card.commands) == before


def test_a_certificate_with_no_rsa_key_is_refused_before_signing(card: SimulatedCard) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec holder")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    jpki_files(card)[0x000A] = BinaryEF(cert.public_bytes(Encoding.DER))
    session = JpkiSession(card)
    session.verify_pin("1234")
    words = r"^no signing scheme for a \w*(EC|EllipticCurve)PublicKey$"
    with pytest.raises(UnsupportedKeyError, match=words):
        session.sign_sha256(b"x")
    with pytest.raises(UnsupportedKeyError, match=words):  # the raw SIGN needs the key's size too
        session.sign(sha256_digest_info(b"x"))


@pytest.mark.parametrize(("content", "label", "kind"), [
    (b"JPKIAPICCTOKEN2\x00" + b"\xff" * 16, "JPKIAPICCTOKEN2", CardKind.MY_NUMBER_CARD),
    (b"JPKIAPICCTOKEN " + b" " * 17, "JPKIAPICCTOKEN", CardKind.RESIDENT_REGISTRY_CARD),
    (b"JPKIAPICCTOKENX" + b" " * 17, "JPKIAPICCTOKENX", CardKind.UNKNOWN),
    (b"OTHER" + b"\x00" * 27, "OTHER", CardKind.UNKNOWN),
])
def test_token_labels_and_their_padding(
    card: SimulatedCard, content: bytes, label: str, kind: CardKind
) -> None:
    jpki_files(card)[0x0006] = BinaryEF(content)
    assert JpkiSession(card).token_info() == TokenInfo(label, kind)


@pytest.mark.parametrize(("content", "words"), [
    (b"JPKI\x80" + b" " * 27, "token info is not ASCII"),
    (b"JPKIAPICCTOKEN2", "token info of 15 bytes"),
])
def test_a_bad_token_info_is_refused(card: SimulatedCard, content: bytes, words: str) -> None:
    jpki_files(card)[0x0006] = BinaryEF(content)
    with pytest.raises(CardProtocolError, match=f"^{words}$"):
        JpkiSession(card).token_info()


@pytest.mark.parametrize(("fid", "what"), [
    (0x000A, "authentication certificate"), (0x000B, "CA certificate"),
])
def test_a_certificate_that_does_not_parse_is_named(card: SimulatedCard, fid: int, what: str) -> None:
    jpki_files(card)[fid] = BinaryEF(b"\x30\x03\x02\x01\x01")
    session = JpkiSession(card)
    read = session.auth_certificate if fid == 0x000A else session.auth_ca_certificate
    with pytest.raises(CardProtocolError, match=f"^the {what} is not a valid certificate$"):
        read()
