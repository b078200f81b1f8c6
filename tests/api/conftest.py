"""Fixtures of the API tests: a few synthetic NGSI-LD entities written through the provision API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

SHOP = "urn:ngsi-ld:Shop:1"
BUILDING = "urn:ngsi-ld:Building:2"
KIOSK = "urn:ngsi-ld:Shop:3"
SEED: list[tuple[str, dict[str, Any]]] = [
    (
        "oslo",
        {
            "id": SHOP,
            "type": ["Shop", "Building"],
            "scope": "/Nordic/NO/oslo",
            "name": {"type": "LanguageProperty", "languageMap": {"nb": "Butikk", "en": "Shop"}},
            "area": {"type": "Property", "value": 10, "unitCode": "MTK"},
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.75, 59.91]}},
            "createdAt": "2000-01-01T00:00:00Z",
        },
    ),
    (
        "stockholm",
        {
            "id": BUILDING,
            "type": "Building",
            "scope": ["/Nordic/SE/stockholm", "/Nordic/NO/bergen/centre"],
            "area": {"type": "Property", "value": 20},
            "temperature": [
                {"type": "Property", "value": 5, "datasetId": "urn:ngsi-ld:Dataset:a"},
                {"type": "Property", "value": 6},
            ],
        },
    ),
    ("", {"id": KIOSK, "type": "Shop", "name": {"type": "Property", "value": "Kiosk"}}),
]


@pytest.fixture
async def seeded(api: httpx.AsyncClient) -> None:
    """Three entities: a Shop that is also a Building (tenant oslo), a Building with two scopes and a
    multi-instance attribute (tenant stockholm), and a plain Shop without scope (default tenant)."""
    for tenant, entity in SEED:
        headers = {"NGSILD-Tenant": tenant} if tenant else {}
        response = await api.post("/ngsi-ld/v1/entities", json=entity, headers=headers)
        assert response.status_code == 201, response.text


def without_instance_ids(body: Any) -> Any:
    """A temporal answer without the instanceId of each normalized instance (system generated, so left out where
    a test compares whole instances; tests/api/test_temporal_instances.py checks them)."""
    if isinstance(body, list):
        return [without_instance_ids(item) for item in body]
    if isinstance(body, dict):
        return {k: without_instance_ids(v) for k, v in body.items() if k != "instanceId"}
    return body


def assert_problem(response: httpx.Response, status: int, kind: str, *words: str) -> None:
    """An NGSI-LD problem response: its status, the ETSI error type ``kind`` and ``words`` in its detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/" + kind
    for word in words:
        assert word in problem["detail"], problem["detail"]
