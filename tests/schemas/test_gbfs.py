"""GBFS validation: the official schemas per version, and every cross-file rule, on real and synthetic feeds."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.findings import Finding, Severity
from schemas.gbfs import ID_LISTS, GbfsReport, detect_version, validate_gbfs
from schemas.store import SchemaStore

NOW = 1_743_466_400  # 2025-04-01T00:13:20Z
AT = datetime.fromtimestamp(NOW, UTC)
OSLO_BBOX = (10.48, 59.80, 10.95, 60.14)
Where = tuple[str, str, str]  # file, rule, pointer


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> SchemaStore:
    store = SchemaStore(tmp_path_factory.mktemp("var") / "schemas")
    store.sync_from_dir(shared_data)
    return store


def _load_dir(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_bytes()) for p in sorted(folder.glob("*.json"))}


def _where(report: GbfsReport) -> set[Where]:
    return {(feed, f.rule, f.pointer) for feed, found in report.findings.items() for f in found}


# -- a small, consistent GBFS 2.3 system, made to be broken one rule at a time ----------------------------------------


def _envelope(data: dict[str, Any], last_updated: int = NOW - 10) -> dict[str, Any]:
    return {"last_updated": last_updated, "ttl": 15, "version": "2.3", "data": data}


def _info(station_id: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "station_id": station_id,
        "name": f"Stasjon {station_id}",
        "lat": lat,
        "lon": lon,
        "capacity": 10,
        "region_id": "sentrum",
    }


def _status(station_id: str) -> dict[str, Any]:
    return {
        "station_id": station_id,
        "num_bikes_available": 4,
        "num_docks_available": 6,
        "is_installed": True,
        "is_renting": True,
        "is_returning": True,
        "last_reported": NOW - 20,
        "vehicle_types_available": [{"vehicle_type_id": "bike", "count": 3}, {"vehicle_type_id": "ebike", "count": 1}],
        "vehicle_docks_available": [{"vehicle_type_ids": ["bike", "ebike"], "count": 6}],
    }


FEEDS = ("system_information", "vehicle_types", "system_pricing_plans", "system_regions")
STATUS_FEEDS = ("station_information", "station_status", "free_bike_status")


def system() -> dict[str, dict[str, Any]]:
    """Feed name → document of a system every rule accepts."""
    listed = [{"name": n, "url": f"https://gbfs.example.org/{n}.json"} for n in (*FEEDS, *STATUS_FEEDS)]
    ebike = {
        "vehicle_type_id": "ebike",
        "form_factor": "bicycle",
        "propulsion_type": "electric_assist",
        "max_range_meters": 50000,
    }
    plan = {"plan_id": "basic", "name": "Basic", "currency": "NOK", "price": 0.0, "is_taxable": False}
    bike = {"bike_id": "b1", "lat": 59.913, "lon": 10.74, "is_reserved": False, "is_disabled": False}
    return {
        "gbfs": _envelope({"en": {"feeds": listed}}),
        "system_information": _envelope(
            {"system_id": "test", "language": "nb", "name": "Test Bysykkel", "timezone": "Europe/Oslo"}
        ),
        "vehicle_types": _envelope(
            {
                "vehicle_types": [
                    {"vehicle_type_id": "bike", "form_factor": "bicycle", "propulsion_type": "human"},
                    ebike,
                ]
            }
        ),
        "system_pricing_plans": _envelope({"plans": [{**plan, "description": "First 45 minutes free"}]}),
        "system_regions": _envelope({"regions": [{"region_id": "sentrum", "name": "Sentrum"}]}),
        "station_information": _envelope({"stations": [_info("1", 59.91, 10.75), _info("2", 59.92, 10.76)]}),
        "station_status": _envelope({"stations": [_status("1"), _status("2")]}),
        "free_bike_status": _envelope(
            {"bikes": [{**bike, "vehicle_type_id": "ebike", "pricing_plan_id": "basic", "last_reported": NOW - 30}]}
        ),
    }


def check(store: SchemaStore, files: dict[str, dict[str, Any]], **kwargs: Any) -> GbfsReport:
    return validate_gbfs(files, store=store, now=AT, bbox=OSLO_BBOX, **kwargs)


def test_the_synthetic_system_is_clean(store: SchemaStore) -> None:
    report = check(store, system())
    assert (report.version, report.errors, report.warnings, report.counts) == ("2.3", 0, 0, {})
    assert report.schema_checked == dict.fromkeys(system(), True)


# -- official examples -------------------------------------------------------------------------------------------------


def test_official_v23_examples_pass(store: SchemaStore, shared_data: Path) -> None:
    files = _load_dir(shared_data / "gbfs" / "examples" / "v2.3")
    report = validate_gbfs(files, store=store, now=datetime.fromtimestamp(1751437263 + 5, UTC))
    assert report.version == "2.3"
    assert set(report.schema_checked.values()) == {True}
    assert report.errors == 0
    # free_bike_status.json of the examples is from 2020 and station_status.json from 2025: only the older is stale
    assert report.counts == {"gbfs.stale-feed": 1}
    assert _where(report) == {("free_bike_status", "gbfs.stale-feed", "/last_updated")}


def test_official_v30_examples_pass_their_schemas(store: SchemaStore, shared_data: Path) -> None:
    files = _load_dir(shared_data / "gbfs" / "examples" / "v3.0")
    report = validate_gbfs(files, store=store, now=datetime(2019, 7, 4, 13, 33, 10, tzinfo=UTC))
    assert report.version == "3.0"
    assert set(report.schema_checked.values()) == {True}
    assert not any(rule.startswith("gbfs.schema.") for rule in report.counts)
    # Across files the example set is not consistent: station_status counts escooter_paris, which vehicle_types
    # does not define, and station_information lists 23 stations of which station_status reports one.
    assert report.counts == {"gbfs.unknown-vehicle-type": 1, "gbfs.information-without-status": 22}
    assert report.errors == 1
    [unknown] = [f for f in report.findings["station_status"] if f.rule == "gbfs.unknown-vehicle-type"]
    assert unknown.pointer == "/data/stations/0/vehicle_types_available/1/vehicle_type_id"
    assert unknown.message == "'escooter_paris' is not an id in vehicle_types"


# -- the real Oslo capture: station_information of 2022 against station_status of 2025 ---------------------------------


@pytest.fixture(scope="module")
def oslo(shared_data: Path) -> dict[str, dict[str, Any]]:
    folder = shared_data / "real" / "oslo-bysykkel"
    return {
        "station_information": json.loads((folder / "station_information_2022-10-23_v2.2.json").read_bytes()),
        "station_status": json.loads((folder / "station_status_2025-04-01_v2.3.json").read_bytes()),
    }


def test_real_oslo_station_ids_mismatch_both_ways(store: SchemaStore, oslo: dict[str, dict[str, Any]]) -> None:
    report = validate_gbfs(oslo, store=store, bbox=OSLO_BBOX, now=datetime.fromtimestamp(1743466330, UTC), cap=5)
    info_ids = [s["station_id"] for s in oslo["station_information"]["data"]["stations"]]
    status_ids = [s["station_id"] for s in oslo["station_status"]["data"]["stations"]]
    assert len(set(status_ids) - set(info_ids)) == 15
    assert len(set(info_ids) - set(status_ids)) == 19
    assert report.counts == {
        "gbfs.status-without-information": 15,
        "gbfs.information-without-status": 19,
        "gbfs.counts-exceed-capacity": 2,
        "gbfs.version-mismatch": 1,  # station_information says 2.2, station_status 2.3
    }
    assert (report.version, report.errors, report.warnings, report.truncated) == ("2.3", 15, 22, True)
    assert report.schema_checked == {"station_information": False, "station_status": True}  # no 2.2 schema
    unknown = [f for f in report.findings["station_status"] if f.rule == "gbfs.status-without-information"]
    first_five = [i for i, s in enumerate(status_ids) if s not in set(info_ids)][:5]
    assert [f.pointer for f in unknown] == [f"/data/stations/{i}/station_id" for i in first_five]
    assert unknown[0].message == "station '5220' has a status but is not in station_information"
    silent = [f for f in report.findings["station_information"] if f.rule == "gbfs.information-without-status"]
    assert len(silent) == 5
    assert silent[0] == Finding(
        "gbfs.information-without-status",
        Severity.WARNING,
        "/data/stations/0/station_id",
        "station '2351' is not in station_status",
    )
    assert report.counts_by_file["station_status"]["gbfs.status-without-information"] == 15
    assert report.to_dict()["counts"]["gbfs.information-without-status"] == 19


def test_real_oslo_counts_over_capacity(store: SchemaStore, oslo: dict[str, dict[str, Any]]) -> None:
    report = validate_gbfs(oslo, store=store, now=datetime.fromtimestamp(1743466330, UTC))
    over = [f for f in report.findings["station_status"] if f.rule == "gbfs.counts-exceed-capacity"]
    assert [(f.pointer, f.message) for f in over] == [
        ("/data/stations/123", "2 vehicles + 16 free docks exceed the capacity 12"),
        ("/data/stations/237", "14 vehicles + 12 free docks exceed the capacity 12"),
    ]
    assert report.truncated is False


# -- version detection and schemas -------------------------------------------------------------------------------------


def test_version_detection() -> None:
    assert detect_version({"gbfs": {"version": "3.0"}, "station_status": {"version": "2.3"}}) == "3.0"
    assert detect_version({"a": {"version": "2.2"}, "b": {"version": "2.3"}}) == "2.3"  # a tie: the highest
    assert detect_version({"a": {"version": "2.3"}, "b": {"version": "2.2"}, "c": {"version": "2.2"}}) == "2.2"
    assert detect_version({"station_status": {"last_updated": 1, "data": {}}}) == "1.0"
    assert detect_version({}) is None


def test_schema_errors_point_into_their_file(store: SchemaStore) -> None:
    files = system()
    files["station_status"]["data"]["stations"][0]["num_docks_available"] = "six"
    report = check(store, files)
    assert _where(report) == {("station_status", "gbfs.schema.type", "/data/stations/0/num_docks_available")}
    assert report.findings["station_status"][0].message == "'six' is not of type 'integer'"


def test_the_version_argument_overrides_detection(store: SchemaStore) -> None:
    report = check(store, system(), version="3.0")
    assert report.version == "3.0"
    assert report.counts["gbfs.schema.const"] == 7  # every file says 2.3, and the 3.0 schemas want 3.0
    assert report.schema_checked["free_bike_status"] is False  # vehicle_status replaced it in 3.0


def test_without_a_store_the_rules_still_run(store: SchemaStore) -> None:
    files = system()
    files["station_information"]["data"]["stations"][0]["lat"] = 95.0
    report = validate_gbfs(files, now=AT, bbox=OSLO_BBOX)
    assert set(report.schema_checked.values()) == {False}
    assert _where(report) == {("station_information", "gbfs.coordinate-range", "/data/stations/0")}
    with_schema = check(store, files)  # the schema reports the range instead, once
    assert _where(with_schema) == {("station_information", "gbfs.schema.maximum", "/data/stations/0/lat")}


def test_integer_booleans_are_one_warning_each_and_no_schema_error(store: SchemaStore) -> None:
    files = system()
    files["station_status"]["data"]["stations"][1]["is_renting"] = 1
    files["free_bike_status"]["data"]["bikes"][0]["is_disabled"] = 0
    report = check(store, files)
    assert report.counts == {"gbfs.integer-boolean": 2}
    assert report.errors == 0
    [renting] = report.findings["station_status"]
    assert (renting.pointer, renting.normalized) == ("/data/stations/1/is_renting", True)
    assert renting.message == "is_renting is the integer 1: read as true"
    assert report.findings["free_bike_status"][0].normalized is False


# -- one synthetic breakage per cross-file rule ------------------------------------------------------------------------


def test_duplicate_and_empty_ids(store: SchemaStore) -> None:
    files = system()
    stations = files["station_information"]["data"]["stations"]
    stations.append(_info("1", 59.93, 10.77))
    stations.append(_info("  ", 59.93, 10.77))
    report = check(store, files)
    assert _where(report) == {
        ("station_information", "gbfs.duplicate-id", "/data/stations/2/station_id"),
        ("station_information", "gbfs.empty-id", "/data/stations/3/station_id"),
    }
    assert report.findings["station_information"][0].message == "station_id '1' is also at /data/stations/0"


def test_station_ids_both_ways(store: SchemaStore) -> None:
    files = system()
    files["station_status"]["data"]["stations"][1]["station_id"] = "3"
    report = check(store, files)
    assert _where(report) == {
        ("station_status", "gbfs.status-without-information", "/data/stations/1/station_id"),
        ("station_information", "gbfs.information-without-status", "/data/stations/1/station_id"),
    }
    assert (report.errors, report.warnings) == (1, 1)


@pytest.mark.parametrize(
    ("feed", "path", "value", "rule", "pointer"),
    [
        (
            "station_status",
            ("stations", 0, "vehicle_types_available", 1, "vehicle_type_id"),
            "scooter",
            "gbfs.unknown-vehicle-type",
            "/data/stations/0/vehicle_types_available/1/vehicle_type_id",
        ),
        (
            "station_status",
            ("stations", 1, "vehicle_docks_available", 0, "vehicle_type_ids", 1),
            "cargo",
            "gbfs.unknown-vehicle-type",
            "/data/stations/1/vehicle_docks_available/0/vehicle_type_ids/1",
        ),
        (
            "free_bike_status",
            ("bikes", 0, "pricing_plan_id"),
            "premium",
            "gbfs.unknown-pricing-plan",
            "/data/bikes/0/pricing_plan_id",
        ),
        (
            "station_information",
            ("stations", 1, "region_id"),
            "grorud",
            "gbfs.unknown-region",
            "/data/stations/1/region_id",
        ),
        ("free_bike_status", ("bikes", 0, "station_id"), "99", "gbfs.unknown-station", "/data/bikes/0/station_id"),
    ],
)
def test_references_resolve(
    store: SchemaStore, feed: str, path: tuple[str | int, ...], value: str, rule: str, pointer: str
) -> None:
    files = system()
    node: Any = files[feed]["data"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    report = check(store, files)
    assert _where(report) == {(feed, rule, pointer)}
    assert report.findings[feed][0].severity is Severity.ERROR


def test_vehicle_types_available_is_required_when_vehicle_types_exists(store: SchemaStore) -> None:
    files = system()
    del files["station_status"]["data"]["stations"][0]["vehicle_types_available"]
    del files["free_bike_status"]["data"]["bikes"][0]["vehicle_type_id"]
    report = check(store, files)
    assert _where(report) == {
        ("station_status", "gbfs.missing-vehicle-types-available", "/data/stations/0"),
        ("free_bike_status", "gbfs.missing-vehicle-type-id", "/data/bikes/0"),
    }
    del files["vehicle_types"]
    assert check(store, files).counts == {}


def test_counts_within_capacity_and_adding_up(store: SchemaStore) -> None:
    files = system()
    first, second = files["station_status"]["data"]["stations"]
    first["num_docks_available"] = 7  # 4 + 7 > 10; and the dock counts say 6
    second["vehicle_types_available"][0]["count"] = 1  # 1 + 1 is not 4
    files["station_information"]["data"]["stations"][1]["capacity"] = 9999
    report = check(store, files)
    assert _where(report) == {
        ("station_status", "gbfs.counts-exceed-capacity", "/data/stations/0"),
        ("station_status", "gbfs.dock-type-counts", "/data/stations/0/vehicle_docks_available"),
        ("station_status", "gbfs.vehicle-type-counts", "/data/stations/1/vehicle_types_available"),
        ("station_information", "gbfs.placeholder-capacity", "/data/stations/1/capacity"),
    }
    messages = {f.rule: f.message for f in report.findings["station_status"]}
    assert messages["gbfs.counts-exceed-capacity"] == "4 vehicles + 7 free docks exceed the capacity 10"
    assert messages["gbfs.vehicle-type-counts"] == "the counts in vehicle_types_available add up to 2, not 4"
    assert report.errors == 0


def test_coordinates_inside_the_area(store: SchemaStore) -> None:
    files = system()
    stations = files["station_information"]["data"]["stations"]
    stations[0]["lat"], stations[0]["lon"] = 10.75, 59.91  # swapped
    stations[1]["lat"], stations[1]["lon"] = 63.43, 10.39  # Trondheim
    report = check(store, files)
    assert _where(report) == {
        ("station_information", "gbfs.lonlat-order", "/data/stations/0"),
        ("station_information", "gbfs.outside-area", "/data/stations/1"),
    }
    assert (report.errors, report.warnings) == (1, 1)
    assert validate_gbfs(files, store=store, now=AT).counts == {}  # no area given: nothing to compare with


def test_last_reported_sanity(store: SchemaStore) -> None:
    files = system()
    files["station_status"]["data"]["stations"][0]["last_reported"] = NOW + 3600
    files["station_status"]["data"]["stations"][1]["last_reported"] = NOW - 3 * 86400
    report = check(store, files)
    assert _where(report) == {
        ("station_status", "gbfs.last-reported-future", "/data/stations/0/last_reported"),
        ("station_status", "gbfs.last-reported-stale", "/data/stations/1/last_reported"),
    }
    assert check(store, files, max_report_age=timedelta(days=4)).counts == {"gbfs.last-reported-future": 1}


def test_feed_freshness(store: SchemaStore) -> None:
    files = system()
    files["station_status"]["last_updated"] = NOW - 600
    for station in files["station_status"]["data"]["stations"]:
        station["last_reported"] = NOW - 620
    files["free_bike_status"]["last_updated"] = NOW + 600
    report = check(store, files)
    assert _where(report) == {
        ("station_status", "gbfs.stale-feed", "/last_updated"),
        ("free_bike_status", "gbfs.last-updated-future", "/last_updated"),
    }
    assert report.findings["station_status"][0].message == "last_updated 2025-04-01T00:03:20Z is 0:10:00 old (ttl 15 s)"


def test_gbfs_json_lists_the_required_feeds(store: SchemaStore) -> None:
    files = system()
    feeds = files["gbfs"]["data"]["en"]["feeds"]
    feeds[:] = [f for f in feeds if f["name"] not in ("system_information", "station_status")]
    report = check(store, files)
    # The 2.3 schema has the first two rules as "contains" (opaque messages); the hub's rule names the feed.
    assert report.counts == {"gbfs.required-feed-missing": 2, "gbfs.schema.contains": 2}
    missing = [f for f in report.findings["gbfs"] if f.rule == "gbfs.required-feed-missing"]
    assert [f.message for f in missing] == [
        "gbfs.json does not list system_information",
        "gbfs.json does not list station_status (station_information is listed)",
    ]
    assert {f.pointer for f in missing} == {"/data/en/feeds"}
    files["gbfs"]["data"]["en"]["feeds"] = [f for f in feeds if f["name"] != "station_information"]
    files["gbfs"]["data"]["en"]["feeds"].append({"name": "station_status", "url": "https://gbfs.example.org/s.json"})
    files["gbfs"]["data"]["en"]["feeds"].append(
        {"name": "system_information", "url": "https://gbfs.example.org/i.json"}
    )
    report = check(store, files)
    assert [f.message for f in report.findings["gbfs"]] == [
        "gbfs.json does not list station_information (station_status is listed)"
    ]


def test_a_file_of_another_version_is_a_warning(store: SchemaStore) -> None:
    files = system()
    files["system_regions"]["version"] = "2.2"
    report = check(store, files)
    assert _where(report) == {("system_regions", "gbfs.version-mismatch", "/version")}
    assert report.schema_checked["system_regions"] is False  # no 2.2 schema in the store


def test_v30_timestamps_and_vehicle_counts(store: SchemaStore, shared_data: Path) -> None:
    files = _load_dir(shared_data / "gbfs" / "examples" / "v3.0")
    station = files["station_status"]["data"]["stations"][0]
    station["last_reported"] = "2019-07-04T15:33:03Z"
    station["num_vehicles_available"] = 2
    report = validate_gbfs(files, store=store, now=datetime(2019, 7, 4, 13, 33, 10, tzinfo=UTC))
    assert {(f.rule, f.pointer) for f in report.findings["station_status"]} >= {
        ("gbfs.last-reported-future", "/data/stations/0/last_reported"),
        ("gbfs.vehicle-type-counts", "/data/stations/0/vehicle_types_available"),
    }


def test_lists_are_capped_and_counts_exact(store: SchemaStore) -> None:
    files = system()
    files["station_status"]["data"]["stations"] += [_status(f"x{i}") for i in range(250)]
    report = check(store, files)
    assert report.counts == {"gbfs.status-without-information": 250}
    assert len(report.findings["station_status"]) == 100
    assert report.truncated is True
    assert report.to_dict()["truncated"] is True
    small = check(store, files, cap=3)
    assert [f.pointer for f in small.findings["station_status"]] == [
        f"/data/stations/{i}/station_id" for i in (2, 3, 4)
    ]
    assert small.errors == 250


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
STATION_KEYS = (
    *("station_id", "lat", "lon", "capacity", "num_bikes_available", "num_docks_available", "last_reported"),
    *("is_renting", "vehicle_types_available", "region_id", "vehicle_type_id"),
)
STATIONS = st.lists(st.fixed_dictionaries({}, optional=dict.fromkeys(STATION_KEYS, JSON)), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    feeds=st.dictionaries(
        st.sampled_from([*ID_LISTS, "gbfs", "system_information", "geofencing_zones"]),
        st.fixed_dictionaries(
            {
                "data": st.dictionaries(
                    st.sampled_from(["stations", "bikes", "vehicles", "feeds", "en"]), STATIONS | JSON
                )
            },
            optional={"version": st.sampled_from(["2.3", "3.0", "1.1"]) | JSON, "last_updated": JSON, "ttl": JSON},
        ),
    )
)
def test_dirty_feeds_never_crash(store: SchemaStore, feeds: dict[str, dict[str, Any]]) -> None:
    report = check(store, feeds, cap=2)
    assert report.errors + report.warnings == sum(report.counts.values())  # the rules have no info findings
    for feed, by_rule in report.counts_by_file.items():
        listed = Counter(f.rule for f in report.findings.get(feed, []))
        assert listed == {rule: min(count, 2) for rule, count in by_rule.items()}
