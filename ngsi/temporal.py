"""The temporal side of the entity store: attribute instances in time, queried and aggregated in SQL.

Only this module, ``ngsi.temporal_deletions`` (the instances of deletions) and ``ngsi.store`` issue SQL on
``ngsi_temporal_instances``. Aggregation happens in the database
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
from sqlalchemy import Connection, Integer, String, and_, cast, delete, func, literal, select, union_all

from hub.collector import collection_paused
from ngsi import projection, store, temporal_hours
from ngsi.tables import entities, temporal_deleted_entities, temporal_deletions, temporal_instances
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
    max_instances: int | None = None  # the hub's cap of instances per attribute (None: no cap)
    deleted: bool = False  # timeproperty=deletedAt: the deletions of attributes instead of their observed values
    where: tuple[Any, ...] = ()  # more SQL conditions on the entities table (a Query body's q, geoQ, idPattern…)
    descending: bool = False  # entities by id descending (orderBy=id;desc), else ascending
    # A query (not a retrieve) is about the entities with an instance of the asked attributes in the window only.
    with_history: bool = False

    @property
    def instance_cap(self) -> int | None:
        """Most instances one attribute may return: lastN, the hub's cap, whichever is smaller."""
        caps = [cap for cap in (self.last_n, self.max_instances) if cap is not None]
        return min(caps) if caps else None


Series = dict[tuple[str, str], dict[str, list[tuple[Any, float]]]]


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
    """(tenant, id, type, stored JSON) of the entities a query is about, one page of them, and their total.

    With timeproperty=deletedAt, entities deleted through the API are about too (their stored JSON is ``{}``: their
    attributes are gone), unless a Query body's conditions on the current state (q, geoQ…) select the entities."""
    conditions: list[Any] = [entities.c.removed.is_(False)]
    conditions.extend(_key_conditions(entities.c, q))
    conditions.extend(q.where)
    if q.with_history and not q.deleted:
        t = temporal_instances.c
        held = [t.tenant == entities.c.tenant, t.entity_id == entities.c.id, *_window(q, t.ts)]
        if q.attrs:
            held.append(t.attr.in_(q.attrs))
        conditions.append(select(t.entity_id).where(*held).exists())
    live = select(entities.c.tenant, entities.c.id, entities.c.type, entities.c.data).where(and_(*conditions))
    source: Any = live
    if q.deleted and not q.where:
        gone = temporal_deleted_entities.c
        still_there = select(entities.c.id).where(entities.c.tenant == gone.tenant, entities.c.id == gone.id)
        deleted = select(gone.tenant, gone.id, gone.type, literal("{}").label("data")).where(
            *_key_conditions(gone, q), ~still_there.exists()
        )
        source = union_all(live, deleted)
    page = source.subquery()
    order = (page.c.id.desc(), page.c.tenant.desc()) if q.descending else (page.c.id, page.c.tenant)
    rows = conn.execute(select(page).order_by(*order).limit(q.limit).offset(q.offset)).all()
    total = conn.execute(select(func.count()).select_from(page)).scalar_one()
    return [(r.tenant, r.id, r.type, r.data) for r in rows], int(total)


def _key_conditions(columns: Any, q: TemporalQuery) -> list[Any]:
    conditions = []
    if q.tenant is not None:
        conditions.append(columns.tenant == q.tenant)
    if q.entity_ids:
        conditions.append(columns.id.in_(q.entity_ids))
    if q.types:
        conditions.append(columns.type.in_(q.types))
    return conditions


def _instance_filter(q: TemporalQuery, keys: Sequence[tuple[str, str]], t: Any = None) -> list[Any]:
    t = temporal_instances.c if t is None else t
    tenants = {tenant for tenant, _ in keys}
    conditions = [t.entity_id.in_([entity_id for _, entity_id in keys]), t.tenant.in_(tenants), *_window(q, t.ts)]
    if q.attrs:
        conditions.append(t.attr.in_(q.attrs))
    return conditions


def instances(
    conn: Connection, q: TemporalQuery, keys: Sequence[tuple[str, str]]
) -> tuple[Series, dict[tuple[str, str, str], str]]:
    """(tenant, entity id) → attribute → [(value, ts)], oldest first, and the type of each deleted attribute.

    With a cap (``lastN``, the hub's maximum) each attribute holds at most cap + 1 instances, the newest ones with
    lastN and the oldest ones without: the one beyond the cap tells ``paginate`` that the attribute was cut."""
    if not keys:
        return {}, {}
    t = temporal_deletions.c if q.deleted else temporal_instances.c
    kind = t.kind if q.deleted else literal(None, String).label("kind")
    stmt = select(t.tenant, t.entity_id, t.attr, t.ts, t.value, kind).where(and_(*_instance_filter(q, keys, t)))
    cap = q.instance_cap
    if cap is not None:
        order = t.ts.desc() if q.last_n else t.ts.asc()
        ranked = stmt.add_columns(
            func.row_number().over(partition_by=(t.tenant, t.entity_id, t.attr), order_by=order).label("n")
        ).subquery()
        r = ranked.c
        stmt = select(r.tenant, r.entity_id, r.attr, r.ts, r.value, r.kind).where(r.n <= cap + 1)
    out: Series = {}
    kinds: dict[tuple[str, str, str], str] = {}
    wanted = set(keys)
    for row in conn.execute(stmt.order_by("ts")):
        if (row.tenant, row.entity_id) in wanted:
            out.setdefault((row.tenant, row.entity_id), {}).setdefault(row.attr, []).append(
                (orjson.loads(row.value), row.ts)
            )
            if row.kind:
                kinds[(row.tenant, row.entity_id, row.attr)] = row.kind
    return out, kinds


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


def by_hours(q: TemporalQuery, period: float | None, methods: Sequence[str], origin: float | None = None) -> bool:
    """Whether the hourly partial aggregates answer the query: buckets and window made of whole UTC hours."""
    if period is None or period % temporal_hours.HOUR or "distinctCount" in methods:
        return False
    bounds = [q.time_at if q.time_at is not None else 0.0, _lower_bound(q) if origin is None else origin]
    if q.timerel is TimeRel.BETWEEN:
        bounds.append(q.end_time_at if q.end_time_at is not None else 0.0)
    return all(bound % temporal_hours.HOUR == 0 for bound in bounds)


def _lower_bound(q: TemporalQuery) -> float:
    return q.time_at if q.timerel in (TimeRel.AFTER, TimeRel.BETWEEN) and q.time_at is not None else 0.0


def _origin(conn: Connection, q: TemporalQuery, keys: Sequence[tuple[str, str]], period: float | None) -> float:
    """Where the first aggregation period starts: the window's start, else the oldest instance aggregated.

    Without a start (no timerel, or before) the periods run from the first instance of the selected entities and
    attributes (ETSI 020_11: PT1H over instances from 12:03 gives 12:03-13:03, 13:03-14:03…), one origin for the
    whole answer so that the periods of several entities line up."""
    if period is None or q.timerel in (TimeRel.AFTER, TimeRel.BETWEEN):
        return _lower_bound(q)
    t = temporal_instances.c
    first = conn.execute(select(func.min(t.ts)).where(and_(*_instance_filter(q, keys))))
    oldest = first.scalar_one_or_none()
    return float(oldest) if oldest is not None else 0.0


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
    origin = _origin(conn, q, keys, period)
    out: dict[tuple[str, str], dict[str, dict[str, list[list[Any]]]]] = {}
    # A week of hourly buckets for a page of stations is tens of thousands of rows and three times as many small
    # lists, none in a cycle: with the cyclic collector on, its collections walking them were more than half of the
    # CPU time of the query (bench/ngsi_temporal.py). Reference counting frees them all the same.
    with collection_paused():
        result = conn.execute(_aggregate_select(conn, q, keys, period=period, methods=methods, origin=origin))
        rows = result.all()  # fetched whole: iterating the result fetches row by row, which cost more than the loop
        positions = {name: index for index, name in enumerate(result.keys())}
        _fill(out, rows, positions, q, set(keys), period, methods, origin)
    return out


def _fill(
    out: dict[tuple[str, str], dict[str, dict[str, list[list[Any]]]]],
    rows: Sequence[Any],
    pos: dict[str, int],
    q: TemporalQuery,
    wanted: set[tuple[str, str]],
    period: float | None,
    methods: Sequence[str],
    origin: float,
) -> None:
    """Append each result row's values to its series in ``out``: [[value, bucket start, bucket end], …]."""
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
    conn: Connection,
    q: TemporalQuery,
    keys: Sequence[tuple[str, str]],
    *,
    period: float | None,
    methods: Sequence[str],
    origin: float,
) -> Any:
    wanted_columns = {name for method in methods for name in _NEEDS[method]}
    if period is None:
        wanted_columns |= {"first", "last"}  # the one bucket spans the data when no window bounds it
    hourly = by_hours(q, period, methods, origin)
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
    """Forget the instances of one entity (or of one of its attributes), its deletions too; returns how many."""
    if conn.dialect.name == "sqlite":
        projection.catch_up_hours(conn)  # every instance counted before the hours of these go
    temporal_hours.forget(conn, tenant, entity_id, attr)
    forgotten = 0  # the deletions kept of the entity or attribute go too
    for table, column in ((temporal_deletions, "entity_id"), (temporal_deleted_entities, "id")):
        if table is temporal_deleted_entities and attr is not None:
            continue
        where = [table.c[column] == entity_id]
        if tenant is not None:
            where.append(table.c.tenant == tenant)
        if attr is not None:
            where.append(table.c.attr == attr)
        forgotten += int(conn.execute(delete(table).where(*where)).rowcount or 0)
    conditions = [temporal_instances.c.entity_id == entity_id]
    if tenant is not None:
        conditions.append(temporal_instances.c.tenant == tenant)
    if attr is not None:
        conditions.append(temporal_instances.c.attr == attr)
    deleted = int(conn.execute(delete(temporal_instances).where(and_(*conditions))).rowcount or 0)
    if conn.dialect.name == "sqlite":
        # SQLite numbers a new row after the highest left: the mark must not stay above numbers it will reuse.
        projection.set_hours_upto(conn, projection.catch_up_hours(conn))
    return deleted + forgotten
