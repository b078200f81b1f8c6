"""The index queue (ngsi.projection): writes queue their entities, and the query indexes catch up from it.

Revision ID: 0011
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ngsi_index_queue",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(512), nullable=False),
        sa.Column("before", sa.Text, nullable=True),
    )
    op.create_index("ix_ngsi_index_queue_entity", "ngsi_index_queue", ["tenant", "entity_id"])


def downgrade() -> None:
    op.drop_table("ngsi_index_queue")
