"""NGSI-LD provision: create, read back, merge, replace, attributes, batches with 207, and every error type."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

# These tests stand for a broker behind a separate access proxy: NGSI-LD writes need no key here
# (tests/api/test_authz.py covers the keys).
pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]


ETSI = "https://uri.etsi.org/ngsi-ld/errors/"
URN = "urn:ngsi-ld:OffStreetParking:test:"


def parking(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{URN}{n}",
        "type": "OffStreetParking",
        "availableSpotNumber": {"type": "Property", "value": n, "observedAt": "2025-01-01T10:00:00Z"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.2, 56.15]}},
        **extra,
    }


async def _get(api: httpx.AsyncClient, n: int, **headers: str) -> httpx.Response:
    return await api.get(f"/ngsi-ld/v1/entities/{URN}{n}", headers=headers)


async def test_create_read_and_conflict(api: httpx.AsyncClient) -> None:
    created = await api.post("/ngsi-ld/v1/entities", json=parking(1))
    assert created.status_code == 201
    assert created.headers["location"] == f"/ngsi-ld/v1/entities/{URN}1"
    assert (await _get(api, 1)).json() == parking(1)
    again = await api.post("/ngsi-ld/v1/entities", json=parking(1))
    assert again.status_code == 409
    assert again.json()["type"] == ETSI + "AlreadyExists"


async def test_concise_bodies_are_stored_normalized(api: httpx.AsyncClient) -> None:
    body = {
        "id": f"{URN}2",
        "type": "OffStreetParking",
        "name": "Bruuns Galleri",
        "location": {"type": "Point", "coordinates": [10.2, 56.15]},
        "owner": {"object": "urn:ngsi-ld:Organization:aarhus"},
    }
    assert (await api.post("/ngsi-ld/v1/entities", json=body)).status_code == 201
    stored = (await _get(api, 2)).json()
    assert stored["name"] == {"type": "Property", "value": "Bruuns Galleri"}
    assert stored["location"]["type"] == "GeoProperty"
    assert stored["owner"] == {"type": "Relationship", "object": "urn:ngsi-ld:Organization:aarhus"}


async def test_merge_replace_attrs_and_delete(api: httpx.AsyncClient) -> None:
    await api.post("/ngsi-ld/v1/entities", json=parking(3))
    merged = await api.patch(
        f"/ngsi-ld/v1/entities/{URN}3",
        json={"availableSpotNumber": 7, "name": "P3"},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert merged.status_code == 204
    after = (await _get(api, 3)).json()
    assert after["availableSpotNumber"] == {"type": "Property", "value": 7}
    assert after["name"]["value"] == "P3"
    await api.patch(f"/ngsi-ld/v1/entities/{URN}3", json={"name": "urn:ngsi-ld:null"})
    assert "name" not in (await _get(api, 3)).json()
    kept = await api.post(
        f"/ngsi-ld/v1/entities/{URN}3/attrs",
        params={"options": "noOverwrite"},
        json={"availableSpotNumber": 1, "totalSpotNumber": 40},
    )
    assert kept.status_code == 207
    assert kept.json()["notUpdated"][0]["attributeName"] == "availableSpotNumber"
    updated = await api.patch(f"/ngsi-ld/v1/entities/{URN}3/attrs", json={"totalSpotNumber": 41, "nope": 1})
    assert updated.status_code == 207
    assert updated.json() == {
        "updated": ["totalSpotNumber"],
        "notUpdated": [{"attributeName": "nope", "reason": "attribute does not exist"}],
    }
    assert (
        await api.patch(f"/ngsi-ld/v1/entities/{URN}3/attrs/totalSpotNumber", json={"value": 42})
    ).status_code == 204
    assert (await _get(api, 3)).json()["totalSpotNumber"]["value"] == 42
    assert (await api.delete(f"/ngsi-ld/v1/entities/{URN}3/attrs/totalSpotNumber")).status_code == 204
    assert (await api.delete(f"/ngsi-ld/v1/entities/{URN}3/attrs/totalSpotNumber")).status_code == 404
    replaced = await api.put(f"/ngsi-ld/v1/entities/{URN}3", json={"type": "OffStreetParking", "name": "only"})
    assert replaced.status_code == 204
    assert set((await _get(api, 3)).json()) == {"id", "type", "name"}
    assert (await api.delete(f"/ngsi-ld/v1/entities/{URN}3")).status_code == 204
    assert (await _get(api, 3)).status_code == 404


async def test_tenants_keep_writes_apart(api: httpx.AsyncClient) -> None:
    assert (
        await api.post("/ngsi-ld/v1/entities", json=parking(4), headers={"NGSILD-Tenant": "aarhus"})
    ).status_code == 201
    assert (await _get(api, 4, **{"NGSILD-Tenant": "aarhus"})).status_code == 200
    assert (await api.delete(f"/ngsi-ld/v1/entities/{URN}4")).status_code == 404  # the default tenant has none
    assert (await _get(api, 4)).status_code == 200  # the federated view sees every tenant


async def test_batch_operations(api: httpx.AsyncClient) -> None:
    created = await api.post("/ngsi-ld/v1/entityOperations/create", json=[parking(10), parking(11)])
    assert created.status_code == 201
    assert created.json() == [f"{URN}10", f"{URN}11"]
    mixed = await api.post("/ngsi-ld/v1/entityOperations/create", json=[parking(11), parking(12), {"id": "bad id"}])
    assert mixed.status_code == 207
    body = mixed.json()
    assert body["success"] == [f"{URN}12"]
    assert [e["error"]["type"] for e in body["errors"]] == [ETSI + "AlreadyExists", ETSI + "BadRequestData"]
    upsert = await api.post("/ngsi-ld/v1/entityOperations/upsert", json=[parking(12, name="x"), parking(13)])
    assert upsert.status_code == 201
    assert upsert.json() == [f"{URN}13"]
    assert (await api.post("/ngsi-ld/v1/entityOperations/upsert", json=[parking(13)])).status_code == 204
    update = await api.post("/ngsi-ld/v1/entityOperations/update", json=[parking(99)])
    assert update.status_code == 207
    assert update.json()["errors"][0]["error"]["type"] == ETSI + "ResourceNotFound"
    deleted = await api.post("/ngsi-ld/v1/entityOperations/delete", json=[f"{URN}10", f"{URN}11", f"{URN}404"])
    assert deleted.status_code == 207
    assert deleted.json()["success"] == [f"{URN}10", f"{URN}11"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "problem"),
    [
        (
            "post",
            "/ngsi-ld/v1/entities",
            {"content": b"{", "headers": {"Content-Type": "application/json"}},
            400,
            "InvalidRequest",
        ),
        (
            "post",
            "/ngsi-ld/v1/entities",
            {"content": b"{}", "headers": {"Content-Type": "text/plain"}},
            415,
            "UnsupportedMediaType",
        ),
        ("post", "/ngsi-ld/v1/entities", {"json": {"id": "no uri", "type": "T"}}, 400, "BadRequestData"),
        (
            "post",
            "/ngsi-ld/v1/entities",
            {"json": {"id": f"{URN}5", "type": "T", "bad name": 1}},
            400,
            "BadRequestData",
        ),
        ("post", "/ngsi-ld/v1/entities", {"json": [1, 2]}, 400, "BadRequestData"),
        ("patch", f"/ngsi-ld/v1/entities/{URN}404", {"json": {"a": 1}}, 404, "ResourceNotFound"),
        ("post", "/ngsi-ld/v1/entityOperations/explode", {"json": []}, 404, "ResourceNotFound"),
        ("post", "/ngsi-ld/v1/entityOperations/create", {"json": []}, 400, "BadRequestData"),
    ],
)
async def test_provision_errors(
    api: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any], status: int, problem: str
) -> None:
    response = await getattr(api, method)(path, **kwargs)
    assert response.status_code == status
    assert response.json()["type"] == ETSI + problem
