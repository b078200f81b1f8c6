"""POST /temporal/entityOperations/query: the Query body's ``datasetId``, ``pick`` and ``omit`` (clause 5.2.23),
answered as GET /temporal/entities answers those parameters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

URL = "/ngsi-ld/v1/temporal/entityOperations/query"
GET = "/ngsi-ld/v1/temporal/entities"
CAR, VAN = "urn:ngsi-ld:Vehicle:tqm:1", "urn:ngsi-ld:Vehicle:tqm:2"
GPS, WHEEL = "urn:ngsi-ld:Dataset:tqm:gps", "urn:ngsi-ld:Dataset:tqm:wheel"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


def _speed(value: int, hour: int, dataset: str | None = None) -> dict[str, Any]:
    instance: dict[str, Any] = {"type": "Property", "value": value, "observedAt": f"2020-01-01T0{hour}:00:00Z"}
    if dataset is not None:
        instance["datasetId"] = dataset
    return instance


@pytest.fixture
async def fleet(api: httpx.AsyncClient) -> None:
    """The car's speed has a default instance, a gps one and a wheel one; the van's only a default one."""
    car = {
        "id": CAR,
        "type": "Vehicle",
        "speed": [_speed(10, 0), _speed(11, 1), _speed(20, 0, GPS), _speed(30, 0, WHEEL)],
        "fuel": [_speed(50, 0)],
    }
    van = {"id": VAN, "type": "Vehicle", "speed": [_speed(60, 0)], "fuel": [_speed(70, 0)]}
    for body in (car, van):
        assert (await api.post(GET, json=body)).status_code == 201


async def _query(api: httpx.AsyncClient, **members: Any) -> list[dict[str, Any]]:
    response = await api.post(URL, json={"type": "Query", "entities": [{"type": "Vehicle"}], **members})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def _values(instances: list[dict[str, Any]]) -> list[tuple[str | None, Any]]:
    return sorted(((i.get("datasetId"), i["value"]) for i in instances), key=lambda pair: (pair[0] or "", pair[1]))


async def test_dataset_id_keeps_those_instances_and_entities(api: httpx.AsyncClient, fleet: None) -> None:
    [car] = await _query(api, datasetId=[GPS])
    assert car["id"] == CAR
    assert _values(car["speed"]) == [(GPS, 20)]
    assert "fuel" not in car  # no gps instance of fuel
    both = await _query(api, datasetId=["@none", WHEEL], attrs=["speed"])
    assert {e["id"]: _values(e["speed"]) for e in both} == {
        CAR: [(None, 10), (None, 11), (WHEEL, 30)],
        VAN: [(None, 60)],
    }
    # A string is the comma list GET takes, and the answer is the same as GET's
    as_text = await _query(api, datasetId=f"@none,{WHEEL}", attrs=["speed"])
    get = await api.get(GET, params={"type": "Vehicle", "datasetId": f"@none,{WHEEL}", "attrs": "speed"})
    assert as_text == both == get.json()


async def test_dataset_id_counts_only_entities_that_have_some(api: httpx.AsyncClient, fleet: None) -> None:
    response = await api.post(
        URL, json={"type": "Query", "entities": [{"type": "Vehicle"}], "datasetId": WHEEL}, params={"count": "true"}
    )
    assert response.headers["ngsild-results-count"] == "1"
    assert [e["id"] for e in response.json()] == [CAR]


async def test_pick_and_omit_project_the_answer(api: httpx.AsyncClient, fleet: None) -> None:
    picked = await _query(api, pick=["id", "fuel"])
    assert [sorted(e) for e in picked] == [["fuel", "id"], ["fuel", "id"]]
    assert [_values(e["fuel"]) for e in picked] == [[(None, 50)], [(None, 70)]]
    as_text = await _query(api, pick="id,fuel")
    assert as_text == picked
    omitted = await _query(api, omit=["speed", "type"])
    assert [sorted(e) for e in omitted] == [["fuel", "id"], ["fuel", "id"]]
    get = await api.get(GET, params={"type": "Vehicle", "omit": "speed,type"})
    assert get.json() == omitted


async def test_a_pick_without_id_and_type_selects_on_the_picked_attribute(api: httpx.AsyncClient, fleet: None) -> None:
    """As on GET: an entity a pick would leave empty is neither answered nor counted."""
    response = await api.post(
        URL,
        json={"type": "Query", "entities": [{"type": "Vehicle"}], "pick": "speed", "datasetId": [GPS]},
        params={"count": "true"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["ngsild-results-count"] == "1"
    [entity] = response.json()
    assert list(entity) == ["speed"]
    assert _values(entity["speed"]) == [(GPS, 20)]


@pytest.mark.parametrize(
    ("members", "named"),
    [
        ({"datasetId": 5}, "datasetId"),
        ({"datasetId": []}, "datasetId"),
        ({"datasetId": [GPS, 7]}, "datasetId"),
        ({"datasetId": ["not a uri"]}, "datasetId"),
        ({"datasetId": ""}, "datasetId"),
        ({"pick": 5}, "pick"),
        ({"pick": [1]}, "pick"),
        ({"omit": {"speed": 1}}, "omit"),
        ({"pick": "id", "omit": "speed"}, "pick and omit"),
        ({"pick": "speed", "attrs": ["speed"]}, "attrs"),
        ({"pick": "speed{"}, "pick"),
    ],
)
async def test_bad_members_are_named(api: httpx.AsyncClient, fleet: None, members: dict[str, Any], named: str) -> None:
    response = await api.post(URL, json={"type": "Query", "entities": [{"type": "Vehicle"}], **members})
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"] == ERRORS + "BadRequestData"
    assert named in problem["detail"]


async def test_the_members_are_described(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    properties = paths[URL]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {"datasetId", "pick", "omit"} <= set(properties)
