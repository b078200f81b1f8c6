"""Representations over HTTP: keyValues per attribute type, GeoJSON of multi-instance GeoProperties, lang."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import BUILDING, SHOP

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]
ENTITIES = "/ngsi-ld/v1/entities"
STOCKHOLM = {"NGSILD-Tenant": "stockholm"}


async def test_key_values_of_several_instances_and_of_a_language_map(api: httpx.AsyncClient, seeded: None) -> None:
    """4.5.4: {"dataset": {datasetId | "@none": value}}, {"languageMap": {…}}; with lang the chosen string."""
    building = (await api.get(f"{ENTITIES}/{BUILDING}", params={"options": "keyValues"}, headers=STOCKHOLM)).json()
    assert building["temperature"] == {"dataset": {"urn:ngsi-ld:Dataset:a": 5, "@none": 6}}
    shop = (await api.get(f"{ENTITIES}/{SHOP}", params={"format": "keyValues"})).json()
    assert shop["name"] == {"languageMap": {"nb": "Butikk", "en": "Shop"}}
    english = (await api.get(f"{ENTITIES}/{SHOP}", params={"format": "keyValues", "lang": "EN-gb"})).json()
    assert english["name"] == "Shop"
    listed = (await api.get(ENTITIES, params={"type": "Shop", "format": "keyValues", "lang": "nb-NO"})).json()
    assert [e["name"] for e in listed] == ["Butikk", "Kiosk"]


async def test_geojson_takes_the_default_instance(api: httpx.AsyncClient) -> None:
    """4.5.16.1 / 4.5.17: the instance without datasetId is the geometry; keyValues properties keep the dataset map
    (ETSI 4516_01, 4517_01)."""
    gps, home = {"type": "Point", "coordinates": [9.0, 9.0]}, {"type": "Point", "coordinates": [3.0, 4.0]}
    entity = {
        "id": "urn:ngsi-ld:Vehicle:1",
        "type": "Vehicle",
        "location": [
            {"type": "GeoProperty", "value": gps, "datasetId": "urn:ngsi-ld:Dataset:gps"},
            {"type": "GeoProperty", "value": home},
        ],
        "speed": {"type": "Property", "value": 5},
    }
    assert (await api.post(ENTITIES, json=entity)).status_code == 201
    geo = {"Accept": "application/geo+json"}
    feature = (await api.get(f"{ENTITIES}/urn:ngsi-ld:Vehicle:1", params={"options": "keyValues"}, headers=geo)).json()
    assert (feature["type"], feature["geometry"]) == ("Feature", home)
    assert feature["properties"]["speed"] == 5
    assert feature["properties"]["location"] == {"dataset": {"urn:ngsi-ld:Dataset:gps": gps, "@none": home}}
    collection = (await api.get(ENTITIES, params={"type": "Vehicle"}, headers=geo)).json()
    assert [f["geometry"] for f in collection["features"]] == [home]


async def test_prefer_an_earlier_version(api: httpx.AsyncClient) -> None:
    """4.3.6.8 over HTTP: Prefer: ngsi-ld=1.5 reformats a VocabProperty as a Property, answered 203 with
    Preference-Applied; the native version is 200 and untouched (ETSI 436_08)."""
    entity = {
        "id": "urn:ngsi-ld:Building:v",
        "type": "Building",
        "category": {"type": "VocabProperty", "vocab": "shop"},
    }
    assert (await api.post(ENTITIES, json=entity)).status_code == 201
    old = await api.get(f"{ENTITIES}/urn:ngsi-ld:Building:v", headers={"Prefer": "ngsi-ld=1.5"})
    assert old.status_code == 203
    assert old.headers["preference-applied"] == "ngsi-ld=1.5"
    assert old.json()["category"] == {"type": "Property", "value": "shop"}
    native = await api.get(f"{ENTITIES}/urn:ngsi-ld:Building:v", headers={"Prefer": "ngsi-ld=1.9"})
    assert (native.status_code, native.headers["preference-applied"]) == (200, "ngsi-ld=1.9")
    assert native.json()["category"] == entity["category"]
    plain = await api.get(f"{ENTITIES}/urn:ngsi-ld:Building:v")
    assert plain.status_code == 200
    assert "preference-applied" not in plain.headers


async def test_query_answers_are_amended_for_an_earlier_version(api: httpx.AsyncClient) -> None:
    """4.3.6.8 on queries (GET /entities and POST /entityOperations/query): every entity of the page is amended,
    203 when one changed, 200 with Preference-Applied when none had to."""
    vocab = {"id": "urn:ngsi-ld:Building:v", "type": "Building", "category": {"type": "VocabProperty", "vocab": "shop"}}
    plain = {"id": "urn:ngsi-ld:Building:w", "type": "Building", "category": {"type": "Property", "value": "home"}}
    for entity in (vocab, plain):
        assert (await api.post(ENTITIES, json=entity)).status_code == 201
    old = await api.get(ENTITIES, params={"type": "Building"}, headers={"Prefer": "ngsi-ld=1.5"})
    assert (old.status_code, old.headers["preference-applied"]) == (203, "ngsi-ld=1.5")
    assert [e["category"] for e in old.json()] == [{"type": "Property", "value": "shop"}, plain["category"]]
    assert "x-amended" not in old.headers
    body = {"type": "Query", "entities": [{"type": "Building"}]}
    posted = await api.post("/ngsi-ld/v1/entityOperations/query", json=body, headers={"Prefer": "ngsi-ld=1.5"})
    assert (posted.status_code, posted.json()) == (203, old.json())
    unchanged = await api.get(
        ENTITIES, params={"id": plain["id"], "type": "Building"}, headers={"Prefer": "ngsi-ld=1.5"}
    )
    assert (unchanged.status_code, unchanged.headers["preference-applied"]) == (200, "ngsi-ld=1.5")
    native = await api.get(ENTITIES, params={"type": "Building"}, headers={"Prefer": "ngsi-ld=1.9"})
    assert (native.status_code, native.json()[0]["category"]) == (200, vocab["category"])
    bad = await api.get(ENTITIES, params={"type": "Building"}, headers={"Prefer": "ngsi-ld=one"})
    assert bad.status_code == 400


async def test_expires_at_is_a_system_attribute(api: httpx.AsyncClient) -> None:
    """6.3.11: expiresAt (entity and attribute level) is stored as sent and returned only with options=sysAttrs;
    it is no attribute for discovery (ETSI 6311_01_01/02)."""
    expiry = "2100-01-01T00:00:00Z"
    speed = {"type": "Property", "value": 7, "observedAt": "2026-08-13T00:00:00Z", "expiresAt": expiry}
    entity = {"id": "urn:ngsi-ld:Vehicle:t", "type": "Vehicle", "expiresAt": expiry, "speed": speed}
    assert (await api.post(ENTITIES, json=entity)).status_code == 201
    one = f"{ENTITIES}/urn:ngsi-ld:Vehicle:t"
    for params, headers in [({}, {}), ({"format": "keyValues"}, {}), ({}, {"Accept": "application/geo+json"})]:
        plain = await api.get(one, params=params, headers=headers)
        assert plain.status_code == 200
        assert "expiresAt" not in plain.text, params
        assert "speed" in plain.text
    lasting = {"id": "urn:ngsi-ld:Vehicle:u", "type": "Vehicle", "speed": {"type": "Property", "value": 8}}
    assert (await api.post(ENTITIES, json=lasting)).status_code == 201
    listed = await api.get(ENTITIES, params={"type": "Vehicle"})  # a page of one entity that expires, one not
    assert "expiresAt" not in listed.text
    assert [e["speed"]["value"] for e in listed.json()] == [7, 8]
    shown = (await api.get(one, params={"options": "sysAttrs"})).json()
    assert list(shown)[:5] == ["id", "type", "createdAt", "modifiedAt", "expiresAt"]
    assert (shown["expiresAt"], shown["speed"]["expiresAt"]) == (expiry, expiry)
    assert (await api.get("/ngsi-ld/v1/attributes")).json()["attributeList"] == ["speed"]
    later = "2200-01-01T00:00:00Z"
    merge = await api.patch(one, json={"expiresAt": later})
    assert merge.status_code == 204
    assert (await api.get(one, params={"options": "sysAttrs"})).json()["expiresAt"] == later
    assert (await api.get("/ngsi-ld/v1/attributes")).json()["attributeList"] == ["speed"]
