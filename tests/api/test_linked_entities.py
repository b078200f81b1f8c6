"""Linked-entity retrieval (clause 4.5.23): join=inline|flat and joinLevel on GET /entities and /entities/{id}."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

BUILDING, OTHER = "urn:ngsi-ld:Building:j1", "urn:ngsi-ld:Building:j2"
CITY, COUNTRY = "urn:ngsi-ld:City:Oslo", "urn:ngsi-ld:Country:Norway"
E = "/ngsi-ld/v1/entities"


def _rel(target: str) -> dict[str, str]:
    return {"type": "Relationship", "object": target}


@pytest.fixture
async def graph(api: httpx.AsyncClient) -> None:
    """Two buildings in a city in a country; one building also names an entity the hub does not hold."""
    for entity in (
        {"id": BUILDING, "type": "Building", "locatedAt": _rel(CITY), "owner": _rel("urn:ngsi-ld:Person:nobody")},
        {"id": OTHER, "type": "Building", "locatedAt": _rel(CITY)},
        {"id": CITY, "type": "City", "name": {"type": "Property", "value": "Oslo"}, "locatedAt": _rel(COUNTRY)},
        {"id": COUNTRY, "type": "Country", "name": {"type": "Property", "value": "Norway"}},
    ):
        assert (await api.post(E, json=entity)).status_code == 201


CITY_NORMALIZED = {
    "id": CITY,
    "type": "City",
    "name": {"type": "Property", "value": "Oslo"},
    "locatedAt": _rel(COUNTRY),
}
COUNTRY_NORMALIZED = {"id": COUNTRY, "type": "Country", "name": {"type": "Property", "value": "Norway"}}


async def _get(api: httpx.AsyncClient, url: str, **params: Any) -> Any:
    response = await api.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_inline_one_level_by_default(api: httpx.AsyncClient, graph: None) -> None:
    got = await _get(api, f"{E}/{BUILDING}", join="inline")
    assert got["locatedAt"] == {**_rel(CITY), "entity": CITY_NORMALIZED}
    assert got["owner"] == _rel("urn:ngsi-ld:Person:nobody")  # not held here: left as it is


async def test_inline_two_levels_and_key_values(api: httpx.AsyncClient, graph: None) -> None:
    got = await _get(api, f"{E}/{BUILDING}", join="inline", joinLevel=2)
    assert got["locatedAt"]["entity"]["locatedAt"] == {**_rel(COUNTRY), "entity": COUNTRY_NORMALIZED}
    simple = await _get(api, f"{E}/{BUILDING}", join="inline", joinLevel=2, format="keyValues")
    assert simple == {
        "id": BUILDING,
        "type": "Building",
        "locatedAt": {
            "id": CITY,
            "type": "City",
            "name": "Oslo",
            "locatedAt": {"id": COUNTRY, "type": "Country", "name": "Norway"},
        },
        "owner": "urn:ngsi-ld:Person:nobody",
    }
    concise = await _get(api, f"{E}/{BUILDING}", join="inline", format="concise")
    assert concise["locatedAt"] == {
        "object": CITY,
        "entity": {"id": CITY, "type": "City", "name": "Oslo", "locatedAt": {"object": COUNTRY}},
    }


async def test_flat_is_an_array_of_each_entity_once(api: httpx.AsyncClient, graph: None) -> None:
    got = await _get(api, f"{E}/{BUILDING}", join="flat", joinLevel=2)
    assert [e["id"] for e in got] == [BUILDING, CITY, COUNTRY]
    assert got[1] == CITY_NORMALIZED
    page = await _get(api, E, type="Building", join="flat", joinLevel=2, format="keyValues")
    assert [e["id"] for e in page] == [BUILDING, OTHER, CITY, COUNTRY]  # the shared city once
    assert page[2] == {"id": CITY, "type": "City", "name": "Oslo", "locatedAt": COUNTRY}


async def test_a_query_joins_inline_and_cycles_end(api: httpx.AsyncClient, graph: None) -> None:
    patch = {"capitalOf": _rel(COUNTRY)}
    assert (await api.post(f"{E}/{COUNTRY}/attrs", json={"hasCapital": _rel(CITY)})).status_code == 204
    assert (await api.post(f"{E}/{CITY}/attrs", json=patch)).status_code == 204
    page = await _get(api, E, type="Building", join="inline", joinLevel=5)
    city = page[0]["locatedAt"]["entity"]
    country = city["locatedAt"]["entity"]
    assert country["id"] == COUNTRY
    assert "entity" not in country["hasCapital"]  # the city is already on the path: no endless nesting


async def test_ld_json_context_once_per_entity(api: httpx.AsyncClient, graph: None) -> None:
    response = await api.get(f"{E}/{BUILDING}", params={"join": "inline"}, headers={"Accept": "application/ld+json"})
    body = response.json()
    assert "@context" in body
    assert "@context" not in body["locatedAt"]["entity"]


@pytest.mark.parametrize(
    "params", [{"join": "deep"}, {"join": "flat", "joinLevel": 0}, {"join": "flat", "joinLevel": 9}]
)
async def test_bad_joins(api: httpx.AsyncClient, graph: None, params: dict[str, Any]) -> None:
    for url in (f"{E}/{BUILDING}", E):
        response = await api.get(url, params={"type": "Building", **params} if url == E else params)
        assert response.status_code == 400, response.text


async def test_join_is_described(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    for path in ("/ngsi-ld/v1/entities", "/ngsi-ld/v1/entities/{entity_id}"):
        names = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert {"join", "joinLevel"} <= names
