"""Bad provision input is refused with 400 BadRequestData naming what and where, and stores nothing: foreign value
members, partial updates that change an attribute's type, bodies whose id contradicts the path, and batch items
(named by their position). Types sent to append/update/merge are added."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

BAD = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
E = "/ngsi-ld/v1/entities"
ID = "urn:ngsi-ld:Sensor:input:1"


def sensor(entity_id: str = ID, **extra: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Sensor",
        "temperature": {"type": "Property", "value": 2},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.75, 59.91]}},
        **extra,
    }


async def _stored(api: httpx.AsyncClient, entity_id: str = ID) -> dict[str, Any]:
    response = await api.get(f"{E}/{entity_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refused(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == BAD
    assert response.json()["detail"] == detail


@pytest.fixture
async def created(api: httpx.AsyncClient) -> dict[str, Any]:
    assert (await api.post(E, json=sensor())).status_code == 201
    return await _stored(api)


FOREIGN = {"type": "Property", "value": 1, "object": "urn:x:1"}
FOREIGN_DETAIL = "/p/object: a Property has no 'object' (a Relationship's member)"


async def test_a_foreign_value_member_is_refused_on_create_and_replace(
    api: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    _refused(await api.post(E, json=sensor("urn:ngsi-ld:Sensor:input:2", p=FOREIGN)), FOREIGN_DETAIL)
    assert (await api.get(f"{E}/urn:ngsi-ld:Sensor:input:2")).status_code == 404
    _refused(await api.put(f"{E}/{ID}", json={"type": "Sensor", "p": FOREIGN}), FOREIGN_DETAIL)
    assert await _stored(api) == created


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/attrs", {"p": FOREIGN}),
        ("PATCH", "/attrs", {"temperature": {"type": "Property", "value": 3, "languageMap": {"en": "x"}}}),
        ("PATCH", "", {"p": FOREIGN}),
        ("PATCH", "/attrs/temperature", {"vocab": "x"}),
    ],
)
async def test_a_foreign_value_member_is_refused_on_every_attribute_write(
    api: httpx.AsyncClient, created: dict[str, Any], method: str, path: str, body: dict[str, Any]
) -> None:
    response = await api.request(method, f"{E}/{ID}{path}", json=body)
    assert response.status_code == 400, response.text
    assert "has no '" in response.json()["detail"]
    assert await _stored(api) == created


@pytest.mark.parametrize("operation", ["create", "upsert", "update", "merge"])
async def test_a_foreign_value_member_fails_its_batch_item(
    api: httpx.AsyncClient, created: dict[str, Any], operation: str
) -> None:
    items = [sensor(ID if operation != "create" else "urn:ngsi-ld:Sensor:input:3", p=FOREIGN)]
    response = await api.post(f"/ngsi-ld/v1/entityOperations/{operation}", json=items)
    assert response.status_code == 207, response.text
    assert response.json()["errors"][0]["error"]["detail"] == f"item 0: {FOREIGN_DETAIL}"
    assert await _stored(api) == created


async def test_a_partial_update_that_changes_the_type_is_refused(
    api: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    fragment = {"type": "Relationship", "object": "urn:x:1"}
    _refused(
        await api.patch(f"{E}/{ID}/attrs/temperature", json=fragment),
        "/type: attribute 'temperature' is a Property; a partial update cannot make it a Relationship "
        "(replace the attribute to change its type)",
    )
    geo_to_language = {"type": "LanguageProperty", "languageMap": {"en": "x"}}
    assert (await api.patch(f"{E}/{ID}/attrs/location", json=geo_to_language)).status_code == 400
    assert await _stored(api) == created
    near = {"type": "Sensor", "georel": "near;maxDistance==10", "geometry": "Point", "coordinates": "[10.75,59.91]"}
    assert [e["id"] for e in (await api.get(E, params=near)).json()] == [ID]
    _refused(
        await api.patch(f"{E}/{ID}/attrs/temperature", json={}),
        "the fragment for attribute 'temperature' is empty: nothing to update",
    )


async def test_a_partial_update_of_the_same_type_still_merges(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    fragment = {"type": "Property", "value": 9, "unitCode": "CEL"}
    assert (await api.patch(f"{E}/{ID}/attrs/temperature", json=fragment)).status_code == 204
    assert (await _stored(api))["temperature"] == {"type": "Property", "value": 9, "unitCode": "CEL"}
    assert (await api.patch(f"{E}/{ID}/attrs/temperature", json={"value": 10})).status_code == 204
    assert [e["id"] for e in (await api.get(E, params={"type": "Sensor", "q": "temperature==10"})).json()] == [ID]


async def test_a_type_change_through_a_merge_replaces_the_attribute(
    api: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    merged = await api.patch(f"{E}/{ID}", json={"temperature": {"type": "Relationship", "object": "urn:x:1"}})
    assert merged.status_code == 204, merged.text
    assert (await _stored(api))["temperature"] == {"type": "Relationship", "object": "urn:x:1"}
    found = await api.get(E, params={"type": "Sensor", "q": 'temperature=="urn:x:1"'})
    assert [e["id"] for e in found.json()] == [ID]


async def test_a_body_id_other_than_the_path_is_refused(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    other = "urn:ngsi-ld:Sensor:other"
    detail = f"/id: {other!r} differs from the entity in the path ({ID!r})"
    _refused(await api.put(f"{E}/{ID}", json={"id": other, "type": "Sensor"}), detail)
    _refused(await api.patch(f"{E}/{ID}/attrs", json={"id": other, "temperature": 5}), detail)
    _refused(await api.post(f"{E}/{ID}/attrs", json={"id": other, "h": 1}), detail)
    _refused(await api.patch(f"{E}/{ID}", json={"id": other}), detail)
    _refused(await api.patch(f"{E}/{ID}", json={"type": None}), "/type: null: an entity's type cannot be deleted")
    _refused(await api.patch(f"{E}/{ID}", json={"id": None}), "/id: null: an entity's id cannot be deleted")
    assert await _stored(api) == created
    same = await api.patch(f"{E}/{ID}/attrs", json={"id": ID, "temperature": {"type": "Property", "value": 5}})
    assert same.status_code == 204
    assert (await _stored(api))["temperature"]["value"] == 5


@pytest.mark.parametrize(("method", "path"), [("POST", "/attrs"), ("PATCH", "/attrs"), ("PATCH", "")])
async def test_types_sent_to_append_update_and_merge_are_added(
    api: httpx.AsyncClient, created: dict[str, Any], method: str, path: str
) -> None:
    response = await api.request(method, f"{E}/{ID}{path}", json={"type": ["Device", "Sensor"]})
    assert response.status_code == 204, response.text
    assert (await _stored(api))["type"] == ["Sensor", "Device"]
    assert [e["id"] for e in (await api.get(E, params={"type": "Device"})).json()] == [ID]
    _refused(
        await api.request(method, f"{E}/{ID}{path}", json={"type": 5}),
        "/type: 5 is not a type name or an array of them",
    )


async def test_a_null_type_under_a_context_is_a_400_not_a_500(api: httpx.AsyncClient) -> None:
    context = {"temp": "urn:example:temperature", "Sensor": "urn:example:Sensor"}
    ld = {"Content-Type": "application/ld+json"}
    body = {"id": ID, "type": "Sensor", "temp": 1, "@context": context}
    assert (await api.post(E, json=body, headers=ld)).status_code == 201
    for path in ("", "/attrs"):
        response = await api.patch(f"{E}/{ID}{path}", json={"type": None, "@context": context}, headers=ld)
        _refused(response, "/type: null: an entity's type cannot be deleted")
    response = await api.post(f"{E}/{ID}/attrs", json={"type": ["Sensor", None], "@context": context}, headers=ld)
    _refused(response, '/type: ["urn:example:Sensor",null] is not a type name or an array of them')
    added = await api.post(f"{E}/{ID}/attrs", json={"type": "Device", "@context": context}, headers=ld)
    assert added.status_code == 204
    assert (await _stored(api))["type"] == ["urn:example:Sensor", "Device"]


async def test_batch_errors_name_the_item_position(api: httpx.AsyncClient) -> None:
    response = await api.post("/ngsi-ld/v1/entityOperations/create", json=[1, "x", None, [], sensor()])
    assert response.status_code == 207
    assert response.json()["success"] == [ID]
    details = [e["error"]["detail"] for e in response.json()["errors"]]
    assert details == [
        "item 0: each entity must be a JSON object, not a number",
        "item 1: each entity must be a JSON object, not a string",
        "item 2: each entity must be a JSON object, not null",
        "item 3: each entity must be a JSON object, not an array",
    ]
    deleted = await api.post("/ngsi-ld/v1/entityOperations/delete", json=[5, {"id": ID}, ID])
    assert deleted.status_code == 207
    assert deleted.json()["success"] == [ID]
    errors = deleted.json()["errors"]
    assert [(e["entityId"], e["error"]["status"], e["error"]["type"]) for e in errors] == [
        (None, 400, BAD),
        (ID, 400, BAD),
    ]
    assert [e["error"]["detail"] for e in errors] == [
        "item 0: an entity id (a string) expected, not a number",
        "item 1: an entity id (a string) expected, not an object",
    ]


async def test_a_batch_over_the_limit_says_how_many_were_sent(api: httpx.AsyncClient) -> None:
    items = [f"urn:ngsi-ld:T:{i}" for i in range(1001)]
    _refused(
        await api.post("/ngsi-ld/v1/entityOperations/delete", json=items),
        "the body must be a JSON array of 1..1000 entities (or ids, for delete); it is 1001 items",
    )
    _refused(
        await api.post("/ngsi-ld/v1/entityOperations/create", json={"id": ID}),
        "the body must be a JSON array of 1..1000 entities (or ids, for delete); it is an object",
    )
