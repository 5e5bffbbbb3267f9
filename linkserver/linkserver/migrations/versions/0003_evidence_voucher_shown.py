"""Offline evidence: whether the kiosk showed the user the voucher

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("offline_evidence", sa.Column("voucher_shown", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("offline_evidence") as batch:
        batch.drop_column("voucher_shown")
