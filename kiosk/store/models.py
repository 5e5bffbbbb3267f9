"""The kiosk's tables (SQLAlchemy 2): outbox, audit chain, offline counter, cache, staff roster.

The schema itself is created by the Alembic migrations in ``migrations/``; these classes are what
the store reads and writes, and what the migration test compares the migrated schema against.

Nothing secret is stored in the clear: evidence is kept only as the sealed bundle (encrypted to
the server), a voucher only as its SHA-256, an account only as a masked hint, and the audit log
records events, never PINs, passwords, certificates or signatures.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: The outcomes the server gives an evidence bundle.
FATES = ("accepted", "refused")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime (SQLite stores no zone of its own, so UTC is implied)."""

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


class OutboxRecord(Base):
    """One sealed evidence bundle waiting for (or given) its fate by the server."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("fate IS NULL OR fate IN ('accepted', 'refused')", name="ck_outbox_fate"),
        CheckConstraint("attempts >= 0", name="ck_outbox_attempts"),
        # The drain asks for "no fate yet, due now, oldest first".
        Index("ix_outbox_due", "fate", "next_attempt_at"),
    )

    #: Insertion order: ties on ``created_at`` (a coarse or stepped clock) still sort stably.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: A masked account such as ``20******01``: enough for staff to tell items apart.
    account_hint: Mapped[str] = mapped_column(String(64))
    #: Hex SHA-256 of the voucher handed to the user; the voucher itself is never stored.
    voucher_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The bundle as sealed (JWE to the server's key around the kiosk's JWS).
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: None until the server answers; then "accepted" or "refused".
    fate: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    evidence_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    synced_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    #: When the voucher was shown to the user; None if it never was (the kiosk stopped between
    #: writing the evidence and showing the voucher, so nobody holds it).
    voucher_shown_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditRecord(Base):
    """One kiosk event, chained to the one before by its hash."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    event: Mapped[str] = mapped_column(String(48))
    #: Canonical JSON (sorted keys, no spaces), exactly the text the hash covers.
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    """The last entry removed by retention, so the rest of the chain can still be checked.

    A single row (``id`` is always 1): the chain check starts from this entry's sequence number
    and hash instead of the genesis.
    """

    __tablename__ = "audit_checkpoint"
    __table_args__ = (CheckConstraint("id = 1", name="ck_audit_checkpoint_single"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    #: When the checkpointed entry was written, and when retention removed it.
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    purged_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class OfflineCounter(Base):
    """The monotonic counter carried by the kiosk's offline challenges (a single row, ``id`` 1)."""

    __tablename__ = "offline_counter"
    __table_args__ = (CheckConstraint("id = 1", name="ck_offline_counter_single"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class CacheRecord(Base):
    """Material fetched while online and needed offline (the server's sealing key, trust anchors)."""

    __tablename__ = "cache"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class RosterRecord(Base):
    """When the staff roster the kiosk holds was issued by the server and stored here (one row, ``id`` 1)."""

    __tablename__ = "staff_roster"
    __table_args__ = (CheckConstraint("id = 1", name="ck_staff_roster_single"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    stored_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class RosterMemberRecord(Base):
    """A member of staff who may approve offline at this kiosk: only the hash of their offline PIN."""

    __tablename__ = "staff_roster_members"

    staff_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    #: The Argon2id hash the server gave (never the PIN).
    offline_pin_hash: Mapped[str] = mapped_column(String(200))
