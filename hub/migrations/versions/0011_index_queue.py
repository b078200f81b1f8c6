"""The index queue (ngsi.projection): writes queue their entities, and the query indexes catch up from it;
on SQLite, the mark up to which the hourly aggregates count the history (every instance so far: they were kept
in step by the writes until now).

Revision ID: 0011
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ngsi.projection import rebuild_state

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
        sa.Column("hour_first", sa.Integer, nullable=True),
        sa.Column("hour_last", sa.Integer, nullable=True),
    )
    op.create_index("ix_ngsi_index_queue_entity", "ngsi_index_queue", ["tenant", "entity_id"])
    op.create_table(
        "ngsi_index_state",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("entity_id", sa.String(512), primary_key=True),
        sa.Column("signature", sa.Text, nullable=False),
    )
    rebuild_state(op.get_bind())  # what the statistics count today, entity by entity
    op.create_table(
        "ngsi_projection_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    )
    op.execute(
        "INSERT INTO ngsi_projection_state (name, value) "
        "SELECT 'hours', coalesce(max(pk), 0) FROM ngsi_temporal_instances"
    )


def downgrade() -> None:
    op.drop_table("ngsi_projection_state")
    op.drop_table("ngsi_index_state")
    op.drop_table("ngsi_index_queue")
