"""Entities a projection would empty (clause 4.21) in GET /entities and POST /entityOperations/query: attrs
selects the entities with one of its attributes; a pick or omit only shapes, except that an entity it would leave
empty ({}: a pick without id and type of attributes it lacks, an omit of id, type and all it has) is not answered;
NGSILD-Results-Count and the pages agree with what is returned, in normalized, keyValues and GeoJSON; a GeoJSON
Feature of an entity whose id is omitted has no id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

E = "/ngsi-ld/v1/entities"
QUERY = "/ngsi-ld/v1/entityOperations/query"
GEO = {"Accept": "application/geo+json"}
S1, S2, S3, S4 = (f"urn:ngsi-ld:Shop:emp{i}" for i in range(1, 5))
POINT = {"type": "Point", "coordinates": [10.75, 59.91]}


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


@pytest.fixture
async def shops(api: httpx.AsyncClient) -> None:
    """S1 name, area and location; S2 name only; S3 area only; S4 name and a scope."""
    for entity in (
        {
            "id": S1,
            "type": "Shop",
            "name": _prop("One"),
            "area": _prop(10),
            "location": {"type": "GeoProperty", "value": POINT},
        },
        {"id": S2, "type": "Shop", "name": _prop("Two")},
        {"id": S3, "type": "Shop", "area": _prop(30)},
        {"id": S4, "type": "Shop", "name": _prop("Four"), "scope": "/Nordic/NO/oslo"},
    ):
        assert (await api.post(E, json=entity)).status_code == 201


async def _get(api: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
    response = await api.get(E, params={"type": "Shop", "count": "true", **params}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response


KV = {"format": "keyValues"}
SCOPE = "/Nordic/NO/oslo"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # a pick is no attrs: an entity without the picked attribute keeps what else is picked
        ({"pick": "id,area", **KV}, [{"id": S1, "area": 10}, {"id": S2}, {"id": S3, "area": 30}, {"id": S4}]),
        ({"pick": "id,type,nothing"}, [{"id": i, "type": "Shop"} for i in (S1, S2, S3, S4)]),
        # ... but one it would leave empty is not answered, nor counted
        ({"pick": "area", **KV}, [{"area": 10}, {"area": 30}]),
        ({"pick": "area|nothing", **KV}, [{"area": 10}, {"area": 30}]),
        ({"pick": "nothing"}, []),
        ({"pick": "scope,area", **KV}, [{"area": 10}, {"area": 30}, {"scope": SCOPE}]),
        # attrs is pick plus existence
        ({"attrs": "area", **KV}, [{"id": S1, "type": "Shop", "area": 10}, {"id": S3, "type": "Shop", "area": 30}]),
        # an omit empties only when it takes id and type too
        ({"omit": "id,type,name,location", **KV}, [{"area": 10}, {"area": 30}, {"scope": SCOPE}]),
        ({"omit": "id,type,name,location,scope", **KV}, [{"area": 10}, {"area": 30}]),
        ({"omit": "type,name,area,location,scope", **KV}, [{"id": i} for i in (S1, S2, S3, S4)]),
    ],
)
async def test_the_answer_and_its_count_hold_only_what_is_returned(
    api: httpx.AsyncClient, shops: None, params: dict[str, str], expected: list[dict[str, Any]]
) -> None:
    response = await _get(api, **params)
    assert response.json() == expected
    assert response.headers["NGSILD-Results-Count"] == str(len(expected))


async def test_pages_and_links_agree_with_the_count(api: httpx.AsyncClient, shops: None) -> None:
    first = await _get(api, pick="area", limit=1)
    second = await _get(api, pick="area", limit=1, offset=1)
    assert first.headers["NGSILD-Results-Count"] == second.headers["NGSILD-Results-Count"] == "2"
    assert [e["area"]["value"] for e in first.json() + second.json()] == [10, 30]
    assert 'rel="next"' in first.headers["Link"]
    assert 'rel="next"' not in second.headers.get("Link", "")
    only_count = await _get(api, pick="area", limit=0)
    assert only_count.json() == []
    assert only_count.headers["NGSILD-Results-Count"] == "2"


async def test_geojson_features_follow_the_same_rule(api: httpx.AsyncClient, shops: None) -> None:
    picked = await _get(api, GEO, pick="area,location", format="keyValues")
    features = picked.json()["features"]
    assert all("id" not in f for f in features)
    assert picked.headers["NGSILD-Results-Count"] == "2"
    assert features[0]["geometry"] == POINT
    assert features[0]["properties"] == {"area": 10, "location": POINT}
    assert features[1]["geometry"] is None


async def test_geojson_features_have_no_id_when_it_is_omitted(api: httpx.AsyncClient, shops: None) -> None:
    response = await _get(api, GEO, omit="id")
    features = response.json()["features"]
    assert len(features) == 4
    assert all("id" not in f for f in features)
    assert features[0]["type"] == "Feature"
    assert features[0]["geometry"] == POINT
    assert features[0]["properties"]["type"] == "Shop"
    assert features[0]["properties"]["area"] == _prop(10)
    emptied = await _get(api, GEO, omit="id,type,name,location,scope")
    assert [f["properties"] for f in emptied.json()["features"]] == [{"area": _prop(10)}, {"area": _prop(30)}]
    assert emptied.headers["NGSILD-Results-Count"] == "2"


async def test_a_query_body_projection_selects_the_same(api: httpx.AsyncClient, shops: None) -> None:
    body = {"type": "Query", "entities": [{"type": "Shop"}], "pick": ["area"]}
    response = await api.post(QUERY, json=body, params={"count": "true", "format": "keyValues"})
    assert response.status_code == 200, response.text
    assert response.json() == [{"area": 10}, {"area": 30}]
    assert response.headers["NGSILD-Results-Count"] == "2"
    body = {"type": "Query", "entities": [{"type": "Shop"}], "omit": "id,type,area,location,scope"}
    response = await api.post(QUERY, json=body, params={"count": "true", "format": "keyValues"})
    assert response.json() == [{"name": "One"}, {"name": "Two"}, {"name": "Four"}]
    assert response.headers["NGSILD-Results-Count"] == "3"


async def test_sys_attrs_keep_an_entity_whose_id_and_type_are_omitted(api: httpx.AsyncClient, shops: None) -> None:
    response = await _get(api, omit="id,type,name,area,location,scope", options="sysAttrs")
    assert response.headers["NGSILD-Results-Count"] == "4"
    assert all(sorted(e) == ["createdAt", "modifiedAt"] for e in response.json())
