"""``nordhub demo``: a simulated member-city server, a cities file pointing at it, a first harvest, the hub.

Like ``hub.cli`` this module is a composition root: it wires the harvester and the API together, which is why it
may import from the packages above the kernel.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from api.app import record_validator
from harvester.demo_city import DemoCityServer, demo_sources
from harvester.http import HttpClient
from harvester.run import Harvester, RunReport
from harvester.sources import adapter_for
from hub.cities import City, Registry, Source, dump_cities, load_cities
from hub.db import Database
from hub.settings import Settings
from ngsi.contexts import context_files
from schemas.cli import copy_shapes
from schemas.store import SchemaStore

LOOPBACK = "127.0.0.1"
# The official artefacts beside a checkout (../shared/data), used to fill the schema store offline when present.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONCURRENT_RUNS = 4  # sources harvested at once: each holds a database connection while it commits


def demo_registry(base: Registry, base_url: str) -> Registry:
    """The member cities of ``base`` with their sources replaced by the demo server's (offline, loopback)."""
    sources = demo_sources(base_url)
    cities = [
        City.model_validate(
            {**city.model_dump(mode="json"), "sources": [Source.model_validate(s) for s in sources.get(city.id, [])]}
        )
        for city in base.cities
    ]
    return Registry(cities=cities)


def write_demo_cities(settings: Settings, base_url: str) -> Path:
    """Write the demo's cities file into the data directory and return its path."""
    registry = demo_registry(load_cities(settings.cities_file), base_url)
    path = settings.data_dir / "demo-cities.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_cities(registry), encoding="utf-8")
    return path


async def harvest_all(db: Database, registry: Registry, settings: Settings) -> list[RunReport]:
    """One run of every enabled source the hub can harvest, concurrently."""
    async with HttpClient(settings) as client:
        harvester = Harvester(db, registry, client, validator=record_validator(settings))
        ids = [s.id for _c, s in registry.sources() if s.enabled and adapter_for(s.kind) is not None]
        slots = asyncio.Semaphore(CONCURRENT_RUNS)

        async def one(source_id: str) -> RunReport:
            async with slots:
                return await harvester.run(source_id)

        try:
            return list(await asyncio.gather(*(one(source_id) for source_id in ids)))
        finally:
            await harvester.aclose()


def start_city_server() -> DemoCityServer:
    server = DemoCityServer(host=LOOPBACK, port=0)
    server.start()
    return server


def banner(url: str) -> str:
    """The URLs a newcomer can try once the demo hub is up."""
    return "\n".join(
        [
            f"Nordhub demo is serving at {url}  (Ctrl-C to stop)",
            f"  health        {url}/health",
            f"  API docs      {url}/docs",
            f"  bike docks    {url}/ngsi-ld/v1/entities?type=BikeHireDockingStation&limit=1000",
            f"  Oslo only     curl -H 'NGSILD-Tenant: oslo' '{url}/ngsi-ld/v1/entities?type=BikeHireDockingStation'",
            f"  key-values    {url}/ngsi-ld/v1/entities?type=BikeHireDockingStation&format=keyValues&limit=5",
        ]
    )


def sync_schemas(settings: Settings, shared: Path) -> str:
    """Fill the schema and context stores from a local copy of the official artefacts when there is one."""
    contexts = context_files(settings.data_dir / "contexts")
    if not contexts.available() and shared.is_dir():
        contexts.sync_from_dir(shared)  # the @contexts the NGSI-LD API resolves offline
    store = SchemaStore(settings.data_dir / "schemas")
    if store.available():
        return f"schema store ready at {store.root}"
    if not shared.is_dir():
        return f"no schema store and no {shared}: records get structural NGSI-LD checks only"
    report = store.sync_from_dir(shared)
    shapes = copy_shapes(shared, store.root)
    return f"schema store filled from {shared} ({report.verified} artefacts verified, {shapes} SHACL files)"
