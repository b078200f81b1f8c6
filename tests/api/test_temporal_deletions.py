"""Deletion history: deleting an attribute leaves an instance with ``deletedAt`` (timeproperty=deletedAt)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.state import HubState
from ngsi import store

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

CAR = "urn:ngsi-ld:Vehicle:deletions:1"
URL = f"/ngsi-ld/v1/temporal/entities/{CAR}"
NULL = "urn:ngsi-ld:null"


@pytest.fixture
async def car(api: httpx.AsyncClient) -> None:
    body = {
        "id": CAR,
        "type": "Vehicle",
        "fuelLevel": [
            {"type": "Property", "value": 50, "observedAt": "2020-01-01T01:00:00Z"},
            {"type": "Property", "value": 40, "observedAt": "2020-01-01T02:00:00Z"},
        ],
        "isParkedIn": [{"type": "Relationship", "object": "urn:ngsi-ld:Park:1", "observedAt": "2020-01-01T01:00:00Z"}],
        "name": [{"type": "LanguageProperty", "languageMap": {"en": "Car"}, "observedAt": "2020-01-01T01:00:00Z"}],
        "speed": [{"type": "Property", "value": 80, "observedAt": "2020-01-01T01:00:00Z"}],
    }
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=body)).status_code == 201


async def _delete(api: httpx.AsyncClient, attr: str) -> tuple[datetime, datetime]:
    before = datetime.now(UTC)
    assert (await api.delete(f"/ngsi-ld/v1/entities/{CAR}/attrs/{attr}")).status_code == 204
    return before, datetime.now(UTC)


def _within(instant: str, bounds: tuple[datetime, datetime]) -> bool:
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return bounds[0].replace(microsecond=bounds[0].microsecond // 1000 * 1000) <= moment <= bounds[1]


@pytest.mark.parametrize(
    ("attr", "key", "value"),
    [
        ("fuelLevel", "values", NULL),
        ("isParkedIn", "objects", NULL),
        ("name", "languageMaps", {"languageMap": {"@none": NULL}}),
    ],
)
async def test_a_deleted_attribute_has_a_deleted_at_instance(
    api: httpx.AsyncClient, car: None, attr: str, key: str, value: Any
) -> None:
    bounds = await _delete(api, attr)
    response = await api.get(URL, params={"timeproperty": "deletedAt", "format": "temporalValues"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "type", attr}  # only the deletion: the living attributes were never deleted
    [[got, deleted_at]] = body[attr][key]
    assert got == value
    assert _within(deleted_at, bounds)


async def test_deletions_in_the_normalized_form_and_windows(api: httpx.AsyncClient, car: None) -> None:
    bounds = await _delete(api, "isParkedIn")
    body = (await api.get(URL, params={"timeproperty": "deletedAt"})).json()
    [instance] = body["isParkedIn"]
    assert instance["type"] == "Relationship"
    assert instance["object"] == NULL
    assert _within(instance["deletedAt"], bounds)
    assert "observedAt" not in instance
    earlier = {"timeproperty": "deletedAt", "timerel": "before", "timeAt": "2021-01-01T00:00:00Z"}
    assert "isParkedIn" not in (await api.get(URL, params=earlier)).json()
    asked = await api.get(URL, params={"timeproperty": "deletedAt", "attrs": "isParkedIn"})
    assert asked.status_code == 200
    assert asked.json()["isParkedIn"] == [instance]


async def test_observed_history_and_aggregates_leave_deletions_out(api: httpx.AsyncClient, car: None) -> None:
    await _delete(api, "fuelLevel")
    observed = (await api.get(URL)).json()
    assert [i["value"] for i in observed["fuelLevel"]] == [50, 40]  # the history before the deletion stays
    assert all("deletedAt" not in i for i in observed["fuelLevel"])
    params = {"format": "aggregatedValues", "aggrMethods": "totalCount,avg"}
    aggregated = (await api.get(URL, params=params)).json()["fuelLevel"]
    assert aggregated["totalCount"][0][0] == 2
    assert aggregated["avg"][0][0] == 45
    minutes = {**params, "aggrPeriodDuration": "PT1M"}  # not whole hours: read from the instances
    assert sum(v[0] for v in (await api.get(URL, params=minutes)).json()["fuelLevel"]["totalCount"]) == 2


async def test_unknown_time_properties_are_refused(api: httpx.AsyncClient, car: None) -> None:
    # modifiedAt (and createdAt) are kept since migration 0017: tests/api/test_temporal_datasets.py
    response = await api.get(URL, params={"timeproperty": "validFrom"})
    assert response.status_code == 400
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert "validFrom" in response.json()["detail"]


async def test_a_deleted_scope_is_an_empty_list(api: httpx.AsyncClient) -> None:
    body = {
        "id": CAR,
        "type": "Vehicle",
        "scope": "/Nordic/NO/oslo",
        "speed": [{"type": "Property", "value": 80, "observedAt": "2020-01-01T01:00:00Z"}],
    }
    assert (await api.post("/ngsi-ld/v1/temporal/entities", json=body)).status_code == 201
    bounds = await _delete(api, "scope")
    assert "scope" not in (await api.get(f"/ngsi-ld/v1/entities/{CAR}")).json()
    [instance] = (await api.get(URL, params={"timeproperty": "deletedAt"})).json()["scope"]
    assert instance["type"] == "Property"
    assert instance["value"] == []
    assert _within(instance["deletedAt"], bounds)
    values = (await api.get(URL, params={"timeproperty": "deletedAt", "format": "temporalValues"})).json()
    assert values["scope"]["values"] == [[[], instance["deletedAt"]]]


async def test_a_deleted_entity_answers_only_with_deleted_at(api: httpx.AsyncClient, car: None) -> None:
    before = datetime.now(UTC)
    assert (await api.delete(f"/ngsi-ld/v1/entities/{CAR}")).status_code == 204
    bounds = (before, datetime.now(UTC))
    assert (await api.get(URL)).status_code == 404  # the entity and its observed history went with it
    gone = await api.get(URL, params={"timeproperty": "deletedAt"})
    assert gone.status_code == 200, gone.text
    body = gone.json()
    assert body["type"] == "Vehicle"
    assert set(body) == {"id", "type", "fuelLevel", "isParkedIn", "name", "speed"}
    assert body["isParkedIn"][0]["object"] == NULL
    assert body["name"][0]["languageMap"] == {"@none": NULL}
    assert all(_within(body[a][0]["deletedAt"], bounds) for a in ("fuelLevel", "speed"))
    query = {"type": "Vehicle", "timeproperty": "deletedAt"}
    assert [e["id"] for e in (await api.get("/ngsi-ld/v1/temporal/entities", params=query)).json()] == [CAR]
    assert (await api.get("/ngsi-ld/v1/temporal/entities", params={"type": "Vehicle"})).json() == []


async def test_batch_deletes_are_kept_and_a_temporal_delete_forgets(api: httpx.AsyncClient, car: None) -> None:
    deleted = await api.post("/ngsi-ld/v1/entityOperations/delete", json=[CAR])
    assert deleted.status_code == 204
    assert "speed" in (await api.get(URL, params={"timeproperty": "deletedAt"})).json()
    assert (await api.delete(URL)).status_code == 204  # the temporal representation of a deleted entity
    assert (await api.get(URL, params={"timeproperty": "deletedAt"})).status_code == 404
    assert (await api.delete(URL)).status_code == 404


async def test_a_recreated_entity_is_live_again(api: httpx.AsyncClient, car: None) -> None:
    assert (await api.delete(f"/ngsi-ld/v1/entities/{CAR}")).status_code == 204
    again = {"id": CAR, "type": "Car", "speed": {"type": "Property", "value": 1}}
    assert (await api.post("/ngsi-ld/v1/entities", json=again)).status_code == 201
    body = (await api.get(URL, params={"timeproperty": "deletedAt"})).json()
    assert body["type"] == "Car"  # the live entity, not the deleted one's record
    assert "fuelLevel" in body  # its id's deletion history stays


async def test_the_post_query_reads_deletions(api: httpx.AsyncClient, car: None) -> None:
    await _delete(api, "speed")
    body = {"type": "Query", "entities": [{"id": CAR}], "temporalQ": {"timeproperty": "deletedAt"}}
    response = await api.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    assert response.status_code == 200, response.text
    [entity] = response.json()
    assert set(entity) == {"id", "type", "speed"}
    assert entity["speed"][0]["value"] == NULL


@pytest.mark.parametrize(
    ("params", "body"),
    [
        ({"type": "Vehicle"}, {"entities": [{"type": "Vehicle"}]}),
        ({"id": CAR, "type": "Vehicle"}, {"entities": [{"id": CAR, "type": "Vehicle"}]}),
        (
            {"type": "Vehicle", "idPattern": ".*deletions.*"},
            {"entities": [{"type": "Vehicle", "idPattern": ".*deletions.*"}]},
        ),
        ({"type": "Vehicle", "attrs": "speed"}, {"entities": [{"type": "Vehicle"}], "attrs": ["speed"]}),
    ],
)
async def test_get_and_post_queries_agree_on_deleted_entities(
    api: httpx.AsyncClient, car: None, params: dict[str, str], body: dict[str, Any]
) -> None:
    """The same query by GET and by POST …/entityOperations/query answers the same: an entity deleted through the
    API is selected by its id, type and idPattern (what is left of it), not by conditions on a current state."""
    assert (await api.delete(f"/ngsi-ld/v1/entities/{CAR}")).status_code == 204
    got = await api.get("/ngsi-ld/v1/temporal/entities", params={**params, "timeproperty": "deletedAt"})
    posted = await api.post(
        "/ngsi-ld/v1/temporal/entityOperations/query",
        json={"type": "Query", **body, "temporalQ": {"timeproperty": "deletedAt"}},
    )
    assert got.status_code == posted.status_code == 200, (got.text, posted.text)
    assert [e["id"] for e in got.json()] == [CAR]
    assert posted.json() == got.json()


async def _deleted(api: httpx.AsyncClient) -> dict[str, list[dict[str, Any]]]:
    response = await api.get(URL, params={"timeproperty": "deletedAt"})
    assert response.status_code == 200, response.text
    return {k: v for k, v in response.json().items() if k not in ("id", "type")}


async def test_a_merge_patch_null_records_the_deletion(api: httpx.AsyncClient, car: None) -> None:
    """Deleting an attribute by merge-patch (5.6.17, urn:ngsi-ld:null) is recorded as DELETE …/attrs/{attr} is."""
    before = datetime.now(UTC)
    merged = await api.patch(f"/ngsi-ld/v1/entities/{CAR}", json={"speed": NULL, "fuelLevel": 30})
    assert merged.status_code == 204, merged.text
    bounds = (before, datetime.now(UTC))
    deleted = await _deleted(api)
    assert set(deleted) == {"speed"}
    [instance] = deleted["speed"]
    assert instance["value"] == NULL
    assert _within(instance["deletedAt"], bounds)


async def test_a_replace_records_the_attributes_it_drops(api: httpx.AsyncClient, car: None) -> None:
    replaced = await api.put(
        f"/ngsi-ld/v1/entities/{CAR}", json={"type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    )
    assert replaced.status_code == 204, replaced.text
    deleted = await _deleted(api)
    assert set(deleted) == {"fuelLevel", "isParkedIn", "name"}
    assert deleted["isParkedIn"][0]["object"] == NULL
    assert deleted["name"][0]["languageMap"] == {"@none": NULL}


@pytest.mark.parametrize(
    ("operation", "item"),
    [
        ("merge", {"id": CAR, "type": "Vehicle", "name": {"type": "Property", "value": NULL}}),
        (
            "upsert",
            {"id": CAR, "type": "Vehicle", "fuelLevel": 1, "isParkedIn": {"object": "urn:ngsi-ld:P:2"}, "speed": 3},
        ),
    ],
)
async def test_batch_writes_record_what_they_delete(
    api: httpx.AsyncClient, car: None, operation: str, item: dict[str, Any]
) -> None:
    response = await api.post(f"/ngsi-ld/v1/entityOperations/{operation}", json=[item])
    assert response.status_code == 204, response.text
    assert set(await _deleted(api)) == {"name"}  # upsert replaces the entity (options=replace, the default)


async def test_a_deleted_at_query_answers_only_what_was_deleted_in_the_window(
    api: httpx.AsyncClient, car: None
) -> None:
    """timeproperty=deletedAt is about deletions: an entity with none (in the window, of the asked attributes) is
    not part of the answer, nor of its count, as an entity without instances is not for observedAt."""
    van = {"id": "urn:ngsi-ld:Vehicle:deletions:2", "type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    assert (await api.post("/ngsi-ld/v1/entities", json=van)).status_code == 201
    gone = {"id": "urn:ngsi-ld:Vehicle:deletions:3", "type": "Vehicle", "speed": {"type": "Property", "value": 2}}
    assert (await api.post("/ngsi-ld/v1/entities", json=gone)).status_code == 201
    assert (await api.delete(f"/ngsi-ld/v1/entities/{gone['id']}")).status_code == 204
    await _delete(api, "speed")
    query = {"type": "Vehicle", "timeproperty": "deletedAt", "count": "true"}
    response = await api.get("/ngsi-ld/v1/temporal/entities", params=query)
    assert [(e["id"], sorted(set(e) - {"id", "type"})) for e in response.json()] == [
        (CAR, ["speed"]),
        (gone["id"], ["speed"]),
    ]
    assert response.headers["NGSILD-Results-Count"] == "2"
    asked = await api.get("/ngsi-ld/v1/temporal/entities", params={**query, "attrs": "fuelLevel"})
    assert asked.json() == []
    earlier = {**query, "timerel": "before", "timeAt": "2020-06-01T00:00:00Z"}
    response = await api.get("/ngsi-ld/v1/temporal/entities", params=earlier)
    assert response.json() == []
    assert response.headers["NGSILD-Results-Count"] == "0"
    body = {"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": {"timeproperty": "deletedAt"}}
    posted = await api.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    assert [e["id"] for e in posted.json()] == [CAR, gone["id"]]


@pytest.mark.parametrize("again", ["api", "harvest"])
async def test_an_entity_created_again_after_its_removal_is_created_anew(
    api: httpx.AsyncClient, hub: HubState, again: str
) -> None:
    """An entity a harvest marked removed (gone from its source: a 404 since) that is created again, through the
    API or by its source, is a new entity: its createdAt is when it came back, not the old entity's."""
    old = datetime(2020, 1, 1, tzinfo=UTC)
    entity = {"id": CAR, "type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    with hub.db.begin() as conn:
        store.upsert_entities(conn, [store.EntityWrite("", entity, source_id="src")], now=old)
        assert store.mark_removed(conn, source_id="src", keep=(), now=old) == [CAR]
    assert (await api.get(f"/ngsi-ld/v1/entities/{CAR}")).status_code == 404
    before = datetime.now(UTC)
    if again == "api":
        assert (await api.post("/ngsi-ld/v1/entities", json=entity)).status_code == 201
    else:
        with hub.db.begin() as conn:
            store.upsert_entities(conn, [store.EntityWrite("", entity, source_id="src")], now=datetime.now(UTC))
    got = (await api.get(f"/ngsi-ld/v1/entities/{CAR}", params={"options": "sysAttrs"})).json()
    assert _within(got["createdAt"], (before, datetime.now(UTC))), got
    assert got["createdAt"] == got["modifiedAt"]
