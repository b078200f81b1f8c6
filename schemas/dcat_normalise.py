"""Normalisation of what real DCAT catalogues get wrong, before SHACL, with one INFO finding per fix.

- ``dct:format`` literals (``"CSV"``, ``".csv"``, ``"text/csv"``, ``"Shapefile"``) and IANA or misspelt EU IRIs →
  EU file-type IRIs; ``dcat:mediaType`` literals (``"text/csv"``, ``"CSV"``) → IANA media-type IRIs.
- Licence URL variants, CKAN ids and SPDX ids → the canonical licence URI (:mod:`schemas.licences`). An EU
  authority licence IRI is already canonical and stays.
- Language codes and names (``"da"``, ``"nb-NO"``, ``"dan"``, ``"Norsk"``) and ISO 639 IRIs → EU language IRIs.
- Untyped (or wrongly typed) dates on ``dct:issued``/``dct:modified``/``dcat:startDate``/``dcat:endDate`` →
  ``xsd:date``, ``xsd:dateTime``, ``xsd:gYear`` or ``xsd:gYearMonth``; ``31.12.2024`` is read day first.

A value that becomes an IRI is typed with the class DCAT-AP's range shapes require (``dct:MediaTypeOrExtent``,
``dct:MediaType``, ``dct:LicenseDocument``, ``dct:LinguisticSystem``). A literal that names nothing known is wrapped
in a blank node of that class carrying the text as ``rdfs:label``: the SHACL node-kind rule is then met, and the
vocabulary profile still reports it as outside the code list.

Only the values of DCAT resources are touched (the same ``dct:format "text/plain"`` on a Web Annotation body is
correct there). The vocabulary lists are the MQA lists of ``shared/data/mqa/vocabs``
(:func:`load_vocabularies`); without them, the built-in tables below cover the common formats.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD
from rdflib.term import Node

from hub.errors import ConfigError
from schemas.findings import Finding, Severity
from schemas.licences import canonical_licence

EU_AUTHORITY = "http://publications.europa.eu/resource/authority/"
EU_FILE_TYPE = EU_AUTHORITY + "file-type/"
EU_LANGUAGE = EU_AUTHORITY + "language/"
IANA = "https://www.iana.org/assignments/media-types/"
DCAT = Namespace("http://www.w3.org/ns/dcat#")  # DCAT 3: rdflib's closed DCAT namespace lacks DatasetSeries
DCATAP = Namespace("http://data.europa.eu/r5r/")
DCAT_CLASSES = frozenset(
    {DCAT.Catalog, DCAT.Dataset, DCAT.Distribution, DCAT.DataService, DCAT.DatasetSeries, DCAT.CatalogRecord}
)


def _table(text: str) -> dict[str, str]:
    """``KEY: name, name`` lines → {name: KEY}."""
    rows = (line.split(":", 1) for line in text.strip().splitlines())
    return {name.strip(): key.strip() for key, names in rows for name in names.split(",")}


# EU file-type code → IANA media type, for the formats city portals publish. Read both ways.
FORMAT_MEDIA: Mapping[str, str] = {
    code: media
    for media, code in _table("""
    CSV: text/csv
    TSV: text/tab-separated-values
    JSON: application/json
    GEOJSON: application/geo+json
    JSON_LD: application/ld+json
    XML: application/xml
    HTML: text/html
    TXT: text/plain
    PDF: application/pdf
    ZIP: application/zip
    GZIP: application/gzip
    XLSX: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
    XLS: application/vnd.ms-excel
    ODS: application/vnd.oasis.opendocument.spreadsheet
    DOCX: application/vnd.openxmlformats-officedocument.wordprocessingml.document
    DOC: application/msword
    RDF_XML: application/rdf+xml
    RDF_TURTLE: text/turtle
    RDF_N_TRIPLES: application/n-triples
    KML: application/vnd.google-earth.kml+xml
    KMZ: application/vnd.google-earth.kmz
    GML: application/gml+xml
    GPKG: application/geopackage+sqlite3
    PNG: image/png
    JPEG: image/jpeg
    TIFF: image/tiff
    SQL: application/sql
    """).items()
}
MEDIA_FORMAT: Mapping[str, str] = {
    **{media: code for code, media in FORMAT_MEDIA.items()},
    **_table("GEOJSON: application/vnd.geo+json\nXML: text/xml\nZIP: application/x-zip-compressed"),  # aliases
}
# Names and extensions seen in the wild → EU file-type code (a code itself, in any case, also matches).
FORMAT_ALIASES: Mapping[str, str] = _table("""
    XLSX: excel
    SHP: shp, shape, shapefile, esri shapefile
    GEOJSON: geo json
    JSON_LD: jsonld, json-ld
    RDF_XML: rdf/xml, rdf+xml
    RDF_TURTLE: ttl, turtle
    RDF_N_TRIPLES: nt, n-triples
    HTML: htm
    TXT: text
    JPEG: jpg
    TIFF: tif
    GZIP: gz
    NETCDF: nc, netcdf
    GPKG: geopackage
    WMS_SRVC: wms
    WFS_SRVC: wfs
    WMTS_SRVC: wmts
    WCS_SRVC: wcs
""")
# ISO 639-1/-2/-3 codes and names → EU language authority code.
LANGUAGES: Mapping[str, str] = _table("""
    DAN: da, dan, dansk, danish
    NOR: no, nor, norsk, norwegian
    NOB: nb, nob, bokmål, bokmal, norsk bokmål, norwegian bokmål
    NNO: nn, nno, nynorsk, norsk nynorsk, norwegian nynorsk
    SWE: sv, swe, svenska, swedish
    FIN: fi, fin, suomi, finnish
    ISL: is, isl, ice, íslenska, icelandic
    ENG: en, eng, english, engelsk
    DEU: de, deu, ger, german, deutsch
    FRA: fr, fra, fre, french
    SME: se, sme, davvisámegiella, northern sami
    FAO: fo, fao, føroyskt, faroese
    KAL: kl, kal, kalaallisut, greenlandic
    EST: et, est, eesti, estonian
    NLD: nl, nld, dut, dutch
    SPA: es, spa, spanish
    POL: pl, pol, polish
    LIT: lt, lit
    LAV: lv, lav
    RUS: ru, rus
    UKR: uk, ukr
""")
_LANGUAGE_IRI = re.compile(
    r"^https?://(id\.loc\.gov/vocabulary/iso639-[123]|lexvo\.org/id/iso639-[123]"
    r"|publications\.europa\.eu/resource/authority/language)/(?P<code>[A-Za-z]{2,3})/?$"
)
_EU_FILE_TYPE_IRI = re.compile(r"^https?://publications\.europa\.eu/resource/authority/file-type/(?P<code>[^/]+)/?$")
IANA_IRI = re.compile(r"^https?://www\.iana\.org/assignments/media-types/(?P<media>[^/]+/[^/]+?)/?$")
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True, slots=True)
class Vocabularies:
    """The code lists normalisation maps to: EU file-type codes and IANA media types (lower case → registered)."""

    file_types: frozenset[str] = frozenset()
    media_types: Mapping[str, str] = field(default_factory=dict)

    def file_type(self, code: str) -> str | None:
        code = code.upper()
        return code if code in self.file_types or code in FORMAT_MEDIA else None

    def media_type(self, text: str) -> str | None:
        """The registered spelling of a media type (parameters dropped), None when IANA has no such type."""
        key = text.split(";", 1)[0].strip().lower()
        return self.media_types.get(key) or next((m for m in FORMAT_MEDIA.values() if m == key), None)


def load_vocabularies(folder: Path) -> Vocabularies:
    """The MQA lists in ``folder`` (``file-types.csv``, ``media-types.csv``); ConfigError naming a missing file."""
    return Vocabularies(
        file_types=frozenset(row[1].upper() for row in _rows(folder / "file-types.csv") if len(row) > 1),
        media_types={row[1].lower(): row[1] for row in _rows(folder / "media-types.csv") if len(row) > 1 and row[1]},
    )


def _rows(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.reader(handle))
    except OSError as exc:
        raise ConfigError(f"vocabulary list {path} cannot be read: {exc.strerror or exc}") from exc


@dataclass(frozen=True, slots=True)
class Context:
    """What the fixers map to: the code lists, and which licence IRI is the target."""

    vocab: Vocabularies
    eu_licences: bool = False  # the EU authority IRI (DCAT-AP-NO requires it) rather than the licence's own URI


@dataclass(frozen=True, slots=True)
class Fix:
    kind: str
    value: Node  # the replacement; a Literal here means "wrap it in a blank node of ``cls``"
    cls: URIRef | None


Fixer = Callable[[Node, Context], Fix | None]


def format_fix(value: Node, context: Context) -> Fix | None:
    """A ``dct:format`` value → its EU file-type IRI (or a typed blank node when it names no known format)."""
    vocab = context.vocab
    if (iri := _url(value)) is not None:
        return format_fix(iri, context) or Fix("format", iri, DCTERMS.MediaTypeOrExtent)
    if isinstance(value, Literal):
        code = _format_code(str(value), vocab)
        if code is None:
            return Fix("format", value, DCTERMS.MediaTypeOrExtent)
        return Fix("format", URIRef(EU_FILE_TYPE + code), DCTERMS.MediaTypeOrExtent)
    text = str(value)
    eu = _EU_FILE_TYPE_IRI.match(text)
    iana = IANA_IRI.match(text)
    code = vocab.file_type(eu["code"]) if eu else (MEDIA_FORMAT.get(iana["media"].lower()) if iana else None)
    if code is None or text == EU_FILE_TYPE + code:
        return None
    return Fix("format", URIRef(EU_FILE_TYPE + code), DCTERMS.MediaTypeOrExtent)


def _url(value: Node) -> URIRef | None:
    """The IRI an http(s) URL written as a literal stands for."""
    text = str(value).strip()
    return URIRef(text) if isinstance(value, Literal) and _URL.match(text) else None


def _format_code(text: str, vocab: Vocabularies) -> str | None:
    key = " ".join(text.strip().lower().lstrip(".").split())
    if "/" in key:
        return MEDIA_FORMAT.get(key.split(";", 1)[0].strip())
    alias = FORMAT_ALIASES.get(key)
    if alias is not None:
        return alias
    return vocab.file_type(re.sub(r"[^0-9a-z]+", "_", key).strip("_"))


def media_type_fix(value: Node, context: Context) -> Fix | None:
    """A ``dcat:mediaType`` literal → its IANA IRI (a format name such as ``"CSV"`` is read as its media type)."""
    vocab = context.vocab
    if (iri := _url(value)) is not None:
        return Fix("media-type", iri, DCTERMS.MediaType)
    if not isinstance(value, Literal):
        return None
    text = str(value).strip()
    media = vocab.media_type(text) if "/" in text else None
    if media is None:
        code = _format_code(text, vocab)
        media = FORMAT_MEDIA.get(code) if code else None
    if media is None:
        return Fix("media-type", value, DCTERMS.MediaType)
    return Fix("media-type", URIRef(IANA + media), DCTERMS.MediaType)


def licence_fix(value: Node, context: Context) -> Fix | None:
    """A licence id, URL variant or literal → the canonical licence URI, or its EU authority IRI if asked for."""
    text = str(value).strip()
    licence = canonical_licence(text)
    if licence is not None:
        target = licence.eu_uri if context.eu_licences else licence.uri
        accepted = (target,) if context.eu_licences else (licence.uri, licence.eu_uri)
        if isinstance(value, URIRef) and text in accepted:
            return None
        return Fix("licence", URIRef(target), DCTERMS.LicenseDocument)
    if not isinstance(value, Literal):
        return None
    return Fix("licence", _url(value) or value, DCTERMS.LicenseDocument)


def language_fix(value: Node, context: Context) -> Fix | None:
    """A language code or name, or an ISO 639 IRI → the EU language IRI."""
    if (iri := _url(value)) is not None:
        return language_fix(iri, context) or Fix("language", iri, DCTERMS.LinguisticSystem)
    if isinstance(value, Literal):
        text = " ".join(str(value).strip().lower().split())
        code = LANGUAGES.get(text) or LANGUAGES.get(re.split(r"[-_]", text, maxsplit=1)[0])
        if code is None:
            return Fix("language", value, DCTERMS.LinguisticSystem)
        return Fix("language", URIRef(EU_LANGUAGE + code), DCTERMS.LinguisticSystem)
    match = _LANGUAGE_IRI.match(str(value))
    code = LANGUAGES.get(match["code"].lower()) if match else None
    if code is None or str(value) == EU_LANGUAGE + code:
        return None
    return Fix("language", URIRef(EU_LANGUAGE + code), DCTERMS.LinguisticSystem)


_DATE_FORMS: tuple[tuple[re.Pattern[str], URIRef], ...] = (
    (re.compile(r"^-?\d{4}$"), XSD.gYear),
    (re.compile(r"^\d{4}-\d{2}$"), XSD.gYearMonth),
    (re.compile(r"^\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2})?$"), XSD.date),
    (re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"), XSD.dateTime),
)
_LOOSE_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def date_fix(value: Node, context: Context) -> Fix | None:
    """An untyped or mistyped date literal → the same instant typed ``xsd:date``/``dateTime``/``gYear(Month)``."""
    if not isinstance(value, Literal):
        return None
    typed = typed_date(str(value))
    if typed is None or (value.datatype == typed.datatype and str(value) == str(typed) and value.language is None):
        return None
    return Fix("date", typed, None)


def typed_date(text: str) -> Literal | None:
    """The XSD temporal literal a date text denotes, or None when it is not a valid date."""
    text = text.strip()
    loose = _LOOSE_DATETIME.match(text)
    if loose:
        zone = loose[5] or ""
        if zone and zone != "Z" and ":" not in zone:
            zone = zone[:3] + ":" + zone[3:]
        text = f"{loose[1]}T{loose[2]}{loose[3] or ':00'}{zone}"
    day_first = _DAY_FIRST.match(text)
    if day_first:
        text = f"{day_first[3]}-{int(day_first[2]):02d}-{int(day_first[1]):02d}"
    for pattern, datatype in _DATE_FORMS:
        if pattern.match(text) and _valid(text, datatype):
            return Literal(text, datatype=datatype, normalize=False)
    return None


def _valid(text: str, datatype: URIRef) -> bool:
    try:
        if datatype == XSD.date:
            date.fromisoformat(text[:10])
        elif datatype == XSD.dateTime:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        elif datatype == XSD.gYearMonth:
            date.fromisoformat(text + "-01")
    except ValueError:
        return False
    return True


# (property, the classes whose values are normalised (None: any subject), the fixer)
RULES: tuple[tuple[URIRef, frozenset[URIRef] | None, Fixer], ...] = (
    (DCTERMS.format, frozenset({DCAT.Distribution, DCAT.DataService}), format_fix),
    (DCAT.mediaType, frozenset({DCAT.Distribution}), media_type_fix),
    (DCTERMS.license, DCAT_CLASSES, licence_fix),
    (DCTERMS.language, DCAT_CLASSES, language_fix),
    (DCTERMS.issued, DCAT_CLASSES, date_fix),
    (DCTERMS.modified, DCAT_CLASSES, date_fix),
    (DCAT.startDate, None, date_fix),
    (DCAT.endDate, None, date_fix),
)


def normalise(graph: Graph, *, vocabularies: Vocabularies | None = None, eu_licences: bool = False) -> list[Finding]:
    """Fix ``graph`` in place; one INFO finding per changed value (rule ``dcat.normalise.<kind>``).

    Licences become their canonical URI (an EU authority licence IRI is left as it is), or with ``eu_licences``
    their EU authority IRI, which DCAT-AP-NO requires.
    """
    context = Context(vocabularies or Vocabularies(), eu_licences)
    members = dcat_members(graph)
    fixes: list[Finding] = []
    for prop, classes, fixer in RULES:
        subjects: set[Node] | None = None
        if classes is not None:
            subjects = {node for cls in classes for node in members[cls]}
        pending = [
            (s, o, fix)
            for s, o in sorted(graph.subject_objects(prop), key=lambda so: (str(so[0]), str(so[1])))
            if (subjects is None or s in subjects) and (fix := fixer(o, context)) is not None
        ]
        for subject, old, fix in pending:
            new = _apply(graph, subject, prop, old, fix)
            fixes.append(_finding(graph, subject, prop, old, new, fix))
    return fixes


def dcat_members(graph: Graph) -> dict[URIRef, set[Node]]:
    """The resources of each DCAT class: typed so, or (distributions, datasets) linked as such."""
    members: dict[URIRef, set[Node]] = {cls: set(graph.subjects(RDF.type, cls)) for cls in DCAT_CLASSES}
    members[DCAT.Distribution].update(graph.objects(None, DCAT.distribution))
    members[DCAT.Dataset].update(graph.objects(None, DCAT.dataset))
    return members


def _apply(graph: Graph, subject: Node, prop: URIRef, old: Node, fix: Fix) -> Node:
    graph.remove((subject, prop, old))
    new: Node = fix.value
    if isinstance(new, Literal) and fix.cls is not None:
        new = BNode()
        graph.add((new, RDFS.label, fix.value))
    graph.add((subject, prop, new))
    if fix.cls is not None and (new, RDF.type, fix.cls) not in graph:
        graph.add((new, RDF.type, fix.cls))
    return new


def _finding(graph: Graph, subject: Node, prop: URIRef, old: Node, new: Node, fix: Fix) -> Finding:
    if isinstance(new, BNode):
        shown = f"[ a {qname(fix.cls)} ; rdfs:label {old.n3()} ] (not in the vocabulary)"
        normalized = None
    else:
        shown = show(new)
        normalized = str(new)
    return Finding(
        rule=f"dcat.normalise.{fix.kind}",
        severity=Severity.INFO,
        pointer=f"{describe(graph, subject)} {qname(prop)}",
        message=f"{show(old)} → {shown}",
        normalized=normalized,
    )


PREFIXES: Mapping[str, str] = {
    "dcat": str(DCAT),
    "dct": str(DCTERMS),
    "dcatap": str(DCATAP),
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "adms": "http://www.w3.org/ns/adms#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "spdx": "http://spdx.org/rdf/terms#",
    "locn": "http://www.w3.org/ns/locn#",
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "time": "http://www.w3.org/2006/time#",
    "eli": "http://data.europa.eu/eli/ontology#",
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "sh": "http://www.w3.org/ns/shacl#",
}


def qname(node: Node | None) -> str:
    """A prefixed name for the vocabularies of DCAT-AP (``dct:title``), else the IRI in angle brackets."""
    if not isinstance(node, URIRef):
        return str(node)
    for prefix, namespace in PREFIXES.items():
        local = node.removeprefix(namespace)
        if local != node and re.fullmatch(r"[A-Za-z_][\w.-]*", local):
            return f"{prefix}:{local}"
    return f"<{node}>"


def show(node: Node) -> str:
    """A node as Turtle would write it, with the DCAT-AP prefixes."""
    if isinstance(node, Literal) and node.datatype is not None:
        return f'"{node}"^^{qname(node.datatype)}'
    return qname(node) if isinstance(node, URIRef) else node.n3()


def describe(graph: Graph, node: Node, depth: int = 3) -> str:
    """A readable name for a node: its IRI, or for a blank node the path from the IRI that holds it."""
    if not isinstance(node, BNode):
        return str(node)
    parents = _parents(graph, node)
    parent = next(parents, None)
    if parent is None or depth == 0:
        return f"_:{node}"
    return f"{describe(graph, parent[0], depth - 1)} {qname(parent[1])}/[]"


def _parents(graph: Graph, node: Node) -> Iterator[tuple[Node, URIRef]]:
    for subject, prop in sorted(graph.subject_predicates(node), key=lambda sp: (isinstance(sp[0], BNode), str(sp))):
        if isinstance(prop, URIRef):
            yield subject, prop
