"""temporalValues (4.5.9) of ListProperty and ListRelationship histories: each instance is a bare pair [the list,
observedAt] under ``valueLists`` / ``objectLists`` (a ListRelationship's list as its target URIs), on retrieve,
query and POST query, with lastN; the normalized history keeps the members as sent, and other newer types stay
wrapped in their member."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import without_instance_ids

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

T = "/ngsi-ld/v1/temporal/entities"
BUS = "urn:ngsi-ld:Bus:list:1"
T1, T2, T3 = "2022-01-01T00:00:00Z", "2022-01-02T00:00:00Z", "2022-01-03T00:00:00Z"


def _list(values: list[Any], at: str) -> dict[str, Any]:
    return {"type": "ListProperty", "valueList": values, "observedAt": at}


def _stops(targets: list[str], at: str) -> dict[str, Any]:
    return {"type": "ListRelationship", "objectList": [{"object": t} for t in targets], "observedAt": at}


@pytest.fixture
async def bus(api: httpx.AsyncClient) -> None:
    body = {
        "id": BUS,
        "type": "Bus",
        "readings": [_list([1, 2, 3], T1), _list([[4], {"a": 5}], T2), _list([], T3)],
        "stops": [_stops(["urn:ngsi-ld:Stop:a", "urn:ngsi-ld:Stop:b"], T1), _stops(["urn:ngsi-ld:Stop:c"], T2)],
        "speed": [{"type": "Property", "value": 30, "observedAt": T1}],
        "config": [{"type": "JsonProperty", "json": {"mode": "eco"}, "observedAt": T1}],
    }
    assert (await api.post(T, json=body)).status_code == 201


READINGS = {"type": "ListProperty", "valueLists": [[[1, 2, 3], T1], [[[4], {"a": 5}], T2], [[], T3]]}
STOPS = {
    "type": "ListRelationship",
    "objectLists": [[["urn:ngsi-ld:Stop:a", "urn:ngsi-ld:Stop:b"], T1], [["urn:ngsi-ld:Stop:c"], T2]],
}


@pytest.mark.parametrize("params", [{"format": "temporalValues"}, {"options": "temporalValues"}])
async def test_retrieve_gives_bare_list_pairs(api: httpx.AsyncClient, bus: None, params: dict[str, str]) -> None:
    response = await api.get(f"{T}/{BUS}", params=params)
    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["readings"] == READINGS
    assert entity["stops"] == STOPS
    assert entity["speed"] == {"type": "Property", "values": [[30, T1]]}
    assert entity["config"] == {"type": "JsonProperty", "jsons": [[{"json": {"mode": "eco"}}, T1]]}


async def test_query_and_post_query_give_the_same_pairs(api: httpx.AsyncClient, bus: None) -> None:
    params = {"type": "Bus", "attrs": "readings,stops", "format": "temporalValues"}
    response = await api.get(T, params=params)
    assert response.status_code == 200, response.text
    assert response.json() == [{"id": BUS, "type": "Bus", "readings": READINGS, "stops": STOPS}]
    body = {"type": "Query", "entities": [{"type": "Bus"}], "attrs": ["readings", "stops"]}
    posted = await api.post(
        "/ngsi-ld/v1/temporal/entityOperations/query", json=body, params={"format": "temporalValues"}
    )
    assert posted.status_code == 200, posted.text
    assert posted.json() == response.json()


async def test_last_n_keeps_the_newest_lists(api: httpx.AsyncClient, bus: None) -> None:
    response = await api.get(f"{T}/{BUS}", params={"format": "temporalValues", "lastN": 1, "attrs": "readings,stops"})
    assert response.status_code == 200, response.text
    assert response.json()["readings"]["valueLists"] == [[[], T3]]
    assert response.json()["stops"]["objectLists"] == [[["urn:ngsi-ld:Stop:c"], T2]]


async def test_the_normalized_history_keeps_the_members_as_sent(api: httpx.AsyncClient, bus: None) -> None:
    response = await api.get(f"{T}/{BUS}", params={"attrs": "readings,stops"})
    assert response.status_code == 200, response.text
    entity = without_instance_ids(response.json())
    assert entity["readings"] == [_list([1, 2, 3], T1), _list([[4], {"a": 5}], T2), _list([], T3)]
    assert entity["stops"][0] == _stops(["urn:ngsi-ld:Stop:a", "urn:ngsi-ld:Stop:b"], T1)


async def test_entity_writes_record_the_history_of_lists_and_relationships(api: httpx.AsyncClient) -> None:
    """A ListProperty or Relationship with observedAt written through /entities gets a history, as a Property does."""
    entity = {
        "id": BUS,
        "type": "Bus",
        "readings": _list([1], T1),
        "parkedAt": {"type": "Relationship", "object": "urn:ngsi-ld:Depot:a", "observedAt": T1},
    }
    assert (await api.post("/ngsi-ld/v1/entities", json=entity)).status_code == 201
    moved = {"readings": _list([1, 2], T2), "parkedAt": {**entity["parkedAt"], "observedAt": T2}}  # same object
    assert (await api.patch(f"/ngsi-ld/v1/entities/{BUS}/attrs", json=moved)).status_code == 204
    response = await api.get(f"{T}/{BUS}", params={"format": "temporalValues"})
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["readings"] == {"type": "ListProperty", "valueLists": [[[1], T1], [[1, 2], T2]]}
    assert found["parkedAt"] == {"type": "Relationship", "objects": [["urn:ngsi-ld:Depot:a", T1]]}
