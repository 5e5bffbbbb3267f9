"""The staff roster for offline approvals, as the server last gave it

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
    op.create_table(
        "staff_roster",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_staff_roster_single"),
    )
    op.create_table(
        "staff_roster_members",
        sa.Column("staff_id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("offline_pin_hash", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff_roster_members")
    op.drop_table("staff_roster")
