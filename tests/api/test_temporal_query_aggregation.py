"""POST /temporal/entityOperations/query with aggregation: aggrMethods and aggrPeriodDuration in the body (top level
or in aggrParams) or the query string, answered exactly as GET /temporal/entities?options=aggregatedValues;
PT0S or no period is one period for the whole range; bad methods and durations are 400s naming them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

POST = "/ngsi-ld/v1/temporal/entityOperations/query"
GET = "/ngsi-ld/v1/temporal/entities"
BAD_REQUEST = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
CAR, VAN = "urn:ngsi-ld:Vehicle:agg:1", "urn:ngsi-ld:Vehicle:agg:2"
WINDOW = {"timerel": "between", "timeAt": "2020-01-01T00:00:00Z", "endTimeAt": "2020-01-01T04:00:00Z"}


def _vehicle(entity_id: str, speeds: list[int]) -> dict[str, Any]:
    instances = [
        {"type": "Property", "value": v, "observedAt": f"2020-01-01T0{i}:00:00Z"} for i, v in enumerate(speeds)
    ]
    return {"id": entity_id, "type": "Vehicle", "speed": instances}


@pytest.fixture
async def fleet(api: httpx.AsyncClient) -> None:
    for body in (_vehicle(CAR, [10, 20, 30, 40]), _vehicle(VAN, [50, 60, 70, 80])):
        assert (await api.post(GET, json=body)).status_code == 201


def _query(**members: Any) -> dict[str, Any]:
    return {"type": "Query", "entities": [{"type": "Vehicle"}], "attrs": ["speed"], "temporalQ": WINDOW, **members}


async def _post(api: httpx.AsyncClient, body: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    response = await api.post(POST, json=body, params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


async def _get(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    query = {"type": "Vehicle", "attrs": "speed", "options": "aggregatedValues", **WINDOW, **params}
    response = await api.get(GET, params=query)
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_body_aggregation_equals_the_get_answer(api: httpx.AsyncClient, fleet: None) -> None:
    posted = await _post(api, _query(aggrMethods=["avg", "max", "totalCount"], aggrPeriodDuration="PT2H"))
    got = await _get(api, aggrMethods="avg,max,totalCount", aggrPeriodDuration="PT2H")
    assert posted == got
    car = next(e for e in posted if e["id"] == CAR)
    assert car["speed"]["type"] == "Property"
    assert car["speed"]["avg"] == [
        [15, "2020-01-01T00:00:00Z", "2020-01-01T02:00:00Z"],
        [35, "2020-01-01T02:00:00Z", "2020-01-01T04:00:00Z"],
    ]
    assert [bucket[0] for bucket in car["speed"]["max"]] == [20, 40]
    assert [bucket[0] for bucket in car["speed"]["totalCount"]] == [2, 2]


@pytest.mark.parametrize(
    "members",
    [
        {"aggrParams": {"aggrMethods": ["sum", "min"], "aggrPeriodDuration": "PT1H"}},
        {"aggrParams": {"aggrMethods": "sum,min"}, "aggrPeriodDuration": "PT1H"},
        {"aggrMethods": "sum,min", "aggrParams": {"aggrPeriodDuration": "PT1H"}},
    ],
)
async def test_nested_aggr_params_and_strings_mean_the_same(
    api: httpx.AsyncClient, fleet: None, members: dict[str, Any]
) -> None:
    posted = await _post(api, _query(**members))
    assert posted == await _get(api, aggrMethods="sum,min", aggrPeriodDuration="PT1H")
    van = next(e for e in posted if e["id"] == VAN)
    assert [bucket[0] for bucket in van["speed"]["sum"]] == [50, 60, 70, 80]


@pytest.mark.parametrize("period", ["PT0S", "P0D", None])
async def test_a_zero_or_absent_period_is_one_period_for_the_whole_range(
    api: httpx.AsyncClient, fleet: None, period: str | None
) -> None:
    members: dict[str, Any] = {"aggrMethods": ["sum", "avg", "totalCount"]}
    if period is not None:
        members["aggrPeriodDuration"] = period
    posted = await _post(api, _query(**members))
    car = next(e for e in posted if e["id"] == CAR)
    assert [len(car["speed"][m]) for m in ("sum", "avg", "totalCount")] == [1, 1, 1]
    assert car["speed"]["sum"][0][0] == 100
    assert car["speed"]["avg"][0][0] == 25
    assert car["speed"]["totalCount"][0][0] == 4
    get_params = {"aggrMethods": "sum,avg,totalCount"} | ({"aggrPeriodDuration": period} if period else {})
    assert posted == await _get(api, **get_params)


async def test_the_query_string_still_works_and_may_repeat_the_body(api: httpx.AsyncClient, fleet: None) -> None:
    expected = await _get(api, aggrMethods="max", aggrPeriodDuration="PT4H")
    params = {"format": "aggregatedValues", "aggrMethods": "max", "aggrPeriodDuration": "PT4H"}
    assert await _post(api, _query(), **params) == expected
    assert await _post(api, _query(aggrMethods=["max"]), aggrPeriodDuration="PT4H") == expected
    assert await _post(api, _query(aggrMethods="max", aggrPeriodDuration="PT4H"), **params) == expected


async def test_an_explicit_format_wins_over_body_aggregation(api: httpx.AsyncClient, fleet: None) -> None:
    posted = await _post(api, _query(aggrMethods=["max"]), format="temporalValues")
    car = next(e for e in posted if e["id"] == CAR)
    assert car["speed"]["values"][0] == [10, "2020-01-01T00:00:00Z"]


async def test_get_accepts_a_zero_period(api: httpx.AsyncClient, fleet: None) -> None:
    [car] = await _get(api, id=CAR, aggrMethods="min,max", aggrPeriodDuration="PT0S")
    assert car["speed"]["min"] == [[10, "2020-01-01T00:00:00Z", "2020-01-01T04:00:00Z"]]
    assert car["speed"]["max"][0][0] == 40


@pytest.mark.parametrize(
    ("members", "params", "detail"),
    [
        ({"aggrMethods": ["avg", "median"]}, {}, "unknown aggrMethods ['median']"),
        ({"aggrParams": {"aggrMethods": "mode"}}, {}, "unknown aggrMethods ['mode']"),
        ({"aggrMethods": []}, {}, "aggrMethods must be a non-empty array of method names"),
        ({"aggrMethods": [1]}, {}, "aggrMethods must be a non-empty array of method names"),
        ({"aggrParams": {"aggrMethods": ""}}, {}, "aggrParams.aggrMethods must be a non-empty array"),
        ({"aggrMethods": ["avg"], "aggrPeriodDuration": "1h"}, {}, "aggrPeriodDuration '1h' is not an ISO 8601"),
        ({"aggrMethods": ["avg"], "aggrPeriodDuration": "P1M"}, {}, "aggrPeriodDuration 'P1M' is not an ISO 8601"),
        ({"aggrMethods": ["avg"], "aggrPeriodDuration": 3600}, {}, "aggrPeriodDuration must be a string"),
        ({"aggrParams": ["avg"]}, {}, "aggrParams must be an object"),
        (
            {"aggrMethods": ["avg"], "aggrParams": {"aggrMethods": ["max"]}},
            {},
            "aggrMethods is given twice in the body (aggrMethods and aggrParams.aggrMethods)",
        ),
        (
            {"aggrMethods": ["avg"]},
            {"aggrMethods": "max"},
            "aggrMethods 'max' in the query string and aggrMethods 'avg' in the body differ",
        ),
        (
            {"aggrParams": {"aggrPeriodDuration": "PT1H"}},
            {"aggrPeriodDuration": "PT2H"},
            "aggrPeriodDuration 'PT2H' in the query string and aggrParams.aggrPeriodDuration 'PT1H' in the body",
        ),
        ({"aggrPeriodDuration": "PT1H"}, {}, "format=aggregatedValues needs aggrMethods"),
    ],
)
async def test_bad_aggregations_are_400_naming_the_member(
    api: httpx.AsyncClient, fleet: None, members: dict[str, Any], params: dict[str, str], detail: str
) -> None:
    response = await api.post(POST, json=_query(**members), params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == BAD_REQUEST
    assert response.json()["detail"].startswith(detail), response.json()["detail"]


async def test_the_body_aggregation_is_described(api: httpx.AsyncClient) -> None:
    operation = (await api.get("/openapi.json")).json()["paths"][POST]["post"]
    properties = operation["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert properties["aggrMethods"]["oneOf"][0]["items"]["enum"][:3] == ["totalCount", "distinctCount", "sum"]
    assert properties["aggrPeriodDuration"]["type"] == "string"
    assert set(properties["aggrParams"]["properties"]) == {"aggrMethods", "aggrPeriodDuration"}


@pytest.mark.parametrize("methods", [["sum", "min"], "sum,min"])
async def test_aggregation_members_in_the_temporal_q_as_the_1_9_temporal_query_carries_them(
    api: httpx.AsyncClient, fleet: None, methods: Any
) -> None:
    """1.9 Table 5.2.21-1 puts aggrMethods and aggrPeriodDuration in the TemporalQuery itself (ETSI 021_27_07/08)."""
    body = _query()
    body["temporalQ"] = {**WINDOW, "aggrMethods": methods, "aggrPeriodDuration": "PT1H"}
    posted = await _post(api, body)
    assert posted == await _get(api, aggrMethods="sum,min", aggrPeriodDuration="PT1H")
    assert "instanceId" not in str(posted)
    bad = {**WINDOW, "aggrMethods": ["avg"], "aggrPeriodDuration": "one hour"}
    refused = await api.post(POST, json={**_query(), "temporalQ": bad})
    assert refused.status_code == 400
    assert "aggrPeriodDuration" in refused.json()["detail"]
    twice = await api.post(POST, json={**_query(aggrMethods=["avg"]), "temporalQ": {**WINDOW, "aggrMethods": ["max"]}})
    assert twice.status_code == 400
    assert "aggrMethods is given twice in the body (aggrMethods and temporalQ.aggrMethods)" in twice.json()["detail"]
