"""Changes of attributes without ``observedAt``: ``ngsi_temporal_changes``.

An attribute that carries no ``observedAt`` has no instant of observation, so the history of observed values
(``ngsi_temporal_instances``) holds nothing of it. Its changes made through the API are kept here, with when the hub
recorded them, for ``timeproperty=createdAt`` / ``modifiedAt`` (ETSI 021_23 asks the history of entities created
without any ``observedAt``). Apart from the observed instances, so that observedAt queries and the hourly aggregates
never see them. Starts empty: nothing of such changes was kept before this revision.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLE = "ngsi_temporal_changes"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(512), nullable=False),
        sa.Column("attr", sa.String(256), nullable=False),
        sa.Column("dataset_id", sa.String(512), nullable=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("value_num", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_ngsi_temporal_changes_entity", TABLE, ["tenant", "entity_id", "attr", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_ngsi_temporal_changes_entity", table_name=TABLE)
    op.drop_table(TABLE)
