"""Attribute-level system timestamps: ``createdAt``/``modifiedAt`` on each attribute with ``options=sysAttrs``
and ``orderBy=a.createdAt`` / ``a.modifiedAt`` (GS CIM 009 4.8, 4.23; ngsi/stamps.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.state import HubState
from ngsi import store
from ngsi.context import context_link
from ngsi.contexts import ContextKind, context_files

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]  # a broker behind an access proxy: writes need no key
ENTITIES = "/ngsi-ld/v1/entities"
SYS = {"options": "sysAttrs"}
B = [f"urn:ngsi-ld:Building:stamps:{n}" for n in range(4)]


def _prop(value: Any, **more: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **more}


def _building(n: int, name: str) -> dict[str, Any]:
    return {"id": B[n], "type": "Building", "name": _prop(name), "floors": _prop(n)}


async def _tick() -> None:
    await asyncio.sleep(0.005)  # the stamps have millisecond resolution: successive writes must differ


async def _get(api: httpx.AsyncClient, n: int, **params: Any) -> dict[str, Any]:
    response = await api.get(f"{ENTITIES}/{B[n]}", params={**SYS, **params})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_new_entitys_attributes_carry_its_timestamps(api: httpx.AsyncClient) -> None:
    assert (await api.post(ENTITIES, json=_building(1, "one"))).status_code == 201
    entity = await _get(api, 1)
    assert entity["createdAt"] == entity["modifiedAt"]
    for name in ("name", "floors"):
        assert entity[name]["createdAt"] == entity[name]["modifiedAt"] == entity["createdAt"]
    assert "createdAt" not in (await api.get(f"{ENTITIES}/{B[1]}")).json()["name"]  # only with sysAttrs
    concise = await _get(api, 1, format="concise")
    assert concise["name"] == {"value": "one", "createdAt": entity["createdAt"], "modifiedAt": entity["createdAt"]}
    assert (await _get(api, 1, format="keyValues"))["name"] == "one"


async def test_a_write_stamps_only_the_attributes_it_changes_or_creates(api: httpx.AsyncClient) -> None:
    assert (await api.post(ENTITIES, json=_building(1, "one"))).status_code == 201
    first = await _get(api, 1)
    await _tick()
    patched = await api.patch(f"{ENTITIES}/{B[1]}/attrs", json={"name": _prop("uno")})
    assert patched.status_code == 204, patched.text
    second = await _get(api, 1)
    assert second["modifiedAt"] > first["modifiedAt"]
    assert second["name"]["createdAt"] == first["name"]["createdAt"]
    assert second["name"]["modifiedAt"] == second["modifiedAt"]
    assert second["floors"] == first["floors"]  # untouched: its stamps stay
    await _tick()
    appended = await api.post(f"{ENTITIES}/{B[1]}/attrs", json={"height": _prop(30), "floors": _prop(1)})
    assert appended.status_code == 204, appended.text
    third = await _get(api, 1)
    assert third["height"]["createdAt"] == third["height"]["modifiedAt"] == third["modifiedAt"]
    assert third["floors"] == first["floors"]  # rewritten with the same value: not modified
    assert third["name"] == second["name"]
    await _tick()
    merged = await api.patch(f"{ENTITIES}/{B[1]}", json={"floors": 2})
    assert merged.status_code == 204, merged.text
    fourth = await _get(api, 1)
    assert fourth["floors"]["createdAt"] == first["floors"]["createdAt"]
    assert fourth["floors"]["modifiedAt"] == fourth["modifiedAt"] > third["modifiedAt"]
    assert fourth["height"] == third["height"]


async def test_each_instance_of_a_multi_instance_attribute_shows_the_stamps(api: httpx.AsyncClient) -> None:
    entity = {"id": B[2], "type": "Building", "name": [_prop("a", datasetId="urn:ngsi-ld:Dataset:x"), _prop("b")]}
    assert (await api.post(ENTITIES, json=entity)).status_code == 201
    shown = await _get(api, 2)
    assert [i["createdAt"] for i in shown["name"]] == [shown["createdAt"]] * 2
    assert [i["modifiedAt"] for i in shown["name"]] == [shown["createdAt"]] * 2


async def test_order_by_an_attributes_created_at_and_modified_at(api: httpx.AsyncClient) -> None:
    """ETSI 019_19_04: entities created in the order 2, 1, 3 come in that order by name.createdAt."""
    for n in (2, 1, 3):
        assert (await api.post(ENTITIES, json=_building(n, f"b{n}"))).status_code == 201
        await _tick()
    assert (await api.post(ENTITIES, json={"id": B[0], "type": "Building"})).status_code == 201  # no name: last

    async def ids(order_by: str) -> list[str]:
        response = await api.get(ENTITIES, params={"type": "Building", "orderBy": order_by})
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()]

    assert await ids("name.createdAt") == [B[2], B[1], B[3], B[0]]
    assert await ids("name.createdAt;desc") == [B[3], B[1], B[2], B[0]]
    assert (await api.patch(f"{ENTITIES}/{B[2]}/attrs", json={"name": _prop("later")})).status_code == 204
    assert await ids("name.modifiedAt;desc") == [B[2], B[3], B[1], B[0]]
    assert await ids("name.createdAt") == [B[2], B[1], B[3], B[0]]  # an update creates nothing
    # floors was not touched: its modifiedAt is still the creation order
    assert await ids("floors.modifiedAt") == [B[2], B[1], B[3], B[0]]
    body = {"type": "Query", "entities": [{"type": "Building"}], "ordering": {"orderBy": ["name.modifiedAt;desc"]}}
    posted = await api.post("/ngsi-ld/v1/entityOperations/query", json=body)
    assert [e["id"] for e in posted.json()] == [B[2], B[3], B[1], B[0]]


async def test_a_harvest_write_gives_the_attributes_the_entitys_stamps(api: httpx.AsyncClient, hub: HubState) -> None:
    """A harvest (an untracked write) replaces the entity whole: its attributes carry the entity's stamps again."""
    assert (await api.post(ENTITIES, json=_building(1, "one"))).status_code == 201
    await _tick()
    assert (await api.post(f"{ENTITIES}/{B[1]}/attrs", json={"height": _prop(30)})).status_code == 204
    tracked = await _get(api, 1)
    assert tracked["name"]["modifiedAt"] < tracked["modifiedAt"]
    await _tick()
    harvested = {**_building(1, "harvested"), "height": _prop(31)}
    with hub.db.begin() as conn:
        store.upsert_entities(conn, [store.EntityWrite("", harvested)], now=datetime.now(UTC))
    entity = await _get(api, 1)
    assert entity["modifiedAt"] > tracked["modifiedAt"]
    for name in ("name", "floors", "height"):
        assert entity[name]["createdAt"] == entity["createdAt"]
        assert entity[name]["modifiedAt"] == entity["modifiedAt"]


async def test_the_stamps_follow_the_names_of_the_requests_context(
    api: httpx.AsyncClient, hub: HubState, shared_data: Path
) -> None:
    context_files(hub.settings.data_dir / "contexts").sync_from_dir(shared_data)
    url = "https://contexts.example.org/stamps.jsonld"
    hub.contexts.add(url, {"@context": {"label": "https://example.org/terms/label"}}, ContextKind.CACHED)
    link = {"Link": context_link(url)}
    entity = {"id": B[1], "type": "Building", "label": _prop("one")}
    assert (await api.post(ENTITIES, json=entity, headers=link)).status_code == 201
    await _tick()
    assert (await api.post(f"{ENTITIES}/{B[1]}/attrs", json={"label": _prop("two")}, headers=link)).status_code == 204
    shown = (await api.get(f"{ENTITIES}/{B[1]}", params=SYS, headers=link)).json()
    assert shown["label"]["value"] == "two"
    assert shown["label"]["modifiedAt"] == shown["modifiedAt"] > shown["label"]["createdAt"] == shown["createdAt"]


async def test_linked_entities_keep_their_attributes_stamps_under_the_requests_context(
    api: httpx.AsyncClient, hub: HubState, shared_data: Path
) -> None:
    """join=inline with sysAttrs and a user @context: a linked entity's attributes show their own stamps, as
    retrieving that entity does (they showed the entity's modifiedAt)."""
    context_files(hub.settings.data_dir / "contexts").sync_from_dir(shared_data)
    url = "https://contexts.example.org/stamps.jsonld"
    hub.contexts.add(url, {"@context": {"label": "https://example.org/terms/label"}}, ContextKind.CACHED)
    link = {"Link": context_link(url)}
    linking = {**_building(0, "zero"), "near": {"type": "Relationship", "object": B[1]}}
    for entity in (linking, {"id": B[1], "type": "Building", "label": _prop("one")}):
        assert (await api.post(ENTITIES, json=entity, headers=link)).status_code == 201
    await _tick()
    assert (await api.post(f"{ENTITIES}/{B[1]}/attrs", json={"height": _prop(3)}, headers=link)).status_code == 204
    alone = (await api.get(f"{ENTITIES}/{B[1]}", params=SYS, headers=link)).json()
    assert alone["label"]["modifiedAt"] == alone["createdAt"] < alone["modifiedAt"]
    joined = await api.get(f"{ENTITIES}/{B[0]}", params={**SYS, "join": "inline"}, headers=link)
    assert joined.status_code == 200, joined.text
    assert joined.json()["near"]["entity"]["label"] == alone["label"]
    flat = await api.get(ENTITIES, params={**SYS, "type": "Building", "join": "flat"}, headers=link)
    assert flat.status_code == 200, flat.text
    assert [e["label"] for e in flat.json() if e["id"] == B[1]] == [alone["label"]]


async def test_entities_without_the_attribute_come_last_by_id(api: httpx.AsyncClient) -> None:
    """orderBy=a.createdAt: the entities without ``a`` come last in id order, not by when they were created."""
    assert (await api.post(ENTITIES, json=_building(1, "one"))).status_code == 201
    for n in (3, 2):
        assert (await api.post(ENTITIES, json={"id": B[n], "type": "Building"})).status_code == 201
        await _tick()
    for order_by in ("name.createdAt", "name.createdAt;desc", "name.modifiedAt"):
        response = await api.get(ENTITIES, params={"type": "Building", "orderBy": order_by})
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()] == [B[1], B[2], B[3]], order_by


async def test_each_instance_of_a_multi_instance_attribute_keeps_its_own_stamps(api: httpx.AsyncClient) -> None:
    """An instance appended by datasetId is created then, not with the attribute; the instances a write leaves as
    they were keep their modifiedAt (every instance showed the attribute's stamps). The attribute's own, which
    orderBy=a.createdAt|a.modifiedAt reads, are its first creation and its last change."""
    gps = "urn:ngsi-ld:Dataset:stamps:gps"
    assert (await api.post(ENTITIES, json=_building(1, "one"))).status_code == 201
    first = await _get(api, 1)
    await _tick()
    appended = await api.post(f"{ENTITIES}/{B[1]}/attrs", json={"name": _prop("gps one", datasetId=gps)})
    assert appended.status_code == 204, appended.text
    second = await _get(api, 1)
    default, by_gps = second["name"]
    assert (default["createdAt"], default["modifiedAt"]) == (first["createdAt"], first["createdAt"])
    assert by_gps["createdAt"] == by_gps["modifiedAt"] == second["modifiedAt"] > first["modifiedAt"]
    await _tick()
    updated = await api.patch(f"{ENTITIES}/{B[1]}/attrs", json={"name": _prop("gps two", datasetId=gps)})
    assert updated.status_code == 204, updated.text
    third = await _get(api, 1)
    assert third["name"][0] == default
    assert third["name"][1]["createdAt"] == by_gps["createdAt"]
    assert third["name"][1]["modifiedAt"] == third["modifiedAt"] > by_gps["modifiedAt"]
    await _tick()
    merged = await api.patch(f"{ENTITIES}/{B[1]}", json={"name": {"value": "urn:ngsi-ld:null", "datasetId": gps}})
    assert merged.status_code == 204, merged.text
    assert (await _get(api, 1))["name"] == default  # the default instance left, as it was
    await _tick()
    assert (await api.post(ENTITIES, json=_building(2, "two"))).status_code == 201
    response = await api.get(ENTITIES, params={"type": "Building", "orderBy": "name.modifiedAt"})
    assert [e["id"] for e in response.json()] == [B[1], B[2]]  # name of B[1]: modified by the merge, before B[2]


async def test_order_by_the_stamps_of_attributes_without_a_value_member(api: httpx.AsyncClient) -> None:
    """a.createdAt of a LanguageProperty or a ListProperty (no value or object member): the attribute is there,
    so its stamps order the entities (they were taken for missing, and ordered by id)."""
    for n in (2, 1, 3):
        entity = {
            "id": B[n],
            "type": "Building",
            "label": {"type": "LanguageProperty", "languageMap": {"en": f"b{n}"}},
            "codes": {"type": "ListProperty", "valueList": [n]},
        }
        assert (await api.post(ENTITIES, json=entity)).status_code == 201
        await _tick()
    for order_by, expected in (
        ("label.createdAt", [B[2], B[1], B[3]]),
        ("label.createdAt;desc", [B[3], B[1], B[2]]),
        ("codes.modifiedAt", [B[2], B[1], B[3]]),
    ):
        response = await api.get(ENTITIES, params={"type": "Building", "orderBy": order_by})
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()] == expected, order_by
