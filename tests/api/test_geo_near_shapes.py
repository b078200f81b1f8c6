"""GET /entities and POST /entityOperations/query with ``georel=near`` and any query geometry (LineString, Polygon,
MultiPoint, MultiLineString, MultiPolygon): the distance is to the nearest part of the query geometry, from entity
Points, LineStrings and Polygons alike; maxDistance and minDistance split the entities, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from typing import Any

import httpx
import orjson
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

E = "/ngsi-ld/v1/entities"
QUERY = "/ngsi-ld/v1/entityOperations/query"
LAT = 59.9
METRE_LAT = 1 / (math.pi / 180 * 6_371_008.8)
METRE_LON = METRE_LAT / math.cos(math.radians(LAT))
LINE = [[10.70, LAT], [10.80, LAT]]
SQUARE = [[[10.70, 59.90], [10.80, 59.90], [10.80, 59.95], [10.70, 59.95], [10.70, 59.90]]]
FAR_SQUARE = [[[20.0, 60.0], [20.1, 60.0], [20.1, 60.1], [20.0, 60.1], [20.0, 60.0]]]
MID, FAR, ROAD, PARK, ISLAND = (f"urn:ngsi-ld:Place:near{i}" for i in range(1, 6))


def _place(entity_id: str, geometry: str, coordinates: Any) -> dict[str, Any]:
    location = {"type": "GeoProperty", "value": {"type": geometry, "coordinates": coordinates}}
    return {"id": entity_id, "type": "Place", "location": location}


@pytest.fixture
async def places(api: httpx.AsyncClient) -> None:
    """MID 200 m north of the line's middle (inside SQUARE); FAR 8 km north (2.4 km beyond SQUARE); ROAD a line
    crossing both; PARK a polygon 400 m east of the line's east end; ISLAND a point inside FAR_SQUARE."""
    east = 10.80 + 400 * METRE_LON
    for entity in (
        _place(MID, "Point", [10.75, LAT + 200 * METRE_LAT]),
        _place(FAR, "Point", [10.75, LAT + 8000 * METRE_LAT]),
        _place(ROAD, "LineString", [[10.75, 59.80], [10.75, 60.00]]),
        _place(PARK, "Polygon", [[[east, LAT], [east + 0.01, LAT], [east + 0.01, 59.91], [east, LAT]]]),
        _place(ISLAND, "Point", [20.05, 60.05]),
    ):
        assert (await api.post(E, json=entity)).status_code == 201


async def _near(api: httpx.AsyncClient, geometry: str, coordinates: Any, georel: str) -> list[str]:
    params = {"type": "Place", "georel": georel, "geometry": geometry, "count": "true"}
    response = await api.get(E, params={**params, "coordinates": orjson.dumps(coordinates).decode()})
    assert response.status_code == 200, response.text
    ids = [e["id"] for e in response.json()]
    assert response.headers["NGSILD-Results-Count"] == str(len(ids))
    return ids


@pytest.mark.parametrize(
    ("geometry", "coordinates", "georel", "expected"),
    [
        ("LineString", LINE, "near;maxDistance==300", [MID, ROAD]),
        ("LineString", LINE, "near;maxDistance==410", [MID, ROAD, PARK]),
        ("LineString", LINE, "near;minDistance==300", [FAR, PARK, ISLAND]),
        ("LineString", LINE, "near;maxDistance==190", [ROAD]),
        ("Polygon", SQUARE, "near;maxDistance==1", [MID, ROAD]),
        ("Polygon", SQUARE, "near;maxDistance==2500", [FAR, MID, ROAD, PARK]),
        ("Polygon", SQUARE, "near;minDistance==1", [FAR, PARK, ISLAND]),
        ("MultiPoint", LINE, "near;maxDistance==300", []),  # only the line's two ends: 2.8 km from MID
        ("MultiPoint", LINE, "near;maxDistance==410", [PARK]),
        ("MultiLineString", [LINE, [[20.0, 60.05], [20.1, 60.05]]], "near;maxDistance==300", [MID, ROAD, ISLAND]),
        ("MultiPolygon", [SQUARE, FAR_SQUARE], "near;maxDistance==1", [MID, ROAD, ISLAND]),
        ("MultiPolygon", [SQUARE, FAR_SQUARE], "near;minDistance==1", [FAR, PARK]),
        ("Point", [10.75, LAT], "near;maxDistance==300", [MID, ROAD]),
    ],
)
async def test_near_measures_to_the_nearest_part_of_any_geometry(
    api: httpx.AsyncClient, places: None, geometry: str, coordinates: Any, georel: str, expected: list[str]
) -> None:
    assert await _near(api, geometry, coordinates, georel) == sorted(expected)


async def test_a_query_body_geo_q_takes_any_geometry(api: httpx.AsyncClient, places: None) -> None:
    geo_q = {"georel": "near;maxDistance==300", "geometry": "LineString", "coordinates": LINE}
    body = {"type": "Query", "entities": [{"type": "Place"}], "geoQ": geo_q}
    response = await api.post(QUERY, json=body)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == sorted([MID, ROAD])


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "detail"),
    [
        ("near;maxDistance==0", "LineString", LINE, "the distance must be a finite positive number of metres"),
        ("near;minDistance==-3", "Polygon", SQUARE, "the distance must be a finite positive number of metres"),
        ("near;maxDistance==5", "LineString", [[10.7, LAT]], "coordinates: a LineString needs at least 2 positions"),
        ("near;maxDistance==5", "Polygon", [[[0, 0], [1, 0], [2, 0], [0, 0]]], "coordinates: the Polygon encloses"),
    ],
)
async def test_bad_near_queries_with_shapes_are_400(
    api: httpx.AsyncClient, georel: str, geometry: str, coordinates: Any, detail: str
) -> None:
    params = {
        "type": "Place",
        "georel": georel,
        "geometry": geometry,
        "coordinates": orjson.dumps(coordinates).decode(),
    }
    response = await api.get(E, params=params)
    assert response.status_code == 400
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert detail in response.json()["detail"], response.json()["detail"]
