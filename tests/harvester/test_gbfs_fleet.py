"""GBFS beyond docks: manifest.json of several systems, free-floating vehicles as counts, ttl-paced polling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from harvester import store as run_store
from harvester.http import HttpClient
from harvester.run import Harvester
from harvester.scheduler import TTL_FLOOR_SECONDS, HarvestScheduler
from harvester.sources.gbfs import GbfsAdapter, manifest_systems
from harvester.sources.gbfs_transform import GbfsSystem
from harvester.sources.gbfs_vehicles import cell_id, fleet_records
from hub.cities import Registry, Source
from hub.db import Database
from hub.settings import Settings

pytestmark = pytest.mark.anyio
HOST = "mobility.test"
SYSTEM = GbfsSystem(city_id="oslo", system_id="scooters", name="Scooters")


def _example(shared: Path, version: str, name: str) -> dict[str, Any]:
    doc = orjson.loads((shared / "gbfs" / "examples" / version / f"{name}.json").read_bytes())
    assert isinstance(doc, dict)
    return doc


def test_free_floating_vehicles_become_counts_without_ids(shared_data: Path) -> None:
    status = _example(shared_data, "v3.0", "vehicle_status")
    records = fleet_records(status, _example(shared_data, "v3.0", "vehicle_types"), SYSTEM)
    vehicles = status["data"]["vehicles"]
    [bicycles] = records
    entity = bicycles.entity
    assert entity is not None
    assert entity["id"] == "urn:ngsi-ld:SharedMobilityAvailability:oslo:scooters:bicycle"
    free = [v for v in vehicles if not v["is_reserved"] and not v["is_disabled"]]
    assert entity["availableVehicleNumber"]["value"] == len(free)
    assert entity["reservedVehicleNumber"]["value"] == sum(v["is_reserved"] and not v["is_disabled"] for v in vehicles)
    assert entity["disabledVehicleNumber"]["value"] == sum(bool(v["is_disabled"]) for v in vehicles)
    assert sum(entity["availableVehiclesByArea"]["value"].values()) == len(free)
    assert entity["availableVehicleNumber"]["observedAt"] == "2019-07-04T13:33:03Z"
    dumped = orjson.dumps(entity).decode()
    assert all(v["vehicle_id"] not in dumped for v in vehicles)  # ids rotate for privacy: never kept


def test_gbfs2_free_bikes_default_to_their_type(shared_data: Path) -> None:
    status = _example(shared_data, "v2.3", "free_bike_status")
    records = fleet_records(status, _example(shared_data, "v2.3", "vehicle_types"), SYSTEM)
    forms = {r.entity["formFactor"]["value"] for r in records if r.entity}
    assert forms
    assert "TST:Scooter:1234" not in orjson.dumps([r.entity for r in records]).decode()


def test_cells_are_about_a_kilometre() -> None:
    assert cell_id(10.7523, 59.9127) == "59.91,10.74"
    assert cell_id(10.7523, 59.9127) != cell_id(10.7723, 59.9127)


def _doc(data: dict[str, Any], ttl: int = 30) -> dict[str, Any]:
    return {"last_updated": 1_700_000_000, "ttl": ttl, "version": "2.3", "data": data}


def _feeds(system: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {"en": {"feeds": [{"name": n, "url": f"http://{HOST}/{system}/{n}.json"} for n in names]}}


def _producer(shared: Path) -> dict[str, dict[str, Any]]:
    """Two systems behind one manifest: a docked one and a free-floating one."""
    vehicles = _example(shared, "v2.3", "free_bike_status")
    for bike in vehicles["data"]["bikes"]:
        bike.update(lat=59.91, lon=10.75)
    info = {"stations": [{"station_id": "1", "name": "Torget", "lat": 59.91, "lon": 10.75, "capacity": 10}]}
    status = {
        "stations": [
            {
                "station_id": "1",
                "is_installed": True,
                "is_renting": True,
                "is_returning": True,
                "last_reported": 1_700_000_000,
                "num_bikes_available": 4,
                "num_docks_available": 6,
            }
        ]
    }
    return {
        "/manifest.json": {
            "last_updated": 1,
            "ttl": 60,
            "version": "3.0",
            "data": {
                "datasets": [
                    {"system_id": "docks", "versions": [{"version": "2.3", "url": f"http://{HOST}/docks/gbfs.json"}]},
                    {
                        "system_id": "free",
                        "versions": [
                            {"version": "1.1", "url": f"http://{HOST}/old"},
                            {"version": "2.3", "url": f"http://{HOST}/free/gbfs.json"},
                        ],
                    },
                ]
            },
        },
        "/docks/gbfs.json": _doc(_feeds("docks", ("station_information", "station_status"))),
        "/docks/station_information.json": _doc(info),
        "/docks/station_status.json": _doc(status, ttl=15),
        "/free/gbfs.json": _doc(_feeds("free", ("free_bike_status", "vehicle_types"))),
        "/free/free_bike_status.json": vehicles,
        "/free/vehicle_types.json": _example(shared, "v2.3", "vehicle_types"),
    }


async def test_manifest_harvests_every_system(shared_data: Path, registry: Registry) -> None:
    files = _producer(shared_data)
    assert manifest_systems(files["/manifest.json"]) == [
        ("docks", f"http://{HOST}/docks/gbfs.json"),
        ("free", f"http://{HOST}/free/gbfs.json"),
    ]
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=files[r.url.path]))
    source = Source.model_validate(
        {"id": "oslo-mobility", "kind": "gbfs", "url": f"http://{HOST}/manifest.json", "schedule": "every 60s"}
    )
    async with HttpClient(Settings(), transport=transport, allow_hosts=[HOST]) as client:
        batch = await GbfsAdapter().harvest(client, registry.city("oslo"), source)
    types = sorted({r.entity["type"] for r in batch.records if r.entity})
    assert types == ["BikeHireDockingStation", "SharedMobilityAvailability"]
    assert batch.ttl == 15  # the freshest promise among the live feeds
    assert {key.split("/")[0] for key in batch.documents} == {"docks", "free"}


async def test_polling_follows_the_ttl_with_a_floor(harvester: Any) -> None:
    scheduler = HarvestScheduler(harvester, jitter=0)
    scheduler.start()
    try:
        assert scheduler.pace("oslo-bysykkel-demo", 15) == TTL_FLOOR_SECONDS
        assert scheduler.pace("oslo-bysykkel-demo", 15) is None  # unchanged
        assert scheduler.pace("oslo-bysykkel-demo", 120) == 120
        job = next(j for j in scheduler.get_jobs() if j.id == "oslo-bysykkel-demo")
        assert job.trigger.interval.total_seconds() == 120
        assert scheduler.pace("oslo-dcat-demo", 15) is None  # crontab-scheduled sources keep their schedule
    finally:
        scheduler.shutdown()


async def test_feeds_are_validated_as_a_whole_during_the_run(
    db: Database, registry: Registry, settings: Settings, shared_data: Path
) -> None:
    files = _producer(shared_data)
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=files[r.url.path]))
    source = Source.model_validate(
        {"id": "oslo-mobility", "kind": "gbfs", "url": f"http://{HOST}/manifest.json", "schedule": "every 60s"}
    )
    only = Registry(
        cities=[c.model_copy(update={"sources": [source] if c.id == "oslo" else []}) for c in registry.cities]
    )
    async with HttpClient(settings, transport=transport, allow_hosts=[HOST]) as client:
        harvester = Harvester(db, only, client)
        report = await harvester.run("oslo-mobility")
        await harvester.aclose()
    assert report.ok, report.error
    assert report.ttl == 15
    assert report.run_id is not None
    with db.connect() as conn:
        items = run_store.list_items(conn, report.run_id)
    feed_items = {i["record_id"] for i in items if i["record_id"].startswith("feed:")}
    # neither system publishes system_information, which gbfs.json must list: reported per system, not fatal
    assert {"feed:docks/gbfs", "feed:free/gbfs"} <= feed_items
