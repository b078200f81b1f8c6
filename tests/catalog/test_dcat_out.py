"""catalog.dcat_out and the serialisation of catalog.publish: datasets written as pyoxigraph triples, already
normalised, conformant to the DCAT-AP 3.0.1 and DCAT-AP-NO 2.0 shapes, and the same graph in every syntax however
the stream is cut."""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, XSD

from catalog.dcat_out import (
    FALLBACK_DESCRIPTION,
    CatalogRecord,
    ChangeType,
    DcatWriter,
    OutputProfile,
    SourceVisit,
    iri,
    missing_mandatory,
)
from catalog.model import Agent, Dataset, Distribution
from catalog.publish import serialise
from schemas.dcat import ApVersion, Profile, ShapesStore, validate_dcat

BASE = "https://hub.example"
EU = "http://publications.europa.eu/resource/authority/"
IANA = "https://www.iana.org/assignments/media-types/"
CC_BY = "http://creativecommons.org/licenses/by/4.0/"
T0 = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)
SYNTAXES = {
    ox.RdfFormat.TURTLE: "turtle",
    ox.RdfFormat.JSON_LD: "json-ld",
    ox.RdfFormat.RDF_XML: "xml",
    ox.RdfFormat.N_TRIPLES: "nt",
}


@pytest.fixture(scope="module")
def shapes(shared_data: Path) -> ShapesStore:
    return ShapesStore(shared_data)


def ckan_like(n: int = 1, **changes: object) -> Dataset:
    """A dataset as the CKAN mapping hands it over: literals where vocabularies are wanted, a blank publisher."""
    uri = f"https://portal.example/dataset/{n}"
    dataset = Dataset(
        uri=uri,
        title={"da": f"Trafiktællinger {n}", "en": f"Traffic counts {n}"},
        description={"da": "Tællinger af biler og cykler."},
        identifier=str(n),
        keywords={"da": ["trafik", "cykler"]},
        publisher=Agent(name={"da": "Aarhus Kommune"}),
        contact_point={"fn": "Aarhus Kommune", "email": "opendata@aarhus.dk"},
        licence="cc-by",
        issued="2021-09-18T20:30:22.878344",
        modified="2023",
        languages=["da"],
        temporal=("2020-01-01", None),
        distributions=[
            Distribution(access_url=f"{uri}/counts.csv", format="CSV", byte_size=1234, title={"da": "CSV"}),
            Distribution(access_url=f"{uri}/counts.json", media_type="application/json"),
            Distribution(access_url=f"{uri}/counts.dat", format="Weird format", licence="other-open"),
        ],
    )
    return replace(dataset, **changes)


def graph_of(writer: DcatWriter, syntax: ox.RdfFormat = ox.RdfFormat.TURTLE) -> Graph:
    data = b"".join(serialise([writer.take()], syntax))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # rdflib's JSON-LD parser uses its ConjunctiveGraph
        return Graph().parse(data=data, format=SYNTAXES[syntax])


def record_for(ds: Dataset) -> CatalogRecord:
    visit = SourceVisit(f"{ds.uri}#source", "aarhus-ckan", T0, T0, "Open Data DK", "https://portal.example/api/3/")
    return CatalogRecord(f"{ds.uri}#record", ds.uri, T0, T0, ChangeType.CREATED, (visit,), tuple(missing_mandatory(ds)))


def errors(graph: Graph, shapes: ShapesStore, version: ApVersion = ApVersion.DCAT_AP_3_0_1) -> list[str]:
    report = validate_dcat(graph, shapes=shapes, version=version, profile=Profile.BASE)
    return [f"{f.pointer}: {f.message}" for f in report.findings if f.severity.value == "error"]


def test_values_leave_normalised_and_typed(shapes: ShapesStore) -> None:
    writer = DcatWriter(base_url=BASE)
    ds = ckan_like()
    assert writer.dataset(ds).node == ox.NamedNode(ds.uri)
    graph = graph_of(writer)
    node = URIRef(ds.uri)
    assert set(graph.objects(node, DCTERMS.title)) == {
        Literal("Trafiktællinger 1", lang="da"),
        Literal("Traffic counts 1", lang="en"),
    }
    assert graph.value(node, DCTERMS.language) == URIRef(EU + "language/DAN")
    assert graph.value(node, DCTERMS.issued) == Literal("2021-09-18T20:30:22.878344", datatype=XSD.dateTime)
    assert graph.value(node, DCTERMS.modified) == Literal("2023", datatype=XSD.gYear)
    assert graph.value(graph.value(node, DCTERMS.temporal), DCAT.startDate) == Literal("2020-01-01", datatype=XSD.date)
    csv, json_, weird = (URIRef(f"{ds.uri}/counts.{ext}") for ext in ("csv", "json", "dat"))
    by_access = {graph.value(d, DCAT.accessURL): d for d in graph.objects(node, DCAT.distribution)}
    assert graph.value(by_access[csv], DCTERMS.format) == URIRef(EU + "file-type/CSV")
    assert graph.value(by_access[csv], DCAT.mediaType) == URIRef(IANA + "text/csv")  # derived from the format
    assert graph.value(by_access[csv], DCAT.byteSize) == Literal("1234", datatype=XSD.nonNegativeInteger)
    assert graph.value(by_access[json_], DCTERMS.format) == URIRef(EU + "file-type/JSON")  # from the media type
    assert graph.value(by_access[csv], DCTERMS.license) == URIRef(CC_BY)  # the dataset's licence, canonical
    assert (URIRef(CC_BY), RDF.type, DCTERMS.LicenseDocument) in graph
    assert graph.value(URIRef(CC_BY), DCTERMS.type) == URIRef("http://purl.org/adms/licencetype/Attribution")
    unknown = graph.value(by_access[weird], DCTERMS.format)
    assert graph.value(unknown, RDFS.label) == Literal("Weird format")  # kept, as a typed blank node
    assert (unknown, RDF.type, DCTERMS.MediaTypeOrExtent) in graph
    publisher = graph.value(node, DCTERMS.publisher)
    assert graph.value(publisher, FOAF.name) == Literal("Aarhus Kommune", lang="da")
    assert str(graph.value(graph.value(node, DCAT.contactPoint), URIRef("http://www.w3.org/2006/vcard/ns#hasEmail")))
    assert errors(graph, shapes) == []


def test_a_licence_is_described_once_per_document() -> None:
    writer = DcatWriter(base_url=BASE)
    for n in range(3):
        writer.dataset(ckan_like(n))
    triples = writer.take()
    licence_types = [t for t in triples if t.subject == ox.NamedNode(CC_BY) and t.predicate.value.endswith("#type")]
    assert len(licence_types) == 1


def test_a_missing_description_gets_a_marked_fallback_and_the_record_says_so(shapes: ShapesStore) -> None:
    writer = DcatWriter(base_url=BASE)
    ds = ckan_like(description={})
    emitted = writer.dataset(ds)
    assert [f.rule for f in emitted.findings] == ["dcat.output.missing-description"]
    writer.record(record_for(ds))
    graph = graph_of(writer)
    assert graph.value(URIRef(ds.uri), DCTERMS.description) == Literal(FALLBACK_DESCRIPTION, lang="en")
    note = str(graph.value(URIRef(f"{ds.uri}#record"), DCTERMS.description))
    assert note.startswith("Supplied by the hub: dct:description:")
    assert errors(graph, shapes) == []


def test_a_missing_title_falls_back_to_the_identifier() -> None:
    writer = DcatWriter(base_url=BASE)
    ds = ckan_like(title={"da": "  "})
    assert [f.rule for f in writer.dataset(ds).findings] == ["dcat.output.missing-title"]
    title = str(graph_of(writer).value(URIRef(ds.uri), DCTERMS.title))
    assert title == "[untitled: no title was given by the publisher] 1"


def test_the_record_names_the_source_and_the_harvest_time() -> None:
    writer = DcatWriter(base_url=BASE)
    ds = ckan_like()
    writer.dataset(ds)
    writer.record(record_for(ds))
    graph = graph_of(writer)
    record = URIRef(f"{ds.uri}#record")
    assert graph.value(record, FOAF.primaryTopic) == URIRef(ds.uri)
    assert graph.value(record, DCTERMS.modified) == Literal("2025-11-23T12:00:00Z", datatype=XSD.dateTime)
    source = graph.value(record, DCTERMS.source)
    assert (source, RDF.type, DCAT.CatalogRecord) in graph
    assert graph.value(source, DCTERMS.identifier) == Literal("aarhus-ckan")
    assert graph.value(source, RDFS.seeAlso) == URIRef("https://portal.example/api/3/")


def test_hvd_fields_pass_through_onto_the_distributions() -> None:
    writer = DcatWriter(base_url=BASE)
    legislation = "http://data.europa.eu/eli/reg_impl/2023/138/oj"
    ds = ckan_like(applicable_legislation=[legislation], hvd_categories=["http://data.europa.eu/bna/c_b79e35eb"])
    writer.dataset(ds)
    graph = graph_of(writer)
    hvd = URIRef("http://data.europa.eu/r5r/hvdCategory")
    assert graph.value(URIRef(ds.uri), hvd) == URIRef("http://data.europa.eu/bna/c_b79e35eb")
    on_distributions = set(
        graph.subjects(URIRef("http://data.europa.eu/r5r/applicableLegislation"), URIRef(legislation))
    )
    assert len(on_distributions) == 4  # the dataset and its three distributions


def test_dcat_ap_no_profile(shapes: ShapesStore) -> None:
    writer = DcatWriter(base_url=BASE, profile=OutputProfile.DCAT_AP_NO)
    themed = ckan_like(1, themes=[EU + "data-theme/TRAN"])
    assert writer.dataset(themed).node is not None
    unthemed = writer.dataset(ckan_like(2))
    assert unthemed.node is None  # DCAT-AP-NO requires a theme: left out, and said why
    assert [f.severity.value for f in unthemed.findings] == ["error"]
    graph = graph_of(writer)
    node = URIRef(themed.uri)
    assert graph.value(node, DCTERMS.identifier) == Literal("1")
    publisher = graph.value(node, DCTERMS.publisher)
    assert isinstance(publisher, URIRef)
    assert publisher.startswith(BASE + "/agents/")  # minted: DCAT-AP-NO wants an IRI
    licences = set(graph.objects(None, DCTERMS.license))
    assert licences == {URIRef(EU + "licence/CC_BY_4_0")}  # the EU authority IRI; the unknown one left out
    assert graph.value(node, DCTERMS.modified) is None  # a bare year is no xsd:date or xsd:dateTime
    sizes = set(graph.objects(None, DCAT.byteSize))
    assert sizes == {Literal("1234", datatype=XSD.decimal)}
    assert errors(graph, shapes, ApVersion.DCAT_AP_NO_2_0) == []


def test_iris_are_repaired_or_the_distribution_left_out() -> None:
    assert iri("https://portal.example/data/my file.csv") == ox.NamedNode("https://portal.example/data/my%20file.csv")
    assert iri("not an iri") is None
    writer = DcatWriter(base_url=BASE)
    ds = ckan_like(
        distributions=[Distribution(access_url="not an iri"), Distribution(access_url="https://x.example/a b")]
    )
    writer.dataset(ds)
    graph = graph_of(writer)
    assert [str(graph.value(d, DCAT.accessURL)) for d in graph.objects(URIRef(ds.uri), DCAT.distribution)] == [
        "https://x.example/a%20b"
    ]


@pytest.mark.parametrize("syntax", list(SYNTAXES))
def test_a_stream_cut_into_pieces_is_the_same_graph(syntax: ox.RdfFormat) -> None:
    writer = DcatWriter(base_url=BASE)
    pieces = []
    for n in range(6):
        writer.dataset(ckan_like(n))
        pieces.append(writer.take())
    whole = b"".join(serialise([[t for piece in pieces for t in piece]], syntax))
    cut = b"".join(serialise([[], *pieces, []], syntax))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        one, many = (Graph().parse(data=d, format=SYNTAXES[syntax]) for d in (whole, cut))
    assert len(many) == len(one) == sum(map(len, pieces))
    ground = {t for t in one if not any(isinstance(x, BNode) for x in t)}
    assert ground == {t for t in many if not any(isinstance(x, BNode) for x in t)}
    if syntax == ox.RdfFormat.TURTLE:
        assert cut.count(b"@prefix dcat:") == 1


@pytest.mark.parametrize("syntax", list(SYNTAXES))
def test_an_empty_document_is_still_valid(syntax: ox.RdfFormat) -> None:
    data = b"".join(serialise([], syntax))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert len(Graph().parse(data=data, format=SYNTAXES[syntax])) == 0
