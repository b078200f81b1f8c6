"""PostgreSQL: room on every page of ngsi_entities for the next version of its rows (fillfactor 50).

A harvest rewrites the JSON of every entity whose values moved, every minute for a bike-share feed. None of the
columns it changes is indexed, so PostgreSQL can write the new version as a heap-only tuple — on the same page, with
no new entry in any of the table's four indexes — but only when the page has room for it. Full pages (the default
fillfactor of 100) made every such update a cold one: 20,000 updated stations took 370-470 ms, against 160-180 ms
with half of each page left free (psql \\timing on a copy of the bench's table, bench/harvest_pipeline.py). A table
whose rows are all rewritten every run is twice its live size in steady state anyway (the previous versions until
vacuum), so the room costs little disk it would not take. Pages written before this revision keep their layout
until the table is rewritten (``VACUUM FULL ngsi_entities``); this migration does not rewrite a live table.
SQLite has no such setting: nothing to do there.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

FILLFACTOR = 50


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ngsi_entities SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ngsi_entities RESET (fillfactor)")
