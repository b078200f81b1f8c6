"""Provision of multi-instance attributes: append, update and merge put each instance in by its datasetId
(GS CIM 009 5.6.2, 5.6.3, 5.6.17; ngsi/provision.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]  # a broker behind an access proxy: writes need no key

ENTITY = "urn:ngsi-ld:Vehicle:datasets:1"
ONE = f"/ngsi-ld/v1/entities/{ENTITY}"
GPS, WHEEL = "urn:ngsi-ld:Dataset:gps", "urn:ngsi-ld:Dataset:wheel"


def _speed(value: float, dataset: str | None = None) -> dict[str, Any]:
    return {"type": "Property", "value": value, **({"datasetId": dataset} if dataset else {})}


@pytest.fixture
async def vehicle(api: httpx.AsyncClient) -> None:
    body = {"id": ENTITY, "type": "Vehicle", "speed": [_speed(10), _speed(11, GPS)]}
    assert (await api.post("/ngsi-ld/v1/entities", json=body)).status_code == 201


async def _speeds(api: httpx.AsyncClient) -> list[tuple[Any, Any]]:
    speed = (await api.get(ONE)).json()["speed"]
    return [(i.get("datasetId"), i["value"]) for i in (speed if isinstance(speed, list) else [speed])]


async def test_append_replaces_the_instance_of_its_dataset_or_adds_one(api: httpx.AsyncClient, vehicle: None) -> None:
    assert (await api.post(f"{ONE}/attrs", json={"speed": _speed(12, WHEEL)})).status_code == 204
    assert await _speeds(api) == [(None, 10), (GPS, 11), (WHEEL, 12)]
    assert (await api.post(f"{ONE}/attrs", json={"speed": _speed(13, GPS)})).status_code == 204
    assert await _speeds(api) == [(None, 10), (GPS, 13), (WHEEL, 12)]
    assert (await api.post(f"{ONE}/attrs", json={"speed": _speed(14)})).status_code == 204
    assert await _speeds(api) == [(None, 14), (GPS, 13), (WHEEL, 12)]


async def test_append_without_overwrite_keeps_the_instances_it_has(api: httpx.AsyncClient, vehicle: None) -> None:
    kept = await api.post(f"{ONE}/attrs", params={"options": "noOverwrite"}, json={"speed": _speed(1, GPS)})
    assert kept.status_code == 207, kept.text
    assert kept.json()["notUpdated"][0]["attributeName"] == "speed"
    assert await _speeds(api) == [(None, 10), (GPS, 11)]
    added = await api.post(f"{ONE}/attrs", params={"options": "noOverwrite"}, json={"speed": _speed(2, WHEEL)})
    assert added.status_code == 204, added.text
    assert await _speeds(api) == [(None, 10), (GPS, 11), (WHEEL, 2)]


async def test_update_changes_only_an_instance_the_attribute_holds(api: httpx.AsyncClient, vehicle: None) -> None:
    assert (await api.patch(f"{ONE}/attrs", json={"speed": _speed(20, GPS)})).status_code == 204
    assert await _speeds(api) == [(None, 10), (GPS, 20)]
    unknown = await api.patch(f"{ONE}/attrs", json={"speed": _speed(30, WHEEL)})
    assert unknown.status_code == 207, unknown.text
    assert unknown.json()["notUpdated"][0]["attributeName"] == "speed"
    assert await _speeds(api) == [(None, 10), (GPS, 20)]


async def test_merge_puts_in_by_dataset_and_null_deletes_one_instance(api: httpx.AsyncClient, vehicle: None) -> None:
    merge = {"Content-Type": "application/merge-patch+json"}
    assert (await api.patch(ONE, json={"speed": _speed(5, WHEEL)}, headers=merge)).status_code == 204
    assert await _speeds(api) == [(None, 10), (GPS, 11), (WHEEL, 5)]
    gone = {"speed": {"type": "Property", "value": "urn:ngsi-ld:null", "datasetId": GPS}}
    assert (await api.patch(ONE, json=gone, headers=merge)).status_code == 204
    assert await _speeds(api) == [(None, 10), (WHEEL, 5)]
    default_gone = {"speed": {"type": "Property", "value": "urn:ngsi-ld:null"}}
    assert (await api.patch(ONE, json=default_gone, headers=merge)).status_code == 204
    assert await _speeds(api) == [(WHEEL, 5)]
    last = {"speed": {"type": "Property", "value": "urn:ngsi-ld:null", "datasetId": WHEEL}}
    assert (await api.patch(ONE, json=last, headers=merge)).status_code == 204
    assert "speed" not in (await api.get(ONE)).json()


async def test_a_partial_attribute_update_patches_the_instance_of_its_dataset(
    api: httpx.AsyncClient, vehicle: None
) -> None:
    """PATCH …/attrs/{attr} (5.6.4) on a multi-instance attribute: the fragment patches the instance of its
    datasetId (none: the default one); the instance of a datasetId the attribute lacks is a 404. It answered 400
    (the fragment was merged into an empty object, without a type) and could not reach an instance."""
    patched = await api.patch(f"{ONE}/attrs/speed", json={"value": 21, "datasetId": GPS})
    assert patched.status_code == 204, patched.text
    assert await _speeds(api) == [(None, 10), (GPS, 21)]
    assert (await api.patch(f"{ONE}/attrs/speed", json={"value": 20, "unitCode": "KMH"})).status_code == 204
    speed = (await api.get(ONE)).json()["speed"]
    assert speed[0] == {"type": "Property", "value": 20, "unitCode": "KMH"}
    assert speed[1] == _speed(21, GPS)
    missing = await api.patch(f"{ONE}/attrs/speed", json={"value": 1, "datasetId": WHEEL})
    assert missing.status_code == 404, missing.text
    assert await _speeds(api) == [(None, 20), (GPS, 21)]
    assert (await api.delete(f"{ONE}/attrs/speed")).status_code == 204  # the default instance: GPS's is left
    assert (await api.patch(f"{ONE}/attrs/speed", json={"value": 1})).status_code == 404
    assert (await api.patch(f"{ONE}/attrs/speed", json={"value": 22, "datasetId": GPS})).status_code == 204
    assert await _speeds(api) == [(GPS, 22)]
