"""Evidence a kiosk recorded while offline: sealed bundles in, re-verified, each with a recorded fate.

A bundle is a compact JWE (``ECDH-ES+A256KW`` / ``A256GCM``) sealed to the server's sealing key,
whose plaintext is a compact JWS signed with the kiosk's registered key, whose payload is JSON:

``v`` (1), ``kiosk_id``, ``counter`` (the kiosk's monotonic offline counter, > 0), ``issued_at``
(Unix seconds), ``challenge`` (base64url of the bytes the card signed as its nonce: the counter
and ``issued_at`` as 8-byte big-endian integers, then 16 random bytes), ``account_id``,
``operation`` (``password_reset``, ``mfa_reset`` or ``salvage``), ``params`` (``{"mode": ...}``
for salvage), ``certificate`` and ``signature`` (base64url), ``staff`` (``{"staff_id",
"approved_at"}``) and ``voucher_hash`` (hex SHA-256 of the voucher code the user was given).

The server re-verifies everything as if the card were presented now (revocation included), checks
the kiosk's signature and that its counter was never used before, and matches the PPID with the
account. An accepted bundle authorises the operation once, through the user's voucher.

Beside the sealed bundle a kiosk may say ``voucher_shown``: false when it stopped between recording
the evidence and showing the user the voucher (so no one holds it). The server keeps that with the
evidence and in its audit entry, for staff.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, Key
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linkserver import audit
from linkserver.config import Lifetimes
from linkserver.directory import code_hash
from linkserver.errors import ApiError, ErrorCode, VerificationRefused
from linkserver.models import KioskClient, OfflineEvidence
from linkserver.operations import SALVAGE_MODES, OperationService
from linkserver.service import new_id, require_scope
from linkserver.tokens import ASSERTION_ALGORITHMS, Caller
from linkserver.words import OperationKind

SEAL_ALGORITHM = "ECDH-ES+A256KW"
SEAL_ENCRYPTION = "A256GCM"
OFFLINE_KINDS = (OperationKind.PASSWORD_RESET, OperationKind.MFA_RESET, OperationKind.SALVAGE)
#: Evidence older than this is refused: the voucher it carries would be stale anyway.
MAX_EVIDENCE_AGE = dt.timedelta(days=30)
CLOCK_LEEWAY = dt.timedelta(minutes=5)
MAX_BUNDLE_BYTES = 32 * 1024


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def unb64url(text: str) -> bytes:
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def offline_challenge(counter: int, issued_at: int, random16: bytes) -> bytes:
    """The nonce a card signs offline: counter, time, randomness."""
    if len(random16) != 16:
        raise ValueError("16 random bytes are needed")
    return counter.to_bytes(8, "big") + issued_at.to_bytes(8, "big") + random16


def seal_evidence(payload: dict[str, Any], kiosk_key: Key, kiosk_alg: str, server_public: ECKey) -> str:
    """Sign the evidence with the kiosk's key and seal it to the server (the kiosk's side; for tests)."""
    signed = jws.serialize_compact({"alg": kiosk_alg}, json.dumps(payload).encode("utf-8"), kiosk_key,
                                   algorithms=[kiosk_alg])
    return jwe.encrypt_compact({"alg": SEAL_ALGORITHM, "enc": SEAL_ENCRYPTION}, signed.encode("ascii"),
                               server_public, algorithms=[SEAL_ALGORITHM, SEAL_ENCRYPTION])


#: Refusals that may not hold tomorrow: nothing is recorded, and the kiosk sends the bundle again.
TRANSIENT = frozenset({ErrorCode.REVOCATION_UNKNOWN})


@dataclass(frozen=True)
class EvidenceFate:
    idempotency_key: str
    evidence_id: str | None
    fate: str
    error_code: str | None
    duplicate: bool


@dataclass(frozen=True)
class _Evidence:
    counter: int
    issued_at: dt.datetime
    challenge: bytes
    account_id: str
    operation: OperationKind
    params: dict[str, object]
    certificate: bytes
    signature: bytes
    staff_id: str
    voucher_hash: str


def _audit_details(record: OfflineEvidence, evidence: _Evidence | None) -> dict[str, object]:
    details: dict[str, object] = {"evidence_id": record.evidence_id, "fate": record.fate,
                                  "code": record.error_code, "kind": record.kind,
                                  "counter": evidence.counter if evidence else None}
    if record.voucher_shown is not None:
        details["voucher_shown"] = record.voucher_shown
    return details


class OfflineService:
    def __init__(self, operations: OperationService, sealing_key: ECKey, lifetimes: Lifetimes) -> None:
        self.operations = operations
        self.parts = operations.parts
        self._sealing_key = sealing_key
        self.lifetimes = lifetimes

    def sealing_public_jwk(self) -> dict[str, Any]:
        jwk = self._sealing_key.as_dict(private=False)
        jwk.update(kid=self._sealing_key.thumbprint(), use="enc", alg=SEAL_ALGORITHM)
        return jwk

    # -- upload -------------------------------------------------------------------------------

    def accept_batch(self, caller: Caller,
                     bundles: list[tuple[str, str, bool | None]]) -> list[EvidenceFate]:
        """Each ``(idempotency_key, sealed, voucher_shown)`` bundle's fate, in order."""
        require_scope(caller, "offline")
        return [self._one(caller, key, sealed, shown) for key, sealed, shown in bundles]

    def _one(self, caller: Caller, key: str, sealed: str, voucher_shown: bool | None) -> EvidenceFate:
        digest = hashlib.sha256(sealed.encode("utf-8")).hexdigest()
        with self.parts.db.transaction() as session:
            known = self._known(session, caller, key, digest)
            if known is not None:
                return known
        evidence: _Evidence | None = None
        error: ErrorCode | None = None
        ppid: str | None = None
        try:
            evidence = self._open(caller, sealed)
            identity = self.parts.verifier.verify(
                evidence.certificate, evidence.signature, evidence.challenge, caller.client_id,
                evidence.account_id, evidence.issued_at)
            ppid = identity.ppid
        except ApiError as exc:
            error = exc.code
        except VerificationRefused as exc:
            error = exc.code
        if error in TRANSIENT:
            return EvidenceFate(key, None, "retry", error, False)
        with self.parts.db.transaction() as session:
            known = self._known(session, caller, key, digest)
            if known is not None:
                return known
            if error is None:
                assert evidence is not None and ppid is not None
                error = self._check_against_records(session, caller, evidence, ppid)
            record = OfflineEvidence(
                evidence_id=new_id("evd"), client_id=caller.client_id, idempotency_key=key,
                counter=evidence.counter if evidence and error != ErrorCode.EVIDENCE_COUNTER_REUSED else None,
                bundle_digest=digest, received_at=self.parts.clock(),
                fate="refused" if error else "accepted", error_code=error,
                account_id=evidence.account_id if evidence else None,
                kind=evidence.operation if evidence else None,
                mode=str(evidence.params["mode"]) if evidence and "mode" in evidence.params else None,
                voucher_hash=evidence.voucher_hash if evidence and not error else None,
                voucher_shown=voucher_shown,
            )
            try:
                with session.begin_nested():
                    session.add(record)
            except IntegrityError:
                # A concurrent upload got there first: the same key (answer as it was answered)
                # or the same counter under another key (a reuse).
                known = self._known(session, caller, key, digest)
                if known is not None:
                    return known
                record.counter, record.fate = None, "refused"
                record.error_code = ErrorCode.EVIDENCE_COUNTER_REUSED
                record.voucher_hash = None
                session.add(record)
            audit.append(session, "offline_evidence", client_id=caller.client_id,
                         account_id=record.account_id, details=_audit_details(record, evidence))
            if not error and evidence is not None:
                client = session.get(KioskClient, caller.client_id)
                if client is not None and evidence.counter > client.offline_counter:
                    client.offline_counter = evidence.counter
            return EvidenceFate(key, record.evidence_id, record.fate, record.error_code, False)

    def _known(self, session: Session, caller: Caller, key: str, digest: str) -> EvidenceFate | None:
        row = session.scalars(select(OfflineEvidence).where(
            OfflineEvidence.client_id == caller.client_id, OfflineEvidence.idempotency_key == key)).first()
        if row is None:
            return None
        if row.bundle_digest != digest:
            return EvidenceFate(key, row.evidence_id, "refused", ErrorCode.IDEMPOTENCY_CONFLICT, True)
        return EvidenceFate(key, row.evidence_id, row.fate, row.error_code, True)

    def _open(self, caller: Caller, sealed: str) -> _Evidence:
        if len(sealed) > MAX_BUNDLE_BYTES:
            raise ApiError(ErrorCode.EVIDENCE_UNREADABLE, 422, "the bundle is too large")
        try:
            signed = jwe.decrypt_compact(sealed, self._sealing_key,
                                         algorithms=[SEAL_ALGORITHM, SEAL_ENCRYPTION]).plaintext
        except (JoseError, ValueError, TypeError):
            raise ApiError(ErrorCode.EVIDENCE_UNREADABLE, 422) from None
        with self.parts.db.transaction() as session:
            client = session.get(KioskClient, caller.client_id)
            jwk = dict(client.public_jwk) if client else None
        try:
            assert jwk is not None and signed is not None
            key = JWKRegistry.import_key(jwk)
            signed_payload = jws.deserialize_compact(signed, key, algorithms=ASSERTION_ALGORITHMS).payload
            payload = json.loads(signed_payload)
        except (JoseError, ValueError, TypeError, AssertionError):
            raise ApiError(ErrorCode.EVIDENCE_BAD_KIOSK_SIGNATURE, 422) from None
        return self._parse(caller, payload)

    def _parse(self, caller: Caller, payload: Any) -> _Evidence:
        def bad(why: str) -> ApiError:
            return ApiError(ErrorCode.EVIDENCE_INVALID, 422, f"the evidence is invalid: {why}")

        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise bad("unknown format version")
        if payload.get("kiosk_id") != caller.client_id:
            raise bad("it names another kiosk")
        counter, issued = payload.get("counter"), payload.get("issued_at")
        if not isinstance(counter, int) or isinstance(counter, bool) or not 0 < counter < 2**63:
            raise bad("counter")
        if not isinstance(issued, int) or isinstance(issued, bool) or not 0 < issued < 2**40:
            raise bad("issued_at")
        issued_at = dt.datetime.fromtimestamp(issued, dt.UTC)
        now = self.parts.clock()
        if issued_at > now + CLOCK_LEEWAY or now - issued_at > MAX_EVIDENCE_AGE:
            raise bad("issued_at is in the future or too old")
        try:
            challenge = unb64url(payload.get("challenge", ""))
            certificate = unb64url(payload.get("certificate", ""))
            signature = unb64url(payload.get("signature", ""))
        except (ValueError, TypeError):
            raise bad("a base64url field") from None
        if len(challenge) != 32 or challenge[:16] != counter.to_bytes(8, "big") + issued.to_bytes(8, "big"):
            raise bad("the challenge does not carry the counter and time")
        account_id = payload.get("account_id")
        if not isinstance(account_id, str) or not self.parts.policy.account_id_ok(account_id):
            raise bad("account_id")
        operation = payload.get("operation")
        if operation not in OFFLINE_KINDS:
            raise ApiError(ErrorCode.OPERATION_NOT_OFFLINE, 422)
        params = payload.get("params") or {}
        if not isinstance(params, dict):
            raise bad("params")
        if operation == OperationKind.SALVAGE and params.get("mode") not in SALVAGE_MODES:
            raise bad("salvage needs a mode")
        staff = payload.get("staff")
        if not isinstance(staff, dict) or not isinstance(staff.get("staff_id"), str) or not staff["staff_id"]:
            raise ApiError(ErrorCode.EVIDENCE_NO_APPROVAL, 422)
        voucher_hash = payload.get("voucher_hash")
        if not isinstance(voucher_hash, str) or not re.fullmatch(r"[0-9a-f]{64}", voucher_hash):
            raise bad("voucher_hash")
        return _Evidence(counter, issued_at, challenge, account_id, OperationKind(operation),
                         {"mode": params["mode"]} if operation == OperationKind.SALVAGE else {},
                         certificate, signature, staff["staff_id"][:64], voucher_hash)

    def _check_against_records(self, session: Session, caller: Caller, evidence: _Evidence,
                               ppid: str) -> ErrorCode | None:
        link = self.parts.links.by_ppid(session, ppid)
        if link is None or link.account_id != evidence.account_id:
            return ErrorCode.NO_MATCH
        used = session.scalars(select(OfflineEvidence.evidence_id).where(
            OfflineEvidence.client_id == caller.client_id,
            OfflineEvidence.counter == evidence.counter)).first()
        if used is not None:
            return ErrorCode.EVIDENCE_COUNTER_REUSED
        account = self.parts.directory.find(session, evidence.account_id)
        if account is None:
            return ErrorCode.ACCOUNT_UNAVAILABLE
        salvage = evidence.operation is OperationKind.SALVAGE
        if salvage and not self.operations._salvage_open(account, self.parts.clock()):
            return ErrorCode.SALVAGE_NOT_ELIGIBLE
        if not salvage and account.status != "active":
            return ErrorCode.ACCOUNT_UNAVAILABLE
        return None

    # -- vouchers -----------------------------------------------------------------------------

    def redeem(self, voucher: str, account_id: str, new_password: str | None) -> dict[str, object]:
        """The user's own device completes an offline-authorised operation with the voucher."""
        now = self.parts.clock()
        invalid = ApiError(ErrorCode.VOUCHER_INVALID, 403)
        # Hashed before the transaction opens (and its lock on the voucher is taken).
        new = None if new_password is None else self.operations.prepare_password(new_password)
        with self.parts.db.transaction() as session:
            row = session.scalars(select(OfflineEvidence).where(
                OfflineEvidence.voucher_hash == code_hash(voucher.strip().upper())).with_for_update()).first()
            if (row is None or row.fate != "accepted" or row.voucher_used_at is not None
                    or row.account_id != account_id
                    or row.received_at + dt.timedelta(days=self.lifetimes.voucher_days) <= now):
                raise invalid
            account = self.parts.directory.find(session, account_id)
            if account is None:
                raise invalid
            result: dict[str, object]
            if row.kind == OperationKind.PASSWORD_RESET:
                if new is None:
                    raise ApiError(ErrorCode.PASSWORD_POLICY, 422, "this voucher needs the new password",
                                   {"problems": ["missing"], "policy": self.parts.policy.password.describe()})
                self.operations.apply_password(session, account_id, new, now)
                result = {"password_set": True}
            elif row.kind == OperationKind.MFA_RESET:
                result = self.operations.mfa_reset(session, account, now)
            else:
                mode = row.mode or "backup"
                ticket, expires = self.operations.salvage_ticket(session, account, mode, row.evidence_id, now)
                result = {"ticket": ticket, "mode": mode, "expires_at": expires.isoformat()}
            row.voucher_used_at = now
            self.parts.notifier.notify(session, account, str(row.kind), now, row.client_id)
            audit.append(session, "voucher_redeemed", client_id=row.client_id, account_id=account_id,
                         details={"evidence_id": row.evidence_id, "kind": row.kind})
            return {"kind": row.kind, **result}
