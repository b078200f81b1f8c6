"""The temporal side of the entity store: attribute instances in time, queried and aggregated in SQL.

Only this module and ``ngsi.store`` issue SQL on ``ngsi_temporal_instances``. Aggregation happens in the database
(one ``GROUP BY`` over entity, attribute and time bucket), so an hourly average over a week of minute data is one
query, not a walk over every instance in Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, Integer, and_, cast, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ngsi.tables import entities, temporal_instances

AGGREGATES = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")


class TimeRel(StrEnum):
    BEFORE = "before"
    AFTER = "after"
    BETWEEN = "between"


@dataclass(frozen=True, slots=True)
class TemporalQuery:
    """Which instances: entities (by id, or all of some types), attributes, a time window, lastN."""

    tenant: str | None
    entity_ids: Sequence[str] = ()
    types: Sequence[str] = ()
    attrs: Sequence[str] = ()
    timerel: TimeRel | None = None
    time_at: float | None = None  # epoch seconds
    end_time_at: float | None = None
    last_n: int | None = None
    limit: int = 100  # entities per page
    offset: int = 0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _window(q: TemporalQuery) -> list[Any]:
    ts = temporal_instances.c.ts
    if q.timerel is TimeRel.BEFORE and q.time_at is not None:
        return [ts < q.time_at]
    if q.timerel is TimeRel.AFTER and q.time_at is not None:
        return [ts >= q.time_at]
    if q.timerel is TimeRel.BETWEEN and q.time_at is not None and q.end_time_at is not None:
        return [ts >= q.time_at, ts < q.end_time_at]
    return []


def matching_entities(conn: Connection, q: TemporalQuery) -> tuple[list[tuple[str, str, str, str]], int]:
    """(tenant, id, type, stored JSON) of the entities a query is about, one page of them, and their total."""
    conditions: list[Any] = [entities.c.removed.is_(False)]
    if q.tenant is not None:
        conditions.append(entities.c.tenant == q.tenant)
    if q.entity_ids:
        conditions.append(entities.c.id.in_(q.entity_ids))
    if q.types:
        conditions.append(entities.c.type.in_(q.types))
    where = and_(*conditions)
    rows = conn.execute(
        select(entities.c.tenant, entities.c.id, entities.c.type, entities.c.data)
        .where(where)
        .order_by(entities.c.id, entities.c.tenant)
        .limit(q.limit)
        .offset(q.offset)
    ).all()
    total = conn.execute(select(func.count()).select_from(entities).where(where)).scalar_one()
    return [(r.tenant, r.id, r.type, r.data) for r in rows], int(total)


def _instance_filter(q: TemporalQuery, keys: Sequence[tuple[str, str]]) -> list[Any]:
    t = temporal_instances.c
    tenants = {tenant for tenant, _ in keys}
    conditions = [t.entity_id.in_([entity_id for _, entity_id in keys]), t.tenant.in_(tenants), *_window(q)]
    if q.attrs:
        conditions.append(t.attr.in_(q.attrs))
    return conditions


def instances(
    conn: Connection, q: TemporalQuery, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, list[tuple[Any, float]]]]:
    """(tenant, entity id) → attribute → [(value, ts)], oldest first (the newest ``last_n`` when given)."""
    if not keys:
        return {}
    t = temporal_instances.c
    order = t.ts.desc() if q.last_n else t.ts.asc()
    stmt = select(t.tenant, t.entity_id, t.attr, t.ts, t.value).where(and_(*_instance_filter(q, keys)))
    if q.last_n:
        ranked = stmt.add_columns(
            func.row_number().over(partition_by=(t.tenant, t.entity_id, t.attr), order_by=order).label("n")
        ).subquery()
        stmt = select(ranked.c.tenant, ranked.c.entity_id, ranked.c.attr, ranked.c.ts, ranked.c.value).where(
            ranked.c.n <= q.last_n
        )
    out: dict[tuple[str, str], dict[str, list[tuple[Any, float]]]] = {}
    wanted = set(keys)
    for row in conn.execute(stmt.order_by("ts")):
        if (row.tenant, row.entity_id) in wanted:
            out.setdefault((row.tenant, row.entity_id), {}).setdefault(row.attr, []).append(
                (orjson.loads(row.value), row.ts)
            )
    return out


def _bucket(conn: Connection, origin: float, period: float | None) -> Any:
    if period is None:
        return cast(0, Integer)
    offset = (temporal_instances.c.ts - origin) / period
    # SQLite truncates toward zero on CAST (every ts >= origin here); PostgreSQL would round, so it floors.
    return func.floor(offset) if conn.dialect.name == "postgresql" else cast(offset, Integer)


def aggregate(
    conn: Connection,
    q: TemporalQuery,
    keys: Sequence[tuple[str, str]],
    *,
    period: float | None,
    methods: Sequence[str],
) -> dict[tuple[str, str], dict[str, dict[str, list[list[Any]]]]]:
    """(tenant, id) → attribute → method → [[value, bucket start, bucket end]], computed in one GROUP BY."""
    if not keys:
        return {}
    t = temporal_instances.c
    origin = q.time_at if q.time_at is not None else 0.0
    bucket = _bucket(conn, origin, period).label("bucket")
    stmt = (
        select(
            t.tenant,
            t.entity_id,
            t.attr,
            bucket,
            func.count().label("n"),
            func.count(t.value_num).label("n_num"),
            func.count(func.distinct(t.value)).label("distinct"),
            func.sum(t.value_num).label("total"),
            func.min(t.value_num).label("low"),
            func.max(t.value_num).label("high"),
            func.sum(t.value_num * t.value_num).label("squares"),
            func.min(t.ts).label("first"),
            func.max(t.ts).label("last"),
        )
        .where(and_(*_instance_filter(q, keys)))
        .group_by(t.tenant, t.entity_id, t.attr, bucket)
        .order_by(t.tenant, t.entity_id, t.attr, bucket)
    )
    out: dict[tuple[str, str], dict[str, dict[str, list[list[Any]]]]] = {}
    wanted = set(keys)
    for row in conn.execute(stmt):
        if (row.tenant, row.entity_id) not in wanted:
            continue
        start, end = _span(row, origin, period, q)
        target = out.setdefault((row.tenant, row.entity_id), {}).setdefault(row.attr, {})
        for method in methods:
            target.setdefault(method, []).append([_method_value(method, row), iso(start), iso(end)])
    return out


def _span(row: Any, origin: float, period: float | None, q: TemporalQuery) -> tuple[float, float]:
    if period is not None:
        start = origin + int(row.bucket) * period
        return start, start + period
    start = q.time_at if q.timerel in (TimeRel.AFTER, TimeRel.BETWEEN) and q.time_at is not None else row.first
    end = q.end_time_at if q.timerel is TimeRel.BETWEEN and q.end_time_at is not None else row.last
    return float(start), float(end)


def _method_value(method: str, row: Any) -> Any:
    n = int(row.n_num or 0)
    mean = row.total / n if n else None
    if method == "totalCount":
        return int(row.n)
    if method == "distinctCount":
        return int(row.distinct)
    if method == "sum":
        return row.total
    if method == "avg":
        return mean
    if method == "min":
        return row.low
    if method == "max":
        return row.high
    if method == "sumsq":
        return row.squares
    if method == "stddev":
        return math.sqrt(max(row.squares / n - mean * mean, 0.0)) if n and mean is not None else None
    raise ValueError(f"unknown aggregation method {method!r}")


def add_instances(conn: Connection, tenant: str, entity_id: str, rows: Sequence[tuple[str, float, Any]]) -> int:
    """Store (attribute, ts, value) instances of one entity; the same instant twice is one instance."""
    if not rows:
        return 0
    values = [
        {
            "tenant": tenant,
            "entity_id": entity_id,
            "attr": attr,
            "ts": ts,
            "value_num": float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None,
            "value": orjson.dumps(v).decode(),
        }
        for attr, ts, v in rows
    ]
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(dialect_insert(temporal_instances).on_conflict_do_nothing(), values)
    return len(values)


def delete_history(conn: Connection, tenant: str | None, entity_id: str, attr: str | None = None) -> int:
    """Forget the instances of one entity (or of one of its attributes); returns how many."""
    conditions = [temporal_instances.c.entity_id == entity_id]
    if tenant is not None:
        conditions.append(temporal_instances.c.tenant == tenant)
    if attr is not None:
        conditions.append(temporal_instances.c.attr == attr)
    return int(conn.execute(delete(temporal_instances).where(and_(*conditions))).rowcount or 0)
