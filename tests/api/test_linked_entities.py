"""Linked-entity retrieval (clause 4.5.23): join=inline|flat and joinLevel on GET /entities and /entities/{id}."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.state import HubState
from ngsi.context import context_link
from ngsi.contexts import ContextKind

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


# pick/omit reaching into linked entities (clause 4.21 with 4.5.23; ETSI 018_20, 018_21, 019_20-019_23)
DESCRIBED = "urn:ngsi-ld:Building:p1"
PARIS, FRANCE = "urn:ngsi-ld:City:Paris", "urn:ngsi-ld:Country:France"


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


@pytest.fixture
async def described(api: httpx.AsyncClient) -> None:
    """A building in a city in a country, the city and country with a name and a description."""
    for entity in (
        {"id": DESCRIBED, "type": "Building", "name": _prop("Tower"), "locatedAt": _rel(PARIS)},
        {"id": PARIS, "type": "City", "name": _prop("Paris"), "description": _prop("Capital"), "isIn": _rel(FRANCE)},
        {"id": FRANCE, "type": "Country", "name": _prop("France"), "description": _prop("A country")},
    ):
        assert (await api.post(E, json=entity)).status_code == 201


async def test_pick_into_the_linked_entity(api: httpx.AsyncClient, described: None) -> None:
    """Braces pick the linked entity's members; a Relationship it does not pick is not followed (joinLevel 2)."""
    got = await _get(api, f"{E}/{DESCRIBED}", join="inline", joinLevel=2, pick="id,locatedAt{id,name}")
    assert got == {"id": DESCRIBED, "locatedAt": {**_rel(PARIS), "entity": {"id": PARIS, "name": _prop("Paris")}}}
    flat = await _get(api, f"{E}/{DESCRIBED}", join="flat", joinLevel=2, pick="id,locatedAt{id,name}")
    assert flat == [{"id": DESCRIBED, "locatedAt": _rel(PARIS)}, {"id": PARIS, "name": _prop("Paris")}]


async def test_pick_into_the_second_level(api: httpx.AsyncClient, described: None) -> None:
    pick = "id,locatedAt{id,name,isIn{id,description}}"
    got = await _get(api, f"{E}/{DESCRIBED}", join="inline", joinLevel=2, pick=pick)
    country = {"id": FRANCE, "description": _prop("A country")}
    city = {"id": PARIS, "name": _prop("Paris"), "isIn": {**_rel(FRANCE), "entity": country}}
    assert got == {"id": DESCRIBED, "locatedAt": {**_rel(PARIS), "entity": city}}
    flat = await _get(api, E, type="Building", join="flat", joinLevel=2, pick=pick)
    assert flat == [
        {"id": DESCRIBED, "locatedAt": _rel(PARIS)},
        {"id": PARIS, "name": _prop("Paris"), "isIn": _rel(FRANCE)},
        country,
    ]


async def test_omit_into_the_linked_entities(api: httpx.AsyncClient, described: None) -> None:
    """``locatedAt{name}`` keeps locatedAt and leaves name out of the city; the country, without braces, is whole."""
    got = await _get(api, f"{E}/{DESCRIBED}", join="inline", joinLevel=2, omit="type,locatedAt{name}")
    city = got["locatedAt"]["entity"]
    assert set(got) == {"id", "name", "locatedAt"}
    assert city == {
        "id": PARIS,
        "type": "City",
        "description": _prop("Capital"),
        "isIn": {
            **_rel(FRANCE),
            "entity": {"id": FRANCE, "type": "Country", "name": _prop("France"), "description": _prop("A country")},
        },
    }
    deeper = await _get(api, f"{E}/{DESCRIBED}", join="flat", joinLevel=2, omit="type,locatedAt{name,isIn{name}}")
    building, city, country = ({"id", "name", "locatedAt"}, {"id", "type", "description", "isIn"}, {"id", "type"})
    assert [set(e) for e in deeper] == [building, city, {*country, "description"}]


async def test_top_level_pick_and_omit_leave_linked_entities_whole(api: httpx.AsyncClient, described: None) -> None:
    """The requested entities' pick/omit is theirs alone (ETSI 019_20_01, 019_21_01)."""
    picked = await _get(api, E, type="Building", join="inline", pick="id,name")
    assert picked == [{"id": DESCRIBED, "name": _prop("Tower")}]  # locatedAt not picked: nothing joined
    assert await _get(api, E, type="Building", join="flat", pick="id,name") == picked
    omitted = await _get(api, E, type="Building", join="inline", omit="name")
    assert "name" not in omitted[0]
    assert omitted[0]["locatedAt"]["entity"]["name"] == _prop("Paris")
    flat = await _get(api, E, type="Building", join="flat", omit="name")
    assert [e["id"] for e in flat] == [DESCRIBED, PARIS]
    assert flat[1]["name"] == _prop("Paris")


async def test_projection_into_linked_entities_in_key_values(api: httpx.AsyncClient, described: None) -> None:
    got = await _get(api, f"{E}/{DESCRIBED}", join="inline", pick="id,locatedAt{name}", format="keyValues")
    assert got == {"id": DESCRIBED, "locatedAt": {"name": "Paris"}}


async def test_flat_retrieve_without_linked_entities_is_the_entity(api: httpx.AsyncClient, graph: None) -> None:
    """Nothing linked is held here: join=flat answers the entity itself, not an array of one (ETSI 018_14_02)."""
    got = await _get(api, f"{E}/{OTHER}", join="flat", pick="id,owner")
    assert got == {"id": OTHER}
    assert (await _get(api, f"{E}/{COUNTRY}", join="flat"))["id"] == COUNTRY


async def test_list_relationship_and_several_objects(api: httpx.AsyncClient, graph: None) -> None:
    """A ListRelationship's objects are joined into ``entityList``, a Relationship's array of objects into an array
    ``entity``; only the entities held here (in objectList order)."""
    route = {"type": "ListRelationship", "objectList": [COUNTRY, "urn:ngsi-ld:City:nowhere", CITY]}
    near = {"type": "Relationship", "object": [CITY, COUNTRY]}
    tour = {"id": "urn:ngsi-ld:Tour:1", "type": "Tour", "route": route, "near": near}
    assert (await api.post(E, json=tour)).status_code == 201
    got = await _get(api, f"{E}/{tour['id']}", join="inline", pick="id,route{id},near{id}")
    assert got["route"] == {**route, "entityList": [{"id": COUNTRY}, {"id": CITY}]}
    assert got["near"] == {**near, "entity": [{"id": CITY}, {"id": COUNTRY}]}
    simple = await _get(api, f"{E}/{tour['id']}", join="inline", pick="id,route{id}", format="keyValues")
    assert simple == {"id": tour["id"], "route": [{"id": COUNTRY}, {"id": CITY}]}
    flat = await _get(api, f"{E}/{tour['id']}", join="flat", pick="id,route")
    assert [e["id"] for e in flat] == [tour["id"], COUNTRY, CITY]


async def test_linked_entities_stay_in_the_tenant_asked(api: httpx.AsyncClient) -> None:
    """With NGSILD-Tenant the linked entities come from that tenant only; without it, from any city."""
    home = {"NGSILD-Tenant": "oslo"}
    building = {"id": BUILDING, "type": "Building", "locatedAt": _rel(CITY)}
    assert (await api.post(E, json=building, headers=home)).status_code == 201
    city = {"id": CITY, "type": "City", "name": _prop("Oslo")}
    assert (await api.post(E, json=city, headers={"NGSILD-Tenant": "bergen"})).status_code == 201
    response = await api.get(f"{E}/{BUILDING}", params={"join": "inline"}, headers=home)
    assert response.json()["locatedAt"] == _rel(CITY)
    everywhere = await _get(api, f"{E}/{BUILDING}", join="inline")
    assert everywhere["locatedAt"]["entity"] == city


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"join": "inline", "joinLevel": "0"}, "joinLevel"),
        ({"join": "flat", "joinLevel": "-1"}, "joinLevel"),
        ({"join": "flat", "joinLevel": "two"}, "joinLevel"),
        ({"joinLevel": "0"}, "joinLevel"),
        ({"join": "deep"}, "join 'deep'"),
        ({"pick": "id,locatedAt{name"}, "not closed"),
        ({"pick": "id", "omit": "locatedAt{name}", "join": "inline"}, "pick and omit"),
    ],
)
async def test_bad_join_values_name_the_parameter(
    api: httpx.AsyncClient, graph: None, params: dict[str, str], needle: str
) -> None:
    for url, query in ((f"{E}/{BUILDING}", params), (E, {"type": "Building", **params})):
        response = await api.get(url, params=query)
        assert response.status_code == 400, response.text
        assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
        assert needle in response.json()["detail"]


# The Query body of POST /entityOperations/query carries pick, omit, join and joinLevel (ETSI 019_24)
QUERY = "/ngsi-ld/v1/entityOperations/query"


async def _post(api: httpx.AsyncClient, body: dict[str, Any], **params: Any) -> Any:
    response = await api.post(QUERY, json={"type": "Query", "entities": [{"type": "Building"}], **body}, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_post_query_joins_as_get_does(api: httpx.AsyncClient, graph: None) -> None:
    for join in ("inline", "flat"):
        for params in ({}, {"options": "keyValues"}):
            got = await _post(api, {"join": join, "joinLevel": 2}, **params)
            assert got == await _get(api, E, type="Building", join=join, joinLevel=2, **params)
    flat = await _post(api, {"join": "flat"})
    assert [e["id"] for e in flat] == [BUILDING, OTHER, CITY]  # joinLevel 1 by default


async def test_post_query_pick_and_omit(api: httpx.AsyncClient, described: None) -> None:
    picked = await _post(api, {"pick": "id,locatedAt{id,name}", "join": "inline"})
    assert picked == [{"id": DESCRIBED, "locatedAt": {**_rel(PARIS), "entity": {"id": PARIS, "name": _prop("Paris")}}}]
    assert await _post(api, {"pick": ["id", "locatedAt{id,name}"], "join": "inline"}) == picked
    omitted = await _post(api, {"omit": "type,locatedAt"})
    assert omitted == [{"id": DESCRIBED, "name": _prop("Tower")}]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"join": "inline", "joinLevel": 0}, "joinLevel"),
        ({"join": "inline", "joinLevel": "2"}, "joinLevel"),
        ({"join": "inline", "joinLevel": True}, "joinLevel"),
        ({"join": "inline", "joinLevel": 9}, "joinLevel"),
        ({"join": "sideways"}, "join 'sideways'"),
        ({"join": 1}, "join 1: use flat or inline"),
        ({"pick": 3}, "pick must be"),
        ({"omit": []}, "omit must be"),
        ({"pick": "id", "omit": "name"}, "pick and omit"),
        ({"pick": "locatedAt{name}"}, "needs join"),
    ],
)
async def test_post_query_bad_values(api: httpx.AsyncClient, graph: None, body: dict[str, Any], needle: str) -> None:
    response = await api.post(QUERY, json={"type": "Query", "entities": [{"type": "Building"}], **body})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert needle in response.json()["detail"]


async def test_projection_names_are_the_requests_terms(api: httpx.AsyncClient, hub: HubState, described: None) -> None:
    """With a Link @context, the braces name the client's terms, in the linked entities as in the requested ones."""
    default = hub.contexts.translation({"unused": "urn:unused"}).default  # how the stored names expand
    terms = {"site": default.expand("locatedAt"), "label": default.expand("name")}
    hub.contexts.add(ALIASES_URL, {"@context": terms}, ContextKind.CACHED)
    got = await _get_with(api, f"{E}/{DESCRIBED}", ALIASES_URL, join="inline", pick="id,site{label}")
    assert got == {"id": DESCRIBED, "site": {**_rel(PARIS), "entity": {"label": _prop("Paris")}}}
    flat = await _get_with(api, f"{E}/{DESCRIBED}", ALIASES_URL, join="flat", omit="label,site{label,type}")
    assert flat[1] == {"id": PARIS, "description": _prop("Capital"), "isIn": _rel(FRANCE)}


ALIASES_URL = "https://contexts.example.org/site.jsonld"


async def _get_with(api: httpx.AsyncClient, url: str, context: str, **params: Any) -> Any:
    response = await api.get(url, params=params, headers={"Link": context_link(context)})
    assert response.status_code == 200, response.text
    return response.json()
