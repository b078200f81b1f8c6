"""The run report API: counts, first and last error, items by state, and every error as CSV (not the first 20)."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from api.state import HubState
from hub.settings import Settings
from tests.fakes import SOURCE, FakeGbfs, make_harvester, registry_with_fake_source, station

pytestmark = pytest.mark.anyio


@pytest.fixture
async def dirty_run(hub: HubState, settings: Settings) -> int:
    """A run of a feed with 5 good stations, 150 without coordinates and one duplicate id."""
    hub.registry = registry_with_fake_source(hub.registry)
    hub.harvester.registry = hub.registry
    fake = FakeGbfs(n=5)
    fake.stations += [station(1000 + i, lat="north") for i in range(150)]
    fake.stations += [dict(fake.stations[0])]
    harvester = make_harvester(hub.db, hub.registry, settings, fake)
    report = await harvester.run(SOURCE)
    await harvester.aclose()
    await harvester.client.aclose()
    assert report.run_id is not None
    return report.run_id


async def test_run_detail_counts_and_error_bounds(
    api: httpx.AsyncClient, dirty_run: int, admin_auth: dict[str, str]
) -> None:
    body = (await api.get(f"/api/v1/runs/{dirty_run}", headers=admin_auth)).json()
    assert body["status"] == "succeeded_with_errors"
    assert body["counts"]["created"] == 5
    assert body["counts"]["invalid"] == 151
    # 151 invalid stations, plus the feed files themselves, checked as a whole (feed:… items)
    assert body["items"]["created"] == 5
    assert body["items"]["invalid"] >= 151
    assert body["first_error"]["rule"] == "gbfs.coordinates"
    assert body["first_error"]["record_id"].endswith(":1000")
    assert body["last_error"]["record_id"].startswith("feed:")  # the feed files are checked after the records
    assert body["seconds"] >= 0
    assert body["rules"]["error:gbfs.coordinates"] == 150
    assert body["rules"]["error:gbfs.duplicate-id"] >= 1
    assert body["compliance"] == round(5 / 156, 4)
    assert body["bytes"] > 0


async def test_items_by_state_are_paged_with_exact_totals(
    api: httpx.AsyncClient, dirty_run: int, admin_auth: dict[str, str]
) -> None:
    params: dict[str, str | int] = {"state": "invalid", "limit": 100}
    page = (await api.get(f"/api/v1/runs/{dirty_run}/items", params=params, headers=admin_auth)).json()
    feeds = page["total"] - 151  # feed files with errors are items too
    assert feeds >= 1
    assert len(page["items"]) == 100
    rest = (
        await api.get(f"/api/v1/runs/{dirty_run}/items", params={**params, "offset": 100}, headers=admin_auth)
    ).json()
    assert len(rest["items"]) == 51 + feeds
    assert all(i["state"] == "invalid" and i["findings"] for i in page["items"] + rest["items"])
    bad = await api.get(f"/api/v1/runs/{dirty_run}/items", params={"state": "exploded"}, headers=admin_auth)
    assert bad.status_code == 400
    assert "state" in bad.json()["detail"]


async def test_errors_csv_lists_every_error(api: httpx.AsyncClient, dirty_run: int, admin_auth: dict[str, str]) -> None:
    response = await api.get(f"/api/v1/runs/{dirty_run}/errors.csv", headers=admin_auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    errors = [r for r in rows if r["severity"] == "error" and not r["record_id"].startswith("feed:")]
    assert len(errors) == 151
    assert {r["rule"] for r in errors} == {"gbfs.coordinates", "gbfs.duplicate-id"}
    assert all(r["pointer"].startswith("/station_information/data/stations/") for r in errors)


async def test_sources_and_their_runs(api: httpx.AsyncClient, dirty_run: int) -> None:
    sources = (await api.get("/api/v1/sources")).json()
    [fake] = [s for s in sources if s["id"] == SOURCE]
    assert fake["last_run"]["id"] == dirty_run
    assert fake["kind"] == "gbfs"
    runs = (await api.get(f"/api/v1/sources/{SOURCE}/runs")).json()
    assert [r["id"] for r in runs] == [dirty_run]
    assert (await api.get("/api/v1/sources/nope/runs")).status_code == 404
    missing = await api.get("/api/v1/runs/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
