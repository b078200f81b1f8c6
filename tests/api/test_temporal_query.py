"""POST /temporal/entityOperations/query: a Query body with temporalQ, answered like GET /temporal/entities."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

URL = "/ngsi-ld/v1/temporal/entityOperations/query"
CAR, VAN, BIKE = "urn:ngsi-ld:Vehicle:tq:1", "urn:ngsi-ld:Vehicle:tq:2", "urn:ngsi-ld:Bike:tq:3"


def _vehicle(entity_id: str, kind: str, speeds: list[int], lon: float) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": kind,
        "speed": [
            {"type": "Property", "value": v, "observedAt": f"2020-01-01T0{i}:00:00Z"} for i, v in enumerate(speeds)
        ],
        "location": [
            {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [lon, 59.9]},
                "observedAt": "2020-01-01T00:00:00Z",
            }
        ],
    }


@pytest.fixture
async def fleet(api: httpx.AsyncClient) -> None:
    for body in (
        _vehicle(CAR, "Vehicle", [10, 20, 30], 10.75),
        _vehicle(VAN, "Vehicle", [50, 60, 70], 5.32),
        _vehicle(BIKE, "Bike", [5, 6, 7], 10.75),
    ):
        assert (await api.post("/ngsi-ld/v1/temporal/entities", json=body)).status_code == 201


def _speeds(entity: dict[str, Any]) -> list[Any]:
    return [instance["value"] for instance in entity["speed"]]


async def test_the_query_body_selects_and_temporal_q_windows(api: httpx.AsyncClient, fleet: None) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "Vehicle"}],
        "attrs": ["speed"],
        "temporalQ": {"timerel": "after", "timeAt": "2020-01-01T01:00:00Z"},
    }
    response = await api.post(URL, json=body, params={"count": "true"})
    assert response.status_code == 200, response.text
    assert response.headers["ngsild-results-count"] == "2"
    got = {entity["id"]: entity for entity in response.json()}
    assert set(got) == {CAR, VAN}
    assert _speeds(got[CAR]) == [20, 30]
    assert "location" not in got[CAR]


async def test_q_geo_q_and_id_pattern_pick_entities(api: httpx.AsyncClient, fleet: None) -> None:
    near_oslo = {"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [10.75, 59.9]}
    cases = [
        ({"entities": [{"idPattern": "^urn:ngsi-ld:Vehicle:tq:[12]$"}], "q": "speed>50"}, [VAN]),
        ({"entities": [{"type": "Vehicle,Bike"}], "geoQ": near_oslo}, [CAR, BIKE]),
        ({"entities": [{"id": BIKE}, {"id": CAR}]}, [CAR, BIKE]),
    ]
    for members, expected in cases:
        response = await api.post(URL, json={"type": "Query", **members})
        assert response.status_code == 200, response.text
        assert sorted(entity["id"] for entity in response.json()) == sorted(expected)


async def test_formats_last_n_and_aggregates(api: httpx.AsyncClient, fleet: None) -> None:
    body = {"type": "Query", "entities": [{"id": VAN}], "temporalQ": {"lastN": 1}}
    [van] = (await api.post(URL, json=body, params={"format": "temporalValues"})).json()
    assert van["speed"]["values"] == [[70, "2020-01-01T02:00:00Z"]]
    params = {"format": "aggregatedValues", "aggrMethods": "max", "lastN": 2}
    [van] = (await api.post(URL, json={"type": "Query", "entities": [{"id": VAN}]}, params=params)).json()
    assert van["speed"]["max"][0][0] == 70


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"type": "Query"}, 400),
        ({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": {"timerel": "after"}}, 400),
        ({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": "after"}, 400),
        ({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": {"timeAt": 5}}, 400),
        ({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": {"when": "now"}}, 400),
        ({"type": "Subscription", "entities": [{"type": "Vehicle"}]}, 400),
        ([], 400),
    ],
)
async def test_bad_bodies(api: httpx.AsyncClient, fleet: None, body: Any, status: int) -> None:
    response = await api.post(URL, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_operation_is_described(api: httpx.AsyncClient) -> None:
    operation = (await api.get("/openapi.json")).json()["paths"][URL]["post"]
    assert "requestBody" in operation
    assert "206" in operation["responses"]


async def test_temporal_q_is_described_here_and_refused_there(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    here = paths[URL]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["temporalQ"]
    assert here["properties"]["timeproperty"]["enum"] == ["observedAt", "createdAt", "modifiedAt", "deletedAt"]
    there = paths["/ngsi-ld/v1/entityOperations/query"]["post"]["requestBody"]["content"]["application/json"]
    assert "timerel" not in there["schema"]["properties"]["temporalQ"].get("properties", {})


async def test_entities_are_ordered_as_entity_queries_order_them(api: httpx.AsyncClient, fleet: None) -> None:
    """orderBy (clause 4.23) orders the entities of a temporal query on their current state, as GET /entities does
    (ETSI 021_23): the current speeds are CAR 30, VAN 70, BIKE 7."""
    window = {"type": "Vehicle,Bike", "timerel": "after", "timeAt": "2020-01-01T00:00:00Z"}
    get = "/ngsi-ld/v1/temporal/entities"
    for order_by, expected in (
        ("id", [BIKE, CAR, VAN]),
        ("id;desc", [VAN, CAR, BIKE]),
        ("speed", [BIKE, CAR, VAN]),
        ("speed;desc", [VAN, CAR, BIKE]),
        ("type,speed;desc", [BIKE, VAN, CAR]),
        ("createdAt;desc", [BIKE, VAN, CAR]),
    ):
        response = await api.get(get, params={**window, "orderBy": order_by})
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()] == expected, order_by
    assert (await api.get(get, params={**window, "orderBy": "id;up"})).status_code == 400
    body: dict[str, Any] = {"type": "Query", "entities": [{"type": "Vehicle"}], "ordering": {"orderBy": ["speed"]}}
    posted = await api.post(URL, json=body)
    assert [e["id"] for e in posted.json()] == [CAR, VAN]
    body["ordering"] = {"orderBy": ["speed;desc"]}
    assert [e["id"] for e in (await api.post(URL, json=body)).json()] == [VAN, CAR]
    # A deleted entity has no current state to order by: it comes last (timeproperty=deletedAt answers it)
    assert (await api.delete(f"/ngsi-ld/v1/entities/{BIKE}")).status_code == 204
    deleted = {**window, "timeproperty": "deletedAt", "orderBy": "speed;desc"}
    response = await api.get(get, params=deleted)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()][-1] == BIKE


async def test_entities_without_the_attribute_order_alike_on_both_databases(
    api: httpx.AsyncClient, fleet: None
) -> None:
    """orderBy=speed.createdAt with timeproperty=deletedAt: VAN's speed was deleted, BIKE is deleted (nothing of
    its current state is left). Neither has speed: both come after CAR, in id order, in either direction (the
    stamp of the deleted one was NULL, which SQLite sorts first and PostgreSQL last, and VAN's the entity's). CAR
    has a deletion too (its location), since the query answers only entities with deletions in the window."""
    assert (await api.delete(f"/ngsi-ld/v1/entities/{CAR}/attrs/location")).status_code == 204
    assert (await api.delete(f"/ngsi-ld/v1/entities/{VAN}/attrs/speed")).status_code == 204
    assert (await api.delete(f"/ngsi-ld/v1/entities/{BIKE}")).status_code == 204
    window = {"type": "Vehicle,Bike", "timerel": "after", "timeAt": "2020-01-01T00:00:00Z", "timeproperty": "deletedAt"}
    for order_by in ("speed.createdAt", "speed.createdAt;desc"):
        response = await api.get("/ngsi-ld/v1/temporal/entities", params={**window, "orderBy": order_by})
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()] == [CAR, BIKE, VAN], order_by
