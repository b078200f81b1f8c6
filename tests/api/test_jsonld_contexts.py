"""@context on the NGSI-LD API: Link and body contexts, aliases in and out, 504 for unknown contexts, and
``/jsonldContexts`` list, serve, add and delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from api.state import HubState
from ngsi.context import CORE_CONTEXT, JSONLD_CONTEXT_REL, context_link
from ngsi.contexts import ContextKind, context_files

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]  # a broker behind an access proxy: writes need no key
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"
TRANSPORT = "https://smartdatamodels.org/dataModel.Transportation/"
ALIASES = {"@context": {"bikes": TRANSPORT + "availableBikeNumber", "Dock": TRANSPORT + "BikeHireDockingStation"}}
ALIASES_URL = "https://contexts.example.org/bikes.jsonld"
URN = "urn:ngsi-ld:BikeHireDockingStation:oslo:"
LD_JSON = "application/ld+json"


def dock(n: int, bikes: int) -> dict[str, Any]:
    return {
        "id": f"{URN}{n}",
        "type": "BikeHireDockingStation",
        "availableBikeNumber": {"type": "Property", "value": bikes, "observedAt": "2025-01-01T10:00:00Z"},
        "name": {"type": "Property", "value": f"Dock {n}"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.7, 59.9]}},
    }


@pytest.fixture
async def docks(api: httpx.AsyncClient, hub: HubState, shared_data: Path) -> None:
    context_files(hub.settings.data_dir / "contexts").sync_from_dir(shared_data)
    for n, bikes in ((1, 2), (2, 5), (3, 9)):
        assert (await api.post("/ngsi-ld/v1/entities", json=dock(n, bikes))).status_code == 201


def _link(url: str) -> dict[str, str]:
    return {"Link": context_link(url)}


async def test_aliases_find_stored_entities_and_come_back_in_the_response(
    api: httpx.AsyncClient, hub: HubState, docks: None
) -> None:
    hub.contexts.add(ALIASES_URL, ALIASES, ContextKind.CACHED)
    params = {"type": "Dock", "q": "bikes>3"}
    response = await api.get("/ngsi-ld/v1/entities", params=params, headers=_link(ALIASES_URL))
    assert response.status_code == 200, response.text
    found = response.json()
    assert [e["id"] for e in found] == [f"{URN}2", f"{URN}3"]
    assert [e["type"] for e in found] == ["Dock", "Dock"]
    assert [e["bikes"]["value"] for e in found] == [5, 9]
    assert all("availableBikeNumber" not in e for e in found)
    assert found[0]["location"]["type"] == "GeoProperty"  # core names never change
    # Undefined in the client's context: the short name, as the client would send it (ngsi/terms.py)
    assert found[0]["name"]["value"] == "Dock 2"
    assert f"<{ALIASES_URL}>" in response.headers["link"]
    ld = await api.get(
        "/ngsi-ld/v1/entities", params=params, headers={**_link(ALIASES_URL), "Accept": "application/ld+json"}
    )
    assert [e["@context"] for e in ld.json()] == [ALIASES_URL, ALIASES_URL]
    one = await api.get(f"/ngsi-ld/v1/entities/{URN}3", params={"type": "Dock"}, headers=_link(ALIASES_URL))
    assert one.json()["bikes"]["value"] == 9


async def test_aliases_work_with_pick_type_expressions_post_query_and_geojson(
    api: httpx.AsyncClient, hub: HubState, docks: None
) -> None:
    hub.contexts.add(ALIASES_URL, ALIASES, ContextKind.CACHED)
    picked = await api.get(
        "/ngsi-ld/v1/entities",
        params={"type": "(Dock;Dock),Nothing", "q": "bikes>3", "pick": "id,bikes"},
        headers=_link(ALIASES_URL),
    )
    assert picked.status_code == 200, picked.text
    assert picked.json() == [
        {"id": f"{URN}2", "bikes": {"type": "Property", "value": 5, "observedAt": "2025-01-01T10:00:00Z"}},
        {"id": f"{URN}3", "bikes": {"type": "Property", "value": 9, "observedAt": "2025-01-01T10:00:00Z"}},
    ]
    # attrs apart: with pick or omit it is a 400 (ETSI 019_18_02)
    params = {"type": "Dock", "attrs": "bikes", "q": "bikes>3", "format": "keyValues"}
    kept = await api.get("/ngsi-ld/v1/entities", params=params, headers=_link(ALIASES_URL))
    assert kept.json() == [{"id": f"{URN}2", "type": "Dock", "bikes": 5}, {"id": f"{URN}3", "type": "Dock", "bikes": 9}]
    body = {"type": "Query", "entities": [{"type": "Dock"}], "q": "bikes<3", "attrs": ["bikes"]}
    posted = await api.post(
        "/ngsi-ld/v1/entityOperations/query", json=body, headers=_link(ALIASES_URL), params={"format": "keyValues"}
    )
    assert posted.status_code == 200, posted.text
    assert posted.json() == [{"id": f"{URN}1", "type": "Dock", "bikes": 2}]
    geo = await api.get(
        "/ngsi-ld/v1/entities",
        params={"type": "Dock", "q": "bikes==9", "format": "keyValues"},
        headers={**_link(ALIASES_URL), "Accept": "application/geo+json"},
    )
    assert geo.status_code == 200, geo.text
    [feature] = geo.json()["features"]
    assert feature["properties"]["bikes"] == 9
    assert feature["geometry"] == {"type": "Point", "coordinates": [10.7, 59.9]}


async def test_no_link_and_the_core_context_read_the_stored_names(api: httpx.AsyncClient, docks: None) -> None:
    plain = await api.get(
        "/ngsi-ld/v1/entities", params={"type": "BikeHireDockingStation", "q": "availableBikeNumber>3"}
    )
    core = await api.get(
        "/ngsi-ld/v1/entities",
        params={"type": "BikeHireDockingStation", "q": "availableBikeNumber>3"},
        headers=_link("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"),
    )
    assert plain.json() == core.json()
    assert [e["availableBikeNumber"]["value"] for e in plain.json()] == [5, 9]
    assert CORE_CONTEXT in plain.headers["link"]


async def test_unknown_context_is_504_until_it_is_added(api: httpx.AsyncClient, hub: HubState, docks: None) -> None:
    request = {"params": {"type": "Dock"}, "headers": _link(ALIASES_URL)}
    missing = await api.get("/ngsi-ld/v1/entities", **request)  # type: ignore[arg-type]
    assert missing.status_code == 504
    assert missing.json()["type"] == ETSI + "LdContextNotAvailable"
    assert ALIASES_URL in missing.json()["detail"]
    hub.contexts.add(ALIASES_URL, ALIASES, ContextKind.CACHED)  # what `nordhub contexts add URL FILE` does
    found = await api.get("/ngsi-ld/v1/entities", **request)  # type: ignore[arg-type]
    assert found.status_code == 200
    assert len(found.json()) == 3


async def test_context_fetch_setting_loads_through_the_client(
    api: httpx.AsyncClient, hub: HubState, docks: None
) -> None:
    hub.settings.context_fetch = True
    calls: list[str] = []

    async def fetch(url: str, headers: dict[str, str] | None = None) -> Any:
        calls.append(url)
        return type("Fetched", (), {"content": orjson.dumps(ALIASES)})()

    hub.harvester.client.get = fetch  # type: ignore[method-assign]
    for _ in range(2):
        found = await api.get("/ngsi-ld/v1/entities", params={"type": "Dock"}, headers=_link(ALIASES_URL))
        assert found.status_code == 200, found.text
        assert len(found.json()) == 3
    assert calls == [ALIASES_URL]  # fetched once, then served from the store
    assert ALIASES_URL in (await api.get("/ngsi-ld/v1/jsonldContexts")).json()


async def test_ld_json_body_context_writes_stored_names(api: httpx.AsyncClient, docks: None) -> None:
    body = {"id": f"{URN}9", "type": "Dock", "bikes": {"type": "Property", "value": 4}, **ALIASES}
    created = await api.post(
        "/ngsi-ld/v1/entities", content=orjson.dumps(body), headers={"Content-Type": "application/ld+json"}
    )
    assert created.status_code == 201, created.text
    stored = (await api.get(f"/ngsi-ld/v1/entities/{URN}9")).json()
    assert stored["type"] == "BikeHireDockingStation"
    assert stored["availableBikeNumber"] == {"type": "Property", "value": 4}
    assert "@context" not in stored


async def test_context_rules_of_the_http_binding(api: httpx.AsyncClient, docks: None) -> None:
    body = orjson.dumps({**dock(7, 1), "@context": CORE_CONTEXT})
    both = await api.post(
        "/ngsi-ld/v1/entities", content=body, headers={"Content-Type": "application/ld+json", **_link(CORE_CONTEXT)}
    )
    assert both.status_code == 400
    assert "Link" in both.json()["detail"]
    plain = await api.post("/ngsi-ld/v1/entities", content=body, headers={"Content-Type": "application/json"})
    assert plain.status_code == 400
    assert "application/ld+json" in plain.json()["detail"]
    bare = await api.post(
        "/ngsi-ld/v1/entities", content=orjson.dumps(dock(8, 1)), headers={"Content-Type": "application/ld+json"}
    )
    assert bare.status_code == 400
    assert "carries its @context" in bare.json()["detail"]
    wrong_rel = await api.get(
        "/ngsi-ld/v1/entities", params={"type": "Dock"}, headers={"Link": f'<{CORE_CONTEXT}>; rel="describedby"'}
    )
    assert wrong_rel.status_code == 400
    assert wrong_rel.json()["type"] == ETSI + "BadRequestData"
    assert JSONLD_CONTEXT_REL in wrong_rel.json()["detail"]


async def test_temporal_query_translates_attrs(api: httpx.AsyncClient, hub: HubState, docks: None) -> None:
    hub.contexts.add(ALIASES_URL, ALIASES, ContextKind.CACHED)
    response = await api.get(
        "/ngsi-ld/v1/temporal/entities", params={"type": "Dock", "attrs": "bikes"}, headers=_link(ALIASES_URL)
    )
    assert response.status_code == 200, response.text
    first = response.json()[0]
    assert first["type"] == "Dock"
    assert set(first) == {"id", "type", "bikes"}


async def test_jsonld_contexts_post_list_serve_delete(api: httpx.AsyncClient, docks: None) -> None:
    posted = await api.post("/ngsi-ld/v1/jsonldContexts", json=ALIASES)
    assert posted.status_code == 201
    url = posted.headers["location"]
    assert url.startswith("http://127.0.0.1:8000/ngsi-ld/v1/jsonldContexts/")
    local_id = url.rsplit("/", 1)[1]
    listed = (await api.get("/ngsi-ld/v1/jsonldContexts")).json()
    assert url in listed
    assert CORE_CONTEXT in listed
    details = (await api.get("/ngsi-ld/v1/jsonldContexts", params={"details": "true", "kind": "Hosted"})).json()
    assert [(d["url"], d["id"], d["kind"]) for d in details] == [(url, local_id, "Hosted")]
    assert details[0]["createdAt"].endswith("Z")
    assert details[0]["numberOfHits"] == 0
    served = await api.get(f"/ngsi-ld/v1/jsonldContexts/{local_id}")
    assert served.headers["content-type"] == "application/ld+json"
    assert served.json() == ALIASES
    used = await api.get("/ngsi-ld/v1/entities", params={"type": "Dock", "q": "bikes==9"}, headers=_link(url))
    assert [e["bikes"]["value"] for e in used.json()] == [9]
    assert (await api.delete(f"/ngsi-ld/v1/jsonldContexts/{local_id}")).status_code == 204
    assert (await api.get(f"/ngsi-ld/v1/jsonldContexts/{local_id}")).status_code == 404
    core = await api.delete(f"/ngsi-ld/v1/jsonldContexts/{CORE_CONTEXT}")
    assert core.status_code == 400
    assert "core context" in core.json()["detail"]
    bad = await api.post("/ngsi-ld/v1/jsonldContexts", json={"bikes": "x"})
    assert bad.status_code == 400
    assert (await api.get("/ngsi-ld/v1/jsonldContexts", params={"kind": "Other"})).status_code == 400


async def test_batch_items_use_their_own_context_and_207_names_the_clients_terms(
    api: httpx.AsyncClient, hub: HubState, docks: None
) -> None:
    hub.contexts.add(ALIASES_URL, ALIASES, ContextKind.CACHED)
    items = [
        {"id": f"{URN}20", "type": "Dock", "bikes": {"type": "Property", "value": 1}, "@context": ALIASES_URL},
        {"id": f"{URN}21", "type": "BikeHireDockingStation", "@context": CORE_CONTEXT},
    ]
    created = await api.post(
        "/ngsi-ld/v1/entityOperations/create", content=orjson.dumps(items), headers={"Content-Type": LD_JSON}
    )
    assert created.status_code == 201, created.text
    stored = (await api.get(f"/ngsi-ld/v1/entities/{URN}20")).json()
    assert (stored["type"], stored["availableBikeNumber"]["value"]) == ("BikeHireDockingStation", 1)
    update = await api.patch(
        f"/ngsi-ld/v1/entities/{URN}20/attrs",
        json={"bikes": {"type": "Property", "value": 2}, "spare": {"type": "Property", "value": 0}},
        headers=_link(ALIASES_URL),
    )
    assert update.status_code == 207
    assert update.json()["updated"] == ["bikes"]
    assert [n["attributeName"] for n in update.json()["notUpdated"]] == ["spare"]
    deleted = await api.delete(f"/ngsi-ld/v1/entities/{URN}20/attrs/bikes", headers=_link(ALIASES_URL))
    assert deleted.status_code == 204
    assert "availableBikeNumber" not in (await api.get(f"/ngsi-ld/v1/entities/{URN}20")).json()


async def test_hits_are_counted_per_context(api: httpx.AsyncClient, hub: HubState, docks: None) -> None:
    hub.contexts.add(ALIASES_URL, ALIASES, ContextKind.CACHED)
    for _ in range(3):
        await api.get("/ngsi-ld/v1/entities", params={"type": "Dock"}, headers=_link(ALIASES_URL))
    details = (await api.get("/ngsi-ld/v1/jsonldContexts", params={"details": "true"})).json()
    mine = next(d for d in details if d["url"] == ALIASES_URL)
    assert (mine["kind"], mine["numberOfHits"]) == ("Cached", 3)
    assert mine["lastUsage"].endswith("Z")


async def test_temporal_create_with_an_inline_context_stores_the_history_under_stored_names(
    api: httpx.AsyncClient, docks: None
) -> None:
    body = {
        "id": f"{URN}30",
        "type": "Dock",
        "bikes": [
            {"type": "Property", "value": 1, "observedAt": "2025-01-01T10:00:00Z"},
            {"type": "Property", "value": 4, "observedAt": "2025-01-01T11:00:00Z"},
        ],
        **ALIASES,
    }
    created = await api.post(
        "/ngsi-ld/v1/temporal/entities", content=orjson.dumps(body), headers={"Content-Type": LD_JSON}
    )
    assert created.status_code == 201, created.text
    history = await api.get(f"/ngsi-ld/v1/temporal/entities/{URN}30", params={"attrs": "availableBikeNumber"})
    assert [i["value"] for i in history.json()["availableBikeNumber"]] == [1, 4]
    assert history.json()["type"] == "BikeHireDockingStation"


async def test_order_by_names_are_expanded_with_the_request_context(
    api: httpx.AsyncClient, hub: HubState, docks: None
) -> None:
    """orderBy terms are translated like q paths: ``bikes`` is availableBikeNumber under the aliases context."""
    hub.contexts.add(ALIASES_URL, ALIASES, ContextKind.CACHED)
    params = {"type": "Dock", "orderBy": "bikes;desc"}
    response = await api.get("/ngsi-ld/v1/entities", params=params, headers=_link(ALIASES_URL))
    assert response.status_code == 200, response.text
    assert [e["bikes"]["value"] for e in response.json()] == [9, 5, 2]
    # without the context "bikes" is no stored attribute: every entity lacks it, so the id order remains
    plain = await api.get("/ngsi-ld/v1/entities", params={"type": "BikeHireDockingStation", "orderBy": "bikes;desc"})
    assert [e["id"] for e in plain.json()] == [f"{URN}1", f"{URN}2", f"{URN}3"]
    body = {"type": "Query", "entities": [{"type": "Dock"}], "ordering": {"orderBy": ["bikes.observedAt", "bikes"]}}
    posted = await api.post("/ngsi-ld/v1/entityOperations/query", json=body, headers=_link(ALIASES_URL))
    assert [e["bikes"]["value"] for e in posted.json()] == [2, 5, 9]


async def test_core_vocab_iris_are_the_short_names_without_a_context(api: httpx.AsyncClient) -> None:
    """Without a Link (the core context), a name written out in the core @vocab, https://uri.etsi.org/ngsi-ld/
    default-context/<name>, is <name>: in attrs, in a POST query body, in type and in discovery (ETSI 019_02_04)."""
    vocab = "https://uri.etsi.org/ngsi-ld/default-context/"
    car = {"id": "urn:ngsi-ld:Car:1", "type": "Car", "isParked": {"type": "Relationship", "object": "urn:ngsi-ld:P:1"}}
    assert (
        await api.post("/ngsi-ld/v1/entities", json={**car, "colour": {"type": "Property", "value": "red"}})
    ).status_code == 201
    body = {"type": "Query", "attrs": [vocab + "isParked"]}
    posted = await api.post("/ngsi-ld/v1/entityOperations/query", json=body)
    assert posted.json() == [car]
    listed = await api.get("/ngsi-ld/v1/entities", params={"type": vocab + "Car", "attrs": vocab + "isParked"})
    assert listed.json() == [car]
    assert (await api.get(f"/ngsi-ld/v1/attributes/{quote(vocab + 'colour', safe='')}")).json()["attributeCount"] == 1
    assert (await api.get(f"/ngsi-ld/v1/types/{quote(vocab + 'Car', safe='')}")).json()["entityCount"] == 1
    other = await api.get("/ngsi-ld/v1/entities", params={"type": "https://example.org/Car"})
    assert other.json() == []  # another IRI stays what it is


@pytest.mark.parametrize(
    ("context", "needle"),
    [
        ("not a url", "'not a url' is not a URL"),
        (["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld", "relative/ctx.jsonld"], "is not a URL"),
        ({"a": {"@id": "urn:a", "@type": "@bogus"}}, "@type '@bogus' is not an IRI"),
        ({"@version": 2.0, "a": "urn:a"}, "@version must be 1.1"),
    ],
)
async def test_a_context_that_could_never_be_used_is_refused_when_posted(
    api: httpx.AsyncClient, context: Any, needle: str
) -> None:
    """Accepted, such a context only failed later, on every request naming it."""
    response = await api.post("/ngsi-ld/v1/jsonldContexts", json={"@context": context})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert needle in response.json()["detail"]
    listed = await api.get("/ngsi-ld/v1/jsonldContexts", params={"kind": "Hosted"})
    assert listed.json() == []
