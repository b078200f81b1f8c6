"""The ``dcat`` source kind on the real DCAT-AP examples, served through a mocked HTTP layer."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import rdflib

from harvester.http import HttpClient
from harvester.rdf import Triples, parse_turtle
from harvester.sources import adapter_for
from harvester.sources.base import HarvestBatch
from harvester.sources.dcat import DcatAdapter, candidate_formats, parse_rdf, published_literals, sniff_format
from harvester.sources.dcat_transform import SKOLEM_BASE, dataset_records, skolemise
from hub.cities import City, Registry, Source, SourceKind
from hub.errors import ConfigError, PayloadInvalid
from hub.settings import Settings
from schemas.findings import Severity

HOST = "data.test.org"
BASE = f"http://{HOST}"
TURTLE, RDFXML, JSONLD = "text/turtle", "application/rdf+xml", "application/ld+json"
DCAT_PREFIXES = """@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""

Routes = dict[str, tuple[bytes, str]]


@pytest.fixture
def examples(shared_data: Path) -> Path:
    return shared_data / "dcat-ap" / "examples"


@pytest.fixture
def city(registry: Registry) -> City:
    return registry.city("oslo")


class Served:
    """A URL → (body, Content-Type) handler for httpx.MockTransport that records every request."""

    def __init__(self) -> None:
        self.routes: Routes = {}
        self.requested: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requested.append(url)
        if url not in self.routes:
            return httpx.Response(404, text="not found")
        body, content_type = self.routes[url]
        return httpx.Response(200, content=body, headers={"Content-Type": content_type})


@pytest.fixture
def served() -> Served:
    return Served()


@pytest.fixture
async def client(settings: Settings, served: Served) -> AsyncIterator[HttpClient]:
    transport = httpx.MockTransport(served)
    async with HttpClient(settings, transport=transport, allow_hosts=[HOST], backoff_base=0) as http:
        yield http


def source(url: str, **options: Any) -> Source:
    return Source.model_validate(
        {"id": "test-dcat", "kind": "dcat", "url": url, "schedule": "17 3 * * *", "options": options}
    )


Harvest = Callable[..., Any]


@pytest.fixture
def harvest(client: HttpClient, city: City) -> Harvest:
    async def run(url: str, adapter: DcatAdapter | None = None, **options: Any) -> HarvestBatch:
        return await (adapter or DcatAdapter()).harvest(client, city, source(url, **options))

    return run


def by_uri(batch: HarvestBatch) -> dict[str, Any]:
    return {r.record_id: r.dataset for r in batch.records}


# ------------------------------------------------------------------------------------------------ Hydra paging


@pytest.mark.anyio
@pytest.mark.parametrize("style", ["paged-collection", "partial-collection"])
async def test_both_hydra_styles_follow_every_page(
    style: str, examples: Path, served: Served, harvest: Harvest
) -> None:
    pages = [(examples / "hydra-paging" / f"{style}-{n}.jsonld").read_bytes() for n in (1, 2)]
    for n, body in enumerate(pages, start=1):
        served.routes[f"{BASE}/catalog.jsonld?page={n}"] = (body, JSONLD)
    batch = await harvest(f"{BASE}/catalog.jsonld?page=1")
    assert served.requested == [f"{BASE}/catalog.jsonld?page=1", f"{BASE}/catalog.jsonld?page=2"]
    datasets = by_uri(batch)
    assert sorted(datasets) == [f"{BASE}/datasets/{n}" for n in (1, 2, 3, 4)]
    assert batch.complete is True
    assert batch.bytes == sum(map(len, pages))
    assert batch.findings == []
    # dataset 4 is listed by page 1's catalogue but described only on page 2 (with the title its publisher gave it)
    assert datasets[f"{BASE}/datasets/4"].title == {"": "Dataset 1"}
    assert datasets[f"{BASE}/datasets/4"].landing_page == f"{BASE}/datasets/4"
    first = datasets[f"{BASE}/datasets/1"]
    assert first.keywords == {"": ["Tag 1", "Tag 2", "Tag 3", "Tag 4"]}
    assert first.themes == ["Theme 1", "Theme 2"]
    assert first.contact_point == {"fn": "Organization contact", "email": "hello@its.me"}
    assert first.issued == "2016-12-14T18:59:02.737480"
    assert first.distributions[0].access_url == f"{BASE}/datasets/1/resources/1/file.json"
    assert first.distributions[0].format == "JSON"


@pytest.mark.anyio
async def test_paged_collection_keeps_the_temporal_blank_node(examples: Path, served: Served, harvest: Harvest) -> None:
    for n in (1, 2):
        body = (examples / "hydra-paging" / f"paged-collection-{n}.jsonld").read_bytes()
        served.routes[f"{BASE}/catalog.jsonld?page={n}"] = (body, "application/json")
    datasets = by_uri(await harvest(f"{BASE}/catalog.jsonld?page=1"))
    assert datasets[f"{BASE}/datasets/1"].temporal == ("2016-12-05T00:00:00", None)


def _page(n: int, next_page: int | None) -> bytes:
    link = (
        f'<{BASE}/p{n}> a <http://www.w3.org/ns/hydra/core#PartialCollectionView> ; hydra:next "{BASE}/p{next_page}" .'
    )
    return (
        DCAT_PREFIXES
        + "@prefix hydra: <http://www.w3.org/ns/hydra/core#> .\n"
        + f'<{BASE}/ds/{n}> a dcat:Dataset ; dct:title "Dataset {n}"@en .\n'
        + (link if next_page else "")
    ).encode()


@pytest.mark.anyio
async def test_a_paging_loop_is_read_once_and_reported(served: Served, harvest: Harvest) -> None:
    served.routes[f"{BASE}/p1"] = (_page(1, 2), TURTLE)
    served.routes[f"{BASE}/p2"] = (_page(2, 1), TURTLE)
    batch = await harvest(f"{BASE}/p1")
    assert served.requested == [f"{BASE}/p1", f"{BASE}/p2"]
    assert sorted(by_uri(batch)) == [f"{BASE}/ds/1", f"{BASE}/ds/2"]
    assert [(f.rule, f.severity) for f in batch.findings] == [("dcat.paging-loop", Severity.WARNING)]
    assert batch.complete is True


@pytest.mark.anyio
async def test_the_page_cap_stops_and_marks_the_batch_incomplete(served: Served, harvest: Harvest) -> None:
    for n in (1, 2, 3):
        served.routes[f"{BASE}/p{n}"] = (_page(n, n + 1 if n < 3 else None), TURTLE)
    batch = await harvest(f"{BASE}/p1", max_pages=2)
    assert served.requested == [f"{BASE}/p1", f"{BASE}/p2"]
    assert sorted(by_uri(batch)) == [f"{BASE}/ds/1", f"{BASE}/ds/2"]
    assert [f.rule for f in batch.findings] == ["dcat.page-cap"]
    assert batch.complete is False
    with pytest.raises(ConfigError, match="max_pages"):
        await harvest(f"{BASE}/p1", max_pages="many")


# ------------------------------------------------------------------------------------------------ real catalogues


@pytest.mark.anyio
async def test_rdfxml_catalogue(examples: Path, served: Served, harvest: Harvest) -> None:
    served.routes[f"{BASE}/catalog.xml"] = ((examples / "hydra-paging" / "catalog.xml").read_bytes(), RDFXML)
    batch = await harvest(f"{BASE}/catalog.xml")
    datasets = by_uri(batch)
    assert sorted(datasets) == [f"{BASE}/datasets/{n}" for n in (1, 2, 3, 4)]
    assert all(r.findings == [] for r in batch.records)
    one = datasets[f"{BASE}/datasets/1"]
    assert [d.title for d in one.distributions] == [{"": "Resource 1-1"}, {"": "Resource 1-2"}, {"": "Resource 1-4"}]
    json_file = one.distributions[0]
    assert json_file.byte_size == 12323
    assert json_file.media_type == "https://www.iana.org/assignments/media-types/application/json"
    assert json_file.modified == "2018-03-14T18:59:02.737480"
    assert one.licence == "Licence Ouverte Version 1.0"  # from a distribution: the dataset names none
    assert one.contact_point == {
        "fn": "Organization contact",
        "email": "hello@its.me",
        "url": "https://data.support.com",
    }
    assert one.temporal == ("2016-01-01T00:00:00", "2016-12-05T00:00:00")  # dcat:startDate / dcat:endDate
    assert one.spatial == ["http://wuEurope.com/"]
    assert one.publisher is not None
    assert one.publisher.name == {"": "An Organization"}
    three = datasets[f"{BASE}/datasets/3"]
    assert three.temporal == ("2016-01-01T00:00:00", "2016-12-05T00:00:00")  # schema:startDate / schema:endDate
    assert three.themes == ["http://data.europa.eu/bna/c_dd313021"]
    assert str(three.access_rights).endswith("INSPIRE_Directive_Article13_1e")
    assert three.licence == "Licence Ouverte Version 2.0"
    # relative rdf:about of distributions resolve against the document's URL
    assert [d.uri for d in datasets[f"{BASE}/datasets/4"].distributions] == [
        f"{BASE}/datasets/4/resources/1",
        f"{BASE}/datasets/4/resources/2",
    ]


@pytest.mark.anyio
async def test_fdk_dcat_ap_no_catalogue(examples: Path, served: Served, harvest: Harvest) -> None:
    served.routes[f"{BASE}/catalogs/0"] = ((examples / "fdk" / "catalog_0.ttl").read_bytes(), TURTLE)
    [record] = (await harvest(f"{BASE}/catalogs/0")).records  # the catalogue records are not datasets
    dataset = record.dataset
    assert record.record_id == "https://testdirektoratet.no/model/dataset/0"
    assert dataset.title == {"nb": "Dataset 0"}
    assert dataset.identifier == "adb4cf00-31c8-460c-9563-55f204cf8221"
    assert dataset.keywords == {"": ["fest", "test"]}
    assert dataset.themes == [
        "http://publications.europa.eu/resource/authority/data-theme/GOVE",
        "http://publications.europa.eu/resource/authority/data-theme/TECH",
    ]
    assert dataset.contact_point == {"fn": "Testdirektoratet", "url": "https://testdirektoratet.no"}
    assert dataset.languages == ["http://publications.europa.eu/resource/authority/language/NOR"]
    assert dataset.access_rights == "http://publications.europa.eu/resource/authority/access-right/PUBLIC"
    assert dataset.temporal == ("2019-04-02T00:00:00", None)
    assert dataset.licence == "https://data.norge.no/nlod/no"
    assert dataset.distributions[0].format == "CSV JSON JSONP YAML XML"
    assert dataset.extra == {"page": "https://testdirektoratet.no"}


@pytest.mark.anyio
async def test_dcat_ap_no_examples(examples: Path, served: Served, harvest: Harvest) -> None:
    served.routes[f"{BASE}/no.ttl"] = ((examples / "dcat-ap-no__DCAT-AP-NO2.0-examples.ttl").read_bytes(), TURTLE)
    [record] = (await harvest(f"{BASE}/no.ttl")).records
    dataset = record.dataset
    assert dataset.uri == "https://examples.org/dcatno_Examples#dsBuildings"
    assert dataset.title == {"en": "Buildings - an example dataset", "nb": "Bygninger - et eksempeldatasett"}
    assert dataset.description == {"en": "An example dataset.", "nb": "Et eksempeldatasett."}
    assert dataset.conforms_to == ["https://examples.org/dcatno_Examples#qsQualitySpecification"]
    assert dataset.publisher is not None
    assert dataset.publisher.uri == "https://organization-catalog.fellesdatakatalog.digdir.no/organizations/991825827"
    assert dataset.extra == {"type": "https://data.europa.eu/euodp/en/data/dataset/dataset-type/TEST_DATA"}


def test_nested_blank_nodes_get_stable_skolem_iris(examples: Path) -> None:
    text = (examples / "fdk" / "nested_blank_nodes.ttl").read_text(encoding="utf-8")
    url = "https://test.no/catalog.ttl"
    first, second = (skolemise(parse_rdf(text.encode(), url=url, content_type=TURTLE)) for _ in range(2))
    with published_literals():
        by_rdflib = skolemise(Triples.from_graph(rdflib.Graph().parse(data=text, format="turtle", publicID=url)))
    assert set(first) == set(second) == set(by_rdflib)
    assert not any(term.startswith("_:") for triple in first for term in triple)
    dataset = "<https://test.no/catalogs/910258028/datasets/nested>"
    rules = first.objects(dataset, "<http://purl.org/vocab/cpsv#follows>")
    assert len(rules) == 3
    assert all(rule.startswith(f"<{SKOLEM_BASE}") for rule in rules)
    kinds = {first.objects(rule, "<http://purl.org/dc/terms/type>")[0].rsplit("#")[1] for rule in rules}
    assert kinds == {"ruleForNonDisclosure>", "ruleForDataProcessing>", "ruleForDisclosure>"}
    [record] = dataset_records(first)
    assert record.dataset is not None
    assert record.dataset.content_hash == dataset_records(by_rdflib)[0].dataset.content_hash  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------------ syntax and errors


@pytest.mark.anyio
@pytest.mark.parametrize("content_type", [RDFXML, "text/plain", "application/octet-stream", ""])
async def test_wrong_or_generic_content_type_still_parses(
    content_type: str, examples: Path, served: Served, harvest: Harvest
) -> None:
    served.routes[f"{BASE}/turtle"] = ((examples / "fdk" / "catalog_0.ttl").read_bytes(), content_type)
    served.routes[f"{BASE}/xml"] = ((examples / "hydra-paging" / "catalog.xml").read_bytes(), content_type or TURTLE)
    assert [r.record_id for r in (await harvest(f"{BASE}/turtle")).records] == [
        "https://testdirektoratet.no/model/dataset/0"
    ]
    assert len((await harvest(f"{BASE}/xml")).records) == 4


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'<?xml version="1.0"?><rdf:RDF>', "xml"),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">', "xml"),
        (b"\xef\xbb\xbf  @prefix dcat: <http://www.w3.org/ns/dcat#> .", "turtle"),
        (b"# a comment\nPREFIX dcat: <http://www.w3.org/ns/dcat#>", "turtle"),
        (b"<http://a.example/s> <http://a.example/p> <http://a.example/o> .", "turtle"),
        (b'[ {"@id": "http://a.example/s"} ]', "json-ld"),
        (b'{"@context": {}}', "json-ld"),
        (b"[ a <http://www.w3.org/ns/dcat#Dataset> ] .", "turtle"),
        (b"hello", None),
    ],
)
def test_sniffing_the_first_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_format(head) == expected


def test_candidates_put_the_bytes_before_the_declared_type() -> None:
    assert candidate_formats("application/rdf+xml; charset=utf-8", b"@prefix x: <http://x/> .") == ["turtle", "xml"]
    assert candidate_formats("application/ld+json", b"hello") == ["json-ld"]
    assert candidate_formats("text/plain", b"hello") == ["turtle"]


@pytest.mark.anyio
async def test_invalid_turtle_names_url_format_and_parser_message(served: Served, harvest: Harvest) -> None:
    body = DCAT_PREFIXES + '<http://ex.org/data set/1> a dcat:Dataset ; dct:title "Broken"@en .\n'
    served.routes[f"{BASE}/broken.ttl"] = (body.encode(), TURTLE)
    with pytest.raises(PayloadInvalid) as caught:
        await harvest(f"{BASE}/broken.ttl")
    assert caught.value.detail.startswith(f"GET {BASE}/broken.ttl: not parseable RDF (as turtle: ")
    assert "<http://ex.org/data set/1>" in caught.value.detail


def test_a_syntax_error_carries_rdflib_message() -> None:
    with pytest.raises(PayloadInvalid, match=r"as turtle: BadSyntax: .*expected"):
        parse_rdf(DCAT_PREFIXES.encode() + b"<http://ex.org/1> dct:title .", url=f"{BASE}/x.ttl", content_type=TURTLE)


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


JSONLD_DOC = b"""{"@context": "https://contexts.example/dcat.jsonld", "@graph": [
  {"@id": "http://data.test.org/ds/1", "@type": "Dataset", "title": {"@value": "Sykkel", "@language": "nb"}}]}"""


@pytest.mark.anyio
async def test_remote_jsonld_context_is_refused_without_a_request(
    served: Served, harvest: Harvest, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.routes[f"{BASE}/catalog.jsonld"] = (JSONLD_DOC, JSONLD)
    attempts = _no_network(monkeypatch)
    with pytest.raises(PayloadInvalid, match=r"@context https://contexts\.example/dcat\.jsonld is not one of"):
        await harvest(f"{BASE}/catalog.jsonld")
    assert served.requested == [f"{BASE}/catalog.jsonld"]
    assert attempts == []


@pytest.mark.anyio
async def test_a_locally_known_jsonld_context_is_used(
    served: Served, harvest: Harvest, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.routes[f"{BASE}/catalog.jsonld"] = (JSONLD_DOC, JSONLD)
    context = {
        "@context": {
            "Dataset": "http://www.w3.org/ns/dcat#Dataset",
            "title": "http://purl.org/dc/terms/title",
        }
    }
    attempts = _no_network(monkeypatch)
    batch = await harvest(f"{BASE}/catalog.jsonld", DcatAdapter({"https://contexts.example/dcat.jsonld": context}))
    assert [(r.record_id, r.dataset.title) for r in batch.records] == [(f"{BASE}/ds/1", {"nb": "Sykkel"})]
    assert attempts == []


def test_literals_keep_their_published_form() -> None:
    published = '"2020-03-12T11:52:16.122Z"^^xsd:dateTime'
    turtle = (
        DCAT_PREFIXES
        + f'<{BASE}/ds/1> a dcat:Dataset ; dct:title "T" ; dct:issued {published} ; dct:modified "2020-1-1"^^xsd:date .'
    )
    with published_literals():  # rdflib on its own would rewrite the literals before they are even written out
        xml = rdflib.Graph().parse(data=turtle, format="turtle").serialize(format="xml").encode()
    for body, content_type in ((turtle.encode(), TURTLE), (xml, RDFXML)):
        [record] = dataset_records(skolemise(parse_rdf(body, url=f"{BASE}/c", content_type=content_type)))
        assert record.dataset is not None
        assert (record.dataset.issued, record.dataset.modified) == ("2020-03-12T11:52:16.122Z", "2020-1-1")
    assert rdflib.NORMALIZE_LITERALS is True  # the switch is restored after parsing


# ------------------------------------------------------------------------------------------------ transform rules


def _records(turtle: str, publisher: str | None = None) -> list[Any]:
    triples = skolemise(parse_rdf((DCAT_PREFIXES + turtle).encode(), url=f"{BASE}/c.ttl", content_type=TURTLE))
    return dataset_records(triples, publisher)


def test_a_dataset_without_title_is_quarantined_not_dropped() -> None:
    records = _records(
        f'<{BASE}/ds/1> a dcat:Dataset ; dct:description "no title"@en .\n'
        f'<{BASE}/ds/2> a dcat:Dataset ; dct:title "ok" .'
    )
    untitled, titled = records
    assert (untitled.record_id, untitled.dataset, untitled.entity) == (f"{BASE}/ds/1", None, None)
    assert [(f.rule, f.severity) for f in untitled.findings] == [("dcat.dataset-without-title", Severity.ERROR)]
    assert titled.dataset is not None
    assert titled.findings == []


def test_a_distribution_without_access_url_warns_and_is_left_out() -> None:
    [record] = _records(
        f'<{BASE}/ds/1> a dcat:Dataset ; dct:title "T"@nb ; dcat:distribution <{BASE}/d/1> , [ dct:title "no URL" ] .\n'
        f"<{BASE}/d/1> a dcat:Distribution ; dcat:accessURL <{BASE}/f.csv> ."
    )
    assert [d.access_url for d in record.dataset.distributions] == [f"{BASE}/f.csv"]
    assert [(f.rule, f.severity) for f in record.findings] == [
        ("dcat.distribution-without-access-url", Severity.WARNING)
    ]
    assert record.findings[0].pointer.startswith("/http:~1~1data.test.org~1ds~11/dcat:distribution/")


def test_language_maps_keywords_hvd_and_blank_publisher() -> None:
    [record] = _records(
        f'<{BASE}/ds/1> a dcat:Dataset ; dct:title "Bysykkel"@nb , "City bikes"@EN , "Bysykkel" ;\n'
        ' dcat:keyword "sykkel"@nb , "bike"@en , "mobilitet"@nb ;\n'
        ' dct:publisher [ a foaf:Agent ; foaf:name "Oslo kommune"@nb ;\n'
        "   dct:type <http://purl.org/adms/publishertype/LocalAuthority> ] ;\n"
        " <http://data.europa.eu/r5r/applicableLegislation> <http://data.europa.eu/eli/reg_impl/2023/138/oj> ;\n"
        " <http://data.europa.eu/r5r/hvdCategory> <http://data.europa.eu/bna/c_b79e35eb> ;\n"
        ' dct:temporal [ <http://schema.org/startDate> "2020-01-01"^^xsd:date ; <http://schema.org/endDate> "2021" ] .'
    )
    dataset = record.dataset
    assert dataset.title == {"": "Bysykkel", "en": "City bikes", "nb": "Bysykkel"}
    assert dataset.keywords == {"en": ["bike"], "nb": ["mobilitet", "sykkel"]}
    assert dataset.publisher.name == {"nb": "Oslo kommune"}
    assert dataset.publisher.uri is None  # a blank node has no URI of the publisher's own
    assert dataset.publisher.type == "http://purl.org/adms/publishertype/LocalAuthority"
    assert dataset.applicable_legislation == ["http://data.europa.eu/eli/reg_impl/2023/138/oj"]
    assert dataset.hvd_categories == ["http://data.europa.eu/bna/c_b79e35eb"]
    assert dataset.temporal == ("2020-01-01", "2021")


def test_publisher_filter_matches_name_or_uri_case_insensitively() -> None:
    turtle = (
        f'<{BASE}/ds/1> a dcat:Dataset ; dct:title "a" ; dct:publisher <https://org.example/stockholm> .\n'
        f'<{BASE}/ds/2> a dcat:Dataset ; dct:title "b" ; dct:publisher [ foaf:name "Stockholms stad"@sv ] .\n'
        f'<{BASE}/ds/3> a dcat:Dataset ; dct:title "c" ; dct:publisher [ foaf:name "Malmö stad"@sv ] .\n'
    )
    assert [r.record_id for r in _records(turtle, "stockholms STAD")] == [f"{BASE}/ds/2"]
    assert [r.record_id for r in _records(turtle, "org.example/stockholm")] == [f"{BASE}/ds/1"]
    assert len(_records(turtle)) == 3


# ------------------------------------------------------------------------------------------------ content hash


def _hashes(body: bytes, content_type: str) -> dict[str, str | None]:
    triples = skolemise(parse_rdf(body, url=f"{BASE}/c", content_type=content_type))
    return {r.record_id: r.dataset.content_hash for r in dataset_records(triples) if r.dataset}


@pytest.mark.parametrize(
    "name", ["fdk/catalog_0.ttl", "fdk/nested_blank_nodes.ttl", "dcat-ap-no__DCAT-AP-NO2.0-examples.ttl"]
)
def test_content_hash_is_the_same_in_every_syntax(name: str, examples: Path) -> None:
    turtle = (examples / name).read_bytes()
    with published_literals():
        graph = rdflib.Graph().parse(data=turtle, format="turtle", publicID=f"{BASE}/c")
    expected = _hashes(turtle, TURTLE)
    assert len(expected) == 1
    assert all(expected.values())
    for fmt, content_type in (("xml", RDFXML), ("json-ld", JSONLD), ("nt", "application/n-triples")):
        assert _hashes(graph.serialize(format=fmt).encode(), content_type) == expected, fmt


def test_content_hash_changes_with_the_title_and_only_for_that_dataset() -> None:
    template = (
        '<{base}/ds/1> a dcat:Dataset ; dct:title "{title}"@nb ; dct:publisher <{base}/org> .\n'
        '<{base}/ds/2> a dcat:Dataset ; dct:title "Uendret"@nb ; dct:publisher <{base}/org> .\n'
        '<{base}/org> a foaf:Agent ; foaf:name "Kommunen"@nb .\n'
        '<{base}/cat> a dcat:Catalog ; dct:title "Katalog" ; dcat:dataset <{base}/ds/1> , <{base}/ds/2> .\n'
    )
    before = _hashes((DCAT_PREFIXES + template.format(base=BASE, title="Bysykkel")).encode(), TURTLE)
    again = _hashes((DCAT_PREFIXES + template.format(base=BASE, title="Bysykkel")).encode(), TURTLE)
    after = _hashes((DCAT_PREFIXES + template.format(base=BASE, title="Bysykler")).encode(), TURTLE)
    assert before == again
    assert before[f"{BASE}/ds/1"] != after[f"{BASE}/ds/1"]
    assert before[f"{BASE}/ds/2"] == after[f"{BASE}/ds/2"]


def test_fast_turtle_parser_agrees_with_rdflib(examples: Path) -> None:
    for name in ("fdk/catalog_0.ttl", "fdk/nested_blank_nodes.ttl", "dcat-ap-no__DCAT-AP-NO2.0-examples.ttl"):
        text = (examples / name).read_text(encoding="utf-8")
        with published_literals():
            graph = rdflib.Graph().parse(data=text, format="turtle", publicID=f"{BASE}/c")
        assert set(skolemise(parse_turtle(text, f"{BASE}/c"))) == set(skolemise(Triples.from_graph(graph))), name


def test_the_adapter_is_registered() -> None:
    assert isinstance(adapter_for(SourceKind.DCAT), DcatAdapter)


def test_rdfxml_external_entities_are_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = _no_network(monkeypatch)
    doc = b"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [<!ENTITY secret SYSTEM "http://evil.example/secret">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dct="http://purl.org/dc/terms/">
  <rdf:Description rdf:about="http://data.test.org/ds/1"><dct:title>&secret;</dct:title></rdf:Description>
</rdf:RDF>"""
    triples = parse_rdf(doc, url=f"{BASE}/c.rdf", content_type=RDFXML)
    assert list(triples) == [(f"<{BASE}/ds/1>", "<http://purl.org/dc/terms/title>", '""')]
    assert attempts == []
