"""Harvest runs end to end against the in-process demo city: storage, history, failure keeps the last good data."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
import pytest
from sqlalchemy import distinct, func, select

from catalog.model import Dataset, Distribution
from harvester import store as run_store
from harvester.demo_city import build_app
from harvester.http import HttpClient
from harvester.run import Harvester, UnsupportedSourceKind, dataset_findings
from harvester.store import ItemStatus, RunStatus
from hub.cities import Registry
from hub.db import Database
from hub.settings import Settings
from ngsi import entity_pages, projection, store
from ngsi.attr_index import attr_index
from tests.conftest import DEMO_HOST

pytestmark = pytest.mark.anyio
OSLO = "oslo-bysykkel-demo"


async def test_oslo_demo_harvest_stores_stations(harvester: Harvester, db: Database) -> None:
    report = await harvester.run(OSLO)
    assert report.status is RunStatus.SUCCEEDED, report.error
    assert report.counts["created"] == 120
    assert report.counts["invalid"] == 0
    assert report.bytes > 10_000
    with db.connect() as conn:
        rows, total = entity_pages.query_entities(
            conn, tenant="oslo", types=["BikeHireDockingStation"], limit=1000, count=True
        )
        run = run_store.get_run(conn, report.run_id)
    assert total == 120
    entity = orjson.loads(rows[0])
    assert entity["id"].startswith("urn:ngsi-ld:BikeHireDockingStation:oslo:oslobysykkel:")
    lon, lat = entity["location"]["value"]["coordinates"]
    assert 10.4 < lon < 11.0
    assert 59.8 < lat < 60.1
    for attr in ("availableBikeNumber", "freeSlotNumber"):
        assert isinstance(entity[attr]["value"], int)
        assert entity[attr]["observedAt"].endswith("Z")
    assert isinstance(entity["totalSlotNumber"]["value"], int)
    assert run is not None
    assert run["status"] == "succeeded"
    assert run["counts"]["created"] == 120
    with db.connect() as conn:  # the run caught the query indexes up after its commit (ngsi/projection.py)
        assert not projection.pending(conn)
        indexed = conn.execute(select(func.count(distinct(attr_index.c.entity_id)))).scalar_one()
    assert indexed == 120


async def test_second_run_unchanged_then_changes_become_history(
    db: Database, demo_cities: Registry, settings: Settings
) -> None:
    clock = [1_763_900_000.0]
    transport = httpx.ASGITransport(app=build_app(clock=lambda: clock[0]))
    async with HttpClient(settings, transport=transport, allow_hosts=[DEMO_HOST]) as client:
        harvester = Harvester(db, demo_cities, client)
        first = await harvester.run(OSLO)
        again = await harvester.run(OSLO)
        clock[0] += 3600
        later = await harvester.run(OSLO)
        await harvester.aclose()
    assert first.counts["created"] == 120
    # Same instant: the payload is identical, so every entity is unchanged and no instance is recorded.
    assert again.counts == {
        "created": 0,
        "updated": 0,
        "unchanged": 120,
        "invalid": 0,
        "removed": 0,
        "instances": 0,
        "not_modified": 0,
        "structural_only": 1,
    }
    assert later.counts["updated"] > 0
    assert later.counts["instances"] > 0
    with db.connect() as conn:
        items = run_store.list_items(conn, later.run_id, state=ItemStatus.UPDATED)
        sample = items[0]["record_id"]
        assert store.count_history(conn, tenant="oslo", entity_id=sample, attr="availableBikeNumber") in (1, 2)


async def test_failed_fetch_keeps_the_last_good_data(
    harvester: Harvester, db: Database, demo_cities: Registry, settings: Settings
) -> None:
    good = await harvester.run(OSLO)
    assert good.status is RunStatus.SUCCEEDED
    with db.connect() as conn:
        before, _ = entity_pages.query_entities(conn, tenant="oslo", types=["BikeHireDockingStation"], limit=1000)

    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("station_status.json"):
            return httpx.Response(200, content=b'{"data": {"stations": [')  # truncated body
        return httpx.Response(
            200,
            json={
                "data": {
                    "en": {
                        "feeds": [
                            {
                                "name": "station_information",
                                "url": f"http://{DEMO_HOST}/gbfs/oslobysykkel/station_information.json",
                            },
                            {
                                "name": "station_status",
                                "url": f"http://{DEMO_HOST}/gbfs/oslobysykkel/station_status.json",
                            },
                        ]
                    }
                }
            },
        )

    async with HttpClient(
        settings, transport=httpx.MockTransport(broken), allow_hosts=[DEMO_HOST], backoff_base=0
    ) as client:
        broken_harvester = Harvester(db, demo_cities, client)
        bad = await broken_harvester.run(OSLO)
        await broken_harvester.aclose()
    assert bad.status is RunStatus.FAILED
    assert bad.error is not None
    assert "invalid JSON" in bad.error
    with db.connect() as conn:
        after, _ = entity_pages.query_entities(conn, tenant="oslo", types=["BikeHireDockingStation"], limit=1000)
        run = run_store.get_run(conn, bad.run_id)
    assert after == before
    assert run is not None
    assert run["status"] == "failed"
    assert "invalid JSON" in run["error"]


async def test_dry_run_commits_no_entities(harvester: Harvester, db: Database) -> None:
    report = await harvester.run(OSLO, dry_run=True)
    assert report.status is RunStatus.SUCCEEDED
    assert report.counts["created"] == 120
    with db.connect() as conn:
        _, total = entity_pages.query_entities(conn, tenant="oslo", types=["BikeHireDockingStation"], count=True)
        run = run_store.get_run(conn, report.run_id)
    assert total == 0
    assert run is not None
    assert run["dry_run"] is True


async def test_unsupported_kind_is_a_clear_error(harvester: Harvester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harvester.run.adapter_for", lambda kind: None)
    with pytest.raises(UnsupportedSourceKind, match="kind 'gbfs' cannot be harvested yet"):
        await harvester.run(OSLO)


async def test_reaper_fails_runs_left_running(db: Database) -> None:
    with db.begin() as conn:
        run_id = run_store.start_run(
            conn, source_id="x", city_id="oslo", kind="gbfs", dry_run=False, now=datetime.now(UTC)
        )
        assert run_store.reap_running(conn, now=datetime.now(UTC)) == 1
        run = run_store.get_run(conn, run_id)
    assert run is not None
    assert run["status"] == "failed"
    assert "interrupted" in run["error"]


def test_incomplete_datasets_are_published_with_warnings() -> None:
    dataset = Dataset(
        uri="https://data.example/ds/1",
        title={},
        licence="my-own-licence",
        distributions=[Distribution(access_url="ftp://files.example/a.csv")],
    )
    findings = dataset_findings(dataset)
    assert {f.rule for f in findings} == {
        "dcat.output.missing-title",
        "dcat.output.missing-description",
        "dcat.access-url",
        "dcat.licence-unknown",
    }
    assert all(f.severity.value == "warning" for f in findings)
    assert (
        dataset_findings(
            Dataset(
                uri="https://data.example/ds/2",
                title={"da": "Parkering"},
                description={"da": "Pladser"},
                licence="cc-by-4.0",
            )
        )
        == []
    )
