"""Request limits (api/limits.py): body cap, JSON depth, query-string cap; and the caps of q and of page sizes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import event

from api.app import create_app
from api.limits import json_depth
from api.routers import ngsild
from api.state import HubState
from hub.settings import Settings
from ngsi.context import context_link
from ngsi.contexts import ContextKind
from ngsi.q import Node, parse_q

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"
HUB = "https://nordhub.eu/problems/"
ENTITY = {
    "id": "urn:ngsi-ld:OffStreetParking:test:1",
    "type": "OffStreetParking",
    "name": {"type": "Property", "value": "P"},
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """NGSI-LD writes without a key, as a broker behind an access proxy (where the hub has keys, this setting
    lets anonymous writes through; the limits apply the same either way)."""
    return settings.model_copy(update={"anonymous_writes": True})


async def _client(settings: Settings, hub: HubState, **limits: Any) -> httpx.AsyncClient:
    app = create_app(settings.model_copy(update=limits), state=hub)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test")


def _nested(depth: int) -> bytes:
    """An entity whose ``name`` value nests ``depth`` levels in all (the entity object included)."""
    value: Any = "deep"
    for _ in range(depth - 2):
        value = [value]
    return orjson.dumps({**ENTITY, "name": {"type": "Property", "value": value}})


def test_json_depth_counts_arrays_and_objects_but_not_brackets_in_strings() -> None:
    assert json_depth(b"1") == 0
    assert json_depth(b'{"a": [1, {"b": []}]}') == 4
    assert json_depth(b'["[[[[", "\\"]]]{{{"]') == 1
    assert json_depth(_nested(65)) == 65


async def test_body_over_the_cap_is_413_before_it_is_read(settings: Settings, hub: HubState) -> None:
    async with await _client(settings, hub, max_body_bytes=1000) as api:
        big = orjson.dumps({**ENTITY, "name": {"type": "Property", "value": "x" * 2000}})
        response = await api.post("/ngsi-ld/v1/entities", content=big, headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["type"] == ETSI + "BadRequestData"
        assert "limit of 1000 bytes" in problem["detail"]
        assert f"Content-Length: {len(big)}" in problem["detail"]
        other = await api.post("/api/v1/validate", content=big, headers={"Content-Type": "application/json"})
        assert other.status_code == 413
        assert other.json()["type"] == HUB + "request-too-large"
        small = await api.post(
            "/ngsi-ld/v1/entities", content=orjson.dumps(ENTITY), headers={"Content-Type": "application/json"}
        )
        assert small.status_code == 201


async def test_streamed_body_without_length_is_cut_at_the_cap(settings: Settings, hub: HubState) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b"x" * 500

    async with await _client(settings, hub, max_body_bytes=2000) as api:
        response = await api.post("/api/v1/validate", content=chunks(), headers={"Content-Type": "text/turtle"})
    assert response.status_code == 413
    assert "limit of 2000 bytes" in response.json()["detail"]
    assert len(sent) < 100  # the reading stopped at the cap, the rest of the stream was never pulled


async def test_json_nested_deeper_than_the_limit_is_400_naming_the_limit(settings: Settings, hub: HubState) -> None:
    async with await _client(settings, hub, max_json_depth=64) as api:
        headers = {"Content-Type": "application/json"}
        deep = await api.post("/ngsi-ld/v1/entities", content=_nested(65), headers=headers)
        assert deep.status_code == 400
        assert deep.json()["type"] == ETSI + "BadRequestData"
        assert "65 levels deep" in deep.json()["detail"]
        assert "NORDHUB_MAX_JSON_DEPTH" in deep.json()["detail"]
        at_limit = await api.post("/ngsi-ld/v1/entities", content=_nested(64), headers=headers)
        assert at_limit.status_code == 201
        # deeper than orjson's own limit (1024): still our clear 400, never a parser error or a 500
        abyss = await api.post("/api/v1/licences/combine", content=b"[" * 5000 + b"]" * 5000, headers=headers)
        assert abyss.status_code == 400
        assert "5000 levels deep" in abyss.json()["detail"]


async def test_query_string_over_the_cap_is_414(settings: Settings, hub: HubState) -> None:
    async with await _client(settings, hub, max_query_bytes=1024) as api:
        response = await api.get("/api/v1/datasets", params={"q": "x" * 1100})
        assert response.status_code == 414
        assert response.json()["type"] == HUB + "query-too-long"
        assert "limit of 1024" in response.json()["detail"]
        ngsi = await api.get("/ngsi-ld/v1/entities", params={"type": "T" * 1100})
        assert ngsi.status_code == 414
        assert ngsi.json()["type"] == ETSI + "BadRequestData"
        assert (await api.get("/api/v1/datasets", params={"q": "x" * 900})).status_code == 200


async def test_a_10000_term_q_never_reaches_the_database(settings: Settings, hub: HubState) -> None:
    statements: list[str] = []
    event.listen(hub.db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    q = ";".join(["a"] * 10_000)  # 10,000 existence terms, ~40 KB once percent-encoded
    async with await _client(settings, hub) as api:
        refused = await api.get("/ngsi-ld/v1/entities", params={"q": q})
        assert refused.status_code == 414  # the query-string cap answers first
    async with await _client(settings, hub, max_query_bytes=200_000) as api:
        too_long = await api.get("/ngsi-ld/v1/entities", params={"q": q})
        assert too_long.status_code == 403
        assert too_long.json()["type"] == ETSI + "TooComplexQuery"
        assert "longer than 4000 characters" in too_long.json()["detail"]
        many = ";".join(f"a{i}==1" for i in range(101))
        too_many = await api.get("/ngsi-ld/v1/entities", params={"q": many})
        assert too_many.status_code == 403
        assert "more than 100 terms" in too_many.json()["detail"]
    assert statements == []


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("/ngsi-ld/v1/entities", {"type": "T", "limit": "1001"}, "limit must be 1..1000"),
        ("/ngsi-ld/v1/temporal/entities", {"type": "T", "limit": "1001"}, "limit must be 1..1000"),
        ("/catalog", {"per_page": "1001"}, "per_page must be between 1 and 1000"),
        ("/catalog", {"page": "1000001"}, "page must be between 1 and 1000000"),
        ("/api/v1/datasets", {"per_page": "101"}, "per_page"),
        ("/api/v1/sources/oslo-bysykkel-demo/runs", {"limit": "501"}, "limit"),
        ("/api/v1/runs/1/items", {"limit": "1001"}, "limit"),
        ("/api/v1/runs/1/items", {"offset": str(2**64)}, "offset"),
        ("/ngsi-ld/v1/entities", {"type": "T", "offset": str(2**64)}, "offset"),
        ("/api/v1/runs/" + "9" * 30, {}, "run_id"),
    ],
)
async def test_page_sizes_and_integers_are_capped_with_a_clear_400(
    api: httpx.AsyncClient, admin_auth: dict[str, str], path: str, params: dict[str, str], words: str
) -> None:
    response = await api.get(path, params=params, headers=admin_auth)  # a run's items are for admins and officers
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert words in response.json()["detail"]


async def test_ckan_rows_above_1000_are_capped_as_ckan_does(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/3/action/package_search", params={"rows": "5000"})
    assert response.status_code == 200
    assert response.json()["success"] is True


async def test_ids_types_and_tenants_longer_than_their_columns_are_400(api: httpx.AsyncClient) -> None:
    # PostgreSQL refused such rows with an error (a 500), SQLite stored them: both answer 400 now
    long_id = await api.post("/ngsi-ld/v1/entities", json={**ENTITY, "id": "urn:ngsi-ld:Thing:" + "x" * 600})
    assert long_id.status_code == 400
    assert long_id.json()["detail"] == "/id: longer than 512 characters (the limit)"
    long_type = await api.post("/ngsi-ld/v1/entities", json={**ENTITY, "type": "T" * 300})
    assert long_type.status_code == 400
    assert long_type.json()["detail"] == "/type: longer than 256 characters (the limit)"
    tenant = await api.post("/ngsi-ld/v1/entities", json=ENTITY, headers={"NGSILD-Tenant": "t" * 65})
    assert tenant.status_code == 400
    assert "NGSILD-Tenant" in tenant.json()["detail"]


async def test_a_q_its_context_makes_too_long_is_refused_before_any_sql(settings: Settings, hub: HubState) -> None:
    """The q evaluated is the one expanded with the request's @context: 100 one-letter terms (199 characters as
    sent) become 100 IRIs of 80 characters, past the 4,000-character cap of what reaches the SQL compiler."""
    url = "https://contexts.example.org/long.jsonld"
    hub.contexts.add(url, {"@context": {"b": "https://example.org/" + "x" * 60}}, ContextKind.CACHED)
    link = {"Link": context_link(url)}
    async with await _client(settings, hub) as api:
        assert (await api.get("/ngsi-ld/v1/entities", params={"q": "b"}, headers=link)).status_code == 200
        statements: list[str] = []
        event.listen(hub.db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        q = ";".join(["b"] * 100)
        get = await api.get("/ngsi-ld/v1/entities", params={"q": q}, headers=link)
        post = await api.post("/ngsi-ld/v1/entityOperations/query", json={"type": "Query", "q": q}, headers=link)
    for refused in (get, post):
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"] == ETSI + "TooComplexQuery"
        assert "longer than 4000 characters" in refused.json()["detail"]
    assert statements == []


async def test_get_entities_parses_q_once(settings: Settings, hub: HubState, monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /entities checks q before anything runs and evaluates the same text: one parse, not one per check."""
    parsed: list[str] = []

    def counting(text: str) -> Node:
        parsed.append(text)
        return parse_q(text)

    monkeypatch.setattr(ngsild, "parse_q", counting)
    async with await _client(settings, hub) as api:
        response = await api.get("/ngsi-ld/v1/entities", params={"type": "T", "q": "a==1;b>2"})
    assert response.status_code == 200, response.text
    assert parsed == ["a==1;b>2"]
