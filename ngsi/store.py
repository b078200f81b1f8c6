"""Writes of NGSI-LD entities and their history, and lookups of single entities (pages: ngsi/entity_pages.py).

Writes are bulk SQLAlchemy Core statements in the caller's transaction (the ORM is several times slower for the
harvest's batch upserts). Entities are kept as compact JSON so reads can send them without re-parsing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, func, select, update

from hub.collector import collection_paused
from hub.driver import copy_rows, driver_rows
from ngsi import projection, temporal_hours
from ngsi import stamps as attribute_stamps
from ngsi.attr_index import analyze_when_grown
from ngsi.observed import MEMORY, changed_instances, unobserved_changes
from ngsi.tables import entities, temporal_instances, type_column, type_sets

CHUNK = 500  # ids per IN (...) lookup; stays under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class EntityWrite:
    """One entity to create or update, in normalized form, under a tenant."""

    tenant: str
    entity: dict[str, Any]
    scope: str | None = None
    source_id: str | None = None
    # Keep each attribute's createdAt/modifiedAt (ngsi/stamps.py): API writes; a harvest's are the entity's own.
    track: bool = False

    @property
    def id(self) -> str:
        return str(self.entity["id"])

    def stored(self) -> dict[str, Any]:
        """The entity as kept: a harvested entity carries its city's scope as its ``scope`` member."""
        if self.scope is None or "scope" in self.entity:
            return self.entity
        entity = self.entity
        if "id" in entity and "type" in entity:  # the usual case, in one copy (same member order as below)
            stored: dict[str, Any] = {"id": entity["id"], "type": entity["type"], "scope": self.scope}
            stored.update(entity)
            return stored
        head: dict[str, Any] = {k: entity[k] for k in ("id", "type") if k in entity}
        return {**head, "scope": self.scope, **entity}


class StoredEntity(NamedTuple):
    """One entity as read for a response: its stored JSON and its system timestamps (for ``sysAttrs``).

    The timestamps are None when the query did not read them (:func:`select_entities` with ``timestamps=False``).
    A named tuple, not a frozen dataclass: a page builds a hundred of them per request, and a frozen dataclass
    took 1.4 µs each, a tenth of ``GET /entities?type=T&limit=100`` on PostgreSQL (bench/ngsi_http.py, py-spy).
    """

    data: str
    created_at: datetime | None = None
    modified_at: datetime | None = None
    attr_stamps: str | None = None  # the attributes' own timestamps, when any (ngsi/stamps.py)


def scope_column(scope: Any) -> str | None:
    """What ``entities.scope`` holds: the scope, or several scopes comma-joined (scopeQ matches each)."""
    if isinstance(scope, list):
        return ",".join(str(s) for s in scope) or None
    return None if scope is None else str(scope)


@dataclass(slots=True)
class UpsertResult:
    """Which ids a batch upsert created, updated (a value changed) or left unchanged."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    instances: int = 0


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(conn: Connection, tenant: str, ids: Sequence[str]) -> dict[str, tuple[str, bool, tuple[Any, ...]]]:
    """id → (stored JSON, removed flag, (type, scope, source id)) of the ids that exist under ``tenant``.

    One statement for the whole batch, the ids passed as one array (PostgreSQL) or one JSON text (SQLite): half
    the time of 500-id IN lists built by SQLAlchemy for a 20,000-entity snapshot.
    """
    if not ids:
        return {}
    # On the driver's own cursor: SQLAlchemy's row iteration cost a sixth of the lookup (SQLite, 20,000 rows).
    if conn.dialect.name == "postgresql":
        rows = driver_rows(conn, _EXISTING_ANY, (tenant, list(ids)))
    else:
        rows = driver_rows(conn, _EXISTING_JSON, (tenant, orjson.dumps(list(ids)).decode()))
    return {
        entity_id: (data, bool(removed), (kind, scope, source))
        for entity_id, data, removed, kind, scope, source in rows
    }


_EXISTING_ANY = "SELECT id, data, removed, type, scope, source_id FROM ngsi_entities WHERE tenant = %s AND id = ANY(%s)"
_EXISTING_JSON = (
    "SELECT id, data, removed, type, scope, source_id FROM ngsi_entities WHERE tenant = ? "
    "AND id IN (SELECT value FROM json_each(?))"
)
_NOT_STORED: tuple[None, bool, tuple[Any, ...]] = (None, False, ())


def upsert_entities(conn: Connection, writes: Sequence[EntityWrite], *, now: datetime) -> UpsertResult:
    """Create or replace entities in one batch; record each changed observed value as a temporal instance."""
    result = UpsertResult()
    by_tenant: dict[str, list[EntityWrite]] = {}
    for write in writes:
        by_tenant.setdefault(write.tenant, []).append(write)
    stamp = _db_time(conn, now)
    with collection_paused():  # a batch allocates several containers per entity: see hub/collector.py
        for tenant, group in by_tenant.items():
            _upsert_tenant(conn, tenant, group, (stamp, now.timestamp()), result)
    return result


@dataclass(slots=True)
class _Changes:
    """What one tenant's share of a batch writes: entity rows, history, and the index queue's rows."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    # Rows of stored entities whose type, scope and source stay: only their JSON changes (see _write).
    same_keys: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)
    queued: list[projection.Queued] = field(default_factory=list)  # see ngsi/projection.py
    # Tracked writes (EntityWrite.track): (id, the entity written, the stored entity's JSON or None, revived).
    tracked: list[tuple[str, dict[str, Any], str | None, bool]] = field(default_factory=list)


def _upsert_tenant(
    conn: Connection, tenant: str, group: list[EntityWrite], stamps: tuple[Any, float], result: UpsertResult
) -> None:
    """One tenant's share of a batch: entity rows, the history, and the queue that brings the indexes in step.

    ``stamps``: the write's time as the entity rows store it, and in epoch seconds for the instances' created_at."""
    created = len(result.created)
    old = _existing(conn, tenant, [w.id for w in group])
    changes = _diff(tenant, group, old, stamps, result, conn.dialect.name)
    _register_type_sets(conn, {r[2] for r in changes.rows if "," in r[2]})
    own, unobserved = _tracked(conn, tenant, changes.tracked, stamps[1]) if changes.tracked else ([], [])
    _write(conn, changes.rows, _UPSERT)
    _write_same_keys(conn, changes.same_keys)
    if own:
        conn.exec_driver_sql(_driver_sql(conn, _STAMPS), own)
    if unobserved:
        conn.exec_driver_sql(_driver_sql(conn, _CHANGES), unobserved)
    # Stale statistics would make the planner scan the table for every id lookup of the next run.
    analyze_when_grown(conn, "ngsi_entities", len(result.created) - created, threshold=1000)
    projection.enqueue(conn, changes.queued)
    # PostgreSQL: the hours of these instances are recomputed from the queue (ngsi/projection.py).
    result.instances += insert_history(conn, changes.history, hours=False)


def _diff(
    tenant: str,
    group: list[EntityWrite],
    old: dict[str, tuple[str, bool, tuple[Any, ...]]],
    stamps: tuple[Any, float],
    result: UpsertResult,
    dialect: str,
) -> _Changes:
    """Compare each entity with its stored JSON; collect the rows of those that are new or changed."""
    changes = _Changes()
    stamp, recorded = stamps
    postgresql = dialect == "postgresql"
    written: list[Any] = []
    for write in group:
        entity = write.stored()
        entity_id = write.id
        data = orjson.dumps(entity).decode()
        previous, removed, keys = old.get(entity_id, _NOT_STORED)
        # A removed entity that comes back counts as changed even when its data is the same: it is revived.
        if previous == data and not removed:
            result.unchanged.append(entity_id)
            continue
        (result.created if previous is None else result.updated).append(entity_id)
        kind, scope = type_column(entity["type"]), scope_column(entity.get("scope"))
        row = (tenant, entity_id, kind, scope, data, write.source_id, False, stamp, stamp)
        # a revived entity is created anew (its createdAt too): only the full upsert sets that
        same = keys == (kind, scope, write.source_id) and not removed
        (changes.same_keys if same else changes.rows).append(row)
        if write.track:
            changes.tracked.append((entity_id, entity, previous, removed))
        instances, observed = changed_instances(tenant, entity, data, previous, recorded)
        written.append(observed)
        first = last = None
        if instances and postgresql:
            first, last = _hours_of(instances)
        changes.queued.append((tenant, entity_id, first, last))
        changes.history.extend(instances)
    MEMORY.remember(written)
    return changes


def _tracked(
    conn: Connection, tenant: str, tracked: list[tuple[str, dict[str, Any], str | None, bool]], now: float
) -> tuple[list[tuple[str, str, str]], list[tuple[Any, ...]]]:
    """What the tracked writes (API writes: one or a few entities a statement) keep besides the entity rows, read
    before those are written: (attr_stamps, tenant, id) of those whose attributes get stamps of their own, and the
    changes of their attributes without observedAt (``ngsi_temporal_changes``)."""
    found: list[tuple[str, str, str]] = []
    unobserved: list[tuple[Any, ...]] = []
    at = attribute_stamps.epoch_ms_of(now)
    for entity_id, entity, previous, revived in tracked:
        prior, created, modified = None, None, None
        if previous is not None and not revived:
            row = conn.exec_driver_sql(_driver_sql(conn, _PRIOR_STAMPS), (tenant, entity_id)).first()
            if row is not None:
                prior, created, modified = row[1], _as_datetime(row[2]), _as_datetime(row[3])
        before = None if previous is None else {} if revived else orjson.loads(previous)
        own = attribute_stamps.written(before, entity, prior, created, modified, at)
        if own is not None:
            found.append((own, tenant, entity_id))
        unobserved.extend(unobserved_changes(tenant, entity, before or {}, now))
    return found, unobserved


def _as_datetime(value: Any) -> datetime:
    """A timestamp column read through the driver: a datetime (PostgreSQL) or SQLAlchemy's text (SQLite, UTC)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _register_type_sets(conn: Connection, sets: set[str]) -> None:
    pairs = [(type_set, member) for type_set in sorted(sets) for member in type_set.split(",")]
    if pairs:
        sql = "INSERT INTO ngsi_type_sets (type_set, member) VALUES (?, ?) ON CONFLICT DO NOTHING"
        conn.exec_driver_sql(_driver_sql(conn, sql), pairs)


# Built once with bound parameters: constructing the statement on every query (``in_``, ``group_by``,
# ``having``) cost as much as running it (py-spy of one uvicorn worker under wrk, bench/ngsi_http.py).
_SETS_WITH_ANY = select(type_sets.c.type_set).where(type_sets.c.member.in_(bindparam("members", expanding=True)))


def type_values(conn: Connection, alternatives: Sequence[frozenset[str]]) -> list[str]:
    """The ``entities.type`` values matching any of ``alternatives`` (each: types an entity must all carry)."""
    return values_of_types(alternatives, type_sets_holding(conn, type_members(alternatives)))


def type_members(alternatives: Sequence[frozenset[str]]) -> list[str]:
    """Every type named in ``alternatives``, sorted."""
    return sorted({member for wanted in alternatives for member in wanted})


def type_sets_holding(conn: Connection, members: Sequence[str]) -> list[str]:
    """The stored type sets that hold any of ``members``, sorted."""
    if not members:
        return []
    return sorted(set(conn.execute(_SETS_WITH_ANY, {"members": list(members)}).scalars()))


def values_of_types(alternatives: Sequence[frozenset[str]], sets: Collection[str]) -> list[str]:
    """``type_values`` from the type sets known to hold the alternatives' types: a single type matches itself and
    every set holding it, several types every set holding them all (a set's members are its comma-joined name)."""
    values: set[str] = set()
    for wanted in alternatives:
        if len(wanted) == 1:
            values.update(wanted)
        values.update(s for s in sets if wanted.issubset(s.split(",")))
    return sorted(values)


# Bulk writes go straight to the driver's executemany with positional rows: building SQLAlchemy parameter dicts
# and running bind processors per row cost more than the database itself here (see bench/harvest_pipeline.py).
_UPSERT = (
    "INSERT INTO ngsi_entities (tenant, id, type, scope, data, source_id, removed, created_at, modified_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET type = excluded.type, "
    "scope = excluded.scope, data = excluded.data, source_id = excluded.source_id, removed = false, "
    "modified_at = excluded.modified_at, attr_stamps = NULL, "
    # an entity marked removed (gone from its source) that comes back is a new entity: created when it came back
    "created_at = CASE WHEN ngsi_entities.removed THEN excluded.created_at ELSE ngsi_entities.created_at END"
)
# The same for entities whose indexed columns stay: SQLite rewrites the index entries of every column an UPDATE
# sets, changed or not, and a harvest's update changes the JSON only (measured 8.9 → 5.6 µs per entity).
_UPSERT_DATA = (
    "INSERT INTO ngsi_entities (tenant, id, type, scope, data, source_id, removed, created_at, modified_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET data = excluded.data, "
    "removed = false, modified_at = excluded.modified_at, attr_stamps = NULL"
)
_HISTORY = (
    "INSERT INTO ngsi_temporal_instances (tenant, entity_id, attr, ts, value_num, value, created_at, dataset_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"  # one instance per instant (and datasetId): migration 0017
)
# Default instances (no datasetId) leave dataset_id out: binding a NULL per row cost SQLite a sixth of the insert.
_HISTORY_DEFAULT = (
    "INSERT INTO ngsi_temporal_instances (tenant, entity_id, attr, ts, value_num, value, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


# SQLite: the rows of entities this transaction has just read (``_existing``) are updated by key; the upsert's
# failed insert attempt cost as much again (measured 9.6 → 5.3 µs per entity, bench/harvest_pipeline.py).
_UPDATE_DATA = (
    "UPDATE ngsi_entities SET data = ?, removed = false, modified_at = ?, attr_stamps = NULL "
    "WHERE tenant = ? AND id = ?"
)
# A write's attribute stamps (ngsi/stamps.py), after the entity rows: those set them NULL, as a harvest's stay.
_STAMPS = "UPDATE ngsi_entities SET attr_stamps = ? WHERE tenant = ? AND id = ?"
_CHANGES = (
    "INSERT INTO ngsi_temporal_changes (tenant, entity_id, attr, dataset_id, value, value_num, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_PRIOR_STAMPS = "SELECT id, attr_stamps, created_at, modified_at FROM ngsi_entities WHERE tenant = ? AND id = ?"


def _write_same_keys(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Write the JSON of stored entities whose type, scope and source stay (rows as for ``_UPSERT_DATA``)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        updated = conn.exec_driver_sql(_UPDATE_DATA, [(r[4], r[8], r[0], r[1]) for r in rows]).rowcount
        if updated == len(rows):
            return
        # An entity deleted since it was read (another writer between the read and this write): the upsert
        # writes every row again, which is idempotent for those already updated.
    _write(conn, rows, _UPSERT_DATA)


def _driver_sql(conn: Connection, sql: str) -> str:
    return sql.replace("?", "%s") if conn.dialect.paramstyle in ("format", "pyformat") else sql


def _db_time(conn: Connection, moment: datetime) -> Any:
    """A UTC timestamp as the driver stores it: SQLite keeps SQLAlchemy's text format, PostgreSQL a datetime."""
    utc = moment.astimezone(UTC)
    if conn.dialect.name == "sqlite":
        return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return utc


ENTITY_COLUMNS = "tenant, id, type, scope, data, source_id, removed, created_at, modified_at"
HISTORY_COLUMNS = "tenant, entity_id, attr, ts, value_num, value, created_at, dataset_id"
COPY_THRESHOLD = 200  # below this many rows, executemany is as fast as staging through COPY


def _write(conn: Connection, rows: list[tuple[Any, ...]], upsert: str) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        _copy_upsert(conn, "ngsi_entities", ENTITY_COLUMNS, rows, upsert.split(" ON CONFLICT ", 1)[1])
    else:
        conn.exec_driver_sql(_driver_sql(conn, upsert), rows)


def _copy_upsert(conn: Connection, table: str, columns: str, rows: list[tuple[Any, ...]], on_conflict: str) -> int:
    """PostgreSQL: COPY the rows into a temporary staging table, then one INSERT … SELECT … ON CONFLICT.

    Returns how many rows the INSERT wrote."""
    stage = _stage(conn, table, columns, rows)
    written = conn.exec_driver_sql(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT {on_conflict}"
    ).rowcount
    conn.exec_driver_sql(f"TRUNCATE {stage}")
    return int(written)


def _stage(conn: Connection, table: str, columns: str, rows: list[tuple[Any, ...]]) -> str:
    """PostgreSQL: COPY ``rows`` into the transaction's staging table of ``table``; returns its name."""
    stage = f"_stage_{table}"
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    copy_rows(conn, stage, columns, rows)
    return stage


def _hours_of(instances: list[tuple[Any, ...]]) -> tuple[int, int]:
    stamps = [row[3] for row in instances]
    return int(min(stamps) // 3600), int(max(stamps) // 3600)


def insert_history(conn: Connection, rows: list[tuple[Any, ...]], *, hours: bool = True) -> int:
    """Store (tenant, entity id, attribute, ts, numeric value, JSON value, created_at[, datasetId]) instances: a
    default instance has no eighth member (see ``_HISTORY_DEFAULT``). The same instant twice (of one datasetId) is one.

    The hourly aggregates (ngsi/temporal_hours.py) move in the same transaction on PostgreSQL unless ``hours`` is
    false (the entity writes' queue rows carry their hours instead); on SQLite they are replayed from the instances
    (ngsi/projection.py)."""
    if not rows:
        return 0
    if conn.dialect.name == "sqlite":  # the hours catch up from the instances (ngsi/projection.py)
        plain = [row for row in rows if len(row) == 7]
        if plain:
            conn.exec_driver_sql(_HISTORY_DEFAULT, plain)
        if len(plain) < len(rows):
            conn.exec_driver_sql(_HISTORY, [row for row in rows if len(row) == 8])
        return len(rows)
    rows = [row if len(row) == 8 else (*row, None) for row in rows]
    if conn.dialect.name == "postgresql" and not hours:
        if len(rows) >= COPY_THRESHOLD:
            _copy_upsert(conn, "ngsi_temporal_instances", HISTORY_COLUMNS, rows, "DO NOTHING")
        else:
            conn.exec_driver_sql(_driver_sql(conn, _HISTORY), rows)
    elif conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        _stage(conn, "ngsi_temporal_instances", HISTORY_COLUMNS, rows)
        insert = (
            f"INSERT INTO ngsi_temporal_instances ({HISTORY_COLUMNS}) SELECT {HISTORY_COLUMNS} FROM "
            "_stage_ngsi_temporal_instances ON CONFLICT DO NOTHING RETURNING tenant, entity_id, attr, ts, value_num"
        )
        conn.exec_driver_sql(temporal_hours.with_hours(insert))
        conn.exec_driver_sql("TRUNCATE _stage_ngsi_temporal_instances")
    else:
        stored = conn.exec_driver_sql(_driver_sql(conn, _HISTORY), rows).rowcount
        temporal_hours.add(conn, rows, stored)
    return len(rows)


def get_entity(conn: Connection, *, tenant: str | None, entity_id: str) -> str | None:
    """Stored JSON of one entity (the first tenant holding it in the federated view), or None."""
    found = get_stored(conn, tenant=tenant, entity_id=entity_id)
    return None if found is None else found.data


def get_stored(conn: Connection, *, tenant: str | None, entity_id: str) -> StoredEntity | None:
    """One entity with its system timestamps (the first tenant holding it in the federated view), or None."""
    columns = (entities.c.data, entities.c.created_at, entities.c.modified_at, entities.c.attr_stamps)
    stmt = select(*columns).where(and_(entities.c.id == entity_id, entities.c.removed.is_(False)))
    if tenant is not None:
        stmt = stmt.where(entities.c.tenant == tenant)
    row = conn.execute(stmt.order_by(entities.c.tenant).limit(1)).first()
    return None if row is None else StoredEntity(str(row.data), row.created_at, row.modified_at, row.attr_stamps)


def tenant_exists(conn: Connection, tenant: str) -> bool:
    """True when any entity was ever stored under ``tenant``."""
    stmt = select(entities.c.id).where(entities.c.tenant == tenant).limit(1)
    return conn.execute(stmt).first() is not None


def count_history(conn: Connection, *, tenant: str, entity_id: str, attr: str) -> int:
    """Number of temporal instances kept for one attribute of one entity."""
    stmt = (
        select(func.count())
        .select_from(temporal_instances)
        .where(
            and_(
                temporal_instances.c.tenant == tenant,
                temporal_instances.c.entity_id == entity_id,
                temporal_instances.c.attr == attr,
            )
        )
    )
    return int(conn.execute(stmt).scalar_one())


def count_active(conn: Connection, *, source_id: str) -> int:
    """Entities a source currently publishes (not marked removed)."""
    stmt = (
        select(func.count())
        .select_from(entities)
        .where(and_(entities.c.source_id == source_id, entities.c.removed.is_(False)))
    )
    return int(conn.execute(stmt).scalar_one())


def mark_removed(conn: Connection, *, source_id: str, keep: Collection[str], now: datetime) -> list[str]:
    """Mark the source's entities that are not in ``keep`` as removed (never deleted); returns their ids."""
    active = conn.execute(
        select(entities.c.tenant, entities.c.id).where(
            and_(entities.c.source_id == source_id, entities.c.removed.is_(False))
        )
    ).all()
    gone = [(row.tenant, row.id) for row in active if row.id not in keep]
    if gone:
        projection.enqueue(conn, [(tenant, entity_id, None, None) for tenant, entity_id in gone])
        conn.execute(
            update(entities)
            .where(and_(entities.c.tenant == bindparam("b_tenant"), entities.c.id == bindparam("b_id")))
            .values(removed=True, modified_at=now),
            [{"b_tenant": tenant, "b_id": entity_id} for tenant, entity_id in gone],
        )
    return [entity_id for _tenant, entity_id in gone]


def delete_entity(conn: Connection, *, tenant: str | None, entity_id: str) -> int:
    """Delete an entity (from one tenant, or from every tenant holding it); returns how many rows went."""
    stmt = delete(entities).where(entities.c.id == entity_id)
    if tenant is not None:
        stmt = stmt.where(entities.c.tenant == tenant)
    live = and_(stmt.whereclause, entities.c.removed.is_(False))  # type: ignore[arg-type]
    held = conn.execute(select(entities.c.tenant).where(live)).scalars().all()
    projection.enqueue(conn, [(holder, entity_id, None, None) for holder in held])
    return int(conn.execute(stmt).rowcount or 0)
