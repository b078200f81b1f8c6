"""The walking skeleton's read side: GET /ngsi-ld/v1/entities after a demo harvest."""

from __future__ import annotations

import httpx
import orjson
import pytest

from harvester.run import Harvester
from harvester.store import RunStatus
from ngsi.context import CORE_CONTEXT
from schemas.findings import Severity
from schemas.ngsild import check_entity

pytestmark = pytest.mark.anyio
TYPE = "BikeHireDockingStation"


@pytest.fixture
async def harvested(harvester: Harvester) -> None:
    for source in ("oslo-bysykkel-demo", "bergen-bysykkel-demo", "trondheim-bysykkel-demo"):
        report = await harvester.run(source)
        assert report.status is RunStatus.SUCCEEDED, report.error


async def test_entities_by_type_normalized_with_core_context_link(api: httpx.AsyncClient, harvested: None) -> None:
    response = await api.get("/ngsi-ld/v1/entities", params={"type": TYPE, "limit": 1000, "count": "true"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert CORE_CONTEXT in response.headers["link"]
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in response.headers["link"]
    entities = response.json()
    assert len(entities) == 230
    assert response.headers["ngsild-results-count"] == "230"
    assert {e["id"].split(":")[3] for e in entities} == {"oslo", "bergen", "trondheim"}
    for entity in entities:
        assert entity["type"] == TYPE
        assert entity["location"]["type"] == "GeoProperty"
        assert entity["availableBikeNumber"]["type"] == "Property"
        assert "@context" not in entity
        assert [f for f in check_entity(entity) if f.severity is Severity.ERROR] == []


async def test_ld_json_puts_the_context_in_the_body(api: httpx.AsyncClient, harvested: None) -> None:
    response = await api.get(
        "/ngsi-ld/v1/entities", params={"type": TYPE, "limit": 2}, headers={"Accept": "application/ld+json"}
    )
    assert response.headers["content-type"] == "application/ld+json"
    assert "link" not in response.headers or CORE_CONTEXT not in response.headers.get("link", "")
    assert [e["@context"] for e in response.json()] == [CORE_CONTEXT, CORE_CONTEXT]


async def test_tenant_selects_one_city_and_unknown_tenant_is_404(api: httpx.AsyncClient, harvested: None) -> None:
    response = await api.get(
        "/ngsi-ld/v1/entities", params={"type": TYPE, "limit": 1000}, headers={"NGSILD-Tenant": "bergen"}
    )
    assert response.status_code == 200
    assert response.headers["ngsild-tenant"] == "bergen"
    assert len(response.json()) == 60
    missing = await api.get("/ngsi-ld/v1/entities", params={"type": TYPE}, headers={"NGSILD-Tenant": "atlantis"})
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/NonexistentTenant"


async def test_paging_links_and_stable_order(api: httpx.AsyncClient, harvested: None) -> None:
    page1 = await api.get("/ngsi-ld/v1/entities", params={"type": TYPE, "limit": 100})
    page2 = await api.get("/ngsi-ld/v1/entities", params={"type": TYPE, "limit": 100, "offset": 100})
    ids1, ids2 = [e["id"] for e in page1.json()], [e["id"] for e in page2.json()]
    assert ids1 == sorted(ids1)
    assert not set(ids1) & set(ids2)
    assert 'rel="next"' in page1.headers["link"]
    assert "offset=100" in page1.headers["link"]
    assert 'rel="prev"' in page2.headers["link"]


async def test_retrieve_one_and_key_values(api: httpx.AsyncClient, harvested: None) -> None:
    [first] = (await api.get("/ngsi-ld/v1/entities", params={"type": TYPE, "limit": 1})).json()
    one = await api.get(f"/ngsi-ld/v1/entities/{first['id']}")
    assert one.status_code == 200
    assert one.json() == first
    kv = await api.get(f"/ngsi-ld/v1/entities/{first['id']}", params={"format": "keyValues"})
    body = kv.json()
    assert body["availableBikeNumber"] == first["availableBikeNumber"]["value"]
    assert body["location"] == first["location"]["value"]
    concise = (await api.get(f"/ngsi-ld/v1/entities/{first['id']}", params={"options": "concise"})).json()
    assert concise["location"] == first["location"]["value"]
    assert concise["availableBikeNumber"] == {k: v for k, v in first["availableBikeNumber"].items() if k != "type"}
    assert concise["totalSlotNumber"] == first["totalSlotNumber"]["value"]


@pytest.mark.parametrize(
    ("params", "headers", "status", "problem", "needle"),
    [
        ({}, {}, 400, "BadRequestData", "at least one of type"),
        ({"type": TYPE, "limit": 5000}, {}, 400, "BadRequestData", "limit"),
        ({"type": TYPE, "limit": 0}, {}, 400, "BadRequestData", "count=true"),
        ({"type": TYPE, "limit": "ten"}, {}, 400, "BadRequestData", "limit"),
        ({"id": "not a uri"}, {}, 400, "BadRequestData", "absolute URI"),
        ({"type": TYPE, "format": "fancy"}, {}, 400, "InvalidRequest", "fancy"),
        ({"type": TYPE, "options": "keyValues,fancy"}, {}, 400, "InvalidRequest", "fancy"),
        ({"type": TYPE, "attrs": "id,type"}, {}, 400, "BadRequestData", "entity member"),
        ({"type": TYPE}, {"Accept": "text/html"}, 406, "NotAcceptable", "text/html"),
        ({"type": TYPE, "georel": "near;maxDistance==500"}, {}, 400, "BadRequestData", "geometry, coordinates missing"),
        ({"type": TYPE, "q": "availableBikeNumber>5;)"}, {}, 400, "BadRequestData", "position"),
        ({"type": TYPE, "idPattern": "(a+)+$"}, {}, 400, "BadRequestData", "backtrack"),
        ({"idPattern": ".*"}, {}, 400, "BadRequestData", "too wide"),
        ({"id": "urn:a,urn:b"}, {}, 400, "BadRequestData", "too wide"),
    ],
)
async def test_bad_queries_get_etsi_problems(
    api: httpx.AsyncClient,
    params: dict[str, object],
    headers: dict[str, str],
    status: int,
    problem: str,
    needle: str,
) -> None:
    response = await api.get("/ngsi-ld/v1/entities", params=params, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = orjson.loads(response.content)
    assert body["type"] == f"https://uri.etsi.org/ngsi-ld/errors/{problem}"
    assert body["status"] == status
    assert needle in body["detail"]


async def test_unknown_entity_is_resource_not_found(api: httpx.AsyncClient, harvested: None) -> None:
    response = await api.get("/ngsi-ld/v1/entities/urn:ngsi-ld:BikeHireDockingStation:nowhere:1")
    assert response.status_code == 404
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    [first] = (await api.get("/ngsi-ld/v1/entities", params={"type": TYPE, "limit": 1})).json()
    wrong_type = await api.get(f"/ngsi-ld/v1/entities/{first['id']}", params={"type": "Vehicle"})
    assert wrong_type.status_code == 404


async def test_q_filters_on_indexed_values(api: httpx.AsyncClient, harvested: None) -> None:
    everything = (await api.get("/ngsi-ld/v1/entities", params={"type": TYPE, "limit": 1000})).json()
    expected = sorted(
        e["id"] for e in everything if e["availableBikeNumber"]["value"] > 5 and e["status"]["value"] == "working"
    )
    response = await api.get(
        "/ngsi-ld/v1/entities",
        params={"type": TYPE, "q": 'availableBikeNumber>5;status=="working"', "limit": 1000, "count": "true"},
    )
    assert response.status_code == 200
    assert [e["id"] for e in response.json()] == expected
    assert response.headers["ngsild-results-count"] == str(len(expected))
    assert 0 < len(expected) < len(everything)


async def test_id_pattern(api: httpx.AsyncClient, harvested: None) -> None:
    response = await api.get("/ngsi-ld/v1/entities", params={"type": "*", "idPattern": ".*:bergen:.*", "limit": 1000})
    assert len(response.json()) == 60


@pytest.mark.anonymous_writes
async def test_member_city_without_entities_and_a_provisioned_tenant_are_known(api: httpx.AsyncClient) -> None:
    empty = await api.get("/ngsi-ld/v1/entities", params={"type": TYPE}, headers={"NGSILD-Tenant": "tromso"})
    assert empty.status_code == 200  # a member city is a tenant before its first harvest
    assert empty.json() == []
    entity = {"id": "urn:ngsi-ld:Thing:lab:1", "type": "Thing", "size": {"type": "Property", "value": 3}}
    created = await api.post("/ngsi-ld/v1/entities", json=entity, headers={"NGSILD-Tenant": "lab"})
    assert created.status_code == 201, created.text
    found = await api.get("/ngsi-ld/v1/entities", params={"type": "Thing"}, headers={"NGSILD-Tenant": "lab"})
    assert [e["id"] for e in found.json()] == [entity["id"]]
    gone = await api.get("/ngsi-ld/v1/entities", params={"type": "Thing"}, headers={"NGSILD-Tenant": "lab2"})
    assert gone.status_code == 404
