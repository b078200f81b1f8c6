"""Characters no stored id or name can hold: NUL anywhere in a request, controls and URI-excluded characters in
entity ids, type names that no type query could name; a Location header that names its entity intact; the cap on a
Query body's EntitySelectors; 405 naming the methods a resource takes."""

from __future__ import annotations

import httpx
import orjson
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"
ENTITIES = "/ngsi-ld/v1/entities"
JSON = {"Content-Type": "application/json"}


async def _refused(response: httpx.Response, needle: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == ETSI + "BadRequestData"
    assert needle in response.json()["detail"]


async def test_a_nul_character_is_refused_wherever_a_request_names_it(api: httpx.AsyncClient) -> None:
    """PostgreSQL text cannot hold NUL (a 500 there, stored silently on SQLite): refused before anything reads it."""
    await _refused(await api.get(ENTITIES, params={"type": "T\x00x"}), "NUL character (U+0000) in the query string")
    await _refused(await api.get(f"{ENTITIES}/urn:ngsi-ld:T:%00"), "NUL character (U+0000) in the path")
    await _refused(await api.get("/ngsi-ld/v1/types/T%00"), "in the path")
    body = b'{"id": "urn:ngsi-ld:T:nul", "type": "T", "name": {"type": "Property", "value": "a\\u0000b"}}'
    await _refused(await api.post(ENTITIES, content=body, headers=JSON), "NUL character (\\u0000) in the JSON body")
    assert (await api.get(f"{ENTITIES}/urn:ngsi-ld:T:nul")).status_code == 404  # nothing was stored
    escaped = b'{"id": "urn:ngsi-ld:T:nul", "type": "T", "name": {"type": "Property", "value": "a\\\\u0000b"}}'
    stored = await api.post(ENTITIES, content=escaped, headers=JSON)  # a backslash, then the text u0000: fine
    assert stored.status_code == 201, stored.text
    assert (await api.get(f"{ENTITIES}/urn:ngsi-ld:T:nul")).json()["name"]["value"] == "a\\u0000b"


@pytest.mark.parametrize(
    ("entity_id", "needle"),
    [
        ("urn:ngsi-ld:T:c\nz", "U+000A at position 15"),
        ("urn:ngsi-ld:T:c\u0001z", "U+0001"),
        ("urn:ngsi-ld:T:c\u2028z", "U+2028"),
        ("urn:ngsi-ld:T:c<z>", "U+003C"),
        ("urn:ngsi-ld:T:a|b", "U+007C"),
        ("urn:ngsi-ld:T:tab\tx", "U+0009"),
    ],
)
async def test_an_id_with_a_character_no_uri_holds_is_refused_and_not_stored(
    api: httpx.AsyncClient, entity_id: str, needle: str
) -> None:
    """Such an entity could never be named in a request path (nor its Location header written: the connection
    dropped or a 500, with the entity stored all the same)."""
    await _refused(await api.post(ENTITIES, json={"id": entity_id, "type": "T"}), needle)
    batch = await api.post("/ngsi-ld/v1/entityOperations/create", json=[{"id": entity_id, "type": "T"}])
    assert batch.status_code in (400, 207), batch.text
    temporal = await api.post("/ngsi-ld/v1/temporal/entities", json={"id": entity_id, "type": "T"})
    assert temporal.status_code == 400, temporal.text
    listed = await api.get(ENTITIES, params={"type": "T"})
    assert listed.json() == []


async def test_the_location_header_names_the_entity_percent_encoded(api: httpx.AsyncClient) -> None:
    for entity_id in ("urn:ngsi-ld:T:q?x=1#frag", "urn:ngsi-ld:T:Ærø", "urn:ngsi-ld:T:50%"):
        created = await api.post(ENTITIES, json={"id": entity_id, "type": "T"})
        assert created.status_code == 201, created.text
        where = created.headers["location"]
        assert where.isascii()
        assert "?" not in where and "#" not in where  # noqa: PT018
        fetched = await api.get(where)
        assert fetched.status_code == 200, (where, fetched.text)
        assert fetched.json()["id"] == entity_id
    temporal = await api.post("/ngsi-ld/v1/temporal/entities", json={"id": "urn:ngsi-ld:T:t?1", "type": "T"})
    assert temporal.headers["location"] == "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:T:t%3F1"


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("T with space", "'T with space' is not a type name"),
        (["Shop", "B;C"], "'B;C' is not a type name"),
        ("*", "'*' is not a type name"),
        ("T\nx", "is not a type name"),
    ],
)
async def test_a_type_no_type_query_could_name_is_refused(
    api: httpx.AsyncClient, kind: str | list[str], needle: str
) -> None:
    await _refused(await api.post(ENTITIES, json={"id": "urn:ngsi-ld:T:typed", "type": kind}), needle)


async def test_an_attribute_name_with_a_control_character_is_refused(api: httpx.AsyncClient) -> None:
    body = {"id": "urn:ngsi-ld:T:attr", "type": "T", "a\u0001b": {"type": "Property", "value": 1}}
    await _refused(await api.post(ENTITIES, json=body), "is not a valid attribute name")


async def test_a_query_body_with_too_many_entity_selectors_is_too_complex(api: httpx.AsyncClient) -> None:
    """About 1,000 selectors made SQLite refuse the expression tree (a 500); 100 are the limit, before any SQL."""
    for path in ("/ngsi-ld/v1/entityOperations/query", "/ngsi-ld/v1/temporal/entityOperations/query"):
        many = {"type": "Query", "entities": [{"type": f"T{i}"} for i in range(101)]}
        response = await api.post(path, content=orjson.dumps(many), headers=JSON)
        assert response.status_code == 403, response.text
        assert response.json()["type"] == ETSI + "TooComplexQuery"
        assert "101 EntitySelectors, more than the limit of 100" in response.json()["detail"]
        enough = {"type": "Query", "entities": [{"type": f"T{i}"} for i in range(100)]}
        assert (await api.post(path, content=orjson.dumps(enough), headers=JSON)).status_code == 200


async def test_a_method_a_resource_does_not_take_is_405_naming_those_it_takes(api: httpx.AsyncClient) -> None:
    response = await api.delete(ENTITIES)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["type"] == ETSI + "InvalidRequest"
    assert "it takes GET, POST" in response.json()["detail"]
