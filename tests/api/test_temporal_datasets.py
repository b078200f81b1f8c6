"""Multi-attribute instances in the history (datasetId): writes keep an attribute's history per datasetId, reads
group it per datasetId and filter on ``datasetId``, ``timeproperty`` picks the time the window applies to, and
``POST /temporal/entities/{id}/attrs`` / ``DELETE /temporal/entities/{id}/attrs/{attr}`` add and forget instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import assert_problem, without_instance_ids

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

CAR = "urn:ngsi-ld:Vehicle:datasets:1"
URL = f"/ngsi-ld/v1/temporal/entities/{CAR}"
GPS = "urn:ngsi-ld:Dataset:gps"
WHEEL = "urn:ngsi-ld:Dataset:wheel"
OTHER = "urn:ngsi-ld:Dataset:other"


def _at(minutes: int) -> str:
    return (datetime(2020, 1, 1, 1, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _speed(value: float, minutes: int, dataset: str | None = None) -> dict[str, Any]:
    instance: dict[str, Any] = {"type": "Property", "value": value, "observedAt": _at(minutes)}
    if dataset is not None:
        instance["datasetId"] = dataset
    return instance


@pytest.fixture
async def car(api: httpx.AsyncClient) -> None:
    """speed: default instances at 01:00 and 02:00, gps at 01:00, 02:00, 03:00, wheel at 01:30; fuel: default."""
    body = {
        "id": CAR,
        "type": "Vehicle",
        "speed": [
            _speed(80, 0),
            _speed(90, 60),
            _speed(81, 0, GPS),
            _speed(91, 60, GPS),
            _speed(101, 120, GPS),
            _speed(70, 30, WHEEL),
        ],
        "fuel": [_speed(50, 0), _speed(40, 60)],
    }
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=body)).status_code == 201


def _by_dataset(instances: list[dict[str, Any]]) -> dict[str | None, list[Any]]:
    grouped: dict[str | None, list[Any]] = {}
    for instance in instances:
        grouped.setdefault(instance.get("datasetId"), []).append(instance["value"])
    return grouped


async def _get(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get(URL, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


_problem = assert_problem


# Reads


async def test_normalized_instances_carry_their_dataset_id(api: httpx.AsyncClient, car: None) -> None:
    speed = without_instance_ids((await _get(api, attrs="speed"))["speed"])
    assert _by_dataset(speed) == {None: [80, 90], GPS: [81, 91, 101], WHEEL: [70]}
    assert {"type": "Property", "value": 70, "observedAt": _at(30), "datasetId": WHEEL} in speed
    assert all("datasetId" not in i for i in speed if i["value"] in (80, 90))


async def test_temporal_values_are_one_object_per_dataset(api: httpx.AsyncClient, car: None) -> None:
    body = await _get(api, format="temporalValues")
    assert body["speed"] == [
        {"type": "Property", "values": [[80, _at(0)], [90, _at(60)]]},
        {"type": "Property", "values": [[81, _at(0)], [91, _at(60)], [101, _at(120)]], "datasetId": GPS},
        {"type": "Property", "values": [[70, _at(30)]], "datasetId": WHEEL},
    ]
    # an attribute with the default instance only keeps the plain form
    assert body["fuel"] == {"type": "Property", "values": [[50, _at(0)], [40, _at(60)]]}


async def test_aggregated_values_are_computed_per_dataset(api: httpx.AsyncClient, car: None) -> None:
    body = await _get(api, format="aggregatedValues", aggrMethods="totalCount,avg,max", attrs="speed")
    per_dataset = {group.get("datasetId"): group for group in body["speed"]}
    assert set(per_dataset) == {None, GPS, WHEEL}
    assert per_dataset[None]["totalCount"][0][0] == 2
    assert per_dataset[None]["avg"][0][0] == 85
    assert per_dataset[GPS]["totalCount"][0][0] == 3
    assert per_dataset[GPS]["max"][0][0] == 101
    assert per_dataset[WHEEL]["avg"][0][0] == 70


async def test_hourly_periods_do_not_mix_datasets(api: httpx.AsyncClient, car: None) -> None:
    """Whole hours from an hour boundary would read the hourly aggregates, which count every dataset together."""
    window = {"timerel": "between", "timeAt": _at(0), "endTimeAt": _at(180)}
    params = {"format": "aggregatedValues", "aggrMethods": "avg,totalCount", "aggrPeriodDuration": "PT1H", **window}
    speed = (await _get(api, **params))["speed"]
    per_dataset = {group.get("datasetId"): group for group in speed}
    assert [v[0] for v in per_dataset[None]["avg"]] == [80, 90]
    assert [v[0] for v in per_dataset[GPS]["avg"]] == [81, 91, 101]
    assert [v[0] for v in per_dataset[WHEEL]["totalCount"]] == [1]
    fuel = (await _get(api, **params))["fuel"]  # no datasets: the hourly aggregates answer
    assert [v[0] for v in fuel["avg"]] == [50, 40]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (GPS, {GPS: [81, 91, 101]}),
        ("@none", {None: [80, 90]}),
        (f"{WHEEL},@none", {None: [80, 90], WHEEL: [70]}),
        (f"{GPS}, {WHEEL}", {GPS: [81, 91, 101], WHEEL: [70]}),
    ],
)
async def test_dataset_id_filters_the_instances(
    api: httpx.AsyncClient, car: None, asked: str, expected: dict[str | None, list[int]]
) -> None:
    body = await _get(api, datasetId=asked, attrs="speed")
    assert _by_dataset(body["speed"]) == expected


async def test_dataset_id_filter_in_temporal_values_and_aggregates(api: httpx.AsyncClient, car: None) -> None:
    values = await _get(api, datasetId=GPS, format="temporalValues")
    assert values["speed"] == {
        "type": "Property",
        "values": [[81, _at(0)], [91, _at(60)], [101, _at(120)]],
        "datasetId": GPS,
    }
    assert "fuel" not in values  # fuel has no gps instance
    hourly = {"format": "aggregatedValues", "aggrMethods": "sum", "aggrPeriodDuration": "PT1H"}
    default = await _get(api, datasetId="@none", timerel="after", timeAt=_at(0), **hourly)
    assert [v[0] for v in default["speed"]["sum"]] == [80, 90]
    assert [v[0] for v in default["fuel"]["sum"]] == [50, 40]


async def test_an_unknown_dataset_id_leaves_the_attribute_out(api: httpx.AsyncClient, car: None) -> None:
    body = await _get(api, datasetId=OTHER)
    assert body == {"id": CAR, "type": "Vehicle"}  # a retrieve answers its entity even without history


async def test_queries_answer_only_entities_with_instances_of_the_datasets(api: httpx.AsyncClient, car: None) -> None:
    other = {"id": "urn:ngsi-ld:Vehicle:datasets:2", "type": "Vehicle", "speed": [_speed(10, 0)]}
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=other)).status_code == 201
    query = "/ngsi-ld/v1/temporal/entities"
    both = (await api.get(query, params={"type": "Vehicle", "datasetId": "@none"})).json()
    assert [e["id"] for e in both] == [CAR, other["id"]]
    gps = await api.get(query, params={"type": "Vehicle", "datasetId": GPS, "count": "true"})
    assert [e["id"] for e in gps.json()] == [CAR]
    assert gps.headers["NGSILD-Results-Count"] == "1"


async def test_last_n_applies_per_dataset(api: httpx.AsyncClient, car: None) -> None:
    body = await _get(api, lastN=1, attrs="speed")
    assert _by_dataset(body["speed"]) == {None: [90], GPS: [101], WHEEL: [70]}


@pytest.mark.parametrize("asked", ["not a uri", "", " , ", f"{GPS},nope"])
async def test_a_bad_dataset_id_is_bad_request_data(api: httpx.AsyncClient, car: None, asked: str) -> None:
    _problem(await api.get(URL, params={"datasetId": asked}), 400, "BadRequestData", "datasetId")
    query = await api.get("/ngsi-ld/v1/temporal/entities", params={"type": "Vehicle", "datasetId": asked})
    _problem(query, 400, "BadRequestData", "datasetId")


# timeproperty


async def test_created_at_is_when_the_hub_recorded_the_instances(api: httpx.AsyncClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    body = {"id": CAR, "type": "Vehicle", "speed": [_speed(80, 0), _speed(81, 0, GPS)]}
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=body)).status_code == 201
    after = datetime.now(UTC) + timedelta(seconds=1)
    speed = (await _get(api, timeproperty="createdAt"))["speed"]
    assert len(speed) == 2
    for instance in speed:
        assert instance["observedAt"] == _at(0)
        assert before <= datetime.fromisoformat(instance["createdAt"].replace("Z", "+00:00")) <= after
    # the observed instants are in 2020, the recorded ones now: the window applies to the time asked for
    old = {"timerel": "before", "timeAt": "2021-01-01T00:00:00Z"}
    assert "speed" not in await _get(api, timeproperty="createdAt", **old)
    assert len((await _get(api, **old))["speed"]) == 2
    recent = {"timerel": "after", "timeAt": before.isoformat()}
    assert len((await _get(api, timeproperty="modifiedAt", **recent))["speed"]) == 2
    values = await _get(api, timeproperty="modifiedAt", format="temporalValues", datasetId=GPS)
    [[value, at]] = values["speed"]["values"]
    assert value == 81
    assert before <= datetime.fromisoformat(at.replace("Z", "+00:00")) <= after


async def test_an_unknown_time_property_is_bad_request_data(api: httpx.AsyncClient, car: None) -> None:
    _problem(await api.get(URL, params={"timeproperty": "expiresAt"}), 400, "BadRequestData", "expiresAt")
    body = {"type": "Query", "entities": [{"id": CAR}], "temporalQ": {"timeproperty": "whenever"}}
    response = await api.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    _problem(response, 400, "BadRequestData", "whenever")


async def test_a_query_body_may_ask_for_created_at(api: httpx.AsyncClient, car: None) -> None:
    temporal_q = {"timeproperty": "createdAt", "timerel": "after", "timeAt": "2021-01-01T00:00:00Z"}
    body = {"type": "Query", "entities": [{"id": CAR}], "attrs": ["fuel"], "temporalQ": temporal_q}
    response = await api.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    assert response.status_code == 200, response.text
    [entity] = response.json()
    assert [i["value"] for i in entity["fuel"]] == [50, 40]
    assert all("createdAt" in i for i in entity["fuel"])


# Writes through the entity API


async def test_entity_writes_keep_history_per_dataset(api: httpx.AsyncClient) -> None:
    entity = {"id": CAR, "type": "Vehicle", "speed": [_speed(80, 0), _speed(81, 0, GPS)]}
    assert (await api.post("/ngsi-ld/v1/entities", json=entity)).status_code == 201
    # gps moves, the default instance stays: only gps gets a new instance
    patch = {"speed": [_speed(80, 10), _speed(95, 10, GPS)]}
    assert (await api.patch(f"/ngsi-ld/v1/entities/{CAR}", json=patch)).status_code == 204
    # one instance with a datasetId (not an array) is a datasetId's instance too
    append = {"speed": _speed(60, 20, WHEEL)}
    assert (await api.post(f"/ngsi-ld/v1/entities/{CAR}/attrs", json=append)).status_code == 204
    speed = without_instance_ids((await _get(api, attrs="speed"))["speed"])
    assert _by_dataset(speed) == {None: [80], GPS: [81, 95], WHEEL: [60]}


async def test_batch_upserts_keep_history_per_dataset(api: httpx.AsyncClient) -> None:
    batch = [{"id": CAR, "type": "Vehicle", "speed": [_speed(1, 0, GPS), _speed(2, 0, WHEEL)]}]
    assert (await api.post("/ngsi-ld/v1/entityOperations/upsert", json=batch)).status_code == 201
    batch[0]["speed"] = [_speed(1, 5, GPS), _speed(3, 5, WHEEL)]
    assert (await api.post("/ngsi-ld/v1/entityOperations/upsert", json=batch)).status_code == 204
    speed = (await _get(api, format="temporalValues"))["speed"]
    assert speed == [
        {"type": "Property", "values": [[1, _at(0)]], "datasetId": GPS},
        {"type": "Property", "values": [[2, _at(0)], [3, _at(5)]], "datasetId": WHEEL},
    ]


# POST /temporal/entities/{id}/attrs


async def test_adding_instances(api: httpx.AsyncClient, car: None) -> None:
    fragment = {"speed": [_speed(111, 180, GPS), _speed(5, 150, OTHER), _speed(85, 30)], "fuel": _speed(30, 120)}
    response = await api.post(f"{URL}/attrs", json=fragment)
    assert response.status_code == 204, response.text
    speed = without_instance_ids((await _get(api, attrs="speed"))["speed"])
    assert _by_dataset(speed) == {None: [80, 85, 90], GPS: [81, 91, 101, 111], WHEEL: [70], OTHER: [5]}
    assert [i["value"] for i in (await _get(api, attrs="fuel"))["fuel"]] == [50, 40, 30]


async def test_added_instances_update_the_current_state_when_newer(api: httpx.AsyncClient, car: None) -> None:
    fragment = {"speed": [_speed(111, 180, GPS), _speed(85, 30)], "brand": {"type": "Property", "value": "Volvo"}}
    assert (await api.post(f"{URL}/attrs", json=fragment)).status_code == 204
    current = (await api.get(f"/ngsi-ld/v1/entities/{CAR}")).json()
    by_dataset = {i.get("datasetId"): i["value"] for i in current["speed"]}
    # gps's 03:00 instance is newer than the stored 02:00 one; 01:30 is older than the default's 02:00
    assert by_dataset == {None: 90, GPS: 111, WHEEL: 70}
    assert current["brand"]["value"] == "Volvo"


async def test_adding_to_an_unknown_entity_is_not_found(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{URL}/attrs", json={"speed": _speed(1, 0)})
    _problem(response, 404, "ResourceNotFound", CAR)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([{"speed": _speed(1, 0)}], ("object",)),
        ({}, ("no attribute",)),
        ({"speed": {"type": "Property", "observedAt": _at(0)}}, ("speed",)),
        ({"speed": [_speed(1, 0), "text"]}, ("speed",)),
        ({"speed": []}, ("speed",)),
        ({"speed": {**_speed(1, 0), "datasetId": "gps"}}, ("datasetId", "gps")),
        ({"speed": {**_speed(1, 0), "observedAt": "yesterday"}}, ("observedAt",)),
    ],
)
async def test_bad_fragments_are_bad_request_data(
    api: httpx.AsyncClient, car: None, body: Any, words: tuple[str, ...]
) -> None:
    _problem(await api.post(f"{URL}/attrs", json=body), 400, "BadRequestData", *words)
    assert _by_dataset((await _get(api, attrs="speed"))["speed"])[None] == [80, 90]  # nothing was added


async def test_a_fragment_must_be_json(api: httpx.AsyncClient, car: None) -> None:
    headers = {"Content-Type": "application/json"}
    _problem(await api.post(f"{URL}/attrs", content=b"{nope", headers=headers), 400, "InvalidRequest")
    text = await api.post(f"{URL}/attrs", content=b"speed=1", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    bad_id = await api.post("/ngsi-ld/v1/temporal/entities/not-a-uri/attrs", json={"speed": _speed(1, 0)})
    _problem(bad_id, 400, "BadRequestData", "not-a-uri")


# DELETE /temporal/entities/{id}/attrs/{attr}


async def test_deleting_one_datasets_instances(api: httpx.AsyncClient, car: None) -> None:
    assert (await api.delete(f"{URL}/attrs/speed", params={"datasetId": GPS})).status_code == 204
    assert _by_dataset((await _get(api, attrs="speed"))["speed"]) == {None: [80, 90], WHEEL: [70]}
    # the hourly aggregates were recounted without them
    params = {"format": "aggregatedValues", "aggrMethods": "totalCount", "aggrPeriodDuration": "PT1H"}
    speed = (await _get(api, timerel="after", timeAt=_at(0), datasetId="@none", **params))["speed"]
    assert [v[0] for v in speed["totalCount"]] == [1, 1]


async def test_deleting_the_default_instances(api: httpx.AsyncClient, car: None) -> None:
    assert (await api.delete(f"{URL}/attrs/speed")).status_code == 204
    assert _by_dataset((await _get(api, attrs="speed"))["speed"]) == {GPS: [81, 91, 101], WHEEL: [70]}
    assert (await api.delete(f"{URL}/attrs/fuel", params={"datasetId": "@none"})).status_code == 204
    assert "fuel" not in await _get(api)
    params = {"format": "aggregatedValues", "aggrMethods": "totalCount", "aggrPeriodDuration": "PT1H"}
    assert "fuel" not in await _get(api, timerel="after", timeAt=_at(0), **params)  # its hours went too


async def test_deleting_every_instance(api: httpx.AsyncClient, car: None) -> None:
    response = await api.delete(f"{URL}/attrs/speed", params={"deleteAll": "true", "datasetId": GPS})
    assert response.status_code == 204
    body = await _get(api)
    assert "speed" not in body
    assert [i["value"] for i in body["fuel"]] == [50, 40]
    # the entity's current state is the entity API's: it still has its speed
    assert "speed" in (await api.get(f"/ngsi-ld/v1/entities/{CAR}")).json()


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (f"{URL}/attrs/speed", {"datasetId": OTHER}),
        (f"{URL}/attrs/colour", {}),
        (f"{URL}/attrs/colour", {"deleteAll": "true"}),
        ("/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Vehicle:none/attrs/speed", {}),
    ],
)
async def test_deleting_nothing_is_not_found(
    api: httpx.AsyncClient, car: None, path: str, params: dict[str, str]
) -> None:
    _problem(await api.delete(path, params=params), 404, "ResourceNotFound")
    assert len((await _get(api, attrs="speed"))["speed"]) == 6


@pytest.mark.parametrize(("params", "word"), [({"deleteAll": "yes"}, "deleteAll"), ({"datasetId": "gps"}, "datasetId")])
async def test_bad_delete_parameters_are_bad_request_data(
    api: httpx.AsyncClient, car: None, params: dict[str, str], word: str
) -> None:
    _problem(await api.delete(f"{URL}/attrs/speed", params=params), 400, "BadRequestData", word)


async def test_deleting_the_temporal_entity_still_forgets_every_dataset(api: httpx.AsyncClient, car: None) -> None:
    assert (await api.delete(URL)).status_code == 204
    assert (await api.get(URL)).status_code == 404
    assert (await api.delete(f"{URL}/attrs/speed", params={"deleteAll": "true"})).status_code == 404


# The description


async def test_the_routes_and_parameters_are_described(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    add = paths["/ngsi-ld/v1/temporal/entities/{entity_id}/attrs"]["post"]
    assert "204" in add["responses"]
    delete = paths["/ngsi-ld/v1/temporal/entities/{entity_id}/attrs/{attr}"]["delete"]
    assert {"datasetId", "deleteAll"} <= {p["name"] for p in delete["parameters"]}
    for path in ("/ngsi-ld/v1/temporal/entities", "/ngsi-ld/v1/temporal/entities/{entity_id}"):
        names = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert {"datasetId", "timeproperty"} <= names
