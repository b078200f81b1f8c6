"""@context translation on the read path: GET 1,000 BikeHireDockingStation entities, in-process over ASGI.

Three requests, measured in the same run on the same database: no Link header (the floor: stored JSON passed
through), a Link to the core context (must cost the same: the identity translation), and a Link to a context of
aliases (every entity parsed, its names translated, serialised again). Also the one-off cost of building a
translation (the default context: core + every Smart Data Models context) and of a cached lookup.

Run alone: ``python -m bench.contexts`` (needs ../shared/data for the contexts).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from api.app import build_state, create_app
from hub.cities import load_cities
from hub.db import Database
from hub.settings import Settings
from ngsi import projection, store
from ngsi.context import CORE_CONTEXT, context_link
from ngsi.contexts import ContextKind, ContextService, context_files

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ENTITIES = 1_000
RUNS = 40
ALIASES_URL = "https://bench.example/aliases.jsonld"
TRANSPORT = "https://smartdatamodels.org/dataModel.Transportation/"


def _entity(n: int) -> dict[str, object]:
    return {
        "id": f"urn:ngsi-ld:BikeHireDockingStation:oslo:{n}",
        "type": "BikeHireDockingStation",
        "name": {"type": "Property", "value": f"Dock {n}"},
        "availableBikeNumber": {"type": "Property", "value": n % 20, "observedAt": "2025-01-01T10:00:00Z"},
        "freeSlotNumber": {"type": "Property", "value": 20 - n % 20, "observedAt": "2025-01-01T10:00:00Z"},
        "status": {"type": "Property", "value": "working"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.7, 59.9]}},
    }


async def _p50s(client: httpx.AsyncClient, variants: list[dict[str, str]]) -> list[float]:
    """p50 per variant, the variants interleaved run by run so that the machine's drift hits them all alike."""
    params = {"type": "BikeHireDockingStation", "limit": ENTITIES}
    times: list[list[float]] = [[] for _ in variants]
    for _ in range(RUNS):
        for i, headers in enumerate(variants):
            start = time.perf_counter()
            response = await client.get("/ngsi-ld/v1/entities", params=params, headers=headers)
            times[i].append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
            assert len(response.json()) == ENTITIES
    return [statistics.median(t) * 1000 for t in times]


async def _run(tmp: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", data_dir=tmp, scheduler_enabled=False)
    db = Database(settings.database_url)
    db.upgrade()
    context_files(tmp / "contexts").sync_from_dir(SHARED)
    with db.begin() as conn:
        writes = [store.EntityWrite("oslo", _entity(n)) for n in range(ENTITIES)]
        store.upsert_entities(conn, writes, now=datetime.now(UTC))
        projection.catch_up(conn)
    state = build_state(settings, db=db, registry=load_cities(ROOT / "cities.toml"))
    aliases = {"bikes": TRANSPORT + "availableBikeNumber", "Dock": TRANSPORT + "BikeHireDockingStation"}
    state.contexts.add(ALIASES_URL, {"@context": aliases}, ContextKind.CACHED)
    transport = httpx.ASGITransport(app=create_app(settings, state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.bench") as client:
        variants = [{}, {"Link": context_link(CORE_CONTEXT)}, {"Link": context_link(ALIASES_URL)}]
        await _p50s(client, variants)  # warm-up
        floor, core, translated = await _p50s(client, variants)
    await state.harvester.client.aclose()
    print(f"GET {ENTITIES} entities, p50 of {RUNS}: no Link {floor:.1f} ms (floor), core context {core:.1f} ms,")
    print(f"  aliases context {translated:.1f} ms (+{translated - floor:.1f} ms, {translated / floor:.2f}x the floor)")
    fresh = ContextService(tmp / "contexts", db)
    start = time.perf_counter()
    fresh.translation(ALIASES_URL)
    built = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    for _ in range(10_000):
        fresh.translation(ALIASES_URL)
    cached = (time.perf_counter() - start) / 10_000 * 1e6
    print(f"translation of a context URL: first {built:.1f} ms (default context built), then {cached:.1f} µs cached")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(Path(tmp)))


if __name__ == "__main__":
    main()
