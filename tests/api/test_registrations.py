"""Source registration: register (pending), preview (dry run), enable, harvest, change, disable; validation, the
SSRF guard, conflicts with cities.toml, the scheduler picking registrations up, and every change audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.state import HubState
from harvester.http import HttpClient
from harvester.run import Harvester
from harvester.scheduler import HarvestScheduler, wanted_jobs
from hub.cities import Registry
from hub.db import Database
from hub.settings import Settings
from ngsi.contexts import ContextService
from tests.conftest import DEMO_BASE, DEMO_HOST, KeyMaker

pytestmark = pytest.mark.anyio
OSLO = "/api/v1/cities/oslo/sources"
AARHUS = "/api/v1/cities/aarhus/sources"


@pytest.fixture
async def hub(
    settings: Settings, db: Database, demo_cities: Registry, demo_transport: httpx.ASGITransport
) -> AsyncIterator[HubState]:
    """The hub with a harvester that reaches the in-process demo city (allow-listed like the demo does)."""
    client = HttpClient(settings, transport=demo_transport, allow_hosts=[DEMO_HOST], backoff_base=0)
    contexts = ContextService(settings.data_dir / "contexts", db)
    state = HubState(settings, db, demo_cities, Harvester(db, demo_cities, client), contexts)
    state.refresh_registry(demo_cities)
    yield state
    await client.aclose()


@pytest.fixture
def oslo(make_key: KeyMaker) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key('officer', 'oslo', label='Kari, Oslo kommune')}"}


def bikes(source_id: str = "oslo-bikes-api", **extra: Any) -> dict[str, Any]:
    return {
        "id": source_id,
        "kind": "gbfs",
        "url": f"{DEMO_BASE}/gbfs/oslobysykkel/gbfs.json",
        "schedule": "every 5m",
        "title": "Oslo bikes, registered",
        **extra,
    }


async def test_register_preview_enable_harvest(api: httpx.AsyncClient, hub: HubState, oslo: dict[str, str]) -> None:
    created = await api.post(OSLO, json=bikes(), headers=oslo)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending"
    assert "oslo-bikes-api" not in wanted_jobs(hub.registry)  # pending: never harvested on schedule
    early = await api.patch(f"{OSLO}/oslo-bikes-api", json={"enabled": True}, headers=oslo)
    assert early.status_code == 409
    assert "preview" in early.json()["detail"]
    assert (await api.post(f"{OSLO}/oslo-bikes-api/harvest", headers=oslo)).status_code == 409

    preview = await api.post(f"{OSLO}/oslo-bikes-api/preview", headers=oslo)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["mode"] == "preview"
    assert body["counts"]["created"] == 120  # the demo's Oslo stations, none stored yet
    assert body["counts"]["removed"] == 0
    assert body["links"]["rejected"] == f"/api/v1/runs/{body['run_id']}/items?state=invalid"
    stations = await api.get("/ngsi-ld/v1/entities", params={"type": "BikeHireDockingStation", "count": "true"})
    assert stations.headers["ngsild-results-count"] == "0"  # a preview commits nothing

    enabled = await api.patch(f"{OSLO}/oslo-bikes-api", json={"enabled": True}, headers=oslo)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["status"] == "live"
    assert wanted_jobs(hub.registry)["oslo-bikes-api"].interval_seconds == 300
    run = (await api.post(f"{OSLO}/oslo-bikes-api/harvest", headers=oslo)).json()
    assert run["status"] == "succeeded"
    assert run["counts"]["created"] == 120
    listed = {s["id"]: s for s in (await api.get("/api/v1/sources")).json()}
    assert listed["oslo-bikes-api"]["last_run"]["id"] == run["run_id"]

    changed = await api.patch(f"{OSLO}/oslo-bikes-api", json={"schedule": "every 10m"}, headers=oslo)
    assert changed.json()["status"] == "pending"  # a changed definition is previewed again before it goes live
    assert "oslo-bikes-api" not in wanted_jobs(hub.registry)

    disabled = await api.delete(f"{OSLO}/oslo-bikes-api", headers=oslo)
    assert disabled.json()["status"] == "disabled"
    stations = await api.get("/ngsi-ld/v1/entities", params={"type": "BikeHireDockingStation", "count": "true"})
    assert stations.headers["ngsild-results-count"] == "120"  # its data stays
    mine = {s["id"]: s for s in (await api.get(OSLO, headers=oslo)).json()}
    assert mine["oslo-bikes-api"]["status"] == "disabled"
    assert mine["oslo-bysykkel-demo"]["origin"] == "cities.toml"


async def test_datastore_registration_carries_its_mapping(
    api: httpx.AsyncClient, demo_cities: Registry, make_key: KeyMaker
) -> None:
    aarhus = {"Authorization": f"Bearer {make_key('officer', 'aarhus')}"}
    _city, demo = demo_cities.source("aarhus-parking-demo")
    body = {"id": "aarhus-parking-api", "kind": "datastore", "url": demo.url, "schedule": "every 15m"}
    created = await api.post(AARHUS, json={**body, "options": demo.options}, headers=aarhus)
    assert created.status_code == 201, created.text
    preview = (await api.post(f"{AARHUS}/aarhus-parking-api/preview", headers=aarhus)).json()
    assert preview["status"].startswith("succeeded"), preview
    assert preview["counts"]["created"] > 0


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"url": "ftp://example.org/feed"}, "field 'url'"),
        ({"schedule": "sometimes"}, "field 'schedule'"),
        ({"kind": "soap"}, "kind"),
        ({"id": "Not A Slug"}, "field 'id'"),
        ({"headers": {"Authorization": "Bearer s3cr3t"}}, "environment variable"),
        ({"url": "http://127.0.0.1:8080/gbfs.json"}, "non-public address"),
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "non-public address"),
        ({"url": "http://localhost:9/gbfs.json"}, "non-public address"),  # refused after DNS resolution
        ({"url": "http://[::1]/gbfs.json"}, "non-public address"),
        ({"url": "http://no-such-host.invalid/gbfs.json"}, "cannot resolve host"),
    ],
)
async def test_registration_is_validated(
    api: httpx.AsyncClient, oslo: dict[str, str], change: dict[str, Any], needle: str
) -> None:
    response = await api.post(OSLO, json=bikes(**change), headers=oslo)
    assert response.status_code == 400, response.text
    assert needle in response.json()["detail"]
    assert "s3cr3t" not in response.text


async def test_conflicts_are_named(api: httpx.AsyncClient, oslo: dict[str, str]) -> None:
    clash = await api.post(OSLO, json=bikes("bergen-bysykkel-demo"), headers=oslo)
    assert clash.status_code == 409
    assert (
        clash.json()["detail"] == "source id 'bergen-bysykkel-demo' is already declared in cities.toml (city 'bergen')"
    )
    assert (await api.post(OSLO, json=bikes(), headers=oslo)).status_code == 201
    again = await api.post(OSLO, json=bikes(), headers=oslo)
    assert again.status_code == 409
    file_source = await api.patch(f"{OSLO}/oslo-bysykkel-demo", json={"schedule": "every 1h"}, headers=oslo)
    assert file_source.status_code == 409
    assert "cities.toml" in file_source.json()["detail"]


async def test_officers_stay_in_their_city(api: httpx.AsyncClient, oslo: dict[str, str], make_key: KeyMaker) -> None:
    aarhus = {"Authorization": f"Bearer {make_key('officer', 'aarhus')}"}
    assert (await api.post(AARHUS, json=bikes("aarhus-bikes"), headers=aarhus)).status_code == 201
    for method, path in [
        ("GET", AARHUS),
        ("POST", AARHUS),
        ("PATCH", f"{AARHUS}/aarhus-bikes"),
        ("DELETE", f"{AARHUS}/aarhus-bikes"),
        ("POST", f"{AARHUS}/aarhus-bikes/preview"),
        ("POST", f"{AARHUS}/aarhus-bikes/harvest"),
        ("POST", f"{AARHUS}/aarhus-parking-demo/harvest"),
        ("POST", f"{AARHUS}/no-such-source/harvest"),
    ]:
        body = bikes("x") if method == "POST" and path == AARHUS else {"schedule": "every 1m"}
        response = await api.request(method, path, headers=oslo, json=body if method in ("POST", "PATCH") else None)
        assert response.status_code == 403, (method, path)
        assert response.json()["detail"] == "this key is for city 'oslo' and may not act on city 'aarhus'"
    # through its own city's path an officer cannot reach another city's registration: the same 404 as a guess
    via_own = await api.patch(f"{OSLO}/aarhus-bikes", json={"schedule": "every 1m"}, headers=oslo)
    guessed = await api.patch(f"{OSLO}/no-such-source", json={"schedule": "every 1m"}, headers=oslo)
    assert via_own.status_code == guessed.status_code == 404
    assert "aarhus" not in via_own.json()["detail"].replace("aarhus-bikes", "")


async def test_registration_always_needs_a_key(hub: HubState, settings: Settings) -> None:
    anonymous = settings.model_copy(update={"anonymous_writes": True})
    hub.settings = anonymous
    app = create_app(anonymous, state=hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as api:
        assert (await api.post(OSLO, json=bikes())).status_code == 401
        assert (await api.get(OSLO)).status_code == 401
        assert (await api.post(f"{OSLO}/oslo-bysykkel-demo/harvest")).status_code == 401


async def test_scheduler_picks_up_registrations(api: httpx.AsyncClient, hub: HubState, oslo: dict[str, str]) -> None:
    scheduler = HarvestScheduler(hub.harvester, load_registry=hub.refresh_registry)
    scheduler.sync()
    assert "oslo-bikes-api" not in {job.id for job in scheduler.get_jobs()}
    await api.post(OSLO, json=bikes(), headers=oslo)
    await api.post(f"{OSLO}/oslo-bikes-api/preview", headers=oslo)
    await api.patch(f"{OSLO}/oslo-bikes-api", json={"enabled": True}, headers=oslo)
    # another hub process sees the registration on its next reload (no file change needed)
    other = HubState(
        hub.settings,
        hub.db,
        hub.base or hub.registry,
        Harvester(hub.db, hub.registry, hub.harvester.client),
        hub.contexts,
    )
    other_scheduler = HarvestScheduler(other.harvester, load_registry=other.refresh_registry)
    changes = other_scheduler.reload()
    assert changes is not None
    assert "oslo-bikes-api" in changes["added"]
    assert other.registry.source("oslo-bikes-api")[1].enabled


async def test_changes_are_audited(api: httpx.AsyncClient, oslo: dict[str, str], make_key: KeyMaker) -> None:
    await api.post(OSLO, json=bikes(), headers=oslo)
    await api.patch(f"{OSLO}/oslo-bikes-api", json={"title": "Bysykkel"}, headers=oslo)
    aarhus = {"Authorization": f"Bearer {make_key('officer', 'aarhus')}"}
    await api.post(AARHUS, json=bikes("aarhus-bikes"), headers=aarhus)
    entries = (await api.get("/api/v1/audit", headers=oslo)).json()["entries"]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("source.change", "oslo-bikes-api"),
        ("source.register", "oslo-bikes-api"),
    ]
    change = entries[0]
    assert change["actor"] == "Kari, Oslo kommune"
    assert change["before"]["title"] == "Oslo bikes, registered"
    assert change["after"]["title"] == "Bysykkel"
    assert change["at"]
    assert (await api.get("/api/v1/audit", params={"city": "aarhus"}, headers=oslo)).status_code == 403
    assert (await api.get("/api/v1/audit")).status_code == 401
    admin = {"Authorization": f"Bearer {make_key('admin')}"}
    everything = (await api.get("/api/v1/audit", headers=admin)).json()["entries"]
    assert {e["city"] for e in everything} == {"oslo", "aarhus"}
    only = (await api.get("/api/v1/audit", params={"city": "aarhus"}, headers=admin)).json()["entries"]
    assert [e["target"] for e in only] == ["aarhus-bikes"]
