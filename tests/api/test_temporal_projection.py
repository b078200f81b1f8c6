"""attrs, pick and omit (clause 4.21) on GET /temporal/entities and GET /temporal/entities/{id}: what is kept of
each temporal entity (id and type are members like any other), which combinations are refused, and that an
attribute the entity does not have is simply absent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import without_instance_ids

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

T = "/ngsi-ld/v1/temporal/entities"
BAD_REQUEST = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
CAR, VAN = "urn:ngsi-ld:Vehicle:tp:1", "urn:ngsi-ld:Vehicle:tp:2"
QUERY = {"type": "Vehicle"}


def _series(values: list[Any]) -> list[dict[str, Any]]:
    return [{"type": "Property", "value": v, "observedAt": f"2021-03-0{i + 1}T00:00:00Z"} for i, v in enumerate(values)]


@pytest.fixture
async def fleet(api: httpx.AsyncClient) -> None:
    """CAR with a speed and a fuel history, VAN with a speed history only."""
    for body in (
        {"id": CAR, "type": "Vehicle", "speed": _series([10, 20, 30]), "fuel": _series([0.5, 0.4])},
        {"id": VAN, "type": "Vehicle", "speed": _series([50])},
    ):
        assert (await api.post(T, json=body)).status_code == 201


async def _query(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get(T, params={**QUERY, **params})
    assert response.status_code == 200, response.text
    return list(response.json())


async def _retrieve(api: httpx.AsyncClient, entity_id: str = CAR, **params: Any) -> dict[str, Any]:
    response = await api.get(f"{T}/{entity_id}", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_query_attrs_keeps_those_attributes_and_ignores_unknown_ones(api: httpx.AsyncClient, fleet: None) -> None:
    for attrs in ("fuel", "fuel,nothing"):
        answer = await _query(api, attrs=attrs, count="true")
        assert [sorted(e) for e in answer] == [["fuel", "id", "type"]]  # VAN has no fuel history: not answered
        assert [i["value"] for i in answer[0]["fuel"]] == [0.5, 0.4]
    assert await _query(api, attrs="nothing") == []


@pytest.mark.parametrize(
    ("params", "members"),
    [
        ({"pick": "id,speed"}, {CAR: ["id", "speed"], VAN: ["id", "speed"]}),
        ({"pick": "speed,type"}, {CAR: ["speed", "type"], VAN: ["speed", "type"]}),
        ({"pick": "id,fuel"}, {CAR: ["fuel", "id"], VAN: ["id"]}),  # a pick is no attrs: VAN keeps its id
        ({"pick": "id,fuel,nothing"}, {CAR: ["fuel", "id"], VAN: ["id"]}),
        ({"pick": "fuel"}, {CAR: ["fuel"]}),  # VAN would be left empty: not answered, not counted
        ({"pick": "fuel,speed"}, {CAR: ["fuel", "speed"], VAN: ["speed"]}),
        ({"pick": "id"}, {CAR: ["id"], VAN: ["id"]}),
        ({"pick": "id,type"}, {CAR: ["id", "type"], VAN: ["id", "type"]}),
        ({"omit": "fuel"}, {CAR: ["id", "speed", "type"], VAN: ["id", "speed", "type"]}),
        ({"omit": "type,speed"}, {CAR: ["fuel", "id"], VAN: ["id"]}),
        ({"omit": "nothing"}, {CAR: ["fuel", "id", "speed", "type"], VAN: ["id", "speed", "type"]}),
    ],
)
async def test_query_pick_and_omit(
    api: httpx.AsyncClient, fleet: None, params: dict[str, str], members: dict[str, list[str]]
) -> None:
    response = await api.get(T, params={**QUERY, **params, "count": "true"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [sorted(e) for e in answer] == list(members.values())
    assert response.headers["NGSILD-Results-Count"] == str(len(members))
    if "id" in members[CAR]:
        assert [e["id"] for e in answer] == list(members)
    if "fuel" in members[CAR]:
        assert [i["value"] for i in answer[0]["fuel"]] == [0.5, 0.4]


async def test_omit_of_id_and_type_leaves_the_histories(api: httpx.AsyncClient, fleet: None) -> None:
    answer = without_instance_ids(await _query(api, omit="id,type"))
    assert answer == [{"fuel": _series([0.5, 0.4]), "speed": _series([10, 20, 30])}, {"speed": _series([50])}]


async def test_pick_with_the_other_representations(api: httpx.AsyncClient, fleet: None) -> None:
    values = await _query(api, pick="id,speed", format="temporalValues")
    assert values[1] == {"id": VAN, "speed": {"type": "Property", "values": [[50, "2021-03-01T00:00:00Z"]]}}
    aggregated = await _query(api, pick="fuel", format="aggregatedValues", aggrMethods="max")
    bucket = [0.5, "2021-03-01T00:00:00Z", "2021-03-02T00:00:00Z"]
    assert aggregated == [{"fuel": {"type": "Property", "max": [bucket]}}]


async def test_retrieve_attrs_pick_and_omit(api: httpx.AsyncClient, fleet: None) -> None:
    assert sorted(await _retrieve(api, attrs="speed")) == ["id", "speed", "type"]
    assert sorted(await _retrieve(api, attrs="speed,nothing")) == ["id", "speed", "type"]
    assert sorted(await _retrieve(api, pick="id,fuel")) == ["fuel", "id"]
    assert sorted(await _retrieve(api, pick="type,nothing")) == ["type"]
    assert without_instance_ids(await _retrieve(api, pick="fuel")) == {"fuel": _series([0.5, 0.4])}
    assert sorted(await _retrieve(api, omit="id,type")) == ["fuel", "speed"]
    assert sorted(await _retrieve(api, omit="fuel")) == ["id", "speed", "type"]
    assert sorted(await _retrieve(api, VAN, pick="id,fuel")) == ["id"]  # fuel is simply absent


async def test_retrieve_with_nothing_left_is_not_found(api: httpx.AsyncClient, fleet: None) -> None:
    for params in ({"pick": "nothing"}, {"omit": "id,type,speed"}, {"attrs": "nothing"}):
        response = await api.get(f"{T}/{VAN}", params=params)
        assert response.status_code == 404, (params, response.text)
        assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


async def test_ld_json_keeps_its_context_when_id_is_omitted(api: httpx.AsyncClient, fleet: None) -> None:
    response = await api.get(f"{T}/{CAR}", params={"omit": "id,fuel"}, headers={"Accept": "application/ld+json"})
    assert response.status_code == 200, response.text
    assert sorted(response.json()) == ["@context", "speed", "type"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"pick": "id", "omit": "speed"}, "pick and omit cannot be used together"),
        ({"attrs": "speed", "pick": "id,speed"}, "attrs cannot be used with pick or omit"),
        ({"attrs": "speed", "omit": "type"}, "attrs cannot be used with pick or omit"),
        ({"pick": "id,,speed"}, "pick: a member name expected at position 3 of 'id,,speed'"),
        ({"omit": "speed{"}, "omit: a member name expected at position 6 of 'speed{', found the end"),
    ],
)
async def test_conflicting_or_malformed_projections_are_400(
    api: httpx.AsyncClient, fleet: None, params: dict[str, str], detail: str
) -> None:
    for url, extra in ((T, QUERY), (f"{T}/{CAR}", {})):
        response = await api.get(url, params={**extra, **params})
        assert response.status_code == 400, (url, response.text)
        assert response.json()["type"] == BAD_REQUEST
        assert response.json()["detail"].startswith(detail), response.json()["detail"]
