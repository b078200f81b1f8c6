"""q on linked entities (clause 4.9: ``locatedAt{City:name}=="Oslo"``) in GET /entities, POST
/entityOperations/query and the temporal API: which entities are selected, and which requests are refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.state import HubState
from ngsi.context import context_link
from ngsi.contexts import ContextKind

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

E = "/ngsi-ld/v1/entities"
QUERY = "/ngsi-ld/v1/entityOperations/query"
BAD_REQUEST = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
OSLO, BERGEN, NORWAY = "urn:ngsi-ld:City:Oslo", "urn:ngsi-ld:City:Bergen", "urn:ngsi-ld:Country:Norway"
B1, B2, B3, B4 = (f"urn:ngsi-ld:Building:q{i}" for i in range(1, 5))


def _rel(target: str | list[str]) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


@pytest.fixture
async def town(api: httpx.AsyncClient) -> None:
    """B1 and B2 in Oslo, B3 in Bergen (owned by someone this hub does not hold), B4 near both cities."""
    for entity in (
        {"id": B1, "type": "Building", "locatedAt": _rel(OSLO), "height": _prop(30)},
        {"id": B2, "type": "Building", "locatedAt": _rel(OSLO), "height": _prop(80)},
        {"id": B3, "type": "Building", "locatedAt": _rel(BERGEN), "owner": _rel("urn:ngsi-ld:Person:nobody")},
        {"id": B4, "type": "Building", "near": _rel([OSLO, BERGEN])},
        {"id": OSLO, "type": "City", "name": _prop("Oslo"), "population": _prop(700000), "locatedAt": _rel(NORWAY)},
        {"id": BERGEN, "type": "City", "name": _prop("Bergen"), "population": _prop(290000)},
        {"id": NORWAY, "type": "Country", "name": _prop("Norway")},
    ):
        assert (await api.post(E, json=entity)).status_code == 201


async def _ids(api: httpx.AsyncClient, q: str, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
    query = {"type": "Building", "q": q, "join": "flat", **params}
    response = await api.get(E, params=query, headers=headers or {})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json() if e["type"] == "Building"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('locatedAt{name}=="Oslo"', [B1, B2]),
        ('locatedAt{City:name}=="Oslo"', [B1, B2]),  # the type hint of clause 4.9, example 14
        ('locatedAt{Country,City:name}=="Bergen"', [B3]),
        ('locatedAt{Country:name}=="Oslo"', []),
        ("locatedAt{population}<500000", [B3]),
        ("locatedAt{population}", [B1, B2, B3]),
        ('locatedAt{name}!="Oslo"', [B3]),
        ("locatedAt{name}~=^(Os|Be)", [B1, B2, B3]),
        ('locatedAt{name}=="Oslo";height>50', [B2]),
        ('locatedAt{name}=="Bergen"|height<50', [B1, B3]),
        ('near{name}=="Bergen"', [B4]),  # any of several objects
        ("owner{name}", []),  # the target is not held here
        ('owner{name}!="x"', []),
        ("height{name}", []),  # a Property is not followed
    ],
)
async def test_linked_q_selects_on_the_target(api: httpx.AsyncClient, town: None, q: str, expected: list[str]) -> None:
    assert await _ids(api, q) == expected


async def test_two_hops_need_join_level_two(api: httpx.AsyncClient, town: None) -> None:
    q = 'locatedAt{locatedAt{Country:name}}=="Norway"'
    assert await _ids(api, q, joinLevel=2) == [B1, B2]
    response = await api.get(E, params={"type": "Building", "q": q, "join": "inline", "joinLevel": 1})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "q: locatedAt{locatedAt{Country:name}} follows 2 Relationships, deeper than joinLevel=1"
    )


async def test_the_answer_is_joined_as_asked(api: httpx.AsyncClient, town: None) -> None:
    params = {"type": "Building", "q": 'locatedAt{name}=="Bergen"', "join": "inline", "format": "keyValues"}
    response = await api.get(E, params=params)
    assert response.json() == [
        {
            "id": B3,
            "type": "Building",
            "locatedAt": {"id": BERGEN, "type": "City", "name": "Bergen", "population": 290000},
            "owner": "urn:ngsi-ld:Person:nobody",
        }
    ]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        # ETSI 5722_01_03 and 5722_01_04: without join, or deeper than joinLevel (5.7.2.4)
        ({"q": 'owner{name}=="x"'}, "q: owner{name} filters on linked entities: it needs join=inline|flat"),
        (
            {"q": 'owner{works{name}}=="x"', "join": "inline", "joinLevel": "1"},
            "q: owner{works{name}} follows 2 Relationships, deeper than joinLevel=1",
        ),
        ({"q": 'a==1;(b|owner{name}=="x")', "joinLevel": "2"}, "q: owner{name} filters on linked entities"),
        # malformed linked paths: the detail points at the character
        (
            {"q": "locatedAt{City:}", "join": "flat"},
            "q: unexpected '}' at position 15, expected an attribute name after the type hint 'City:'",
        ),
        ({"q": 'locatedAt{name=="Oslo"', "join": "flat"}, "q: unexpected '=' at position 14, expected '}'"),
        ({"q": "locatedAt{}", "join": "flat"}, "q: unexpected '}' at position 10, expected an attribute name"),
        ({"q": "locatedAt{name}}", "join": "flat"}, "q: unexpected '}' at position 15, expected an operator"),
        ({"q": "locatedAt.x{name}", "join": "flat"}, "q: unexpected '{' at position 11, expected an operator"),
    ],
)
async def test_refused_linked_queries(api: httpx.AsyncClient, town: None, params: dict[str, str], detail: str) -> None:
    response = await api.get(E, params={"type": "Building", **params})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == BAD_REQUEST
    assert response.json()["detail"].startswith(detail)
    body = {"type": "Query", "entities": [{"type": "Building"}], **params}
    if "joinLevel" in body:
        body["joinLevel"] = int(body["joinLevel"])
    posted = await api.post(QUERY, json=body)
    assert posted.status_code == 400, posted.text
    assert posted.json()["detail"].startswith(detail)


async def test_post_query_selects_as_get_does(api: httpx.AsyncClient, town: None) -> None:
    body = {"type": "Query", "entities": [{"type": "Building"}], "q": 'locatedAt{City:name}=="Oslo"', "join": "flat"}
    response = await api.post(QUERY, json=body, params={"options": "keyValues"})
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == [B1, B2, OSLO]
    got = await api.get(E, params={"type": "Building", "q": body["q"], "join": "flat", "options": "keyValues"})
    assert got.json() == response.json()
    counted = await api.post(QUERY, json={**body, "join": "inline"}, params={"count": "true", "limit": "1"})
    assert counted.headers["NGSILD-Results-Count"] == "2"
    assert [e["id"] for e in counted.json()] == [B1]


async def test_targets_in_the_tenant_asked_or_in_any_city(api: httpx.AsyncClient) -> None:
    """With NGSILD-Tenant the target must be in that tenant; without it (the federated view), in any city, as
    join finds linked entities."""
    home, away = {"NGSILD-Tenant": "oslo"}, {"NGSILD-Tenant": "bergen"}
    building = {"id": B1, "type": "Building", "locatedAt": _rel(BERGEN)}
    assert (await api.post(E, json=building, headers=home)).status_code == 201
    city = {"id": BERGEN, "type": "City", "name": _prop("Bergen")}
    assert (await api.post(E, json=city, headers=away)).status_code == 201
    q = 'locatedAt{City:name}=="Bergen"'
    assert await _ids(api, q, headers=home) == []
    assert await _ids(api, q) == [B1]
    assert (await api.post(E, json={**building, "id": B2}, headers=away)).status_code == 201
    assert await _ids(api, q, headers=away) == [B2]
    # A second copy of the city, in tenant oslo: federated, the target is the copy join shows (tenant bergen first)
    other = {**city, "name": _prop("Björgvin")}
    assert (await api.post(E, json=other, headers=home)).status_code == 201
    assert await _ids(api, 'locatedAt{name}=="Björgvin"', headers=home) == [B1]
    assert await _ids(api, 'locatedAt{name}=="Björgvin"') == []
    assert await _ids(api, q) == [B1, B2]
    joined = await api.get(E, params={"id": B1, "q": q, "join": "inline", "format": "keyValues"})
    assert joined.json()[0]["locatedAt"]["name"] == "Bergen"


ALIASES_URL = "https://contexts.example.org/linked-q.jsonld"


async def test_names_and_types_are_the_requests_terms(api: httpx.AsyncClient, hub: HubState, town: None) -> None:
    """With a Link @context the relationship, the attribute and the hinted type are the client's terms."""
    default = hub.contexts.translation({"unused": "urn:unused"}).default  # how the stored names expand
    terms = {"site": default.expand("locatedAt"), "label": default.expand("name"), "Town": default.expand("City")}
    terms["Edifice"] = default.expand("Building")
    hub.contexts.add(ALIASES_URL, {"@context": terms}, ContextKind.CACHED)
    params = {"type": "Edifice", "q": 'site{Town:label}=="Oslo"', "join": "flat", "pick": "id"}
    response = await api.get(E, params=params, headers={"Link": context_link(ALIASES_URL)})
    assert response.status_code == 200, response.text
    assert response.json() == [{"id": B1}, {"id": B2}]  # a Relationship that pick leaves out is not joined
    params["q"] = 'site{Edifice:label}=="Oslo"'  # the hint is translated as a type: Building
    response = await api.get(E, params=params, headers={"Link": context_link(ALIASES_URL)})
    assert response.json() == []


TEMPORAL = "/ngsi-ld/v1/temporal/entities"


async def test_temporal_queries_refuse_linked_q(api: httpx.AsyncClient, town: None) -> None:
    """The temporal API retrieves no linked entities: a q on them is a 400 (5.7.4.4; ETSI 5741_01_03)."""
    window = {"timerel": "after", "timeAt": "2020-01-01T00:00:00Z"}
    response = await api.get(TEMPORAL, params={**window, "type": "Building", "q": 'owner{name}=="x"'})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == BAD_REQUEST
    assert response.json()["detail"] == (
        "q: owner{name} filters on linked entities, which temporal queries do not retrieve"
    )
    body = {"type": "Query", "entities": [{"type": "Building"}], "q": 'locatedAt{name}=="Oslo"', "temporalQ": window}
    posted = await api.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    assert posted.status_code == 400, posted.text
    assert posted.json()["detail"].startswith("q: locatedAt{name} filters on linked entities")
    plain = await api.get(TEMPORAL, params={**window, "type": "Building", "q": "height>50"})
    assert plain.status_code == 200, plain.text
    assert plain.json() == []  # the town's buildings have no history: no instance in the window, not an answer
