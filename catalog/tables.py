"""Tables of the dataset domain. Only ``catalog.store`` issues SQL on them.

A dataset is keyed by the URI its publisher gave it; the hub never mints a second one. Every path a dataset arrived
by (a city's CKAN portal, the national DCAT feed…) is one row of ``catalog_provenance``, so one dataset harvested
from two sources is one ``catalog_datasets`` row with two provenance rows.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from hub.db import UTCDateTime, metadata

MAX_URI_LENGTH = 512  # as entity ids and harvest item record ids; a longer URI is refused, never truncated

# ``data`` is the dataset (with its distributions) as compact JSON, see ``catalog.store.dataset_to_json``.
# ``content_hash`` is the hash of the content currently stored; ``issued``/``modified`` are the publisher's own
# dates exactly as published (strings: sources mix dates, date-times and zones), never the harvest time.
datasets = Table(
    "catalog_datasets",
    metadata,
    Column("uri", String(MAX_URI_LENGTH), primary_key=True),
    Column("city_id", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("content_hash", String(128), nullable=False),
    Column("issued", String(64), nullable=True),
    Column("modified", String(64), nullable=True),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),  # when the hub last rewrote ``data``
    Column("removed", Boolean, nullable=False, default=False),
    Column("removed_at", UTCDateTime, nullable=True),
    Index("ix_catalog_datasets_city_id_removed", "city_id", "removed"),
    Index("ix_catalog_datasets_modified", "modified"),
)

# One row per (dataset, source): the source vouches for the dataset until it stops listing it (``removed``).
# ``content_hash`` is what this source last delivered, so two sources describing one dataset differently do not
# rewrite it on every run.
provenance = Table(
    "catalog_provenance",
    metadata,
    Column(
        "dataset_uri",
        String(MAX_URI_LENGTH),
        ForeignKey("catalog_datasets.uri", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("source_id", String(128), primary_key=True),
    Column("city_id", String(64), nullable=False),
    Column("content_hash", String(128), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("last_run_id", Integer, nullable=True),  # harvest_runs.id; no foreign key: runs are another domain's
    Column("removed", Boolean, nullable=False, default=False),
    Column("removed_at", UTCDateTime, nullable=True),
    Index("ix_catalog_provenance_source_id_removed", "source_id", "removed"),
    Index("ix_catalog_provenance_city_id", "city_id"),
)
