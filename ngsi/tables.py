"""Tables of the context-information domain. Only ``ngsi.store`` issues SQL on them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table, Text, func, literal_column

from hub.db import UTCDateTime, metadata

# One row per entity and tenant. ``data`` is the entity in normalized form as compact JSON, ready to send: the
# API assembles responses from it without re-validating (orjson pass-through).
entities = Table(
    "ngsi_entities",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("id", String(512), primary_key=True),
    Column("type", String(256), nullable=False),
    Column("scope", String(256), nullable=True),
    Column("data", Text, nullable=False),
    Column("source_id", String(128), nullable=True),
    Column("removed", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("modified_at", UTCDateTime, nullable=False),
    # {attribute: [createdAt, modifiedAt]} in epoch milliseconds, for entities written through the API; NULL: each
    # attribute carries the entity's own timestamps (harvested entities). See ngsi/stamps.py, migration 0018.
    Column("attr_stamps", Text, nullable=True),
    # Pages of a type in id order (the API's order) straight from an index, without sorting the whole type: across
    # tenants (the federated view) and within one.
    Index("ix_ngsi_entities_type_id", "type", "id", "tenant"),
    Index("ix_ngsi_entities_type_tenant_id", "type", "tenant", "id"),
    Index("ix_ngsi_entities_source_id", "source_id"),
)

# Attribute history: one row per change of an observed value. ``ts`` is seconds since the epoch (UTC) so that
# bucketing for aggregation is plain arithmetic on both databases. ``dataset_id`` is the instance's datasetId (NULL:
# the default instance), ``created_at`` when the hub recorded it (epoch seconds; timeproperty=createdAt/modifiedAt:
# an instance is never modified in place). Migration 0017.
temporal_instances = Table(
    "ngsi_temporal_instances",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("entity_id", String(512), nullable=False),
    Column("attr", String(256), nullable=False),
    Column("ts", Float, nullable=False),
    Column("value_num", Float, nullable=True),
    Column("value", Text, nullable=False),
    Column("dataset_id", String(512), nullable=True),
    Column("created_at", Float, nullable=True),
    Column("modified_at", Float, nullable=True),  # migration 0018: NULL until PATCH …/attrs/{attr}/{instanceId}
)
# One instance per instant, attribute and datasetId: the default instance (NULL) is one key through the coalesce,
# since unique indexes take NULLs as distinct. SQLite's reflection cannot read an index on an expression, so the
# migrations test checks this one by name (tests/hub/test_db.py).
INSTANCE_KEY = "ix_ngsi_temporal_instances_entity"
Index(
    INSTANCE_KEY,
    temporal_instances.c.tenant,
    temporal_instances.c.entity_id,
    temporal_instances.c.attr,
    temporal_instances.c.ts,
    func.coalesce(temporal_instances.c.dataset_id, literal_column("''")),
    unique=True,
)
# The attributes that have instances with a datasetId (few: harvests write none), so that a query can tell cheaply
# whether the hourly aggregates, which mix an attribute's datasets, may answer it (ngsi.temporal_aggregate).
_WITH_DATASET = temporal_instances.c.dataset_id.isnot(None)
Index(
    "ix_ngsi_temporal_instances_dataset",
    temporal_instances.c.tenant,
    temporal_instances.c.entity_id,
    temporal_instances.c.attr,
    sqlite_where=_WITH_DATASET,
    postgresql_where=_WITH_DATASET,
)

# Deletions of attributes through the API (ngsi.temporal_deletions): an instance with ``deletedAt`` = ``ts``, NGSI-LD's
# null as its value and the attribute's type at the time (the attribute is gone from the entity). Apart from the
# observed instances, so that hourly aggregates and the index projection never see them.
# One row per instance deleted (migration 0021): deleting a whole attribute records each of its instances.
temporal_deletions = Table(
    "ngsi_temporal_deletions",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("entity_id", String(512), nullable=False),
    Column("attr", String(256), nullable=False),
    Column("ts", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("value", Text, nullable=False),
    # migration 0019: the datasetId of the instance deleted (NULL: the default instance; before migration 0021,
    # every instance of an attribute deleted whole)
    Column("dataset_id", String(512), nullable=True),
    Index("ix_ngsi_temporal_deletions_entity", "tenant", "entity_id", "attr", "ts"),
)

# Changes of attributes that carry no observedAt, as API writes make them (ngsi/stamps.py): they have no instant
# of observation, so observedAt queries and the hourly aggregates never see them; timeproperty=createdAt or
# modifiedAt (when the hub recorded a change) reads them beside the observed instances. ``created_at``: epoch
# seconds. Migration 0020.
temporal_changes = Table(
    "ngsi_temporal_changes",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("entity_id", String(512), nullable=False),
    Column("attr", String(256), nullable=False),
    Column("dataset_id", String(512), nullable=True),
    Column("value", Text, nullable=False),
    Column("value_num", Float, nullable=True),  # as the instances': a number's value, for the aggregates
    Column("created_at", Float, nullable=False),
    Index("ix_ngsi_temporal_changes_entity", "tenant", "entity_id", "attr", "created_at"),
)

# Entities deleted through the API, with the type they had: their history (the deletions of their attributes) stays
# queryable with timeproperty=deletedAt after the entity itself is gone (ngsi.temporal).
temporal_deleted_entities = Table(
    "ngsi_temporal_deleted_entities",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("id", String(512), primary_key=True),
    Column("type", String(256), nullable=False),
    Column("deleted_at", Float, nullable=False),
)

# JSON-LD @contexts added at run time (`nordhub contexts add`, POST /jsonldContexts, or fetched when
# NORDHUB_CONTEXT_FETCH allows it). In the database rather than on disk so that every API process on one
# PostgreSQL sees a context as soon as one of them stored it. The official contexts are files (ngsi.contexts).
ld_contexts = Table(
    "ngsi_ld_contexts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("url", String(2048), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Entities typed with several types keep them all in ``entities.type`` as one "type set": the sorted, distinct
# types joined by commas (a comma cannot be queried inside a type name anyway: it separates types in ``type=``).
# This small table lists each set's member types, so ``type=A`` becomes ``type IN ('A', 'A,B', …)`` on the
# entities' index instead of a scan.
type_sets = Table(
    "ngsi_type_sets",
    metadata,
    Column("type_set", String(256), primary_key=True),
    Column("member", String(256), primary_key=True),
    Index("ix_ngsi_type_sets_member", "member"),
)

# Partial aggregates of the history per UTC hour (``hour`` = floor(ts / 3600)), kept by ``ngsi.temporal_hours`` in
# the transaction that adds the instances. Aggregating over whole hours (PT1H, P1D… from an hour boundary) reads
# these, one row per hour, instead of every instance: a week of minute data is 168 rows per attribute, not 10,080.
temporal_hours = Table(
    "ngsi_temporal_hours",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("entity_id", String(512), primary_key=True),
    Column("attr", String(256), primary_key=True),
    Column("hour", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("n_num", Integer, nullable=False),
    Column("total", Float, nullable=True),
    Column("low", Float, nullable=True),
    Column("high", Float, nullable=True),
    Column("squares", Float, nullable=True),
    Column("ts_first", Float, nullable=False),
    Column("ts_last", Float, nullable=False),
)


def type_column(kind: Any) -> str:
    """What ``entities.type`` holds: the type, or for several types their type set (sorted, distinct, comma-joined)."""
    if isinstance(kind, list):
        members = sorted({str(k) for k in kind})
        return members[0] if len(members) == 1 else ",".join(members)
    return str(kind)
