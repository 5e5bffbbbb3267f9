"""The audit chain's head in a row of its own, the chain's lock

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    # The head as the log stands: its newest entry, or none yet.
    op.execute(sa.text(
        "INSERT INTO audit_head (id, seq, entry_hash) "
        "SELECT 1, COALESCE(MAX(seq), 0), COALESCE((SELECT entry_hash FROM audit_log "
        "WHERE seq = (SELECT MAX(seq) FROM audit_log)), :genesis) FROM audit_log"
    ).bindparams(genesis=GENESIS))


def downgrade() -> None:
    op.drop_table("audit_head")
