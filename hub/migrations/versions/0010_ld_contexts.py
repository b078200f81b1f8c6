"""JSON-LD @contexts added at run time (ngsi.tables.ld_contexts): a parallel branch from 0006.

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.db import UTCDateTime

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ngsi_ld_contexts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ngsi_ld_contexts"),
        sa.UniqueConstraint("url", name="uq_ngsi_ld_contexts_url"),
    )


def downgrade() -> None:
    op.drop_table("ngsi_ld_contexts")
