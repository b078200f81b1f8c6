"""NGSI-LD reads at scale (ngsi.tables): pages of a type in id order, hourly partial aggregates of the history.

``GET /entities?type=T&limit=100`` orders by id: with only (type, tenant) the database read and sorted every
entity of the type (a million in the benchmark) to return a hundred; (type, id, tenant) hands them over in order,
and (type, tenant, id), replacing (type, tenant), does the same within one tenant.
``ngsi_temporal_hours`` holds per-hour counts, sums, minima and maxima of the history (ngsi.temporal_hours), filled
here from the instances already stored. A parallel branch from 0006.

Revision ID: 0013
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ngsi.temporal_hours import rebuild

revision = "0013"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ngsi_entities_type_id", "ngsi_entities", ["type", "id", "tenant"])
    op.drop_index("ix_ngsi_entities_type_tenant", table_name="ngsi_entities")
    op.create_index("ix_ngsi_entities_type_tenant_id", "ngsi_entities", ["type", "tenant", "id"])
    op.create_table(
        "ngsi_temporal_hours",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(512), nullable=False),
        sa.Column("attr", sa.String(256), nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("n_num", sa.Integer, nullable=False),
        sa.Column("total", sa.Float, nullable=True),
        sa.Column("low", sa.Float, nullable=True),
        sa.Column("high", sa.Float, nullable=True),
        sa.Column("squares", sa.Float, nullable=True),
        sa.Column("ts_first", sa.Float, nullable=False),
        sa.Column("ts_last", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "entity_id", "attr", "hour", name="pk_ngsi_temporal_hours"),
    )
    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("ngsi_temporal_hours")
    op.drop_index("ix_ngsi_entities_type_tenant_id", table_name="ngsi_entities")
    op.create_index("ix_ngsi_entities_type_tenant", "ngsi_entities", ["type", "tenant"])
    op.drop_index("ix_ngsi_entities_type_id", table_name="ngsi_entities")
