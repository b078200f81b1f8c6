"""Attribute-level system timestamps: ``ngsi_entities.attr_stamps``.

``options=sysAttrs`` shows ``createdAt`` and ``modifiedAt`` on every attribute, and ``orderBy=a.createdAt`` orders
by them (GS CIM 009 4.8, 4.23). The column holds, for entities written through the API, a JSON object
``{attribute: [created, modified]}`` in epoch milliseconds (``ngsi.stamps``). NULL - every entity stored before
this revision, and every harvested one - means each attribute carries the entity's own ``createdAt`` and
``modifiedAt``: a harvest replaces a changed entity whole, and tracking each attribute there would cost the
harvest a parse and a comparison per attribute of every moved entity (bench/harvest_pipeline.py).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ngsi_entities", sa.Column("attr_stamps", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("ngsi_entities", "attr_stamps")
