"""GBFS station snapshots through parse → transform → validate → store, in entities per second.

"Store" is the harvest's commit: the entities and their history, durable, with the queue that brings the query
indexes in step (ngsi/projection.py). The replay of that queue into the attribute index, the spatial index, the
discovery statistics and the hourly aggregates runs after the commit (a harvest run does it straight away, and any
read that needs an index does it first); its rate is printed beside, and so is the rate of both together.

Printed beside the floor measured in the same run: a plain ``executemany`` (SQLite) or COPY (PostgreSQL) of the
same entity rows into a table of the same shape. Shared machines are noisy: every figure is the median of several
runs with its spread, the ratio to the floor is the figure that holds, and on SQLite the rate per CPU-second of
this process (which the other engineers' load does not inflate) is printed too.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Column, MetaData, String, Table, Text, text

from harvester.sources.gbfs_transform import GbfsSystem, station_records
from hub.collector import collection_paused
from hub.db import Database
from ngsi import projection
from ngsi.store import EntityWrite, upsert_entities
from schemas.findings import Severity
from schemas.records import RecordValidator
from schemas.sdm import SdmValidator
from schemas.store import SchemaStore

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SYSTEM = GbfsSystem(city_id="oslo", system_id="benchbysykkel", name="Bench Bysykkel")
BBOX = (10.0, 59.0, 11.5, 60.5)


def feeds(n: int, seed: int, moment: int, start: int = 0) -> tuple[bytes, bytes]:
    """station_information and station_status documents of ``n`` stations from id ``start`` (raw bytes, as fetched)."""
    rng = random.Random(seed)
    info, status = [], []
    for i in range(start, start + n):
        capacity = rng.randint(10, 30)
        bikes = rng.randint(0, capacity)
        info.append(
            {
                "station_id": str(i),
                "name": f"Stasjon {i}",
                "address": f"Gate {i}",
                "lat": 59.8 + rng.random() * 0.3,
                "lon": 10.5 + rng.random() * 0.4,
                "capacity": capacity,
            }
        )
        status.append(
            {
                "station_id": str(i),
                "is_installed": True,
                "is_renting": True,
                "is_returning": True,
                "last_reported": moment,
                "num_bikes_available": bikes,
                "num_docks_available": capacity - bikes,
            }
        )

    def wrap(stations: list[dict[str, Any]]) -> bytes:
        return orjson.dumps({"last_updated": moment, "ttl": 15, "version": "2.3", "data": {"stations": stations}})

    return wrap(info), wrap(status)


def pipeline(db: Database, info: bytes, status: bytes, validator: RecordValidator) -> int:
    """What a harvest run does with a fetched snapshot (without the HTTP and the run bookkeeping)."""
    writes = []
    with collection_paused():  # as the run pauses it around its transform and its validation
        records = station_records(orjson.loads(info), orjson.loads(status), SYSTEM)
        for record in records:
            if record.entity is None:
                continue
            if any(f.severity is Severity.ERROR for f in validator.check(record.entity, BBOX)):
                continue
            writes.append(EntityWrite("oslo", record.entity, scope="/Nordic/NO/oslo", source_id="bench"))
    with db.begin() as conn:
        upsert_entities(conn, writes, now=datetime.now(UTC))
    return len(writes)


def floor(db: Database, rows: list[tuple[str, str, str, str]]) -> float:
    """Rows per second of the plainest bulk insert of the same entity rows (tenant, id, type, JSON)."""
    meta = MetaData()
    Table(
        "bench_floor",
        meta,
        Column("tenant", String(64)),
        Column("id", String(512)),
        Column("type", String(256)),
        Column("data", Text),
    )
    meta.drop_all(db.engine)
    meta.create_all(db.engine)
    started = time.perf_counter()
    if db.dialect == "postgresql":
        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cur, cur.copy("COPY bench_floor (tenant, id, type, data) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
    else:
        with db.begin() as conn:
            conn.exec_driver_sql("INSERT INTO bench_floor (tenant, id, type, data) VALUES (?, ?, ?, ?)", rows)
    elapsed = time.perf_counter() - started
    meta.drop_all(db.engine)
    return len(rows) / elapsed


def record_validator() -> RecordValidator:
    """The harvest's validator, with the Smart Data Models when ../shared/data is beside the checkout."""
    store = SchemaStore(Path(tempfile.mkdtemp()) / "schemas")
    if SHARED.is_dir():
        store.sync_from_dir(SHARED)
    return RecordValidator(SdmValidator(store if store.available() else None))


PHASES = ("first run (create)", "second run (all moved)", "third run (unchanged)")
GOALS = {"sqlite": 20_000, "postgresql": 10_000}  # entities/s asked by the harvesting issue, on this 2-core machine


@dataclass
class Trial:
    """One pass of the three snapshots: wall-clock rate per phase, this process's CPU rate, the rate of the
    index replay after the phase (None when nothing changed), end to end, and the floor."""

    rates: list[float]
    cpu_rates: list[float]
    replay_rates: list[float | None]
    end_to_end: list[float]
    floor: float


TABLES = (  # every table a harvest writes, emptied before each trial
    "ngsi_entities",
    "ngsi_temporal_instances",
    "ngsi_temporal_hours",
    "ngsi_index_queue",
    "ngsi_attr_index",
    "ngsi_attr_stats",
    "ngsi_geo_index",
    "ngsi_projection_state",
    "ngsi_index_state",
)


def reset(db: Database) -> None:
    with db.begin() as conn:
        if db.dialect == "postgresql":
            # TRUNCATE, not DELETE: dead index entries of the same keys would slow the next trial's inserts,
            # a cost no real harvest pays.
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)}"))
        else:
            for table in (*TABLES, "ngsi_geo_rtree"):
                conn.execute(text(f"DELETE FROM {table}"))


def trial(db: Database, n: int, validator: RecordValidator) -> Trial:
    reset(db)
    info, status = feeds(n, seed=1, moment=1_763_900_000)
    _, status2 = feeds(n, seed=2, moment=1_763_900_060)
    entities = [r.entity for r in station_records(orjson.loads(info), orjson.loads(status), SYSTEM) if r.entity]
    rows = [("oslo", e["id"], e["type"], orjson.dumps(e).decode()) for e in entities]
    floor_rate = floor(db, rows)
    result = Trial([], [], [], [], floor_rate)
    for snapshot in (status, status2, status2):
        wall, cpu = time.perf_counter(), time.process_time()
        stored = pipeline(db, info, snapshot, validator)
        stored_in = time.perf_counter() - wall
        result.rates.append(stored / stored_in)
        result.cpu_rates.append(stored / (time.process_time() - cpu))
        started = time.perf_counter()
        with db.begin() as conn:
            replayed = projection.catch_up(conn)
        replay_in = time.perf_counter() - started
        result.replay_rates.append(replayed / replay_in if replayed else None)
        result.end_to_end.append(stored / (stored_in + replay_in))
    return result


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):>9,.0f}  (min {min(values):,.0f}, max {max(values):,.0f})"


def run(url: str, label: str, n: int = 20_000, repeats: int = 3) -> None:
    db = Database(url)
    db.upgrade()
    validator = record_validator()
    load = os.getloadavg()[0]
    trials = [trial(db, n, validator) for _ in range(repeats)]
    db.dispose()
    goal = GOALS[db.dialect]
    checks = "structure only" if validator.structural_only else "structure + Smart Data Model"
    floor_name = "COPY" if db.dialect == "postgresql" else "executemany"
    print(f"[{label}] harvest pipeline, {n:,} GBFS stations (parse → transform → validate ({checks}) → store")
    print(f"    with attribute index and history), median of {repeats} runs, load average {load:.1f} → ", end="")
    print(f"{os.getloadavg()[0]:.1f}; goal ≥ {goal:,} entities/s:")
    floors = [t.floor for t in trials]
    print("    pipeline to the commit (records and history durable, index queue written):")
    for phase, name in enumerate(PHASES):
        rates = [t.rates[phase] for t in trials]
        ratios = [t.rates[phase] / t.floor for t in trials]
        verdict = "goal met" if statistics.median(rates) >= goal else "goal NOT met"
        print(f"    {name:<23} {_spread(rates)} entities/s   ratio to floor {statistics.median(ratios):.2f}  {verdict}")
    print(f"    floor ({floor_name} of the same {n:,} entity rows): {_spread(floors)} rows/s")
    print("    then the replay into the query indexes (attribute, spatial, statistics, hours), and both together:")
    for phase, name in enumerate(PHASES):
        replays = [r for t in trials if (r := t.replay_rates[phase]) is not None]
        replay = f"{_spread(replays)} entities/s" if replays else "nothing to replay"
        both = _spread([t.end_to_end[phase] for t in trials])
        print(f"    {name:<23} replay {replay};  end to end {both} entities/s")
    if db.dialect == "sqlite":  # everything runs in this process: its CPU time is a figure load does not inflate
        cpu = "  ".join(f"{statistics.median([t.cpu_rates[i] for t in trials]):,.0f}" for i in range(3))
        print("    pipeline per CPU-second of this process, its checkpoint thread included (create, moved,")
        print(f"    unchanged): {cpu} entities/s")


def main(pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", "sqlite")
    if pg_url:
        run(pg_url, "postgresql")
