"""Hourly partial aggregates of the attribute history (``ngsi_temporal_hours``), kept beside the instances.

Each row holds, for one attribute of one entity and one UTC hour, what any later aggregation over whole hours
needs: counts, sum, min, max, sum of squares, first and last instant. Sums, counts, minima and maxima of hours add
up to those of any longer bucket made of whole hours, so ``aggrPeriodDuration=PT1H`` (or P1D, P1W…) from an hour
boundary reads one row per hour instead of every instance. A distinct count does not add up: it always reads the
instances (``ngsi.temporal``).

Writes are incremental (the new instances' hours are added to the stored ones) when every instance offered was
stored; when the database dropped some as duplicates, the touched hours are recomputed from the instances instead,
so an hour never counts an instance twice. Only this module issues SQL on ``ngsi_temporal_hours``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete

from hub.driver import copy_rows
from ngsi.tables import temporal_hours

HOUR = 3600.0
COPY_THRESHOLD = 200  # PostgreSQL: below this many rows, executemany is as fast as staging through COPY
COLUMNS = "tenant, entity_id, attr, hour, n, n_num, total, low, high, squares, ts_first, ts_last"
_KEY = "(tenant, entity_id, attr, hour)"

# One instance as ``ngsi.store`` writes it: (tenant, entity id, attribute, ts, numeric value or None, JSON value,
# created_at, then its datasetId if it has one). An hour counts every dataset of the attribute together.
Instance = tuple[Any, ...]
HourKey = tuple[str, str, str, int]


def hour_of(ts: float) -> int:
    return int(ts // HOUR)


def _fold(instances: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The hourly partial aggregates of ``instances``, one row per (tenant, entity, attribute, hour)."""
    hours: dict[HourKey, list[Any]] = {}
    for tenant, entity_id, attr, ts, num, *_rest in instances:
        key = (tenant, entity_id, attr, hour_of(ts))
        acc = hours.get(key)
        if acc is None:
            acc = hours[key] = [0, 0, None, None, None, None, ts, ts]
        acc[0] += 1
        if num is not None:
            acc[1] += 1
            acc[2] = num if acc[2] is None else acc[2] + num
            acc[3] = num if acc[3] is None else min(acc[3], num)
            acc[4] = num if acc[4] is None else max(acc[4], num)
            acc[5] = num * num if acc[5] is None else acc[5] + num * num
        acc[6], acc[7] = min(acc[6], ts), max(acc[7], ts)
    return [(*key, *acc) for key, acc in hours.items()]


def _merge(dialect: str) -> str:
    """ON CONFLICT clause adding an hour's new partial aggregates to the stored ones (NULL: no numeric value)."""
    least, greatest = ("LEAST", "GREATEST") if dialect == "postgresql" else ("min", "max")
    t = "ngsi_temporal_hours"

    def added(c: str) -> str:
        return (
            f"{c} = CASE WHEN {t}.{c} IS NULL THEN excluded.{c} WHEN excluded.{c} IS NULL THEN {t}.{c} "
            f"ELSE {t}.{c} + excluded.{c} END"
        )

    def extreme(c: str, fn: str) -> str:
        return f"{c} = {fn}(COALESCE({t}.{c}, excluded.{c}), COALESCE(excluded.{c}, {t}.{c}))"

    return (
        f"{_KEY} DO UPDATE SET n = {t}.n + excluded.n, n_num = {t}.n_num + excluded.n_num, "
        f"{added('total')}, {extreme('low', least)}, {extreme('high', greatest)}, {added('squares')}, "
        f"ts_first = {least}({t}.ts_first, excluded.ts_first), ts_last = {greatest}({t}.ts_last, excluded.ts_last)"
    )


def _mark(conn: Connection) -> str:
    return "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"


def _upsert(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    on_conflict = _merge(conn.dialect.name)
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        conn.exec_driver_sql(
            "CREATE TEMP TABLE IF NOT EXISTS _stage_ngsi_temporal_hours "
            "(LIKE ngsi_temporal_hours INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        copy_rows(conn, "_stage_ngsi_temporal_hours", COLUMNS, rows)
        conn.exec_driver_sql(
            f"INSERT INTO ngsi_temporal_hours ({COLUMNS}) SELECT {COLUMNS} FROM _stage_ngsi_temporal_hours "
            f"ON CONFLICT {on_conflict}"
        )
        conn.exec_driver_sql("TRUNCATE _stage_ngsi_temporal_hours")
        return
    marks = ", ".join([_mark(conn)] * 12)
    sql = f"INSERT INTO ngsi_temporal_hours ({COLUMNS}) VALUES ({marks}) ON CONFLICT {on_conflict}"
    conn.exec_driver_sql(sql, rows)


def recompute(conn: Connection, keys: Iterable[HourKey]) -> None:
    """Rebuild the given hours from the stored instances (after a write that dropped duplicates, or a deletion)."""
    params = [(*key, key[3] * HOUR, (key[3] + 1) * HOUR) for key in dict.fromkeys(keys)]
    if not params:
        return
    m = _mark(conn)
    conn.exec_driver_sql(
        f"DELETE FROM ngsi_temporal_hours WHERE tenant = {m} AND entity_id = {m} AND attr = {m} AND hour = {m}",
        [p[:4] for p in params],
    )
    conn.exec_driver_sql(
        f"INSERT INTO ngsi_temporal_hours ({COLUMNS}) "
        f"SELECT tenant, entity_id, attr, {m}, count(*), count(value_num), sum(value_num), min(value_num), "
        "max(value_num), sum(value_num * value_num), min(ts), max(ts) FROM ngsi_temporal_instances "
        f"WHERE tenant = {m} AND entity_id = {m} AND attr = {m} AND ts >= {m} AND ts < {m} "
        "GROUP BY tenant, entity_id, attr",
        [(p[3], *p[:3], p[4], p[5]) for p in params],
    )


def _floor_hour(dialect: str) -> str:
    if dialect == "postgresql":
        return "CAST(floor(ts / 3600) AS INTEGER)"
    return "(CAST(ts / 3600 AS INTEGER) - (ts < 0 AND ts / 3600 <> CAST(ts / 3600 AS INTEGER)))"  # a floor


def _folded(dialect: str, source: str) -> str:
    """``INSERT … SELECT`` adding the hourly aggregates of the instances ``source`` yields to the stored hours."""
    hour = _floor_hour(dialect)
    return (
        f"INSERT INTO ngsi_temporal_hours ({COLUMNS}) "
        f"SELECT tenant, entity_id, attr, {hour}, count(*), count(value_num), sum(value_num), min(value_num), "
        f"max(value_num), sum(value_num * value_num), min(ts), max(ts) FROM {source} "
        f"GROUP BY tenant, entity_id, attr, {hour} ON CONFLICT {_merge(dialect)}"
    )


def add_range(conn: Connection, after: int, upto: int) -> None:
    """SQLite: add the instances numbered ``after`` < pk <= ``upto`` to their hours (ngsi/projection.py).

    The database folds them in one statement: folding in Python and upserting one row per hour cost as much as
    storing the instances (bench/harvest_pipeline.py)."""
    conn.exec_driver_sql(_folded("sqlite", "ngsi_temporal_instances WHERE pk > ? AND pk <= ?"), (after, upto))


def with_hours(insert: str) -> str:
    """PostgreSQL: one statement running ``insert`` (``INSERT INTO ngsi_temporal_instances … RETURNING tenant,
    entity_id, attr, ts, value_num``) that adds exactly the rows it inserted to their hours."""
    return f"WITH ins AS ({insert}) " + _folded("postgresql", "ins")


def recompute_spans(conn: Connection, spans: Sequence[tuple[str, str, int, int]]) -> None:
    """PostgreSQL: rebuild the hours ``first``..``last`` of (tenant, entity id, first, last) from the instances,
    every attribute of the entity (ngsi/projection.py replays the hours of entity writes so)."""
    arrays = tuple(list(column) for column in zip(*spans, strict=True))
    spans_sql = "unnest(%s::varchar[], %s::varchar[], %s::int[], %s::int[]) AS d(tenant, entity_id, h0, h1)"
    conn.exec_driver_sql(
        f"DELETE FROM ngsi_temporal_hours AS h USING {spans_sql} WHERE h.tenant = d.tenant "
        "AND h.entity_id = d.entity_id AND h.hour BETWEEN d.h0 AND d.h1",
        arrays,
    )
    hour = _floor_hour("postgresql")
    conn.exec_driver_sql(
        f"INSERT INTO ngsi_temporal_hours ({COLUMNS}) "
        f"SELECT i.tenant, i.entity_id, i.attr, {hour}, count(*), count(value_num), sum(value_num), "
        "min(value_num), max(value_num), sum(value_num * value_num), min(ts), max(ts) "
        f"FROM {spans_sql} JOIN ngsi_temporal_instances AS i ON i.tenant = d.tenant AND i.entity_id = d.entity_id "
        f"AND i.ts >= d.h0 * 3600.0 AND i.ts < (d.h1 + 1) * 3600.0 GROUP BY i.tenant, i.entity_id, i.attr, {hour}",
        arrays,
    )


def add(conn: Connection, instances: Sequence[tuple[Any, ...]], stored: int) -> None:
    """Account for ``instances`` just offered to ``ngsi_temporal_instances``, of which ``stored`` were inserted."""
    if not instances:
        return
    if stored == len(instances):
        _upsert(conn, _fold(instances))
    else:
        recompute(conn, ((t, e, a, hour_of(ts)) for t, e, a, ts, *_rest in instances))


def forget(conn: Connection, tenant: str | None, entity_id: str, attr: str | None = None) -> None:
    """Drop the hours of one entity (or of one of its attributes), when its history is deleted."""
    h = temporal_hours.c
    conditions = [h.entity_id == entity_id]
    if tenant is not None:
        conditions.append(h.tenant == tenant)
    if attr is not None:
        conditions.append(h.attr == attr)
    conn.execute(delete(temporal_hours).where(and_(*conditions)))


def recount(conn: Connection, tenant: str, entity_id: str, attr: str) -> None:
    """Rebuild every hour of one attribute from its instances (after some of its datasets' instances went)."""
    forget(conn, tenant, entity_id, attr)
    m, hour = _mark(conn), _floor_hour(conn.dialect.name)
    conn.exec_driver_sql(
        f"INSERT INTO ngsi_temporal_hours ({COLUMNS}) "
        f"SELECT tenant, entity_id, attr, {hour}, count(*), count(value_num), sum(value_num), min(value_num), "
        "max(value_num), sum(value_num * value_num), min(ts), max(ts) FROM ngsi_temporal_instances "
        f"WHERE tenant = {m} AND entity_id = {m} AND attr = {m} GROUP BY tenant, entity_id, attr, {hour}",
        (tenant, entity_id, attr),
    )


def rebuild(conn: Connection) -> None:
    """Every hour from the stored instances (the migration that creates the table)."""
    conn.execute(delete(temporal_hours))
    hour = _floor_hour(conn.dialect.name)
    conn.exec_driver_sql(
        f"INSERT INTO ngsi_temporal_hours ({COLUMNS}) "
        f"SELECT tenant, entity_id, attr, {hour}, count(*), count(value_num), sum(value_num), min(value_num), "
        "max(value_num), sum(value_num * value_num), min(ts), max(ts) FROM ngsi_temporal_instances "
        f"GROUP BY tenant, entity_id, attr, {hour}"
    )
