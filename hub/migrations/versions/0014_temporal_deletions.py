"""Deletion history (ngsi.temporal): an attribute deleted from an entity leaves an instance that carries
``deletedAt`` (NGSI-LD clause 4.5.x, ``timeproperty=deletedAt``), kept apart from the observed values by
``deleted`` and typed by ``kind`` (the attribute is gone from the entity, so its type is kept with the instance).
Existing rows are observations: ``deleted`` false, ``kind`` unknown (the entity's current type applies).

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


def downgrade() -> None:
    op.execute("DELETE FROM ngsi_temporal_instances WHERE deleted")
    with op.batch_alter_table("ngsi_temporal_instances") as batch:
        batch.drop_column("kind")
        batch.drop_column("deleted")
