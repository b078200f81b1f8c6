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


async def test_type_expressions_select_as_in_get_entities(api: httpx.AsyncClient, stations: None) -> None:
    """``*`` is any type, ``A;B`` / ``(A;B)`` an entity carrying both, ``A,B`` either (6.3.20 type expression)."""
    both = {**_station("urn:ngsi-ld:Station:tf:both", "Station", [5], 11.0, 60.0, "/Nordic/NO/oslo")}
    both["type"] = ["Station", "Car"]
    assert (await api.post(URL, json=both)).status_code == 201
    assert await _ids(api, type="*") == [CAR, BERGEN, "urn:ngsi-ld:Station:tf:both", OSLO]
    assert await _ids(api, type="Station;Car") == ["urn:ngsi-ld:Station:tf:both"]
    assert await _ids(api, type="(Station;Car)") == ["urn:ngsi-ld:Station:tf:both"]
    assert await _ids(api, type="Car") == [CAR, "urn:ngsi-ld:Station:tf:both"]
    assert await _ids(api, type="(Station;Car),Car", scopeQ="/Nordic/DK/#") == [CAR]


async def test_entities_are_ordered_by_distance_and_collation_as_in_get_entities(
    api: httpx.AsyncClient, stations: None
) -> None:
    """orderBy with ;dist-asc reads orderFrom (and orderGeometry); collation applies; a tailoring is refused."""
    by_distance = await api.get(
        URL, params={"type": "Station", "orderBy": "location;dist-asc", "orderFrom": "[5.3,60.4]"}
    )
    assert by_distance.status_code == 200, by_distance.text
    assert [e["id"] for e in by_distance.json()] == [BERGEN, OSLO]
    farthest = await api.get(
        URL,
        params={
            "type": "Station",
            "orderBy": "location;dist-desc",
            "orderFrom": "[5.3,60.4]",
            "orderGeometry": "Point",
        },
    )
    assert [e["id"] for e in farthest.json()] == [OSLO, BERGEN]
    collated = await api.get(URL, params={"type": "Station", "orderBy": "id", "collation": "und"})
    assert collated.status_code == 200, collated.text
    tailored = await api.get(URL, params={"type": "Station", "orderBy": "id", "collation": "sv"})
    assert tailored.status_code == 400
    assert "collation" in tailored.json()["detail"]


async def test_a_temporal_answer_is_not_offered_as_geojson(api: httpx.AsyncClient, stations: None) -> None:
    """An entity's history is no single geometry: Accept application/geo+json alone is 406, as for other media."""
    geo = {"Accept": "application/geo+json"}
    for response in (
        await api.get(URL, params={"type": "Station"}, headers=geo),
        await api.get(f"{URL}/{OSLO}", headers=geo),
        await api.post(
            "/ngsi-ld/v1/temporal/entityOperations/query",
            json={"type": "Query", "entities": [{"type": "Station"}]},
            headers=geo,
        ),
    ):
        assert response.status_code == 406, response.text
        assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/NotAcceptable"
    mixed = await api.get(URL, params={"type": "Station"}, headers={"Accept": "application/geo+json, */*;q=0.5"})
    assert mixed.status_code == 200
    assert mixed.headers["content-type"].startswith("application/json")


async def test_a_projection_of_linked_entities_is_refused(api: httpx.AsyncClient, stations: None) -> None:
    """The temporal API joins nothing (5.7.4.4): pick/omit with braces is a 400, as a q on linked entities is."""
    for params in ({"type": "Station", "pick": "id,owner{name}"}, {"type": "Station", "omit": "owner{name}"}):
        response = await api.get(URL, params=params)
        assert response.status_code == 400, response.text
        assert "projects linked entities" in response.json()["detail"]
    body = {"type": "Query", "entities": [{"type": "Station"}], "pick": "owner{name}"}
    posted = await api.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    assert posted.status_code == 400
