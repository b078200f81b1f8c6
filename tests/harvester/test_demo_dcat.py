"""The demo city's DCAT-AP catalogues, harvested by the ``dcat`` adapter through the app in-process."""

from __future__ import annotations

import httpx
import pytest

from harvester.demo_city import build_app, demo_sources
from harvester.demo_city_dcat import NORWEGIAN, PAGE_SIZE, SCHEDULE, demo_catalogues
from harvester.http import HttpClient
from harvester.sources.base import HarvestBatch
from harvester.sources.dcat import DcatAdapter
from hub.cities import Registry, Source
from hub.settings import Settings

HOST = "demo-city.test"
BASE = f"http://{HOST}"
T0 = 1_763_900_000.0  # 2025-11-23T12:13:20Z
NLOD = "http://data.norge.no/nlod/no/2.0"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"


class Recorder(httpx.AsyncBaseTransport):
    """The demo app in-process, remembering every URL asked for."""

    def __init__(self, clock_value: float) -> None:
        self.inner = httpx.ASGITransport(app=build_app(clock=lambda: clock_value))
        self.requested: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requested.append(str(request.url))
        return await self.inner.handle_async_request(request)


async def harvest_all(
    settings: Settings, registry: Registry, clock_value: float = T0
) -> tuple[dict[str, HarvestBatch], list[str]]:
    """Every dcat demo source harvested: source id → batch, and the URLs requested."""
    transport = Recorder(clock_value)
    batches: dict[str, HarvestBatch] = {}
    async with HttpClient(settings, transport=transport, allow_hosts=[HOST], backoff_base=0) as client:
        for city_id, entry in demo_sources(BASE).items():
            for raw in entry:
                if raw["kind"] == "dcat":
                    batches[str(raw["id"])] = await DcatAdapter().harvest(
                        client, registry.city(city_id), Source.model_validate(raw)
                    )
    return batches, transport.requested


@pytest.fixture
async def harvested(settings: Settings, registry: Registry) -> tuple[dict[str, HarvestBatch], list[str]]:
    return await harvest_all(settings, registry)


@pytest.fixture
def batches(harvested: tuple[dict[str, HarvestBatch], list[str]]) -> dict[str, HarvestBatch]:
    return harvested[0]


def test_demo_sources_are_dcat_nightly() -> None:
    dcat = {city: [s for s in sources if s["kind"] == "dcat"] for city, sources in demo_sources(BASE + "/").items()}
    expected = ["oslo", "bergen", "trondheim", "stavanger", "baerum", "tromso", "kristiansand", "stockholm"]
    assert sorted(city for city, sources in dcat.items() if sources) == sorted(expected)
    oslo = dcat["oslo"][0]
    assert oslo == {
        "id": "oslo-dcat-demo",
        "kind": "dcat",
        "url": f"{BASE}/dcat/oslo/catalog.ttl",
        "schedule": SCHEDULE,
        "title": "Data catalogue of Oslo kommune (demo)",
    }
    assert SCHEDULE == "17 3 * * *"
    stockholm = dcat["stockholm"][0]
    assert stockholm["url"] == f"{BASE}/dcat/dataportal-se/catalog.rdf"
    assert stockholm["options"] == {"publisher": "Stockholms stad"}


@pytest.mark.anyio
async def test_every_norwegian_catalogue_is_harvested_page_by_page(
    harvested: tuple[dict[str, HarvestBatch], list[str]],
) -> None:
    batches, requested = harvested
    sizes = {c.city_id: len(c.datasets) for c in demo_catalogues()}
    pages = 0
    for publisher in NORWEGIAN:
        batch = batches[f"{publisher.city_id}-dcat-demo"]
        assert 15 <= len(batch.records) <= 30
        assert len(batch.records) == sizes[publisher.city_id]
        assert batch.complete is True
        assert batch.findings == []
        pages += -(-sizes[publisher.city_id] // PAGE_SIZE)
        for record in batch.records:
            dataset = record.dataset
            assert dataset is not None
            assert record.findings == []
            assert "nb" in dataset.title
            assert dataset.identifier  # DCAT-AP-NO: identifier, publisher and theme on every dataset
            assert dataset.publisher is not None
            assert dataset.publisher.uri == publisher.uri
            assert dataset.publisher.name == {"nb": publisher.name}
            assert dataset.themes[0].startswith(DATA_THEME)
            assert dataset.licence == NLOD
            assert dataset.contact_point["email"] == f"postmottak@{publisher.domain}"
            assert dataset.distributions
    assert len(requested) == len(set(requested)) == pages + 1  # every page once, plus the Swedish dump
    assert f"{BASE}/dcat/stavanger/catalog.ttl?page=3" in requested


@pytest.mark.anyio
async def test_catalogues_are_realistic(batches: dict[str, HarvestBatch]) -> None:
    datasets = [r.dataset for key, b in batches.items() if key != "stockholm-dcat-demo" for r in b.records]
    titled_in_english = [d for d in datasets if d and "en" in d.title]
    assert 0 < len(titled_in_english) < len(datasets)
    formats = [dist.format for d in datasets if d for dist in d.distributions]
    assert any(f and f.startswith(FILE_TYPE) for f in formats)  # EU file-type URIs ...
    assert any(f in ("CSV", "JSON", "GeoJSON", "xlsx", "text/xml", "PDF") for f in formats)  # ... and literals
    hvd = [d for d in datasets if d and d.hvd_categories]
    assert hvd
    assert all(d.applicable_legislation == ["http://data.europa.eu/eli/reg_impl/2023/138/oj"] for d in hvd)


@pytest.mark.anyio
async def test_the_swedish_dump_keeps_stockholm_only(batches: dict[str, HarvestBatch]) -> None:
    [dump] = [c for c in demo_catalogues() if c.key == "dataportal-se"]
    stockholm = batches["stockholm-dcat-demo"]
    names = {r.dataset.publisher.name["sv"] for r in stockholm.records if r.dataset and r.dataset.publisher}
    assert names == {"Stockholms stad"}
    assert 6 <= len(stockholm.records) < len(dump.datasets)
    assert all(
        r.dataset and r.dataset.licence == "http://creativecommons.org/licenses/by/4.0/" for r in stockholm.records
    )


@pytest.mark.anyio
async def test_same_clock_same_hashes_next_day_only_daily_datasets_change(
    settings: Settings, registry: Registry
) -> None:
    first, _ = await harvest_all(settings, registry)
    again, _ = await harvest_all(settings, registry)
    tomorrow, _ = await harvest_all(settings, registry, T0 + 86_400)

    def hashes(batches: dict[str, HarvestBatch]) -> dict[str, str | None]:
        return {r.record_id: r.dataset.content_hash for b in batches.values() for r in b.records if r.dataset}

    assert hashes(first) == hashes(again)
    changed = {uri for uri, digest in hashes(first).items() if hashes(tomorrow)[uri] != digest}
    daily = {d.uri for c in demo_catalogues() for d in c.datasets if d.periodicity == "DAILY"}
    assert changed
    assert changed == daily & set(hashes(first))


@pytest.mark.anyio
async def test_turtle_and_rdfxml_of_one_catalogue_hash_alike(settings: Settings, registry: Registry) -> None:
    transport = httpx.ASGITransport(app=build_app(clock=lambda: T0))
    oslo = registry.city("oslo")
    results = []
    async with HttpClient(settings, transport=transport, allow_hosts=[HOST], backoff_base=0) as client:
        for extension in ("ttl", "rdf"):
            url = f"{BASE}/dcat/oslo/catalog.{extension}"
            raw = {"id": "oslo-dcat-demo", "kind": "dcat", "url": url, "schedule": SCHEDULE}
            batch = await DcatAdapter().harvest(client, oslo, Source.model_validate(raw))
            results.append({r.record_id: r.dataset for r in batch.records})
    turtle, rdfxml = results
    assert len(turtle) >= 15
    assert turtle == rdfxml  # the same datasets, field by field, content hash included


@pytest.mark.anyio
async def test_unknown_catalogue_and_page_out_of_range_are_404() -> None:
    transport = httpx.ASGITransport(app=build_app(clock=lambda: T0))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        assert (await client.get("/dcat/narvik/catalog.ttl")).status_code == 404
        response = await client.get("/dcat/oslo/catalog.ttl?page=99")
        assert response.status_code == 404
        assert "has pages 1 to" in response.json()["detail"]
        page = await client.get("/dcat/bergen/catalog.ttl?page=2")
        assert page.headers["content-type"] == "text/turtle; charset=utf-8"
        assert "hydra:previous" in page.text
        assert "hydra:next" not in page.text
