"""DCAT-AP validation against the official shapes of ../shared/data/dcat-ap/shacl, and normalisation before it."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from hub.errors import ConfigError
from schemas.dcat import ApVersion, Profile, ShapesStore, validate_dcat
from schemas.dcat_normalise import normalise
from schemas.findings import Finding, Severity

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
CITY = "https://city.example/"
CATALOG, DATASET, DIST = URIRef(CITY + "catalog"), URIRef(CITY + "dataset/1"), URIRef(CITY + "dataset/1/csv")
EU = "http://publications.europa.eu/resource/authority/"
HVD_LAW = URIRef("http://data.europa.eu/eli/reg_impl/2023/138/oj")
MOBILITY = URIRef("http://data.europa.eu/bna/c_b79e35eb")
MINIMAL = f"""
@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<{CATALOG}> a dcat:Catalog ; dct:title "Bysykkel"@nb ; dct:description "Oslo bysykkel"@nb ;
    dct:publisher <{CITY}org> ; dcat:dataset <{DATASET}> .
<{CITY}org> a foaf:Agent ; foaf:name "Oslo kommune"@nb .
<{DATASET}> a dcat:Dataset ; dct:title "Stasjoner"@nb ; dct:description "Bysykkelstasjoner"@nb ;
    dcat:distribution <{DIST}> .
<{DIST}> a dcat:Distribution ; dcat:accessURL <https://data.city.example/stations.csv> .
"""


@pytest.fixture(scope="module")
def store(shared_data: Path) -> ShapesStore:
    return ShapesStore(shared_data)


def minimal() -> Graph:
    """The smallest DCAT-AP 3.0.1 catalogue: every mandatory property, nothing else."""
    return Graph().parse(data=MINIMAL, format="turtle")


def dirty() -> Graph:
    """The minimal catalogue with what real portals get wrong: literals for IRIs, CKAN ids, untyped dates."""
    graph = minimal()
    for triple in (
        (DIST, DCTERMS.format, Literal("CSV")),
        (DIST, DCAT.mediaType, Literal("text/csv")),
        (DIST, DCTERMS.license, Literal("cc-by")),
        (DIST, DCTERMS.language, Literal("da")),
        (DIST, DCTERMS.issued, Literal("2024-01-05")),
        (CATALOG, DCTERMS.modified, Literal("2025-03-01 10:00")),
        (CATALOG, DCTERMS.language, Literal("nb")),
        (DATASET, DCTERMS.issued, Literal("05.01.2024")),
    ):
        graph.add(triple)
    return graph


def errors(findings: list[Finding]) -> list[tuple[str, str]]:
    """(rule, pointer) of the error findings, sorted."""
    return sorted((f.rule, f.pointer) for f in findings if f.severity is Severity.ERROR)


# --- the official examples and a minimal catalogue ---


@pytest.mark.parametrize("profile", list(Profile))
def test_dcat_ap_no_examples_conform_to_the_no_shapes(store: ShapesStore, shared_data: Path, profile: Profile) -> None:
    data = Graph().parse(shared_data / "dcat-ap/examples/dcat-ap-no__DCAT-AP-NO2.0-examples.ttl")
    report = validate_dcat(data, shapes=store, version=ApVersion.DCAT_AP_NO_2_0, profile=profile)
    assert report.conforms is True
    assert report.findings == []
    assert report.counts == {}
    # Its oa:TextualBody carries dct:format "text/plain" and dct:language "nb", correct there: left alone.
    assert report.fixes == []


@pytest.mark.parametrize("version", [ApVersion.DCAT_AP_3_0_1, ApVersion.DCAT_AP_2_1_1])
def test_minimal_catalogue_conforms_to_base(store: ShapesStore, version: ApVersion) -> None:
    report = validate_dcat(minimal(), shapes=store, version=version)
    assert (report.conforms, report.findings, report.fixes, report.counts) == (True, [], [], {})
    assert report.seconds > 0


def test_missing_title_is_one_error_naming_the_dataset_and_property(store: ShapesStore) -> None:
    data = minimal()
    data.remove((DATASET, DCTERMS.title, None))
    report = validate_dcat(data, shapes=store)
    assert report.conforms is False
    assert len(report.findings) == 1
    finding = report.findings[0]
    assert finding.severity is Severity.ERROR
    assert finding.rule == "dcat.MinCountConstraintComponent"
    assert finding.pointer == f"{DATASET} dct:title"
    assert finding.message == "dcat:Dataset dct:title: needs at least 1 value(s)"
    assert report.counts == {"dcat.MinCountConstraintComponent": 1}


def test_recommended_adds_warnings_but_no_errors(store: ShapesStore) -> None:
    report = validate_dcat(minimal(), shapes=store, profile=Profile.RECOMMENDED)
    assert report.conforms is True
    assert errors(report.findings) == []
    assert {f.severity for f in report.findings} == {Severity.WARNING}
    assert report.counts == {"dcat.MinCountConstraintComponent": 18}
    catalog = "themeTaxonomy issued language license modified spatial homepage"
    dataset = "contactPoint keyword theme publisher spatial temporal"
    distribution = "availability description format license"
    assert {f.pointer.rsplit(":", 1)[-1] for f in report.findings if f.pointer.startswith(f"{CATALOG} ")} == set(
        catalog.split()
    )
    assert {f.pointer.rsplit(":", 1)[-1] for f in report.findings if f.pointer.startswith(f"{DATASET} ")} == set(
        dataset.split()
    )
    assert {f.pointer.rsplit(":", 1)[-1] for f in report.findings if f.pointer.startswith(f"{DIST} ")} == set(
        distribution.split()
    )
    assert f"{CITY}org dct:type" in {f.pointer for f in report.findings}


def test_blank_nodes_are_named_by_the_path_that_holds_them(store: ShapesStore) -> None:
    data = minimal()
    period = BNode()
    data.add((DATASET, DCTERMS.temporal, period))
    data.add((period, RDF.type, DCTERMS.PeriodOfTime))
    data.add((period, DCAT.startDate, Literal("2020-01-01", datatype=XSD.date)))
    report = validate_dcat(data, shapes=store, profile=Profile.RECOMMENDED)
    end = [f for f in report.findings if f.pointer.endswith("dcat:endDate")]
    assert [(f.severity, f.pointer) for f in end] == [(Severity.WARNING, f"{DATASET} dct:temporal/[] dcat:endDate")]
    assert end[0].message == "dct:PeriodOfTime dcat:endDate: needs at least 1 value(s)"


# --- normalisation ---


def test_normalisation_turns_a_failing_catalogue_into_a_passing_one(store: ShapesStore) -> None:
    before = validate_dcat(dirty(), shapes=store, normalise=False)
    assert before.conforms is False
    assert before.fixes == []
    assert errors(before.findings) == [
        ("dcat.NodeConstraintComponent", f"{CATALOG} dct:modified"),
        ("dcat.NodeConstraintComponent", f"{DIST} dct:issued"),
        ("dcat.NodeKindConstraintComponent", f"{CATALOG} dct:language"),
        ("dcat.NodeKindConstraintComponent", f"{DIST} dcat:mediaType"),
        ("dcat.NodeKindConstraintComponent", f"{DIST} dct:format"),
        ("dcat.NodeKindConstraintComponent", f"{DIST} dct:language"),
        ("dcat.NodeKindConstraintComponent", f"{DIST} dct:license"),
    ]
    assert before.counts == {"dcat.NodeConstraintComponent": 2, "dcat.NodeKindConstraintComponent": 5}
    data = dirty()
    after = validate_dcat(data, shapes=store)
    assert (after.conforms, after.findings) == (True, [])
    assert sorted((f.rule, f.pointer, f.normalized) for f in after.fixes) == [
        ("dcat.normalise.date", f"{CATALOG} dct:modified", "2025-03-01T10:00:00"),
        ("dcat.normalise.date", f"{DATASET} dct:issued", "2024-01-05"),
        ("dcat.normalise.date", f"{DIST} dct:issued", "2024-01-05"),
        ("dcat.normalise.format", f"{DIST} dct:format", EU + "file-type/CSV"),
        ("dcat.normalise.language", f"{CATALOG} dct:language", EU + "language/NOB"),
        ("dcat.normalise.language", f"{DIST} dct:language", EU + "language/DAN"),
        ("dcat.normalise.licence", f"{DIST} dct:license", "http://creativecommons.org/licenses/by/4.0/"),
        (
            "dcat.normalise.media-type",
            f"{DIST} dcat:mediaType",
            "https://www.iana.org/assignments/media-types/text/csv",
        ),
    ]
    assert all(f.severity is Severity.INFO for f in after.fixes)
    assert {f.message for f in after.fixes if f.rule == "dcat.normalise.format"} == {
        '"CSV" → <' + EU + "file-type/CSV>"
    }
    # the graph was fixed in place, with the range classes on the new IRIs
    assert data.value(DIST, DCTERMS.format) == URIRef(EU + "file-type/CSV")
    assert (URIRef(EU + "file-type/CSV"), RDF.type, DCTERMS.MediaTypeOrExtent) in data
    assert (URIRef("http://creativecommons.org/licenses/by/4.0/"), RDF.type, DCTERMS.LicenseDocument) in data
    assert data.value(CATALOG, DCTERMS.modified) == Literal("2025-03-01T10:00:00", datatype=XSD.dateTime)
    assert normalise(data) == []  # idempotent


def test_normalised_values_are_in_the_controlled_vocabularies(store: ShapesStore) -> None:
    before = validate_dcat(dirty(), shapes=store, profile=Profile.VOCABULARIES, normalise=False)
    assert ("dcat.NodeConstraintComponent", f"{DIST} dct:format") in errors(before.findings)
    after = validate_dcat(dirty(), shapes=store, profile=Profile.VOCABULARIES)
    assert errors(after.findings) == []
    assert {f.pointer for f in after.findings} == {f"{CATALOG} dcat:themeTaxonomy", f"{CATALOG} dct:publisher"}


def test_full_profile_accepts_a_normalised_catalogue(store: ShapesStore) -> None:
    report = validate_dcat(dirty(), shapes=store, profile=Profile.FULL)
    assert errors(report.findings) == []
    # range.ttl: the licence is a dct:LicenseDocument now, and the recommended shapes ask for its dct:type
    assert ("dcat.MinCountConstraintComponent", "http://creativecommons.org/licenses/by/4.0/ dct:type") in {
        (f.rule, f.pointer) for f in report.findings if f.severity is Severity.WARNING
    }


def test_unknown_values_are_wrapped_and_still_flagged_by_the_vocabulary_profile(store: ShapesStore) -> None:
    data = minimal()
    data.add((DIST, DCTERMS.format, Literal("Shapefile (zipped, EUREF89)")))
    report = validate_dcat(data, shapes=store, profile=Profile.VOCABULARIES)
    [fix] = report.fixes
    assert (fix.rule, fix.pointer, fix.normalized) == ("dcat.normalise.format", f"{DIST} dct:format", None)
    assert fix.message == (
        '"Shapefile (zipped, EUREF89)" → [ a dct:MediaTypeOrExtent ; rdfs:label "Shapefile (zipped, EUREF89)" ]'
        " (not in the vocabulary)"
    )
    node = data.value(DIST, DCTERMS.format)
    assert isinstance(node, BNode)
    assert data.value(node, RDFS.label) == Literal("Shapefile (zipped, EUREF89)")
    assert errors(report.findings) == [
        ("dcat.NodeConstraintComponent", f"{DIST} dct:format"),
        ("dcat.NodeKindConstraintComponent", f"{DIST} dct:format"),
    ]
    assert validate_dcat(data, shapes=store).conforms is True  # base only asks for an IRI or a blank node


def distribution(prop: URIRef, value: Literal | URIRef) -> Graph:
    graph = Graph()
    graph.add((DIST, RDF.type, DCAT.Distribution))
    graph.add((DIST, prop, value))
    return graph


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("CSV", "CSV"),
        ("csv", "CSV"),
        (".csv", "CSV"),
        ("text/csv", "CSV"),
        ("text/csv; charset=utf-8", "CSV"),
        ("application/json", "JSON"),
        ("JSON", "JSON"),
        ("GeoJSON", "GEOJSON"),
        ("XLSX", "XLSX"),
        ("ZIP", "ZIP"),
        ("PDF", "PDF"),
        ("XML", "XML"),
        ("SHP", "SHP"),
        ("Esri Shapefile", "SHP"),
        ("JSON-LD", "JSON_LD"),
        ("DBF", "DBF"),  # in the MQA file-type list, not in the built-in table
    ],
)
def test_format_literals_become_eu_file_types(store: ShapesStore, text: str, code: str) -> None:
    graph = distribution(DCTERMS.format, Literal(text))
    [fix] = normalise(graph, vocabularies=store.vocabularies())
    assert graph.value(DIST, DCTERMS.format) == URIRef(EU + "file-type/" + code)
    assert fix.normalized == EU + "file-type/" + code


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (URIRef("https://www.iana.org/assignments/media-types/text/csv"), "CSV"),
        (URIRef("https://publications.europa.eu/resource/authority/file-type/csv"), "CSV"),
        (URIRef(EU + "file-type/CSV"), None),
    ],
)
def test_format_iris_are_made_canonical(store: ShapesStore, value: URIRef, code: str | None) -> None:
    graph = distribution(DCTERMS.format, value)
    fixes = normalise(graph, vocabularies=store.vocabularies())
    assert [f.normalized for f in fixes] == ([EU + "file-type/" + code] if code else [])


@pytest.mark.parametrize(
    ("prop", "url", "expected"),
    [
        (DCTERMS.format, EU + "file-type/CSV", EU + "file-type/CSV"),
        (DCTERMS.format, "https://www.iana.org/assignments/media-types/text/csv", EU + "file-type/CSV"),
        (DCAT.mediaType, "https://www.iana.org/assignments/media-types/text/csv", None),
        (DCTERMS.license, "https://example.org/our-licence", None),
        (
            DCTERMS.license,
            "https://creativecommons.org/licenses/by/4.0/deed.no",
            "http://creativecommons.org/licenses/by/4.0/",
        ),
        (DCTERMS.language, "http://id.loc.gov/vocabulary/iso639-1/nb", EU + "language/NOB"),
    ],
)
def test_urls_written_as_literals_become_iris(store: ShapesStore, prop: URIRef, url: str, expected: str | None) -> None:
    graph = distribution(prop, Literal(url))
    [fix] = normalise(graph, vocabularies=store.vocabularies())
    assert graph.value(DIST, prop) == URIRef(expected or url)
    assert fix.normalized == (expected or url)


@pytest.mark.parametrize(
    ("text", "media"),
    [
        ("text/csv", "text/csv"),
        ("TEXT/CSV", "text/csv"),
        ("CSV", "text/csv"),
        ("application/json; charset=utf-8", "application/json"),
        ("GeoJSON", "application/geo+json"),
        ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("application/vnd.apache.parquet", "application/vnd.apache.parquet"),  # from the MQA list
    ],
)
def test_media_type_literals_become_iana_iris(store: ShapesStore, text: str, media: str) -> None:
    graph = distribution(DCAT.mediaType, Literal(text))
    normalise(graph, vocabularies=store.vocabularies())
    iri = URIRef("https://www.iana.org/assignments/media-types/" + media)
    assert graph.value(DIST, DCAT.mediaType) == iri
    assert (iri, RDF.type, DCTERMS.MediaType) in graph


@pytest.mark.parametrize(
    ("value", "code"),
    [
        *((Literal(text), code) for text, code in [("da", "DAN"), ("dan", "DAN"), ("nb", "NOB"), ("nb-NO", "NOB")]),
        *((Literal(text), code) for text, code in [("no", "NOR"), ("nor", "NOR"), ("nn", "NNO"), ("sv", "SWE")]),
        *((Literal(text), code) for text, code in [("fi", "FIN"), ("is", "ISL"), ("en", "ENG"), ("Norsk", "NOR")]),
        (URIRef("http://id.loc.gov/vocabulary/iso639-1/da"), "DAN"),
        (URIRef("http://lexvo.org/id/iso639-3/swe"), "SWE"),
        (URIRef("https://publications.europa.eu/resource/authority/language/fin"), "FIN"),
    ],
)
def test_language_codes_become_eu_language_iris(value: Literal | URIRef, code: str) -> None:
    graph = distribution(DCTERMS.language, value)
    [fix] = normalise(graph)
    assert graph.value(DIST, DCTERMS.language) == URIRef(EU + "language/" + code)
    assert fix.rule == "dcat.normalise.language"


@pytest.mark.parametrize(
    ("text", "lexical", "datatype"),
    [
        ("2024-01-05", "2024-01-05", XSD.date),
        ("2024-01-05T10:00:00Z", "2024-01-05T10:00:00Z", XSD.dateTime),
        ("2024-01-05T10:00:00.123+01:00", "2024-01-05T10:00:00.123+01:00", XSD.dateTime),
        ("2024-01-05 10:00", "2024-01-05T10:00:00", XSD.dateTime),
        ("2024-01-05T10:00:00+0100", "2024-01-05T10:00:00+01:00", XSD.dateTime),
        ("2024", "2024", XSD.gYear),
        ("2024-03", "2024-03", XSD.gYearMonth),
        ("5.1.2024", "2024-01-05", XSD.date),
    ],
)
def test_untyped_dates_become_typed(text: str, lexical: str, datatype: URIRef) -> None:
    graph = distribution(DCTERMS.modified, Literal(text))
    [fix] = normalise(graph)
    value = graph.value(DIST, DCTERMS.modified)
    assert isinstance(value, Literal)
    assert (str(value), value.datatype) == (lexical, datatype)
    assert fix.normalized == lexical


@pytest.mark.parametrize(
    "value",
    [
        Literal("2024-13-01"),
        Literal("soon"),
        Literal("2024-01-05", datatype=XSD.date),
        Literal("2024-01-05T10:00:00Z", datatype=XSD.dateTime),
    ],
)
def test_invalid_or_correct_dates_are_left_alone(value: Literal) -> None:
    graph = distribution(DCTERMS.modified, value)
    assert normalise(graph) == []
    assert graph.value(DIST, DCTERMS.modified) == value


def test_licences_become_eu_authority_iris_for_dcat_ap_no(store: ShapesStore) -> None:
    graph = distribution(DCTERMS.license, URIRef("https://data.norge.no/nlod/no"))
    [fix] = normalise(graph, eu_licences=True)
    assert fix.normalized == EU + "licence/NLOD_2_0"
    graph = distribution(DCTERMS.license, URIRef(EU + "licence/NLOD_2_0"))
    assert normalise(graph) == []  # the EU IRI is canonical too


def test_values_of_non_dcat_resources_are_not_touched() -> None:
    graph = Graph()
    body = URIRef(CITY + "annotation/body")
    graph.add((body, DCTERMS.format, Literal("text/plain")))
    graph.add((body, DCTERMS.language, Literal("nb")))
    assert normalise(graph) == []
    assert graph.value(body, DCTERMS.format) == Literal("text/plain")


# --- High-Value Datasets ---


def hvd_dataset(category: bool) -> Graph:
    data = minimal()
    data.add((DATASET, DCATAP.applicableLegislation, HVD_LAW))
    data.add((DIST, DCATAP.applicableLegislation, HVD_LAW))
    if category:
        data.add((DATASET, DCATAP.hvdCategory, MOBILITY))
        data.add((MOBILITY, RDF.type, SKOS.Concept))
        data.add((MOBILITY, SKOS.prefLabel, Literal("Mobility", lang="en")))
    return data


def test_hvd_shapes_flag_a_dataset_claiming_the_regulation_without_category(store: ShapesStore) -> None:
    report = validate_dcat(hvd_dataset(category=False), shapes=store, version=ApVersion.HVD)
    assert errors(report.findings) == [("dcat.MinCountConstraintComponent", f"{DATASET} dcatap:hvdCategory")]
    assert report.findings[0].message == "dcat:Dataset dcatap:hvdCategory: needs at least 1 value(s)"
    assert validate_dcat(hvd_dataset(category=True), shapes=store, version=ApVersion.HVD).findings == []
    # DCAT-AP 3.0.1 alone does not ask for a category
    assert validate_dcat(hvd_dataset(category=False), shapes=store).findings == []


def test_hvd_shapes_ask_every_distribution_for_the_legislation(store: ShapesStore) -> None:
    data = hvd_dataset(category=True)
    data.remove((DIST, DCATAP.applicableLegislation, None))
    report = validate_dcat(data, shapes=store, version=ApVersion.HVD)
    assert errors(report.findings) == [("dcat.MinCountConstraintComponent", f"{DIST} dcatap:applicableLegislation")]


# --- the shapes store ---


@pytest.mark.parametrize("version", list(ApVersion))
@pytest.mark.parametrize("profile", list(Profile))
def test_each_profile_is_parsed_once(store: ShapesStore, version: ApVersion, profile: Profile) -> None:
    first = store.shapes(version, profile)
    assert store.shapes(version, profile) is first
    assert store.shapes(version.value, profile.value) is first  # type: ignore[arg-type]
    assert len(first) > 100


def test_profiles_add_their_layers(store: ShapesStore) -> None:
    sizes = {p: len(store.shapes(ApVersion.DCAT_AP_3_0_1, p)) for p in Profile}
    assert sizes[Profile.BASE] < sizes[Profile.RECOMMENDED] < sizes[Profile.FULL]
    assert sizes[Profile.BASE] < sizes[Profile.VOCABULARIES] < sizes[Profile.FULL]
    hvd = store.shapes(ApVersion.HVD, Profile.BASE)
    assert len(hvd) > sizes[Profile.BASE]
    sh_target = URIRef("http://www.w3.org/ns/shacl#targetClass")
    no_base = len(list(store.shapes(ApVersion.DCAT_AP_NO_2_0, Profile.BASE).triples((None, sh_target, None))))
    no_full = len(list(store.shapes(ApVersion.DCAT_AP_NO_2_0, Profile.FULL).triples((None, sh_target, None))))
    assert no_full - no_base == 7  # the *_ShapeCV shapes' targets (Dataset, DataService, Distribution, Catalog...)


def test_unknown_version_or_profile_is_a_config_error(store: ShapesStore) -> None:
    with pytest.raises(ConfigError, match=r"unknown DCAT-AP ApVersion 'dcat-ap-9'.*dcat-ap-3\.0\.1"):
        validate_dcat(minimal(), shapes=store, version="dcat-ap-9")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"unknown DCAT-AP Profile 'strict'; known: base, recommended"):
        store.shapes(ApVersion.DCAT_AP_3_0_1, "strict")  # type: ignore[arg-type]


def test_missing_shapes_folder_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"DCAT-AP shapes folder not found: {tmp_path}/dcat-ap/shacl"):
        ShapesStore(tmp_path)


def test_missing_shapes_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "dcat-ap" / "shacl").mkdir(parents=True)
    store = ShapesStore(tmp_path)
    with pytest.raises(ConfigError, match=r"shapes file not found: .*/dcat-ap-3\.0\.1/shapes\.ttl"):
        store.shapes(ApVersion.DCAT_AP_3_0_1, Profile.BASE)
    with pytest.raises(ConfigError, match=r"vocabulary list .*/mqa/vocabs/file-types\.csv cannot be read"):
        store.vocabularies()


def test_broken_shapes_file_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "dcat-ap" / "shacl" / "dcat-ap-3.0.1"
    folder.mkdir(parents=True)
    (folder / "shapes.ttl").write_text("this is not turtle .")
    with pytest.raises(ConfigError, match=r"shapes\.ttl does not parse"):
        ShapesStore(tmp_path).shapes(ApVersion.DCAT_AP_3_0_1, Profile.BASE)
