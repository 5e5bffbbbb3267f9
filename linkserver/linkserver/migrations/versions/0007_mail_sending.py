"""Sending the mail outbox: each notice's Message-ID, attempts and back-off; the salvage hand-offs

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RETRY_COLUMNS = ("attempts", "next_attempt_at", "claimed_by", "last_error", "failed_at")


def _retry_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(160), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("message_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("event", sa.String(32), nullable=True))
        for column in _retry_columns():
            batch.add_column(column)
        batch.create_unique_constraint("uq_mail_outbox_message_id", ["message_id"])
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["sent_at", "failed_at", "next_attempt_at"])
    op.create_table(
        "handoff_outbox",
        sa.Column("handoff_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("operation_id", sa.String(64), nullable=False, unique=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        *_retry_columns(),
    )


def downgrade() -> None:
    op.drop_table("handoff_outbox")
    op.drop_index("ix_mail_outbox_due", "mail_outbox")
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_constraint("uq_mail_outbox_message_id", type_="unique")
        for name in ("message_id", "event", *RETRY_COLUMNS):
            batch.drop_column(name)
