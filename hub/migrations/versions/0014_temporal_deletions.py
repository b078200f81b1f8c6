"""Deletion history (ngsi.temporal): an attribute deleted from an entity leaves an instance that carries
``deletedAt`` (NGSI-LD clause 4.5.x, ``timeproperty=deletedAt``), kept apart from the observed values by
``deleted`` and typed by ``kind`` (the attribute is gone from the entity, so its type is kept with the instance).
Existing rows are observations: ``deleted`` false, ``kind`` unknown (the entity's current type applies).
``ngsi_temporal_deleted_entities`` remembers the type of each entity deleted through the API, so that its
history stays queryable with ``timeproperty=deletedAt`` once the entity is gone.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ngsi_temporal_instances") as batch:
        batch.add_column(sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("kind", sa.String(32), nullable=True))
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
    op.execute("DELETE FROM ngsi_temporal_instances WHERE deleted")
    with op.batch_alter_table("ngsi_temporal_instances") as batch:
        batch.drop_column("kind")
        batch.drop_column("deleted")
