"""Pagination of temporal attributes (clause 6.3.10): the hub's cap of instances per attribute, 206 Partial
Content with ``Content-Range: date-time <start>-<end>/<size>``, one time range complete for every attribute."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hub.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

CAP = 10
CAR = "urn:ngsi-ld:Vehicle:pages:1"
VAN = "urn:ngsi-ld:Vehicle:pages:2"
T0 = datetime(2020, 1, 1, 1, 0, tzinfo=UTC)
URL = f"/ngsi-ld/v1/temporal/entities/{CAR}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"temporal_max_instances": CAP})


def _at(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


def _series(minutes: range) -> list[dict[str, Any]]:
    return [{"type": "Property", "value": m, "observedAt": _at(m)} for m in minutes]


async def _create(api: httpx.AsyncClient, entity_id: str, **attrs: range) -> None:
    body = {"id": entity_id, "type": "Vehicle", **{name: _series(minutes) for name, minutes in attrs.items()}}
    response = await api.post("/ngsi-ld/v1/temporal/entities", json=body)
    assert response.status_code == 201, response.text


def _minutes(instances: list[dict[str, Any]]) -> list[int]:
    return [instance["value"] for instance in instances]


@pytest.fixture
async def car(api: httpx.AsyncClient) -> None:
    """Twenty instances on each of two attributes, two minutes apart: speed 01:01-01:20, fuelLevel 01:03-01:22."""
    await _create(api, CAR, speed=range(1, 21), fuelLevel=range(3, 23))


async def test_the_cap_cuts_every_attribute_at_one_instant(api: httpx.AsyncClient, car: None) -> None:
    response = await api.get(URL)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"date-time {_at(1)}-{_at(10)}/*"
    body = response.json()
    assert _minutes(body["speed"]) == list(range(1, 11))
    assert _minutes(body["fuelLevel"]) == list(range(3, 11))  # not 3-12: the range ends at 01:10 for both


async def test_lastn_over_the_cap_runs_backwards_from_the_newest(api: httpx.AsyncClient, car: None) -> None:
    response = await api.get(URL, params={"lastN": 20})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"date-time {_at(22)}-{_at(13)}/20"
    body = response.json()
    assert _minutes(body["fuelLevel"]) == list(range(13, 23))
    assert _minutes(body["speed"]) == list(range(13, 21))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"lastN": 20, "timerel": "before", "timeAt": "2021-01-01T01:01:00Z"}, f"2021-01-01T01:01:00Z-{_at(13)}/20"),
        (
            {"lastN": 20, "timerel": "between", "timeAt": "2019-01-01T01:01:00Z", "endTimeAt": "2021-01-01T01:01:00Z"},
            f"2021-01-01T01:01:00Z-{_at(13)}/20",
        ),
        ({"lastN": 20, "timerel": "after", "timeAt": "2019-01-01T01:01:00Z"}, f"{_at(22)}-{_at(13)}/20"),
        ({"timerel": "after", "timeAt": "2019-01-01T01:01:00Z"}, f"2019-01-01T01:01:00Z-{_at(10)}/*"),
        (
            {"timerel": "between", "timeAt": "2019-01-01T01:01:00Z", "endTimeAt": "2021-01-01T01:01:00Z"},
            f"2019-01-01T01:01:00Z-{_at(10)}/*",
        ),
        ({"timerel": "before", "timeAt": "2021-01-01T01:01:00Z"}, f"{_at(1)}-{_at(10)}/*"),
    ],
)
async def test_the_range_starts_at_the_window(
    api: httpx.AsyncClient, car: None, params: dict[str, Any], expected: str
) -> None:
    for fmt in ("normalized", "temporalValues"):
        response = await api.get(URL, params={**params, "format": fmt})
        assert response.status_code == 206, response.text
        assert response.headers["content-range"] == f"date-time {expected}"


async def test_temporal_values_are_cut_like_instances(api: httpx.AsyncClient, car: None) -> None:
    response = await api.get(URL, params={"format": "temporalValues", "lastN": 20})
    values = response.json()["speed"]["values"]
    assert [value for value, _at_ in values] == list(range(13, 21))
    assert values[-1] == [20, _at(20)]


async def test_lastn_under_the_cap_is_the_whole_answer(api: httpx.AsyncClient, car: None) -> None:
    response = await api.get(URL, params={"lastN": 3})
    assert response.status_code == 200
    assert "content-range" not in response.headers
    body = response.json()
    assert _minutes(body["speed"]) == [18, 19, 20]
    assert _minutes(body["fuelLevel"]) == [20, 21, 22]


async def test_an_attribute_after_the_cut_comes_back_empty(api: httpx.AsyncClient) -> None:
    await _create(api, CAR, speed=range(0, 30), fuelLevel=range(40, 70))
    oldest_first = await api.get(URL, params={"timerel": "after", "timeAt": _at(0)})
    assert oldest_first.status_code == 206
    assert oldest_first.json()["fuelLevel"] == []
    assert len(oldest_first.json()["speed"]) == CAP
    newest_first = await api.get(URL, params={"lastN": 100, "timerel": "before", "timeAt": _at(100)})
    assert newest_first.json()["speed"] == []
    assert _minutes(newest_first.json()["fuelLevel"]) == list(range(60, 70))
    assert newest_first.headers["content-range"] == f"date-time {_at(100)}-{_at(60)}/100"


async def test_a_query_cuts_across_entities(api: httpx.AsyncClient) -> None:
    await _create(api, CAR, speed=range(0, 20))
    await _create(api, VAN, speed=range(5, 25))
    response = await api.get("/ngsi-ld/v1/temporal/entities", params={"type": "Vehicle"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"date-time {_at(0)}-{_at(9)}/*"
    by_id = {entity["id"]: entity for entity in response.json()}
    assert _minutes(by_id[CAR]["speed"]) == list(range(0, 10))
    assert _minutes(by_id[VAN]["speed"]) == list(range(5, 10))


async def test_histories_within_the_cap_are_whole(api: httpx.AsyncClient) -> None:
    await _create(api, CAR, speed=range(0, 5), fuelLevel=range(0, 5))
    await _create(api, VAN, speed=range(0, 5), fuelLevel=range(0, 5))
    for url in (URL, "/ngsi-ld/v1/temporal/entities?type=Vehicle"):
        response = await api.get(url)
        assert response.status_code == 200
        assert "content-range" not in response.headers


async def test_aggregates_are_not_paged(api: httpx.AsyncClient, car: None) -> None:
    params = {"format": "aggregatedValues", "aggrMethods": "totalCount"}
    response = await api.get(URL, params=params)
    assert response.status_code == 200
    assert response.json()["speed"]["totalCount"][0][0] == 20


async def test_the_206_answer_is_described(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    for path in ("/ngsi-ld/v1/temporal/entities", "/ngsi-ld/v1/temporal/entities/{entity_id}"):
        assert "Content-Range" in paths[path]["get"]["responses"]["206"]["headers"]


async def test_the_post_query_is_paged_too(api: httpx.AsyncClient, car: None) -> None:
    body = {"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": {"lastN": 20}}
    response = await api.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"date-time {_at(22)}-{_at(13)}/20"
    [entity] = response.json()
    assert _minutes(entity["speed"]) == list(range(13, 21))


async def test_last_n_by_recorded_time_breaks_ties_by_observed_time(api: httpx.AsyncClient, car: None) -> None:
    """timeproperty=createdAt with lastN: the twenty instances of one POST were recorded at one instant, so the
    newest N by that time are the last N in the answer's order (then by observedAt), not any N of them."""
    params = {"timeproperty": "createdAt", "timerel": "after", "timeAt": "1970-01-01T00:00:00Z", "attrs": "speed"}
    response = await api.get(URL, params={**params, "lastN": "3"})
    assert response.status_code == 200, response.text
    assert _minutes(response.json()["speed"]) == [18, 19, 20]
    response = await api.get(URL, params={**params, "lastN": "3", "timeproperty": "modifiedAt"})
    assert _minutes(response.json()["speed"]) == [18, 19, 20]


def _range_end(content_range: str) -> str:
    match = re.fullmatch(r"date-time (\S+?Z)-(\S+Z)/(\S+)", content_range)
    assert match is not None, content_range
    return match.group(2)


async def _follow(api: httpx.AsyncClient, params: dict[str, Any]) -> tuple[list[int], int]:
    """Every speed instance of CAR, asking each next page from the Content-Range's end as the client would
    (timerel=after, the end as timeAt); the values in the order received (each once) and the pages asked."""
    seen: dict[str, int] = {}
    ends: list[str] = []
    for page in range(1, 10):
        response = await api.get(URL, params={**params, "attrs": "speed"})
        assert response.status_code in (200, 206), response.text
        for instance in response.json()["speed"]:
            seen.setdefault(instance["instanceId"], instance["value"])
        if response.status_code == 200:
            return list(seen.values()), page
        end = _range_end(response.headers["content-range"])
        assert end not in ends, f"the page ending at {end} came back: no progress"
        ends.append(end)
        params = {**params, "timerel": "after", "timeAt": end}
    raise AssertionError("paging never ended")


@pytest.mark.parametrize("timeproperty", ["createdAt", "modifiedAt"])
async def test_paging_by_recorded_time_progresses_over_one_bulk_write(
    api: httpx.AsyncClient, timeproperty: str
) -> None:
    """Twenty instances of one POST share their createdAt: the page cannot end inside that instant (a client
    asking again from there would get the same page for ever); three later writes come after it."""
    await _create(api, CAR, speed=range(0, 20))
    for minute in (30, 31, 32):
        body = {"speed": _series(range(minute, minute + 1))}
        response = await api.post(f"/ngsi-ld/v1/temporal/entities/{CAR}/attrs", json=body)
        assert response.status_code == 204, response.text
    start = {"timeproperty": timeproperty, "timerel": "after", "timeAt": "1970-01-01T00:00:00Z"}
    values, pages = await _follow(api, start)
    assert sorted(values) == [*range(0, 20), 30, 31, 32]
    assert pages >= 2
    first = await api.get(URL, params={**start, "attrs": "speed"})
    assert first.status_code == 206
    assert _minutes(first.json()["speed"])[:20] == list(range(0, 20))  # the bulk write's instant is whole


async def test_paging_by_recorded_time_with_last_n_keeps_an_instant_whole(api: httpx.AsyncClient) -> None:
    """Newest first, the next page is asked with timerel=before the range's end: an instant cut in two would
    lose the rest of its instances."""
    await _create(api, CAR, speed=range(30, 31))
    for minutes in (range(31, 32), range(32, 33), range(0, 20)):
        body = {"speed": _series(minutes)}
        assert (await api.post(f"/ngsi-ld/v1/temporal/entities/{CAR}/attrs", json=body)).status_code == 204
    params = {"timeproperty": "createdAt", "lastN": 100, "attrs": "speed"}
    seen: list[int] = []
    for _page in range(5):
        response = await api.get(URL, params=params)
        seen.extend(_minutes(response.json()["speed"]))
        if response.status_code == 200:
            break
        end = _range_end(response.headers["content-range"])
        params = {**params, "timerel": "before", "timeAt": end}
    assert sorted(seen) == [*range(0, 20), 30, 31, 32]
