"""What the outbox's tests share: the kiosk's device key and the server's sealing key, a stand-in
for the linkage client's evidence upload, offline verification results, and readers of the store.

The store is the real one on a temporary SQLite file; only the server's side of the upload is
played here, since the tests over the reference server already cover the real one.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwe, jws
from joserfc.jwk import ECKey
from sqlalchemy import select

from kiosk.linkage import EvidenceFate, ServerInfo
from kiosk.offline import offline_challenge
from kiosk.services.outbox import SyncWorker
from kiosk.services.verification import OfflineProof, VerificationResult
from kiosk.store import KioskStore
from kiosk.store.models import AuditRecord
from tests.helpers.store import Clock as StoreClock

if TYPE_CHECKING:
    from kiosk.linkage import LinkageClient

KIOSK_ID = "kiosk-0042"
ACCOUNT = "2024000777"
MASKED = "20******77"
#: The moment the verification was made (Unix seconds) and the card's certificate, as bytes.
ISSUED_AT = 1_900_000_000
CERTIFICATE = b"\x30\x82certificate-der"
SIGNATURE = b"card-signature" * 16


@pytest.fixture
def clock() -> StoreClock:
    """The store's clock, moved by hand."""
    return StoreClock()


@pytest.fixture
def store(tmp_path: Path, clock: StoreClock) -> Iterator[KioskStore]:
    """The kiosk's real store on a new SQLite file, on the clock above."""
    with KioskStore(tmp_path / "kiosk.db", clock=clock) as opened:
        yield opened


def _device_key() -> tuple[bytes, ECKey]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem, ECKey.import_key(private.public_key())


#: The kiosk's device key (PEM) and its public half, which checks the inner signature.
DEVICE_KEY_PEM, DEVICE_PUBLIC = _device_key()
#: The server's sealing key pair: the private half opens what the kiosk sealed.
SEALING_PRIVATE = ECKey.generate_key("P-256")
SEALING_JWK: dict[str, object] = {**SEALING_PRIVATE.as_dict(private=False), "use": "enc", "kid": "seal-1"}


def open_sealed(sealed: str) -> dict[str, Any]:
    """What the server reads from a sealed bundle: decrypted, the device signature checked."""
    inner = jwe.decrypt_compact(sealed, SEALING_PRIVATE)
    assert inner.plaintext is not None
    signed = jws.deserialize_compact(inner.plaintext, DEVICE_PUBLIC, algorithms=["ES256"])
    payload: dict[str, Any] = json.loads(signed.payload)
    return payload


def offline_result(counter: int, account: str = ACCOUNT, masked: str = MASKED) -> VerificationResult:
    """An offline verification as the verification service hands it over: a card-signed challenge."""
    challenge = offline_challenge(counter, ISSUED_AT, secrets.token_bytes(16))
    proof = OfflineProof(counter=counter, issued_at=ISSUED_AT, challenge=challenge,
                         certificate=CERTIFICATE, signature=SIGNATURE)
    return VerificationResult(account, masked, None, None, dt.datetime(2031, 1, 1, tzinfo=dt.UTC), False,
                              offline=proof)


def server_info(sealing_key: Mapping[str, object]) -> ServerInfo:
    return ServerInfo("https://id.example", "https://id.example/token", "https://id.example/device",
                      "https://id.example/jwks", dict(sealing_key), {}, "[0-9]{10}",
                      dt.datetime(2030, 4, 1, tzinfo=dt.UTC))


def accepted(key: str) -> EvidenceFate:
    return EvidenceFate(key, f"ev-{key}", "accepted", None, False)


def refused(key: str, code: str = "counter_reused") -> EvidenceFate:
    return EvidenceFate(key, f"ev-{key}", "refused", code, False)


def retry(key: str, code: str | None = None) -> EvidenceFate:
    return EvidenceFate(key, None, "retry", code, False)


#: One upload's outcome: the fates of the keys sent, or an error raised instead.
Answer = Callable[[list[str]], list[EvidenceFate]] | BaseException


@dataclass
class Upload:
    """One call of ``upload_evidence``: the bundles in order and what was said of the vouchers."""

    bundles: list[tuple[str, str]]
    voucher_shown: dict[str, bool]

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.bundles]


@dataclass
class FakeLinkage:
    """The linkage client's evidence upload and server info, answering from a script.

    Each upload takes the next answer from ``answers``; when none is left, every bundle is accepted.
    ``during_upload`` runs inside each upload, before it answers (to change the store meanwhile).
    """

    answers: list[Answer] = field(default_factory=list)
    sealing_key: Mapping[str, object] = field(default_factory=lambda: SEALING_JWK)
    uploads: list[Upload] = field(default_factory=list)
    during_upload: Callable[[], None] | None = None
    uploaded: threading.Event = field(default_factory=threading.Event)

    def upload_evidence(self, bundles: Sequence[tuple[str, str]],
                        voucher_shown: Mapping[str, bool] | None = None) -> list[EvidenceFate]:
        upload = Upload(list(bundles), dict(voucher_shown or {}))
        self.uploads.append(upload)
        self.uploaded.set()
        if self.during_upload is not None:
            self.during_upload()
        answer: Answer = self.answers.pop(0) if self.answers else (lambda keys: [accepted(k) for k in keys])
        if isinstance(answer, BaseException):
            raise answer
        return answer(upload.keys)

    def server_info(self) -> ServerInfo:
        return server_info(self.sealing_key)

    def client(self) -> LinkageClient:
        """This stand-in where the services take the linkage client."""
        return cast("LinkageClient", self)


def audit_details(store: KioskStore, event: str) -> list[dict[str, Any]]:
    """The details of each audit entry of this event in the store's chain, oldest first."""
    with store.engine.connect() as connection:
        texts = connection.scalars(select(AuditRecord.details).where(AuditRecord.event == event)
                                   .order_by(AuditRecord.seq))
        return [json.loads(text) for text in texts]


def voucher_hex(n: int) -> str:
    """A distinct voucher hash for the n-th item put in the outbox by hand."""
    return f"{n:064x}"


def put_items(store: KioskStore, *keys: str) -> None:
    """Items in the outbox as ``OfflineOutbox.record`` leaves them (their sealed text is opaque here)."""
    for key in keys:
        number = len(store.outbox_items(1000)) + 1
        store.add_evidence(key, f"sealed-{key}", "mfa_reset", MASKED, voucher_hex(number))


def items(store: KioskStore) -> dict[str, Any]:
    """Every item by key: ``(fate, error_code, evidence_id, attempts, last_error, next_attempt_at)``."""
    return {item.idempotency_key: (item.fate, item.error_code, item.evidence_id, item.attempts,
                                   item.last_error, item.next_attempt_at)
            for item in store.outbox_items(1000)}


class ScriptedWake(threading.Event):
    """The worker's wake event in a test: each wait returns at once, moving the store's clock on by
    the delay the worker asked for (time passes as it would have), and notes the delay and whether
    the event was set when the wait began. After ``rounds`` waits it stops the worker."""

    def __init__(self, advance: Callable[[float], None], stop: threading.Event, rounds: int) -> None:
        super().__init__()
        self.advance = advance
        self.stop = stop
        self.rounds = rounds
        self.waits: list[tuple[float, bool]] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        assert len(self.waits) < self.rounds, "the worker went on after it was stopped"
        self.waits.append((timeout, self.is_set()))
        self.advance(timeout)
        if len(self.waits) >= self.rounds:
            self.stop.set()
        return self.is_set()

    @property
    def delays(self) -> list[float]:
        return [delay for delay, _ in self.waits]


def sync_worker(store: KioskStore, linkage: FakeLinkage, **options: Any) -> SyncWorker:
    """A sync worker of this store whose server is the scripted one."""
    return SyncWorker(store, linkage.client(), **options)


def run_rounds(worker: SyncWorker, clock: StoreClock, rounds: int) -> ScriptedWake:
    """Runs the worker's loop in this thread for so many rounds, its waits scripted; the waits."""
    wake = ScriptedWake(lambda seconds: clock.advance(seconds=seconds), worker._stop, rounds)
    if worker._wake.is_set():
        wake.set()
    worker._wake = wake
    worker._run()
    return wake
