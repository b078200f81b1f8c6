"""Temporal aggregation: hourly averages of 260 stations x 7 days of 1-minute data (2,620,800 instances).

The stations are stored through ``ngsi.store.upsert_entities`` (tenant oslo) and their history through
``ngsi.temporal.add_instances``, a bike count per minute following a random walk. The database is kept under
``var/bench/`` (SQLite) or in its own PostgreSQL database and reused when it holds the right number of instances.

The figure: ``GET /ngsi-ld/v1/temporal/entities?type=…&attrs=availableBikeNumber&aggrMethods=avg&
aggrPeriodDuration=PT1H`` over the week (43,680 hourly averages), p50/p95 of the function path and of the whole
ASGI path in-process, beside the floor: a raw SQL ``GROUP BY`` over the same rows, every row fetched.

Run alone: ``python -m bench.ngsi_temporal [postgresql+psycopg://…]``.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Connection, text

from api.app import build_state, create_app
from bench.ngsi_query import (
    VAR,
    bench_settings,
    city_writes,
    pg_database,
    sqlite_url,
    timed,
    timed_async,
)
from hub.db import Database
from hub.settings import Settings
from ngsi import projection, store
from ngsi import temporal as history
from ngsi.temporal_aggregate import aggregate

STATIONS = 260
DAYS = 7
STEP = 60.0
START = datetime(2026, 11, 16, tzinfo=UTC).timestamp()
END = START + DAYS * 86400
TENANT = "oslo"
ATTR = "availableBikeNumber"
GOAL_MS = 300.0
RUNS = 20
QUERY = (
    f"type=BikeHireDockingStation&attrs={ATTR}&options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=PT1H"
    f"&timerel=between&timeAt={history.iso(START)}&endTimeAt={history.iso(END)}&limit=1000"
)
INSTANCES = STATIONS * DAYS * 86400 // int(STEP)


def stored_instances(db: Database) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM ngsi_temporal_instances")).scalar_one())


def series(rng: random.Random, capacity: int) -> list[tuple[str, float, Any]]:
    """One station's week: (attribute, ts, bike count) every minute, a bounded random walk."""
    bikes = rng.randint(0, capacity)
    rows: list[tuple[str, float, Any]] = []
    ts = START
    while ts < END:
        bikes = min(max(bikes + rng.choice((-1, 0, 0, 0, 1)), 0), capacity)
        rows.append((ATTR, ts, bikes))
        ts += STEP
    return rows


def load(db: Database) -> float | None:
    """Stations and their week of history, unless the database holds them already; seconds taken."""
    if stored_instances(db) == INSTANCES:
        return None
    with db.begin() as conn:
        for table in ("ngsi_attr_index", "ngsi_temporal_hours", "ngsi_temporal_instances", "ngsi_entities"):
            conn.execute(text(f"DELETE FROM {table}"))
    started = time.perf_counter()
    writes = city_writes(TENANT, "NO", 0, STATIONS)
    rng = random.Random(11)
    with db.begin() as conn:
        store.upsert_entities(conn, writes, now=datetime.now(UTC))
        conn.execute(text("DELETE FROM ngsi_temporal_instances"))  # the harvest's one instance per station
    for write in writes:
        with db.begin() as conn:
            history.add_instances(conn, TENANT, write.id, series(rng, write.entity["totalSlotNumber"]["value"]))
    with db.begin() as conn:  # the indexes and (SQLite) the hourly aggregates, as after a harvest run
        projection.catch_up(conn)
    with db.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE"))
    return time.perf_counter() - started


def function_path(conn: Connection) -> Any:
    """The entities of the page, then the hourly averages of their attribute in one GROUP BY."""
    q = history.TemporalQuery(
        tenant=TENANT,
        types=["BikeHireDockingStation"],
        attrs=[ATTR],
        timerel=history.TimeRel.BETWEEN,
        time_at=START,
        end_time_at=END,
        limit=1000,
    )

    def call() -> object:
        found, _total = history.matching_entities(conn, q)
        keys = [(tenant, entity_id) for tenant, entity_id, _t, _d in found]
        return aggregate(conn, q, keys, period=3600.0, methods=["avg"])

    return call


def raw_group_by(conn: Connection) -> Any:
    """The floor: the same averages by hand-written SQL, every row fetched."""
    bucket = "floor((ts - :start) / 3600)" if conn.dialect.name == "postgresql" else "CAST((ts - :start) / 3600 AS INT)"
    sql = text(
        f"SELECT entity_id, {bucket} AS b, avg(value_num) FROM ngsi_temporal_instances "
        "WHERE tenant = :tenant AND attr = :attr AND ts >= :start AND ts < :end GROUP BY entity_id, b"
    )
    params = {"tenant": TENANT, "attr": ATTR, "start": START, "end": END}
    return lambda: conn.execute(sql, params).all()


async def asgi_path(settings: Settings) -> tuple[float, float]:
    state = build_state(settings)
    app = create_app(settings, state=state)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as client:

            async def call() -> None:
                headers = {"NGSILD-Tenant": TENANT}
                response = await client.get(f"/ngsi-ld/v1/temporal/entities?{QUERY}", headers=headers)
                response.raise_for_status()

            return await timed_async(call, runs=RUNS)
    finally:
        state.db.dispose()  # its connections closed here, not left to the garbage collector


def run(url: str, label: str) -> None:
    db = Database(url)
    db.upgrade()
    seconds = load(db)
    loaded = f"loaded in {seconds:.0f} s" if seconds else "reused"
    print(
        f"[{label}] temporal aggregation, {STATIONS} stations x {DAYS} days of 1-minute data "
        f"({INSTANCES:,} instances, {loaded}), avg per hour:"
    )
    with db.connect() as conn:
        # (tenant, id) → (attribute, datasetId) → method → buckets; the stations' are default instances (None)
        buckets = sum(len(v[(ATTR, None)]["avg"]) for v in function_path(conn)().values())
        fn = timed(function_path(conn), runs=RUNS)
        floor = timed(raw_group_by(conn), runs=3, warmup=1)  # seconds each: a few runs
    whole = asyncio.run(asgi_path(bench_settings(url)))
    for name, fig in (("entities + GROUP BY", fn), ("whole ASGI path", whole)):
        verdict = "goal met" if fig[0] <= GOAL_MS else f"GOAL MISSED (p50 > {GOAL_MS:.0f} ms)"
        print(
            f"    {name:<22} {buckets:,} averages  p50 {fig[0]:7.1f} ms  p95 {fig[1]:7.1f} ms   "
            f"raw SQL GROUP BY p50 {floor[0]:7.1f} ms  p95 {floor[1]:7.1f} ms   {verdict}"
        )
    db.dispose()


def main(pg_url: str | None = None) -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    run(sqlite_url("ngsi_temporal.db"), "sqlite")
    if pg_url:
        run(pg_database(pg_url, "ngsi_temporal"), "postgresql")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
