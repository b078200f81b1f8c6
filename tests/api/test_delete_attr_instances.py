"""DELETE /entities/{id}/attrs/{attrId} of a multi-instance attribute (clause 6.16.3.2): the default instance, the
instance of ``datasetId``, or every one with ``deleteAll=true``; the history keeps each deletion (deletedAt)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

CAR = "urn:ngsi-ld:Vehicle:delete-instances:1"
ENTITY = f"/ngsi-ld/v1/entities/{CAR}"
SPEED = f"{ENTITY}/attrs/speed"
HISTORY = f"/ngsi-ld/v1/temporal/entities/{CAR}"
GPS, WHEEL = "urn:ngsi-ld:Dataset:di:gps", "urn:ngsi-ld:Dataset:di:wheel"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
NULL = "urn:ngsi-ld:null"


def _speed(value: int, dataset: str | None = None) -> dict[str, Any]:
    instance: dict[str, Any] = {"type": "Property", "value": value, "observedAt": "2020-01-01T01:00:00Z"}
    if dataset is not None:
        instance["datasetId"] = dataset
    return instance


@pytest.fixture
async def car(api: httpx.AsyncClient) -> None:
    body = {
        "id": CAR,
        "type": "Vehicle",
        "speed": [_speed(80), _speed(81, GPS), _speed(82, WHEEL)],
        "fuel": {"type": "Property", "value": 50},
    }
    assert (await api.post("/ngsi-ld/v1/entities", json=body)).status_code == 201


async def _speeds(api: httpx.AsyncClient) -> list[tuple[str | None, int]] | None:
    entity = (await api.get(ENTITY)).json()
    if "speed" not in entity:
        return None
    speed = entity["speed"] if isinstance(entity["speed"], list) else [entity["speed"]]
    return sorted(((i.get("datasetId"), i["value"]) for i in speed), key=lambda pair: pair[1])


async def _deletions(api: httpx.AsyncClient) -> list[tuple[str | None, Any]]:
    response = await api.get(HISTORY, params={"timeproperty": "deletedAt", "attrs": "speed"})
    assert response.status_code == 200, response.text
    speed = response.json().get("speed", [])
    return sorted(((i.get("datasetId"), i["value"]) for i in speed), key=lambda pair: pair[0] or "")


def _problem(response: httpx.Response, status: int, kind: str, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == ERRORS + kind
    for word in words:
        assert word in response.json()["detail"]


async def test_without_parameters_only_the_default_instance_goes(api: httpx.AsyncClient, car: None) -> None:
    assert (await api.delete(SPEED)).status_code == 204
    assert await _speeds(api) == [(GPS, 81), (WHEEL, 82)]
    assert await _deletions(api) == [(None, NULL)]
    _problem(await api.delete(SPEED), 404, "ResourceNotFound", "default instance")


async def test_a_dataset_id_deletes_that_instance(api: httpx.AsyncClient, car: None) -> None:
    assert (await api.delete(SPEED, params={"datasetId": GPS})).status_code == 204
    assert await _speeds(api) == [(None, 80), (WHEEL, 82)]
    assert (await api.delete(SPEED, params={"datasetId": WHEEL})).status_code == 204
    assert await _speeds(api) == [(None, 80)]
    assert await _deletions(api) == [(GPS, NULL), (WHEEL, NULL)]
    # the deletions of one datasetId are read with the datasetId filter, as its instances are
    response = await api.get(HISTORY, params={"timeproperty": "deletedAt", "datasetId": WHEEL})
    assert [i["datasetId"] for i in response.json()["speed"]] == [WHEEL]
    assert (await api.delete(SPEED, params={"datasetId": "@none"})).status_code == 204
    assert await _speeds(api) is None


async def test_an_unknown_dataset_id_is_not_found(api: httpx.AsyncClient, car: None) -> None:
    other = "urn:ngsi-ld:Dataset:di:other"
    _problem(await api.delete(SPEED, params={"datasetId": other}), 404, "ResourceNotFound", other)
    assert await _speeds(api) == [(None, 80), (GPS, 81), (WHEEL, 82)]
    assert await _deletions(api) == []


async def test_delete_all_deletes_every_instance(api: httpx.AsyncClient, car: None) -> None:
    assert (await api.delete(SPEED, params={"deleteAll": "true"})).status_code == 204
    assert await _speeds(api) is None
    # each instance removed is a deletion of its datasetId, as when deleted one by one
    assert await _deletions(api) == [(None, NULL), (GPS, NULL), (WHEEL, NULL)]
    response = await api.get(HISTORY, params={"timeproperty": "deletedAt", "datasetId": GPS})
    assert [i["datasetId"] for i in response.json()["speed"]] == [GPS]
    assert (
        len({i["deletedAt"] for i in (await api.get(HISTORY, params={"timeproperty": "deletedAt"})).json()["speed"]})
        == 1
    )
    _problem(await api.delete(SPEED, params={"deleteAll": "true"}), 404, "ResourceNotFound", "speed")


async def test_a_single_attribute_keeps_its_old_behaviour(api: httpx.AsyncClient, car: None) -> None:
    fuel = f"{ENTITY}/attrs/fuel"
    _problem(await api.delete(fuel, params={"datasetId": GPS}), 404, "ResourceNotFound", GPS)
    assert (await api.delete(fuel, params={"deleteAll": "false"})).status_code == 204
    assert "fuel" not in (await api.get(ENTITY)).json()


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"datasetId": GPS, "deleteAll": "true"}, ("datasetId", "deleteAll")),
        ({"deleteAll": "yes"}, ("deleteAll",)),
        ({"datasetId": "gps"}, ("datasetId",)),
    ],
)
async def test_bad_parameters(api: httpx.AsyncClient, car: None, params: dict[str, str], words: tuple[str]) -> None:
    _problem(await api.delete(SPEED, params=params), 400, "BadRequestData", *words)
    assert await _speeds(api) == [(None, 80), (GPS, 81), (WHEEL, 82)]


async def test_the_temporal_delete_of_a_dataset_forgets_its_deletions(api: httpx.AsyncClient, car: None) -> None:
    for params in ({"datasetId": GPS}, {}):
        assert (await api.delete(SPEED, params=params)).status_code == 204
    assert await _deletions(api) == [(None, NULL), (GPS, NULL)]
    forget = await api.delete(f"{HISTORY}/attrs/speed", params={"datasetId": GPS})
    assert forget.status_code == 204
    assert await _deletions(api) == [(None, NULL)]


async def test_deleting_the_entity_records_each_instance(api: httpx.AsyncClient, car: None) -> None:
    assert (await api.delete(ENTITY)).status_code == 204
    assert await _deletions(api) == [(None, NULL), (GPS, NULL), (WHEEL, NULL)]
