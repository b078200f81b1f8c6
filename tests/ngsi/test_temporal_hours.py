"""Hourly partial aggregates: aggregation over whole hours reads them and answers what the instances answer."""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

import pytest
from sqlalchemy import Connection, text

from hub.db import Database
from ngsi import projection, temporal
from ngsi.temporal import TemporalQuery, TimeRel, add_instances, delete_history
from ngsi.temporal_aggregate import aggregate, by_hours

TENANT = "oslo"
E1, E2 = "urn:ngsi-ld:T:oslo:1", "urn:ngsi-ld:T:oslo:2"
T0 = 1_741_000_000.0 // 3600 * 3600  # an hour boundary
BIKES = ("bikes", None)  # the attribute, default instance (no datasetId)
METHODS = ["totalCount", "sum", "avg", "min", "max", "stddev", "sumsq"]


def _series(seed: int, minutes: int) -> list[tuple[str, float, Any]]:
    """Minute data with gaps, a few non-numeric values and an instant just before the first hour."""
    rng = random.Random(seed)
    rows: list[tuple[str, float, Any]] = [("bikes", T0 - 30.0, 3)]
    for minute in range(minutes):
        if rng.random() < 0.1:
            continue
        value: Any = rng.randint(0, 30) if rng.random() > 0.05 else "n/a"
        rows.append(("bikes", T0 + minute * 60.0 + rng.random(), value))
    return rows


def _expected(rows: list[tuple[str, float, Any]], start: float, end: float, period: float) -> dict[str, list[Any]]:
    """What each method gives per bucket, computed here from the instances themselves."""
    buckets: dict[int, list[Any]] = {}
    for _attr, ts, value in rows:
        if start <= ts < end:
            buckets.setdefault(int((ts - start) // period), []).append(value)
    out: dict[str, list[Any]] = {m: [] for m in METHODS}
    for index in sorted(buckets):
        values = buckets[index]
        numbers = [float(v) for v in values if not isinstance(v, str)]
        mean = statistics.fmean(numbers) if numbers else None
        out["totalCount"].append(len(values))
        out["sum"].append(sum(numbers) if numbers else None)
        out["avg"].append(mean)
        out["min"].append(min(numbers) if numbers else None)
        out["max"].append(max(numbers) if numbers else None)
        out["stddev"].append(statistics.pstdev(numbers) if numbers else None)
        out["sumsq"].append(sum(n * n for n in numbers) if numbers else None)
    return out


def _close(got: list[Any], want: list[Any]) -> bool:
    return len(got) == len(want) and all(
        (g is None and w is None) or (g is not None and w is not None and math.isclose(g, w, abs_tol=1e-6))
        for g, w in zip(got, want, strict=True)
    )


def _hours(conn: Connection) -> list[tuple[Any, ...]]:
    projection.catch_up(conn)  # on SQLite the hours are replayed from the instances
    return [tuple(r) for r in conn.execute(text("SELECT * FROM ngsi_temporal_hours ORDER BY entity_id, hour"))]


def _query(start: float, end: float) -> TemporalQuery:
    return TemporalQuery(tenant=TENANT, attrs=["bikes"], timerel=TimeRel.BETWEEN, time_at=start, end_time_at=end)


def test_whole_hours_use_the_hourly_aggregates_and_others_the_instances() -> None:
    q = _query(T0, T0 + 7200)
    assert by_hours(q, 3600.0, ["avg", "max"])
    assert by_hours(q, 86400.0, ["totalCount"])
    assert not by_hours(q, 1800.0, ["avg"])  # half hours
    assert not by_hours(q, 3600.0, ["distinctCount"])  # does not add up over hours
    assert not by_hours(_query(T0 + 60, T0 + 7200), 3600.0, ["avg"])  # window starts inside an hour
    assert not by_hours(_query(T0, T0 + 7260), 3600.0, ["avg"])
    assert not by_hours(q, None, ["avg"])


@pytest.mark.parametrize("period", [3600.0, 7200.0, 86400.0])
def test_hourly_aggregates_answer_what_the_instances_answer(db: Database, period: float) -> None:
    rows1, rows2 = _series(1, 300), _series(2, 200)
    with db.begin() as conn:
        add_instances(conn, TENANT, E1, rows1[:150])
        add_instances(conn, TENANT, E1, rows1[150:])  # a second write into hours that already hold instances
        add_instances(conn, TENANT, E2, rows2)
    start, end = T0, T0 + 4 * 3600
    q = _query(start, end)
    assert by_hours(q, period, METHODS)
    with db.begin() as conn:
        projection.catch_up(conn)
        got = aggregate(conn, q, [(TENANT, E1), (TENANT, E2)], period=period, methods=METHODS)
    for entity, rows in ((E1, rows1), (E2, rows2)):
        want = _expected(rows, start, end, period)
        for method in METHODS:
            values = [v[0] for v in got[(TENANT, entity)][BIKES][method]]
            assert _close(values, want[method]), (entity, method, values, want[method])
    bounds = got[(TENANT, E1)][BIKES]["avg"][0][1:]
    assert bounds == [temporal.iso(start), temporal.iso(start + period)]


@pytest.mark.parametrize("again", [10, 300])  # 300: the bulk path (COPY on PostgreSQL) folding in SQL
def test_instances_stored_twice_are_counted_once(db: Database, again: int) -> None:
    rows = _series(3, 360)
    with db.begin() as conn:
        add_instances(conn, TENANT, E1, rows)
        add_instances(conn, TENANT, E1, [*rows[:again], ("bikes", T0 + 7300.0, 99)])  # already stored but one
        incremental = _hours(conn)
        projection.rebuild_hours(conn)
        assert _hours(conn) == incremental
    q = _query(T0, T0 + 3 * 3600)
    with db.begin() as conn:
        projection.catch_up(conn)
        got = aggregate(conn, q, [(TENANT, E1)], period=3600.0, methods=["totalCount", "max"])
    want = _expected([*rows, ("bikes", T0 + 7300.0, 99)], T0, T0 + 3 * 3600, 3600.0)
    assert [v[0] for v in got[(TENANT, E1)][BIKES]["totalCount"]] == want["totalCount"]
    assert [v[0] for v in got[(TENANT, E1)][BIKES]["max"]] == want["max"]


def test_deleted_history_leaves_no_hours(db: Database) -> None:
    with db.begin() as conn:
        add_instances(conn, TENANT, E1, _series(4, 90))
        add_instances(conn, TENANT, E2, _series(5, 90))
        delete_history(conn, TENANT, E1)
        assert {row[1] for row in _hours(conn)} == {E2}
        delete_history(conn, TENANT, E2, "bikes")
        assert _hours(conn) == []


def test_hours_before_1970_floor_like_python(db: Database) -> None:
    with db.begin() as conn:
        add_instances(conn, TENANT, E1, [("bikes", -1800.0, 1), ("bikes", -3600.0, 2), ("bikes", 1.0, 3)])
        incremental = _hours(conn)
        projection.rebuild_hours(conn)
        assert _hours(conn) == incremental
    assert [row[3] for row in incremental] == [-1, 0]
