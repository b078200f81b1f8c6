"""Tables of API keys, source registrations and the audit log. Only ``hub.auth`` (keys) and ``hub.officers``
(registrations, audit) issue SQL on them."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from hub.db import UTCDateTime, metadata

# A key is stored only as the sha256 of its token; the token itself is shown once, at creation.
auth_keys = Table(
    "auth_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("city", String(64), nullable=True),
    Column("label", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# Sources registered through the API, on top of cities.toml (which stays the declarative base).
registered_sources = Table(
    "registered_sources",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("city", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("definition", Text, nullable=False),  # the Source as JSON (kind, url, schedule, headers, options, …)
    Column("previewed", Boolean, nullable=False, default=False),
    Column("preview_run_id", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_registered_sources_city", "city"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),  # the key's label (or "cli" for the command line)
    Column("key_id", Integer, nullable=True),
    Column("city", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Index("ix_audit_log_city_at", "city", "at"),
)
