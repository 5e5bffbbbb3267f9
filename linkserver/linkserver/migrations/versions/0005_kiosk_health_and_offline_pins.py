"""Each kiosk's latest heartbeat, and the staff's offline PINs

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_health",
        sa.Column("client_id", sa.String(64), sa.ForeignKey("kiosk_clients.client_id"), primary_key=True),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("reader_state", sa.String(16), nullable=False),
        sa.Column("reader_name", sa.String(200), nullable=True),
        sa.Column("outbox_depth", sa.Integer(), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
    )
    with op.batch_alter_table("staff_members") as batch:
        batch.add_column(sa.Column("offline_pin_hash", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_members") as batch:
        batch.drop_column("offline_pin_hash")
    op.drop_table("kiosk_health")
