"""Bad input on the temporal write side: instances of one attribute that mix types or share an instant, a body
with too many instances, and an instance PATCH whose value member is not its attribute's. Each is a 400
BadRequestData naming what and where, and nothing of the refused request is stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

MAX_BODY_INSTANCES = 10_000  # api.temporal_write.MAX_BODY_INSTANCES, written out: the documented limit

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

CAR = "urn:ngsi-ld:Vehicle:input:1"
ENTITIES = "/ngsi-ld/v1/temporal/entities"
URL = f"{ENTITIES}/{CAR}"
BAD = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
GPS = "urn:ngsi-ld:Dataset:input:gps"


def _at(hour: int) -> str:
    return f"2024-01-01T{hour:02d}:00:00Z"


def _prop(value: Any, hour: int, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": _at(hour), **extra}


def _rel(target: str, hour: int) -> dict[str, Any]:
    return {"type": "Relationship", "object": target, "observedAt": _at(hour)}


async def _refused(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == BAD
    for word in words:
        assert word in problem["detail"], problem["detail"]
    detail: str = problem["detail"]
    return detail


async def _absent(api: httpx.AsyncClient, entity_id: str = CAR) -> None:
    response = await api.get(f"{ENTITIES}/{entity_id}")
    assert response.status_code == 404, response.text


async def _temp(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await api.get(URL, params={"attrs": "temp"})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["temp"]
    return found


@pytest.fixture
async def car(api: httpx.AsyncClient) -> None:
    """temp (a Property) at 00:00 and 01:00, driver (a Relationship) at 00:00."""
    body = {"id": CAR, "type": "Vehicle", "temp": [_prop(1, 0), _prop(2, 1)], "driver": [_rel("urn:p:1", 0)]}
    assert (await api.post(ENTITIES, json=body)).status_code == 201


# H5: instances of one attribute share its type


async def test_create_refuses_instances_of_two_types(api: httpx.AsyncClient) -> None:
    body = {"id": CAR, "type": "Vehicle", "temp": [_prop(1, 0), _rel("urn:x", 2)]}
    response = await api.post(ENTITIES, json=body)
    await _refused(response, "'temp'", "instance 1 (/temp/1) is a Relationship", "instance 0 is a Property")
    await _absent(api)


async def test_create_refuses_a_value_in_another_types_member(api: httpx.AsyncClient) -> None:
    """An untyped instance whose member is not the attribute's, or a typed one carrying another type's member."""
    untyped = {"id": CAR, "type": "Vehicle", "temp": [_prop(1, 0), {"object": "urn:x", "observedAt": _at(1)}]}
    await _refused(await api.post(ENTITIES, json=untyped), "'temp'", "/temp/1", "'object'", "'value'")
    wrong = {"id": CAR, "type": "Vehicle", "driver": [{"type": "Relationship", "value": 1, "observedAt": _at(0)}]}
    await _refused(await api.post(ENTITIES, json=wrong), "'driver'", "/driver/0", "'object'")
    await _absent(api)


async def test_untyped_instances_take_the_attributes_type(api: httpx.AsyncClient) -> None:
    body = {"id": CAR, "type": "Vehicle", "driver": [_rel("urn:p:1", 0), {"object": "urn:p:2", "observedAt": _at(1)}]}
    assert (await api.post(ENTITIES, json=body)).status_code == 201
    response = await api.get(URL, params={"attrs": "driver"})
    assert [i["object"] for i in response.json()["driver"]] == ["urn:p:1", "urn:p:2"]


async def test_adding_instances_of_another_type_than_the_stored_one_is_refused(
    api: httpx.AsyncClient, car: None
) -> None:
    fragment = {"temp": [_rel("urn:x", 5)]}
    await _refused(await api.post(f"{URL}/attrs", json=fragment), "'temp'", "Relationship", "Property")
    again = {"id": CAR, "type": "Vehicle", "temp": [_rel("urn:x", 5)]}
    await _refused(await api.post(ENTITIES, json=again), "'temp'", "Relationship", "Property")
    assert [i["value"] for i in await _temp(api)] == [1, 2]
    added = await api.post(f"{URL}/attrs", json={"temp": [_prop(3, 5)]})
    assert added.status_code == 204, added.text
    assert [i["value"] for i in await _temp(api)] == [1, 2, 3]


async def test_attrs_refuses_instances_of_two_types(api: httpx.AsyncClient, car: None) -> None:
    fragment = {"temp": [_prop(3, 5), _rel("urn:x", 6)]}
    await _refused(await api.post(f"{URL}/attrs", json=fragment), "'temp'", "/temp/1")
    assert [i["value"] for i in await _temp(api)] == [1, 2]


async def test_instance_patch_keeps_the_attributes_type(api: httpx.AsyncClient, car: None) -> None:
    first = (await _temp(api))[0]["instanceId"]
    patch = f"{URL}/attrs/temp/{first}"
    relationship = await api.patch(patch, json={"type": "Relationship", "object": "urn:y"})
    await _refused(relationship, "Relationship", "'temp'", "Property")
    language = await api.patch(patch, json={"languageMap": {"en": "x"}})
    await _refused(language, "'temp'", "'languageMap'", "'value'")
    nested = await api.patch(patch, json={"temp": {"type": "Property", "object": "urn:y"}})
    await _refused(nested, "'object'")
    assert [i["value"] for i in await _temp(api)] == [1, 2]
    ok = await api.patch(patch, json={"value": 7})
    assert ok.status_code == 204, ok.text
    assert [i["value"] for i in await _temp(api)] == [7, 2]


async def test_instance_patch_of_a_relationship_needs_an_object(api: httpx.AsyncClient, car: None) -> None:
    response = await api.get(URL, params={"attrs": "driver"})
    patch = f"{URL}/attrs/driver/{response.json()['driver'][0]['instanceId']}"
    await _refused(await api.patch(patch, json={"value": "urn:p:9"}), "'driver'", "Relationship", "'object'")
    assert (await api.patch(patch, json={"object": "urn:p:9"})).status_code == 204
    response = await api.get(URL, params={"attrs": "driver"})
    assert response.json()["driver"][0]["object"] == "urn:p:9"


# M2: one instance per attribute, datasetId and instant


async def test_create_refuses_two_instances_at_one_instant(api: httpx.AsyncClient) -> None:
    body = {"id": CAR, "type": "Vehicle", "temp": [_prop(1, 0), _prop(5, 1), _prop(2, 0)]}
    detail = await _refused(await api.post(ENTITIES, json=body), "'temp'", "instances 0 and 2", _at(0))
    assert "no datasetId" in detail
    await _absent(api)


async def test_one_instant_in_another_notation_is_the_same_instant(api: httpx.AsyncClient) -> None:
    body = {
        "id": CAR,
        "type": "Vehicle",
        "temp": [_prop(1, 0), {**_prop(2, 0), "observedAt": "2024-01-01T01:00+01:00"}],
    }
    await _refused(await api.post(ENTITIES, json=body), "instances 0 and 1")


async def test_one_instant_in_two_datasets_is_two_instances(api: httpx.AsyncClient) -> None:
    body = {"id": CAR, "type": "Vehicle", "temp": [_prop(1, 0), _prop(2, 0, datasetId=GPS)]}
    assert (await api.post(ENTITIES, json=body)).status_code == 201
    assert sorted(i["value"] for i in await _temp(api)) == [1, 2]


async def test_two_instances_of_one_dataset_at_one_instant_name_the_dataset(api: httpx.AsyncClient, car: None) -> None:
    fragment = {"temp": [_prop(3, 7, datasetId=GPS), _prop(4, 7, datasetId=GPS)]}
    await _refused(await api.post(f"{URL}/attrs", json=fragment), "'temp'", "instances 0 and 1", GPS, _at(7))
    assert [i["value"] for i in await _temp(api)] == [1, 2]


# M1: the instances one body may carry


async def test_a_body_with_too_many_instances_is_refused(api: httpx.AsyncClient) -> None:
    """Counted over every attribute, before anything else is checked."""
    body = {"id": CAR, "type": "Vehicle", "temp": [_prop(1, 0)] * MAX_BODY_INSTANCES, "speed": _prop(1, 0)}
    await _refused(await api.post(ENTITIES, json=body), str(MAX_BODY_INSTANCES + 1), str(MAX_BODY_INSTANCES))
    await _absent(api)
