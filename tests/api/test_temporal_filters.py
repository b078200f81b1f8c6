"""GET /temporal/entities selects entities with idPattern, q, scopeQ and geo-queries on their current state, as
GET /entities does, and answers their history."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

URL = "/ngsi-ld/v1/temporal/entities"
OSLO, BERGEN, CAR = "urn:ngsi-ld:Station:tf:oslo", "urn:ngsi-ld:Station:tf:bergen", "urn:ngsi-ld:Car:tf:1"


def _station(entity_id: str, kind: str, bikes: list[int], lon: float, lat: float, scope: str) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": kind,
        "scope": scope,
        "bikes": [
            {"type": "Property", "value": v, "observedAt": f"2020-01-01T0{i}:00:00Z"} for i, v in enumerate(bikes)
        ],
        "location": [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}],
    }


@pytest.fixture
async def stations(api: httpx.AsyncClient) -> None:
    for body in (
        _station(OSLO, "Station", [1, 2, 9], 10.75, 59.91, "/Nordic/NO/oslo"),
        _station(BERGEN, "Station", [8, 7, 3], 5.32, 60.39, "/Nordic/NO/bergen"),
        _station(CAR, "Car", [4, 4, 4], 10.75, 59.91, "/Nordic/DK/aarhus"),
    ):
        assert (await api.post(URL, json=body)).status_code == 201, body["id"]


async def _ids(api: httpx.AsyncClient, **params: str) -> list[str]:
    response = await api.get(URL, params=params)
    assert response.status_code == 200, response.text
    return sorted(entity["id"] for entity in response.json())


async def test_q_selects_on_the_current_value_and_answers_the_whole_history(
    api: httpx.AsyncClient, stations: None
) -> None:
    response = await api.get(URL, params={"type": "Station", "q": "bikes>5"})
    assert response.status_code == 200, response.text
    [entity] = response.json()
    assert entity["id"] == OSLO  # its current value is 9; Bergen's is 3 though it once was 8
    assert [instance["value"] for instance in entity["bikes"]] == [1, 2, 9]


async def test_id_pattern_scope_and_geo_select_without_a_type(api: httpx.AsyncClient, stations: None) -> None:
    assert await _ids(api, idPattern=".*:tf:b.*", local="true") == [BERGEN]  # alone, an idPattern is too wide
    assert await _ids(api, scopeQ="/Nordic/NO/#") == [BERGEN, OSLO]
    near = {"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": "[10.75,59.91]"}
    assert await _ids(api, **near) == [CAR, OSLO]
    assert await _ids(api, type="Station", **near) == [OSLO]


async def test_bad_filters_are_refused_with_the_reason(api: httpx.AsyncClient, stations: None) -> None:
    bad_q = await api.get(URL, params={"type": "Station", "q": "bikes>>5"})
    assert bad_q.status_code == 400
    assert bad_q.json()["type"].endswith("BadRequestData")
    no_selector = await api.get(URL, params={"idPattern": ".*"})
    assert no_selector.status_code == 400
    assert "id and idPattern only narrow" in no_selector.json()["detail"]
    half_geo = await api.get(URL, params={"type": "Station", "georel": "near;maxDistance==10"})
    assert half_geo.status_code == 400
