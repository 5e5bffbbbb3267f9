"""The six operations a verified card holder can ask for, staff approval, and their effects.

An operation is created from a fresh verification (used once) under the kiosk's idempotency key:
the same key with the same request returns the same operation, with another request it is
refused. Operations that change an account wait for a staff decision; approval runs the change
(or, for a password reset, opens the step where the user types the new password). Every
operation notifies the account holder and leaves an audit entry for each decision.

An operation belongs to the kiosk session that asked for it: creating it hands out a session key
(kept here only as its SHA-256), which keep-alives, cancelling and the password need. It ends
without effect when that session cancels it, when its keep-alives stop while it awaits staff,
when staff do not decide within ``APPROVAL_WINDOW``, or when an approved password reset gets no
password within its window; expiry is applied whenever the operation is read or decided.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linkserver import audit, outages
from linkserver.config import Lifetimes
from linkserver.directory import AccountInfo, code_hash, one_time_code
from linkserver.errors import ApiError, ErrorCode
from linkserver.mfa import CodeMfa, MfaBackend, MfaUnavailable
from linkserver.models import Link, Operation, SalvageTicket, Verification
from linkserver.passwords import NewPassword
from linkserver.sealing import Sealer
from linkserver.service import ServerParts, new_id, recorded, require_scope
from linkserver.tokens import AuthError, Caller
from linkserver.words import OperationKind, OperationStatus, RefusalReason

logger = logging.getLogger(__name__)

REFUSAL_REASONS = frozenset(reason.value for reason in RefusalReason)

SALVAGE_MODES = ("backup", "forwarding")
#: An operation not decided by staff within this time can no longer be approved.
APPROVAL_WINDOW = dt.timedelta(minutes=30)
#: Statuses in which the kiosk session still waits (for staff, or for the user's password).
LIVE = (OperationStatus.AWAITING_APPROVAL, OperationStatus.APPROVED)
#: Statuses the kiosk's session ended without effect, and the code a late decision or password gets.
ABANDONED = {OperationStatus.CANCELLED: ErrorCode.OPERATION_CANCELLED,
             OperationStatus.EXPIRED: ErrorCode.OPERATION_EXPIRED}
SESSION_KEY_BYTES = 32
#: How long a code the user must copy (enrolment code, salvage ticket) waits to be shown to the kiosk.
RESULT_DISPLAY = dt.timedelta(minutes=30)
#: Result fields the user copies or scans from the kiosk's screen: shown once, then dropped.
CODE_KEYS = ("enrolment_code", "ticket")
#: An enrolment URI (a new second factor's secret) waits to be shown sealed, under this key.
SEALED_URI = "enrolment_uri_sealed"
#: The HKDF label of the key that seals it, bound to the operation's ID.
RESULT_SEALING_LABEL = b"kiosk-linkserver operation result v1"


def request_digest(kind: str, verification_id: str, params: Mapping[str, object]) -> str:
    canonical = json.dumps([kind, verification_id, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OperationView:
    """An operation as its kiosk (or staff) sees it."""

    operation_id: str
    kind: OperationKind
    status: OperationStatus
    account_id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    result: dict[str, object]
    error_code: str | None
    approved_by: str | None
    #: Only in the answer that creates (or replays the creation of) the operation.
    session_key: str | None = None


class OperationService:
    def __init__(self, parts: ServerParts, lifetimes: Lifetimes, mfa: MfaBackend | None = None,
                 server_secret: bytes | None = None) -> None:
        self.parts = parts
        self.lifetimes = lifetimes
        # Without the server's secret, a key of this process alone: what it seals, only it opens.
        self._sealer = Sealer(server_secret or os.urandom(32), RESULT_SEALING_LABEL)
        #: Where second factors are reset; by default an enrolment code through the directory.
        self.mfa = mfa or CodeMfa(parts.directory, dt.timedelta(minutes=lifetimes.enrolment_code_minutes))

    # -- views --------------------------------------------------------------------------------

    def _view(self, op: Operation, now: dt.datetime, session_key: str | None = None,
              reveal: bool = False) -> OperationView:
        """The operation as an answer; with ``reveal`` (the session that asked) its codes, once."""
        result = self._codes_once(op, now, reveal)
        return OperationView(op.operation_id, OperationKind(op.kind), OperationStatus(op.status),
                             op.account_id, op.created_at,
                             op.updated_at, result, op.error_code, op.approved_by, session_key)

    def _codes_once(self, op: Operation, now: dt.datetime, reveal: bool) -> dict[str, object]:
        """The result to answer with; a code for the user leaves the stored result when first shown.

        An enrolment code, enrolment URI or salvage ticket is shown only to the kiosk session that
        asked (the first answer carrying its session key after completion) and then dropped from
        the stored result, leaving ``shown``; one never shown is dropped when its display time
        passes. The directory and the salvage tickets keep only their hashes; an enrolment URI
        waits sealed.
        """
        result = dict(op.result or {})
        codes = {key: result.pop(key) for key in (*CODE_KEYS, SEALED_URI) if key in result}
        expired = op.result_expires_at is not None and op.result_expires_at <= now
        if codes and (reveal or expired):
            op.result = {**result, "expired": True} if expired else {**result, "shown": True}
        if expired:
            result["expired"] = True
        elif reveal:
            sealed = codes.pop(SEALED_URI, None)
            if isinstance(sealed, str):
                codes["enrolment_uri"] = self._sealer.open(op.operation_id, base64.b64decode(sealed))
            result.update(codes)
        return result

    def _owned(self, session: Session, caller: Caller, operation_id: str, lock: bool = False) -> Operation:
        op = session.get(Operation, operation_id, with_for_update=lock)
        if op is None or op.client_id != caller.client_id:
            raise ApiError(ErrorCode.OPERATION_UNKNOWN, 404)
        return op

    def get(self, caller: Caller, operation_id: str) -> OperationView:
        require_scope(caller, "operate")

        def unit(session: Session) -> OperationView:
            op = self._owned(session, caller, operation_id)
            self._expire_if_stale(session, op)
            return self._view(op, self.parts.clock())
        return self.parts.db.run(unit)

    def _session_op(self, session: Session, caller: Caller, operation_id: str,
                    session_key: str | None) -> Operation:
        """This kiosk's operation, locked, if ``session_key`` is the one its creation handed out."""
        op = self._owned(session, caller, operation_id, lock=True)
        if (op.session_key_hash is None or session_key is None
                or not hmac.compare_digest(op.session_key_hash, code_hash(session_key))):
            raise ApiError(ErrorCode.SESSION_KEY_INVALID, 403)
        self._expire_if_stale(session, op)
        return op

    def _stale_reason(self, op: Operation, now: dt.datetime) -> ErrorCode | None:
        """Why the operation has run out of time, or None while it has not."""
        lifetimes = self.lifetimes
        if op.status == OperationStatus.AWAITING_APPROVAL:
            if op.created_at + APPROVAL_WINDOW <= now:
                return ErrorCode.APPROVAL_WINDOW_PASSED
            keepalive = dt.timedelta(seconds=lifetimes.keepalive_timeout_seconds)
            if op.last_seen_at is not None and op.last_seen_at + keepalive <= now:
                return ErrorCode.KIOSK_GONE
        window = dt.timedelta(seconds=lifetimes.password_window_seconds)
        approved_at = op.approved_at if op.status == OperationStatus.APPROVED else None
        if approved_at is not None and approved_at + window <= now:
            return ErrorCode.PASSWORD_WINDOW_PASSED
        return None

    def _expire_if_stale(self, session: Session, op: Operation) -> None:
        now = self.parts.clock()
        reason = self._stale_reason(op, now)
        if reason is not None:
            op.status, op.error_code, op.updated_at = OperationStatus.EXPIRED, reason, now
            audit.append(session, "operation_expired", client_id=op.client_id, account_id=op.account_id,
                         details={"operation_id": op.operation_id, "kind": op.kind, "reason": reason})

    # -- the kiosk session ----------------------------------------------------------------------

    def keep_alive(self, caller: Caller, operation_id: str, session_key: str | None) -> OperationView:
        """The kiosk is still waiting: noted while staff have not decided; the operation as it stands
        (with a code for the user the first time it is answered after completion)."""
        require_scope(caller, "operate")
        now = self.parts.clock()

        def unit(session: Session) -> OperationView:
            op = self._session_op(session, caller, operation_id, session_key)
            if op.status == OperationStatus.AWAITING_APPROVAL:
                op.last_seen_at = now
            return self._view(op, now, reveal=True)
        return self.parts.db.run(unit)

    def cancel(self, caller: Caller, operation_id: str, session_key: str | None,
               reason: str | None) -> OperationView:
        """The kiosk session gave up: a waiting operation ends without effect; anything else stays.

        Idempotent: on an operation already cancelled, expired, refused, failed or completed it
        changes and records nothing and answers the operation as it is.
        """
        require_scope(caller, "operate")
        now = self.parts.clock()

        def unit(session: Session) -> OperationView:
            op = self._session_op(session, caller, operation_id, session_key)
            if op.status in LIVE:
                audit.append(session, "operation_cancelled", client_id=caller.client_id,
                             account_id=op.account_id,
                             details={"operation_id": op.operation_id, "kind": op.kind, "was": op.status,
                                      "reason": reason or "unspecified"})
                op.status, op.updated_at = OperationStatus.CANCELLED, now
            return self._view(op, now)
        return self.parts.db.run(unit)

    # -- creation -----------------------------------------------------------------------------

    def create(self, caller: Caller, idempotency_key: str, kind: OperationKind, verification_id: str,
               params: Mapping[str, object]) -> tuple[OperationView, bool]:
        """The operation for this key: (view, created). A replay returns the first answer."""
        require_scope(caller, "operate")
        p = self.parts
        now = p.clock()
        digest = request_digest(kind, verification_id, params)
        session_key = secrets.token_urlsafe(SESSION_KEY_BYTES)

        def unit(session: Session) -> tuple[OperationView, bool] | ApiError:
            existing = self._by_key(session, caller, idempotency_key)
            if existing is not None:
                return self._replay(existing, digest, session_key, now), False
            try:
                with session.begin_nested():
                    op = self._create(session, caller, idempotency_key, kind, verification_id, params,
                                      digest, code_hash(session_key), now)
            except (ApiError, IntegrityError) as exc:
                # The same key sent twice at once: whichever got there first is the answer to both.
                existing = self._by_key(session, caller, idempotency_key)
                if existing is not None:
                    return self._replay(existing, digest, session_key, now), False
                if isinstance(exc, IntegrityError):
                    raise
                return exc
            return self._view(op, now, session_key), True
        refusal = p.db.run(unit)
        if not isinstance(refusal, ApiError):
            return refusal
        raise recorded(p.db, refusal, "operation_refused", client_id=caller.client_id,
                       details={"kind": kind, "code": refusal.code, "verification_id": verification_id})

    def _replay(self, existing: Operation, digest: str, session_key: str, now: dt.datetime) -> OperationView:
        """The first answer again, with a new session key in place of the first (which may be lost)."""
        if existing.request_digest != digest:
            raise ApiError(ErrorCode.IDEMPOTENCY_CONFLICT, 409)
        existing.session_key_hash = code_hash(session_key)
        if existing.status == OperationStatus.AWAITING_APPROVAL:
            existing.last_seen_at = now
        return self._view(existing, now, session_key)

    @staticmethod
    def _by_key(session: Session, caller: Caller, idempotency_key: str) -> Operation | None:
        return session.scalars(select(Operation).where(
            Operation.client_id == caller.client_id,
            Operation.idempotency_key == idempotency_key)).first()

    def _create(self, session: Session, caller: Caller, idempotency_key: str, kind: OperationKind,
                verification_id: str, params: Mapping[str, object], digest: str, session_key_hash: str,
                now: dt.datetime) -> Operation:
        verification = session.get(Verification, verification_id)
        if verification is None or verification.client_id != caller.client_id:
            raise ApiError(ErrorCode.VERIFICATION_UNKNOWN, 404)
        if verification.operation_id is not None:
            raise ApiError(ErrorCode.VERIFICATION_USED, 409)
        if verification.expires_at <= now:
            raise ApiError(ErrorCode.VERIFICATION_EXPIRED, 403)
        account = self.parts.directory.find(session, verification.account_id)
        stored_params = self._check_request(session, caller, kind, verification, account, params, now)
        assert account is not None
        op = Operation(
            operation_id=new_id("op"), client_id=caller.client_id, idempotency_key=idempotency_key,
            request_digest=digest, kind=kind, account_id=account.account_id,
            verification_id=verification_id, status=OperationStatus.AWAITING_APPROVAL, params=stored_params,
            result={}, created_at=now, updated_at=now, session_key_hash=session_key_hash, last_seen_at=now,
        )
        # Conditional update: of two requests racing for one verification, exactly one gets it.
        claimed = session.execute(
            update(Verification).where(Verification.verification_id == verification_id,
                                       Verification.operation_id.is_(None))
            .values(operation_id=op.operation_id))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(ErrorCode.VERIFICATION_USED, 409)
        session.add(op)
        session.flush()
        audit.append(session, "operation_requested", client_id=caller.client_id,
                     account_id=account.account_id,
                     details={"operation_id": op.operation_id, "kind": kind,
                              "verification_id": verification_id})
        if not kind.waits_for_staff:
            self._execute(session, op, account, now)
        return op

    def _check_request(self, session: Session, caller: Caller, kind: OperationKind,
                       verification: Verification, account: AccountInfo | None,
                       params: Mapping[str, object], now: dt.datetime) -> dict[str, object]:
        """The parameters to store for a valid request, or the ApiError that refuses it."""
        if kind is OperationKind.PRELINK:
            return self._check_prelink(session, verification, account, params)
        if not verification.matched or account is None:
            raise ApiError(ErrorCode.NO_MATCH, 403)
        if kind is OperationKind.UNLINK and self.parts.links.by_account(session, account.account_id) is None:
            raise ApiError(ErrorCode.NOT_LINKED, 409)
        if kind is OperationKind.SALVAGE:
            if params.get("mode") not in SALVAGE_MODES:
                raise ApiError(ErrorCode.INVALID_REQUEST, 422, "salvage needs mode 'backup' or 'forwarding'")
            if not self._salvage_open(account, now):
                raise ApiError(ErrorCode.SALVAGE_NOT_ELIGIBLE, 403)
            return {"mode": params["mode"]}
        if kind is OperationKind.MFA_RESET and account.status != "active":
            raise ApiError(ErrorCode.ACCOUNT_UNAVAILABLE, 409,
                           "only an active account has MFA methods to reset")
        if kind is OperationKind.PASSWORD_RESET and account.status != "active":
            raise ApiError(ErrorCode.ACCOUNT_UNAVAILABLE, 409,
                           "only an active account can have its password reset")
        return {}

    def _salvage_open(self, account: AccountInfo, now: dt.datetime) -> bool:
        return (account.status == "left" and account.left_at is not None
                and now - account.left_at <= dt.timedelta(days=self.parts.policy.salvage_days))

    def _check_prelink(self, session: Session, verification: Verification, account: AccountInfo | None,
                       params: Mapping[str, object]) -> dict[str, object]:
        name = params.get("name_on_card")
        token = params.get("account_token")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ApiError(ErrorCode.INVALID_REQUEST, 422,
                           "pre-link needs the name read from the card (1-200 characters)")
        if not isinstance(token, str):
            raise ApiError(ErrorCode.INVALID_REQUEST, 422,
                           "pre-link needs the account token from the device grant")
        try:
            proof = self.parts.tokens.check(token)
        except AuthError:
            raise ApiError(ErrorCode.ACCOUNT_PROOF_INVALID, 403) from None
        if "account" not in proof.scopes or proof.account_id is None:
            raise ApiError(ErrorCode.ACCOUNT_PROOF_INVALID, 403)
        if proof.account_id != verification.account_id or proof.client_id != verification.client_id:
            raise ApiError(ErrorCode.ACCOUNT_PROOF_MISMATCH, 403)
        if account is None or account.status != "active":
            raise ApiError(ErrorCode.ACCOUNT_UNAVAILABLE, 409, "only an active account can be linked")
        if self.parts.links.by_account(session, account.account_id) is not None:
            raise ApiError(ErrorCode.ACCOUNT_ALREADY_LINKED, 409)
        if self.parts.links.by_ppid(session, verification.ppid) is not None:
            raise ApiError(ErrorCode.CARD_ALREADY_LINKED, 409)
        return {"name_on_card": name.strip()}

    # -- staff --------------------------------------------------------------------------------

    def pending(self, caller: Caller, limit: int = 100) -> list[OperationView]:
        require_scope(caller, "staff")
        now = self.parts.clock()

        def unit(session: Session) -> list[OperationView]:
            waiting = Operation.status == OperationStatus.AWAITING_APPROVAL
            ops = session.scalars(select(Operation).where(waiting).order_by(Operation.created_at)
                                  .limit(limit)).all()
            for op in ops:
                self._expire_if_stale(session, op)
            return [self._view(op, now) for op in ops if op.status == OperationStatus.AWAITING_APPROVAL]
        return self.parts.db.run(unit)

    def decide(self, caller: Caller, operation_id: str, approve: bool, staff_id: str,
               reason: str | None) -> OperationView:
        """Staff approve (and so run) or refuse an operation; repeating the same decision is harmless.

        An operation its kiosk cancelled or stopped waiting for is refused with
        ``operation_cancelled`` or ``operation_expired``.
        """
        require_scope(caller, "staff")
        now = self.parts.clock()

        def unit(session: Session) -> OperationView | ApiError:
            # Locked: of two staff decisions at once, the second sees the first one's outcome.
            op = session.get(Operation, operation_id, with_for_update=True)
            if op is None:
                raise ApiError(ErrorCode.OPERATION_UNKNOWN, 404)
            self._expire_if_stale(session, op)
            if op.status == OperationStatus.AWAITING_APPROVAL:
                return self._decided(session, caller, op, approve, staff_id, reason, now)
            return self._redecided(op, approve, now)
        try:
            refusal = self.parts.db.run(unit)
        except ApiError as exc:
            # A backend that did not answer: rolled back, the operation still awaits a decision,
            # and the attempt is audited on its own.
            outages.record(self.parts.db, exc, operation_id, caller.client_id, staff=staff_id)
            raise
        if isinstance(refusal, OperationView):
            return refusal
        raise refusal  # after the commit, so an expiry found on the way is kept

    def _redecided(self, op: Operation, approve: bool, now: dt.datetime) -> OperationView | ApiError:
        """A decision on an operation already decided or ended: the same one again is harmless."""
        status = OperationStatus(op.status)
        if status in ABANDONED:
            return ApiError(ABANDONED[status], 409)
        if (status is OperationStatus.REFUSED) != approve and status is not OperationStatus.FAILED:
            return self._view(op, now)
        return ApiError(ErrorCode.ALREADY_DECIDED, 409, f"the operation is already {op.status}")

    def _decided(self, session: Session, caller: Caller, op: Operation, approve: bool, staff_id: str,
                 reason: str | None, now: dt.datetime) -> OperationView:
        account = self.parts.directory.find(session, op.account_id)
        op.approved_by, op.updated_at = staff_id, now
        audit.append(session, "operation_approved" if approve else "operation_refused_by_staff",
                     client_id=caller.client_id, account_id=op.account_id,
                     details={"operation_id": op.operation_id, "kind": op.kind, "staff": staff_id,
                              "reason": reason or ""})
        if account is None:
            op.status, op.error_code = OperationStatus.FAILED, ErrorCode.ACCOUNT_UNAVAILABLE
            return self._view(op, now)
        if not approve:
            op.status = OperationStatus.REFUSED
            if reason in REFUSAL_REASONS:
                op.result = {"refusal_reason": reason}  # the kiosk tells the user why, in their language
            self.parts.notifier.notify(session, account, "refused", now, op.client_id)
            return self._view(op, now)
        op.status, op.approved_at = OperationStatus.APPROVED, now
        if op.kind != OperationKind.PASSWORD_RESET:
            self._execute(session, op, account, now)
        return self._view(op, now)

    # -- effects ------------------------------------------------------------------------------

    def _execute(self, session: Session, op: Operation, account: AccountInfo, now: dt.datetime) -> None:
        """Apply an approved operation (all but the password, which the user types)."""
        result: dict[str, object]
        kind = OperationKind(op.kind)
        if kind is OperationKind.LINK_STATUS:
            link = self.parts.links.by_account(session, account.account_id)
            result = {"linked": link is not None,
                      "linked_at": link.created_at.isoformat() if link else None,
                      "name_on_card": link.name_on_card if link else None}
        elif kind is OperationKind.UNLINK:
            link = self.parts.links.by_account(session, account.account_id)
            if link is None:
                op.status, op.error_code, op.updated_at = OperationStatus.FAILED, ErrorCode.NOT_LINKED, now
                return
            session.delete(link)
            result = {"unlinked": True}
        elif kind is OperationKind.PRELINK:
            verification = session.get(Verification, op.verification_id)
            assert verification is not None
            error = self._link(session, op, account, verification.ppid, now)
            if error:
                op.status, op.error_code, op.updated_at = OperationStatus.FAILED, error, now
                audit.append(session, "operation_failed", client_id=op.client_id,
                             account_id=op.account_id,
                             details={"operation_id": op.operation_id, "code": error})
                return
            result = {"linked": True}
        elif kind is OperationKind.MFA_RESET:
            result = self.mfa_reset(session, account, now)
            uri = result.pop("enrolment_uri", None)
            if isinstance(uri, str):
                result[SEALED_URI] = base64.b64encode(self._sealer.seal(op.operation_id, uri)).decode("ascii")
        elif kind is OperationKind.SALVAGE:
            ticket, expires = self.salvage_ticket(session, account, str(op.params["mode"]),
                                                  op.operation_id, now)
            result = {"ticket": ticket, "mode": op.params["mode"], "expires_at": expires.isoformat()}
        else:  # pragma: no cover - OperationKind is closed
            raise AssertionError(op.kind)
        self._complete(session, op, account, result, now, now + RESULT_DISPLAY if kind.shows_code else None)

    def _complete(self, session: Session, op: Operation, account: AccountInfo, result: dict[str, object],
                  now: dt.datetime, result_expires: dt.datetime | None = None) -> None:
        op.status, op.result, op.updated_at, op.result_expires_at = (OperationStatus.COMPLETED, result, now,
                                                                     result_expires)
        self.parts.notifier.notify(session, account, op.kind, now, op.client_id)
        audit.append(session, "operation_completed", client_id=op.client_id, account_id=op.account_id,
                     details={"operation_id": op.operation_id, "kind": op.kind})

    def _link(self, session: Session, op: Operation, account: AccountInfo, ppid: str,
              now: dt.datetime) -> ErrorCode | None:
        if self.parts.links.by_account(session, account.account_id) is not None:
            return ErrorCode.ACCOUNT_ALREADY_LINKED
        if self.parts.links.by_ppid(session, ppid) is not None:
            return ErrorCode.CARD_ALREADY_LINKED
        try:
            with session.begin_nested():
                session.add(Link(account_id=account.account_id, ppid=ppid,
                                 name_on_card=str(op.params["name_on_card"]), created_at=now,
                                 created_by_kiosk=op.client_id))
        except IntegrityError:
            return ErrorCode.CARD_ALREADY_LINKED
        return None

    def mfa_reset(self, session: Session, account: AccountInfo, now: dt.datetime) -> dict[str, object]:
        """Clear the account's second factors and enrol a fresh one through the MFA backend: the
        result the user takes away (an enrolment URI, or an enrolment code, and its expiry).

        A backend that cannot be reached raises ``mfa_unavailable`` (503), which rolls back the
        request's transaction: nothing is changed and the same request may be sent again.
        """
        try:
            enrolment = self.mfa.reset(session, account, now)
        except MfaUnavailable as exc:
            logger.warning("the MFA backend could not reset a second factor: %s", exc)
            raise ApiError(ErrorCode.MFA_UNAVAILABLE, 503) from None
        result: dict[str, object] = {"expires_at": enrolment.expires_at.isoformat()}
        if enrolment.uri:
            result["enrolment_uri"] = enrolment.uri
        if enrolment.code:
            result["enrolment_code"] = enrolment.code
        return result

    def salvage_ticket(self, session: Session, account: AccountInfo, mode: str, operation_id: str,
                       now: dt.datetime) -> tuple[str, dt.datetime]:
        ticket = one_time_code(5)
        expires = now + dt.timedelta(days=self.lifetimes.salvage_ticket_days)
        session.add(SalvageTicket(ticket_hash=code_hash(ticket), account_id=account.account_id, mode=mode,
                                  expires_at=expires, operation_id=operation_id))
        self.parts.notifier.handoff(session, account, mode, operation_id, expires, now)
        return ticket, expires

    def set_password(self, caller: Caller, operation_id: str, new_password: str,
                     session_key: str | None) -> OperationView:
        """The user's own new password, after approval: checked against the policy, then set.

        Only from the session that asked, and only within the password window after approval.
        """
        require_scope(caller, "operate")
        now = self.parts.clock()
        new = self.prepare_password(new_password)

        def unit(session: Session) -> OperationView | ApiError:
            op = self._session_op(session, caller, operation_id, session_key)
            if op.status in ABANDONED:
                return ApiError(ABANDONED[OperationStatus(op.status)], 409)
            if op.kind != OperationKind.PASSWORD_RESET or op.status != OperationStatus.APPROVED:
                return ApiError(ErrorCode.WRONG_STATE, 409, f"the operation is {op.kind}, {op.status}")
            self.apply_password(session, op.account_id, new, now)
            account = self.parts.directory.find(session, op.account_id)
            assert account is not None
            self._complete(session, op, account, {"password_set": True}, now)
            return self._view(op, now)
        try:
            outcome = self.parts.db.run(unit)
        except ApiError as exc:
            outages.record(self.parts.db, exc, operation_id, caller.client_id)  # the directory down
            raise
        if isinstance(outcome, ApiError):
            raise outcome  # after the commit, so an expiry found on the way is kept
        return outcome

    def prepare_password(self, new_password: str) -> NewPassword:
        """The policy's verdict on a new password and, if it passes, the form the directory stores:
        made before the transaction opens, so that no lock is held while argon2 runs."""
        problems = self.parts.policy.password.problems(new_password)
        stored = None if problems else self.parts.directory.prepare_password(new_password)
        return NewPassword(new_password, tuple(problems), stored)

    def apply_password(self, session: Session, account_id: str, new: NewPassword, now: dt.datetime) -> None:
        if new.problems:
            raise ApiError(ErrorCode.PASSWORD_POLICY, 422, extra={"problems": list(new.problems),
                                                          "policy": self.parts.policy.password.describe()})
        self.parts.directory.set_password(session, account_id, new.text, now, prepared=new.prepared)
