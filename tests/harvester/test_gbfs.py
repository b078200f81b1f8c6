"""GBFS → BikeHireDockingStation: the pure transforms on the real Oslo capture and on edge cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from harvester.sources.gbfs_transform import (
    GbfsSystem,
    discover_feeds,
    entity_id,
    gbfs_time,
    local_station_id,
    station_records,
    station_status_value,
)
from schemas.findings import Severity
from schemas.ngsild import check_entity

OSLO = GbfsSystem(city_id="oslo", system_id="oslobysykkel", name="Oslo Bysykkel", operator="UIP Oslo Bysykkel AS")
OSLO_BBOX = (10.48, 59.80, 10.95, 60.14)


def _load(shared_data: Path, name: str) -> dict[str, Any]:
    doc = orjson.loads((shared_data / "real" / "oslo-bysykkel" / name).read_bytes())
    assert isinstance(doc, dict)
    return doc


@pytest.fixture
def oslo_information(shared_data: Path) -> dict[str, Any]:
    return _load(shared_data, "station_information_2022-10-23_v2.2.json")


def test_real_oslo_capture_gives_260_valid_stations(oslo_information: dict[str, Any]) -> None:
    records = station_records(oslo_information, None, OSLO)
    assert len(records) == 260
    entities = [r.entity for r in records if r.entity is not None]
    assert len(entities) == 260
    assert len({e["id"] for e in entities}) == 260
    first = entities[0]
    assert first["id"] == "urn:ngsi-ld:BikeHireDockingStation:oslo:oslobysykkel:2351"
    assert first["name"] == {"type": "Property", "value": "Sogn Studentby"}
    assert first["location"]["value"] == {"type": "Point", "coordinates": [10.727852791011173, 59.95208441268443]}
    assert first["totalSlotNumber"] == {"type": "Property", "value": 18}
    assert sum(e["totalSlotNumber"]["value"] for e in entities) == 5783
    for entity in entities:
        assert [f for f in check_entity(entity, OSLO_BBOX) if f.severity is Severity.ERROR] == []


def test_real_oslo_status_joined_by_station_id(oslo_information: dict[str, Any], shared_data: Path) -> None:
    status = _load(shared_data, "station_status_2025-04-01_v2.3.json")
    records = station_records(oslo_information, status, OSLO)
    status_ids = {s["station_id"] for s in status["data"]["stations"]}
    with_counts = [r.entity for r in records if r.entity and "availableBikeNumber" in r.entity]
    assert {e["stationCode"]["value"] for e in with_counts} == status_ids & {
        s["station_id"] for s in oslo_information["data"]["stations"]
    }
    without = [r for r in records if r.entity and "availableBikeNumber" not in r.entity]
    assert without, "stations closed since 2022 have no status in 2025"
    assert all(f.rule == "gbfs.station-without-status" for r in without for f in r.findings)
    sample = with_counts[0]
    assert sample["availableBikeNumber"]["observedAt"].endswith("Z")
    assert sample["status"]["value"] in {"working", "empty", "full", "withIncidence", "outOfService"}


def _status(**values: Any) -> dict[str, Any]:
    base = {
        "station_id": "1",
        "is_installed": True,
        "is_renting": True,
        "is_returning": True,
        "last_reported": 1_700_000_000,
        "num_bikes_available": 3,
        "num_docks_available": 7,
    }
    base.update(values)
    return base


def _one(info: dict[str, Any], status: dict[str, Any] | None) -> Any:
    information = {"last_updated": 1_700_000_000, "data": {"stations": [info]}}
    doc = None if status is None else {"last_updated": 1_700_000_010, "data": {"stations": [status]}}
    [record] = station_records(information, doc, OSLO)
    return record


INFO = {"station_id": "1", "name": "Torggata", "lat": 59.91, "lon": 10.75, "capacity": 10}


def test_counts_and_observed_at_from_last_reported() -> None:
    record = _one(INFO, _status())
    entity = record.entity
    assert entity["availableBikeNumber"] == {"type": "Property", "value": 3, "observedAt": "2023-11-14T22:13:20Z"}
    assert entity["freeSlotNumber"]["value"] == 7
    assert entity["dateModified"]["value"] == "2023-11-14T22:13:30Z"
    assert entity["status"]["value"] == "working"
    assert record.findings == []


def test_integer_booleans_are_coerced_with_a_warning() -> None:
    record = _one(INFO, _status(is_renting=0, is_returning=1))
    assert record.entity["status"]["value"] == "withIncidence"
    rules = [(f.rule, f.severity, f.pointer) for f in record.findings]
    assert ("gbfs.integer-boolean", Severity.WARNING, "/station_information/data/stations/0/is_renting") in rules


def test_counts_above_capacity_warn_but_publish() -> None:
    record = _one(INFO, _status(num_bikes_available=9, num_docks_available=9))
    assert record.entity is not None
    assert [f.rule for f in record.findings] == ["gbfs.counts-exceed-capacity"]


def test_virtual_station_without_docks_leaves_free_slots_unset() -> None:
    status = _status()
    del status["num_docks_available"]
    entity = _one({**INFO, "capacity": None}, status).entity
    assert "freeSlotNumber" not in entity
    assert "totalSlotNumber" not in entity  # never inferred


def test_missing_id_and_coordinates_are_errors_not_crashes() -> None:
    record = _one({"name": "nameless", "lat": 59.9, "lon": 10.7}, None)
    assert record.entity is None
    assert record.findings[0].rule == "gbfs.empty-id"
    record = _one({"station_id": "9", "name": "nowhere"}, None)
    assert record.entity is None
    assert any(f.rule == "gbfs.coordinates" for f in record.findings)


def test_duplicate_station_ids_are_quarantined() -> None:
    information = {"data": {"stations": [INFO, dict(INFO)]}}
    first, second = station_records(information, None, OSLO)
    assert first.entity is not None
    assert second.entity is None
    assert any(f.rule == "gbfs.duplicate-id" for f in second.findings)


def test_codespace_prefixed_ids_map_to_the_operators_id() -> None:
    assert local_station_id("YOS:Station:2351") == "2351"
    assert local_station_id("2351") == "2351"
    assert entity_id(OSLO, "YOS:Station:2351") == entity_id(OSLO, "2351")


def test_gbfs3_localised_names_and_rfc3339_times() -> None:
    info = {**INFO, "name": [{"text": "Torget", "language": "nb"}, {"text": "The square", "language": "en"}]}
    status = _status(last_reported="2024-05-01T10:00:00+02:00", num_bikes_available=None, num_vehicles_available=4)
    entity = _one(info, status).entity
    assert entity["name"] == {"type": "LanguageProperty", "languageMap": {"nb": "Torget", "en": "The square"}}
    assert entity["availableBikeNumber"] == {"type": "Property", "value": 4, "observedAt": "2024-05-01T08:00:00Z"}


@pytest.mark.parametrize(
    ("flags", "bikes", "docks", "expected"),
    [
        ((False, True, True), 3, 3, "outOfService"),
        ((True, False, False), 3, 3, "outOfService"),
        ((True, False, True), 3, 3, "withIncidence"),
        ((True, True, True), 0, 3, "empty"),
        ((True, True, True), 3, 0, "full"),
        ((True, True, True), 3, 3, "working"),
    ],
)
def test_status_derivation(flags: tuple[bool, bool, bool], bikes: int, docks: int, expected: str) -> None:
    assert station_status_value(*flags, bikes, docks) == expected


def test_discovery_of_2x_languages_and_3x(shared_data: Path) -> None:
    v2 = orjson.loads((shared_data / "gbfs" / "examples" / "v2.3" / "gbfs.json").read_bytes())
    v3 = orjson.loads((shared_data / "gbfs" / "examples" / "v3.0" / "gbfs.json").read_bytes())
    assert "station_information" in discover_feeds(v2)
    assert "station_status" in discover_feeds(v3)
    assert discover_feeds({"data": []}) == {}


def test_gbfs_time_rejects_naive_and_garbage() -> None:
    assert gbfs_time(0) == "1970-01-01T00:00:00Z"
    assert gbfs_time("2024-01-01T00:00:00") is None
    assert gbfs_time("yesterday") is None
    assert gbfs_time(True) is None
