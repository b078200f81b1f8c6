"""The attribute index behind the NGSI-LD ``q`` query (ngsi.attr_index); entities already stored are indexed here
(the upsert skips unchanged entities, so they would otherwise never get their rows).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ngsi.attr_index import rebuild_index

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ngsi_attr_index",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(512), nullable=False),
        sa.Column("attr", sa.String(256), nullable=False),
        sa.Column("path", sa.String(256), nullable=False),
        sa.Column("dataset_id", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("num", sa.Float, nullable=True),
        sa.Column("text", sa.String(512), nullable=True),
        sa.Column("bool", sa.Boolean, nullable=True),
        sa.Column("ts", sa.Float, nullable=True),
    )
    op.create_index("ix_ngsi_attr_index_tenant_entity_id", "ngsi_attr_index", ["tenant", "entity_id", "attr"])
    rebuild_index(op.get_bind())


def downgrade() -> None:
    op.drop_table("ngsi_attr_index")
