"""The temporal side of the entity store: attribute instances in time, queried and aggregated in SQL.

Only this module and ``ngsi.store`` issue SQL on ``ngsi_temporal_instances``. Aggregation happens in the database
(one ``GROUP BY`` over entity, attribute and time bucket), so an hourly average over a week of minute data is one
query, not a walk over every instance in Python.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, Integer, and_, cast, delete, func, select

from hub.collector import collection_paused
from ngsi import store, temporal_hours
from ngsi.tables import entities, temporal_instances
from ngsi.tables import temporal_hours as hours_table

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
    """RFC 3339 in UTC; whole seconds without a fraction (``12:03:00Z``, as most instants are sent), else ms.

    Clients compare the instants of an instance list as strings (the ETSI suite does): an instance posted at
    ``2020-08-01T12:03:00Z`` must come back as that, not as ``2020-08-01T12:03:00.000Z``.
    """
    moment = datetime.fromtimestamp(ts, UTC)
    spec = "seconds" if round(ts * 1000) % 1000 == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _window(q: TemporalQuery, ts: Any = None) -> list[Any]:
    ts = temporal_instances.c.ts if ts is None else ts
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


def _bucket(conn: Connection, ts: Any, origin: float, period: float | None) -> Any:
    if period is None:
        return cast(0, Integer)
    offset = (ts - origin) / period
    # SQLite truncates toward zero on CAST (every ts >= origin here); PostgreSQL would round, so it floors.
    return func.floor(offset) if conn.dialect.name == "postgresql" else cast(offset, Integer)


def _instance_columns() -> dict[str, Any]:
    t = temporal_instances.c
    return {
        "n": func.count(),
        "n_num": func.count(t.value_num),
        "distinct": func.count(func.distinct(t.value)),
        "total": func.sum(t.value_num),
        "low": func.min(t.value_num),
        "high": func.max(t.value_num),
        "squares": func.sum(t.value_num * t.value_num),
        "first": func.min(t.ts),
        "last": func.max(t.ts),
    }


def _hour_columns(*, grouped: bool) -> dict[str, Any]:
    h = hours_table.c
    if not grouped:
        return {"n": h.n, "n_num": h.n_num, "total": h.total, "low": h.low, "high": h.high, "squares": h.squares}
    return {
        "n": func.sum(h.n),
        "n_num": func.sum(h.n_num),
        "total": func.sum(h.total),
        "low": func.min(h.low),
        "high": func.max(h.high),
        "squares": func.sum(h.squares),
        "first": func.min(h.ts_first),
        "last": func.max(h.ts_last),
    }


# The aggregate columns each method reads: only those are computed (a distinct count, for one, sorts every group).
_NEEDS = {
    "totalCount": ("n",),
    "distinctCount": ("distinct",),
    "sum": ("total",),
    "avg": ("total", "n_num"),
    "min": ("low",),
    "max": ("high",),
    "sumsq": ("squares",),
    "stddev": ("squares", "total", "n_num"),
}


def by_hours(q: TemporalQuery, period: float | None, methods: Sequence[str]) -> bool:
    """Whether the hourly partial aggregates answer the query: buckets and window made of whole UTC hours."""
    if period is None or period % temporal_hours.HOUR or "distinctCount" in methods:
        return False
    bounds = [q.time_at if q.time_at is not None else 0.0]
    if q.timerel is TimeRel.BETWEEN:
        bounds.append(q.end_time_at if q.end_time_at is not None else 0.0)
    return all(bound % temporal_hours.HOUR == 0 for bound in bounds)


def _in_hours(q: TemporalQuery) -> TemporalQuery:
    hour = temporal_hours.HOUR
    return replace(
        q,
        time_at=None if q.time_at is None else q.time_at / hour,
        end_time_at=None if q.end_time_at is None else q.end_time_at / hour,
    )


def aggregate(
    conn: Connection,
    q: TemporalQuery,
    keys: Sequence[tuple[str, str]],
    *,
    period: float | None,
    methods: Sequence[str],
) -> dict[tuple[str, str], dict[str, dict[str, list[list[Any]]]]]:
    """(tenant, id) → attribute → method → [[value, bucket start, bucket end]], computed in one GROUP BY.

    Buckets of whole hours read the hourly partial aggregates (``ngsi.temporal_hours``), others the instances."""
    unknown = [method for method in methods if method not in _NEEDS]
    if unknown:
        raise ValueError(f"unknown aggregation method(s) {unknown}")
    if not keys:
        return {}
    out: dict[tuple[str, str], dict[str, dict[str, list[list[Any]]]]] = {}
    # A week of hourly buckets for a page of stations is tens of thousands of rows and three times as many small
    # lists, none in a cycle: with the cyclic collector on, its collections walking them were more than half of the
    # CPU time of the query (bench/ngsi_temporal.py). Reference counting frees them all the same.
    with collection_paused():
        result = conn.execute(_aggregate_select(conn, q, keys, period=period, methods=methods))
        rows = result.all()  # fetched whole: iterating the result fetches row by row, which cost more than the loop
        _fill(out, rows, {name: index for index, name in enumerate(result.keys())}, q, keys, period, methods)
    return out


def _fill(
    out: dict[tuple[str, str], dict[str, dict[str, list[list[Any]]]]],
    rows: Sequence[Any],
    pos: dict[str, int],
    q: TemporalQuery,
    keys: Sequence[tuple[str, str]],
    period: float | None,
    methods: Sequence[str],
) -> None:
    """Append each result row's values to its series in ``out``: [[value, bucket start, bucket end], …]."""
    origin = q.time_at if q.time_at is not None else 0.0
    wanted = set(keys)
    spans: dict[Any, tuple[str, str]] = {}
    current: tuple[str, str, str] | None = None
    series: list[list[list[Any]]] = []
    values_of = [_value_of(method, pos) for method in methods]
    for row in rows:
        key = (row[0], row[1], row[2])  # tenant, entity id, attribute; then the bucket
        if key != current:  # rows come ordered by entity and attribute: look the lists up once per series
            current = key
            target = out.setdefault(key[:2], {}).setdefault(key[2], {}) if key[:2] in wanted else None
            series = [target.setdefault(method, []) for method in methods] if target is not None else []
        if not series:
            continue
        span = spans.get(row[3]) if period is not None else None
        if span is None:
            start, end = _span(row, origin, period, q)
            span = spans[row[3]] = (_iso(start), _iso(end))
        for value_of, values in zip(values_of, series, strict=True):
            values.append([value_of(row), *span])


def _aggregate_select(
    conn: Connection, q: TemporalQuery, keys: Sequence[tuple[str, str]], *, period: float | None, methods: Sequence[str]
) -> Any:
    origin = q.time_at if q.time_at is not None else 0.0
    wanted_columns = {name for method in methods for name in _NEEDS[method]}
    if period is None:
        wanted_columns |= {"first", "last"}  # the one bucket spans the data when no window bounds it
    hourly = by_hours(q, period, methods)
    if hourly:
        source: Any = hours_table.c
        ts = hours_table.c.hour * temporal_hours.HOUR
        # The window's bounds are hour boundaries: compared on the hour column, they use its index.
        window = _window(_in_hours(q), hours_table.c.hour)
        # Buckets of one hour are the stored rows themselves, already in key order: no grouping, no sort.
        single = period == temporal_hours.HOUR
        available = _hour_columns(grouped=not single)
    else:
        source, available, ts = temporal_instances.c, _instance_columns(), temporal_instances.c.ts
        window, single = _window(q), False
    bucket = _bucket(conn, ts, origin, period).label("bucket")
    columns = [column.label(name) for name, column in available.items() if name in wanted_columns]
    conditions = [source.entity_id.in_([entity_id for _, entity_id in keys]), source.tenant.in_({t for t, _ in keys})]
    if q.attrs:
        conditions.append(source.attr.in_(q.attrs))
    stmt = select(source.tenant, source.entity_id, source.attr, bucket, *columns).where(and_(*conditions, *window))
    if single:
        return stmt.order_by(source.tenant, source.entity_id, source.attr, source.hour)
    group = (source.tenant, source.entity_id, source.attr, bucket)
    return stmt.group_by(*group).order_by(*group)


@functools.lru_cache(maxsize=16384)  # bucket bounds repeat for every entity and attribute of a query
def _iso(ts: float) -> str:
    return iso(ts)


def _span(row: Any, origin: float, period: float | None, q: TemporalQuery) -> tuple[float, float]:
    if period is not None:
        start = origin + int(row.bucket) * period
        return start, start + period
    start = q.time_at if q.timerel in (TimeRel.AFTER, TimeRel.BETWEEN) and q.time_at is not None else row.first
    end = q.end_time_at if q.timerel is TimeRel.BETWEEN and q.end_time_at is not None else row.last
    return float(start), float(end)


def _stddev(total: float | None, n: int | None, squares: float | None) -> float | None:
    if not n or total is None or squares is None:
        return None
    mean = total / n
    return math.sqrt(max(squares / n - mean * mean, 0.0))


def _value_of(method: str, pos: dict[str, int]) -> Callable[[Sequence[Any]], Any]:
    """The published value of ``method`` from a result row, read by position (named access cost more, per row,
    than the rest of the loop over a week of hourly buckets)."""
    if method == "avg":
        total, n = pos["total"], pos["n_num"]
        return lambda row: row[total] / row[n] if row[n] else None
    if method == "stddev":
        total, n, squares = pos["total"], pos["n_num"], pos["squares"]
        return lambda row: _stddev(row[total], row[n], row[squares])
    column = pos[_NEEDS[method][0]]
    if method in ("totalCount", "distinctCount"):
        return lambda row: int(row[column])
    return lambda row: row[column]


def add_instances(conn: Connection, tenant: str, entity_id: str, rows: Sequence[tuple[str, float, Any]]) -> int:
    """Store (attribute, ts, value) instances of one entity; the same instant twice is one instance."""
    values = [
        (
            tenant,
            entity_id,
            attr,
            ts,
            float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None,
            orjson.dumps(v).decode(),
        )
        for attr, ts, v in rows
    ]
    return store.insert_history(conn, values)


def delete_history(conn: Connection, tenant: str | None, entity_id: str, attr: str | None = None) -> int:
    """Forget the instances of one entity (or of one of its attributes); returns how many."""
    temporal_hours.forget(conn, tenant, entity_id, attr)
    conditions = [temporal_instances.c.entity_id == entity_id]
    if tenant is not None:
        conditions.append(temporal_instances.c.tenant == tenant)
    if attr is not None:
        conditions.append(temporal_instances.c.attr == attr)
    return int(conn.execute(delete(temporal_instances).where(and_(*conditions))).rowcount or 0)
