"""The link checker's cache of URL answers (catalog.linkcheck_tables): a parallel branch from 0004.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.db import UTCDateTime

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_linkcheck",
        sa.Column("url_hash", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("error", sa.String(512), nullable=True),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("url_hash", name="pk_catalog_linkcheck"),
    )
    op.create_index("ix_catalog_linkcheck_checked_at", "catalog_linkcheck", ["checked_at"])


def downgrade() -> None:
    op.drop_table("catalog_linkcheck")
