"""GET /catalog, /catalog/{city} and /datasets/{id}: the demo cities' catalogues harvested, then published in DCAT-AP
3.0.1 (and DCAT-AP-NO 2.0) in every RDF syntax, checked with pyshacl and the official shapes."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, XSD, Namespace
from sqlalchemy import func, select

from api.app import create_app
from api.routers import catalog
from api.state import HubState
from catalog.dcat_out import FALLBACK_DESCRIPTION
from catalog.tables import datasets as table
from harvester.run import Harvester
from hub.settings import Settings
from ngsi.tables import temporal_instances as history
from schemas.cli import copy_shapes
from schemas.dcat import ApVersion, Profile, ShapesStore, validate_dcat

pytestmark = pytest.mark.anyio
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
PROBLEM = "application/problem+json"
RDF_SYNTAXES = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
    "application/n-triples": "nt",
}
EXTENSIONS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml", "nt": "nt"}
CKAN, OSLO, BERGEN_BIKES = "aarhus-ckan-demo", "oslo-dcat-demo", "bergen-bysykkel-demo"
OSLO_BATH = "https://oslo.kommune.no/datasets/badevann"
RECOMMENDED_CEILING = 306  # recommended-profile warnings of the demo catalogue: lower it as the output improves


@pytest.fixture
async def client(settings: Settings, hub: HubState) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, state=hub)
    if not any(getattr(route, "path", None) == "/catalog" for route in app.routes):
        app.include_router(catalog.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as http:
        yield http
    await hub.harvester.aclose()
    await hub.harvester.client.aclose()


@pytest.fixture(scope="module")
def shapes(shared_data: Path) -> ShapesStore:
    return ShapesStore(shared_data)


@pytest.fixture
async def harvested(harvester: Harvester) -> list[str]:
    sources = [CKAN, OSLO, BERGEN_BIKES]
    for source in sources:
        report = await harvester.run(source)
        assert report.ok, report.error
    return sources


def base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


async def get_graph(client: httpx.AsyncClient, url: str, media: str = "text/turtle", **params: str) -> Graph:
    response = await client.get(url, params=params, headers={"Accept": media})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media)
    return parse(response.content, RDF_SYNTAXES[media])


def parse(content: bytes, syntax: str) -> Graph:
    with warnings.catch_warnings():
        # rdflib's JSON-LD parser builds a ConjunctiveGraph, which rdflib itself has deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        return Graph().parse(data=content, format=syntax)


def datasets(graph: Graph) -> set[str]:
    return {str(s) for s in graph.subjects(RDF.type, DCAT.Dataset)}


def errors(graph: Graph, shapes: ShapesStore, version: ApVersion = ApVersion.DCAT_AP_3_0_1) -> list[str]:
    report = validate_dcat(graph, shapes=shapes, version=version, profile=Profile.BASE)
    return [f"{f.pointer}: {f.message}" for f in report.findings if f.severity.value == "error"]


async def test_catalog_in_every_syntax_conforms_to_dcat_ap_base(
    client: httpx.AsyncClient, harvested: list[str], shapes: ShapesStore, settings: Settings
) -> None:
    turtle = await get_graph(client, "/catalog", per_page="1000")
    found = datasets(turtle)
    assert len(found) == 40 + 20 + 1  # Aarhus CKAN, Oslo DCAT, Bergen's bike docks described by the hub
    assert OSLO_BATH in found  # the publishers' own URIs, never a second one
    assert sum(u.startswith("http://demo-city.test/ckan/dataset/") for u in found) == 40
    assert errors(turtle, shapes) == []
    for media, syntax in RDF_SYNTAXES.items():
        graph = await get_graph(client, "/catalog", media, per_page="1000")
        assert datasets(graph) == found, syntax
        assert len(graph) == len(turtle), syntax
        assert errors(graph, shapes) == [], syntax
    for ext, syntax in EXTENSIONS.items():
        response = await client.get(f"/catalog.{ext}", params={"per_page": "1000"}, headers={"Accept": "text/csv"})
        assert response.status_code == 200, ext
        assert datasets(parse(response.content, syntax)) == found, ext
    recommended = validate_dcat(turtle, shapes=shapes, profile=Profile.RECOMMENDED)
    warnings = sum(f.severity.value == "warning" for f in recommended.findings)
    print(f"\nDCAT-AP 3.0.1 recommended profile: {warnings} warnings for {len(found)} datasets")
    assert recommended.conforms
    assert 0 < warnings <= RECOMMENDED_CEILING


async def test_hydra_pages_walk_every_dataset_exactly_once(
    client: httpx.AsyncClient, harvested: list[str], settings: Settings
) -> None:
    url: str | None = f"{base(settings)}/catalog.ttl?per_page=7"
    seen: list[str] = []
    pages = 0
    while url is not None:
        response = await client.get(url.removeprefix(base(settings)))
        assert response.status_code == 200
        graph = Graph().parse(data=response.content, format="turtle")
        hub_catalog = URIRef(f"{base(settings)}/catalog")
        assert graph.value(hub_catalog, HYDRA.totalItems) == Literal(61)
        view = graph.value(hub_catalog, HYDRA.view)
        assert (view, RDF.type, HYDRA.PartialCollectionView) in graph
        assert str(graph.value(view, HYDRA.last)).endswith("page=9&per_page=7")
        if pages:
            assert graph.value(view, HYDRA.previous) is not None
        seen += [str(d) for d in graph.objects(hub_catalog, DCAT.dataset)]
        pages += 1
        following = graph.value(view, HYDRA.next)
        url = None if following is None else str(following)
    assert pages == 9
    assert len(seen) == 61
    assert len(set(seen)) == 61


async def test_modified_since_keeps_what_the_hub_changed_since(
    client: httpx.AsyncClient, harvester: Harvester, settings: Settings
) -> None:
    assert (await harvester.run(CKAN)).ok
    between = datetime.now(UTC)
    assert (await harvester.run(OSLO)).ok
    since = await get_graph(client, "/catalog", modified_since=between.isoformat(), per_page="1000")
    assert len(datasets(since)) == 20
    assert all(d.startswith("https://oslo.kommune.no/") for d in datasets(since))
    assert str(since.value(URIRef(f"{base(settings)}/catalog"), HYDRA.view)).count("modified_since=") == 1
    every = await get_graph(client, "/catalog", modified_since="2000-01-01", per_page="1000")
    assert len(datasets(every)) == 60
    bad = await client.get("/catalog", params={"modified_since": "last tuesday"})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == PROBLEM
    assert "modified_since" in bad.json()["detail"]


async def test_city_sub_catalogues_are_parts_of_the_hub_catalogue(
    client: httpx.AsyncClient, harvested: list[str], shapes: ShapesStore, settings: Settings
) -> None:
    hub_uri = URIRef(f"{base(settings)}/catalog")
    hub = await get_graph(client, "/catalog", per_page="5")
    parts = {str(p) for p in hub.objects(hub_uri, DCTERMS.hasPart)}
    assert parts == {f"{base(settings)}/catalog/{city}" for city in ("aarhus", "oslo", "bergen")}
    oslo_uri = URIRef(f"{base(settings)}/catalog/oslo")
    assert (oslo_uri, RDF.type, DCAT.Catalog) in hub
    oslo = await get_graph(client, "/catalog/oslo", per_page="1000")
    assert (oslo_uri, DCTERMS.isPartOf, hub_uri) in oslo
    assert {str(d) for d in oslo.objects(oslo_uri, DCAT.dataset)} == {
        d for d in datasets(oslo) if d.startswith("https://oslo.kommune.no/")
    }
    assert len(datasets(oslo)) == 20
    assert errors(oslo, shapes) == []
    as_extension = await client.get("/catalog/oslo.jsonld", params={"per_page": "1000"})
    assert datasets(parse(as_extension.content, "json-ld")) == datasets(oslo)
    assert (await client.get("/catalog/atlantis")).status_code == 404


async def test_every_dataset_has_a_catalog_record_of_its_harvest(
    client: httpx.AsyncClient, harvested: list[str], settings: Settings
) -> None:
    graph = await get_graph(client, "/catalog/oslo", per_page="1000")
    records = {graph.value(r, FOAF.primaryTopic): r for r in graph.objects(None, DCAT.record)}
    assert set(map(str, records)) == datasets(graph)
    record = records[URIRef(OSLO_BATH)]
    modified = graph.value(record, DCTERMS.modified)
    assert modified.datatype == XSD.dateTime
    assert abs((modified.toPython() - datetime.now(UTC)).total_seconds()) < 600  # the harvest's time
    source = graph.value(record, DCTERMS.source)
    assert (source, RDF.type, DCAT.CatalogRecord) in graph
    assert graph.value(source, DCTERMS.identifier) == Literal(OSLO)
    assert str(graph.value(source, RDFS.seeAlso)).endswith("/dcat/oslo/catalog.ttl")
    assert graph.value(URIRef(OSLO_BATH), DCTERMS.issued) == Literal("2022-10-11", datatype=XSD.date)
    dcatap = Namespace("http://data.europa.eu/r5r/")  # High-Value Dataset fields pass through
    assert graph.value(URIRef(OSLO_BATH), dcatap.hvdCategory) == URIRef("http://data.europa.eu/bna/c_dd313021")
    assert str(graph.value(URIRef(OSLO_BATH), dcatap.applicableLegislation)).endswith("/reg_impl/2023/138/oj")


async def test_bike_share_in_bergen_is_a_hub_described_dataset_with_its_ngsi_ld_service(
    client: httpx.AsyncClient, harvested: list[str], settings: Settings, hub: HubState
) -> None:
    graph = await get_graph(client, "/catalog/bergen")
    (bikes,) = [d for d in graph.subjects(RDF.type, DCAT.Dataset)]
    title = str(graph.value(bikes, DCTERMS.title))
    assert "Bike-share" in title
    assert "Bergen" in title
    assert Literal("bike-share", lang="en") in set(graph.objects(bikes, DCAT.keyword))
    (service,) = graph.subjects(DCAT.servesDataset, bikes)
    endpoint = str(graph.value(service, DCAT.endpointURL))
    assert endpoint == f"{base(settings)}/ngsi-ld/v1/entities?type=BikeHireDockingStation"
    assert graph.value(service, DCTERMS.identifier) == Literal("bergen/BikeHireDockingStation")
    assert "NGSILD-Tenant: bergen" in str(graph.value(service, DCTERMS.description))
    period = graph.value(bikes, DCTERMS.temporal)
    with hub.db.connect() as conn:
        first, last = conn.execute(
            select(func.min(history.c.ts), func.max(history.c.ts)).where(history.c.tenant == "bergen")
        ).one()
    observed = [graph.value(period, p).toPython() for p in (DCAT.startDate, DCAT.endDate)]
    assert [t.timestamp() for t in observed] == [pytest.approx(first, abs=1), pytest.approx(last, abs=1)]
    assert str(graph.value(bikes, DCTERMS.conformsTo)).endswith("/BikeHireDockingStation/schema.json")
    assert URIRef(f"{base(settings)}/catalog/bergen#location") in set(graph.objects(bikes, DCTERMS.spatial))
    (distribution,) = graph.objects(bikes, DCAT.distribution)
    assert graph.value(distribution, DCTERMS.license) == URIRef("http://data.norge.no/nlod/no/2.0")
    docks = await client.get(endpoint.removeprefix(base(settings)) + "&limit=1000", headers={"NGSILD-Tenant": "bergen"})
    assert len(docks.json()) == 60


async def test_norwegian_profile_conforms_to_dcat_ap_no(
    client: httpx.AsyncClient, harvested: list[str], shapes: ShapesStore
) -> None:
    for city in ("oslo", "bergen"):
        graph = await get_graph(client, f"/catalog/{city}", profile="dcat-ap-no", per_page="1000")
        assert len(datasets(graph)) == {"oslo": 20, "bergen": 1}[city]
        assert errors(graph, shapes, ApVersion.DCAT_AP_NO_2_0) == [], city
        licences = {str(o) for o in graph.objects(None, DCTERMS.license)}
        assert licences == {"http://publications.europa.eu/resource/authority/licence/NLOD_2_0"}
    one = await get_graph(client, f"/datasets/{quote(OSLO_BATH, safe='')}", profile="dcat-ap-no")
    assert errors(one, shapes, ApVersion.DCAT_AP_NO_2_0) == []
    danish = await client.get("/catalog/aarhus", params={"profile": "dcat-ap-no"})
    assert danish.status_code == 400
    assert "Norwegian" in danish.json()["detail"]


async def test_one_dataset_in_every_syntax_and_as_json(
    client: httpx.AsyncClient, harvested: list[str], shapes: ShapesStore, settings: Settings
) -> None:
    path = f"/datasets/{quote(OSLO_BATH, safe='')}"
    for media in RDF_SYNTAXES:
        graph = await get_graph(client, path, media)
        assert datasets(graph) == {OSLO_BATH}
        assert errors(graph, shapes) == []
    unquoted = await get_graph(client, f"/datasets/{OSLO_BATH}.ttl")
    assert datasets(unquoted) == {OSLO_BATH}
    body = (await client.get(path)).json()
    assert body["uri"] == OSLO_BATH
    assert body["dataset"]["title"]["en"] == "Bathing water quality"
    assert [p["source_id"] for p in body["provenance"]] == [OSLO]
    assert body["removed"] is False
    assert body["findings"] == []
    own = (await client.get("/datasets/ngsi-ld/bergen/BikeHireDockingStation")).json()
    assert own["data_service"]["tenant"] == "bergen"
    assert own["dataset"]["uri"] == f"{base(settings)}/datasets/ngsi-ld/bergen/BikeHireDockingStation"


async def test_a_dataset_without_description_carries_a_marked_fallback_and_its_finding(
    client: httpx.AsyncClient, harvested: list[str], hub: HubState, shapes: ShapesStore
) -> None:
    # The demo CKAN portal gives every package notes: take one away in the store, as a publisher might.
    uri = "http://demo-city.test/ckan/dataset/00fc3c2b-cf82-51c1-943c-888c21493bb3"
    with hub.db.begin() as conn:
        data = conn.execute(table.select().where(table.c.uri == uri)).mappings().one()["data"]
        conn.execute(table.update().where(table.c.uri == uri).values(data=data.replace('"description"', '"x"', 1)))
    graph = await get_graph(client, f"/datasets/{quote(uri, safe='')}")
    assert str(graph.value(URIRef(uri), DCTERMS.description)) == FALLBACK_DESCRIPTION
    assert errors(graph, shapes) == []
    body = (await client.get(f"/datasets/{quote(uri, safe='')}")).json()
    assert [f["rule"] for f in body["findings"]] == ["dcat.output.missing-description"]


async def test_errors_are_problems(client: httpx.AsyncClient, harvested: list[str]) -> None:
    cases = [
        ("/catalog", {"Accept": "text/csv"}, {}, 406),
        ("/catalog", {"Accept": "application/xml, text/html;q=0.9"}, {}, 406),
        ("/datasets/https://nowhere.example/datasets/none", {}, {}, 404),
        ("/catalog", {}, {"per_page": "1001"}, 400),
        ("/catalog", {}, {"page": "0"}, 400),
        ("/catalog", {}, {"page": "99"}, 404),
        ("/catalog", {}, {"profile": "dcat-ap-xx"}, 400),
        ("/catalog.csv", {}, {}, 404),
    ]
    for path, headers, params, status in cases:
        response = await client.get(path, headers=headers, params=params)
        assert response.status_code == status, (path, params, response.text)
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == status
        assert body["instance"] == path
        assert body["detail"]
    not_acceptable = await client.get("/catalog", headers={"Accept": "text/csv"})
    assert not_acceptable.json()["type"] == "https://nordhub.eu/problems/not-acceptable"
    assert "text/turtle" in not_acceptable.json()["detail"]
    over = await client.get("/catalog", params={"per_page": "5000"})
    assert "1000" in over.json()["detail"]


async def test_quality_weighted_accept_picks_the_preferred_syntax(client: httpx.AsyncClient) -> None:
    accept = "text/turtle;q=0.5, application/n-triples;q=0.9, application/ld+json;q=0"
    response = await client.get("/catalog", headers={"Accept": accept})
    assert response.headers["content-type"].startswith("application/n-triples")
    wildcard = await client.get("/catalog", headers={"Accept": "*/*"})
    assert wildcard.headers["content-type"].startswith("text/turtle")
    empty = Graph().parse(data=wildcard.content, format="turtle")
    assert datasets(empty) == set()


async def test_dcat_ap_no_leaves_out_a_dataset_without_theme_and_says_so(
    client: httpx.AsyncClient, harvested: list[str], hub: HubState, shapes: ShapesStore, settings: Settings
) -> None:
    with hub.db.begin() as conn:
        data = conn.execute(table.select().where(table.c.uri == OSLO_BATH)).mappings().one()["data"]
        conn.execute(table.update().where(table.c.uri == OSLO_BATH).values(data=data.replace('"themes"', '"x"', 1)))
    graph = await get_graph(client, "/catalog/oslo", profile="dcat-ap-no", per_page="1000")
    assert OSLO_BATH not in datasets(graph)
    assert len(datasets(graph)) == 19
    view = graph.value(URIRef(f"{base(settings)}/catalog/oslo"), HYDRA.view)
    (note,) = graph.objects(view, RDFS.comment)
    assert OSLO_BATH in str(note)
    assert "dcat:theme" in str(note)
    assert errors(graph, shapes, ApVersion.DCAT_AP_NO_2_0) == []
    path = f"/datasets/{quote(OSLO_BATH, safe='')}"
    one = await client.get(path, params={"profile": "dcat-ap-no"}, headers={"Accept": "text/turtle"})
    assert one.status_code == 406
    assert one.headers["content-type"] == PROBLEM
    assert "theme" in one.json()["detail"]
    findings = (await client.get(path, params={"profile": "dcat-ap-no"})).json()["findings"]
    assert [(f["rule"], f["severity"]) for f in findings] == [("dcat.output.missing-theme", "error")]
    plain = await get_graph(client, path)  # DCAT-AP 3.0.1 still has it
    assert datasets(plain) == {OSLO_BATH}


async def test_mqa_scores_travel_as_dqv_measurements_and_stay_conformant(
    client: httpx.AsyncClient, harvested: list[str], settings: Settings, shapes: ShapesStore, shared_data: Path
) -> None:
    copy_shapes(shared_data, settings.data_dir / "schemas")  # the MQA vocabulary lists the scores need
    graph = await get_graph(client, "/catalog", per_page="1000")
    dqv = Namespace("http://www.w3.org/ns/dqv#")
    measured = set(graph.subjects(dqv.hasQualityMeasurement, None))
    assert measured
    assert {str(m) for m in measured} <= datasets(graph)
    scores = [
        float(graph.value(m, dqv.value))
        for d in measured
        for m in graph.objects(d, dqv.hasQualityMeasurement)
        if str(graph.value(m, dqv.isMeasurementOf)).endswith("score")
    ]
    assert len(scores) == len(measured)
    assert all(0 <= s <= 405 for s in scores)
    assert errors(graph, shapes) == []
