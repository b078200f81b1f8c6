"""Entity ordering on the NGSI-LD API: ``orderBy``, ``collation``, ``orderFrom`` on GET /entities and the Query
body's ``ordering`` on POST /entityOperations/query (clause 4.23; ngsi/ordering.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import BUILDING, KIOSK, SHOP

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]  # a broker behind an access proxy: writes need no key
ENTITIES = "/ngsi-ld/v1/entities"
QUERY = "/ngsi-ld/v1/entityOperations/query"
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"
D = [f"urn:ngsi-ld:Dock:{n}" for n in range(7)]  # D[0] is never created: D[1]..D[6]
OSLO, BERGEN, STOCKHOLM = [10.75, 59.91], [5.32, 60.39], [18.06, 59.33]


def _prop(value: Any, **more: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **more}


def _point(coordinates: list[float]) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": coordinates}}


DOCKS: list[dict[str, Any]] = [
    {
        "id": D[1],
        "type": "Dock",
        "name": _prop("b"),
        "bikes": _prop(5, observedAt="2024-03-01T00:00:00Z"),
        "status": _prop("ok"),
        "address": _prop({"city": "Oslo"}),
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:b"},
        "location": _point(OSLO),
    },
    {
        "id": D[2],
        "type": "Dock",
        "name": _prop("A"),
        "bikes": _prop(12, observedAt="2024-01-01T00:00:00Z"),
        "status": _prop("ok"),
        "address": _prop({"city": "Bergen"}),
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:a"},
        "location": _point(BERGEN),
    },
    {
        "id": D[3],
        "type": "Dock",
        "name": _prop("á"),
        "bikes": _prop("many", observedAt="2024-02-01T00:00:00Z"),
        "status": _prop("broken"),
        "location": _point(STOCKHOLM),
    },
    {"id": D[4], "type": "Dock", "name": _prop("c"), "bikes": _prop(True), "status": _prop("ok")},
    {"id": D[5], "type": "Dock", "name": _prop("B")},
    {  # a multi-instance attribute: its first instance orders it
        "id": D[6],
        "type": "Dock",
        "name": [_prop("d", datasetId="urn:ngsi-ld:Dataset:x"), _prop("e")],
        "bikes": [_prop(-1, datasetId="urn:ngsi-ld:Dataset:x"), _prop(100)],
    },
]


@pytest.fixture
async def docks(api: httpx.AsyncClient) -> None:
    for dock in DOCKS:
        response = await api.post(ENTITIES, json=dock)
        assert response.status_code == 201, response.text


async def _ids(api: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await api.get(ENTITIES, params={"type": "Dock", "limit": 100, **params})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        # numbers, then strings, then booleans; an entity without the attribute last
        ("bikes", [D[6], D[1], D[2], D[3], D[4], D[5]]),
        ("bikes;asc", [D[6], D[1], D[2], D[3], D[4], D[5]]),
        # descending reverses the values, the entity without the attribute stays last
        ("bikes;desc", [D[4], D[3], D[2], D[1], D[6], D[5]]),
        # strings by codepoint: upper case before lower case, "á" after every ASCII letter
        ("name", [D[2], D[5], D[1], D[4], D[6], D[3]]),
        ("name;desc", [D[3], D[6], D[4], D[1], D[5], D[2]]),
        # several keys: status first, ties broken by name descending; no status: last, by id
        ("status,name;desc", [D[3], D[4], D[1], D[2], D[6], D[5]]),
        # ties of the last key broken by id
        ("status", [D[3], D[1], D[2], D[4], D[5], D[6]]),
        # a member inside a compound value, and a sub-attribute
        ("address[city]", [D[2], D[1], D[3], D[4], D[5], D[6]]),
        ("address[city];desc", [D[1], D[2], D[3], D[4], D[5], D[6]]),
        ("bikes.observedAt", [D[2], D[3], D[1], D[4], D[5], D[6]]),
        # a Relationship orders by its target
        ("owner", [D[2], D[1], D[3], D[4], D[5], D[6]]),
        # entity members
        ("id;desc", [D[6], D[5], D[4], D[3], D[2], D[1]]),
        ("type,name", [D[2], D[5], D[1], D[4], D[6], D[3]]),
        ("createdAt", [D[1], D[2], D[3], D[4], D[5], D[6]]),
    ],
)
async def test_order_by(api: httpx.AsyncClient, docks: None, order_by: str, expected: list[str]) -> None:
    assert await _ids(api, orderBy=order_by) == expected


async def test_collation_und_ranks_accents_and_case_with_the_base_letter(api: httpx.AsyncClient, docks: None) -> None:
    codepoint = await _ids(api, orderBy="name")
    assert codepoint == [D[2], D[5], D[1], D[4], D[6], D[3]]  # A B b c d á
    # the root collation: á with a (after A: the accent is a secondary difference), b before B (case: tertiary)
    assert await _ids(api, orderBy="name", collation="und") == [D[2], D[3], D[1], D[5], D[4], D[6]]
    assert await _ids(api, orderBy="name;desc", collation="root") == [D[6], D[4], D[5], D[1], D[3], D[2]]


async def test_distance_ordering(api: httpx.AsyncClient, docks: None) -> None:
    near_oslo = {"orderBy": "location;dist-asc", "orderFrom": "[10.7,59.9]"}
    # Oslo, then Bergen (~300 km), then Stockholm (~415 km); entities without a location last, by id
    assert await _ids(api, **near_oslo) == [D[1], D[2], D[3], D[4], D[5], D[6]]
    far_first = {"orderBy": "location;dist-desc", "orderFrom": "[10.7,59.9]", "orderGeometry": "Point"}
    assert await _ids(api, **far_first) == [D[3], D[2], D[1], D[4], D[5], D[6]]
    assert await _ids(api, orderBy="location;dist-asc", orderFrom="[18,59.3]") == [D[3], D[1], D[2], D[4], D[5], D[6]]


async def test_paging_an_ordered_query_is_stable(api: httpx.AsyncClient, docks: None) -> None:
    """Pages of limit 2 follow the order, the id breaking ties, and their Links carry orderBy on."""
    seen: list[str] = []
    params: dict[str, Any] = {"type": "Dock", "orderBy": "status;desc", "limit": 2, "count": "true"}
    url: str | None = ENTITIES
    while url is not None:
        response = await api.get(url, params=params if url == ENTITIES else None)
        assert response.status_code == 200, response.text
        assert response.headers["ngsild-results-count"] == "6"
        seen += [e["id"] for e in response.json()]
        links = [part for part in response.headers["link"].split(", ") if 'rel="next"' in part]
        url = links[0].split(">")[0].lstrip("<") if links else None
        if url is not None:
            assert "orderBy=status%3Bdesc" in url
    assert seen == [D[1], D[2], D[4], D[3], D[5], D[6]]


async def test_ordering_combines_with_q_and_count(api: httpx.AsyncClient, docks: None) -> None:
    response = await api.get(
        ENTITIES, params={"type": "Dock", "q": 'status=="ok"', "orderBy": "bikes;desc", "count": "true", "limit": 1}
    )
    assert [e["id"] for e in response.json()] == [D[4]]
    assert response.headers["ngsild-results-count"] == "3"


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"orderBy": "name;up"}, "orderBy: 'up' in 'name;up' is no sorting style"),
        ({"orderBy": "name;"}, "orderBy: 'name;' has no sorting style after ';'"),
        ({"orderBy": "name,,bikes"}, "orderBy: '' names no entity member or attribute"),
        ({"orderBy": "na me"}, "orderBy: 'na me' is not an attribute path"),
        ({"orderBy": "address[city"}, "orderBy: 'address[city' is not an attribute path"),
        ({"orderBy": "owner{name}"}, "orderBy: 'owner{name}': ordering by a linked entity"),
        ({"orderBy": "id;dist-asc", "orderFrom": "[1,2]"}, "orderBy: dist-asc orders by a GeoProperty's distance"),
        ({"orderBy": ",".join(["name"] * 11)}, "orderBy: at most 10 keys"),
        ({"orderBy": "name", "collation": "!!nope"}, "collation: '!!nope' is not an RFC 6067 collation"),
        ({"orderBy": "name", "collation": "de-u-co-phonebk"}, "collation: 'de-u-co-phonebk' is not offered"),
        ({"collation": "und"}, "collation: only applies with orderBy"),
        ({"orderBy": "location;dist-asc"}, "orderFrom: is required when orderBy orders by distance"),
        ({"orderBy": "location;dist-asc", "orderFrom": "10,59"}, "orderFrom: '10,59' is not a JSON array"),
        ({"orderBy": "location;dist-asc", "orderFrom": "[10]"}, "orderFrom: [10] is not a position"),
        ({"orderBy": "location;dist-asc", "orderFrom": "[200,0]"}, "outside longitude -180..180"),
    ],
)
async def test_bad_ordering_is_bad_request_data(
    api: httpx.AsyncClient, docks: None, params: dict[str, str], needle: str
) -> None:
    response = await api.get(ENTITIES, params={"type": "Dock", **params})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ETSI + "BadRequestData"
    assert needle in response.json()["detail"]


async def test_ordering_by_distance_from_other_geometries_is_not_supported(api: httpx.AsyncClient, docks: None) -> None:
    line = {"orderFrom": "[[0,0],[1,1]]", "orderGeometry": "LineString"}
    params = {"type": "Dock", "orderBy": "location;dist-asc", **line}
    response = await api.get(ENTITIES, params=params)
    assert response.status_code == 422
    assert response.json()["type"] == ETSI + "OperationNotSupported"


async def test_post_query_ordering(api: httpx.AsyncClient, docks: None) -> None:
    body: dict[str, Any] = {"type": "Query", "entities": [{"type": "Dock"}], "ordering": {"orderBy": ["bikes;desc"]}}
    response = await api.post(QUERY, json=body, params={"limit": 3})
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == [D[4], D[3], D[2]]
    body["ordering"] = {"orderBy": ["location;dist-asc"], "coordinates": [18, 59.3], "geometry": "Point"}
    assert [e["id"] for e in (await api.post(QUERY, json=body)).json()][:3] == [D[3], D[1], D[2]]
    body["ordering"] = {"orderBy": ["status", "name;desc"], "collation": "und"}
    assert [e["id"] for e in (await api.post(QUERY, json=body)).json()] == [D[3], D[4], D[1], D[2], D[6], D[5]]


@pytest.mark.parametrize(
    ("ordering", "needle"),
    [
        ({"orderBy": "bikes"}, "ordering.orderBy must be an array of strings"),
        ({"orderBy": ["bikes", 5]}, "ordering.orderBy: every key must be a string"),
        ({"orderBy": ["bikes;sideways"]}, "ordering.orderBy: 'sideways'"),
        ({"orderBy": ["location;dist-asc"]}, "ordering.coordinates: is required"),
        ({"orderBy": ["location;dist-asc"], "coordinates": "8,40"}, "ordering.coordinates must be a JSON array"),
        ({"orderBy": ["id;asc"], "geometry": 5}, "ordering.geometry: must be a string"),
        ({"orderBy": ["id;asc"], "collation": "de-u-co-phonebk"}, "ordering.collation: 'de-u-co-phonebk'"),
        ("bikes", "ordering must be an OrderingParams object"),
    ],
)
async def test_post_query_bad_ordering(api: httpx.AsyncClient, docks: None, ordering: Any, needle: str) -> None:
    body = {"type": "Query", "entities": [{"type": "Dock"}], "ordering": ordering}
    response = await api.post(QUERY, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ETSI + "BadRequestData"
    assert needle in response.json()["detail"]


async def test_ordering_across_tenants_and_type_sets(api: httpx.AsyncClient, seeded: None) -> None:
    """The federated view (no tenant) and an entity of several types (Shop and Building) order like the rest."""
    building = await api.get(ENTITIES, params={"type": "Building", "orderBy": "area;desc"})
    assert [e["id"] for e in building.json()] == [BUILDING, SHOP]  # area 20, then 10
    assert [e["id"] for e in (await api.get(ENTITIES, params={"type": "Building", "orderBy": "area"})).json()] == [
        SHOP,
        BUILDING,
    ]
    # scope: /Nordic/NO/oslo before /Nordic/SE/stockholm,…; the kiosk has none and comes last either way
    by_scope = await api.get(ENTITIES, params={"type": "Shop,Building", "orderBy": "scope"})
    assert [e["id"] for e in by_scope.json()] == [SHOP, BUILDING, KIOSK]
    by_scope_desc = await api.get(ENTITIES, params={"type": "Shop,Building", "orderBy": "scope;desc"})
    assert [e["id"] for e in by_scope_desc.json()] == [BUILDING, SHOP, KIOSK]
    oslo = await api.get(ENTITIES, params={"type": "Shop", "orderBy": "area"}, headers={"NGSILD-Tenant": "oslo"})
    assert [e["id"] for e in oslo.json()] == [SHOP]
