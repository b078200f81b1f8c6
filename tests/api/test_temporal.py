"""The temporal API: history as instances or value pairs, lastN, windows, and aggregation per period."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import without_instance_ids

# These tests stand for a broker behind a separate access proxy: NGSI-LD writes need no key here
# (tests/api/test_authz.py covers the keys).
pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]


ENTITY = "urn:ngsi-ld:BikeHireDockingStation:test:sys:1"
T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)  # a Monday morning


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _bikes(minute: int) -> int:
    return (minute * 7) % 23


@pytest.fixture
async def station(api: httpx.AsyncClient) -> dict[str, Any]:
    """Three hours of minute data for one station, created through the temporal API."""
    body = {
        "id": ENTITY,
        "type": "BikeHireDockingStation",
        "availableBikeNumber": [{"type": "Property", "value": _bikes(m), "observedAt": _at(m)} for m in range(180)],
        "status": [{"type": "Property", "value": "working", "observedAt": _at(0)}],
    }
    response = await api.post("/ngsi-ld/v1/temporal/entities", json=body, headers={"NGSILD-Tenant": "oslo"})
    assert response.status_code == 201, response.text
    assert response.headers["location"].endswith(ENTITY)
    return body


async def test_instances_and_temporal_values(api: httpx.AsyncClient, station: dict[str, Any]) -> None:
    url = f"/ngsi-ld/v1/temporal/entities/{ENTITY}"
    normalized = without_instance_ids((await api.get(url, headers={"NGSILD-Tenant": "oslo"})).json())
    series = normalized["availableBikeNumber"]
    assert len(series) == 180
    assert series[0] == {"type": "Property", "value": 0, "observedAt": "2025-03-03T06:00:00Z"}
    values = (await api.get(url, params={"format": "temporalValues", "lastN": 3})).json()
    assert values["availableBikeNumber"]["values"] == [
        [_bikes(177), "2025-03-03T08:57:00Z"],
        [_bikes(178), "2025-03-03T08:58:00Z"],
        [_bikes(179), "2025-03-03T08:59:00Z"],
    ]
    window = (
        await api.get(
            url, params={"timerel": "between", "timeAt": _at(10), "endTimeAt": _at(20), "attrs": "availableBikeNumber"}
        )
    ).json()
    assert [i["value"] for i in window["availableBikeNumber"]] == [_bikes(m) for m in range(10, 20)]
    assert "status" not in window


async def test_hourly_aggregation_in_the_database(api: httpx.AsyncClient, station: dict[str, Any]) -> None:
    params = {
        "type": "BikeHireDockingStation",
        "format": "aggregatedValues",
        "aggrMethods": "avg,max,min,totalCount,sum,stddev,distinctCount,sumsq",
        "aggrPeriodDuration": "PT1H",
        "attrs": "availableBikeNumber",
        "timerel": "after",
        "timeAt": _at(0),
    }
    [entity] = (await api.get("/ngsi-ld/v1/temporal/entities", params=params)).json()
    aggregates = entity["availableBikeNumber"]
    assert aggregates["type"] == "Property"
    for hour in range(3):
        values = [_bikes(m) for m in range(hour * 60, hour * 60 + 60)]
        start, end = _at(hour * 60), _at(hour * 60 + 60)
        assert aggregates["avg"][hour] == [pytest.approx(statistics.mean(values)), start, end]
        assert aggregates["max"][hour][0] == max(values)
        assert aggregates["min"][hour][0] == min(values)
        assert aggregates["totalCount"][hour][0] == 60
        assert aggregates["sum"][hour][0] == sum(values)
        assert aggregates["stddev"][hour][0] == pytest.approx(statistics.pstdev(values))
        assert aggregates["distinctCount"][hour][0] == len(set(values))
        assert aggregates["sumsq"][hour][0] == sum(v * v for v in values)


async def test_whole_range_aggregate_and_second_post(api: httpx.AsyncClient, station: dict[str, Any]) -> None:
    more = {
        "id": ENTITY,
        "type": "BikeHireDockingStation",
        "availableBikeNumber": [{"type": "Property", "value": 99, "observedAt": _at(200)}],
    }
    again = await api.post("/ngsi-ld/v1/temporal/entities", json=more, headers={"NGSILD-Tenant": "oslo"})
    assert again.status_code == 204
    body = (
        await api.get(
            f"/ngsi-ld/v1/temporal/entities/{ENTITY}",
            params={"format": "aggregatedValues", "aggrMethods": "totalCount,max"},
        )
    ).json()
    assert body["availableBikeNumber"]["totalCount"] == [[181, "2025-03-03T06:00:00Z", "2025-03-03T09:20:00Z"]]
    assert body["availableBikeNumber"]["max"][0][0] == 99
    current = (await api.get(f"/ngsi-ld/v1/entities/{ENTITY}")).json()
    assert current["availableBikeNumber"]["value"] == 99


async def test_a_post_to_an_existing_entity_keeps_its_other_attributes(api: httpx.AsyncClient) -> None:
    """POST /temporal/entities (5.6.11) of an entity that exists adds instances: the attributes the body does not
    name stay in its current state (they were dropped: the body's attributes replaced the entity), and an older
    instance than the current one leaves that one current, as POST …/attrs does."""
    entity = {
        "id": ENTITY,
        "type": "BikeHireDockingStation",
        "name": {"type": "Property", "value": "Central"},
        "capacity": {"type": "Property", "value": 20, "observedAt": _at(10)},
    }
    assert (await api.post("/ngsi-ld/v1/entities", json=entity)).status_code == 201
    more = {
        "id": ENTITY,
        "type": "BikeHireDockingStation",
        "capacity": [{"type": "Property", "value": 18, "observedAt": _at(5)}],
        "availableBikeNumber": [{"type": "Property", "value": 7, "observedAt": _at(6)}],
    }
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=more)).status_code == 204
    current = (await api.get(f"/ngsi-ld/v1/entities/{ENTITY}")).json()
    assert current["name"] == entity["name"]
    assert current["capacity"] == entity["capacity"]  # the newer instance stays current
    assert current["availableBikeNumber"] == {"type": "Property", "value": 7, "observedAt": _at(6)}


async def test_delete_removes_entity_and_history(api: httpx.AsyncClient, station: dict[str, Any]) -> None:
    deleted = await api.delete(f"/ngsi-ld/v1/temporal/entities/{ENTITY}")
    assert deleted.status_code == 204
    gone = await api.get(f"/ngsi-ld/v1/temporal/entities/{ENTITY}")
    assert gone.status_code == 404
    assert gone.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    assert (await api.delete(f"/ngsi-ld/v1/temporal/entities/{ENTITY}")).status_code == 404


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({}, "the query is too wide"),
        ({"id": "urn:ngsi-ld:Vehicle:a,urn:ngsi-ld:Vehicle:b"}, "id and idPattern only narrow"),  # ETSI 021_24
        ({"idPattern": "urn:ngsi-ld:Vehicle:.*"}, "the query is too wide"),
        ({"type": "X", "timerel": "before"}, "needs timeAt"),
        ({"type": "X", "timerel": "between", "timeAt": "2025-01-01T00:00:00Z"}, "endTimeAt"),
        ({"type": "X", "timerel": "during", "timeAt": "2025-01-01T00:00:00Z"}, "timerel"),
        ({"type": "X", "timerel": "after", "timeAt": "2025-01-01T00:00:00"}, "time zone"),
        ({"type": "X", "format": "aggregatedValues"}, "aggrMethods"),
        ({"type": "X", "format": "aggregatedValues", "aggrMethods": "median"}, "median"),
        ({"type": "X", "format": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "P1M"}, "months"),
        ({"type": "X", "lastN": 0}, "lastN"),
    ],
)
async def test_bad_temporal_queries(api: httpx.AsyncClient, params: dict[str, Any], needle: str) -> None:
    response = await api.get("/ngsi-ld/v1/temporal/entities", params=params)
    assert response.status_code == 400
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert needle in response.json()["detail"]


async def test_bad_temporal_writes(api: httpx.AsyncClient) -> None:
    wrong_type = await api.post("/ngsi-ld/v1/temporal/entities", content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    broken = await api.post("/ngsi-ld/v1/temporal/entities", content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
    no_id = await api.post("/ngsi-ld/v1/temporal/entities", json={"type": "X"})
    assert no_id.status_code == 400


async def test_instants_come_back_as_sent(api: httpx.AsyncClient) -> None:
    """Whole-second instants are echoed without a fraction; a fraction is kept to the millisecond."""
    body = {
        "id": "urn:ngsi-ld:Vehicle:echo",
        "type": "Vehicle",
        "speed": [
            {"type": "Property", "value": 120, "observedAt": "2020-08-01T12:03:00Z"},
            {"type": "Property", "value": 80, "observedAt": "2020-08-01T12:05:00.250Z"},
        ],
    }
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=body)).status_code == 201
    got = without_instance_ids((await api.get("/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Vehicle:echo")).json())
    assert got["speed"] == body["speed"]
    pairs = await api.get(
        "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Vehicle:echo", params={"options": "temporalValues"}
    )
    assert pairs.json()["speed"]["values"] == [[120, "2020-08-01T12:03:00Z"], [80, "2020-08-01T12:05:00.250Z"]]


async def test_unknown_attributes_are_not_found(api: httpx.AsyncClient, station: dict[str, Any]) -> None:
    """Only attributes the entity never had: 404; a known attribute outside the window: an empty history."""
    url = f"/ngsi-ld/v1/temporal/entities/{ENTITY}"
    missing = await api.get(url, params={"attrs": "unknownAttribute"})
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    mixed = await api.get(url, params={"attrs": "unknownAttribute,status"})
    assert mixed.status_code == 200
    assert list(mixed.json()) == ["id", "type", "status"]
    outside = await api.get(url, params={"attrs": "status", "timerel": "before", "timeAt": "2000-01-01T00:00:00Z"})
    assert outside.status_code == 200
    assert outside.json() == {"id": ENTITY, "type": "BikeHireDockingStation"}


@pytest.mark.parametrize(
    "params",
    [{"format": "invalidFormat"}, {"options": "invalidOptions"}, {"options": "temporalValues,invalid"}],
)
async def test_unknown_representations_are_invalid_requests(
    api: httpx.AsyncClient, station: dict[str, Any], params: dict[str, str]
) -> None:
    for url in ("/ngsi-ld/v1/temporal/entities", f"/ngsi-ld/v1/temporal/entities/{ENTITY}"):
        response = await api.get(url, params={"type": "BikeHireDockingStation", **params})
        assert response.status_code == 400, url
        assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"


async def test_format_wins_over_options(api: httpx.AsyncClient, station: dict[str, Any]) -> None:
    params = {"format": "temporalValues", "options": "aggregatedValues", "aggrMethods": "sum", "lastN": 1}
    got = (await api.get(f"/ngsi-ld/v1/temporal/entities/{ENTITY}", params=params)).json()
    assert got["status"] == {"type": "Property", "values": [["working", "2025-03-03T06:00:00Z"]]}


async def test_every_attribute_type_keeps_its_history(api: httpx.AsyncClient) -> None:
    """Relationships, LanguageProperties, JsonProperties and VocabProperties are temporal too; scope is a member."""
    at = ("2020-08-01T12:03:00Z", "2020-08-01T12:05:00Z")
    body = {
        "id": "urn:ngsi-ld:Vehicle:kinds",
        "type": "Vehicle",
        "scope": ["/Madrid/Gardens"],
        "isParkedIn": [
            {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:A", "observedAt": at[0]},
            {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:B", "observedAt": at[1]},
        ],
        "street": [
            {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place"}, "observedAt": at[0]},
            {"type": "LanguageProperty", "languageMap": {"nl": "Grote Markt"}, "observedAt": at[1]},
        ],
        "speed": [{"type": "JsonProperty", "json": {"value": 120}, "observedAt": at[0]}],
        "category": [{"type": "VocabProperty", "vocab": ["monument", "sightseeing"], "observedAt": at[1]}],
    }
    created = await api.post("/ngsi-ld/v1/temporal/entities", json=body)
    assert created.status_code == 201, created.text
    url = "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Vehicle:kinds"
    got = without_instance_ids((await api.get(url)).json())
    for name in ("isParkedIn", "street", "speed", "category"):
        assert got[name] == body[name], name
    assert "scope" not in got
    assert (await api.get(f"/ngsi-ld/v1/entities/{body['id']}")).json()["scope"] == ["/Madrid/Gardens"]
    pairs = (await api.get(url, params={"options": "temporalValues"})).json()
    assert pairs["isParkedIn"] == {
        "type": "Relationship",
        "objects": [["urn:ngsi-ld:OffStreetParking:A", at[0]], ["urn:ngsi-ld:OffStreetParking:B", at[1]]],
    }
    # the newer types wrap each value in its member, as the ETSI suite's 020_12/020_15/020_16 expect
    assert pairs["street"]["languageMaps"] == [
        [{"languageMap": {"fr": "Grand Place"}}, at[0]],
        [{"languageMap": {"nl": "Grote Markt"}}, at[1]],
    ]
    assert pairs["speed"] == {"type": "JsonProperty", "jsons": [[{"json": {"value": 120}}, at[0]]]}
    assert pairs["category"] == {"type": "VocabProperty", "vocabs": [[{"vocab": ["monument", "sightseeing"]}, at[1]]]}


async def test_an_instance_without_a_value_member_is_rejected(api: httpx.AsyncClient) -> None:
    body = {"id": "urn:ngsi-ld:Vehicle:empty", "type": "Vehicle", "speed": [{"type": "Property", "unitCode": "KMH"}]}
    response = await api.post("/ngsi-ld/v1/temporal/entities", json=body)
    assert response.status_code == 400
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


async def test_pick_and_omit(api: httpx.AsyncClient, station: dict[str, Any]) -> None:
    """pick/omit as on /entities (clause 4.21; ETSI 020_21 to 020_23, 021_21, 021_22)."""
    url = f"/ngsi-ld/v1/temporal/entities/{ENTITY}"
    picked = without_instance_ids((await api.get(url, params={"pick": "id,status"})).json())
    assert picked == {"id": ENTITY, "status": [{"type": "Property", "value": "working", "observedAt": _at(0)}]}
    omitted = (await api.get(url, params={"omit": "availableBikeNumber,type", "format": "temporalValues"})).json()
    assert omitted == {"id": ENTITY, "status": {"type": "Property", "values": [["working", _at(0)]]}}
    listed = await api.get("/ngsi-ld/v1/temporal/entities", params={"type": "BikeHireDockingStation", "pick": "type"})
    assert listed.json() == [{"type": "BikeHireDockingStation"}]
    for params in ({"pick": "unknown"}, {"omit": "id,type,status,availableBikeNumber"}):
        nothing = await api.get(url, params=params)
        assert nothing.status_code == 404, params
        assert nothing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"pick": "id", "omit": "id"}, "pick and omit"),
        ({"pick": "status", "attrs": "status"}, "attrs cannot be used"),
        ({"omit": "status", "attrs": "status"}, "attrs cannot be used"),
        ({"pick": "id;status"}, "unexpected ';'"),
    ],
)
@pytest.mark.parametrize(("path", "selector"), [(f"/{ENTITY}", {}), ("", {"type": "BikeHireDockingStation"})])
async def test_bad_pick_and_omit(
    api: httpx.AsyncClient,
    station: dict[str, Any],
    params: dict[str, str],
    needle: str,
    path: str,
    selector: dict[str, str],
) -> None:
    response = await api.get(f"/ngsi-ld/v1/temporal/entities{path}", params={**selector, **params})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert needle in response.json()["detail"]


async def test_periods_start_at_the_first_instance_without_a_window_start(api: httpx.AsyncClient) -> None:
    """No timeAt to start from: the first period starts at the oldest instance (ETSI 020_11), not at a whole hour."""
    car = "urn:ngsi-ld:Vehicle:periods:1"
    fuel = [(67, "12:03"), (53, "13:05"), (40, "14:07")]
    speed = [(120, "12:03"), (80, "12:05"), (100, "12:07")]
    body = {
        "id": car,
        "type": "Vehicle",
        "fuelLevel": [{"type": "Property", "value": v, "observedAt": f"2020-08-01T{t}:00Z"} for v, t in fuel],
        "speed": [{"type": "Property", "value": v, "observedAt": f"2020-08-01T{t}:00Z"} for v, t in speed],
    }
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=body)).status_code == 201
    params = {"format": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "PT1H"}
    got = (await api.get(f"/ngsi-ld/v1/temporal/entities/{car}", params=params)).json()
    assert got["fuelLevel"]["avg"] == [
        [67, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"],
        [53, "2020-08-01T13:03:00Z", "2020-08-01T14:03:00Z"],
        [40, "2020-08-01T14:03:00Z", "2020-08-01T15:03:00Z"],
    ]
    assert got["speed"]["avg"] == [[100, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]]
    before = {**params, "timerel": "before", "timeAt": "2020-08-01T14:00:00Z", "attrs": "fuelLevel"}
    got = (await api.get(f"/ngsi-ld/v1/temporal/entities/{car}", params=before)).json()
    assert got["fuelLevel"]["avg"] == [
        [67, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"],
        [53, "2020-08-01T13:03:00Z", "2020-08-01T14:03:00Z"],
    ]
    after = {**params, "timerel": "after", "timeAt": "2020-08-01T12:00:00Z", "attrs": "fuelLevel"}
    got = (await api.get(f"/ngsi-ld/v1/temporal/entities/{car}", params=after)).json()
    assert [start for _v, start, _end in got["fuelLevel"]["avg"]] == [
        "2020-08-01T12:00:00Z",
        "2020-08-01T13:00:00Z",
        "2020-08-01T14:00:00Z",
    ]


async def test_a_query_answers_only_entities_with_an_instance_in_the_window(
    api: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    """ETSI 021_13: entities whose history has nothing in the window (or of the asked attributes) are left out of
    a query's answer and of its count; retrieving such an entity still answers it, without instances."""
    later = {
        "id": ENTITY + ":later",
        "type": "BikeHireDockingStation",
        "availableBikeNumber": [{"type": "Property", "value": 4, "observedAt": _at(600)}],
    }
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=later)).status_code == 201
    query = "/ngsi-ld/v1/temporal/entities"
    cases = [
        ({"timerel": "after", "timeAt": _at(300)}, [later["id"]]),
        ({"timerel": "before", "timeAt": _at(300)}, [ENTITY]),
        ({"timerel": "after", "timeAt": _at(0)}, [ENTITY, later["id"]]),
        ({"timerel": "after", "timeAt": _at(0), "attrs": "status"}, [ENTITY]),
    ]
    for window, expected in cases:
        params = {"type": "BikeHireDockingStation", "count": "true", **window}
        response = await api.get(query, params=params)
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()] == expected, window
        assert response.headers["NGSILD-Results-Count"] == str(len(expected))
    body = {"type": "Query", "entities": [{"type": "BikeHireDockingStation"}], "temporalQ": cases[0][0]}
    posted = await api.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    assert [e["id"] for e in posted.json()] == [later["id"]]
    retrieved = await api.get(f"{query}/{ENTITY}", params={"timerel": "after", "timeAt": _at(300)})
    assert retrieved.status_code == 200
    assert retrieved.json()["id"] == ENTITY
