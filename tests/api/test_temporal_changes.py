"""The history of attributes without observedAt: API writes record their changes, which timeproperty=createdAt or
modifiedAt answers beside the observed instances, and observedAt queries never show (ngsi_temporal_changes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.state import HubState
from ngsi import store
from ngsi.tables import temporal_changes

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]  # a broker behind an access proxy: writes need no key
ENTITIES = "/ngsi-ld/v1/entities"
TEMPORAL = "/ngsi-ld/v1/temporal/entities"
B = [f"urn:ngsi-ld:Building:changes:{n}" for n in range(4)]
SINCE_EVER = {"timerel": "after", "timeAt": "1970-01-01T00:00:00Z"}
OBSERVED = "2024-01-01T00:00:00Z"


def _building(n: int, name: str) -> dict[str, Any]:
    return {
        "id": B[n],
        "type": "Building",
        "name": {"type": "Property", "value": name},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:a"},
        "floors": {"type": "Property", "value": n, "observedAt": OBSERVED},
    }


async def _history(api: httpx.AsyncClient, n: int, **params: str) -> dict[str, Any]:
    response = await api.get(f"{TEMPORAL}/{B[n]}", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_changes_without_observed_at_are_answered_by_recorded_time(api: httpx.AsyncClient) -> None:
    assert (await api.post(ENTITIES, json=_building(1, "one"))).status_code == 201
    patch = {"name": {"type": "Property", "value": "uno"}, "owner": _building(1, "x")["owner"]}  # owner unchanged
    assert (await api.patch(f"{ENTITIES}/{B[1]}/attrs", json=patch)).status_code == 204
    created = await _history(api, 1, timeproperty="createdAt", **SINCE_EVER)
    assert [i["value"] for i in created["name"]] == ["one", "uno"]
    assert all("observedAt" not in i and "createdAt" in i for i in created["name"])
    assert created["name"][0]["createdAt"] <= created["name"][1]["createdAt"]
    assert [i["object"] for i in created["owner"]] == ["urn:ngsi-ld:Person:a"]  # one change: the creation
    assert [i["value"] for i in created["floors"]] == [1]  # the observed instance, by when it was recorded
    assert created["floors"][0]["observedAt"] == OBSERVED
    values = await _history(api, 1, timeproperty="modifiedAt", format="temporalValues", **SINCE_EVER)
    assert [pair[0] for pair in values["name"]["values"]] == ["one", "uno"]
    assert values["name"]["values"][1][1] == created["name"][1]["createdAt"]
    observed = await _history(api, 1, **SINCE_EVER)  # observedAt: only what was observed
    assert "name" not in observed
    assert "owner" not in observed
    assert [i["value"] for i in observed["floors"]] == [1]
    later = await _history(api, 1, timeproperty="createdAt", timerel="after", timeAt="2999-01-01T00:00:00Z")
    assert "name" not in later


async def test_a_query_by_recorded_time_finds_entities_without_any_observed_at(api: httpx.AsyncClient) -> None:
    """ETSI 021_23: entities created without observedAt, queried with timeproperty=createdAt and an orderBy."""
    for n in (2, 1, 3):
        plain = {"id": B[n], "type": "Building", "name": {"type": "Property", "value": f"b{n}"}}
        assert (await api.post(ENTITIES, json=plain)).status_code == 201
    params = {"type": "Building", "timeproperty": "createdAt", **SINCE_EVER}
    for order_by, expected in (("name", [B[1], B[2], B[3]]), ("createdAt", [B[2], B[1], B[3]])):
        response = await api.get(TEMPORAL, params={**params, "orderBy": order_by})
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()] == expected
    assert (await api.get(TEMPORAL, params={**params, "timeproperty": "observedAt"})).json() == []


async def test_aggregates_by_recorded_time_count_the_changes(api: httpx.AsyncClient) -> None:
    """format=aggregatedValues with timeproperty=createdAt aggregates what the normalized answer lists: the changes
    of attributes without observedAt too (they were left out, so such an attribute had no aggregates at all)."""
    assert (await api.post(ENTITIES, json=_building(1, "one"))).status_code == 201
    height = {"height": {"type": "Property", "value": 10}}
    assert (await api.post(f"{ENTITIES}/{B[1]}/attrs", json=height)).status_code == 204
    for value in (12, True):
        patch = {"height": {"type": "Property", "value": value}}
        assert (await api.patch(f"{ENTITIES}/{B[1]}/attrs", json=patch)).status_code == 204
    params = {"timeproperty": "createdAt", "format": "aggregatedValues", **SINCE_EVER}
    found = await _history(api, 1, aggrMethods="totalCount,distinctCount,sum,max", **params)
    height_aggregates = {
        method: found["height"][method][0][0] for method in ("totalCount", "distinctCount", "sum", "max")
    }
    assert height_aggregates == {"totalCount": 3, "distinctCount": 3, "sum": 22, "max": 12}
    assert found["name"]["totalCount"][0][0] == 1
    assert found["floors"]["totalCount"][0][0] == 1  # the observed instance, by when it was recorded
    assert found["height"]["totalCount"][0][1] == "1970-01-01T00:00:00Z"  # the window's start
    # Without a window's start the periods start at the first change recorded (the entity's creation)
    created = await _history(api, 1, timeproperty="createdAt", **SINCE_EVER)
    periods = await _history(
        api,
        1,
        timeproperty="createdAt",
        format="aggregatedValues",
        aggrMethods="totalCount",
        aggrPeriodDuration="P1D",
        attrs="name",  # no observed instance: the changes alone give the start
        timerel="before",
        timeAt="2999-01-01T00:00:00Z",
    )
    assert periods["name"]["totalCount"][0][1] == created["name"][0]["createdAt"]
    query = {"type": "Building", "aggrMethods": "totalCount", "attrs": "height", **params}
    listed = await api.get(TEMPORAL, params=query)
    assert listed.status_code == 200, listed.text
    assert [e["height"]["totalCount"][0][0] for e in listed.json()] == [3]


async def test_sys_attrs_give_a_changes_created_at_and_modified_at(api: httpx.AsyncClient) -> None:
    """options=sysAttrs: a change without observedAt carries createdAt and modifiedAt (when it was recorded; it is
    never modified), as the observed instances do; they were left out of the changes."""
    assert (await api.post(ENTITIES, json=_building(1, "one"))).status_code == 201
    for timeproperty in ("createdAt", "modifiedAt"):
        found = await _history(api, 1, timeproperty=timeproperty, options="sysAttrs", **SINCE_EVER)
        for name in ("name", "floors"):
            (instance,) = found[name]
            assert instance["createdAt"] == instance["modifiedAt"] == instance[timeproperty], (timeproperty, name)


async def test_deleting_the_history_forgets_the_changes(api: httpx.AsyncClient, hub: HubState) -> None:
    for n in (1, 2):
        assert (await api.post(ENTITIES, json=_building(n, "x"))).status_code == 201
    assert (await api.delete(f"{TEMPORAL}/{B[1]}/attrs/name")).status_code == 204
    assert "name" not in await _history(api, 1, timeproperty="createdAt", **SINCE_EVER)
    assert (await api.delete(f"{TEMPORAL}/{B[2]}")).status_code == 204
    with hub.db.connect() as conn:
        left = conn.execute(select(temporal_changes.c.entity_id, temporal_changes.c.attr)).all()
    assert [tuple(row) for row in left] == [(B[1], "owner")]


async def test_a_harvest_records_no_changes(api: httpx.AsyncClient, hub: HubState) -> None:
    """A harvest keeps the history of observed values only (its writes are not tracked: see ngsi/stamps.py)."""
    with hub.db.begin() as conn:
        store.upsert_entities(conn, [store.EntityWrite("", _building(1, "harvested"))], now=datetime.now(UTC))
    with hub.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(temporal_changes)).scalar_one() == 0


async def test_aggregates_by_recorded_time_sum_and_max_the_changes(api: httpx.AsyncClient) -> None:
    """aggregatedValues over createdAt read the changes without observedAt beside the observed instances."""
    assert (await api.post(ENTITIES, json=_building(1, "one"))).status_code == 201
    levels = {"type": "Property", "value": 3}
    assert (await api.post(f"{ENTITIES}/{B[1]}/attrs", json={"levels": levels})).status_code == 204
    assert (await api.post(f"{ENTITIES}/{B[1]}/attrs", json={"levels": {**levels, "value": 5}})).status_code == 204
    params = {"timeproperty": "createdAt", "format": "aggregatedValues", "aggrMethods": "totalCount,sum,max"}
    found = await _history(api, 1, **params, **SINCE_EVER)
    assert [bucket[0] for bucket in found["levels"]["totalCount"]] == [2]
    assert [bucket[0] for bucket in found["levels"]["sum"]] == [8]
    assert [bucket[0] for bucket in found["levels"]["max"]] == [5]
    assert [bucket[0] for bucket in found["name"]["totalCount"]] == [1]
    assert [bucket[0] for bucket in found["floors"]["totalCount"]] == [1]
    observed = await _history(api, 1, format="aggregatedValues", aggrMethods="totalCount", **SINCE_EVER)
    assert "levels" not in observed
