"""Deletions per attribute instance: ``ngsi_temporal_deletions`` is keyed by a row number (``pk``) instead of
(tenant, entity, attribute, deletedAt), with an index on those columns for the reads.

Deleting every instance of an attribute at once (``deleteAll=true``, a replace or merge that drops it, the entity
deleted) records one deletion per instance, each with its datasetId, at one instant: the old key held one deletion
per attribute and instant, so such a deletion was recorded once, without its datasetId.

Downgrading keeps one deletion per attribute and instant (the first one recorded), as the old key can hold only that.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TABLE = "ngsi_temporal_deletions"
OLD = "ngsi_temporal_deletions_0020"
INDEX = "ix_ngsi_temporal_deletions_entity"
KEY = "pk_ngsi_temporal_deletions"  # both keys' name, as the tables' naming convention gives it
COLUMNS = "tenant, entity_id, attr, ts, kind, value, dataset_id"


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(512), nullable=False),
        sa.Column("attr", sa.String(256), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("dataset_id", sa.String(512), nullable=True),
    ]


def _set_aside() -> None:
    """Rename the table; on PostgreSQL its key's name (an index there) is freed for the new table's."""
    op.rename_table(TABLE, OLD)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(KEY, OLD, type_="primary")


def upgrade() -> None:
    _set_aside()
    row = sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True)
    op.create_table(TABLE, row, *_columns(), sa.PrimaryKeyConstraint("pk", name=KEY))
    op.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD} ORDER BY ts")
    op.drop_table(OLD)
    op.create_index(INDEX, TABLE, ["tenant", "entity_id", "attr", "ts"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    _set_aside()
    op.create_table(TABLE, *_columns(), sa.PrimaryKeyConstraint("tenant", "entity_id", "attr", "ts", name=KEY))
    first = f"SELECT min(pk) FROM {OLD} GROUP BY tenant, entity_id, attr, ts"
    op.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD} WHERE pk IN ({first})")
    op.drop_table(OLD)
