"""NGSI-LD query and discovery: which member types each stored type set holds (ngsi.tables.type_sets, for entities
with several types), and the attribute statistics of discovery (ngsi.attr_stats), counted here for the entities
already stored.

Revision ID: 0012
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ngsi.attr_stats import rebuild_stats

revision = "0012"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ngsi_type_sets",
        sa.Column("type_set", sa.String(256), nullable=False),
        sa.Column("member", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("type_set", "member", name="pk_ngsi_type_sets"),
    )
    op.create_index("ix_ngsi_type_sets_member", "ngsi_type_sets", ["member"])
    op.create_table(
        "ngsi_attr_stats",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("type", sa.String(256), nullable=False),
        sa.Column("attr", sa.String(256), nullable=False),
        sa.Column("attr_type", sa.String(64), nullable=False),
        sa.Column("entities", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "type", "attr", "attr_type", name="pk_ngsi_attr_stats"),
    )
    rebuild_stats(op.get_bind())


def downgrade() -> None:
    op.drop_table("ngsi_attr_stats")
    op.drop_table("ngsi_type_sets")
