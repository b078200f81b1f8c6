"""NGSI-LD q on PostgreSQL: extended statistics on the attribute index, so the planner sees how common a value of
one attribute is.

A q term is an EXISTS lookup of (tenant, entity, attribute) rows with a value test. Estimated column by column, the
share of entities matching ``status=="working"`` (attr, path, text) or ``availableBikeNumber>5`` (attr, path,
num) came out dozens of times too small; for one tenant PostgreSQL then drove the query from the index rows and
sorted them (2.5 s at 1,000,000 stations instead of 2.4 ms walking the tenant's entities in id order,
bench/ngsi_query.py, EXPLAIN ANALYZE). Multivariate MCV lists on those column groups give the joint frequencies.
SQLite has no such statistics and needs none here: nothing to do there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

STATISTICS = {
    "st_ngsi_attr_index_text": "attr, path, text",
    "st_ngsi_attr_index_num": "attr, path, num",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in STATISTICS.items():
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {name} (mcv) ON {columns} FROM ngsi_attr_index")
    op.execute("ANALYZE ngsi_attr_index")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in STATISTICS:
        op.execute(f"DROP STATISTICS IF EXISTS {name}")
