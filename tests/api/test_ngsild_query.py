"""GET /entities parameters beyond type/id/q, and POST /entityOperations/query (api/routers/ngsild.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest

from tests.api.conftest import BUILDING, KIOSK, SHOP

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]  # a broker behind an access proxy: writes need no key
ENTITIES = "/ngsi-ld/v1/entities"
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"


async def _ids(api: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await api.get(ENTITIES, params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Shop", [KIOSK, SHOP]),
        ("Building", [BUILDING, SHOP]),
        ("Shop;Building", [SHOP]),
        ("(Shop;Building)", [SHOP]),
        ("(Shop;Building),Vehicle", [SHOP]),
        ("Shop,Building", [BUILDING, KIOSK, SHOP]),
        ("Shop|Vehicle", [KIOSK, SHOP]),
        ("Vehicle;Shop", []),
        ("Vehicle", []),
        ("*", [BUILDING, KIOSK, SHOP]),
    ],
)
async def test_type_expressions_and_several_types(
    api: httpx.AsyncClient, seeded: None, expression: str, expected: list[str]
) -> None:
    assert await _ids(api, type=expression) == sorted(expected)


async def test_an_entity_keeps_its_several_types(api: httpx.AsyncClient, seeded: None) -> None:
    shop = (await api.get(f"{ENTITIES}/{SHOP}")).json()
    assert shop["type"] == ["Shop", "Building"]
    assert (await api.get(f"{ENTITIES}/{SHOP}", params={"type": "Building"})).status_code == 200
    assert (await api.get(f"{ENTITIES}/{SHOP}", params={"type": "Vehicle"})).status_code == 404


@pytest.mark.parametrize(
    ("scope_q", "expected"),
    [
        ("/Nordic/NO/#", [BUILDING, SHOP]),
        ("/Nordic/#", [BUILDING, SHOP]),
        ("/Nordic/NO/oslo", [SHOP]),
        ("/Nordic/NO", []),
        ("/Nordic/+/oslo", [SHOP]),
        ("/Nordic/+/+/centre", [BUILDING]),
        ("/Nordic/SE/#;/Nordic/NO/#", [BUILDING]),
        ("/Nordic/SE/stockholm,/Nordic/NO/oslo", [BUILDING, SHOP]),
        ("(/Nordic/SE/#,/Nordic/DK/#);/Nordic/NO/bergen/#", [BUILDING]),
    ],
)
async def test_scope_q(api: httpx.AsyncClient, seeded: None, scope_q: str, expected: list[str]) -> None:
    assert await _ids(api, scopeQ=scope_q) == sorted(expected)


async def test_attrs_selects_entities_having_one_and_keeps_only_those(api: httpx.AsyncClient, seeded: None) -> None:
    response = await api.get(ENTITIES, params={"attrs": "temperature,owner"})
    body = response.json()
    assert [e["id"] for e in body] == [BUILDING, SHOP]
    assert body[0] == {
        "id": BUILDING,
        "type": "Building",
        "scope": ["/Nordic/SE/stockholm", "/Nordic/NO/bergen/centre"],
        "temperature": body[0]["temperature"],
    }
    assert set(body[1]) == {"id", "type", "scope", "owner"}


async def test_pick_and_omit(api: httpx.AsyncClient, seeded: None) -> None:
    picked = (await api.get(ENTITIES, params={"type": "Shop", "pick": "id,area"})).json()
    assert picked == [{"id": SHOP, "area": {"type": "Property", "value": 10, "unitCode": "MTK"}}, {"id": KIOSK}]
    omitted = (await api.get(ENTITIES, params={"type": "Shop", "id": SHOP, "omit": "scope,name,owner,location"})).json()
    assert omitted == [{"id": SHOP, "type": ["Shop", "Building"], "area": picked[0]["area"]}]
    kv = (await api.get(f"{ENTITIES}/{SHOP}", params={"pick": "type,area", "format": "keyValues"})).json()
    assert kv == {"type": ["Shop", "Building"], "area": 10}
    both = await api.get(ENTITIES, params={"type": "Shop", "pick": "id", "omit": "type"})
    assert both.status_code == 400
    assert both.json()["type"] == ETSI + "BadRequestData"
    assert "pick and omit" in both.json()["detail"]


async def test_lang(api: httpx.AsyncClient, seeded: None) -> None:
    english = (await api.get(f"{ENTITIES}/{SHOP}", params={"lang": "en"})).json()
    assert english["name"] == {"type": "Property", "value": "Shop", "lang": "en"}
    weighted = (await api.get(f"{ENTITIES}/{SHOP}", params={"lang": "fr,nb;q=0.8,en;q=0.5"})).json()
    assert weighted["name"] == {"type": "Property", "value": "Butikk", "lang": "nb"}
    fallback = (await api.get(f"{ENTITIES}/{SHOP}", params={"lang": "fr"})).json()
    assert fallback["name"]["value"] in ("Butikk", "Shop")
    anyone = (await api.get(f"{ENTITIES}/{SHOP}", params={"lang": "*"})).json()  # any one language (ETSI 018_07_03)
    assert anyone["name"] == {"type": "Property", "value": "Butikk", "lang": "nb"}
    simplified = (await api.get(f"{ENTITIES}/{SHOP}", params={"lang": "*", "format": "keyValues"})).json()
    assert simplified["name"] == "Butikk"
    every = (await api.get(f"{ENTITIES}/{SHOP}")).json()
    assert every["name"]["languageMap"] == {"nb": "Butikk", "en": "Shop"}
    concise = (await api.get(ENTITIES, params={"type": "Shop", "id": SHOP, "lang": "en", "format": "concise"})).json()
    assert concise[0]["name"] == {"value": "Shop", "lang": "en"}
    kiosk = (await api.get(f"{ENTITIES}/{KIOSK}", params={"lang": "en"})).json()
    assert kiosk["name"] == {"type": "Property", "value": "Kiosk"}
    bad = await api.get(ENTITIES, params={"type": "Shop", "lang": "en;q=x"})
    assert bad.status_code == 400
    assert "lang" in bad.json()["detail"]


async def test_dataset_id_filters_instances(api: httpx.AsyncClient, seeded: None) -> None:
    named = (await api.get(f"{ENTITIES}/{BUILDING}", params={"datasetId": "urn:ngsi-ld:Dataset:a"})).json()
    assert named["temperature"] == {"type": "Property", "value": 5, "datasetId": "urn:ngsi-ld:Dataset:a"}
    assert "area" not in named
    default = (await api.get(f"{ENTITIES}/{BUILDING}", params={"datasetId": "@none"})).json()
    assert default["temperature"] == {"type": "Property", "value": 6}
    assert default["area"] == {"type": "Property", "value": 20}


def _instant(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text)


async def test_sys_attrs_come_from_the_store_not_the_body(api: httpx.AsyncClient, seeded: None) -> None:
    plain = (await api.get(f"{ENTITIES}/{SHOP}")).json()
    assert "createdAt" not in plain
    assert "modifiedAt" not in plain
    before = (await api.get(f"{ENTITIES}/{SHOP}", params={"options": "sysAttrs"})).json()
    created = _instant(before["createdAt"])
    assert created.year > 2000
    assert before["modifiedAt"] == before["createdAt"]
    patch = await api.patch(
        f"{ENTITIES}/{SHOP}", json={"area": {"type": "Property", "value": 11}}, headers={"NGSILD-Tenant": "oslo"}
    )
    assert patch.status_code == 204
    after = (await api.get(ENTITIES, params={"type": "Shop", "id": SHOP, "options": "sysAttrs,keyValues"})).json()[0]
    assert after["createdAt"] == before["createdAt"]
    assert _instant(after["modifiedAt"]) > created
    assert after["area"] == 11


async def test_local_count_and_paging(api: httpx.AsyncClient, seeded: None) -> None:
    response = await api.get(ENTITIES, params={"type": "Shop,Building", "local": "true", "limit": 2, "count": "true"})
    assert response.headers["ngsild-results-count"] == "3"
    assert [e["id"] for e in response.json()] == [BUILDING, SHOP]
    assert "offset=2" in response.headers["link"]
    assert 'rel="next"' in response.headers["link"]
    counted = await api.get(ENTITIES, params={"type": "Shop", "limit": 0, "count": "true"})
    assert counted.json() == []
    assert counted.headers["ngsild-results-count"] == "2"


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"type": "Shop", "limit": -1}, "limit must be 1..1000"),
        ({"type": "Shop", "limit": 1001}, "limit must be 1..1000"),
        ({"type": "Shop", "offset": -5}, "offset"),
        ({"type": "Shop", "count": "perhaps"}, "query parameter 'count'"),
        ({"type": "Shop;"}, "expected a type name"),
        ({"scopeQ": "Nordic/NO"}, "starts with '/'"),
        ({"type": "Shop", "pick": "id;name"}, "unexpected ';'"),
        ({"type": "Shop", "pick": "id,owner{name"}, "not closed"),
        ({"type": "Shop", "pick": "id,owner{{name}"}, "member name expected"),
        ({"type": "Shop", "omit": "id,,name"}, "member name expected"),
        ({"type": "Shop", "pick": "id,owner{,name}"}, "member name expected"),
        ({"type": "Shop", "omit": "id,owner{}"}, "member name expected"),
        ({"type": "Shop", "pick": "id,name}"}, "unexpected '}'"),
        ({"type": "Shop", "pick": "name", "attrs": "area"}, "attrs cannot be used with pick or omit"),
        ({"type": "Shop", "omit": "name", "attrs": "area"}, "attrs cannot be used with pick or omit"),
    ],
)
async def test_bad_parameters_are_bad_request_data(
    api: httpx.AsyncClient, seeded: None, params: dict[str, object], needle: str
) -> None:
    response = await api.get(ENTITIES, params=params)
    assert response.status_code == 400
    body = orjson.loads(response.content)
    assert body["type"] == ETSI + "BadRequestData"
    assert needle in body["detail"]
    assert "loc" not in body  # an ETSI problem, not FastAPI's validation body


QUERY = "/ngsi-ld/v1/entityOperations/query"


async def test_post_query_evaluates_like_get(api: httpx.AsyncClient, seeded: None) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "Shop"}, {"type": "Building", "id": BUILDING}],
        "q": "area>5",
        "lang": "en",
    }
    response = await api.post(QUERY, json=body, params={"count": "true"})
    assert response.status_code == 200
    assert response.headers["ngsild-results-count"] == "2"
    found = response.json()
    assert [e["id"] for e in found] == [BUILDING, SHOP]
    assert found[1]["name"] == {"type": "Property", "value": "Shop", "lang": "en"}
    attrs = await api.post(QUERY, json={"type": "Query", "attrs": ["temperature"], "scopeQ": "/Nordic/NO/#"})
    assert [set(e) for e in attrs.json()] == [{"id", "type", "scope", "temperature"}]
    pattern = {"type": "Query", "entities": [{"type": "Shop", "idPattern": ".*:3$"}]}
    assert [e["id"] for e in (await api.post(QUERY, json=pattern, params={"format": "keyValues"})).json()] == [KIOSK]
    tenant = await api.post(
        QUERY, json={"type": "Query", "entities": [{"type": "Building"}]}, headers={"NGSILD-Tenant": "oslo"}
    )
    assert [e["id"] for e in tenant.json()] == [SHOP]
    assert tenant.headers["ngsild-tenant"] == "oslo"


@pytest.mark.parametrize(
    ("body", "status", "problem", "needle"),
    [
        ({"entities": [{"type": "Shop"}]}, 400, "BadRequestData", '"type": "Query"'),
        ({"type": "Query"}, 400, "BadRequestData", "at least one of"),
        ({"type": "Query", "entities": [{"type": "Shop", "id": "nope"}]}, 400, "BadRequestData", "absolute URI"),
        ({"type": "Query", "entities": [{"type": "Shop", "id": [SHOP, 5]}]}, 400, "BadRequestData", "array of URIs"),
        ({"type": "Query", "entities": [{"id": SHOP}]}, 400, "BadRequestData", "needs a type"),
        ({"type": "NotQuery", "entities": [{"type": "Shop"}]}, 400, "BadRequestData", '"type": "Query"'),
        ({"type": "Query", "entities": []}, 400, "BadRequestData", "entities must be a non-empty array"),
        ({"type": "Query", "entities": [{"type": "Shop"}], "attrs": []}, 400, "BadRequestData", "attrs must be"),
        ({"type": "Query", "entities": [{"type": "Shop"}], "pick": []}, 400, "BadRequestData", "pick must be"),
        ({"type": "Query", "attrs": ["area"], "pick": ["id"], "omit": ["area"]}, 400, "BadRequestData", "together"),
        ({"type": "Query", "attrs": ["area"], "join": "inline", "joinLevel": 0}, 400, "BadRequestData", "joinLevel"),
        ({"type": "Query", "attrs": ["area"], "join": "deep"}, 400, "BadRequestData", "flat or inline"),
        ({"type": "Query", "entities": "Shop"}, 400, "BadRequestData", "EntitySelector"),
        ({"type": "Query", "attrs": "area"}, 400, "BadRequestData", "attrs"),
        ({"type": "Query", "q": 5}, 400, "BadRequestData", "q must be a string"),
        (
            {"type": "Query", "geoQ": {"georel": "near;maxDistance==10", "geometry": "Point", "coordinates": [200, 2]}},
            400,
            "BadRequestData",
            "longitude 200 is out of range",
        ),
        ({"type": "Query", "geoQ": "near"}, 400, "BadRequestData", "geoQ must be an object"),
        ({"type": "Query", "attrs": ["area"], "temporalQ": {"timerel": "after"}}, 400, "BadRequestData", "temporal"),
    ],
)
async def test_post_query_errors(
    api: httpx.AsyncClient, seeded: None, body: dict[str, Any], status: int, problem: str, needle: str
) -> None:
    response = await api.post(QUERY, json=body)
    assert response.status_code == status, response.text
    assert response.json()["type"] == ETSI + problem
    assert needle in response.json()["detail"]


async def test_post_query_selector_ids_are_one_uri_or_several_and_win_over_id_pattern(
    api: httpx.AsyncClient, seeded: None
) -> None:
    """5.2.33: an EntitySelector's id is a URI or an array of URIs, and "id takes precedence over idPattern"
    (ETSI 5233_01_01, 5233_01_02, 5233_01_06)."""
    cases = [
        ({"type": "Shop", "id": [SHOP, KIOSK]}, [SHOP, KIOSK]),
        ({"type": "Shop", "id": KIOSK, "idPattern": ".*:1$"}, [KIOSK]),
        ({"type": "Shop", "id": [SHOP], "idPattern": ".*:3$"}, [SHOP]),
        ({"type": "Shop", "idPattern": ".*:3$"}, [KIOSK]),
    ]
    for selector, expected in cases:
        response = await api.post(QUERY, json={"type": "Query", "entities": [selector]})
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()] == expected, selector


async def test_post_query_content_type_and_length(api: httpx.AsyncClient, seeded: None) -> None:
    text = await api.post(QUERY, content=b'{"type":"Query","attrs":["area"]}', headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    assert text.json()["type"] == ETSI + "UnsupportedMediaType"
    request = api.build_request("POST", QUERY, content=b"")
    del request.headers["Content-Length"]
    response = await api.send(request)
    assert response.status_code == 411
    assert response.headers["content-type"] == "application/problem+json"
    assert "Content-Length" in response.json()["detail"]
    patch = api.build_request("PATCH", f"{ENTITIES}/{SHOP}/attrs", content=b"", headers={"NGSILD-Tenant": "oslo"})
    del patch.headers["Content-Length"]
    refused = await api.send(patch)
    assert refused.status_code == 411
    assert refused.headers["ngsild-tenant"] == "oslo"


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/ld+json;q=0.5, application/json", "application/json"),
        ("application/json;q=0.2, application/ld+json", "application/ld+json"),
        ("text/html, */*;q=0.1", "application/json"),
        ("application/json;q=0, application/ld+json;q=0.3", "application/ld+json"),
        ("application/json;q=0", None),
        ("text/html", None),
    ],
)
async def test_accept_with_q_values(api: httpx.AsyncClient, seeded: None, accept: str, media: str | None) -> None:
    response = await api.get(ENTITIES, params={"type": "Shop"}, headers={"Accept": accept})
    if media is None:
        assert response.status_code == 406
        assert response.json()["type"] == ETSI + "NotAcceptable"
    else:
        assert response.status_code == 200
        assert response.headers["content-type"] == media


@pytest.mark.parametrize("name", ["csf"])
async def test_unsupported_parameters_stay_422(api: httpx.AsyncClient, seeded: None, name: str) -> None:
    response = await api.get(ENTITIES, params={"type": "Shop", name: "x"})
    assert response.status_code == 422
    assert response.json()["type"] == ETSI + "OperationNotSupported"
    assert name in response.json()["detail"]


@pytest.mark.parametrize("params", [{"pick": "id, owner{name,area{value}}"}, {"omit": "owner{name}"}])
async def test_a_nested_projection_needs_a_join(api: httpx.AsyncClient, seeded: None, params: dict[str, str]) -> None:
    """``owner{name}`` projects the entity owner links to (clause 4.21): without join it is a 400 (5.7.1.4, 5.7.2.4;
    ETSI 5711_01_03); with a join it applies (tests/api/test_linked_entities.py)."""
    for url, query in ((f"{ENTITIES}/{SHOP}", params), (ENTITIES, {"type": "Shop", **params})):
        response = await api.get(url, params=query)
        assert response.status_code == 400, response.text
        assert response.json()["type"] == ETSI + "BadRequestData"
        assert "join" in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"pick": "unknown"},  # ETSI 018_19_01
        {"omit": "id,type,scope,name,area,owner,location"},  # ETSI 018_19_02: every member
        {"attrs": "unknown"},  # ETSI 018_03_02: attrs = pick + existence
        {"attrs": "unknown", "format": "keyValues"},
    ],
)
async def test_retrieve_with_nothing_left_is_not_found(
    api: httpx.AsyncClient, seeded: None, params: dict[str, str]
) -> None:
    response = await api.get(f"{ENTITIES}/{SHOP}", params=params)
    assert response.status_code == 404, response.text
    assert response.json()["type"] == ETSI + "ResourceNotFound"


async def test_retrieve_with_something_left(api: httpx.AsyncClient, seeded: None) -> None:
    kept = (await api.get(f"{ENTITIES}/{SHOP}", params={"attrs": "unknown,area", "format": "keyValues"})).json()
    assert kept == {"id": SHOP, "type": ["Shop", "Building"], "scope": "/Nordic/NO/oslo", "area": 10}
    only_type = (await api.get(f"{ENTITIES}/{SHOP}", params={"omit": "id,scope,name,area,owner,location"})).json()
    assert only_type == {"type": ["Shop", "Building"]}
    feature = await api.get(
        f"{ENTITIES}/{SHOP}", params={"pick": "unknown"}, headers={"Accept": "application/geo+json"}
    )
    assert feature.status_code == 404


async def test_local_true_alone_queries_every_entity(api: httpx.AsyncClient, seeded: None) -> None:
    """6.4.3.2: local=true is enough of a query (ETSI 019_25); local=false alone still is not."""
    assert await _ids(api, local="true") == sorted([BUILDING, KIOSK, SHOP])
    oslo = await api.get(ENTITIES, params={"local": "true"}, headers={"NGSILD-Tenant": "oslo"})
    assert [e["id"] for e in oslo.json()] == [SHOP]
    alone = await api.get(ENTITIES, params={"local": "false"})
    assert alone.status_code == 400
    assert "local=true" in alone.json()["detail"]
