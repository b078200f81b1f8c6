"""q absence (``q=!attr``): the entities that do NOT have an attribute, a sub-attribute or a key, alone and with
``;``, ``|`` and parentheses, in GET /entities, POST /entityOperations/query and the temporal API; and what is
refused (an operator after ``!``, ``!`` before a group, ``!`` in orderBy)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

E = "/ngsi-ld/v1/entities"
QUERY = "/ngsi-ld/v1/entityOperations/query"
TEMPORAL = "/ngsi-ld/v1/temporal/entities"
BAD_REQUEST = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
V1, V2, V3, V4, V5 = (f"urn:ngsi-ld:Vehicle:abs{i}" for i in range(1, 6))
SEEN = "2024-05-01T10:00:00Z"


def _prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


@pytest.fixture
async def fleet(api: httpx.AsyncClient) -> None:
    """V1 speed (observed) and status; V2 speed (no observedAt); V3 status only; V4 an address with a locality;
    V5 speed (observed) only as a datasetId instance, and an address without a locality."""
    for entity in (
        {"id": V1, "type": "Vehicle", "speed": _prop(10, observedAt=SEEN), "status": _prop("ok")},
        {"id": V2, "type": "Vehicle", "speed": _prop(5)},
        {"id": V3, "type": "Vehicle", "status": _prop("ok")},
        {"id": V4, "type": "Vehicle", "address": _prop({"addressLocality": "Oslo"})},
        {
            "id": V5,
            "type": "Vehicle",
            "speed": _prop(7, datasetId="urn:ngsi-ld:Dataset:gps", observedAt=SEEN),
            "address": _prop({"streetAddress": "Gate 1"}),
        },
    ):
        assert (await api.post(E, json=entity)).status_code == 201


async def _ids(api: httpx.AsyncClient, q: str, **params: Any) -> list[str]:
    response = await api.get(E, params={"type": "Vehicle", "q": q, **params})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("!speed", [V3, V4]),  # a datasetId instance (V5) is the attribute present
        ("speed", [V1, V2, V5]),  # absence and existence split the entities
        ("!speed.observedAt", [V2, V3, V4]),  # no such sub-attribute, or no speed at all
        ("!address[addressLocality]", [V1, V2, V3, V5]),
        ("!speed;!status", [V4]),
        ("!speed;status", [V3]),
        ("!speed|speed>7", [V1, V3, V4]),
        ("(!status|speed<7);!address", [V2]),
        ("(!speed)", [V3, V4]),  # parentheses around a negated term
        ("((!speed|!status);!address)", [V2, V3]),
        ("!nothing", [V1, V2, V3, V4, V5]),
        ("!speed;speed", []),
    ],
)
async def test_absence_selects_the_entities_without_it(
    api: httpx.AsyncClient, fleet: None, q: str, expected: list[str]
) -> None:
    assert await _ids(api, q) == expected


async def test_absence_alone_is_a_selector_and_counts_match_the_pages(api: httpx.AsyncClient, fleet: None) -> None:
    response = await api.get(E, params={"q": "!speed;!status", "count": "true"})
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == [V4]
    assert response.headers["NGSILD-Results-Count"] == "1"
    first = await api.get(E, params={"type": "Vehicle", "q": "!status", "count": "true", "limit": 2})
    second = await api.get(E, params={"type": "Vehicle", "q": "!status", "count": "true", "limit": 2, "offset": 2})
    assert first.headers["NGSILD-Results-Count"] == second.headers["NGSILD-Results-Count"] == "3"
    assert [e["id"] for e in first.json() + second.json()] == [V2, V4, V5]


async def test_absence_in_a_query_body(api: httpx.AsyncClient, fleet: None) -> None:
    body = {"type": "Query", "entities": [{"type": "Vehicle"}], "q": "!speed|speed<6"}
    response = await api.post(QUERY, json=body)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == [V2, V3, V4]


async def test_absence_selects_temporal_entities_on_their_current_state(api: httpx.AsyncClient, fleet: None) -> None:
    response = await api.get(TEMPORAL, params={"type": "Vehicle", "q": "!status", "attrs": "speed"})
    assert response.status_code == 200, response.text
    # V2 and V4 lack status too, but have no speed observed: a temporal query answers entities with history
    assert [e["id"] for e in response.json()] == [V5]
    assert [i["value"] for i in response.json()[0]["speed"]] == [7]


@pytest.mark.parametrize(
    ("q", "detail"),
    [
        ("!speed>3", "q: '!' tests that an attribute is absent and takes no operator (found '>')"),
        ('!status=="ok"', "q: '!' tests that an attribute is absent and takes no operator (found '==')"),
        ("speed;!(status|address)", "q: '!' negates one attribute's existence ('!speed'), not a group"),
        ("!!speed", "q: unexpected '!' at position 1, expected an attribute name"),
        ("speed!", "q: unexpected '!' at position 5"),
    ],
)
async def test_malformed_absence_is_bad_request_data_naming_it(
    api: httpx.AsyncClient, fleet: None, q: str, detail: str
) -> None:
    response = await api.get(E, params={"type": "Vehicle", "q": q})
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == BAD_REQUEST
    assert problem["detail"].startswith(detail), problem["detail"]


async def test_order_by_takes_no_negated_path(api: httpx.AsyncClient, fleet: None) -> None:
    response = await api.get(E, params={"type": "Vehicle", "orderBy": "!speed"})
    assert response.status_code == 400
    assert response.json()["type"] == BAD_REQUEST
    detail = response.json()["detail"]
    assert detail.startswith("orderBy: '!speed' is not an attribute path"), detail
