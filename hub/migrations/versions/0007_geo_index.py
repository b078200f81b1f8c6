"""The spatial index behind NGSI-LD geo-queries (ngsi.geo_index): one row per GeoProperty instance with its box,
searched through an R*Tree virtual table on SQLite and a GiST index on a built-in ``box`` expression on PostgreSQL.
Entities already stored are indexed here. A parallel branch from 0006.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ngsi.geo_index import POSTGRESQL_DOWN, POSTGRESQL_UP, SQLITE_DOWN, SQLITE_UP, rebuild_geo

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ngsi_geo_index",
        sa.Column("gid", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(512), nullable=False),
        sa.Column("attr", sa.String(256), nullable=False),
        sa.Column("min_lon", sa.Float, nullable=False),
        sa.Column("min_lat", sa.Float, nullable=False),
        sa.Column("max_lon", sa.Float, nullable=False),
        sa.Column("max_lat", sa.Float, nullable=False),
        sa.Column("geometry", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("gid", name="pk_ngsi_geo_index"),
    )
    op.create_index("ix_ngsi_geo_index_entity", "ngsi_geo_index", ["tenant", "entity_id", "attr"])
    for statement in SQLITE_UP if op.get_context().dialect.name == "sqlite" else POSTGRESQL_UP:
        op.execute(statement)
    # This backfill runs the current ngsi.geo_index code: a later revision that changes the table must move it.
    rebuild_geo(op.get_bind())


def downgrade() -> None:
    for statement in SQLITE_DOWN if op.get_context().dialect.name == "sqlite" else POSTGRESQL_DOWN:
        op.execute(statement)
    op.drop_table("ngsi_geo_index")
