"""A trailing slash on an NGSI-LD path: the same resource, bodies intact, encoded slashes of ids untouched."""

from __future__ import annotations

import httpx
import pytest

from api.paths import without_trailing_slash

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]
ID = "urn:ngsi-ld:Building:slash:1"


def building() -> dict[str, object]:
    return {"id": ID, "type": "Building", "name": {"type": "Property", "value": "Rådhuset"}}


async def test_create_and_query_with_a_trailing_slash(api: httpx.AsyncClient) -> None:
    created = await api.post("/ngsi-ld/v1/entities/", json=building())
    assert created.status_code == 201
    assert created.headers["location"] == f"/ngsi-ld/v1/entities/{ID}"
    listed = await api.get("/ngsi-ld/v1/entities/", params={"type": "Building"})
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()] == [ID]
    one = await api.get(f"/ngsi-ld/v1/entities/{ID}/")
    assert one.status_code == 200
    assert one.json()["name"]["value"] == "Rådhuset"


async def test_temporal_collection_with_a_trailing_slash(api: httpx.AsyncClient) -> None:
    observed = {"type": "Property", "value": 3, "observedAt": "2025-01-01T10:00:00Z"}
    assert (await api.post("/ngsi-ld/v1/entities", json={**building(), "floors": observed})).status_code == 201
    history = await api.get("/ngsi-ld/v1/temporal/entities/", params={"type": "Building"})
    assert history.status_code == 200
    assert [e["id"] for e in history.json()] == [ID]


async def test_attrs_with_a_trailing_slash(api: httpx.AsyncClient) -> None:
    assert (await api.post("/ngsi-ld/v1/entities", json=building())).status_code == 201
    appended = await api.post(f"/ngsi-ld/v1/entities/{ID}/attrs/", json={"height": {"type": "Property", "value": 40}})
    assert appended.status_code == 204
    assert (await api.get(f"/ngsi-ld/v1/entities/{ID}")).json()["height"]["value"] == 40


def test_only_a_literal_final_slash_under_ngsi_ld_is_dropped() -> None:
    assert without_trailing_slash("/ngsi-ld/v1/entities/", b"/ngsi-ld/v1/entities/") == (
        "/ngsi-ld/v1/entities",
        b"/ngsi-ld/v1/entities",
    )
    # an id ending in an encoded slash is part of the id
    assert without_trailing_slash("/ngsi-ld/v1/entities/urn:a/", b"/ngsi-ld/v1/entities/urn:a%2F") is None
    assert without_trailing_slash("/ngsi-ld/v1/", b"/ngsi-ld/v1/") is None
    assert without_trailing_slash("/catalog/", b"/catalog/") is None
    assert without_trailing_slash("/ngsi-ld/v1/entities", b"/ngsi-ld/v1/entities") is None
