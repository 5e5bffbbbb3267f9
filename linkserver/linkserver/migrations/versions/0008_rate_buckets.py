"""Rate limits in the database, shared by every worker process

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("bucket", sa.LargeBinary(32), primary_key=True),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_rate_buckets_updated_at", "rate_buckets", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_buckets_updated_at", "rate_buckets")
    op.drop_table("rate_buckets")
