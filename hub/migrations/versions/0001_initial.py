"""Initial schema: NGSI-LD entities and their history, harvest runs and items.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ngsi_entities",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("id", sa.String(512), nullable=False),
        sa.Column("type", sa.String(256), nullable=False),
        sa.Column("scope", sa.String(256), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("source_id", sa.String(128), nullable=True),
        sa.Column("removed", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("modified_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_ngsi_entities"),
    )
    op.create_index("ix_ngsi_entities_type_tenant", "ngsi_entities", ["type", "tenant"])
    op.create_index("ix_ngsi_entities_source_id", "ngsi_entities", ["source_id"])
    op.create_table(
        "ngsi_temporal_instances",
        sa.Column("pk", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(512), nullable=False),
        sa.Column("attr", sa.String(256), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("value_num", sa.Float, nullable=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_ngsi_temporal_instances"),
    )
    op.create_index(
        "ix_ngsi_temporal_instances_entity",
        "ngsi_temporal_instances",
        ["tenant", "entity_id", "attr", "ts"],
        unique=True,
    )
    op.create_table(
        "harvest_runs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("city_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_harvest_runs"),
    )
    op.create_index("ix_harvest_runs_source_id_started_at", "harvest_runs", ["source_id", "started_at"])
    op.create_table(
        "harvest_items",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("record_id", sa.String(512), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_harvest_items"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["harvest_runs.id"], name="fk_harvest_items_run_id_harvest_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_harvest_items_run_id_state", "harvest_items", ["run_id", "state"])


def downgrade() -> None:
    op.drop_table("harvest_items")
    op.drop_table("harvest_runs")
    op.drop_table("ngsi_temporal_instances")
    op.drop_table("ngsi_entities")
