"""The link checker's cache: one row per URL with its last answer. Only ``catalog.linkcheck`` issues SQL on it.

URLs are keyed by their SHA-256 (hex) so any length fits an indexable primary key on both databases; ``url`` keeps
the text. ``ok`` is what the MQA URL indicators read: the URL answered 2xx or 3xx (after the redirects the SSRF
guard allowed). ``status`` is the final HTTP status, None when no answer came (timeout, refused, unreachable).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from hub.db import UTCDateTime, metadata

linkcheck = Table(
    "catalog_linkcheck",
    metadata,
    Column("url_hash", String(64), primary_key=True),
    Column("url", Text, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("status", Integer, nullable=True),
    Column("error", String(512), nullable=True),
    Column("checked_at", UTCDateTime, nullable=False),
    Index("ix_catalog_linkcheck_checked_at", "checked_at"),
)
