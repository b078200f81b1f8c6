"""Tables of harvest runs and their items. Only ``harvester.store`` issues SQL on them."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from hub.db import UTCDateTime, metadata

harvest_runs = Table(
    "harvest_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", String(128), nullable=False),
    Column("city_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(32), nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("counts", Text, nullable=False, default="{}"),
    Column("bytes", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("mode", String(16), nullable=False, server_default="full"),
    Index("ix_harvest_runs_source_id_started_at", "source_id", "started_at"),
)

# One row per record a run touched other than "unchanged": its state and its findings (JSON list).
harvest_items = Table(
    "harvest_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("harvest_runs.id", ondelete="CASCADE"), nullable=False),
    Column("record_id", String(512), nullable=False),
    Column("state", String(16), nullable=False),
    Column("findings", Text, nullable=False, default="[]"),
    Index("ix_harvest_items_run_id_state", "run_id", "state"),
)

# Raw payloads, kept compressed and stored once per distinct body (sha256) per source and URL, so that a run can be
# re-imported without the network and the next fetch can be conditional (ETag / Last-Modified).
harvest_payloads = Table(
    "harvest_payloads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", String(128), nullable=False),
    Column("url", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("headers", Text, nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Index("ix_harvest_payloads_source_id_sha256", "source_id", "sha256"),
)

# Which payloads each run fetched, in order, under the URL that was asked for.
harvest_run_payloads = Table(
    "harvest_run_payloads",
    metadata,
    Column("run_id", Integer, ForeignKey("harvest_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("payload_id", Integer, ForeignKey("harvest_payloads.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("not_modified", Boolean, nullable=False),
    Index("ix_harvest_run_payloads_payload_id", "payload_id"),
)
