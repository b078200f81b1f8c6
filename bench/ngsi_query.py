"""NGSI-LD entity queries at 1,000,000 entities (``NORDHUB_BENCH_NGSI_N``), each figure beside its floor.

The entities are BikeHireDockingStation stations made by the GBFS transform the harvester runs, spread over the 15
city tenants of the registry, and stored through ``ngsi.store.upsert_entities`` in batches (which fills the
attribute index exactly as a harvest does). The database is kept under ``var/bench/`` (SQLite) or in its own
PostgreSQL database and reused when it already holds the right number of entities, so a second run does not
reload.

Figures (p50/p95 in-process, after warm-up):

- ``type=T&limit=100``: ``entity_pages.query_entities`` + ``render_list`` (the function path) and the whole ASGI path
  through ``httpx.ASGITransport``, beside the plain SQL (``SELECT data … WHERE type ORDER BY id LIMIT 100``);
- ``q=availableBikeNumber>5;status=="working"`` with type and limit, beside the same filter as a JSON scan
  (``json_extract`` on SQLite, ``jsonb`` operators on PostgreSQL);
- requests per second over HTTP against one uvicorn worker (``bench.ngsi_http``).

Run alone: ``python -m bench.ngsi_query [postgresql+psycopg://…]``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import psycopg
from sqlalchemy import Connection, text

from api.app import create_app
from bench import ngsi_http
from bench.harvest_pipeline import feeds
from harvester.sources.gbfs_transform import GbfsSystem, station_records
from hub.cities import load_cities
from hub.db import Database
from hub.settings import Settings
from ngsi import entity_pages, projection, store
from ngsi.q_sql import compile_q_text
from ngsi.representation import Format, render_list
from ngsi.tables import entities

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "bench"
DEFAULT_N = 1_000_000
BATCH = 10_000
RUNS = 200
TYPE = "BikeHireDockingStation"
Q = 'availableBikeNumber>5;status=="working"'
MOMENT = 1_763_900_000
GOALS_MS = {"type": 5.0, "q": 20.0}


def entity_count() -> int:
    return int(os.environ.get("NORDHUB_BENCH_NGSI_N", str(DEFAULT_N)))


def sqlite_url(name: str) -> str:
    return f"sqlite:///{VAR / name}"


def pg_database(url: str, suffix: str) -> str:
    """A database of its own beside the benchmark database (others empty their tables between runs)."""
    base, name = url.rsplit("/", 1)
    target = f"{name.split('?')[0]}_{suffix}"
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone():
            conn.execute(f'CREATE DATABASE "{target}"')
    return f"{base}/{target}"


def city_writes(city: str, country: str, start: int, count: int) -> list[store.EntityWrite]:
    """``count`` stations of one city from station number ``start``, as the GBFS transform makes them."""
    info, status = feeds(count, seed=hash((city, start)) & 0xFFFF, moment=MOMENT, start=start)
    system = GbfsSystem(city_id=city, system_id=f"{city}-bysykkel", name=f"{city.capitalize()} Bysykkel")
    records = station_records(orjson.loads(info), orjson.loads(status), system)
    scope = f"/Nordic/{country}/{city}"
    return [store.EntityWrite(city, r.entity, scope=scope, source_id=f"{city}-gbfs") for r in records if r.entity]


def stored_count(db: Database) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM ngsi_entities")).scalar_one())


def load(db: Database, n: int, countries: dict[str, str]) -> float | None:
    """Fill the database with ``n`` stations over every city unless it holds them already; seconds taken."""
    if stored_count(db) == n:
        return None
    with db.begin() as conn:
        for table in ("ngsi_attr_index", "ngsi_temporal_hours", "ngsi_temporal_instances", "ngsi_entities"):
            conn.execute(text(f"DELETE FROM {table}"))
    started = time.perf_counter()
    cities = sorted(countries)
    for rank, city in enumerate(cities):
        share = n // len(cities) + (1 if rank < n % len(cities) else 0)
        for start in range(0, share, BATCH):
            writes = city_writes(city, countries[city], start, min(BATCH, share - start))
            with db.begin() as conn:
                store.upsert_entities(conn, writes, now=datetime.now(UTC))
    with db.begin() as conn:  # the query indexes, as a harvest run brings them up to date after its commit
        projection.catch_up(conn)
    with db.connect() as conn:  # what autovacuum / a maintenance run would have done before anyone queries
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE"))
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples.sort()
    return statistics.median(samples), samples[max(int(len(samples) * 0.95) - 1, 0)]


def timed(call: Callable[[], object], runs: int = RUNS, warmup: int = 5) -> tuple[float, float]:
    """p50 and p95 in milliseconds, after a few warm-up calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


async def timed_async(call: Callable[[], Awaitable[object]], runs: int = RUNS) -> tuple[float, float]:
    for _ in range(5):
        await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def function_path(conn: Connection, q: str | None, tenant: str | None) -> Callable[[], bytes]:
    """What the router does below HTTP: compile q, query, render the page."""

    def call() -> bytes:
        extra = [compile_q_text(q, entities)] if q else []
        rows, _ = entity_pages.query_entities(conn, tenant=tenant, types=[TYPE], limit=100, extra=extra)
        return render_list(rows, Format.NORMALIZED, with_context=False)

    return call


def plain_sql(conn: Connection, q: str | None, tenant: str | None) -> Callable[[], bytes]:
    """The floor: the same page by hand-written SQL (q as a JSON scan of the stored documents)."""
    where = "type = :type AND NOT removed" + (" AND tenant = :tenant" if tenant else "")
    if q and conn.dialect.name == "postgresql":
        where += (
            " AND (data::jsonb #>> '{availableBikeNumber,value}')::float > 5"
            " AND data::jsonb #>> '{status,value}' = 'working'"
        )
    elif q:
        where += (
            " AND json_extract(data, '$.availableBikeNumber.value') > 5"
            " AND json_extract(data, '$.status.value') = 'working'"
        )
    sql = text(f"SELECT data FROM ngsi_entities WHERE {where} ORDER BY id, tenant LIMIT 100")
    params = {"type": TYPE, "tenant": tenant}

    def call() -> bytes:
        return b"[" + b",".join(row.data.encode() for row in conn.execute(sql, params)) + b"]"

    return call


async def asgi_path(settings: Settings, query: str, tenant: str | None) -> tuple[tuple[float, float], ...]:
    """The whole request through FastAPI in-process, and the same bytes from a bare Starlette app (the floor)."""
    headers = {"NGSILD-Tenant": tenant} if tenant else {}
    path = f"/ngsi-ld/v1/entities?{query}"
    hub = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://hub")
    async with hub:
        body = (await hub.get(path, headers=headers)).raise_for_status().content
        bare = httpx.AsyncClient(transport=httpx.ASGITransport(app=ngsi_http.bare_app(body)), base_url="http://bare")
        async with bare:

            async def call_hub() -> None:
                (await hub.get(path, headers=headers)).raise_for_status()

            async def call_bare() -> None:
                (await bare.get(path, headers=headers)).raise_for_status()

            return await timed_async(call_hub), await timed_async(call_bare)


# The anonymous rate limit (50 req/s per address) would answer most benchmark requests with 429. A rate no run
# reaches keeps the rate-limit middleware on the path, taking a token per request as in production.
UNREACHED_RATE = {"rate_limit_anonymous": 1e9, "rate_limit_anonymous_burst": 10**9}


def bench_settings(url: str) -> Settings:
    return Settings(
        database_url=url, data_dir=VAR / "data", scheduler_enabled=False, log_level="WARNING", **UNREACHED_RATE
    )


def report_line(name: str, fig: tuple[float, float], floor: tuple[float, float], floor_name: str, goal: float) -> str:
    verdict = "goal met" if fig[0] <= goal else f"GOAL MISSED (p50 > {goal:.0f} ms)"
    return (
        f"    {name:<34} p50 {fig[0]:6.2f} ms  p95 {fig[1]:6.2f} ms   {floor_name} p50 {floor[0]:6.2f} ms"
        f"  p95 {floor[1]:6.2f} ms   {verdict}"
    )


def in_process(db: Database, settings: Settings, label: str) -> None:
    query_type = f"type={TYPE}&limit=100"
    query_q = f"{query_type}&q={Q}"
    with db.connect() as conn:
        for tenant in (None, "oslo"):
            view = f"tenant {tenant}" if tenant else "federated view"
            print(f"  [{label}] {view}:")
            fn = timed(function_path(conn, None, tenant))
            floor = timed(plain_sql(conn, None, tenant))
            print(report_line("type&limit=100, query+render", fn, floor, "plain SQL", GOALS_MS["type"]))
            whole, bare = asyncio.run(asgi_path(settings, query_type, tenant))
            print(report_line("type&limit=100, whole ASGI path", whole, bare, "bare ASGI", GOALS_MS["type"]))
            fn = timed(function_path(conn, Q, tenant))
            floor = timed(plain_sql(conn, Q, tenant), runs=20, warmup=1)
            print(report_line("q, compile+query+render", fn, floor, "JSON scan", GOALS_MS["q"]))
            whole, bare = asyncio.run(asgi_path(settings, query_q, tenant))
            print(report_line("q, whole ASGI path", whole, bare, "bare ASGI", GOALS_MS["q"]))


def run(url: str, label: str) -> None:
    n = entity_count()
    registry = load_cities(ROOT / "cities.toml")
    countries = {c.id: c.country for c in registry.cities}
    db = Database(url)
    db.upgrade()
    seconds = load(db, n, countries)
    loaded = f"loaded in {seconds:.0f} s ({n / seconds:,.0f} entities/s)" if seconds else "reused"
    print(f"[{label}] NGSI-LD queries, {n:,} BikeHireDockingStation entities over {len(countries)} tenants ({loaded}):")
    settings = bench_settings(url)
    in_process(db, settings, label)
    db.dispose()
    ngsi_http.main(url, label, f"type={TYPE}&limit=100", entities=n)


def main(pg_url: str | None = None) -> None:
    n = entity_count()
    if n != DEFAULT_N:
        print(f"NGSI-LD queries at {n:,} entities (NORDHUB_BENCH_NGSI_N), not the {DEFAULT_N:,} of the goals")
    VAR.mkdir(parents=True, exist_ok=True)
    run(sqlite_url(f"ngsi_{n}.db"), "sqlite")
    if pg_url:
        run(pg_database(pg_url, f"ngsi_{n}"), "postgresql")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
