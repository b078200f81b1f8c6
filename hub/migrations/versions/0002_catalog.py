"""The catalogue: datasets keyed by their publisher's URI, and one provenance row per (dataset, source).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_datasets",
        sa.Column("uri", sa.String(512), nullable=False),
        sa.Column("city_id", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("issued", sa.String(64), nullable=True),
        sa.Column("modified", sa.String(64), nullable=True),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False),
        sa.Column("removed_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("uri", name="pk_catalog_datasets"),
    )
    op.create_index("ix_catalog_datasets_city_id_removed", "catalog_datasets", ["city_id", "removed"])
    op.create_index("ix_catalog_datasets_modified", "catalog_datasets", ["modified"])
    op.create_table(
        "catalog_provenance",
        sa.Column("dataset_uri", sa.String(512), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("city_id", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("last_run_id", sa.Integer, nullable=True),
        sa.Column("removed", sa.Boolean, nullable=False),
        sa.Column("removed_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("dataset_uri", "source_id", name="pk_catalog_provenance"),
        sa.ForeignKeyConstraint(
            ["dataset_uri"],
            ["catalog_datasets.uri"],
            name="fk_catalog_provenance_dataset_uri_catalog_datasets",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_catalog_provenance_source_id_removed", "catalog_provenance", ["source_id", "removed"])
    op.create_index("ix_catalog_provenance_city_id", "catalog_provenance", ["city_id"])


def downgrade() -> None:
    op.drop_table("catalog_provenance")
    op.drop_table("catalog_datasets")
