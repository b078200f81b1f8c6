"""Publishing the catalogue: which records make a page, the hub catalogue and its city sub-catalogues, Hydra paging,
and the streamed serialisation.

A catalogue page lists the hub-described NGSI-LD datasets (:mod:`catalog.own`) first, then the harvested datasets by
URI; ``changed_since`` keeps what the hub changed at or after that instant (a harvested dataset's CatalogRecord
dct:modified: when the hub last stored a changed description, as CKAN's ``modified_since`` filters on the record's
``metadata_modified``, not the publisher's date). Removed datasets are not listed. The hub catalogue
``dct:hasPart`` one sub-catalogue per city with data; each page is a ``hydra:PartialCollectionView``.

The SQL here only reads ``catalog_datasets`` and ``catalog_provenance`` (the page, its count and the cities): it
belongs in ``catalog.store`` and lives here until that module grows a filtered, counted listing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
import pyoxigraph as ox
from sqlalchemy import Connection, and_, func, select

from catalog.dcat_out import (
    PREFIXES,
    Catalog,
    CatalogRecord,
    ChangeType,
    DcatWriter,
    SourceVisit,
    T,
    iri,
    missing_mandatory,
)
from catalog.model import Agent, Dataset
from catalog.own import (
    COUNTRY_LANGUAGES,
    SOURCE_STANDARDS,
    OwnItem,
    city_agent,
    city_spatial,
    listed,
    own_item,
    sdm_schemas,
)
from catalog.store import dataset_from_dict
from catalog.tables import datasets as catalog_datasets
from catalog.tables import provenance
from hub.cities import City, Registry
from ngsi.catalog_view import TypeSummary
from schemas.findings import Finding, Severity

CHUNK = 200  # datasets per serialised piece of a streamed document
EU_COUNTRY = "http://publications.europa.eu/resource/authority/country/"
ISO3 = {"DK": "DNK", "NO": "NOR", "SE": "SWE", "FI": "FIN", "IS": "ISL"}


@dataclass(frozen=True, slots=True)
class Selection:
    """Which datasets a catalogue lists: one city's or all, changed since an instant or all."""

    city_id: str | None = None
    changed_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    """How many datasets a selection holds, when the first was listed and the last changed."""

    total: int = 0
    issued: datetime | None = None
    modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredDataset:
    """A harvested dataset as the catalogue publishes it: the description and the hub's record of it."""

    dataset: Dataset
    record: CatalogRecord


@dataclass
class CataloguePage:
    """Everything one page of a catalogue shows, read from the database; written by :func:`page_chunks`."""

    catalog: Catalog
    parts: list[Catalog]
    cities: list[City]  # whose locations the page describes
    own: list[OwnItem]
    stored: list[StoredDataset]
    number: int
    size: int
    total: int
    link: Callable[[int], str]  # the URL of page n

    @property
    def last(self) -> int:
        return max(1, math.ceil(self.total / self.size))


# --------------------------------------------------------------------------------------------- reading (SQL)


def _where(sel: Selection) -> Any:
    conditions: list[Any] = [catalog_datasets.c.removed.is_(False)]
    if sel.city_id is not None:
        conditions.append(catalog_datasets.c.city_id == sel.city_id)
    if sel.changed_since is not None:
        conditions.append(catalog_datasets.c.changed_at >= sel.changed_since)
    return and_(*conditions)


def stored_stats(conn: Connection, sel: Selection) -> Stats:
    """Count, first listing and last change of the harvested datasets a selection holds."""
    stmt = select(func.count(), func.min(catalog_datasets.c.first_seen), func.max(catalog_datasets.c.changed_at)).where(
        _where(sel)
    )
    total, issued, modified = conn.execute(stmt).one()
    return Stats(int(total), issued, modified)


def city_stats(conn: Connection) -> dict[str, Stats]:
    """Count, first listing and last change of the listed harvested datasets, per city."""
    stmt = (
        select(
            catalog_datasets.c.city_id,
            func.count(),
            func.min(catalog_datasets.c.first_seen),
            func.max(catalog_datasets.c.changed_at),
        )
        .where(catalog_datasets.c.removed.is_(False))
        .group_by(catalog_datasets.c.city_id)
    )
    return {city: Stats(int(n), first, last) for city, n, first, last in conn.execute(stmt).all()}


def stored_rows(conn: Connection, sel: Selection, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """One page of a selection by URI: the dataset rows, each with its provenance rows (latest first)."""
    columns = [c for c in catalog_datasets.c if c.name != "content_hash"]
    stmt = select(*columns).where(_where(sel)).order_by(catalog_datasets.c.uri).limit(limit).offset(offset)
    rows = [_plain(row) for row in conn.execute(stmt).mappings()]
    return _with_provenance(conn, rows)


def stored_row(conn: Connection, uri: str) -> dict[str, Any] | None:
    """One stored dataset by URI, removed ones too, with its provenance."""
    columns = [c for c in catalog_datasets.c if c.name != "content_hash"]
    row = conn.execute(select(*columns).where(catalog_datasets.c.uri == uri)).mappings().first()
    return None if row is None else _with_provenance(conn, [_plain(row)])[0]


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(key): value for key, value in row.items()}  # SQLAlchemy's quoted_name keys are no plain str


def _with_provenance(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_uri: dict[str, list[dict[str, Any]]] = {row["uri"]: [] for row in rows}
    uris = list(by_uri)
    for start in range(0, len(uris), 500):
        stmt = select(provenance).where(provenance.c.dataset_uri.in_(uris[start : start + 500]))
        for prov in conn.execute(stmt).mappings():
            by_uri[prov["dataset_uri"]].append(_plain(prov))
    for row in rows:
        row["provenance"] = sorted(by_uri[row["uri"]], key=lambda p: (p["removed"], -p["last_seen"].timestamp()))
    return rows


# ------------------------------------------------------------------------------------------------- records


def dataset_page(base_url: str, uri: str) -> str:
    """Where the hub serves a harvested dataset (``/datasets/{uri}``, the URI percent-encoded)."""
    return f"{base_url.rstrip('/')}/datasets/{quote(uri, safe='')}"


def stored_dataset(row: Mapping[str, Any], *, base_url: str, registry: Registry) -> StoredDataset:
    """A stored row as a Dataset with the hub's CatalogRecord of it (harvest sources and times)."""
    dataset = dataset_from_dict(orjson.loads(row["data"]))
    page = dataset_page(base_url, row["uri"])
    visits = [_visit(page, prov, registry) for prov in row["provenance"]]
    change = ChangeType.CREATED if row["changed_at"] == row["first_seen"] else ChangeType.UPDATED
    modified = row["changed_at"]
    if row["removed"]:
        change, modified = ChangeType.DELETED, row["removed_at"] or modified
    findings = tuple(f for f in missing_mandatory(dataset) if f.severity is not Severity.ERROR)
    record = CatalogRecord(
        uri=f"{page}#record",
        topic=row["uri"],
        issued=row["first_seen"],
        modified=modified,
        change=change,
        sources=tuple(visits),
        findings=findings,
    )
    return StoredDataset(dataset, record)


def _visit(page: str, prov: Mapping[str, Any], registry: Registry) -> SourceVisit:
    """One provenance row as a source record; a source since dropped from the registry still names itself."""
    title: str | None = None
    url: str | None = None
    standard: str | None = None
    try:
        source = registry.source(prov["source_id"])[1]
        title, url, standard = source.title, source.url, SOURCE_STANDARDS.get(source.kind)
    except KeyError:
        pass  # a source since dropped from the registry still names itself by its id
    change = ChangeType.CREATED if prov["first_seen"] == prov["last_seen"] else ChangeType.UPDATED
    return SourceVisit(
        uri=f"{page}#source-{prov['source_id']}",
        source_id=prov["source_id"],
        first_seen=prov["first_seen"],
        last_seen=prov["last_seen"],
        title=title,
        url=url,
        conforms_to=standard,
        change=ChangeType.DELETED if prov["removed"] else change,
    )


# ------------------------------------------------------------------------------------------------ catalogues


def hub_agent(base_url: str) -> Agent:
    return Agent(name={"en": "Nordhub"}, uri=f"{base_url.rstrip('/')}/catalog#publisher")


def hub_catalog(base_url: str, registry: Registry, *, parts: Sequence[str] = (), stats: Stats = Stats()) -> Catalog:
    """The federated catalogue of the hub; ``parts`` are its city sub-catalogues."""
    base = base_url.rstrip("/")
    countries = sorted({city.country for city in registry.cities})
    return Catalog(
        uri=f"{base}/catalog",
        identifier=f"{base}/catalog",
        title={"en": "Nordhub: federated open data of Nordic cities"},
        description={
            "en": "Every dataset the member cities of the Nordic smart-city network publish, harvested from their "
            "portals and feeds with the publishers' own URIs, and the hub's own NGSI-LD data."
        },
        publisher=hub_agent(base),
        homepage=f"{base}/",
        languages=(*dict.fromkeys(lang for c in countries for lang in COUNTRY_LANGUAGES.get(c, ())), "en"),
        spatial=tuple(EU_COUNTRY + ISO3[c] for c in countries if c in ISO3),
        issued=stats.issued,
        modified=stats.modified,
        parts=tuple(parts),
    )


def city_catalog(base_url: str, city: City, *, stats: Stats = Stats()) -> Catalog:
    """A city's sub-catalogue, part of the hub's."""
    base = base_url.rstrip("/")
    languages = COUNTRY_LANGUAGES.get(city.country, ())
    return Catalog(
        uri=f"{base}/catalog/{city.id}",
        identifier=f"{base}/catalog/{city.id}",
        title={"en": f"Open data of {city.name_en}", **({languages[0]: city.name} if languages else {})},
        description={"en": f"Datasets {city.name_en} publishes, harvested by Nordhub, and the hub's NGSI-LD data."},
        publisher=city_agent(base, city),
        languages=(*languages, "en"),
        spatial=tuple(city_spatial(base, city)),
        licence=city.licence,
        issued=stats.issued,
        modified=stats.modified,
        part_of=f"{base}/catalog",
    )


def _merge(stats: Stats, own: Sequence[TypeSummary]) -> Stats:
    """Stats of harvested datasets together with those of hub-described groups."""
    issued = [t for t in [stats.issued, *(s.first_created for s in own)] if t is not None]
    modified = [t for t in [stats.modified, *(s.last_modified for s in own)] if t is not None]
    return Stats(stats.total + len(own), min(issued, default=None), max(modified, default=None))


def read_page(
    conn: Connection,
    *,
    base_url: str,
    registry: Registry,
    city: City | None,
    sel: Selection,
    number: int,
    size: int,
    link: Callable[[int], str],
    contact: str | None = None,
) -> CataloguePage:
    """Page ``number`` (from 1) of ``size`` of the hub catalogue (``city`` None) or a city's."""
    every_group = listed(conn, registry=registry, base_url=base_url)
    groups = [g for g in every_group if city is None or g.tenant == city.id]
    if sel.changed_since is not None:
        groups = [g for g in groups if g.last_modified >= sel.changed_since]
    stats = _merge(stored_stats(conn, sel), groups)
    offset = (number - 1) * size
    schemas = sdm_schemas()
    own = [
        own_item(conn, g, registry=registry, base_url=base_url, schemas=schemas, contact=contact)
        for g in groups[offset:][:size]
    ]
    rows = stored_rows(conn, sel, limit=size - len(own), offset=max(0, offset - len(groups))) if len(own) < size else []
    stored = [stored_dataset(row, base_url=base_url, registry=registry) for row in rows]
    if city is not None:
        catalog = city_catalog(base_url, city, stats=stats)
        return CataloguePage(
            catalog, [hub_catalog(base_url, registry)], [city], own, stored, number, size, stats.total, link
        )
    cities, parts = _parts(conn, base_url, registry, every_group)
    catalog = hub_catalog(base_url, registry, parts=[p.uri for p in parts], stats=stats)
    return CataloguePage(catalog, parts, cities, own, stored, number, size, stats.total, link)


def _parts(
    conn: Connection, base_url: str, registry: Registry, groups: Sequence[TypeSummary]
) -> tuple[list[City], list[Catalog]]:
    """The cities with data and their sub-catalogues (each with its own first listing and last change)."""
    per_city = city_stats(conn)
    cities = [c for c in registry.cities if c.id in per_city or any(g.tenant == c.id for g in groups)]
    parts = [
        city_catalog(base_url, c, stats=_merge(per_city.get(c.id, Stats()), [g for g in groups if g.tenant == c.id]))
        for c in cities
    ]
    return cities, parts


# -------------------------------------------------------------------------------------------------- writing


def write_location(writer: DcatWriter, base_url: str, city: City) -> None:
    """The city's dct:Location: its name, bounding box and centroid (WKT, WGS84), once per document."""
    node = ox.NamedNode(city_spatial(base_url, city)[0])
    if not writer.once(node.value):
        return
    box = city.bbox
    polygon = (
        f"POLYGON(({box.min_lon} {box.min_lat},{box.max_lon} {box.min_lat},{box.max_lon} {box.max_lat},"
        f"{box.min_lon} {box.max_lat},{box.min_lon} {box.min_lat}))"
    )
    centre = f"POINT({(box.min_lon + box.max_lon) / 2:.5f} {(box.min_lat + box.max_lat) / 2:.5f})"
    writer.add(node, T["rdf:type"], T["dct:Location"])
    writer.add(node, T["skos:prefLabel"], ox.Literal(city.name_en, language="en"))
    writer.add(node, T["dcat:bbox"], ox.Literal(polygon, datatype=T["gsp:wktLiteral"]))
    writer.add(node, T["dcat:centroid"], ox.Literal(centre, datatype=T["gsp:wktLiteral"]))


def write_own(writer: DcatWriter, item: OwnItem, catalog: ox.NamedNode | None = None) -> list[str]:
    """A hub-described dataset with its data service and record, linked from ``catalog`` when given; the notes of a
    dataset the profile leaves out."""
    emitted = writer.dataset(item.dataset)
    if emitted.node is None:
        return _notes(emitted.findings)
    service = writer.data_service(item.service)
    record = writer.record(item.record)
    for dist in item.dataset.distributions:
        node = iri(dist.uri)
        if node is not None:
            writer.add(node, T["dcat:accessService"], service)
    if catalog is not None:
        for prop, value in (("dcat:dataset", emitted.node), ("dcat:service", service), ("dcat:record", record)):
            writer.add(catalog, T[prop], value)
    return []


def write_stored(writer: DcatWriter, item: StoredDataset, catalog: ox.NamedNode | None = None) -> list[str]:
    """A harvested dataset and its record, linked from ``catalog`` when given; the notes of a dataset left out."""
    emitted = writer.dataset(item.dataset)
    if emitted.node is None:
        return _notes(emitted.findings)
    record = writer.record(item.record)
    if catalog is not None:
        writer.add(catalog, T["dcat:dataset"], emitted.node)
        writer.add(catalog, T["dcat:record"], record)
    return []


def _notes(findings: Iterable[Finding]) -> list[str]:
    return [f"{f.pointer}: {f.message}" for f in findings if f.severity is Severity.ERROR]


def _write_view(writer: DcatWriter, page: CataloguePage, catalog: ox.NamedNode) -> ox.NamedNode:
    view = ox.NamedNode(page.link(page.number))
    writer.add(catalog, T["rdf:type"], T["hydra:Collection"])
    writer.add(catalog, T["hydra:totalItems"], ox.Literal(str(page.total), datatype=T["xsd:integer"]))
    writer.add(catalog, T["hydra:view"], view)
    writer.add(view, T["rdf:type"], T["hydra:PartialCollectionView"])
    writer.add(view, T["hydra:first"], ox.NamedNode(page.link(1)))
    writer.add(view, T["hydra:last"], ox.NamedNode(page.link(page.last)))
    if page.number < page.last:
        writer.add(view, T["hydra:next"], ox.NamedNode(page.link(page.number + 1)))
    if page.number > 1:
        writer.add(view, T["hydra:previous"], ox.NamedNode(page.link(page.number - 1)))
    return view


def page_chunks(page: CataloguePage, writer: DcatWriter) -> Iterator[list[ox.Triple]]:
    """The triples of a catalogue page, in pieces of at most :data:`CHUNK` datasets."""
    catalog = writer.catalog(page.catalog)
    view = _write_view(writer, page, catalog)
    for part in page.parts:
        writer.catalog(part)
    for city in page.cities:
        write_location(writer, writer.base_url, city)
    notes: list[str] = []
    for item in page.own:
        notes += write_own(writer, item, catalog)
    yield writer.take()
    for start in range(0, len(page.stored), CHUNK):
        for stored in page.stored[start : start + CHUNK]:
            notes += write_stored(writer, stored, catalog)
        yield writer.take()
    for note in notes:
        writer.add(
            view, T["rdfs:comment"], ox.Literal(f"Left out of this {writer.profile} page: {note}", language="en")
        )
    yield writer.take()


# --------------------------------------------------------------------------------------------- serialising


def serialise(chunks: Iterable[list[ox.Triple]], rdf_format: ox.RdfFormat) -> Iterator[bytes]:
    """One document from pieces of triples: each piece serialised by pyoxigraph, the pieces spliced together.

    Turtle repeats no prefix line; JSON-LD (expanded, one array) and RDF/XML (one ``rdf:RDF`` element) keep their
    single outer envelope; N-Triples pieces simply follow each other.
    """
    opened, seen = False, set[bytes]()
    for triples in chunks:
        if not triples:
            continue
        text = _serialised(triples, rdf_format)
        if rdf_format == ox.RdfFormat.JSON_LD:
            body = text.strip()[1:-1]
            yield (b"," if opened else b"[") + body
        elif rdf_format == ox.RdfFormat.RDF_XML:
            head_end = text.index(b">", text.index(b"<rdf:RDF")) + 1
            body = text[head_end : text.rindex(b"</rdf:RDF>")]
            yield body if opened else text[:head_end] + body
        elif rdf_format == ox.RdfFormat.TURTLE:
            lines = text.split(b"\n")
            count = next((i for i, line in enumerate(lines) if not line.startswith(b"@prefix ")), len(lines))
            fresh = [line for line in lines[:count] if line not in seen]
            seen.update(lines[:count])
            yield b"\n".join([*fresh, *lines[count:]])
        else:
            yield text
        opened = True
    yield from _close(rdf_format, opened)


def _close(rdf_format: ox.RdfFormat, opened: bool) -> Iterator[bytes]:
    if rdf_format == ox.RdfFormat.JSON_LD:
        yield b"]" if opened else b"[]"
    elif rdf_format == ox.RdfFormat.RDF_XML:
        yield b"</rdf:RDF>\n" if opened else _serialised([], rdf_format)


def _serialised(triples: list[ox.Triple], rdf_format: ox.RdfFormat) -> bytes:
    text = ox.serialize(triples, format=rdf_format, prefixes=PREFIXES)
    assert text is not None  # no output given: pyoxigraph returns the bytes
    return text
