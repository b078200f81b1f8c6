"""Attribute instances by their instanceId (clauses 5.6.14, 5.6.15): every normalized instance carries one,
``options=sysAttrs`` adds its createdAt and modifiedAt, and ``PATCH`` / ``DELETE
/temporal/entities/{id}/attrs/{attrId}/{instanceId}`` modify or forget it, the hourly aggregates following."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

CAR = "urn:ngsi-ld:Vehicle:instances:1"
VAN = "urn:ngsi-ld:Vehicle:instances:2"
URL = f"/ngsi-ld/v1/temporal/entities/{CAR}"
GPS = "urn:ngsi-ld:Dataset:instances:gps"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
INSTANCE_ID = re.compile(r"^urn:ngsi-ld:attribute:instance:\d+$")
HOURLY = {"format": "aggregatedValues", "aggrMethods": "sum,totalCount", "aggrPeriodDuration": "PT1H"}
WINDOW = {"timerel": "between", "timeAt": "2020-01-01T00:00:00Z", "endTimeAt": "2020-01-01T02:00:00Z"}


def _speed(value: float, at: str, dataset: str | None = None) -> dict[str, Any]:
    instance: dict[str, Any] = {"type": "Property", "value": value, "observedAt": f"2020-01-01T{at}:00Z"}
    if dataset is not None:
        instance["datasetId"] = dataset
    return instance


@pytest.fixture
async def car(api: httpx.AsyncClient) -> None:
    """speed 10, 20 in the hour from 00:00 and 30, 40 in the hour from 01:00; the van has speed too."""
    body = {"id": CAR, "type": "Vehicle", "speed": [_speed(v, at) for v, at in ((10, "00:00"), (20, "00:30"))]}
    body["speed"] += [_speed(30, "01:00"), _speed(40, "01:30")]
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=body)).status_code == 201
    van = {"id": VAN, "type": "Vehicle", "speed": [_speed(99, "00:00")]}
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=van)).status_code == 201


async def _instances(api: httpx.AsyncClient, entity: str = CAR, **params: str) -> list[dict[str, Any]]:
    response = await api.get(f"/ngsi-ld/v1/temporal/entities/{entity}", params={"attrs": "speed", **params})
    assert response.status_code == 200, response.text
    speed: list[dict[str, Any]] = response.json().get("speed", [])
    return speed


async def _id_of(api: httpx.AsyncClient, value: float) -> str:
    return next(i["instanceId"] for i in await _instances(api) if i["value"] == value)


async def _hours(api: httpx.AsyncClient, period: str = "PT1H") -> dict[str, Any]:
    """sum and totalCount per period: PT1H reads the hourly aggregates, PT30M the instances."""
    params = {**HOURLY, **WINDOW, "aggrPeriodDuration": period}
    response = await api.get(URL, params={"attrs": "speed", **params})
    assert response.status_code == 200, response.text
    speed = response.json()["speed"]
    return {"sum": [b[0] for b in speed["sum"]], "totalCount": [b[0] for b in speed["totalCount"]]}


def _problem(response: httpx.Response, status: int, kind: str, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == ERRORS + kind
    for word in words:
        assert word in response.json()["detail"]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# Reads


async def test_every_normalized_instance_has_its_own_instance_id(api: httpx.AsyncClient, car: None) -> None:
    ids = [i["instanceId"] for i in await _instances(api)]
    assert len(ids) == 4
    assert len(set(ids)) == 4
    assert all(INSTANCE_ID.match(i) for i in ids)
    assert ids == [i["instanceId"] for i in await _instances(api)]  # stable from one read to the next
    van = [i["instanceId"] for i in await _instances(api, VAN)]
    assert not set(van) & set(ids)
    values = (await api.get(URL, params={"format": "temporalValues"})).json()["speed"]
    assert "instanceId" not in values
    assert all(len(pair) == 2 for pair in values["values"])


async def test_sys_attrs_gives_created_at_and_modified_at(api: httpx.AsyncClient, car: None) -> None:
    before = datetime.now(UTC)
    assert all("createdAt" not in i and "modifiedAt" not in i for i in await _instances(api))
    for instance in await _instances(api, options="sysAttrs"):
        assert instance["createdAt"] == instance["modifiedAt"]  # never modified
        assert abs((_instant(instance["createdAt"]) - before).total_seconds()) < 60
        assert instance["observedAt"].startswith("2020-01-01T")


async def test_a_deletion_has_no_instance_id(api: httpx.AsyncClient, car: None) -> None:
    assert (await api.delete(f"/ngsi-ld/v1/entities/{CAR}/attrs/speed")).status_code == 204
    [deletion] = await _instances(api, timeproperty="deletedAt", options="sysAttrs")
    assert set(deletion) == {"type", "value", "deletedAt"}


# Modify


async def test_patch_replaces_the_value_and_keeps_the_hours(api: httpx.AsyncClient, car: None) -> None:
    assert await _hours(api) == {"sum": [30, 70], "totalCount": [2, 2]}
    target = await _id_of(api, 20)
    patched = await api.patch(f"{URL}/attrs/speed/{target}", json={"value": 25})
    assert patched.status_code == 204, patched.text
    instance = next(i for i in await _instances(api, options="sysAttrs") if i["instanceId"] == target)
    assert (instance["value"], instance["observedAt"]) == (25, "2020-01-01T00:30:00Z")
    assert _instant(instance["modifiedAt"]) > _instant(instance["createdAt"])
    assert await _hours(api) == {"sum": [35, 70], "totalCount": [2, 2]}
    assert await _hours(api, "PT30M") == {"sum": [10, 25, 30, 40], "totalCount": [1, 1, 1, 1]}
    assert [i["value"] for i in await _instances(api, VAN)] == [99]  # the other entity is untouched


async def test_patch_moves_an_instance_to_another_hour(api: httpx.AsyncClient, car: None) -> None:
    target = await _id_of(api, 10)
    body = {"speed": [{"type": "Property", "value": 11, "observedAt": "2020-01-01T01:45:00Z"}]}
    assert (await api.patch(f"{URL}/attrs/speed/{target}", json=body)).status_code == 204
    assert [(i["value"], i["observedAt"][11:16]) for i in await _instances(api)] == [
        (20, "00:30"),
        (30, "01:00"),
        (40, "01:30"),
        (11, "01:45"),
    ]
    assert await _hours(api) == {"sum": [20, 81], "totalCount": [1, 3]}
    assert target in [i["instanceId"] for i in await _instances(api)]


async def test_modified_at_is_a_time_property(api: httpx.AsyncClient, car: None) -> None:
    target = await _id_of(api, 30)
    since = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    assert (await api.patch(f"{URL}/attrs/speed/{target}", json={"value": 31})).status_code == 204
    window = {"timeproperty": "modifiedAt", "timerel": "after", "timeAt": since}
    assert [i["value"] for i in await _instances(api, **window)] == [31]
    assert await _instances(api, **{**window, "timeproperty": "createdAt"}) == []


async def test_patch_of_a_dataset_instance(api: httpx.AsyncClient, car: None) -> None:
    fragment = {"speed": [_speed(50, "00:00", GPS)]}
    assert (await api.post(f"{URL}/attrs", json=fragment)).status_code == 204
    target = next(i["instanceId"] for i in await _instances(api) if i.get("datasetId") == GPS)
    assert (await api.patch(f"{URL}/attrs/speed/{target}", json={"value": 51, "datasetId": GPS})).status_code == 204
    assert [i["value"] for i in await _instances(api, datasetId=GPS)] == [51]
    other = await api.patch(f"{URL}/attrs/speed/{target}", json={"value": 52, "datasetId": "urn:ngsi-ld:Dataset:x"})
    _problem(other, 400, "BadRequestData", "datasetId")
    # the default instance observed at the same instant is another instance: moving onto it is refused
    default = await _id_of(api, 20)
    clash = await api.patch(f"{URL}/attrs/speed/{default}", json={"value": 1, "observedAt": "2020-01-01T00:00:00Z"})
    _problem(clash, 400, "BadRequestData", "observedAt")
    assert [i["value"] for i in await _instances(api, datasetId="@none")] == [10, 20, 30, 40]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"unitCode": "KMH"}, ("value",)),
        ({"speed": [{"value": 1}, {"value": 2}]}, ("one instance",)),
        ({"value": 1, "observedAt": "yesterday"}, ("observedAt",)),
        ({"value": 1, "observedAt": 5}, ("observedAt",)),
        ({"value": 1, "type": "Thing"}, ("type",)),
        ({"type": "GeoProperty", "value": {"type": "Point", "coordinates": "here"}}, ("speed",)),
    ],
)
async def test_bad_fragments(api: httpx.AsyncClient, car: None, body: dict[str, Any], words: tuple[str]) -> None:
    target = await _id_of(api, 10)
    _problem(await api.patch(f"{URL}/attrs/speed/{target}", json=body), 400, "BadRequestData", *words)
    assert [i["value"] for i in await _instances(api)] == [10, 20, 30, 40]


# Delete


async def test_delete_forgets_the_instance_and_its_hour_share(api: httpx.AsyncClient, car: None) -> None:
    target = await _id_of(api, 40)
    assert (await api.delete(f"{URL}/attrs/speed/{target}")).status_code == 204
    assert [i["value"] for i in await _instances(api)] == [10, 20, 30]
    assert await _hours(api) == {"sum": [30, 30], "totalCount": [2, 1]}
    _problem(await api.delete(f"{URL}/attrs/speed/{target}"), 404, "ResourceNotFound", target)
    # a new instance after it is counted in its hour (SQLite may number it as the deleted one was)
    assert (await api.post(f"{URL}/attrs", json={"speed": [_speed(45, "01:40")]})).status_code == 204
    assert await _hours(api) == {"sum": [30, 75], "totalCount": [2, 2]}


async def test_unknown_instances_are_not_found(api: httpx.AsyncClient, car: None) -> None:
    van_instance = (await _instances(api, VAN))[0]["instanceId"]
    for instance in (van_instance, "urn:ngsi-ld:attribute:instance:999999", "urn:ngsi-ld:Instance:abc"):
        _problem(await api.delete(f"{URL}/attrs/speed/{instance}"), 404, "ResourceNotFound", instance)
        _problem(await api.patch(f"{URL}/attrs/speed/{instance}", json={"value": 1}), 404, "ResourceNotFound")
    own = await _id_of(api, 10)
    _problem(await api.delete(f"{URL}/attrs/fuel/{own}"), 404, "ResourceNotFound", "fuel")  # another attribute
    _problem(await api.delete(f"{URL}/attrs/speed/not-a-uri"), 400, "BadRequestData", "instanceId")
    assert len(await _instances(api)) == 4
    assert len(await _instances(api, VAN)) == 1


async def test_the_operations_are_described(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    path = "/ngsi-ld/v1/temporal/entities/{entity_id}/attrs/{attr}/{instance_id}"
    assert {"patch", "delete"} <= set(paths[path])
