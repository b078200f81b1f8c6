"""Discovery: /types, /types/{type}, /attributes, /attributes/{attr}, /info/sourceIdentity
(api/routers/ngsild_discovery.py over ngsi/discovery.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from api.state import HubState
from harvester.run import Harvester
from harvester.store import RunStatus
from ngsi.context import CORE_CONTEXT, context_link
from ngsi.contexts import ContextKind, context_files

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]  # a broker behind an access proxy: writes need no key
BASE = "/ngsi-ld/v1"
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"
LD_JSON = "application/ld+json"


OSLO, STOCKHOLM = {"NGSILD-Tenant": "oslo"}, {"NGSILD-Tenant": "stockholm"}


async def test_type_list_of_the_requests_tenant(api: httpx.AsyncClient, seeded: None) -> None:
    """Discovery answers for the request's tenant; without NGSILD-Tenant for every city (the federated view, as
    entity queries without the header), which on a hub holding only the default tenant's entities is exactly
    those (ETSI 022_01)."""
    response = await api.get(f"{BASE}/types")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "EntityTypeList"
    assert body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert body["typeList"] == ["Building", "Shop"]  # every city's
    assert "ngsild-tenant" not in response.headers
    oslo = (await api.get(f"{BASE}/types", headers=OSLO)).json()
    assert oslo["typeList"] == ["Building", "Shop"]
    stockholm = await api.get(f"{BASE}/types", headers=STOCKHOLM)
    assert stockholm.json()["typeList"] == ["Building"]
    assert stockholm.headers["ngsild-tenant"] == "stockholm"
    assert (await api.get(f"{BASE}/types/Building")).json()["entityCount"] == 2  # oslo's and stockholm's
    unknown = await api.get(f"{BASE}/types", headers={"NGSILD-Tenant": "atlantis"})
    assert unknown.status_code == 404
    assert unknown.json()["type"] == ETSI + "NonexistentTenant"


async def test_type_details(api: httpx.AsyncClient, seeded: None) -> None:
    body = (await api.get(f"{BASE}/types", params={"details": "true"})).json()
    assert [(t["typeName"], t["attributeNames"]) for t in body] == [
        ("Building", ["area", "location", "name", "owner", "temperature"]),  # oslo's Shop is a Building too
        ("Shop", ["area", "location", "name", "owner"]),
    ]
    stockholm = (await api.get(f"{BASE}/types", params={"details": "true"}, headers=STOCKHOLM)).json()
    assert stockholm == [
        {
            "id": "Building",
            "type": "EntityType",
            "typeName": "Building",
            "attributeNames": ["area", "temperature"],
        },
    ]


async def test_type_info(api: httpx.AsyncClient, seeded: None) -> None:
    response = await api.get(f"{BASE}/types/Shop", headers={"Accept": "application/ld+json", **OSLO})
    assert response.headers["content-type"] == "application/ld+json"
    body = response.json()
    assert body["@context"] == CORE_CONTEXT
    assert body["type"] == "EntityTypeInfo"
    assert body["typeName"] == "Shop"
    assert body["entityCount"] == 1
    details = {a["attributeName"]: a for a in body["attributeDetails"]}
    assert set(details) == {"area", "location", "name", "owner"}
    assert details["name"] == {
        "id": "name",
        "type": "Attribute",
        "attributeName": "name",
        "attributeTypes": ["LanguageProperty"],
    }
    assert details["owner"]["attributeTypes"] == ["Relationship"]
    assert details["location"]["attributeTypes"] == ["GeoProperty"]
    assert (await api.get(f"{BASE}/types/Building", headers=STOCKHOLM)).json()["entityCount"] == 1
    shops = (await api.get(f"{BASE}/types/Shop")).json()  # the kiosk (no tenant) and oslo's shop
    names = next(a for a in shops["attributeDetails"] if a["attributeName"] == "name")
    assert (shops["entityCount"], names["attributeTypes"]) == (2, ["LanguageProperty", "Property"])
    missing = await api.get(f"{BASE}/types/Vehicle")
    assert missing.status_code == 404
    assert missing.json()["type"] == ETSI + "ResourceNotFound"


async def test_attributes(api: httpx.AsyncClient, seeded: None) -> None:
    listed = (await api.get(f"{BASE}/attributes")).json()
    assert listed["type"] == "AttributeList"
    assert listed["id"].startswith("urn:ngsi-ld:AttributeList:")
    assert listed["attributeList"] == ["area", "location", "name", "owner", "temperature"]
    oslo = (await api.get(f"{BASE}/attributes", headers=OSLO)).json()
    assert oslo["attributeList"] == ["area", "location", "name", "owner"]
    details = (await api.get(f"{BASE}/attributes", params={"details": "true"}, headers=OSLO)).json()
    area = next(a for a in details if a["attributeName"] == "area")
    # the details=true list: names and types of entities only, as ETSI 026_01 expects; counts come with 027
    assert area == {"id": "area", "type": "Attribute", "attributeName": "area", "typeNames": ["Building", "Shop"]}
    name = (await api.get(f"{BASE}/attributes/name", headers=OSLO)).json()
    assert name["attributeCount"] == 1
    assert name["typeNames"] == ["Building", "Shop"]
    assert name["attributeTypes"] == ["LanguageProperty"]
    every = (await api.get(f"{BASE}/attributes/name")).json()
    assert (every["typeNames"], every["attributeTypes"]) == (["Building", "Shop"], ["LanguageProperty", "Property"])
    missing = await api.get(f"{BASE}/attributes/colour")
    assert missing.status_code == 404
    assert missing.json()["type"] == ETSI + "ResourceNotFound"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/types/Shop", {"details": "true"}),  # ETSI 577_01_02
        ("/attributes", {"limit": "5"}),  # ETSI 5710_01_03
        ("/attributes/name", {"details": "true"}),
        ("/types", {"count": "true"}),
        ("/types", {"detail": "true"}),
    ],
)
async def test_undefined_query_parameters_are_invalid_requests(
    api: httpx.AsyncClient, seeded: None, path: str, params: dict[str, str]
) -> None:
    """6.3.20: /types and /attributes define details and local, /types/{type} and /attributes/{attr} only local."""
    response = await api.get(BASE + path, params=params)
    assert response.status_code == 400
    assert response.json()["type"] == ETSI + "InvalidRequest"
    assert repr(next(iter(params))) in response.json()["detail"]
    local = await api.get(BASE + path.split("?")[0], params={"local": "true"})
    assert local.status_code == 200


async def test_discovery_follows_deletes(api: httpx.AsyncClient, seeded: None) -> None:
    assert (await api.get(f"{BASE}/types/Building", headers=STOCKHOLM)).json()["entityCount"] == 1
    deleted = await api.delete(f"{BASE}/entities/urn:ngsi-ld:Building:2", headers=STOCKHOLM)
    assert deleted.status_code == 204
    assert (await api.get(f"{BASE}/attributes", headers=STOCKHOLM)).json()["attributeList"] == []
    assert (await api.get(f"{BASE}/types/Building", headers=STOCKHOLM)).status_code == 404
    assert (await api.get(f"{BASE}/types/Building", headers=OSLO)).json()["entityCount"] == 1


async def test_harvested_types_attributes_and_scopes(harvester: Harvester, api: httpx.AsyncClient) -> None:
    for source in ("oslo-bysykkel-demo", "bergen-bysykkel-demo"):
        assert (await harvester.run(source)).status is RunStatus.SUCCEEDED
    info = (await api.get(f"{BASE}/types/BikeHireDockingStation", headers={"NGSILD-Tenant": "bergen"})).json()
    assert info["entityCount"] == 60
    names = {a["attributeName"] for a in info["attributeDetails"]}
    assert {"availableBikeNumber", "location", "status"} <= names
    bergen = {"NGSILD-Tenant": "bergen"}
    count = (await api.get(f"{BASE}/attributes/availableBikeNumber", headers=bergen)).json()["attributeCount"]
    assert count == 60
    norway = await api.get(f"{BASE}/entities", params={"scopeQ": "/Nordic/NO/#", "limit": 0, "count": "true"})
    assert norway.headers["ngsild-results-count"] == "180"
    oslo = (await api.get(f"{BASE}/entities", params={"scopeQ": "/Nordic/+/oslo", "limit": 1})).json()
    assert oslo[0]["scope"] == "/Nordic/NO/oslo"
    sweden = await api.get(f"{BASE}/entities", params={"scopeQ": "/Nordic/SE/#", "limit": 0, "count": "true"})
    assert sweden.headers["ngsild-results-count"] == "0"


async def test_source_identity(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{BASE}/info/sourceIdentity")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "ContextSourceIdentity"
    assert body["id"].startswith("urn:ngsi-ld:ContextSource:")
    assert body["contextSourceAlias"] == "http://127.0.0.1:8000"
    assert re.fullmatch(r"P(\d+D)?T\d+H\d+M\d+S", body["contextSourceUpTime"])
    moment = datetime.fromisoformat(body["contextSourceTimeAt"])
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 60
    again = (await api.get(f"{BASE}/info/sourceIdentity")).json()
    assert again["id"] == body["id"]


async def test_openapi_describes_the_query_and_discovery_routes(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    get = paths["/ngsi-ld/v1/entities"]["get"]
    names = {p["name"] for p in get["parameters"]}
    assert {"type", "scopeQ", "attrs", "pick", "omit", "lang", "datasetId", "local", "count"} <= names
    assert {"georel", "geometry", "coordinates", "geoproperty", "geometryProperty"} <= names
    assert {"orderBy", "collation", "orderFrom", "orderGeometry"} <= names
    described = {p["name"]: p["description"] for p in get["parameters"]}
    assert "dist-asc" in described["orderBy"]
    assert "und" in described["collation"]
    assert "csf" not in names  # refused with 422: not advertised
    assert set(get["responses"]["200"]["content"]) == {
        "application/json",
        "application/ld+json",
        "application/geo+json",
    }
    post = paths["/ngsi-ld/v1/entityOperations/query"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["type"]["enum"] == ["Query"]
    assert "orderBy" in schema["properties"]["ordering"]["description"]
    for path in ("/types", "/types/{type_name}", "/attributes", "/attributes/{attr}", "/info/sourceIdentity"):
        assert "get" in paths[f"/ngsi-ld/v1{path}"]


TRANSPORT = "https://smartdatamodels.org/dataModel.Transportation/"
ALIASES_URL = "https://contexts.example.org/bikes.jsonld"
ALIASES = {"@context": {"bikes": TRANSPORT + "availableBikeNumber", "Dock": TRANSPORT + "BikeHireDockingStation"}}


@pytest.fixture
async def dock(api: httpx.AsyncClient, hub: HubState, shared_data: Path) -> None:
    context_files(hub.settings.data_dir / "contexts").sync_from_dir(shared_data)
    hub.contexts.add(ALIASES_URL, ALIASES, ContextKind.CACHED)
    entity = {
        "id": "urn:ngsi-ld:BikeHireDockingStation:oslo:1",
        "type": "BikeHireDockingStation",
        "availableBikeNumber": {"type": "Property", "value": 4},
    }
    assert (await api.post(f"{BASE}/entities", json=entity)).status_code == 201


async def test_names_in_the_terms_of_the_requests_context(api: httpx.AsyncClient, dock: None) -> None:
    """ETSI 022_01_02, 024_02, 025_01_02, 027_02: names in and out are the Link context's terms, ids full IRIs."""
    link = {"Link": context_link(ALIASES_URL)}
    assert "Dock" in (await api.get(f"{BASE}/types", headers=link)).json()["typeList"]
    assert "BikeHireDockingStation" in (await api.get(f"{BASE}/types")).json()["typeList"]
    info = (await api.get(f"{BASE}/types/Dock", headers=link)).json()
    assert (info["id"], info["typeName"], info["entityCount"]) == (TRANSPORT + "BikeHireDockingStation", "Dock", 1)
    bikes = {
        "id": TRANSPORT + "availableBikeNumber",
        "type": "Attribute",
        "attributeName": "bikes",
        "attributeCount": 1,
        "typeNames": ["Dock"],
        "attributeTypes": ["Property"],
    }
    assert next(a for a in info["attributeDetails"] if a["attributeName"] == "bikes") == {
        "id": bikes["id"],
        "type": "Attribute",
        "attributeName": "bikes",
        "attributeTypes": ["Property"],
    }
    assert (await api.get(f"{BASE}/attributes/bikes", headers=link)).json() == bikes
    expanded = quote(TRANSPORT + "availableBikeNumber", safe="")
    assert (await api.get(f"{BASE}/attributes/{expanded}", headers=link)).json() == bikes
    assert "bikes" in (await api.get(f"{BASE}/attributes", headers=link)).json()["attributeList"]
    details = await api.get(f"{BASE}/attributes", params={"details": "true"}, headers={**link, "Accept": LD_JSON})
    assert {a["@context"] for a in details.json()} == {ALIASES_URL}
    assert {"id": bikes["id"], "type": "Attribute", "attributeName": "bikes", "typeNames": ["Dock"]} in [
        {k: v for k, v in a.items() if k != "@context"} for a in details.json()
    ]
    assert (await api.get(f"{BASE}/attributes/bikes")).status_code == 404  # no Link: "bikes" is no stored name
    assert (await api.get(f"{BASE}/types/Dock")).status_code == 404


async def test_discovery_is_not_offered_as_geojson(api: httpx.AsyncClient) -> None:
    """A list of types or attributes has no GeoJSON form: Accept application/geo+json alone is 406."""
    for path in ("/ngsi-ld/v1/types", "/ngsi-ld/v1/attributes", "/ngsi-ld/v1/info/sourceIdentity"):
        response = await api.get(path, headers={"Accept": "application/geo+json"})
        assert response.status_code == 406, (path, response.text)
        assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/NotAcceptable"
