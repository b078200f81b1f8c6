"""The simulated member-city server: its GBFS feeds obey the official 2.3 schemas and the cross-file rules."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import orjson
import pytest
from jsonschema import Draft7Validator
from starlette.applications import Starlette

from harvester.demo_city import DEMO_SYSTEMS, DemoCityServer, DemoSystem, build_app, demo_sources

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SCHEMAS = SHARED_DATA / "gbfs" / "v2.3"
FEEDS = ("gbfs", "system_information", "vehicle_types", "station_information", "station_status")
T0 = 1_743_466_320.0  # 2025-04-01 00:12 UTC, the instant of the real Oslo capture
SYSTEM_IDS = [system.system_id for system in DEMO_SYSTEMS]

Feed = dict[str, Any]


def fetch(app: Starlette, *paths: str) -> dict[str, httpx.Response]:
    """GET every path from the app in-process."""

    async def get_all() -> dict[str, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo.test") as client:
            return {path: await client.get(path) for path in paths}

    return anyio.run(get_all)


def feed_path(system_id: str, feed: str) -> str:
    return f"/gbfs/{system_id}/{feed}.json"


def feeds_at(clock_value: float, system_id: str) -> dict[str, Feed]:
    """Every feed of one system at one instant, parsed; fails on any non-200."""
    responses = fetch(build_app(clock=lambda: clock_value), *(feed_path(system_id, f) for f in FEEDS))
    parsed: dict[str, Feed] = {}
    for feed in FEEDS:
        response = responses[feed_path(system_id, feed)]
        assert response.status_code == 200, (feed, response.text)
        assert response.headers["content-type"] == "application/json"
        parsed[feed] = response.json()
    return parsed


def validator(feed: str) -> Draft7Validator:
    schema = json.loads((SCHEMAS / f"{feed}.json").read_text(encoding="utf-8"))
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def schema_errors(feed: str, document: Feed) -> list[str]:
    errors = validator(feed).iter_errors(document)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors]


def by_id(stations: list[Feed]) -> dict[str, Feed]:
    return {station["station_id"]: station for station in stations}


def system(system_id: str) -> DemoSystem:
    return next(s for s in DEMO_SYSTEMS if s.system_id == system_id)


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lon, lat) points."""
    (lon1, lat1), (lon2, lat2) = (map(math.radians, point) for point in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def feeds() -> Mapping[str, dict[str, Feed]]:
    return {system_id: feeds_at(T0, system_id) for system_id in SYSTEM_IDS}


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("system_id", SYSTEM_IDS)
def test_every_feed_validates_against_the_official_gbfs_2_3_schema(
    feeds: Mapping[str, dict[str, Feed]], system_id: str, feed: str
) -> None:
    assert schema_errors(feed, feeds[system_id][feed]) == []


def test_the_schema_check_is_not_vacuous(feeds: Mapping[str, dict[str, Feed]]) -> None:
    status = json.loads(json.dumps(feeds["oslobysykkel"]["station_status"]))
    status["data"]["stations"][0]["num_bikes_available"] = -1
    del status["data"]["stations"][1]["last_reported"]
    info = json.loads(json.dumps(feeds["oslobysykkel"]["system_information"]))
    info["data"]["feed_contact_email"] = "not an address"
    assert len(schema_errors("station_status", status)) == 2
    assert len(schema_errors("system_information", info)) == 1


@pytest.mark.parametrize("system_id", SYSTEM_IDS)
def test_status_and_information_list_the_same_stations(feeds: Mapping[str, dict[str, Feed]], system_id: str) -> None:
    info_ids = [s["station_id"] for s in feeds[system_id]["station_information"]["data"]["stations"]]
    status_ids = [s["station_id"] for s in feeds[system_id]["station_status"]["data"]["stations"]]
    assert len(set(info_ids)) == len(info_ids) == system(system_id).station_count
    assert sorted(status_ids) == sorted(info_ids)
    assert all(station_id.isdigit() for station_id in info_ids)


@pytest.mark.parametrize("clock_value", [T0, T0 + 7 * 3600, T0 + 13.5 * 3600, T0 + 86400 * 40])
@pytest.mark.parametrize("system_id", SYSTEM_IDS)
def test_counts_add_up_to_capacity(system_id: str, clock_value: float) -> None:
    documents = feeds_at(clock_value, system_id)
    capacities = {k: v["capacity"] for k, v in by_id(documents["station_information"]["data"]["stations"]).items()}
    vehicle_types = {t["vehicle_type_id"] for t in documents["vehicle_types"]["data"]["vehicle_types"]}
    for status in documents["station_status"]["data"]["stations"]:
        bikes = status["num_bikes_available"]
        docks = status["num_docks_available"] + status["num_docks_disabled"]
        assert bikes + docks == capacities[status["station_id"]], status
        assert status["num_vehicles_available"] == bikes
        assert sum(t["count"] for t in status["vehicle_types_available"]) == bikes
        assert {t["vehicle_type_id"] for t in status["vehicle_types_available"]} == vehicle_types


@pytest.mark.parametrize("system_id", SYSTEM_IDS)
def test_station_information_looks_like_a_real_bike_share_system(
    feeds: Mapping[str, dict[str, Feed]], system_id: str
) -> None:
    stations = feeds[system_id]["station_information"]["data"]["stations"]
    names = [s["name"] for s in stations]
    assert len(set(names)) == len(names)
    assert all(name.strip() == name and name for name in names)
    assert all(10 <= s["capacity"] <= 30 for s in stations)
    assert all(s["address"].split()[-1].isdigit() for s in stations)
    assert all(s["rental_uris"]["ios"] == f"{system_id}://stations/{s['station_id']}" for s in stations)


def test_same_clock_gives_byte_identical_feeds() -> None:
    paths = [feed_path(system_id, feed) for system_id in SYSTEM_IDS for feed in FEEDS] + ["/"]
    first = fetch(build_app(clock=lambda: T0), *paths)
    second = fetch(build_app(clock=lambda: T0), *paths)
    assert all(first[path].content == second[path].content for path in paths)
    assert first[feed_path("oslobysykkel", "station_status")].content != b""


@pytest.mark.parametrize("system_id", SYSTEM_IDS)
def test_availability_changes_over_ten_minutes(system_id: str) -> None:
    def availability(clock_value: float) -> dict[str, tuple[int, int]]:
        stations = feeds_at(clock_value, system_id)["station_status"]["data"]["stations"]
        return {s["station_id"]: (s["num_bikes_available"], s["num_docks_available"]) for s in stations}

    before, after = availability(T0), availability(T0 + 600)
    assert before.keys() == after.keys()
    assert sum(before[k] != after[k] for k in before) >= 1


def test_status_timestamps_follow_the_clock(feeds: Mapping[str, dict[str, Feed]]) -> None:
    status = feeds["oslobysykkel"]["station_status"]
    assert status["last_updated"] == int(T0)
    assert status["ttl"] == 15
    reported = [s["last_reported"] for s in status["data"]["stations"]]
    assert all(int(T0) - 120 <= when <= int(T0) for when in reported)
    later = feeds_at(T0 + 3600, "oslobysykkel")["station_status"]
    assert later["last_updated"] == int(T0) + 3600


@pytest.mark.parametrize("system_id", SYSTEM_IDS)
def test_a_few_stations_are_out_of_service(feeds: Mapping[str, dict[str, Feed]], system_id: str) -> None:
    stations = feeds[system_id]["station_status"]["data"]["stations"]
    out = [s for s in stations if not (s["is_installed"] and s["is_renting"])]
    assert 1 <= len(out) <= math.ceil(0.05 * len(stations))
    assert all(s["num_bikes_available"] == 0 for s in stations if not s["is_installed"])


def test_the_three_systems_have_at_least_100_stations_together() -> None:
    assert {s.city_id for s in DEMO_SYSTEMS} == {"oslo", "bergen", "trondheim"}
    assert sum(len(feeds_at(T0, s)["station_information"]["data"]["stations"]) for s in SYSTEM_IDS) >= 100


@pytest.mark.parametrize("system_id", SYSTEM_IDS)
def test_stations_lie_around_the_city_centre(feeds: Mapping[str, dict[str, Feed]], system_id: str) -> None:
    demo = system(system_id)
    stations = feeds[system_id]["station_information"]["data"]["stations"]
    for station in stations:
        assert 57.5 <= station["lat"] <= 71.5, station
        assert 4.0 <= station["lon"] <= 31.5, station
        assert km_between((station["lon"], station["lat"]), demo.centre) <= demo.spread_km * 1.02, station
    # scattered, not stacked: the stations spread over at least a third of the radius on average
    mean = sum(km_between((s["lon"], s["lat"]), demo.centre) for s in stations) / len(stations)
    assert mean >= demo.spread_km / 3


@pytest.mark.parametrize("system_id", SYSTEM_IDS)
def test_discovery_urls_are_absolute_and_resolve(feeds: Mapping[str, dict[str, Feed]], system_id: str) -> None:
    languages = feeds[system_id]["gbfs"]["data"]
    assert set(languages) == {"nb", "en"}
    assert languages["nb"] == languages["en"]
    listed = {entry["name"]: entry["url"] for entry in languages["en"]["feeds"]}
    assert set(listed) == {"system_information", "vehicle_types", "station_information", "station_status"}
    for url in listed.values():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("http", "demo.test"), url
    responses = fetch(build_app(clock=lambda: T0), *(urlsplit(url).path for url in listed.values()))
    for name, url in listed.items():
        response = responses[urlsplit(url).path]
        assert response.status_code == 200
        assert response.json() == feeds[system_id][name]


def test_system_information_carries_licence_and_contact(feeds: Mapping[str, dict[str, Feed]]) -> None:
    for system_id in SYSTEM_IDS:
        data = feeds[system_id]["system_information"]["data"]
        demo = system(system_id)
        assert data["system_id"] == system_id
        assert (data["name"], data["operator"], data["timezone"]) == (demo.name, demo.operator, "Europe/Oslo")
        assert data["license_url"] == "https://data.norge.no/nlod/en/2.0"
        assert "@" in data["feed_contact_email"]


def test_vehicle_types_are_a_bike_and_an_ebike(feeds: Mapping[str, dict[str, Feed]]) -> None:
    types = by_id_vehicle(feeds["bergenbysykkel"]["vehicle_types"]["data"]["vehicle_types"])
    assert types["bike"]["propulsion_type"] == "human"
    assert types["ebike"]["propulsion_type"] == "electric_assist"
    assert types["ebike"]["max_range_meters"] > 0


def by_id_vehicle(types: list[Feed]) -> dict[str, Feed]:
    return {t["vehicle_type_id"]: t for t in types}


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/gbfs/stockholmbysykkel/gbfs.json", "unknown GBFS system 'stockholmbysykkel'"),
        ("/gbfs/oslobysykkel/free_bike_status.json", "system 'oslobysykkel' publishes no feed 'free_bike_status'"),
        ("/no/such/page", "Not Found"),
    ],
)
def test_unknown_paths_are_json_404s(path: str, detail: str) -> None:
    response = fetch(build_app(clock=lambda: T0), path)[path]
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": detail}


def test_index_lists_the_systems_and_their_sources() -> None:
    body = orjson.loads(fetch(build_app(clock=lambda: T0), "/")["/"].content)
    assert [s["system_id"] for s in body["systems"]] == SYSTEM_IDS
    assert body["sources"] == demo_sources("http://demo.test")


def test_demo_sources_point_at_the_discovery_files() -> None:
    sources = demo_sources("http://127.0.0.1:8123/")
    assert {"oslo", "bergen", "trondheim"} <= set(sources)
    gbfs = {city: [s for s in found if s["kind"] == "gbfs"] for city, found in sources.items()}
    assert gbfs["oslo"] == [
        {
            "id": "oslo-bysykkel-demo",
            "kind": "gbfs",
            "url": "http://127.0.0.1:8123/gbfs/oslobysykkel/gbfs.json",
            "schedule": "every 30s",
            "title": "Oslo Bysykkel (demo)",
        }
    ]
    assert gbfs["trondheim"][0]["url"] == "http://127.0.0.1:8123/gbfs/trondheimbysykkel/gbfs.json"


def test_real_server_serves_on_os_chosen_ports() -> None:
    with DemoCityServer(clock=lambda: T0) as first, DemoCityServer() as second:
        assert first.base_url.startswith("http://127.0.0.1:")
        assert first.port != second.port
        response = httpx.get(first.base_url + "/gbfs/oslobysykkel/gbfs.json", timeout=5)
        assert response.status_code == 200
        feeds = response.json()["data"]["en"]["feeds"]
        assert all(entry["url"].startswith(first.base_url + "/gbfs/oslobysykkel/") for entry in feeds)
        assert httpx.get(second.base_url + "/", timeout=5).status_code == 200
        stopped_url = first.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(stopped_url + "/", timeout=2)
    with pytest.raises(RuntimeError, match="not running"):
        _ = first.base_url
