"""Deletion history (ngsi.temporal_deletions): an attribute deleted from an entity leaves an instance that carries
``deletedAt`` (``timeproperty=deletedAt``), with NGSI-LD's null and the attribute's type, in its own table beside the
observed instances (so that the hourly aggregates and the index projection never count it);
``ngsi_temporal_deleted_entities`` remembers the type of each entity deleted through the API, so that its history
stays queryable once the entity is gone.

Revision ID: 0014
Revises: 0011 (the temporal tables' line: 0013, then 0011)
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ngsi_temporal_deletions",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(512), nullable=False),
        sa.Column("attr", sa.String(256), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "entity_id", "attr", "ts", name="pk_ngsi_temporal_deletions"),
    )
    op.create_table(
        "ngsi_temporal_deleted_entities",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("id", sa.String(512), nullable=False),
        sa.Column("type", sa.String(256), nullable=False),
        sa.Column("deleted_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_ngsi_temporal_deleted_entities"),
    )


def downgrade() -> None:
    op.drop_table("ngsi_temporal_deleted_entities")
    op.drop_table("ngsi_temporal_deletions")
