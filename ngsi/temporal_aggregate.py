"""Aggregation of the history (``format=aggregatedValues``) in the database: one ``GROUP BY`` over entity,
attribute, datasetId and time bucket, so an hourly average over a week of minute data is one query, not a walk over
every instance in Python.

Buckets and windows of whole UTC hours read the hourly partial aggregates (``ngsi.temporal_hours``) instead of the
instances, unless the query is about when instances were recorded (createdAt/modifiedAt: the hours count observed
times) or the attributes have instances with a datasetId (the hours count an attribute's datasets together). A query
about when instances were recorded aggregates the changes of attributes without observedAt too
(``ngsi_temporal_changes``), as its normalized answer lists them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Integer, String, and_, cast, func, literal, select, union_all

from hub.collector import collection_paused
from hub.errors import TooComplexQuery
from ngsi import temporal_hours
from ngsi.tables import temporal_changes, temporal_instances
from ngsi.tables import temporal_hours as hours_table
from ngsi.temporal import AttrKey, TemporalQuery, TimeRel, change_filter, instance_filter, iso, time_of, window

Aggregated = dict[tuple[str, str], dict[AttrKey, dict[str, list[list[Any]]]]]


def _bucket(conn: Connection, ts: Any, origin: float, period: float | None) -> Any:
    if period is None:
        return cast(0, Integer)
    offset = (ts - origin) / period
    # SQLite truncates toward zero on CAST (every ts >= origin here); PostgreSQL would round, so it floors.
    return func.floor(offset) if conn.dialect.name == "postgresql" else cast(offset, Integer)


def _instance_columns(t: Any, at: Any) -> dict[str, Any]:
    """The aggregate columns over instances ``t`` (with value and value_num) at the times ``at``."""
    return {
        "n": func.count(),
        "n_num": func.count(t.value_num),
        "distinct": func.count(func.distinct(t.value)),
        "total": func.sum(t.value_num),
        "low": func.min(t.value_num),
        "high": func.max(t.value_num),
        "squares": func.sum(t.value_num * t.value_num),
        "first": func.min(at),
        "last": func.max(at),
    }


def _recorded(conn: Connection, q: TemporalQuery, keys: Sequence[tuple[str, str]]) -> Any:
    """timeproperty=createdAt/modifiedAt: the instances of ``keys`` and the changes of their attributes without
    observedAt (each with the value_num the write stored), as one subquery of tenant, entity_id, attr,
    dataset_id, value, value_num and at (the time the query is about)."""
    t, c = temporal_instances.c, temporal_changes.c
    observed = select(t.tenant, t.entity_id, t.attr, t.dataset_id, t.value, t.value_num, time_of(q).label("at"))
    changed = select(c.tenant, c.entity_id, c.attr, c.dataset_id, c.value, c.value_num, c.created_at)
    return union_all(observed.where(and_(*instance_filter(q, keys))), changed.where(*change_filter(q, keys))).subquery(
        "recorded"
    )


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
    """Whether the hourly partial aggregates may answer the query: buckets and window made of whole UTC hours of
    observed time, over every instance or the default ones only (see also ``_has_datasets``)."""
    if period is None or period % temporal_hours.HOUR or "distinctCount" in methods:
        return False
    if q.recorded or q.dataset_ids not in (None, frozenset({None})):
        return False
    bounds = [q.time_at if q.time_at is not None else 0.0, _lower_bound(q) if origin is None else origin]
    if q.timerel is TimeRel.BETWEEN:
        bounds.append(q.end_time_at if q.end_time_at is not None else 0.0)
    return all(bound % temporal_hours.HOUR == 0 for bound in bounds)


def _lower_bound(q: TemporalQuery) -> float:
    return q.time_at if q.timerel in (TimeRel.AFTER, TimeRel.BETWEEN) and q.time_at is not None else 0.0


def _origin(conn: Connection, q: TemporalQuery, keys: Sequence[tuple[str, str]], period: float | None) -> float:
    """Where the first aggregation period starts: the window's start, else the oldest instance aggregated; the
    number of periods the answer may hold is checked against the hub's cap on the way (:func:`_check_periods`).

    Without a start (no timerel, or before) the periods run from the first instance of the selected entities and
    attributes (ETSI 020_11: PT1H over instances from 12:03 gives 12:03-13:03, 13:03-14:03…), one origin for the
    whole answer so that the periods of several entities line up."""
    if period is None:
        return _lower_bound(q)
    if q.timerel is TimeRel.BETWEEN and q.end_time_at is not None:
        return _lower_bound(q)  # checked before any SQL
    oldest, newest = _data_span(conn, q, keys)
    origin = _lower_bound(q) if q.timerel is TimeRel.AFTER else oldest
    if origin is not None and oldest is not None and newest is not None:
        # Only the periods from the oldest instance's to the newest's can hold one: an empty period is not answered
        # (after 2020-01-01 by the hour, over instances of one August afternoon, is 3 periods, not 5,115).
        first = origin + math.floor((oldest - origin) / period) * period
        _check_periods(q, period, first, newest, closed=True)
    return origin if origin is not None else 0.0


def _data_span(
    conn: Connection, q: TemporalQuery, keys: Sequence[tuple[str, str]]
) -> tuple[float | None, float | None]:
    """The time of the oldest and of the newest instance aggregated (None, None: there is none)."""
    if q.recorded:
        at = _recorded(conn, q, keys).c.at
        row = conn.execute(select(func.min(at), func.max(at))).one()
    else:
        row = conn.execute(
            select(func.min(time_of(q)), func.max(time_of(q))).where(and_(*instance_filter(q, keys)))
        ).one()
    return (None if row[0] is None else float(row[0])), (None if row[1] is None else float(row[1]))


def _check_periods(q: TemporalQuery, period: float, start: float, end: float, *, closed: bool) -> None:
    """TooComplexQuery when ``aggrPeriodDuration`` cuts [start, end] (``closed``: the newest instance's time) or
    [start, end) (a between window) into more periods than an attribute may answer (NORDHUB_TEMPORAL_MAX_PERIODS).
    A cap of its own, not the raw instances' page size: an aggregated answer is not paged, and a broker run with
    small pages (the ETSI suite's 10) still answers a week by the hour."""
    cap = q.max_periods
    if cap is None:
        return
    periods = math.floor((end - start) / period) + 1 if closed else math.ceil((end - start) / period)
    if periods > cap:
        window = f"from {iso(start)} to {iso(end)}" + (
            " (the periods of the oldest to the newest instance)" if closed else ""
        )
        raise TooComplexQuery(
            f"aggrPeriodDuration of {period:g} s {window} makes {periods} periods per attribute, more than the "
            f"limit of {cap} (NORDHUB_TEMPORAL_MAX_PERIODS): ask for a longer aggrPeriodDuration or a narrower "
            "window (timerel, timeAt, endTimeAt)"
        )


def _in_hours(q: TemporalQuery) -> TemporalQuery:
    hour = temporal_hours.HOUR
    return replace(
        q,
        time_at=None if q.time_at is None else q.time_at / hour,
        end_time_at=None if q.end_time_at is None else q.end_time_at / hour,
    )


def _has_datasets(conn: Connection, q: TemporalQuery, keys: Sequence[tuple[str, str]]) -> bool:
    """Whether any asked attribute of ``keys`` has instances with a datasetId (a partial index lists them)."""
    t = temporal_instances.c
    tenants = {tenant for tenant, _ in keys}
    conditions = [t.entity_id.in_([entity_id for _, entity_id in keys]), t.tenant.in_(tenants)]
    if q.attrs:
        conditions.append(t.attr.in_(q.attrs))
    held = select(t.entity_id).where(*conditions, t.dataset_id.isnot(None)).limit(1)
    return conn.execute(held).first() is not None


def aggregate(
    conn: Connection,
    q: TemporalQuery,
    keys: Sequence[tuple[str, str]],
    *,
    period: float | None,
    methods: Sequence[str],
) -> Aggregated:
    """(tenant, id) → (attribute, datasetId) → method → [[value, bucket start, bucket end]], in one GROUP BY.

    Buckets of whole hours read the hourly partial aggregates (``ngsi.temporal_hours``), others the instances."""
    unknown = [method for method in methods if method not in _NEEDS]
    if unknown:
        raise ValueError(f"unknown aggregation method(s) {unknown}")
    if period is not None and q.timerel is TimeRel.BETWEEN and q.time_at is not None and q.end_time_at is not None:
        _check_periods(q, period, q.time_at, q.end_time_at, closed=False)  # the window is known: before any SQL
    if not keys:
        return {}
    origin = _origin(conn, q, keys, period)
    hourly = by_hours(q, period, methods, origin) and not _has_datasets(conn, q, keys)
    out: Aggregated = {}
    # A week of hourly buckets for a page of stations is tens of thousands of rows and three times as many small
    # lists, none in a cycle: with the cyclic collector on, its collections walking them were more than half of the
    # CPU time of the query (bench/ngsi_temporal.py). Reference counting frees them all the same.
    with collection_paused():
        select_ = _aggregate_select(conn, q, keys, period=period, methods=methods, origin=origin, hourly=hourly)
        result = conn.execute(select_)
        rows = result.all()  # fetched whole: iterating the result fetches row by row, which cost more than the loop
        positions = {name: index for index, name in enumerate(result.keys())}
        _fill(out, rows, positions, q, set(keys), period, methods, origin)
    return out


def _fill(
    out: Aggregated,
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
    current: tuple[str, str, str, str | None] | None = None
    series: list[list[list[Any]]] = []
    values_of = [_value_of(method, pos) for method in methods]
    for row in rows:
        key = (row[0], row[1], row[2], row[3])  # tenant, entity id, attribute, datasetId; then the bucket
        if key != current:  # rows come ordered by entity and attribute: look the lists up once per series
            current = key
            entity = (key[0], key[1])
            target = out.setdefault(entity, {}).setdefault((key[2], key[3]), {}) if entity in wanted else None
            series = [target.setdefault(method, []) for method in methods] if target is not None else []
        if not series:
            continue
        span = spans.get(row[4]) if period is not None else None
        if span is None:
            start, end = _span(row, origin, period, q)
            span = spans[row[4]] = (_iso(start), _iso(end))
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
    hourly: bool,
) -> Any:
    wanted_columns = {name for method in methods for name in _NEEDS[method]}
    if period is None:
        wanted_columns |= {"first", "last"}  # the one bucket spans the data when no window bounds it
    if hourly:
        source: Any = hours_table.c
        ts = hours_table.c.hour * temporal_hours.HOUR
        # The window's bounds are hour boundaries: compared on the hour column, they use its index.
        bounds = window(_in_hours(q), hours_table.c.hour)
        dataset: Any = literal(None, String)  # only asked when no instance of these attributes has a datasetId
        # Buckets of one hour are the stored rows themselves, already in key order: no grouping, no sort.
        single = period == temporal_hours.HOUR
        available = _hour_columns(grouped=not single)
    elif q.recorded:
        source = _recorded(conn, q, keys).c
        available, ts = _instance_columns(source, source.at), source.at
        bounds, single, dataset = [], False, source.dataset_id
    else:
        source, ts = temporal_instances.c, time_of(q)
        available = _instance_columns(source, ts)
        bounds, single, dataset = [], False, temporal_instances.c.dataset_id
    bucket = _bucket(conn, ts, origin, period).label("bucket")
    columns = [column.label(name) for name, column in available.items() if name in wanted_columns]
    if hourly:
        conditions = [source.entity_id.in_([e for _, e in keys]), source.tenant.in_({t for t, _ in keys}), *bounds]
        if q.attrs:
            conditions.append(source.attr.in_(q.attrs))
    else:
        conditions = [] if q.recorded else instance_filter(q, keys)  # the recorded subquery is filtered already
    head = (source.tenant, source.entity_id, source.attr, dataset.label("dataset_id"))
    stmt = select(*head, bucket, *columns).where(*conditions)
    if single:
        return stmt.order_by(source.tenant, source.entity_id, source.attr, source.hour)
    group = (source.tenant, source.entity_id, source.attr, dataset, bucket)
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
