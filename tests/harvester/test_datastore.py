"""CKAN datastore → Smart Data Model entities: the shipped mappings on the real Aarhus table, dirty rows, mapping
errors, paging, and the Smart Data Model schemas of what comes out."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from harvester import demo_city_datastore
from harvester.demo_city import build_app, demo_sources
from harvester.http import HttpClient
from harvester.run import Harvester
from harvester.sources.base import Record
from harvester.sources.datastore import DatastoreAdapter, DatastoreOptions, latest_per_entity, search_url
from harvester.sources.datastore_mapping import DatastoreMapping, TableContext, table_records, validate_options
from harvester.store import RunStatus
from hub.cities import City, Source, load_cities
from hub.cities import Registry as Cities
from hub.errors import ConfigError, PayloadInvalid, SourceHTTPError
from hub.settings import Settings
from schemas.findings import Finding, Severity
from schemas.ngsild import check_entity
from tests.conftest import DEMO_BASE, DEMO_HOST, FIXED_CLOCK, ROOT

pytestmark = pytest.mark.anyio

SAMPLE = "real/aarhus-parking/aarhus_parkeringshuse_datastore_search_2016-10-29.json"
AARHUS_BBOX = (9.98, 56.02, 10.36, 56.32)
COPENHAGEN_BBOX = (12.45, 55.61, 12.66, 55.74)
COMMON_SCHEMA = "https://smart-data-models.github.io/data-models/common-schema.json"
Row = dict[str, Any]


# ------------------------------------------------------------------------------------------------- helpers


def shipped(source_id: str) -> tuple[City, Source, DatastoreMapping]:
    registry = load_cities(ROOT / "cities.toml")
    city, source = registry.source(source_id)
    return city, source, validate_options(DatastoreOptions, source.id, source.options).mapping


def key_values(entity: dict[str, Any]) -> dict[str, Any]:
    """A normalized entity flattened to key-values, the representation the Smart Data Model schemas describe."""
    members = {"Property": "value", "GeoProperty": "value", "Relationship": "object", "LanguageProperty": "languageMap"}
    return {k: v[members[v["type"]]] if isinstance(v, dict) else v for k, v in entity.items()}


def sdm_validator(shared_data: Path, schema_path: str, *extra: tuple[str, str]) -> Draft202012Validator:
    """A 2020-12 validator of one Smart Data Model whose remote $refs resolve to the shared files, offline."""
    models = shared_data / "smart-data-models"
    resources = [(COMMON_SCHEMA, models / "shared" / "common-schema.json")]
    resources += [(uri, models / path) for uri, path in extra]
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))) for uri, path in resources
    )
    checker = FormatChecker()
    checker.checks("date-time", raises=ValueError)(lambda v: not isinstance(v, str) or bool(datetime.fromisoformat(v)))
    schema = json.loads((models / schema_path).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=registry, format_checker=checker)


def sdm_errors(validator: Draft202012Validator, entity: dict[str, Any]) -> list[str]:
    return sorted(e.message for e in validator.iter_errors(key_values(entity)))


def rules(findings: list[Finding]) -> list[tuple[str, Severity, str]]:
    return [(f.rule, f.severity, f.pointer) for f in findings]


@pytest.fixture
def aarhus_rows(shared_data: Path) -> list[Row]:
    doc = orjson.loads((shared_data / SAMPLE).read_bytes())
    rows = doc["result"]["records"]
    assert isinstance(rows, list)
    return rows


@pytest.fixture
def aarhus_records(aarhus_rows: list[Row]) -> dict[str, Record]:
    _city, _source, mapping = shipped("aarhus-parking")
    records = table_records(aarhus_rows, mapping, TableContext("aarhus", "https://example.test/ds"))
    return {r.record_id.rsplit(":", 1)[-1]: r for r in records}


def parking_row(**overrides: Any) -> Row:
    row: Row = {"date": "2016/12/01 08:00:00", "garageCode": "SALLING", "totalSpaces": 700, "vehicleCount": 350}
    return {**row, **overrides}


def one(row: Row, mapping: DatastoreMapping | None = None) -> Record:
    records = table_records([row], mapping or shipped("aarhus-parking")[2], TableContext("aarhus"))
    assert len(records) == 1
    return records[0]


# ------------------------------------------------------------------------------ the real Aarhus table


def test_real_table_gives_thirteen_garages(aarhus_records: dict[str, Record]) -> None:
    assert len(aarhus_records) == 13
    assert all(r.entity is not None for r in aarhus_records.values())
    norreport = aarhus_records["NORREPORT"].entity
    assert norreport is not None
    assert norreport["id"] == "urn:ngsi-ld:OffStreetParking:aarhus:NORREPORT"
    assert norreport["type"] == "OffStreetParking"
    assert norreport["totalSpotNumber"] == {"type": "Property", "value": 65, "observedAt": "2016-10-29T15:30:04Z"}
    assert norreport["occupiedSpotNumber"]["value"] == 56
    assert norreport["availableSpotNumber"]["value"] == 9
    assert norreport["occupancy"]["value"] == 0.8615
    assert norreport["observationDateTime"] == {"type": "Property", "value": "2016-10-29T15:30:04Z"}
    assert norreport["location"]["value"] == {"type": "Point", "coordinates": [10.212737, 56.161859]}
    assert norreport["name"]["value"] == "NORREPORT"
    assert norreport["source"]["value"] == "https://example.test/ds"
    assert aarhus_records["SCANDCENTER"].entity is not None
    assert aarhus_records["SCANDCENTER"].entity["totalSpotNumber"]["value"] == 1240


def test_naive_local_times_become_utc_with_a_warning(aarhus_records: dict[str, Record]) -> None:
    # 2016-10-29 is still summer time in Copenhagen (CEST, UTC+2): 17:30:04 local is 15:30:04Z.
    naive = [f for f in aarhus_records["NORREPORT"].findings if f.rule == "datastore.naive-time"]
    assert rules(naive) == [("datastore.naive-time", Severity.WARNING, "/records/0/date")]
    assert naive[0].message == "'2016/10/29 17:30:04' has no time zone: Europe/Copenhagen assumed"
    winter = one(parking_row(date="2016/12/01 08:00:00")).entity
    assert winter is not None
    assert winter["observationDateTime"]["value"] == "2016-12-01T07:00:00Z"  # CET, UTC+1


def test_counter_above_capacity_is_clamped_with_a_warning(aarhus_records: dict[str, Record]) -> None:
    record = aarhus_records["BUSGADEHUSET"]
    assert record.entity is not None
    assert record.entity["totalSpotNumber"]["value"] == 142
    assert record.entity["occupiedSpotNumber"]["value"] == 142
    assert record.entity["availableSpotNumber"]["value"] == 0
    assert record.entity["occupancy"]["value"] == 1.0
    clamped = [f for f in record.findings if f.rule == "datastore.clamped"]
    assert rules(clamped) == [("datastore.clamped", Severity.WARNING, "/records/4/vehicleCount")]
    assert "6187 exceeds totalSpotNumber 142" in clamped[0].message


def test_switched_off_counter_and_unmapped_garage_are_published_with_warnings(
    aarhus_records: dict[str, Record],
) -> None:
    dokk1 = aarhus_records["DOKK1"]
    assert dokk1.entity is not None
    assert "totalSpotNumber" not in dokk1.entity
    assert "availableSpotNumber" not in dokk1.entity
    assert "occupancy" not in dokk1.entity
    assert dokk1.entity["occupiedSpotNumber"]["value"] == 0
    assert ("datastore.out-of-range", Severity.WARNING, "/records/8/totalSpaces") in rules(dokk1.findings)
    skolebakken = aarhus_records["SKOLEBAKKEN"]
    assert skolebakken.entity is not None
    assert "location" not in skolebakken.entity
    assert ("datastore.location-unknown", Severity.WARNING, "/records/1/garageCode") in rules(skolebakken.findings)


def test_ids_from_codes_with_spaces_are_uri_safe(aarhus_records: dict[str, Record]) -> None:
    assert aarhus_records["Urban-Level-2+3"].record_id == "urn:ngsi-ld:OffStreetParking:aarhus:Urban-Level-2+3"
    entity = aarhus_records["Urban-Level-2+3"].entity
    assert entity is not None
    assert entity["name"]["value"] == "Urban Level 2+3"
    assert entity["location"]["value"]["coordinates"] == [10.213976, 56.152698]


def test_real_table_passes_the_structural_ngsild_checks(aarhus_records: dict[str, Record]) -> None:
    for record in aarhus_records.values():
        assert record.entity is not None
        assert check_entity(record.entity, AARHUS_BBOX) == [], record.record_id


# ------------------------------------------------------------------------------------- dirty rows


@pytest.mark.parametrize("garage", [None, "", "   "])
def test_row_without_id_is_quarantined(garage: str | None) -> None:
    record = one(parking_row(garageCode=garage))
    assert record.entity is None
    assert record.record_id == "/records/0"
    assert rules(record.findings)[0] == ("datastore.missing-id", Severity.ERROR, "/records/0/garageCode")


def test_row_with_missing_id_column_is_quarantined() -> None:
    row = parking_row()
    del row["garageCode"]
    assert one(row).entity is None


@pytest.mark.parametrize(
    ("date", "rule"),
    [
        ("29-10-2016 17:30", "datastore.time-format"),
        ("2016/13/40 25:00:00", "datastore.time-format"),
        (None, "datastore.missing-time"),
    ],
)
def test_unusable_time_is_an_error(date: str | None, rule: str) -> None:
    record = one(parking_row(date=date))
    assert record.entity is None
    assert rules(record.findings) == [(rule, Severity.ERROR, "/records/0/date")]


def test_aware_iso_times_need_no_zone() -> None:
    mapping = DatastoreMapping.model_validate(
        {"type": "OffStreetParking", "id": "{code}", "observed_at": "t", "attributes": {"n": {"column": "n"}}}
    )
    record = one({"code": "A", "t": "2024-06-01T10:00:00+02:00", "n": 3}, mapping)
    assert record.findings == []
    assert record.entity is not None
    assert record.entity["n"] == {"type": "Property", "value": 3, "observedAt": "2024-06-01T08:00:00Z"}


def test_uncastable_and_negative_values() -> None:
    bad = one(parking_row(vehicleCount="many"))
    assert bad.entity is not None
    assert "occupiedSpotNumber" not in bad.entity
    assert "availableSpotNumber" not in bad.entity
    assert ("datastore.value-type", Severity.WARNING, "/records/0/vehicleCount") in rules(bad.findings)
    for not_finite in ("NaN", "inf"):
        entity = one(parking_row(vehicleCount=not_finite)).entity
        assert entity is not None
        assert "occupiedSpotNumber" not in entity
    negative = one(parking_row(vehicleCount=-4))
    assert negative.entity is not None
    assert negative.entity["occupiedSpotNumber"]["value"] == 0
    assert negative.entity["availableSpotNumber"]["value"] == 700
    assert ("datastore.clamped", Severity.WARNING, "/records/0/vehicleCount") in rules(negative.findings)
    text_numbers = one(parking_row(totalSpaces="700", vehicleCount="35.0")).entity
    assert text_numbers is not None
    assert text_numbers["occupancy"]["value"] == 0.05


def test_ratio_by_zero_is_left_out() -> None:
    mapping = DatastoreMapping.model_validate(
        {
            "type": "TrafficFlowObserved",
            "id": "{p}",
            "attributes": {"a": {"column": "a", "type": "int"}, "b": {"column": "b", "type": "int"}},
            "derived": {"r": {"ratio": ["a", "b"]}, "s": {"sum": ["a", "b"]}},
        }
    )
    record = one({"p": "x", "a": 3, "b": 0}, mapping)
    assert record.entity is not None
    assert "r" not in record.entity
    assert record.entity["s"] == {"type": "Property", "value": 3}  # no observation time in this table
    assert rules(record.findings) == [("datastore.undefined", Severity.INFO, "/records/0")]


def test_later_readings_of_one_entity_supersede_earlier_rows() -> None:
    _city, _source, mapping = shipped("aarhus-parking")
    rows = [
        parking_row(date="2016/12/01 08:00:00", vehicleCount=100),
        parking_row(date="2016/12/01 09:00:00", vehicleCount=300),
        parking_row(date="2016/12/01 07:00:00", vehicleCount=50),
        parking_row(garageCode=None),
    ]
    kept, findings = latest_per_entity(table_records(rows, mapping, TableContext("aarhus")))
    assert len(kept) == 2
    assert kept[0].entity is not None
    assert kept[0].entity["occupiedSpotNumber"]["value"] == 300
    assert kept[1].entity is None  # the quarantined row stays, with its error
    assert rules(findings) == [("datastore.superseded", Severity.INFO, "/records")]


# --------------------------------------------------------------------------------- mapping errors


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"id": "garageCode"}, "options.mapping.id", "uses no column"),
        ({"id": "{garageCode.__class__}"}, "options.mapping.id", "without formats, indexes or attributes"),
        ({"id": "{garageCode!r}"}, "options.mapping.id", "without formats"),
        ({"id": "p/{garageCode}"}, "options.mapping.id", "the text between columns"),
        ({"timezone": "Europe/Aarhus"}, "options.mapping.timezone", "not an IANA time zone"),
        ({"type": "Off Street"}, "options.mapping.type", "not an entity type name"),
        ({"total_spots": "totalSpaces"}, "options.mapping.total_spots", "Extra inputs are not permitted"),
        ({"derived": {"x": {"expression": "a - b"}}}, "options.mapping.derived.x.expression", "Extra inputs"),
        ({"derived": {"x": {"difference": ["a", "b"]}}}, "options.mapping", "derived.x: a, b not declared before it"),
        ({"derived": {"x": {}}}, "options.mapping.derived.x", "exactly one operation"),
        ({"attributes": {"n": {"column": "c", "unit": "km/h"}}}, "options.mapping.attributes.n.unit", "UN/CEFACT"),
        ({"attributes": {"n": {"column": "c", "type": "decimal"}}}, "options.mapping.attributes.n.type", "'int'"),
        ({"attributes": {"n": {"column": "c", "maximum": "cap"}}}, "options.mapping", "'cap' is not an attribute"),
        ({"static": {"id": {"value": 1}}}, "options.mapping", "'id' cannot be an attribute name"),
        ({"location": {"key": "garageCode"}}, "options.mapping.location", "either lon and lat columns"),
        (
            {"location": {"key": "k", "points": {"A": [56.1, 10.2, 3]}}},
            "options.mapping.location.points.A",
            "at most 2",
        ),
    ],
)
def test_bad_mapping_is_a_config_error_naming_source_and_field(change: Row, field: str, message: str) -> None:
    _city, source, _mapping = shipped("aarhus-parking")
    options = {**source.options, "mapping": {**source.options["mapping"], **change}}
    with pytest.raises(ConfigError) as caught:
        validate_options(DatastoreOptions, "aarhus-parking", options)
    assert caught.value.detail.startswith("source 'aarhus-parking': ")
    assert field in caught.value.detail
    assert message in caught.value.detail


def test_missing_mapping_or_resource_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"source 's': options\.resource_id: Field required; options\.mapping"):
        validate_options(DatastoreOptions, "s", {})


async def test_adapter_validates_the_mapping_before_fetching(settings: Settings) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be fetched, got {request.url}")

    city, source, _mapping = shipped("aarhus-parking")
    bad = source.model_copy(update={"options": {"resource_id": "r", "mapping": {"type": "OffStreetParking"}}})
    async with HttpClient(settings, transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(ConfigError, match=r"source 'aarhus-parking': options\.mapping\.id: Field required"):
            await DatastoreAdapter().harvest(client, city, bad)


# ---------------------------------------------------------------------------------------- paging


def ckan_table(rows: list[Row], *, rows_max: int, with_total: bool = True) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        limit, offset = min(int(query["limit"][0]), rows_max), int(query["offset"][0])
        result: Row = {"resource_id": query["resource_id"][0], "records": rows[offset : offset + limit]}
        if with_total:
            result["total"] = len(rows)
        return httpx.Response(200, json={"success": True, "result": result})

    return handler


class Recorder(httpx.AsyncBaseTransport):
    """Delegates to a handler and keeps every request."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.transport.handle_async_request(request)

    def params(self, name: str) -> list[str]:
        return [request.url.params.get(name, "") for request in self.requests]


def garages(count: int) -> list[Row]:
    return [parking_row(garageCode=f"G{i:02d}", vehicleCount=i) for i in range(count)]


async def harvest_with(settings: Settings, transport: httpx.AsyncBaseTransport, **options: Any) -> Any:
    city, source, _mapping = shipped("aarhus-parking")
    source = source.model_copy(update={"options": {**source.options, **options}})
    async with HttpClient(settings, transport=transport, allow_hosts=["portal.opendata.dk"], backoff_base=0) as client:
        return await DatastoreAdapter().harvest(client, city, source)


async def test_pages_by_offset_until_the_total(settings: Settings) -> None:
    recorder = Recorder(httpx.MockTransport(ckan_table(garages(25), rows_max=10)))
    batch = await harvest_with(settings, recorder, page_size=100)
    assert recorder.params("offset") == ["0", "10", "20"]
    assert set(recorder.params("limit")) == {"100"}
    assert set(recorder.params("resource_id")) == {"2a82a145-0195-4081-a13c-b0e587e9b89c"}
    assert [r.record_id.rsplit(":", 1)[-1] for r in batch.records] == [f"G{i:02d}" for i in range(25)]
    assert batch.records[24].findings[0].pointer == "/records/24/date"
    assert batch.bytes > 0


async def test_pages_until_an_empty_or_short_page_without_a_total(settings: Settings) -> None:
    recorder = Recorder(httpx.MockTransport(ckan_table(garages(20), rows_max=10, with_total=False)))
    batch = await harvest_with(settings, recorder, page_size=10)
    assert recorder.params("offset") == ["0", "10", "20"]  # the third page is empty
    assert len(batch.records) == 20
    short = Recorder(httpx.MockTransport(ckan_table(garages(15), rows_max=10, with_total=False)))
    assert len((await harvest_with(settings, short, page_size=10)).records) == 15
    assert short.params("offset") == ["0", "10"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"success": False, "error": {"__type": "Not Found Error", "message": "Resource was not found."}},
            "success=false: Resource was not found.",
        ),
        (
            {"success": False, "error": {"__type": "Validation Error", "limit": ["Invalid integer"]}},
            "Validation Error: limit",
        ),
        ({"success": True, "result": {"rows": []}}, "no result.records array"),
        ([1, 2], "expected a JSON object"),
    ],
)
async def test_ckan_errors_are_payload_invalid_naming_the_url(settings: Settings, body: Any, message: str) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with pytest.raises(PayloadInvalid) as caught:
        await harvest_with(settings, transport)
    assert caught.value.detail.startswith("GET https://portal.opendata.dk/api/3/action/datastore_search?resource_id=")
    assert message in caught.value.detail


def test_search_url_accepts_the_action_or_the_api_base() -> None:
    expected = "https://p.example/api/3/action/datastore_search?resource_id=r&limit=5&offset=0"
    assert search_url("https://p.example/api/3/action/", "r", limit=5, offset=0) == expected
    assert search_url("https://p.example/api/3/action/datastore_search", "r", limit=5, offset=0) == expected


# -------------------------------------------------------------------------------- Smart Data Models


def test_offstreetparking_entities_obey_the_smart_data_model(
    shared_data: Path, aarhus_records: dict[str, Record]
) -> None:
    validator = sdm_validator(shared_data, "dataModel.Parking/OffStreetParking/schema.json")
    for code, record in aarhus_records.items():
        assert record.entity is not None
        expected = ["'location' is a required property"] if code == "SKOLEBAKKEN" else []
        assert sdm_errors(validator, record.entity) == expected, code


def test_the_validator_catches_a_bad_entity(shared_data: Path, aarhus_records: dict[str, Record]) -> None:
    validator = sdm_validator(shared_data, "dataModel.Parking/OffStreetParking/schema.json")
    entity = aarhus_records["NORREPORT"].entity
    assert entity is not None
    broken = {
        **entity,
        "occupancy": {"type": "Property", "value": 1.5},
        "observationDateTime": {"type": "Property", "value": "yesterday"},
    }
    errors = sdm_errors(validator, broken)
    assert errors == ["'yesterday' is not a 'date-time'", "1.5 is greater than the maximum of 1"]


def test_trafficflowobserved_entities_obey_the_smart_data_model(shared_data: Path) -> None:
    city, _source, mapping = shipped("copenhagen-traffic")
    rows = demo_city_datastore.traffic_rows(FIXED_CLOCK)
    records = table_records(rows, mapping, TableContext(city.id))
    assert len(records) == 60
    validator = sdm_validator(shared_data, "dataModel.Transportation/TrafficFlowObserved/schema.json")
    for record in records:
        assert record.entity is not None
        assert sdm_errors(validator, record.entity) == [], record.record_id
        assert check_entity(record.entity, COPENHAGEN_BBOX) == [], record.record_id
    first = records[0].entity
    assert first is not None
    assert first["id"] == f"urn:ngsi-ld:TrafficFlowObserved:copenhagen:{rows[0]['maalested']}-1"
    assert first["laneId"] == {"type": "Property", "value": 1}
    assert first["averageVehicleSpeed"]["unitCode"] == "KMH"
    # FIXED_CLOCK is 12:13:20Z; the last complete interval started at 13:00 local (CET), 12:00Z... minus 15 min.
    assert first["dateObserved"]["value"] == "2025-11-23T11:45:00Z"
    assert first["intensity"]["observedAt"] == "2025-11-23T11:45:00Z"


# --------------------------------------------------------------------------- the demo city, in-process


def test_demo_sources_reuse_the_shipped_options() -> None:
    sources = demo_sources("http://demo.test")
    registry = load_cities(ROOT / "cities.toml")
    for city_id, source_id in (("aarhus", "aarhus-parking"), ("copenhagen", "copenhagen-traffic")):
        demo = next(s for s in sources[city_id] if s["kind"] == "datastore")
        assert demo["id"] == f"{source_id}-demo"
        assert demo["url"] == "http://demo.test/datastore/api/3/action/datastore_search"
        assert demo["options"] == registry.source(source_id)[1].options


def test_demo_table_is_deterministic_and_moves_with_the_clock() -> None:
    first = demo_city_datastore.parking_rows(FIXED_CLOCK)
    assert first == demo_city_datastore.parking_rows(FIXED_CLOCK + 30)
    later = demo_city_datastore.parking_rows(FIXED_CLOCK + 3 * 3600)
    assert [r["vehicleCount"] for r in first] != [r["vehicleCount"] for r in later]
    assert [(r["garageCode"], r["totalSpaces"]) for r in first] == list(demo_city_datastore.GARAGES)
    assert first[0]["date"] == "2025/11/23 13:13:00"  # local naive time, like the real feed


async def test_adapter_against_the_demo_city(settings: Settings, demo_cities: Cities) -> None:
    recorder = Recorder(httpx.ASGITransport(app=build_app(clock=lambda: FIXED_CLOCK)))
    async with HttpClient(settings, transport=recorder, allow_hosts=[DEMO_HOST], backoff_base=0) as client:
        city, source = demo_cities.source("aarhus-parking-demo")
        parking = await DatastoreAdapter().harvest(client, city, source)
        city, source = demo_cities.source("copenhagen-traffic-demo")
        traffic = await DatastoreAdapter().harvest(client, city, source)
    assert len(parking.records) == 13
    assert len(traffic.records) == 60
    assert recorder.params("offset") == ["0", "10", *[str(n) for n in range(0, 60, 10)]]
    busgadehuset = next(r for r in parking.records if r.record_id.endswith(":BUSGADEHUSET"))
    assert busgadehuset.entity is not None
    assert busgadehuset.entity["occupiedSpotNumber"]["value"] == 142
    assert "datastore.clamped" in [f.rule for f in busgadehuset.findings]
    assert busgadehuset.entity["observationDateTime"]["value"] == "2025-11-23T12:13:00Z"


async def test_demo_city_unknown_resource_is_an_http_error(settings: Settings) -> None:
    transport = httpx.ASGITransport(app=build_app(clock=lambda: FIXED_CLOCK))
    async with HttpClient(settings, transport=transport, allow_hosts=[DEMO_HOST], backoff_base=0) as client:
        with pytest.raises(SourceHTTPError) as caught:
            await client.get(f"{DEMO_BASE}/datastore/api/3/action/datastore_search?resource_id=nope")
    assert caught.value.http_status == 404


async def test_harvest_run_stores_the_demo_car_parks(harvester: Harvester) -> None:
    report = await harvester.run("aarhus-parking-demo")
    assert report.status is RunStatus.SUCCEEDED
    assert report.counts["created"] == 13
    assert report.counts["invalid"] == 0
