"""The server's tables (SQLAlchemy 2). The schema itself is created by the Alembic migrations.

Secrets the server hands out (enrolment codes, salvage tickets, device codes, vouchers) are kept
as SHA-256 hashes where the server only needs to recognise them again; a password only as an
Argon2 hash. PPIDs are pseudonyms and stored as they are, since links are looked up by them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class Account(Base):
    """An account of the reference directory (the institution's own directory in production)."""

    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    #: "active", or "left" for a former member (salvage is open to them for a while).
    status: Mapped[str] = mapped_column(String(16), default="active")
    left_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    mfa_methods: Mapped[int] = mapped_column(Integer, default=0)
    enrolment_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enrolment_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Link(Base):
    """One card (by PPID) linked to one account; each side at most once."""

    __tablename__ = "links"

    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), primary_key=True)
    ppid: Mapped[str] = mapped_column(String(64), unique=True)
    name_on_card: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by_kiosk: Mapped[str] = mapped_column(String(64))


class KioskClient(Base):
    """An OAuth client: a kiosk (or the staff console) with its public key and scopes."""

    __tablename__ = "kiosk_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    scopes: Mapped[str] = mapped_column(String(400))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: The highest offline-challenge counter accepted from this kiosk.
    offline_counter: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The counter (help-desk position) the kiosk stands at; its requests go to that counter's staff.
    counter_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("counters.counter_id"), nullable=True)


class UsedAssertion(Base):
    """A client assertion's ``jti`` seen before its expiry: a second use is a replay."""

    __tablename__ = "used_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class RateBucket(Base):
    """One rate limit's bucket for one key (``linkserver.ratelimit``), shared by every worker."""

    __tablename__ = "rate_buckets"

    #: SHA-256 of the limiter's name and the key.
    bucket: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double)
    #: Seconds since the epoch when the bucket was last counted.
    updated_at: Mapped[float] = mapped_column(Double, index=True)
    #: Whether the last request counted was refused (read back by the counting statement).
    refused: Mapped[bool] = mapped_column(Boolean)


class Challenge(Base):
    """A nonce handed to one kiosk, usable once before it expires."""

    __tablename__ = "challenges"

    nonce: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Verification(Base):
    """A successful card verification: the PPID it proved, and whether it matched the claim."""

    __tablename__ = "verifications"

    verification_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(64))
    ppid: Mapped[str] = mapped_column(String(64))
    matched: Mapped[bool] = mapped_column(Boolean)
    certificate_serial: Mapped[str] = mapped_column(String(48))
    certificate_not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: Set when an operation used it; a verification serves one operation only.
    operation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Operation(Base):
    """An operation a kiosk requested, keyed by the kiosk's idempotency key."""

    __tablename__ = "operations"
    __table_args__ = (UniqueConstraint("client_id", "idempotency_key"),)

    operation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    #: A digest of the request, so a reused key with another request is refused, not replayed.
    request_digest: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    verification_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: awaiting_approval, approved (waiting for the user's input), refused, completed, failed,
    #: cancelled (by the kiosk session) or expired (the kiosk stopped waiting, or a window passed).
    status: Mapped[str] = mapped_column(String(24), index=True)
    params: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(48), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: Results the user must see once (codes) are dropped after this time.
    result_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: SHA-256 of the key handed to the kiosk session that asked; only that session may act on it.
    session_key_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The kiosk's last keep-alive (or the creation): the operation expires when they stop.
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: When staff approved it: an approved password reset takes the password only for a while.
    approved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SalvageTicket(Base):
    """A time-limited grant for a former member to back up their data or forward their mail."""

    __tablename__ = "salvage_tickets"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    operation_id: Mapped[str] = mapped_column(String(64))


class DeviceAuthorization(Base):
    """An RFC 8628 device authorization: the kiosk polls, the user approves on their phone."""

    __tablename__ = "device_authorizations"

    device_code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    interval: Mapped[int] = mapped_column(Integer)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: pending, approved, denied, or issued (the token was handed out; a code works once).
    status: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sign_in_failures: Mapped[int] = mapped_column(Integer, default=0)


class Retried:
    """The columns of a row that a sender delivers, with retries (mail, and the salvage hand-offs)."""

    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Not sent before this time (a retry's back-off, or a sender's claim); None: at once.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: The sender holding the row ("host:pid"), while its claim lasts.
    claimed_by: Mapped[str | None] = mapped_column(String(160), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Set when the receiver refused the row for good (SMTP 5xx, HTTP 4xx), or the attempts ran out.
    failed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class MailOutbox(Retried, Base):
    """Notifications to account holders (and hand-offs to the custody team), waiting to be sent."""

    __tablename__ = "mail_outbox"
    __table_args__ = (UniqueConstraint("message_id", name="uq_mail_outbox_message_id"),
                      Index("ix_mail_outbox_due", "sent_at", "failed_at", "next_attempt_at"))

    mail_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: Fixed before the first attempt and sent with every attempt: a resend is recognisably the same mail.
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: What the notice is about ("password_reset", ..., or "salvage_handoff" to the custody team).
    event: Mapped[str | None] = mapped_column(String(32), nullable=True)


class HandoffOutbox(Retried, Base):
    """Salvage hand-offs waiting to be POSTed to the configured webhook, retried like mail."""

    __tablename__ = "handoff_outbox"

    handoff_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operation_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: The exact JSON body, fixed at queue time, so every attempt sends (and signs) the same bytes.
    body: Mapped[str] = mapped_column(Text)


class OfflineEvidence(Base):
    """A sealed evidence bundle a kiosk recorded while offline, and what became of it."""

    __tablename__ = "offline_evidence"
    __table_args__ = (UniqueConstraint("client_id", "counter"),
                      UniqueConstraint("client_id", "idempotency_key"))

    evidence_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    counter: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bundle_digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: accepted (an operation is waiting for the voucher) or refused (with a code).
    fate: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(48), nullable=True)
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    voucher_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    voucher_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: What the kiosk said when it sent the bundle: False if it never showed the user the voucher
    #: (nobody holds it), True if it did, None if it did not say.
    voucher_shown: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class AuditEntry(Base):
    """One decision, chained to the one before by its hash."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    event: Mapped[str] = mapped_column(String(48))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's newest entry: one row (``id`` 1), locked by whoever appends, who moves it on.

    Locking it is the audit chain's lock. On PostgreSQL a lock that had to wait, or that found the
    row changed since the statement began, returns the row as the appender before left it, so the
    statement that takes the lock also reads the head: no separate round trip for it.
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="ck_audit_head_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))


class Renewal(Base):
    """The JPKI platform's old/new serial linkage: one card renewal (serials as decimal text)."""

    __tablename__ = "renewals"

    old_serial: Mapped[str] = mapped_column(String(50), primary_key=True)
    new_serial: Mapped[str] = mapped_column(String(50), unique=True)
    imported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Counter(Base):
    """A help-desk counter: the kiosks that stand at it and the desk staff who supervise them."""

    __tablename__ = "counters"

    counter_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class StaffMember(Base):
    """A named member of staff who signs in to the console (password and a second factor)."""

    __tablename__ = "staff_members"

    staff_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    #: desk, supervisor or auditor (``linkserver.staff.ROLES``).
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The TOTP secret, sealed under a key derived from the server's secret; None until enrolled.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(128), nullable=True)
    #: The time step of the last TOTP code accepted: a code is good once.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Failed sign-in steps since the last whole sign-in, and until when sign-in is refused.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: The Argon2id hash of the member's offline PIN (``linkserver.roster``), which kiosks check
    #: while the server is away; None: they cannot approve offline.
    offline_pin_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)


class StaffCounter(Base):
    """A desk staff member's assignment to a counter."""

    __tablename__ = "staff_counters"

    staff_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("staff_members.staff_id"), primary_key=True)
    counter_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("counters.counter_id"), primary_key=True)


class ConsoleSession(Base):
    """A browser's session on the staff console; only the token's hash is stored."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(64), ForeignKey("staff_members.staff_id"), index=True)
    #: second_factor (the password was right), enrol (the first sign-in's TOTP enrolment) or signed_in.
    stage: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    #: A TOTP secret offered at enrolment, sealed, until a code from it confirms it.
    pending_totp: Mapped[bytes | None] = mapped_column(LargeBinary(128), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class KioskHeartbeat(Base):
    """The latest heartbeat of each kiosk: when it was last heard from and what it said of itself."""

    __tablename__ = "kiosk_health"

    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("kiosk_clients.client_id"), primary_key=True)
    last_contact_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    version: Mapped[str] = mapped_column(String(64))
    #: present, absent or error (``linkserver.health.READER_STATES``).
    reader_state: Mapped[str] = mapped_column(String(16))
    reader_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outbox_depth: Mapped[int] = mapped_column(Integer)
    last_sync_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AccountTotp(Base):
    """The TOTP secret the builtin MFA backend enrolled for an account (one per account; a reset
    replaces it), sealed under a key derived from the server's secret and bound to the account ID."""

    __tablename__ = "account_totp"

    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), primary_key=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary(128))
    enrolled_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: Until when the first code may confirm the enrolment; once confirmed, the secret stays good.
    confirm_by: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: The time step of the last code accepted: a code is good once.
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
