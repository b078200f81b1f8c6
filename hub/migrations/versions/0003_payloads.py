"""Raw payloads of harvest runs (re-import, conditional GET) and the run mode.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("harvest_runs") as batch:
        batch.add_column(sa.Column("mode", sa.String(16), nullable=False, server_default="full"))
    op.create_table(
        "harvest_payloads",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_harvest_payloads"),
    )
    op.create_index("ix_harvest_payloads_source_id_sha256", "harvest_payloads", ["source_id", "sha256"])
    op.create_table(
        "harvest_run_payloads",
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("payload_id", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("not_modified", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "seq", name="pk_harvest_run_payloads"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["harvest_runs.id"], name="fk_harvest_run_payloads_run_id_harvest_runs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["payload_id"],
            ["harvest_payloads.id"],
            name="fk_harvest_run_payloads_payload_id_harvest_payloads",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_harvest_run_payloads_payload_id", "harvest_run_payloads", ["payload_id"])


def downgrade() -> None:
    op.drop_table("harvest_run_payloads")
    op.drop_table("harvest_payloads")
    with op.batch_alter_table("harvest_runs") as batch:
        batch.drop_column("mode")
