"""Multi-attribute instances in the history: ``ngsi_temporal_instances`` gets ``dataset_id`` (NULL: the default
instance, an attribute without ``datasetId``) and ``created_at`` (epoch seconds at which the hub recorded the
instance, for ``timeproperty=createdAt`` / ``modifiedAt``).

One instant of one attribute may now hold one instance per datasetId, so the unique index that makes "the same
instant twice is one instance" (``ON CONFLICT DO NOTHING``) takes the dataset too. Unique indexes treat NULLs as
distinct on both databases, so it indexes ``coalesce(dataset_id, '')``: the default instance is one key, as each
datasetId is (an empty datasetId is not an absolute URI, so it never collides). The columns before it are those of
the index it replaces, so the history's reads (entity, attribute, time range) keep using it. A small partial index
lists the attributes that have instances with a datasetId at all: the hourly aggregates mix the datasets of an
attribute, and a query asks it whether it may read them (ngsi/temporal_aggregate.py).

Instances stored before this revision become default instances; their ``created_at`` is set to their ``ts`` (the
hub recorded them when they were observed, give or take a harvest interval: nothing better is known).

Downgrading drops the instances that carry a datasetId (the old unique key cannot hold two instances at one instant)
and rebuilds the hourly aggregates without them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ngsi.projection import rebuild_hours

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TABLE = "ngsi_temporal_instances"
UNIQUE = "ix_ngsi_temporal_instances_entity"
DATASETS = "ix_ngsi_temporal_instances_dataset"
WITH_DATASET = "dataset_id IS NOT NULL"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("dataset_id", sa.String(512), nullable=True))
    op.add_column(TABLE, sa.Column("created_at", sa.Float, nullable=True))
    op.execute(f"UPDATE {TABLE} SET created_at = ts")
    op.drop_index(UNIQUE, table_name=TABLE)
    key: list[str | sa.TextClause] = ["tenant", "entity_id", "attr", "ts", sa.text("coalesce(dataset_id, '')")]
    op.create_index(UNIQUE, TABLE, key, unique=True)
    where = sa.text(WITH_DATASET)
    op.create_index(DATASETS, TABLE, ["tenant", "entity_id", "attr"], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index(DATASETS, table_name=TABLE)
    op.drop_index(UNIQUE, table_name=TABLE)
    op.execute(f"DELETE FROM {TABLE} WHERE {WITH_DATASET}")
    op.create_index(UNIQUE, TABLE, ["tenant", "entity_id", "attr", "ts"], unique=True)
    op.drop_column(TABLE, "created_at")
    op.drop_column(TABLE, "dataset_id")
    rebuild_hours(op.get_bind())
