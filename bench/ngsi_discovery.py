"""NGSI-LD discovery and the new query selectors on a big store (100,000 entities by default).

Printed beside the floor measured in the same run: one full scan of the attribute index (``SELECT count(*)``),
which every exact per-attribute answer has to read at least once, and one GROUP BY of the entity table.
Run alone: ``python -m bench.ngsi_discovery [N] [DATABASE_URL]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from hub.db import Database
from ngsi import discovery, projection
from ngsi.query import EntityQuery, Page, Selector, evaluate
from ngsi.store import EntityWrite, upsert_entities

PARKING = "OffStreetParking"
CITIES = (("oslo", "NO"), ("bergen", "NO"), ("stockholm", "SE"), ("aarhus", "DK"))


def entity(i: int) -> dict[str, Any]:
    kind = "BikeHireDockingStation" if i % 4 else "OffStreetParking"
    return {
        "id": f"urn:ngsi-ld:{kind}:bench:{i:07d}",
        "type": kind,
        "name": {"type": "Property", "value": f"Place {i}"},
        "status": {"type": "Property", "value": "working" if i % 7 else "outOfService"},
        "availableBikeNumber": {"type": "Property", "value": i % 30, "observedAt": "2026-12-01T10:00:00Z"},
        "freeSlotNumber": {"type": "Property", "value": (i * 7) % 25, "observedAt": "2026-12-01T10:00:00Z"},
        "totalSlotNumber": {"type": "Property", "value": 30},
        "address": {"type": "Property", "value": {"streetAddress": f"Gate {i}", "addressLocality": "By"}},
        "refOperator": {"type": "Relationship", "object": f"urn:ngsi-ld:Operator:{i % 5}"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10 + i / 1e6, 59.5]}},
    }


def fill(db: Database, n: int) -> float:
    started = time.perf_counter()
    now = datetime.now(UTC)
    for start in range(0, n, 2000):
        writes = []
        for i in range(start, min(start + 2000, n)):
            city, country = CITIES[i % len(CITIES)]
            writes.append(EntityWrite(city, entity(i), scope=f"/Nordic/{country}/{city}", source_id=f"{city}-bench"))
        with db.begin() as conn:
            upsert_entities(conn, writes, now=now)
    with db.begin() as conn:  # the statistics and indexes, as a harvest run brings them up to date after its commit
        projection.catch_up(conn)
    return time.perf_counter() - started


def best(fn: Callable[[Connection], object], db: Database, runs: int = 3) -> float:
    """Best of ``runs`` wall-clock seconds (the machine is shared: the best run is the least disturbed)."""
    times = []
    for _ in range(runs):
        with db.connect() as conn:
            started = time.perf_counter()
            fn(conn)
            times.append(time.perf_counter() - started)
    return min(times)


def measure(db: Database, n: int, label: str) -> None:
    print(f"ngsi discovery [{label}] {n} entities stored in {fill(db, n):.1f} s", flush=True)
    if db.engine.dialect.name == "postgresql":
        with db.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    floors = {
        "floor: full scan of the attribute index": lambda c: c.execute(text("SELECT count(*) FROM ngsi_attr_index")),
        "floor: GROUP BY type of the entities": lambda c: c.execute(
            text("SELECT type, count(*) FROM ngsi_entities GROUP BY type")
        ).all(),
    }
    cases: dict[str, Callable[[Connection], object]] = {
        "GET /types": lambda c: discovery.type_counts(c, tenant=None),
        "GET /types?details=true (all attributes)": lambda c: discovery.attribute_stats(c, tenant=None),
        "GET /types/OffStreetParking": lambda c: discovery.attribute_stats(
            c, tenant=None, type_name="OffStreetParking"
        ),
        "GET /attributes/status": lambda c: discovery.attribute_stats(c, tenant=None, attr="status"),
        "GET /attributes?details=true, one tenant": lambda c: discovery.attribute_stats(c, tenant="oslo"),
        "GET /entities?scopeQ=/Nordic/NO/#&count=true&limit=100": lambda c: evaluate(
            c, EntityQuery(scope_q="/Nordic/NO/#"), Page(limit=100, count=True), tenant=None
        ),
        "GET /entities?type=(A;B),OffStreetParking&count=true": lambda c: evaluate(
            c,
            EntityQuery(selectors=(Selector(types="(A;B),OffStreetParking"),)),
            Page(limit=100, count=True),
            tenant=None,
        ),
        "GET /entities?attrs=refOperator&limit=100": lambda c: evaluate(
            c, EntityQuery(attrs=("refOperator",)), Page(limit=100), tenant=None
        ),
    }
    for name, fn in {**floors, **cases}.items():
        print(f"  {name:<60} {best(fn, db) * 1000:9.1f} ms", flush=True)


def main(pg: str | None = None, n: int = 100_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.upgrade()
        measure(db, n, "sqlite")
        db.dispose()
    if pg:
        db = Database(pg)
        with db.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.upgrade()
        measure(db, n, "postgresql")
        db.dispose()


if __name__ == "__main__":
    main(sys.argv[2] if len(sys.argv) > 2 else None, int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
