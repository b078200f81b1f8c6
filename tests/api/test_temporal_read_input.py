"""Bad input on the temporal read side (GET /temporal/entities[/{id}], POST /temporal/entityOperations/query):
aggrMethods given twice, empty or unknown whatever the format; timeAt without timerel, endTimeAt without
timerel=between or not after timeAt; and more aggregation periods than an attribute may answer (403)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hub.settings import Settings
from tests.api.conftest import assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

CAP = 10
CAR = "urn:ngsi-ld:Vehicle:readinput:1"
ENTITIES = "/ngsi-ld/v1/temporal/entities"
QUERY = "/ngsi-ld/v1/temporal/entityOperations/query"
AGGREGATED = {"format": "aggregatedValues", "aggrMethods": "sum"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"temporal_max_periods": CAP})


@pytest.fixture
async def car(api: httpx.AsyncClient) -> None:
    """speed every 20 minutes from 2024-01-01T00:00Z to 02:00 (7 instances)."""
    speed = [
        {"type": "Property", "value": i, "observedAt": f"2024-01-01T{i // 3:02d}:{i % 3 * 20:02d}:00Z"}
        for i in range(7)
    ]
    response = await api.post(ENTITIES, json={"id": CAR, "type": "Vehicle", "speed": speed})
    assert response.status_code == 201, response.text


_problem = assert_problem


async def _get(api: httpx.AsyncClient, **params: str) -> httpx.Response:
    return await api.get(f"{ENTITIES}/{CAR}", params=params)


async def _query(api: httpx.AsyncClient, body: dict[str, Any], **params: str) -> httpx.Response:
    return await api.post(QUERY, json={"type": "Query", "entities": [{"type": "Vehicle"}], **body}, params=params)


# H6: aggrMethods


async def test_a_method_given_twice_is_refused(api: httpx.AsyncClient, car: None) -> None:
    response = await _get(api, **{**AGGREGATED, "aggrMethods": "sum,avg,sum"})
    _problem(response, 400, "BadRequestData", "aggrMethods", "'sum' is given twice")
    in_body = await _query(api, {"aggrMethods": ["sum", "sum"], "aggrPeriodDuration": "PT1H"})
    _problem(in_body, 400, "BadRequestData", "aggrMethods", "'sum' is given twice")
    query = await api.get(ENTITIES, params={"type": "Vehicle", **AGGREGATED, "aggrMethods": "max,max"})
    _problem(query, 400, "BadRequestData", "'max' is given twice")


async def test_an_empty_method_is_refused(api: httpx.AsyncClient, car: None) -> None:
    _problem(await _get(api, **{**AGGREGATED, "aggrMethods": "sum,,avg"}), 400, "BadRequestData", "term 2 is empty")
    _problem(await _get(api, **{**AGGREGATED, "aggrMethods": "sum,"}), 400, "BadRequestData", "term 2 is empty")


async def test_an_unknown_method_is_refused_whatever_the_format(api: httpx.AsyncClient, car: None) -> None:
    _problem(await _get(api, aggrMethods="bogus"), 400, "BadRequestData", "bogus")
    query = await api.get(ENTITIES, params={"type": "Vehicle", "aggrMethods": "bogus", "aggrPeriodDuration": "PT1H"})
    _problem(query, 400, "BadRequestData", "bogus")
    raw = await _get(api, aggrMethods="sum")  # a known method without aggregatedValues: instances, as before
    assert raw.status_code == 200, raw.text
    assert len(raw.json()["speed"]) == 7


async def test_distinct_methods_each_answer_once(api: httpx.AsyncClient, car: None) -> None:
    response = await _get(api, **{**AGGREGATED, "aggrMethods": "sum,totalCount", "aggrPeriodDuration": "PT1H"})
    assert response.status_code == 200, response.text
    assert [b[0] for b in response.json()["speed"]["sum"]] == [3, 12, 6]
    assert [b[0] for b in response.json()["speed"]["totalCount"]] == [3, 3, 1]


# M5: the time window's parameters


async def test_time_at_needs_timerel(api: httpx.AsyncClient, car: None) -> None:
    _problem(await _get(api, timeAt="2024-01-01T01:00:00Z"), 400, "BadRequestData", "timeAt", "needs timerel")
    query = await api.get(ENTITIES, params={"type": "Vehicle", "timeAt": "2024-01-01T01:00:00Z"})
    _problem(query, 400, "BadRequestData", "timeAt", "needs timerel")
    body = await _query(api, {"temporalQ": {"timeAt": "2024-01-01T01:00:00Z"}})
    _problem(body, 400, "BadRequestData", "temporalQ.timeAt", "needs temporalQ.timerel")


async def test_end_time_at_needs_between(api: httpx.AsyncClient, car: None) -> None:
    after = {"timerel": "after", "timeAt": "2024-01-01T01:00:00Z", "endTimeAt": "2024-01-02T00:00:00Z"}
    _problem(await _get(api, **after), 400, "BadRequestData", "endTimeAt", "timerel=between", "timerel=after")
    alone = await _get(api, endTimeAt="2024-01-02T00:00:00Z")
    _problem(alone, 400, "BadRequestData", "endTimeAt", "no timerel")
    body = await _query(api, {"temporalQ": after})
    _problem(body, 400, "BadRequestData", "temporalQ.endTimeAt", "temporalQ.timerel=after")


async def test_between_needs_an_end_after_the_start(api: httpx.AsyncClient, car: None) -> None:
    for end in ("2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T01:10:00+01:00"):
        window = {"timerel": "between", "timeAt": "2024-01-01T01:00:00Z", "endTimeAt": end}
        _problem(await _get(api, **window), 400, "BadRequestData", "endTimeAt", "is not after timeAt")
        body = await _query(api, {"temporalQ": window})
        _problem(body, 400, "BadRequestData", "temporalQ.endTimeAt", "is not after temporalQ.timeAt")
    window = {"timerel": "between", "timeAt": "2024-01-01T00:30:00Z", "endTimeAt": "2024-01-01T00:50:00Z"}
    response = await _get(api, **window)
    assert response.status_code == 200, response.text
    assert [i["value"] for i in response.json()["speed"]] == [2]


# M1: the periods of an aggregated answer


async def test_a_window_of_too_many_periods_is_refused_before_any_sql(api: httpx.AsyncClient, car: None) -> None:
    window = {"timerel": "between", "timeAt": "2024-01-01T00:00:00Z", "endTimeAt": "2024-01-01T01:00:00Z"}
    response = await _get(api, **AGGREGATED, **window, aggrPeriodDuration="PT5M")
    _problem(
        response, 403, "TooComplexQuery", "aggrPeriodDuration", "12 periods", "limit of 10", "2024-01-01T01:00:00Z"
    )
    # the window alone decides: no entity needs to match
    nothing = await api.get(ENTITIES, params={"type": "Nothing", **AGGREGATED, **window, "aggrPeriodDuration": "PT5M"})
    _problem(nothing, 403, "TooComplexQuery", "12 periods")
    fits = await _get(api, **AGGREGATED, **window, aggrPeriodDuration="PT6M")  # 10 periods
    assert fits.status_code == 200, fits.text
    assert [b[0] for b in fits.json()["speed"]["sum"]] == [0, 1, 2]


async def test_periods_from_the_oldest_to_the_newest_instance_are_counted(api: httpx.AsyncClient, car: None) -> None:
    """Without a window end, the span of the instances (00:00 to 02:00) decides: PT10M makes 13 periods."""
    _problem(await _get(api, **AGGREGATED, aggrPeriodDuration="PT10M"), 403, "TooComplexQuery", "13 periods")
    # After a month-old timeAt, the empty periods before the first instance are not answered, so not counted: by
    # 15 minutes the instances still span 9 periods (ETSI 021_17: after 2020-01-01 by the hour over one afternoon).
    after = {"timerel": "after", "timeAt": "2023-12-01T00:05:00Z"}
    early = await _get(api, **AGGREGATED, **after, aggrPeriodDuration="PT15M")
    assert early.status_code == 200, early.text
    assert [b[0] for b in early.json()["speed"]["sum"]] == [0, 1, 2, 3, 4, 5, 6]
    _problem(await _get(api, **AGGREGATED, **after, aggrPeriodDuration="PT10M"), 403, "TooComplexQuery", "periods")
    body = await _query(api, {"aggrMethods": "sum", "aggrPeriodDuration": "PT0.001S"})
    _problem(body, 403, "TooComplexQuery", "aggrPeriodDuration of 0.001 s", "limit of 10")
    fits = await _get(api, **AGGREGATED, aggrPeriodDuration="PT15M")  # 9 periods
    assert fits.status_code == 200, fits.text
    assert [b[0] for b in fits.json()["speed"]["sum"]] == [0, 1, 2, 3, 4, 5, 6]
    whole = await _get(api, **AGGREGATED)  # one period for the whole range
    assert whole.json()["speed"]["sum"][0][0] == 21
