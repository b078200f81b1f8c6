"""Rules of Query Entities and Retrieve Entity over several parameters (api/ngsild_checks.py, 5.7.1.4 / 5.7.2.4)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.api.conftest import KIOSK, SHOP

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]
ENTITIES = "/ngsi-ld/v1/entities"
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"
GEO = {"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": "[10.75,59.91]"}


@pytest.mark.parametrize(
    ("params", "headers", "needle"),
    [
        ({"id": f"{SHOP},{KIOSK}"}, {}, "too wide"),  # ETSI 019_03_05
        ({"idPattern": "urn:.*"}, {}, "too wide"),
        ({"attrs": "createdAt"}, {}, "'createdAt' is an entity member"),  # ETSI 5722_01_01
        ({"q": 'modifiedAt>"2020-01-01T00:00:00Z"'}, {}, "too wide"),  # ETSI 5722_01_02
        ({"type": "Shop", "attrs": ""}, {}, "attrs is empty"),
        ({"type": "Shop", "q": 'owner{name}=="x"'}, {}, "needs join"),  # ETSI 5722_01_03
        (
            {"type": "Shop", "q": 'owner{works{name}}=="x"', "join": "inline"},
            {},
            "follows 2 Relationships, deeper than joinLevel=1",
        ),
        ({"type": "Shop", "pick": "owner{name}"}, {}, "needs join"),  # ETSI 019_33_03
        ({"type": "Shop", "omit": "owner{works{name}}", "join": "flat", "joinLevel": 1}, {}, "more than joinLevel"),
        ({"type": "Shop", "pick": "name||area"}, {}, "member name expected"),  # ETSI 421_01_02
        ({"type": "*", "local": "false"}, {}, "type=* implies local=true"),  # ETSI 019_26_02
        ({"type": "Shop", "geometryProperty": "location"}, {"Accept": "application/json"}, "geometryProperty"),
        ({"type": "Shop", "csf": "))bad(("}, {}, "csf:"),  # ETSI 5722_01_05
        ({"type": "Shop", **GEO, "georel": "near;maxDistance==0"}, {}, "positive number"),  # ETSI 019_30_01
    ],
)
async def test_query_rules_are_bad_request_data(
    api: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str], needle: str
) -> None:
    response = await api.get(ENTITIES, params=params, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ETSI + "BadRequestData"
    assert needle in response.json()["detail"]


async def test_what_is_narrow_enough_is_answered(api: httpx.AsyncClient, seeded: None) -> None:
    """A type, a non-system attribute in attrs or q, scopeQ, a geo-query or local=true each make a query narrow
    enough; ids and an idPattern then narrow it further."""
    cases = [
        ({"type": "Shop", "id": f"{SHOP},{KIOSK}"}, [SHOP, KIOSK]),
        ({"type": "*", "idPattern": ".*:3$"}, [KIOSK]),
        ({"attrs": "area", "id": SHOP}, [SHOP]),
        ({"q": "area>5|modifiedAt>2000-01-01T00:00:00Z", "id": SHOP}, [SHOP]),
        ({"scopeQ": "/Nordic/NO/oslo", "idPattern": ".*"}, [SHOP]),
        ({"local": "true", "id": KIOSK}, [KIOSK]),
        ({"type": "*", "local": "true", "id": KIOSK}, [KIOSK]),
        ({**GEO, "idPattern": ".*"}, [SHOP]),
    ]
    for params, expected in cases:
        response = await api.get(ENTITIES, params=params)
        assert response.status_code == 200, (params, response.text)
        assert [e["id"] for e in response.json()] == expected, params


async def test_csf_that_parses_is_still_not_supported(api: httpx.AsyncClient) -> None:
    response = await api.get(ENTITIES, params={"type": "Shop", "csf": 'endpoint=="x"'})
    assert response.status_code == 422
    assert response.json()["type"] == ETSI + "OperationNotSupported"


async def test_pick_takes_a_pipe_as_or(api: httpx.AsyncClient, seeded: None) -> None:
    """4.21: a comma or a pipe separates projection terms (ETSI 421_01_01)."""
    comma = await api.get(f"{ENTITIES}/{SHOP}", params={"pick": "id,area"})
    pipe = await api.get(f"{ENTITIES}/{SHOP}", params={"pick": "id|area"})
    assert pipe.status_code == 200, pipe.text
    assert pipe.json() == comma.json() == {"id": SHOP, "area": {"type": "Property", "value": 10, "unitCode": "MTK"}}


async def test_geometry_property_belongs_to_geojson(api: httpx.AsyncClient, seeded: None) -> None:
    """5.7.1.4 / 5.7.2.4: geometryProperty with another Accept is 400 (ETSI 019_27, 5711_01_02)."""
    for accept in ("application/json", "application/ld+json"):
        refused = await api.get(
            f"{ENTITIES}/{SHOP}", params={"geometryProperty": "location"}, headers={"Accept": accept}
        )
        assert refused.status_code == 400, accept
        assert refused.json()["type"] == ETSI + "BadRequestData"
    geo = {"Accept": "application/geo+json"}
    one = await api.get(f"{ENTITIES}/{SHOP}", params={"geometryProperty": "location"}, headers=geo)
    assert one.status_code == 200
    assert one.json()["geometry"] == {"type": "Point", "coordinates": [10.75, 59.91]}
    many = await api.get(ENTITIES, params={"type": "Shop", "geometryProperty": "location"}, headers=geo)
    assert many.status_code == 200
    assert many.json()["type"] == "FeatureCollection"


async def test_temporal_queries_check_csf_as_entity_queries_do(api: httpx.AsyncClient) -> None:
    """A malformed csf is 400 (ETSI 5741_01_05), a well-formed one 422: no context sources here."""
    window = {"type": "Shop", "timerel": "after", "timeAt": "2020-01-01T00:00:00Z"}
    bad = await api.get("/ngsi-ld/v1/temporal/entities", params={**window, "csf": "))bad(("})
    assert bad.status_code == 400, bad.text
    assert bad.json()["detail"].startswith("csf:")
    good = await api.get("/ngsi-ld/v1/temporal/entities", params={**window, "csf": 'endpoint=="x"'})
    assert good.status_code == 422
    assert good.json()["type"] == ETSI + "OperationNotSupported"


QUERY = "/ngsi-ld/v1/entityOperations/query"
TEMPORAL_QUERY = "/ngsi-ld/v1/temporal/entityOperations/query"


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        (QUERY, {"qq": "area>5"}, "unknown member 'qq' in the Query body"),  # a misspelt q would widen the answer
        (QUERY, {"entities": [{"type": "Shop", "idPatern": "urn:.*:3"}]}, "unknown member(s) idPatern"),
        (QUERY, {"local": True}, "local is a query-string parameter"),
        (QUERY, {"aggrMethods": ["avg"]}, "aggrMethods is only for POST /temporal/entityOperations/query"),
        (QUERY, {"temporalQ": {"timerel": "after"}}, "temporalQ is only for POST /temporal/entityOperations/query"),
        (QUERY, {"ordering": {"orderBy": ["area"], "colation": "und"}}, "ordering: unknown member(s) colation"),
        (TEMPORAL_QUERY, {"join": "inline"}, "join is only for POST /entityOperations/query"),
        (TEMPORAL_QUERY, {"lang": "fr"}, "lang is only for POST /entityOperations/query"),
        (TEMPORAL_QUERY, {"aggrParams": {"aggrMethod": "avg"}}, "aggrParams: unknown member(s) aggrMethod"),
        (TEMPORAL_QUERY, {"temporalq": {"timerel": "after"}}, "unknown member 'temporalq'"),
    ],
)
async def test_a_query_body_member_not_read_is_refused_not_ignored(
    api: httpx.AsyncClient, seeded: None, path: str, body: dict[str, object], needle: str
) -> None:
    """5.2.23: a Query body holds the members its operation reads. Ignoring another one silently would answer a
    different question than the one asked (a misspelt "q" or "idPattern" selects every Shop)."""
    full = {"type": "Query", "entities": [{"type": "Shop"}], **body}
    response = await api.post(path, json=full)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ETSI + "BadRequestData"
    assert needle in response.json()["detail"]


async def test_query_body_members_of_the_standard_not_evaluated_here_are_422(api: httpx.AsyncClient) -> None:
    for path in (QUERY, TEMPORAL_QUERY):
        for name, value in (("csf", 'endpoint=="x"'), ("containedBy", ["urn:x"]), ("entityMap", True)):
            body = {"type": "Query", "entities": [{"type": "Shop"}], name: value}
            response = await api.post(path, json=body)
            assert response.status_code == 422, (path, name, response.text)
            assert response.json()["type"] == ETSI + "OperationNotSupported"
        malformed = await api.post(path, json={"type": "Query", "entities": [{"type": "Shop"}], "csf": "))bad(("})
        assert malformed.status_code == 400
        assert malformed.json()["detail"].startswith("csf:")


async def test_a_query_body_with_its_context_and_a_dataset_id_is_answered(api: httpx.AsyncClient, seeded: None) -> None:
    """@context (JSON-LD bodies) is a member of every body; datasetId keeps those instances, as GET's parameter."""
    body = {
        "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        "type": "Query",
        "entities": [{"type": "Building"}],
        "attrs": ["temperature"],
        "datasetId": ["urn:ngsi-ld:Dataset:a"],
    }
    response = await api.post(QUERY, content=orjson.dumps(body), headers={"Content-Type": "application/ld+json"})
    assert response.status_code == 200, response.text
    building = next(e for e in response.json() if e["id"] == "urn:ngsi-ld:Building:2")
    assert building["temperature"] == {"type": "Property", "value": 5, "datasetId": "urn:ngsi-ld:Dataset:a"}
    by_get = await api.get(
        ENTITIES,
        params={"type": "Building", "attrs": "temperature", "datasetId": "urn:ngsi-ld:Dataset:a"},
        headers={"Accept": "application/ld+json"},
    )
    assert next(e for e in by_get.json() if e["id"] == building["id"])["temperature"] == building["temperature"]


async def test_a_query_body_names_the_geometry_of_its_geojson_answer(api: httpx.AsyncClient, seeded: None) -> None:
    """geometryProperty in a Query body, as in GET's query string: for GeoJSON answers only (5.7.2.4)."""
    body = {"type": "Query", "entities": [{"type": "Shop"}], "geometryProperty": "location"}
    geo = await api.post(QUERY, json=body, headers={"Accept": "application/geo+json"})
    assert geo.status_code == 200, geo.text
    shop = next(f for f in geo.json()["features"] if f["id"] == SHOP)
    assert shop["geometry"] == {"type": "Point", "coordinates": [10.75, 59.91]}
    refused = await api.post(QUERY, json=body, headers={"Accept": "application/json"})
    assert refused.status_code == 400
    assert "geometryProperty" in refused.json()["detail"]


async def test_local_true_in_the_query_string_of_a_post_query_selects_every_entity(
    api: httpx.AsyncClient, seeded: None
) -> None:
    """As GET's local=true (6.4.3.2): alone it asks for every entity this hub holds; a bare Query is too wide."""
    bare = await api.post(QUERY, json={"type": "Query"})
    assert bare.status_code == 400
    every = await api.post(QUERY, params={"local": "true", "count": "true"}, json={"type": "Query"})
    assert every.status_code == 200, every.text
    assert {e["id"] for e in every.json()} == {SHOP, KIOSK, "urn:ngsi-ld:Building:2"}
    assert every.headers["NGSILD-Results-Count"] == "3"


@pytest.mark.parametrize("name", ["entityMap", "containedBy", "expandValues"])
async def test_parameters_of_the_standard_not_evaluated_are_422_on_query_and_retrieve(
    api: httpx.AsyncClient, seeded: None, name: str
) -> None:
    for response in (
        await api.get(ENTITIES, params={"type": "Shop", name: "true"}),
        await api.get(f"{ENTITIES}/{SHOP}", params={name: "true"}),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["type"] == ETSI + "OperationNotSupported"
        assert name in response.json()["detail"]
    csf = await api.get(f"{ENTITIES}/{SHOP}", params={"csf": 'endpoint=="x"'})
    assert csf.status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", ENTITIES, {"type": "Shop", "qq": "area>5"}),
        ("GET", f"{ENTITIES}/{SHOP}", {"atrs": "area"}),
        ("POST", QUERY, {"limt": "5"}),
        ("GET", "/ngsi-ld/v1/temporal/entities", {"type": "Shop", "timerell": "after"}),
        ("GET", f"/ngsi-ld/v1/temporal/entities/{SHOP}", {"lastn": "1"}),
        ("POST", "/ngsi-ld/v1/entities", {"option": "x"}),
        ("GET", "/ngsi-ld/v1/jsonldContexts", {"detail": "true"}),
    ],
)
async def test_a_query_parameter_the_operation_does_not_define_is_invalid_request(
    api: httpx.AsyncClient, seeded: None, method: str, path: str, params: dict[str, str]
) -> None:
    """6.3.20: a misspelt parameter is refused naming it, not ignored (the answer would be to another question)."""
    body = {"type": "Query", "entities": [{"type": "Shop"}]} if path == QUERY else None
    if path == ENTITIES and method == "POST":
        body = {"id": "urn:ngsi-ld:Shop:new", "type": "Shop"}
    response = await api.request(method, path, params=params, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == ETSI + "InvalidRequest"
    misspelt = next(name for name in params if name not in ("type",))
    assert f"query parameter {misspelt!r} is not defined" in response.json()["detail"]


async def test_a_query_parameter_given_twice_is_refused(api: httpx.AsyncClient, seeded: None) -> None:
    response = await api.get(f"{ENTITIES}?type=Shop&type=Building")
    assert response.status_code == 400
    assert "query parameter 'type' is given 2 times" in response.json()["detail"]
    retrieve = await api.get(f"{ENTITIES}/{SHOP}", params={"local": "true"})  # defined (ETSI's retrieve sends it)
    assert retrieve.status_code == 200
