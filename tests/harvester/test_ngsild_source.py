"""The ngsild source kind against the demo city's broker in-process: Link-next and offset paging, keyValues
wrapping, problem bodies, options; and the pure helpers on edge cases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from harvester import demo_city_ngsild
from harvester.demo_city import build_app
from harvester.http import HttpClient
from harvester.run import Harvester
from harvester.sources.base import HarvestBatch
from harvester.sources.ngsild import CONTEXT_REL, NgsiLdAdapter, attribute, entities_url, next_link
from harvester.store import RunStatus
from hub.cities import City, Registry, Source
from hub.errors import ConfigError, PayloadInvalid, SourceHTTPError
from hub.settings import Settings
from schemas.findings import Severity
from schemas.ngsild import check_entity
from tests.conftest import DEMO_BASE, DEMO_HOST, FIXED_CLOCK
from tests.harvester.test_datastore import Recorder, sdm_errors, sdm_validator

pytestmark = pytest.mark.anyio

HELSINKI_BBOX = (24.78, 59.92, 25.27, 60.30)
REYKJAVIK_BBOX = (-22.05, 64.04, -21.25, 64.32)
CONTEXT = "https://smart-data-models.github.io/data-models/context.jsonld"
Handler = Callable[[httpx.Request], httpx.Response]


def demo_recorder() -> Recorder:
    return Recorder(httpx.ASGITransport(app=build_app(clock=lambda: FIXED_CLOCK)))


async def harvest(
    settings: Settings, transport: httpx.AsyncBaseTransport, city: City, source: Source, **options: Any
) -> HarvestBatch:
    if options:
        source = source.model_copy(update={"options": {**source.options, **options}})
    async with HttpClient(settings, transport=transport, allow_hosts=[DEMO_HOST], backoff_base=0) as client:
        return await NgsiLdAdapter().harvest(client, city, source)


def by_type(batch: HarvestBatch) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in batch.records:
        assert record.entity is not None
        counts[record.entity["type"]] = counts.get(record.entity["type"], 0) + 1
    return counts


async def test_follows_link_next_pages(settings: Settings, demo_cities: Registry) -> None:
    city, source = demo_cities.source("helsinki-broker-demo")
    recorder = demo_recorder()
    batch = await harvest(settings, recorder, city, source)
    assert by_type(batch) == {"AirQualityObserved": 24, "WeatherObserved": 20, "ParkingSpot": 48}
    assert [str(r.url).removeprefix(DEMO_BASE) for r in recorder.requests[:2]] == [
        "/broker/ngsi-ld/v1/entities?type=AirQualityObserved&limit=20",
        "/broker/ngsi-ld/v1/entities?type=AirQualityObserved&limit=20&offset=20",  # the broker's next link
    ]
    # 24, 20 and 48 entities. The full first page of 20 came without a link, which cannot be told apart from a
    # broker that never links: one empty page by offset ends it.
    assert recorder.params("offset") == ["", "20", "", "20", "", "20", "40"]
    first = recorder.requests[0]
    assert first.headers["Accept"] == "application/json"
    assert first.headers["NGSILD-Tenant"] == "helsinki"
    assert (
        first.headers["Link"] == f'<{CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    )
    assert batch.findings == []
    assert batch.bytes > 0


async def test_broker_urns_and_normalized_entities_are_kept(settings: Settings, demo_cities: Registry) -> None:
    city, source = demo_cities.source("helsinki-broker-demo")
    batch = await harvest(settings, demo_recorder(), city, source, types=["ParkingSpot"])
    record = batch.records[0]
    assert record.record_id == "urn:ngsi-ld:ParkingSpot:helsinki:hel-parkingspot-001"
    assert record.entity is not None
    assert record.entity["refParkingSite"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:OnStreetParking:helsinki:site-2",
    }
    assert record.entity["status"]["observedAt"] == "2025-11-23T12:10:00Z"
    assert record.findings == []
    for record in batch.records:
        assert record.entity is not None
        assert check_entity(record.entity, HELSINKI_BBOX) == []


async def test_pages_by_offset_and_wraps_key_values(settings: Settings, demo_cities: Registry) -> None:
    city, source = demo_cities.source("reykjavik-broker-demo")
    recorder = demo_recorder()
    batch = await harvest(settings, recorder, city, source)
    assert by_type(batch) == {"AirQualityObserved": 20, "WeatherObserved": 22}
    # No links from this broker: offset until a short page (20 = 10 + 10 + an empty page; 22 = 10 + 10 + 2).
    assert recorder.params("offset") == ["", "10", "20", "", "10", "20"]
    assert set(recorder.params("limit")) == {"10"}
    weather = next(r for r in batch.records if r.record_id.endswith("rey-weatherobserved-001"))
    assert weather.record_id == "urn:ngsi-ld:WeatherObserved:reykjavik:rey-weatherobserved-001"
    assert weather.entity is not None
    assert weather.entity["location"]["type"] == "GeoProperty"
    assert weather.entity["location"]["value"]["type"] == "Point"
    assert weather.entity["temperature"] == {"type": "Property", "value": weather.entity["temperature"]["value"]}
    assert isinstance(weather.entity["temperature"]["value"], float)
    assert weather.entity["dateObserved"] == {"type": "Property", "value": "2025-11-23T12:10:00Z"}
    assert [(f.rule, f.severity, f.pointer) for f in batch.findings] == [
        ("ngsild.not-normalized", Severity.INFO, "/AirQualityObserved"),
        ("ngsild.not-normalized", Severity.INFO, "/AirQualityObserved"),
        ("ngsild.not-normalized", Severity.INFO, "/WeatherObserved"),
        ("ngsild.not-normalized", Severity.INFO, "/WeatherObserved"),
        ("ngsild.not-normalized", Severity.INFO, "/WeatherObserved"),
    ]
    for record in batch.records:
        assert record.entity is not None
        assert check_entity(record.entity, REYKJAVIK_BBOX) == []


async def test_harvested_entities_obey_their_smart_data_models(
    settings: Settings, demo_cities: Registry, shared_data: Path
) -> None:
    validators = {
        "AirQualityObserved": sdm_validator(shared_data, "dataModel.Environment/AirQualityObserved/schema.json"),
        "WeatherObserved": sdm_validator(
            shared_data,
            "dataModel.Weather/WeatherObserved/schema.json",
            (
                "https://smart-data-models.github.io/dataModel.Weather/weather-schema.json",
                "dataModel.Weather/weather-schema.json",
            ),
        ),
        "ParkingSpot": sdm_validator(shared_data, "dataModel.Parking/ParkingSpot/schema.json"),
    }
    for source_id in ("helsinki-broker-demo", "reykjavik-broker-demo"):
        city, source = demo_cities.source(source_id)
        for record in (await harvest(settings, demo_recorder(), city, source)).records:
            assert record.entity is not None
            assert sdm_errors(validators[record.entity["type"]], record.entity) == [], record.record_id


async def test_unknown_remote_tenant_is_an_http_error(settings: Settings, demo_cities: Registry) -> None:
    city, source = demo_cities.source("helsinki-broker-demo")
    with pytest.raises(SourceHTTPError) as caught:
        await harvest(settings, demo_recorder(), city, source, tenant="tampere")
    assert caught.value.http_status == 404


async def test_without_a_tenant_the_default_tenant_is_read(settings: Settings, demo_cities: Registry) -> None:
    city, source = demo_cities.source("helsinki-broker-demo")
    source = source.model_copy(update={"options": {k: v for k, v in source.options.items() if k != "tenant"}})
    recorder = demo_recorder()
    batch = await harvest(settings, recorder, city, source)
    assert batch.records == []
    assert all("NGSILD-Tenant" not in r.headers for r in recorder.requests)


# ------------------------------------------------------------------------------------ faulty brokers


def broker(handler: Handler) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


@pytest.fixture
def city_source(demo_cities: Registry) -> tuple[City, Source]:
    city, source = demo_cities.source("helsinki-broker-demo")
    return city, source.model_copy(update={"options": {**source.options, "types": ["ParkingSpot"]}})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"type": "https://uri.etsi.org/ngsi-ld/errors/BadRequestData", "title": "Bad", "detail": "type unknown"},
            "the broker answered a problem: https://uri.etsi.org/ngsi-ld/errors/BadRequestData: type unknown",
        ),
        ({"id": "urn:x", "type": "ParkingSpot"}, "expected a JSON array of entities, got dict"),
        ("oops", "expected a JSON array of entities, got str"),
    ],
)
async def test_non_array_answers_are_payload_invalid(
    settings: Settings, city_source: tuple[City, Source], body: Any, message: str
) -> None:
    transport = broker(lambda request: httpx.Response(200, json=body))
    with pytest.raises(PayloadInvalid) as caught:
        await harvest(settings, transport, *city_source)
    assert caught.value.detail == f"GET {DEMO_BASE}/broker/ngsi-ld/v1/entities?type=ParkingSpot&limit=20: {message}"


async def test_invalid_json_is_payload_invalid(settings: Settings, city_source: tuple[City, Source]) -> None:
    transport = broker(lambda request: httpx.Response(200, content=b"[{"))
    with pytest.raises(PayloadInvalid, match="invalid JSON"):
        await harvest(settings, transport, *city_source)


async def test_a_broker_ignoring_offset_is_caught(settings: Settings, city_source: tuple[City, Source]) -> None:
    page = [{"id": f"urn:ngsi-ld:ParkingSpot:x:{i}", "type": "ParkingSpot"} for i in range(20)]
    transport = broker(lambda request: httpx.Response(200, json=page))
    with pytest.raises(PayloadInvalid, match="repeats the previous one"):
        await harvest(settings, transport, *city_source)


async def test_bad_entities_are_quarantined_and_duplicates_dropped(
    settings: Settings, city_source: tuple[City, Source]
) -> None:
    pages = {
        "0": [{"id": "a1", "status": "free"}, {"type": "ParkingSpot"}, {"id": "a2", "type": "ParkingSpot"}],
    }
    pages["0"] += [{"id": f"b{i}", "type": "ParkingSpot"} for i in range(17)]
    pages["20"] = [{"id": "a2", "type": "ParkingSpot"}, {"id": "c", "type": "ParkingSpot", "@context": "x"}]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("offset", "0")])

    batch = await harvest(settings, broker(handler), *city_source)
    assert len(batch.records) == 21
    assert batch.records[0].entity is not None
    assert batch.records[0].entity["type"] == "ParkingSpot"  # the type asked for, with a warning
    assert [(f.rule, f.pointer) for f in batch.records[0].findings] == [("ngsild.missing-type", "/ParkingSpot/0/type")]
    assert batch.records[1].entity is None
    assert [(f.rule, f.severity) for f in batch.records[1].findings] == [("ngsild.missing-id", Severity.ERROR)]
    assert batch.records[-1].entity == {"id": "urn:ngsi-ld:ParkingSpot:helsinki:c", "type": "ParkingSpot"}
    duplicate = [f for f in batch.findings if f.rule == "ngsild.duplicate-id"]
    assert [(f.pointer, f.severity) for f in duplicate] == [("/ParkingSpot/20", Severity.WARNING)]


# ------------------------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "options.types: Field required"),
        ({"types": []}, "options.types: List should have at least 1 item"),
        ({"types": ["A,B"]}, "options.types.0: Value error, 'A,B' is not one entity type"),
        ({"types": ["A"], "page_size": 5000}, "options.page_size: Input should be less than or equal to 1000"),
        ({"types": ["A"], "context": "ftp://x/c"}, "options.context: Value error, 'ftp://x/c' is not an http"),
        ({"types": ["A"], "format": "keyValues"}, "options.format: Extra inputs are not permitted"),
    ],
)
async def test_bad_options_are_a_config_error_naming_the_source(
    settings: Settings, city_source: tuple[City, Source], options: dict[str, Any], message: str
) -> None:
    city, source = city_source
    source = source.model_copy(update={"options": options})
    with pytest.raises(ConfigError) as caught:
        await harvest(settings, broker(lambda request: httpx.Response(500)), city, source)
    assert caught.value.detail.startswith("source 'helsinki-broker-demo': ")
    assert message in caught.value.detail


# ------------------------------------------------------------------------------------- pure helpers


def test_entities_url_accepts_the_root_or_the_api_base() -> None:
    assert (
        entities_url("https://b.example/", type="T", limit=5) == "https://b.example/ngsi-ld/v1/entities?type=T&limit=5"
    )
    assert entities_url("https://b.example/ngsi-ld/v1/", type="T") == "https://b.example/ngsi-ld/v1/entities?type=T"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('</e?offset=20>; rel="next"', "https://b.example/e?offset=20"),
        (
            f'<https://c.example/ctx.jsonld>; rel="{CONTEXT_REL}", <https://b.example/n>; rel=next',
            "https://b.example/n",
        ),
        ('<https://b.example/p>; rel="prev", <https://b.example/n>; rel="prev next"', "https://b.example/n"),
        (f'<https://c.example/ctx.jsonld>; rel="{CONTEXT_REL}"', None),
        (None, None),
    ],
)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert next_link(header, "https://b.example/ngsi-ld/v1/entities?type=T") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, {"type": "Property", "value": 3}),
        ({"streetAddress": "Mannerheimintie 1"}, {"type": "Property", "value": {"streetAddress": "Mannerheimintie 1"}}),
        (
            {"type": "Point", "coordinates": [24.9, 60.2]},
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [24.9, 60.2]}},
        ),
        (
            {"value": 5, "observedAt": "2025-01-01T00:00:00Z"},
            {"type": "Property", "value": 5, "observedAt": "2025-01-01T00:00:00Z"},
        ),
        (
            {"value": {"type": "Point", "coordinates": [1, 2]}},
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
        ),
        ({"object": "urn:ngsi-ld:X:1"}, {"type": "Relationship", "object": "urn:ngsi-ld:X:1"}),
        ({"languageMap": {"fi": "Kauppatori"}}, {"type": "LanguageProperty", "languageMap": {"fi": "Kauppatori"}}),
        ({"type": "Relationship", "object": "urn:a"}, {"type": "Relationship", "object": "urn:a"}),
        (
            [{"type": "Property", "value": 1, "datasetId": "urn:d:1"}, {"value": 2, "datasetId": "urn:d:2"}],
            [
                {"type": "Property", "value": 1, "datasetId": "urn:d:1"},
                {"type": "Property", "value": 2, "datasetId": "urn:d:2"},
            ],
        ),
        (["onStreet"], {"type": "Property", "value": ["onStreet"]}),
    ],
)
def test_attribute_normalization(value: Any, expected: Any) -> None:
    assert attribute(value) == expected


async def test_harvest_run_stores_the_broker_entities(harvester: Harvester) -> None:
    report = await harvester.run("reykjavik-broker-demo")
    assert report.status is RunStatus.SUCCEEDED
    assert report.counts["created"] == 42


# ------------------------------------------------------------------------------------ the demo broker


def test_demo_broker_is_deterministic_and_moves_with_the_clock() -> None:
    helsinki = demo_city_ngsild.TENANTS[0]
    now = demo_city_ngsild.tenant_entities(helsinki, ["AirQualityObserved"], FIXED_CLOCK)
    assert now == demo_city_ngsild.tenant_entities(helsinki, ["AirQualityObserved"], FIXED_CLOCK + 60)
    later = demo_city_ngsild.tenant_entities(helsinki, ["AirQualityObserved"], FIXED_CLOCK + 3 * 3600)
    assert [e["no2"]["value"] for e in now] != [e["no2"]["value"] for e in later]
    assert [e["id"] for e in now] == [e["id"] for e in later]


@pytest.mark.parametrize(
    ("params", "status", "problem"),
    [
        ({"type": "ParkingSpot", "limit": "1001"}, 400, "BadRequestData"),
        ({"type": "ParkingSpot", "offset": "-1"}, 400, "BadRequestData"),
        ({"limit": "5"}, 400, "BadRequestData"),
    ],
)
async def test_demo_broker_answers_problems(params: dict[str, str], status: int, problem: str) -> None:
    transport = httpx.ASGITransport(app=build_app(clock=lambda: FIXED_CLOCK))
    async with httpx.AsyncClient(transport=transport, base_url=DEMO_BASE) as client:
        response = await client.get("/broker/ngsi-ld/v1/entities", params=params, headers={"NGSILD-Tenant": "helsinki"})
        counted = await client.get(
            "/broker/ngsi-ld/v1/entities",
            params={"type": "ParkingSpot,WeatherObserved", "limit": "1", "count": "true", "format": "keyValues"},
            headers={"NGSILD-Tenant": "helsinki"},
        )
    assert response.status_code == status
    assert response.json()["type"] == f"https://uri.etsi.org/ngsi-ld/errors/{problem}"
    assert counted.headers["NGSILD-Results-Count"] == "68"
    assert counted.json()[0]["location"]["type"] == "Point"  # keyValues on request
