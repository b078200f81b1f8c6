"""The only code that issues SQL on the NGSI-LD tables.

Writes are bulk SQLAlchemy Core statements in the caller's transaction (the ORM is several times slower for the
harvest's batch upserts). Entities are kept as compact JSON so reads can send them without re-parsing.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, func, select, update

from ngsi import temporal_hours
from ngsi.attr_index import IndexRow, delete_index, index_rows, replace_attributes, write_index
from ngsi.tables import entities, temporal_instances

CHUNK = 500  # ids per IN (...) lookup; stays under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class EntityWrite:
    """One entity to create or update, in normalized form, under a tenant."""

    tenant: str
    entity: dict[str, Any]
    scope: str | None = None
    source_id: str | None = None

    @property
    def id(self) -> str:
        return str(self.entity["id"])


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


def _existing(conn: Connection, tenant: str, ids: Sequence[str]) -> dict[str, tuple[str, bool]]:
    """id → (stored JSON, removed flag) of the ids that exist under ``tenant``."""
    found: dict[str, tuple[str, bool]] = {}
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(entities.c.id, entities.c.data, entities.c.removed).where(
                and_(entities.c.tenant == tenant, entities.c.id.in_(chunk))
            )
        )
        found.update({row.id: (row.data, bool(row.removed)) for row in rows})
    return found


def upsert_entities(conn: Connection, writes: Sequence[EntityWrite], *, now: datetime) -> UpsertResult:
    """Create or replace entities in one batch; record each changed observed value as a temporal instance."""
    result = UpsertResult()
    by_tenant: dict[str, list[EntityWrite]] = {}
    for write in writes:
        by_tenant.setdefault(write.tenant, []).append(write)
    stamp = _db_time(conn, now)
    for tenant, group in by_tenant.items():
        old = _existing(conn, tenant, [w.id for w in group])
        rows: list[tuple[Any, ...]] = []
        history: list[tuple[Any, ...]] = []
        indexed: list[IndexRow] = []
        fresh: list[str] = []
        changed: list[tuple[str, str]] = []
        partial: list[IndexRow] = []
        for write in group:
            data = orjson.dumps(write.entity).decode()
            previous, removed = old.get(write.id, (None, False))
            # A removed entity that comes back counts as changed even when its data is the same: it is revived.
            if previous == data and not removed:
                result.unchanged.append(write.id)
                continue
            (result.created if previous is None else result.updated).append(write.id)
            rows.append(
                (tenant, write.id, write.entity["type"], write.scope, data, write.source_id, False, stamp, stamp)
            )
            before: dict[str, Any] = orjson.loads(previous) if previous is not None else {}
            history.extend(_changed_instances(tenant, write.entity, before))
            if previous is None or removed:
                fresh.append(write.id)
                indexed.extend(index_rows(write.entity))
            else:
                _changed_attributes(write.entity, before, changed, partial)
        _write(conn, rows)
        # The attribute index (typed values per attribute) is what q queries run on: kept in the same transaction,
        # whole for new entities, per changed attribute for updated ones.
        write_index(conn, tenant, fresh, indexed)
        replace_attributes(conn, tenant, changed, partial)
        result.instances += insert_history(conn, history)
    return result


def _changed_attributes(
    entity: dict[str, Any], before: dict[str, Any], changed: list[tuple[str, str]], rows: list[IndexRow]
) -> None:
    names = [n for n in entity.keys() | before.keys() if n not in ("id", "type") and entity.get(n) != before.get(n)]
    changed.extend((entity["id"], name) for name in names)
    rows.extend(index_rows({"id": entity["id"], **{n: entity[n] for n in names if n in entity}}))


# Bulk writes go straight to the driver's executemany with positional rows: building SQLAlchemy parameter dicts
# and running bind processors per row cost more than the database itself here (see bench/harvest_pipeline.py).
_UPSERT = (
    "INSERT INTO ngsi_entities (tenant, id, type, scope, data, source_id, removed, created_at, modified_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET type = excluded.type, "
    "scope = excluded.scope, data = excluded.data, source_id = excluded.source_id, removed = false, "
    "modified_at = excluded.modified_at"
)
_HISTORY = (
    "INSERT INTO ngsi_temporal_instances (tenant, entity_id, attr, ts, value_num, value) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"  # the same value observed at the same instant twice is one instance
)


def _driver_sql(conn: Connection, sql: str) -> str:
    return sql.replace("?", "%s") if conn.dialect.paramstyle in ("format", "pyformat") else sql


def _db_time(conn: Connection, moment: datetime) -> Any:
    """A UTC timestamp as the driver stores it: SQLite keeps SQLAlchemy's text format, PostgreSQL a datetime."""
    utc = moment.astimezone(UTC)
    if conn.dialect.name == "sqlite":
        return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return utc


ENTITY_COLUMNS = "tenant, id, type, scope, data, source_id, removed, created_at, modified_at"
HISTORY_COLUMNS = "tenant, entity_id, attr, ts, value_num, value"
COPY_THRESHOLD = 200  # below this many rows, executemany is as fast as staging through COPY


def _write(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        _copy_upsert(conn, "ngsi_entities", ENTITY_COLUMNS, rows, _UPSERT.split(" ON CONFLICT ", 1)[1])
        if len(rows) >= 1000:
            # A large batch leaves the planner's statistics stale (it would scan the table for every id lookup of
            # the next run): refresh them now, inside the transaction, which sees its own rows.
            conn.exec_driver_sql("ANALYZE ngsi_entities")
    else:
        conn.exec_driver_sql(_driver_sql(conn, _UPSERT), rows)


def _copy_upsert(conn: Connection, table: str, columns: str, rows: list[tuple[Any, ...]], on_conflict: str) -> int:
    """PostgreSQL: COPY the rows into a temporary staging table, then one INSERT … SELECT … ON CONFLICT.

    Returns how many rows the INSERT wrote."""
    stage = f"_stage_{table}"
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    written = conn.exec_driver_sql(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT {on_conflict}"
    ).rowcount
    conn.exec_driver_sql(f"TRUNCATE {stage}")
    return int(written)


def _changed_instances(tenant: str, entity: dict[str, Any], before: dict[str, Any]) -> Iterable[tuple[Any, ...]]:
    """Instances for every attribute with ``observedAt`` whose value differs from the stored entity."""
    for name, attr in entity.items():
        if not isinstance(attr, dict) or "observedAt" not in attr or "value" not in attr:
            continue
        old = before.get(name)
        if isinstance(old, dict) and old.get("value") == attr["value"]:
            continue
        value = attr["value"]
        numeric = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        ts = _epoch(attr["observedAt"])
        yield (tenant, entity["id"], name, ts, numeric, orjson.dumps(value).decode())


@functools.lru_cache(maxsize=4096)  # a batch's observations share a handful of instants
def _epoch(instant: str) -> float:
    return datetime.fromisoformat(instant).timestamp()


def insert_history(conn: Connection, rows: list[tuple[Any, ...]]) -> int:
    """Store (tenant, entity id, attribute, ts, numeric value, JSON value) instances; the same instant twice is one."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        stored = _copy_upsert(conn, "ngsi_temporal_instances", HISTORY_COLUMNS, rows, "DO NOTHING")
    else:
        stored = conn.exec_driver_sql(_driver_sql(conn, _HISTORY), rows).rowcount
    temporal_hours.add(conn, rows, stored)  # the hourly aggregates move in the same transaction
    return len(rows)


def query_entities(
    conn: Connection,
    *,
    tenant: str | None,
    types: Sequence[str] = (),
    ids: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
    count: bool = False,
    extra: Sequence[Any] = (),
) -> tuple[list[str], int | None]:
    """Stored JSON of matching entities, ordered by id, and the total when ``count`` is asked.

    ``extra`` holds further conditions on the entity table (a compiled ``q``, an ``idPattern``)."""
    conditions: list[Any] = [entities.c.removed.is_(False), *extra]
    if tenant is not None:
        conditions.append(entities.c.tenant == tenant)
    if types:
        conditions.append(entities.c.type.in_(types))
    if ids:
        conditions.append(entities.c.id.in_(ids))
    where = and_(*conditions)
    rows = conn.execute(
        select(entities.c.data).where(where).order_by(entities.c.id, entities.c.tenant).limit(limit).offset(offset)
    )
    data = [row.data for row in rows]
    total = conn.execute(select(func.count()).select_from(entities).where(where)).scalar_one() if count else None
    return data, total


def get_entity(conn: Connection, *, tenant: str | None, entity_id: str) -> str | None:
    """Stored JSON of one entity (the first tenant holding it in the federated view), or None."""
    stmt = select(entities.c.data).where(and_(entities.c.id == entity_id, entities.c.removed.is_(False)))
    if tenant is not None:
        stmt = stmt.where(entities.c.tenant == tenant)
    row = conn.execute(stmt.order_by(entities.c.tenant).limit(1)).first()
    return None if row is None else str(row.data)


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
        for tenant in {t for t, _ in gone}:
            delete_index(conn, tenant, [entity_id for t, entity_id in gone if t == tenant])
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
    held = [r.tenant for r in conn.execute(select(entities.c.tenant).where(stmt.whereclause))]  # type: ignore[arg-type]
    for holder in held:
        delete_index(conn, holder, [entity_id])
    return int(conn.execute(stmt).rowcount or 0)
