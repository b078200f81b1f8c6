"""Entities with several types (``"type": ["A", "B"]``): which member types each stored type set holds
(ngsi.tables.type_sets), so a type query stays an indexed ``type IN (…)``.

Revision ID: 0012
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

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


def downgrade() -> None:
    op.drop_table("ngsi_type_sets")
