"""GET /ngsi-ld/v1/entities with geo-queries, their errors, and the application/geo+json representation."""

from __future__ import annotations

import math
from typing import Any

import httpx
import orjson
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]  # a broker behind an access proxy: writes need no key
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"
URN = "urn:ngsi-ld:BikeHireDockingStation:test:"
CENTRAL = (10.7522, 59.9111)  # Oslo Central Station
CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
NEAR = {"type": "BikeHireDockingStation", "georel": "near;maxDistance==500", "geometry": "Point"}
DEGREE = math.pi / 180 * 6_371_008.8  # metres per degree of latitude


def offset(north: float, east: float) -> list[float]:
    """The position ``north`` and ``east`` metres from Oslo Central Station."""
    lat = CENTRAL[1] + north / DEGREE
    return [CENTRAL[0] + east / (DEGREE * math.cos(math.radians(CENTRAL[1]))), lat]


def station(n: int, position: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{URN}{n}",
        "type": "BikeHireDockingStation",
        "name": {"type": "Property", "value": f"Station {n}"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": position}},
        **extra,
    }


STATIONS = {
    1: offset(100, 0),  # 100 m north
    2: offset(0, 480),  # 480 m east
    3: offset(-520, 0),  # 520 m south: outside 500 m
    4: offset(0, -2000),  # 2 km west
    5: offset(-300, -300),  # about 424 m south-west
}


@pytest.fixture
async def stations(api: httpx.AsyncClient) -> None:
    square = [[[10.70, 59.90], [10.80, 59.90], [10.80, 59.95], [10.70, 59.95], [10.70, 59.90]]]
    for n, position in STATIONS.items():
        extra = {"area": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": square}}} if n == 4 else {}
        response = await api.post("/ngsi-ld/v1/entities", json=station(n, position, **extra))
        assert response.status_code == 201, response.text
    other = {**station(9, offset(0, 10)), "type": "OffStreetParking"}
    assert (await api.post("/ngsi-ld/v1/entities", json=other)).status_code == 201


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"].removeprefix(URN) for e in response.json()]


async def test_near_finds_the_stations_within_500_m_in_id_order(api: httpx.AsyncClient, stations: None) -> None:
    coordinates = orjson.dumps(list(CENTRAL)).decode()
    response = await api.get("/ngsi-ld/v1/entities", params={**NEAR, "coordinates": coordinates, "count": "true"})
    assert ids(response) == ["1", "2", "5"]
    assert response.headers["NGSILD-Results-Count"] == "3"
    first = await api.get("/ngsi-ld/v1/entities", params={**NEAR, "coordinates": coordinates, "limit": 2})
    assert ids(first) == ["1", "2"]
    assert 'rel="next"' in first.headers["Link"]
    second = await api.get("/ngsi-ld/v1/entities", params={**NEAR, "coordinates": coordinates, "offset": 2})
    assert ids(second) == ["5"]


async def test_min_distance_and_a_geo_query_without_type(api: httpx.AsyncClient, stations: None) -> None:
    far = {**NEAR, "georel": "near;minDistance==500", "coordinates": orjson.dumps(list(CENTRAL)).decode()}
    assert ids(await api.get("/ngsi-ld/v1/entities", params=far)) == ["3", "4"]
    alone = {k: v for k, v in NEAR.items() if k != "type"} | {"coordinates": orjson.dumps(list(CENTRAL)).decode()}
    found = ids(await api.get("/ngsi-ld/v1/entities", params=alone))
    assert found == ["1", "2", "5", "9"]  # the OffStreetParking 9 too: no type given


async def test_within_a_polygon_and_another_geoproperty(api: httpx.AsyncClient, stations: None) -> None:
    west, east = offset(0, -600)[0], offset(0, 600)[0]
    ring = [[west, 59.0], [east, 59.0], [east, 60.0], [west, 60.0], [west, 59.0]]
    params = {"type": "BikeHireDockingStation", "georel": "within", "geometry": "Polygon"}
    assert ids(
        await api.get("/ngsi-ld/v1/entities", params={**params, "coordinates": orjson.dumps([ring]).decode()})
    ) == [
        "1",
        "2",
        "3",
        "5",
    ]
    inside = {**params, "georel": "contains", "geometry": "Point", "geoproperty": "area"}
    inside["coordinates"] = orjson.dumps(list(CENTRAL)).decode()
    assert ids(await api.get("/ngsi-ld/v1/entities", params=inside)) == ["4"]


async def test_deleted_and_moved_entities_follow_the_index(api: httpx.AsyncClient, stations: None) -> None:
    params = {**NEAR, "coordinates": orjson.dumps(list(CENTRAL)).decode()}
    assert (await api.delete(f"/ngsi-ld/v1/entities/{URN}1")).status_code == 204
    moved = {"location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": list(CENTRAL)}}}
    assert (await api.patch(f"/ngsi-ld/v1/entities/{URN}4", json=moved)).status_code == 204
    assert ids(await api.get("/ngsi-ld/v1/entities", params=params)) == ["2", "4", "5"]


@pytest.mark.parametrize(
    ("params", "problem", "needle"),
    [
        ({"georel": "near;maxDistance==500"}, "BadRequestData", "geometry, coordinates missing"),
        (
            {"georel": "near;maxDistance==-1", "geometry": "Point", "coordinates": "[10,59]"},
            "BadRequestData",
            "positive",
        ),
        ({"georel": "near", "geometry": "Point", "coordinates": "[10,59]"}, "BadRequestData", "maxDistance"),
        (
            {"georel": "near;maxDistance==5", "geometry": "LineString", "coordinates": "[[10,59]]"},
            "BadRequestData",
            "at least 2 positions",
        ),
        ({"georel": "crosses", "geometry": "Point", "coordinates": "[10,59]"}, "BadRequestData", "unknown relation"),
        ({"georel": "within", "geometry": "Point", "coordinates": "[10,95]"}, "BadRequestData", "latitude 95"),
        (
            {"georel": "within", "geometry": "Polygon", "coordinates": "[[[10,59],[11,59],[11,60],[10,61]]]"},
            "BadRequestData",
            "not closed",
        ),
        ({"georel": "within", "geometry": "Point", "coordinates": "[10,59"}, "InvalidRequest", "not a JSON array"),
    ],
)
async def test_bad_geo_queries_are_400_with_a_detail(
    api: httpx.AsyncClient, params: dict[str, str], problem: str, needle: str
) -> None:
    response = await api.get("/ngsi-ld/v1/entities", params={"type": "BikeHireDockingStation", **params})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == ETSI + problem
    assert needle in body["detail"]


async def test_geojson_feature_collection(api: httpx.AsyncClient, stations: None) -> None:
    params = {**NEAR, "coordinates": orjson.dumps(list(CENTRAL)).decode(), "limit": 2}
    response = await api.get("/ngsi-ld/v1/entities", params=params, headers={"Accept": "application/geo+json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    assert f"<{CONTEXT}>" in response.headers["Link"]
    assert 'rel="next"' in response.headers["Link"]
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["@context"] == CONTEXT
    first = body["features"][0]
    assert first["type"] == "Feature"
    assert first["id"] == f"{URN}1"
    assert first["geometry"] == {"type": "Point", "coordinates": STATIONS[1]}
    assert first["properties"]["type"] == "BikeHireDockingStation"
    assert first["properties"]["name"] == {"type": "Property", "value": "Station 1"}
    assert "id" not in first["properties"]
    assert [f["id"] for f in body["features"]] == [f"{URN}1", f"{URN}2"]


async def test_geojson_feature_with_geometry_property_and_key_values(api: httpx.AsyncClient, stations: None) -> None:
    url = f"/ngsi-ld/v1/entities/{URN}4"
    params = {"geometryProperty": "area", "format": "keyValues"}
    response = await api.get(url, params=params, headers={"Accept": "application/geo+json"})
    assert response.status_code == 200
    feature = response.json()
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "Polygon"
    assert feature["properties"]["name"] == "Station 4"
    assert feature["properties"]["location"] == {"type": "Point", "coordinates": STATIONS[4]}
    assert feature["@context"] == CONTEXT
    missing = await api.get(url, params={"geometryProperty": "nothing"}, headers={"Accept": "application/geo+json"})
    assert missing.json()["geometry"] is None


async def test_geojson_is_offered_when_nothing_else_fits(api: httpx.AsyncClient, stations: None) -> None:
    response = await api.get(f"/ngsi-ld/v1/entities/{URN}2", headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert "application/geo+json" in response.json()["detail"]


async def test_post_query_with_geoq_answers_like_get(api: httpx.AsyncClient, stations: None) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "BikeHireDockingStation"}],
        "geoQ": {"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": list(CENTRAL)},
    }
    response = await api.post("/ngsi-ld/v1/entityOperations/query", json=body, params={"count": "true"})
    assert ids(response) == ["1", "2", "5"]
    assert response.headers["NGSILD-Results-Count"] == "3"


async def test_geojson_collection_keeps_only_picked_attributes(api: httpx.AsyncClient, stations: None) -> None:
    params = {**NEAR, "coordinates": orjson.dumps(list(CENTRAL)).decode(), "pick": "id,location,name"}
    response = await api.get("/ngsi-ld/v1/entities", params=params, headers={"Accept": "application/geo+json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    features = response.json()["features"]
    assert [f["id"].removeprefix(URN) for f in features] == ["1", "2", "5"]
    assert features[0]["geometry"]["type"] == "Point"
    assert set(features[0]["properties"]) == {"location", "name"}  # type was not picked


BOW_TIE = [[[10.7, 59.9], [10.8, 60.0], [10.8, 59.9], [10.7, 60.0], [10.7, 59.9]]]  # its edges cross at the centre
AREA = "urn:ngsi-ld:Area:test:"
LEFT_LOBE, BETWEEN_LOBES = [10.72, 59.95], [10.75, 59.99]  # the second is inside the box, outside both triangles


@pytest.fixture
async def bow_ties(api: httpx.AsyncClient) -> dict[str, Any]:
    """The same bow tie written three ways: provision, batch upsert, temporal create."""
    value = {"type": "Polygon", "coordinates": BOW_TIE}

    def area(name: str) -> dict[str, Any]:
        return {"id": f"{AREA}{name}", "type": "Area", "location": {"type": "GeoProperty", "value": value}}

    timed = {**area("timed"), "location": [{**area("timed")["location"], "observedAt": "2020-01-01T00:00:00Z"}]}
    answers = [
        await api.post("/ngsi-ld/v1/entities", json=area("provided")),
        await api.post("/ngsi-ld/v1/entityOperations/upsert", json=[area("batched")]),
        await api.post("/ngsi-ld/v1/temporal/entities", json=timed),
    ]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    return value


async def areas(api: httpx.AsyncClient, georel: str, geometry: str, coordinates: Any) -> list[str]:
    params = {"type": "Area", "georel": georel, "geometry": geometry, "coordinates": orjson.dumps(coordinates).decode()}
    response = await api.get("/ngsi-ld/v1/entities", params=params)
    assert response.status_code == 200, response.text
    return [e["id"].removeprefix(AREA) for e in response.json()]


async def test_a_polygon_crossing_itself_is_stored_as_sent(api: httpx.AsyncClient, bow_ties: dict[str, Any]) -> None:
    for name in ("provided", "batched", "timed"):
        response = await api.get(f"/ngsi-ld/v1/entities/{AREA}{name}")
        assert response.status_code == 200, response.text
        assert response.json()["location"]["value"] == bow_ties
    feature = await api.get(f"/ngsi-ld/v1/entities/{AREA}provided", headers={"Accept": "application/geo+json"})
    assert feature.json()["geometry"] == bow_ties


async def test_a_polygon_crossing_itself_is_queried_as_its_two_lobes(
    api: httpx.AsyncClient, bow_ties: dict[str, Any]
) -> None:
    every = ["batched", "provided", "timed"]
    assert await areas(api, "contains", "Point", LEFT_LOBE) == every
    assert await areas(api, "intersects", "Point", BETWEEN_LOBES) == []
    assert await areas(api, "disjoint", "Point", BETWEEN_LOBES) == every
    around = [[[10.6, 59.8], [10.9, 59.8], [10.9, 60.1], [10.6, 60.1], [10.6, 59.8]]]
    assert await areas(api, "within", "Polygon", around) == every
    left_half = [[[10.6, 59.8], [10.74, 59.8], [10.74, 60.1], [10.6, 60.1], [10.6, 59.8]]]
    assert await areas(api, "overlaps", "Polygon", left_half) == every
    # The nearest edge is about 1.8 km from the point between the lobes (its own box is nearer).
    assert await areas(api, "near;maxDistance==1500", "Point", BETWEEN_LOBES) == []
    assert await areas(api, "near;maxDistance==2000", "Point", BETWEEN_LOBES) == every
    history = {
        "type": "Area",
        "georel": "contains",
        "geometry": "Point",
        "coordinates": orjson.dumps(LEFT_LOBE).decode(),
    }
    response = await api.get("/ngsi-ld/v1/temporal/entities", params=history)
    assert response.status_code == 200, response.text
    # A temporal query answers the areas with history only (ETSI 021_13): the one created through the temporal API.
    assert [e["id"].removeprefix(AREA) for e in response.json()] == ["timed"]
    between = {**history, "georel": "intersects", "coordinates": orjson.dumps(BETWEEN_LOBES).decode()}
    assert (await api.get("/ngsi-ld/v1/temporal/entities", params=between)).json() == []


async def test_a_query_polygon_crossing_itself_is_its_two_lobes(
    api: httpx.AsyncClient, bow_ties: dict[str, Any]
) -> None:
    assert await areas(api, "equals", "Polygon", BOW_TIE) == ["batched", "provided", "timed"]
    body = {"type": "Query", "entities": [{"type": "Area"}], "geoQ": {"georel": "within", "geometry": "Polygon"}}
    body["geoQ"]["coordinates"] = [[[10.70, 59.94], [10.73, 59.96], [10.73, 59.94], [10.70, 59.96], [10.70, 59.94]]]
    response = await api.post("/ngsi-ld/v1/entityOperations/query", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == []  # the bow tie is not within this smaller one
    station = {"id": f"{AREA}spot", "type": "Area", "location": {"type": "GeoProperty", "value": {"type": "Point"}}}
    station["location"]["value"]["coordinates"] = [10.705, 59.95]  # in the small bow tie's left lobe
    assert (await api.post("/ngsi-ld/v1/entities", json=station)).status_code == 201
    response = await api.post("/ngsi-ld/v1/entityOperations/query", json=body)
    assert [e["id"].removeprefix(AREA) for e in response.json()] == ["spot"]


@pytest.mark.parametrize(
    ("ring", "needle"),
    [
        (
            [[10.7, 59.9], [10.8, 59.9], [10.8, 60.0], [10.7, 60.0]],
            "/location/value/coordinates/0: a linear ring must end",
        ),
        (
            [[10.7, 59.9], [10.8, 59.9], [10.7, 59.9]],
            "/location/value/coordinates/0: a linear ring needs at least four",
        ),
        (
            [[10.7, 59.9], [10.8, 95.0], [10.8, 59.9], [10.7, 59.9]],
            "/location/value/coordinates/0/1: [10.8, 95.0] is out",
        ),
    ],
)
async def test_a_malformed_polygon_is_still_refused_everywhere(
    api: httpx.AsyncClient, ring: list[list[float]], needle: str
) -> None:
    area = {"id": f"{AREA}bad", "type": "Area", "location": {"type": "GeoProperty", "value": {"type": "Polygon"}}}
    area["location"]["value"]["coordinates"] = [ring]
    timed = {**area, "location": [{**area["location"], "observedAt": "2020-01-01T00:00:00Z"}]}
    provided = await api.post("/ngsi-ld/v1/entities", json=area)
    batched = await api.post("/ngsi-ld/v1/entityOperations/upsert", json=[area])
    history = await api.post("/ngsi-ld/v1/temporal/entities", json=timed)
    for response in (provided, history):
        assert response.status_code == 400, response.text
        assert response.json()["type"] == ETSI + "BadRequestData"
    assert needle in provided.json()["detail"]
    assert needle.replace("/location/value", "/location/0/value") in history.json()["detail"]
    assert batched.status_code == 207  # a batch reports the entity among its errors
    assert needle in batched.text
    assert (await api.get(f"/ngsi-ld/v1/entities/{AREA}bad")).status_code == 404


async def test_a_query_polygon_that_encloses_no_area_is_400(api: httpx.AsyncClient) -> None:
    flat = [[[10.7, 59.9], [10.8, 59.9], [10.9, 59.9], [10.7, 59.9]]]
    response = await api.get(
        "/ngsi-ld/v1/entities",
        params={"type": "Area", "georel": "within", "geometry": "Polygon", "coordinates": orjson.dumps(flat).decode()},
    )
    assert response.status_code == 400
    assert response.json()["type"] == ETSI + "BadRequestData"
    assert "coordinates: the Polygon encloses no area" in response.json()["detail"]
