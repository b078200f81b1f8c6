"""GBFS station snapshots through parse → transform → validate → store, in entities per second.

Printed beside the floor measured in the same run: a plain ``executemany`` of the same rows into a table of the
same shape (SQLite), or COPY (PostgreSQL). Shared machines are noisy: the ratio is the figure that holds.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Column, MetaData, String, Table, Text, insert, text

from harvester.sources.gbfs_transform import GbfsSystem, station_records
from hub.db import Database
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
    records = station_records(orjson.loads(info), orjson.loads(status), SYSTEM)
    writes = []
    for record in records:
        if record.entity is None:
            continue
        if any(f.severity is Severity.ERROR for f in validator.check(record.entity, BBOX)):
            continue
        writes.append(EntityWrite("oslo", record.entity, scope="/Nordic/NO/oslo", source_id="bench"))
    with db.begin() as conn:
        upsert_entities(conn, writes, now=datetime.now(UTC))
    return len(writes)


def floor(db: Database, rows: list[dict[str, Any]]) -> float:
    """Rows per second of the plainest bulk insert of the same rows."""
    meta = MetaData()
    table = Table(
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
                for r in rows:
                    copy.write_row((r["tenant"], r["id"], r["type"], r["data"]))
            raw.commit()
        finally:
            raw.close()
    else:
        with db.begin() as conn:
            conn.execute(insert(table), rows)
    elapsed = time.perf_counter() - started
    meta.drop_all(db.engine)
    return len(rows) / elapsed


def record_validator() -> RecordValidator:
    """The harvest's validator, with the Smart Data Models when ../shared/data is beside the checkout."""
    store = SchemaStore(Path(tempfile.mkdtemp()) / "schemas")
    if SHARED.is_dir():
        store.sync_from_dir(SHARED)
    return RecordValidator(SdmValidator(store if store.available() else None))


def run(url: str, label: str, n: int = 20_000) -> None:
    db = Database(url)
    db.upgrade()
    with db.begin() as conn:
        conn.execute(text("DELETE FROM ngsi_temporal_instances"))
        conn.execute(text("DELETE FROM ngsi_entities"))
    info, status = feeds(n, seed=1, moment=1_763_900_000)
    _, status2 = feeds(n, seed=2, moment=1_763_900_060)
    rows = [
        {"tenant": "oslo", "id": f"urn:ngsi-ld:X:{i}", "type": "X", "data": status[:300].decode(errors="ignore")}
        for i in range(n)
    ]
    floor_rate = floor(db, rows)
    validator = record_validator()
    t0 = time.perf_counter()
    created = pipeline(db, info, status, validator)
    t1 = time.perf_counter()
    updated = pipeline(db, info, status2, validator)
    t2 = time.perf_counter()
    unchanged = pipeline(db, info, status2, validator)
    t3 = time.perf_counter()
    checks = "structure only" if validator.structural_only else "structure + Smart Data Model"
    print(f"[{label}] harvest pipeline, {n:,} GBFS stations (parse → transform → validate ({checks}) → store):")
    print(f"    first run (create):     {created / (t1 - t0):>9,.0f} entities/s")
    print(f"    second run (all moved): {updated / (t2 - t1):>9,.0f} entities/s")
    print(f"    third run (unchanged):  {unchanged / (t3 - t2):>9,.0f} entities/s")
    print(
        f"    floor ({'COPY' if db.dialect == 'postgresql' else 'executemany'} of the same rows): "
        f"{floor_rate:>9,.0f} rows/s   ratio create/floor {created / (t1 - t0) / floor_rate:.2f}"
    )
    db.dispose()


def main(pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", "sqlite")
    if pg_url:
        run(pg_url, "postgresql")
