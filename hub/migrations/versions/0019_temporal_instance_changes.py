"""Changes to single attribute instances: ``ngsi_temporal_instances`` gets ``modified_at`` (epoch seconds of the
last ``PATCH /temporal/entities/{id}/attrs/{attr}/{instanceId}``; NULL: never modified, ``created_at`` stands for
it), and ``ngsi_temporal_deletions`` gets ``dataset_id``, so that ``DELETE /entities/{id}/attrs/{attr}?datasetId=X``
records the deletion of that instance only (NULL: the default instance, or, after ``deleteAll``, every one).

Both columns are nullable and start empty: nothing was modified or deleted per datasetId before this revision.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ngsi_temporal_instances", sa.Column("modified_at", sa.Float, nullable=True))
    op.add_column("ngsi_temporal_deletions", sa.Column("dataset_id", sa.String(512), nullable=True))


def downgrade() -> None:
    # The deletions of one datasetId would read as deletions of the default instance: they go.
    op.execute("DELETE FROM ngsi_temporal_deletions WHERE dataset_id IS NOT NULL")
    op.drop_column("ngsi_temporal_deletions", "dataset_id")
    op.drop_column("ngsi_temporal_instances", "modified_at")
