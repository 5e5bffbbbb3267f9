"""The builtin MFA backend's TOTP secrets, sealed, one per account

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_totp",
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.account_id"), primary_key=True),
        sa.Column("secret_sealed", sa.LargeBinary(128), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirm_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("account_totp")
