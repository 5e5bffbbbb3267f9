"""Named staff, counters, and the console's sessions

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("counter_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "staff_members",
        sa.Column("staff_id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_sealed", sa.LargeBinary(128), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "staff_counters",
        sa.Column("staff_id", sa.String(64), sa.ForeignKey("staff_members.staff_id"), primary_key=True),
        sa.Column("counter_id", sa.String(64), sa.ForeignKey("counters.counter_id"), primary_key=True),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("staff_id", sa.String(64), sa.ForeignKey("staff_members.staff_id"), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("pending_totp", sa.LargeBinary(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_staff_id", "console_sessions", ["staff_id"])
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    with op.batch_alter_table("kiosk_clients") as batch:
        batch.add_column(sa.Column("counter_id", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_kiosk_clients_counter", "counters", ["counter_id"], ["counter_id"])


def downgrade() -> None:
    with op.batch_alter_table("kiosk_clients") as batch:
        batch.drop_constraint("fk_kiosk_clients_counter", type_="foreignkey")
        batch.drop_column("counter_id")
    op.drop_table("console_sessions")
    op.drop_table("staff_counters")
    op.drop_table("staff_members")
    op.drop_table("counters")
