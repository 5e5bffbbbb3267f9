"""One user's card verification: prepared while they type the PIN, finished by VERIFY, SIGN and one request.

When the card is placed, ``prepare`` reads the authentication certificate and the PIN's tries
left on the card's thread while a worker fetches the server's challenge, so that after the PIN
only VERIFY, SIGN and the verification request remain. Each is read once per card session: a
wrong PIN's answer says the tries left, and the card-info AP is read only for pre-link.

When the server cannot be reached (before or during the verification) the session proves the
card locally instead: the chain and CRL checked against the kiosk's cached trust material, the
card made to sign a kiosk challenge that carries the kiosk's counter and the time, and that
signature checked on the spot.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.clock import utc_now
from kiosk.linkage import Challenge, LinkageClient, ServerUnreachable, signed_message
from kiosk.nfc import ApduChannel, CardConnection, JpkiSession
from kiosk.nfc.cardinfo import CardInfoSession
from kiosk.nfc.errors import CardCode, InvalidPinError, NoCardInfoError
from kiosk.offline import LocalValidator, OfflineRefused
from kiosk.services.errors import ServiceCode, VerificationError

logger = logging.getLogger(__name__)

#: A challenge this close to its expiry is replaced before the card signs it.
CHALLENGE_MARGIN = dt.timedelta(seconds=10)
#: A certificate is refused as not valid yet before the PIN only when its validity begins this far
#: past the kiosk's clock, so that a kiosk whose clock is a little behind never refuses a card the
#: server would take; within the margin the server's own check decides.
NOT_BEFORE_MARGIN = dt.timedelta(minutes=5)
#: What each refusal before the PIN means, for ``kiosk flow``; the window has its own words.
REFUSALS = {
    CardCode.PIN_BLOCKED: "the PIN is blocked",
    "expired": "the card's certificate has expired",
    "not_yet_valid": "the card's certificate is not valid yet",
}


def wipe(buffer: bytearray) -> None:
    """Overwrite a PIN buffer in place."""
    for i in range(len(buffer)):
        buffer[i] = 0


def mask_account(account_id: str) -> str:
    """The account as staff and screens show it once verified: first two and last two characters."""
    if len(account_id) <= 4:
        return "*" * len(account_id)
    return account_id[:2] + "*" * (len(account_id) - 4) + account_id[-2:]


@dataclass(frozen=True)
class CardReady:
    """What is known once the card is on the reader, before the PIN."""

    serial: int
    not_after: dt.datetime
    expired: bool
    tries_left: int
    #: False when the server could not be reached: the verification will be an offline one.
    online: bool
    #: Why the kiosk went offline (an error code), if it did.
    offline_reason: str | None = None
    #: The certificate's validity begins later than the kiosk's clock (beyond ``NOT_BEFORE_MARGIN``).
    not_yet_valid: bool = False

    def refusal(self) -> str | None:
        """The error code this card is refused with before the PIN is asked for, if any."""
        if self.tries_left == 0:
            return CardCode.PIN_BLOCKED
        if self.expired:
            return "expired"
        if self.not_yet_valid:
            return "not_yet_valid"
        return None


@dataclass(frozen=True)
class OfflineProof:
    """What the card proved with no server: the kiosk's challenge and the card's signature over it."""

    counter: int
    issued_at: int
    challenge: bytes
    certificate: bytes
    signature: bytes


@dataclass(frozen=True)
class VerificationResult:
    """The answer for the counter: frozen, with no secret in it."""

    account_id: str
    masked_account: str
    #: True / False online; None offline (the server decides once the evidence reaches it).
    match: bool | None
    name_on_record: str | None
    certificate_not_after: dt.datetime
    online: bool
    verification_id: str | None = None
    offline: OfflineProof | None = None
    #: The name read from the card-info AP, when it was read in the same step (pre-link).
    name_on_card: str | None = None


class VerificationSession:
    """One verification for one claimed account on one placed card."""

    def __init__(
        self, card: CardConnection, account_id: str, kiosk_id: str, *,
        linkage: LinkageClient | None, validator: LocalValidator | None,
        next_counter: Callable[[], int], clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.account_id = account_id
        self.kiosk_id = kiosk_id
        self._linkage = linkage
        self._validator = validator
        self._next_counter = next_counter
        self._clock = clock
        # One channel for both applications, so each knows when the other moved the card away.
        self._channel = ApduChannel(card)
        self._session: JpkiSession | None = None
        self._info: CardInfoSession | None = None
        self._cert_der = b""
        self._cert: x509.Certificate | None = None
        self._challenge: Challenge | None = None
        self._ready: CardReady | None = None

    # -- before the PIN -------------------------------------------------------------------------

    def prepare(self, *, card_info: bool = False) -> CardReady:
        """Read the card and fetch the challenge at the same time; say whether the kiosk is online.

        What is read here (the certificate, the PIN's tries left) is read once for the whole
        session and handed on. With ``card_info`` (pre-link) the card-info AP's tries left are read
        too, first, so that the JPKI AP stays selected for the VERIFY; a card without that AP is
        refused here (``NoCardInfoError``), before the PIN.
        """
        challenge: Future[Challenge] | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="challenge") as pool:
            if self._linkage is not None:
                challenge = pool.submit(self._linkage.challenge)
            missing = self._read_card_info() if card_info else None
            session = JpkiSession(self._channel)  # a card with neither AP is an unknown card
            if missing is not None:
                raise missing
            cert = session.auth_certificate()
            tries = session.pin_tries_left()
            offline_reason: str | None = None if challenge else ServiceCode.SERVER_NOT_CONFIGURED
            if challenge is not None:
                try:
                    self._challenge = challenge.result()
                except ServerUnreachable as exc:
                    offline_reason = exc.code
        self._session, self._cert = session, cert
        self._cert_der = cert.public_bytes(Encoding.DER)
        now = self._clock()
        if offline_reason is not None:
            self._go_offline(offline_reason)
        self._ready = CardReady(
            serial=cert.serial_number, not_after=cert.not_valid_after_utc,
            expired=cert.not_valid_after_utc < now, tries_left=tries, online=self._challenge is not None,
            offline_reason=offline_reason,
            not_yet_valid=cert.not_valid_before_utc > now + NOT_BEFORE_MARGIN,
        )
        return self._ready

    def _read_card_info(self) -> NoCardInfoError | None:
        """Select the card-info AP and learn its tries left; what went missing, if it is absent."""
        try:
            self._info = CardInfoSession(self._channel)
        except NoCardInfoError as exc:
            return exc
        self._info.pin_tries_left()
        return None

    def _go_offline(self, reason: str) -> None:
        """Switch to local proof; refuse at once if the card could never pass it."""
        logger.info("verifying offline: %s", reason)
        self._challenge = None
        if self._validator is None:
            raise VerificationError(ServiceCode.OFFLINE_UNAVAILABLE,
                                    "the server cannot be reached and offline verification is not set up")
        try:
            self._validator.validate(self._cert_der, self._clock())
        except OfflineRefused as exc:
            raise VerificationError(exc.code, exc.message) from None

    # -- after the PIN ----------------------------------------------------------------------------

    def submit(self, pin: bytearray, *, confirm_last_try: bool = False,
               same_pin_for_name: bool = False) -> VerificationResult:
        """VERIFY with the PIN (its buffer is wiped here, whatever happens), SIGN, then the server's answer.

        With ``same_pin_for_name`` (the user said both PINs are the same) the name is read from
        the card-info AP with the same digits, but only if that AP's counter is full: a wrong
        guess there must never cost the user a try they did not choose to spend.
        """
        if self._session is None or self._ready is None:
            wipe(pin)
            raise RuntimeError("prepare() first")
        name: str | None = None
        try:
            self._session.verify_pin(pin, confirm_last_try=confirm_last_try)
            if self._challenge is not None and self._challenge.expires_at <= self._clock() + CHALLENGE_MARGIN:
                self._refresh_challenge()  # the user took longer over the PIN than the challenge lives
            if self._challenge is None:
                return self._offline_result()
            # Sign before touching the card-info AP: selecting it ends the JPKI AP's verified state.
            nonce = self._challenge.nonce
            signature = self._session.sign_sha256(signed_message(nonce, self.kiosk_id, self.account_id))
            if same_pin_for_name:
                name = self._name_with_same_pin(pin)
        finally:
            wipe(pin)
        try:
            assert self._linkage is not None
            answer = self._linkage.verify(self.account_id, nonce, self._cert_der, signature)
        except ServerUnreachable as exc:
            if same_pin_for_name:
                raise  # pre-link needs the server; no offline proof stands in for it
            # The server went away mid-verification: the JPKI AP is still verified, so the card
            # signs the kiosk's own challenge without asking the user for the PIN again.
            self._go_offline(exc.code)
            return self._offline_result()
        return VerificationResult(
            account_id=self.account_id, masked_account=mask_account(self.account_id),
            match=answer.match, name_on_record=answer.name_on_record,
            certificate_not_after=answer.certificate_not_after, online=True,
            verification_id=answer.verification_id, name_on_card=name,
        )

    def _refresh_challenge(self) -> None:
        assert self._linkage is not None
        try:
            self._challenge = self._linkage.challenge()
        except ServerUnreachable as exc:
            self._go_offline(exc.code)

    def _card_info(self) -> CardInfoSession:
        """The card-info AP's session: the one ``prepare`` opened, or a new one on the same channel."""
        if self._info is None:
            self._info = CardInfoSession(self._channel)
        return self._info

    def _name_with_same_pin(self, pin: bytearray) -> str | None:
        info = self._card_info()
        if info.pin_tries_left(known=True) != CardInfoSession.PIN_MAX_TRIES:
            return None
        try:
            info.verify_pin(pin)
        except InvalidPinError:
            return None  # not the same after all; the screen asks for the card-info PIN
        return info.read_name().full

    def _offline_result(self) -> VerificationResult:
        assert self._session is not None and self._validator is not None and self._cert is not None
        counter = self._next_counter()
        issued_at = int(self._clock().timestamp())
        from kiosk.offline.evidence import offline_challenge  # an offline session's first need of it

        challenge = offline_challenge(counter, issued_at, secrets.token_bytes(16))
        message = signed_message(challenge, self.kiosk_id, self.account_id)
        signature = self._session.sign_sha256(message)
        try:
            self._validator.check_signature(self._cert_der, message, signature)
        except OfflineRefused as exc:
            raise VerificationError(exc.code, exc.message) from None
        return VerificationResult(
            account_id=self.account_id, masked_account=mask_account(self.account_id), match=None,
            name_on_record=None, certificate_not_after=self._cert.not_valid_after_utc, online=False,
            offline=OfflineProof(counter, issued_at, challenge, self._cert_der, signature),
        )

    # -- the card-info AP (pre-link) -----------------------------------------------------------------

    def cardinfo_tries_left(self) -> int:
        """The card-info PIN's tries left as last learned (read by ``prepare``, or a VERIFY's answer)."""
        return self._card_info().pin_tries_left(known=True)

    def read_name(self, pin: bytearray, *, confirm_last_try: bool = False) -> str:
        """The holder's name from the card-info AP (its own 4-digit PIN); the buffer is wiped here."""
        session = self._card_info()
        try:
            session.verify_pin(pin, confirm_last_try=confirm_last_try)
        finally:
            wipe(pin)
        return session.read_name().full
