"""``/openapi.json`` describes the NGSI-LD API as it answers: request bodies and their media types, the statuses
each operation gives (and no others), the headers it reads and the bounds of its parameters. Where a body is
described, real answers and real entities are validated against the description too."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from harvester.run import Harvester
from harvester.store import RunStatus

# A broker behind an access proxy: writes need no key here (tests/api/test_authz.py covers the keys).
pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]
V1 = "/ngsi-ld/v1"
PROVISION = ("application/json", "application/ld+json", "application/merge-patch+json")
JSON_ONLY = ("application/json", "application/ld+json")
# Every NGSI-LD write that reads a body: (method, path) → the media types it accepts (api.ngsild_http.BODY_TYPES,
# api.temporal_write.json_object, api.routers.ngsild_contexts.add_context).
WRITES = {
    ("post", "/entities"): PROVISION,
    ("put", "/entities/{entity_id}"): PROVISION,
    ("patch", "/entities/{entity_id}"): PROVISION,
    ("post", "/entities/{entity_id}/attrs"): PROVISION,
    ("patch", "/entities/{entity_id}/attrs"): PROVISION,
    ("patch", "/entities/{entity_id}/attrs/{attr}"): PROVISION,
    ("post", "/entityOperations/{operation}"): PROVISION,
    ("post", "/temporal/entities"): JSON_ONLY,
    ("post", "/temporal/entities/{entity_id}/attrs"): JSON_ONLY,
    ("patch", "/temporal/entities/{entity_id}/attrs/{attr}/{instance_id}"): JSON_ONLY,
    ("post", "/jsonldContexts"): JSON_ONLY,
}
READS = {
    ("get", "/entities"),
    ("get", "/entities/{entity_id}"),
    ("get", "/temporal/entities"),
    ("get", "/temporal/entities/{entity_id}"),
    ("get", "/types"),
    ("get", "/attributes"),
    ("get", "/jsonldContexts"),
    ("get", "/jsonldContexts/{context_id}"),
}
QUERIES = {("post", "/entityOperations/query"), ("post", "/temporal/entityOperations/query")}


@pytest.fixture
async def spec(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["paths"][V1 + path][method]
    return found


def _statuses(operation: dict[str, Any]) -> set[int]:
    return {int(status) for status in operation["responses"]}


def _successes(operation: dict[str, Any]) -> set[int]:
    return {status for status in _statuses(operation) if status < 300}


def _header_names(operation: dict[str, Any]) -> set[str]:
    return {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}


def _schema(operation: dict[str, Any], status: int | None = None, media: str = "application/json") -> Any:
    holder = operation["requestBody"] if status is None else operation["responses"][str(status)]
    return holder["content"][media]["schema"]


async def test_every_write_describes_its_body_and_the_media_types_it_reads(spec: dict[str, Any]) -> None:
    for (method, path), types in WRITES.items():
        body = _operation(spec, method, path).get("requestBody")
        assert body is not None, (method, path)
        assert body["required"] is True
        assert tuple(body["content"]) == types, (method, path)
        assert all(content["schema"] for content in body["content"].values())
    # every NGSI-LD POST, PUT or PATCH is either a described write or a query with its Query body
    described = {(m, p.removeprefix(V1)) for p, item in spec["paths"].items() if p.startswith(V1) for m in item}
    with_body = {(m, p) for m, p in described if m in ("post", "put", "patch")}
    assert with_body == set(WRITES) | QUERIES


async def test_the_entity_schemas_ask_what_the_routes_ask(spec: dict[str, Any]) -> None:
    create = Draft202012Validator(_schema(_operation(spec, "post", "/entities")))
    entity = {
        "id": "urn:ngsi-ld:Thing:1",
        "type": "Thing",
        "scope": "/Nordic/NO",
        "speed": {"type": "Property", "value": 3, "observedAt": "2025-01-01T10:00:00Z", "unitCode": "KMH"},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
        "twoSources": [
            {"type": "Property", "value": 1},
            {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:b"},
        ],
        "concise": 12,
    }
    assert create.is_valid(entity)
    assert not create.is_valid({"type": "Thing"})  # no id: 400 from the route too
    assert not create.is_valid({"id": "urn:ngsi-ld:Thing:1"})  # no type
    merge = Draft202012Validator(_schema(_operation(spec, "patch", "/entities/{entity_id}")))
    assert merge.is_valid({"speed": {"type": "Property", "value": 4}})  # a fragment: no id or type needed
    replace = Draft202012Validator(_schema(_operation(spec, "put", "/entities/{entity_id}")))
    assert replace.is_valid({"type": "Thing"})
    assert not replace.is_valid({"speed": 1})
    batch = _operation(spec, "post", "/entityOperations/{operation}")
    operation = next(p for p in batch["parameters"] if p["name"] == "operation")
    assert operation["schema"]["enum"] == ["create", "upsert", "update", "merge", "delete"]
    many = Draft202012Validator(_schema(batch))
    assert many.is_valid([entity])
    assert many.is_valid(["urn:ngsi-ld:Thing:1"])
    assert not many.is_valid([])
    assert not many.is_valid(entity)
    temporal = Draft202012Validator(_schema(_operation(spec, "post", "/temporal/entities")))
    history = {"id": "urn:ngsi-ld:Thing:1", "type": "Thing", "speed": [{"type": "Property", "value": 1}]}
    assert temporal.is_valid(history)
    assert not temporal.is_valid({**history, "speed": 3})  # an instance is an object: 400 from the route too


async def test_every_entity_the_hub_serves_is_a_valid_create_body(
    api: httpx.AsyncClient, harvester: Harvester, spec: dict[str, Any]
) -> None:
    """What the hub answers (normalized with its @context, concise, keyValues) it accepts back."""
    report = await harvester.run("oslo-bysykkel-demo")
    assert report.status is RunStatus.SUCCEEDED, report.error
    validator = Draft202012Validator(_schema(_operation(spec, "post", "/entities"), media="application/ld+json"))
    served = 0
    for fmt in ("normalized", "concise", "keyValues"):
        params = {"type": "BikeHireDockingStation", "format": fmt, "options": "sysAttrs", "limit": 1000}
        response = await api.get(f"{V1}/entities", params=params, headers={"Accept": "application/ld+json"})
        assert response.status_code == 200
        for entity in response.json():
            errors = [e.message for e in validator.iter_errors(entity)]
            assert errors == [], (fmt, entity["id"], errors)
            served += 1
    assert served > 100


async def test_writes_list_only_the_statuses_they_answer(spec: dict[str, Any]) -> None:
    create = _operation(spec, "post", "/entities")
    assert _successes(create) == {201}
    assert 409 in _statuses(create)
    assert "location" in {h.lower() for h in create["responses"]["201"]["headers"]}
    for method, path in (
        ("put", "/entities/{entity_id}"),
        ("patch", "/entities/{entity_id}"),
        ("delete", "/entities/{entity_id}"),
        ("patch", "/entities/{entity_id}/attrs/{attr}"),
        ("delete", "/entities/{entity_id}/attrs/{attr}"),
    ):
        operation = _operation(spec, method, path)
        assert _successes(operation) == {204}, (method, path)
        assert 409 not in _statuses(operation)
        assert 207 not in _statuses(operation)
    for method in ("post", "patch"):
        attrs = _operation(spec, method, "/entities/{entity_id}/attrs")
        assert _successes(attrs) == {204, 207}
        assert _schema(attrs, 207)["required"] == ["updated", "notUpdated"]
    batch = _operation(spec, "post", "/entityOperations/{operation}")
    assert _successes(batch) == {201, 204, 207}
    assert _schema(batch, 201)["type"] == "array"
    assert _schema(batch, 207)["required"] == ["success", "errors"]
    assert _successes(_operation(spec, "post", "/temporal/entities")) == {201, 204}


async def test_problems_are_declared_per_kind_of_operation(spec: dict[str, Any]) -> None:
    for method, path in WRITES:
        statuses = _statuses(_operation(spec, method, path))
        assert {400, 411, 413, 415} <= statuses, (method, path)
        assert not {406, 422} & statuses, (method, path)  # writes do not negotiate
        if path != "/jsonldContexts":  # the context store reads no @context
            assert 504 in statuses, (method, path)
            assert "link" in _header_names(_operation(spec, method, path))
    for method, path in READS:
        statuses = _statuses(_operation(spec, method, path))
        assert not {401, 409, 411, 415} & statuses, (method, path)
    for method, path in READS - {("get", "/jsonldContexts"), ("get", "/jsonldContexts/{context_id}")}:
        operation = _operation(spec, method, path)
        assert {406, 504} <= _statuses(operation), (method, path)
        assert "link" in _header_names(operation), (method, path)
    for method, path in QUERIES:
        assert {411, 415, 504} <= _statuses(_operation(spec, method, path))
    for item in spec["paths"].values():  # FastAPI's own 422 (validation errors are 400 problems here)
        assert all(op["responses"].get("422", {}).get("description") != "Validation Error" for op in item.values())
    assert "HTTPValidationError" not in spec.get("components", {}).get("schemas", {})


async def test_queries_declare_203_geojson_and_prefer(spec: dict[str, Any]) -> None:
    media = {"application/json", "application/ld+json", "application/geo+json"}
    for method, path in (("get", "/entities"), ("get", "/entities/{entity_id}"), ("post", "/entityOperations/query")):
        operation = _operation(spec, method, path)
        assert {200, 203} <= _statuses(operation), (method, path)
        assert set(operation["responses"]["200"]["content"]) == media
        assert "prefer" in _header_names(operation)
    for method, path in (
        ("get", "/temporal/entities"),
        ("get", "/temporal/entities/{entity_id}"),
        ("post", "/temporal/entityOperations/query"),
    ):
        answers = _operation(spec, method, path)["responses"]
        assert set(answers["200"]["content"]) == {"application/json", "application/ld+json"}
        assert set(answers["206"]["content"]) == {"application/json", "application/ld+json"}
    served = _operation(spec, "get", "/jsonldContexts/{context_id}")["responses"]["200"]
    assert set(served["content"]) == {"application/ld+json"}


async def test_the_temporal_query_body_holds_only_what_it_reads(spec: dict[str, Any]) -> None:
    operation = _operation(spec, "post", "/temporal/entityOperations/query")
    for media in JSON_ONLY:
        schema = _schema(operation, media=media)
        assert not {"join", "joinLevel", "lang", "geometryProperty"} & set(schema["properties"])
        assert "required" not in schema["properties"]["entities"]["items"]
    entity_query = _schema(_operation(spec, "post", "/entityOperations/query"))
    assert entity_query["properties"]["entities"]["items"]["required"] == ["type"]  # there it is required
    assert {"join", "lang"} <= set(entity_query["properties"])


def _parameter(spec: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in _operation(spec, method, path)["parameters"] if p["name"] == name)
    return found


async def test_parameters_declare_the_bounds_and_values_checked(spec: dict[str, Any]) -> None:
    limit = _parameter(spec, "get", "/entities", "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (0, 1000)
    geometry = _parameter(spec, "get", "/entities", "geometryProperty")["schema"]
    assert "default" not in geometry
    assert "default" not in _parameter(spec, "get", "/entities/{entity_id}", "geometryProperty")["schema"]
    for method, path in (("get", "/temporal/entities"), ("post", "/temporal/entityOperations/query")):
        temporal_limit = _parameter(spec, method, path, "limit")["schema"]
        assert (temporal_limit["minimum"], temporal_limit["maximum"]) == (1, 1000)
        assert _parameter(spec, method, path, "lastN")["schema"]["minimum"] == 1  # beside anyOf: numbers only
        assert "normalized" in _parameter(spec, method, path, "format")["description"]
        assert "sysAttrs" in _parameter(spec, method, path, "options")["description"]
    assert "*" in _parameter(spec, "get", "/temporal/entities", "type")["description"]  # not read as a wildcard
    kind = _parameter(spec, "get", "/jsonldContexts", "kind")["description"]
    assert kind.startswith("Cached or Hosted")


async def test_described_answer_bodies_match_the_real_ones(api: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    thing = {"id": "urn:ngsi-ld:Thing:described", "type": "Thing", "speed": {"type": "Property", "value": 1}}
    batch = _operation(spec, "post", "/entityOperations/{operation}")
    created = await api.post(f"{V1}/entityOperations/create", json=[thing])
    assert created.status_code == 201
    Draft202012Validator(_schema(batch, 201)).validate(created.json())
    partly = await api.post(f"{V1}/entityOperations/create", json=[thing, 7])
    assert partly.status_code == 207
    Draft202012Validator(_schema(batch, 207)).validate(partly.json())
    assert partly.json()["errors"][1]["entityId"] is None
    attrs = _operation(spec, "post", "/entities/{entity_id}/attrs")
    kept = await api.post(
        f"{V1}/entities/{thing['id']}/attrs",
        params={"options": "noOverwrite"},
        json={"speed": {"type": "Property", "value": 2}, "name": {"type": "Property", "value": "n"}},
    )
    assert kept.status_code == 207
    Draft202012Validator(_schema(attrs, 207)).validate(kept.json())
    assert kept.json() == {
        "updated": ["name"],
        "notUpdated": [{"attributeName": "speed", "reason": "attribute exists and options=noOverwrite"}],
    }
    replaced = await api.put(f"{V1}/entities/{thing['id']}", json={"type": "Thing"})
    assert replaced.status_code in _successes(_operation(spec, "put", "/entities/{entity_id}"))
    unlinked = await api.get(f"{V1}/entities", params={"type": "Thing"}, headers={"Link": "<urn:x>; rel=other"})
    assert unlinked.status_code == 400
    assert 400 in _statuses(_operation(spec, "get", "/entities"))
    unknown = '<https://example.org/none.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'
    missing = await api.get(f"{V1}/entities", params={"type": "Thing"}, headers={"Link": unknown})
    assert missing.status_code == 504
    assert 504 in _statuses(_operation(spec, "get", "/entities"))
