"""NGSI-LD Null in a partial attribute update deletes the attribute (clause 5.6.4; ETSI 012_05)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]
ENTITIES = "/ngsi-ld/v1/entities"
BUILDING = "urn:ngsi-ld:Building:null:1"
NULL = "urn:ngsi-ld:null"


@pytest.fixture
async def building(api: httpx.AsyncClient) -> None:
    body = {
        "id": BUILDING,
        "type": "Building",
        "name": {"type": "Property", "value": "Rådhuset"},
        "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:oslo"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.73, 59.91]}},
        "street": {"type": "LanguageProperty", "languageMap": {"nb": "Rådhusplassen", "en": "City Hall Square"}},
        "floors": [
            {"type": "Property", "value": 5},
            {"type": "Property", "value": 6, "datasetId": "urn:ngsi-ld:Dataset:plan"},
        ],
    }
    assert (await api.post(ENTITIES, json=body)).status_code == 201


@pytest.mark.parametrize(
    ("attr", "fragment"),
    [
        ("name", {"type": "Property", "value": NULL}),
        ("locatedAt", {"type": "Relationship", "object": NULL}),
        ("location", {"type": "GeoProperty", "value": NULL}),
        ("street", {"type": "LanguageProperty", "languageMap": {"@none": NULL}}),
    ],
)
async def test_ngsi_ld_null_deletes_the_attribute(
    api: httpx.AsyncClient, building: None, attr: str, fragment: dict[str, Any]
) -> None:
    response = await api.patch(f"{ENTITIES}/{BUILDING}/attrs/{attr}", json=fragment)
    assert response.status_code == 204, response.text
    assert response.content == b""
    entity = (await api.get(f"{ENTITIES}/{BUILDING}")).json()
    assert attr not in entity
    assert entity["name" if attr != "name" else "street"]  # the others stay
    if attr == "location":
        near = {
            "type": "Building",
            "georel": "near;maxDistance==100",
            "geometry": "Point",
            "coordinates": "[10.73,59.91]",
        }
        assert (await api.get(ENTITIES, params=near)).json() == []


async def test_ngsi_ld_null_with_a_dataset_id_deletes_that_instance_only(
    api: httpx.AsyncClient, building: None
) -> None:
    fragment = {"type": "Property", "value": NULL, "datasetId": "urn:ngsi-ld:Dataset:plan"}
    assert (await api.patch(f"{ENTITIES}/{BUILDING}/attrs/floors", json=fragment)).status_code == 204
    assert (await api.get(f"{ENTITIES}/{BUILDING}")).json()["floors"] == {"type": "Property", "value": 5}
    again = await api.patch(f"{ENTITIES}/{BUILDING}/attrs/floors", json=fragment)
    assert again.status_code == 404
