"""SHACL time of a generated 1,000-dataset DCAT-AP 3.0.1 catalogue, per validation profile.

The catalogue is what a city portal serves after normalisation: each dataset with a contact point, a publisher,
keywords, a theme, a temporal extent and two distributions (CSV and GeoJSON) with licence, format and media type,
so the figures are those of a clean catalogue (a dirty one only adds results). The publisher is a city, not an
EU corporate body: the vocabulary profile warns once per dataset and catalogue about that. Shapes are parsed once
before timing, as the hub does. Printed: pyshacl's run alone, and the whole ``validate_dcat`` call (normalisation,
the copy with the code-list facts for the vocabulary and full profiles, reading the report), best of ``repeat``
runs on a fresh copy of the graph.

Run: ``.venv/bin/python -m bench.shacl`` (``NORDHUB_SHARED_DIR`` as for the tests).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, XSD

from schemas.dcat import ApVersion, Profile, ShapesStore, validate_dcat

DCAT = Namespace("http://www.w3.org/ns/dcat#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EU = "http://publications.europa.eu/resource/authority/"
IANA = "https://www.iana.org/assignments/media-types/"
NLOD = "http://data.norge.no/nlod/no/2.0"
DCATAP = Namespace("http://data.europa.eu/r5r/")
BASE = "https://hub.nordhub.eu/"
DATASETS = 1_000


def catalogue(datasets: int = DATASETS) -> Graph:
    """A DCAT-AP 3.0.1 catalogue of ``datasets`` datasets, two distributions each."""
    graph = Graph()
    cat, publisher = URIRef(BASE + "catalog"), URIRef(BASE + "org/oslo")
    graph.add((cat, RDF.type, DCAT.Catalog))
    graph.add((cat, DCTERMS.title, Literal("Nordhub", lang="en")))
    graph.add((cat, DCTERMS.description, Literal("Federated catalogue of Nordic cities", lang="en")))
    graph.add((cat, DCTERMS.publisher, publisher))
    homepage = URIRef("https://www.oslo.kommune.no/")
    for s, p, o in (
        (cat, DCTERMS.issued, Literal("2020-06-01", datatype=XSD.date)),
        (cat, DCTERMS.modified, Literal("2025-03-01", datatype=XSD.date)),
        (cat, DCTERMS.language, URIRef(EU + "language/NOB")),
        (cat, DCTERMS.license, URIRef(NLOD)),
        (cat, DCTERMS.spatial, URIRef(EU + "country/NOR")),
        (cat, FOAF.homepage, homepage),
        (homepage, RDF.type, FOAF.Document),
        (cat, DCAT.themeTaxonomy, URIRef(EU + "data-theme")),
        (publisher, RDF.type, FOAF.Agent),
        (publisher, FOAF.name, Literal("Oslo kommune", lang="nb")),
        (publisher, DCTERMS.type, URIRef("http://purl.org/adms/publishertype/LocalAuthority")),
    ):
        graph.add((s, p, o))
    for i in range(datasets):
        graph.add((cat, DCAT.dataset, add_dataset(graph, i, publisher)))
    return graph


def add_dataset(graph: Graph, i: int, publisher: URIRef) -> URIRef:
    ds = URIRef(f"{BASE}dataset/{i}")
    contact, period = BNode(), BNode()
    for p, o in (
        (RDF.type, DCAT.Dataset),
        (DCTERMS.title, Literal(f"Datasett {i}", lang="nb")),
        (DCTERMS.description, Literal(f"Beskrivelse av datasett {i}", lang="nb")),
        (DCTERMS.publisher, publisher),
        (DCTERMS.issued, Literal("2024-01-05", datatype=XSD.date)),
        (DCTERMS.modified, Literal("2025-03-01T10:00:00Z", datatype=XSD.dateTime)),
        (DCTERMS.language, URIRef(EU + "language/NOB")),
        (DCTERMS.spatial, URIRef(EU + "country/NOR")),
        (DCAT.theme, URIRef(EU + "data-theme/TRAN")),
        (DCAT.keyword, Literal("mobilitet", lang="nb")),
        (DCAT.contactPoint, contact),
        (DCTERMS.temporal, period),
    ):
        graph.add((ds, p, o))
    graph.add((contact, RDF.type, VCARD.Organization))
    graph.add((contact, VCARD.fn, Literal("Bymiljøetaten")))
    graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
    graph.add((period, DCAT.startDate, Literal("2020-01-01", datatype=XSD.date)))
    graph.add((period, DCAT.endDate, Literal("2030-12-31", datatype=XSD.date)))
    for fmt, media in (("CSV", "text/csv"), ("GEOJSON", "application/geo+json")):
        dist = URIRef(f"{ds}/{fmt.lower()}")
        graph.add((ds, DCAT.distribution, dist))
        for p, o in (
            (RDF.type, DCAT.Distribution),
            (DCAT.accessURL, URIRef(f"https://data.oslo.kommune.no/{i}.{fmt.lower()}")),
            (DCTERMS.format, URIRef(EU + "file-type/" + fmt)),
            (DCAT.mediaType, URIRef(IANA + media)),
            (DCTERMS.license, URIRef(NLOD)),
            (DCATAP.availability, URIRef(EU + "planned-availability/STABLE")),
            (DCTERMS.description, Literal(f"{fmt} export", lang="en")),
        ):
            graph.add((dist, p, o))
    return ds


def measure(store: ShapesStore, graph: Graph, profile: Profile, repeat: int) -> tuple[float, float, int, int]:
    """(best SHACL seconds, best validate_dcat seconds, errors, warnings) of ``profile`` on copies of ``graph``."""
    best, best_total, errors, warnings = float("inf"), float("inf"), 0, 0
    for _ in range(repeat):
        copy = Graph()
        copy += graph
        started = time.perf_counter()
        report = validate_dcat(copy, shapes=store, version=ApVersion.DCAT_AP_3_0_1, profile=profile)
        best_total = min(best_total, time.perf_counter() - started)
        best = min(best, report.seconds)
        errors = sum(1 for f in report.findings if f.severity == "error")
        warnings = sum(1 for f in report.findings if f.severity == "warning")
    return best, best_total, errors, warnings


def shared_data() -> Path:
    root = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("NORDHUB_SHARED_DIR", root.parent / "shared")) / "data"


def main(repeat: int = 3) -> None:
    """Print the SHACL time of a 1,000-dataset DCAT-AP 3.0.1 catalogue for each profile."""
    store = ShapesStore(shared_data())
    graph = catalogue()
    for profile in Profile:
        store.shapes(ApVersion.DCAT_AP_3_0_1, profile)
    print(f"SHACL, DCAT-AP 3.0.1, {DATASETS:,} datasets ({len(graph):,} triples), best of {repeat}:")
    for profile in Profile:
        seconds, total, errors, warnings = measure(store, graph, profile, repeat)
        print(
            f"  {profile.value:<13} {seconds:6.2f} s SHACL ({total:5.2f} s with normalisation, copy and report)"
            f"  {DATASETS / seconds:5.0f} datasets/s  errors {errors}, warnings {warnings}"
        )


if __name__ == "__main__":
    main()
