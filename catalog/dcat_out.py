"""DCAT-AP 3.0.1 (and DCAT-AP-NO 2.0) output: the catalogue's records as RDF triples built directly as pyoxigraph
terms, for pyoxigraph to serialise (rdflib's graph and serialisers are two orders of magnitude slower at this size).

One method of :class:`DcatWriter` per class: ``dataset``, ``distribution``, ``agent``, ``record`` (CatalogRecord),
``data_service`` and ``catalog``. Values leave normalised by the fixers of :mod:`schemas.dcat_normalise`: EU
file-type IRIs for dct:format, IANA IRIs for dcat:mediaType (each derived from the other when only one is given),
canonical licence URIs typed dct:LicenseDocument with their ADMS licence type (the EU authority IRI in DCAT-AP-NO),
EU language IRIs, typed dates, free text with its language tag. DCAT-AP has no licence on a dataset: a dataset's
licence goes onto its distributions that have none. HVD fields pass through and are repeated on distributions.

Missing mandatory fields: DCAT-AP 3.0.1 output never leaves a dataset out. A dataset without a title or description
(the harvest quarantines one without a title, so in practice the description) gets a clearly marked fallback text
(:data:`FALLBACK_TITLE`, :data:`FALLBACK_DESCRIPTION`); its CatalogRecord says in dct:description what the hub
supplied, and :func:`missing_mandatory` gives the same as findings for the JSON form. DCAT-AP-NO also requires
dct:identifier (the dataset's URI is used), an IRI publisher (one is minted from an agent's name) and dcat:theme: a
dataset without a theme cannot be expressed there and is left out of DCAT-AP-NO output, with a note.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox
from rdflib import Literal as RdfLiteral
from rdflib import URIRef

from catalog.model import Agent, Dataset, Distribution, LangMap
from schemas.dcat_normalise import (
    EU_FILE_TYPE,
    FORMAT_MEDIA,
    IANA,
    IANA_IRI,
    MEDIA_FORMAT,
    Context,
    Fixer,
    Vocabularies,
    format_fix,
    language_fix,
    licence_fix,
    media_type_fix,
    typed_date,
)
from schemas.findings import Finding, Severity
from schemas.licences import canonical_licence

_NAMESPACES = """dcat=http://www.w3.org/ns/dcat# dct=http://purl.org/dc/terms/ dcatap=http://data.europa.eu/r5r/
foaf=http://xmlns.com/foaf/0.1/ vcard=http://www.w3.org/2006/vcard/ns# adms=http://www.w3.org/ns/adms#
prov=http://www.w3.org/ns/prov# hydra=http://www.w3.org/ns/hydra/core# locn=http://www.w3.org/ns/locn#
gsp=http://www.opengis.net/ont/geosparql# skos=http://www.w3.org/2004/02/skos/core#
rdf=http://www.w3.org/1999/02/22-rdf-syntax-ns# rdfs=http://www.w3.org/2000/01/rdf-schema#
xsd=http://www.w3.org/2001/XMLSchema#"""
PREFIXES: dict[str, str] = dict(pair.split("=", 1) for pair in _NAMESPACES.split())
_TERMS = """rdf:type rdfs:label rdfs:comment rdfs:seeAlso skos:prefLabel prov:wasDerivedFrom adms:status dcat:Catalog
dcat:Dataset dcat:Distribution dcat:DataService dcat:CatalogRecord dcat:dataset dcat:service dcat:record
dcat:distribution dcat:accessURL dcat:downloadURL dcat:mediaType dcat:byteSize dcat:keyword dcat:theme dcat:bbox
dcat:themeTaxonomy dcat:landingPage dcat:contactPoint dcat:startDate dcat:endDate dcat:endpointURL dcat:centroid
dcat:endpointDescription dcat:servesDataset dcat:accessService dct:title dct:description dct:identifier dct:type
dct:publisher dct:license dct:rights dct:accessRights dct:issued dct:modified dct:language dct:spatial
dct:temporal dct:conformsTo dct:format dct:accrualPeriodicity dct:hasPart dct:isPartOf dct:source
dct:LicenseDocument dct:MediaTypeOrExtent dct:MediaType dct:RightsStatement dct:Standard vcard:Organization
dct:PeriodOfTime dct:Location dcatap:applicableLegislation dcatap:hvdCategory foaf:Agent foaf:name foaf:homepage
foaf:primaryTopic vcard:Kind vcard:fn vcard:hasEmail vcard:hasURL hydra:Collection hydra:PartialCollectionView
hydra:totalItems hydra:view hydra:first hydra:last hydra:next hydra:previous xsd:date xsd:dateTime
xsd:nonNegativeInteger xsd:decimal xsd:integer gsp:wktLiteral"""
T: dict[str, ox.NamedNode] = {c: ox.NamedNode(PREFIXES[c.split(":")[0]] + c.split(":", 1)[1]) for c in _TERMS.split()}

Subject = ox.NamedNode | ox.BlankNode
Node = ox.NamedNode | ox.BlankNode | ox.Literal
FALLBACK_TITLE = "[untitled: no title was given by the publisher] {id}"
FALLBACK_DESCRIPTION = "[no description was given by the publisher]"
DCAT_AP_3 = "http://data.europa.eu/r5r/"  # the IRI DCAT-AP 3 gives itself
DCAT_AP_NO = "https://data.norge.no/specification/dcat-ap-no"
NGSI_LD = "https://www.etsi.org/deliver/etsi_gs/CIM/001_099/009/01.08.01_60/gs_CIM009v010801p.pdf"
STANDARDS = {  # the titles of the standards the hub names in dct:conformsTo (DCAT-AP-NO wants one on each)
    DCAT_AP_3: "DCAT-AP 3.0.1",
    DCAT_AP_NO: "DCAT-AP-NO 2.0",
    NGSI_LD: "ETSI GS CIM 009: NGSI-LD API",
    "https://www.w3.org/TR/vocab-dcat-3/": "Data Catalog Vocabulary (DCAT) 3",
    "https://docs.ckan.org/en/latest/api/": "CKAN Action API",
    "https://docs.ckan.org/en/latest/maintaining/datastore.html": "CKAN DataStore API",
    "https://gbfs.org/specification/": "General Bikeshare Feed Specification (GBFS)",
}
CHANGE_TYPE = "http://purl.org/adms/changetype/"
LICENCE_TYPE = "http://purl.org/adms/licencetype/"
LICENCE_KINDS = {
    "CC0-1.0": ("PublicDomain",),
    "PDDL-1.0": ("PublicDomain",),
    "CC-BY-SA-4.0": ("Attribution", "ShareAlike"),
}
LICENCE_KINDS |= {"ODbL-1.0": ("Attribution", "ShareAlike")}  # every other known licence: Attribution
_URL = re.compile(r"^https?://\S+$")


class OutputProfile(StrEnum):
    DCAT_AP = "dcat-ap"  # DCAT-AP 3.0.1
    DCAT_AP_NO = "dcat-ap-no"  # DCAT-AP-NO 2.0, for Norwegian datasets


class ChangeType(StrEnum):
    """The ADMS change type of a catalogue record (adms:status)."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class SourceVisit:
    """One path a dataset arrived by, as a source record: ``uri`` is the IRI the hub gives it."""

    uri: str
    source_id: str
    first_seen: datetime
    last_seen: datetime
    title: str | None = None
    url: str | None = None  # the source's endpoint
    conforms_to: str | None = None  # the standard the source speaks (a key of STANDARDS)
    change: ChangeType = ChangeType.UPDATED


@dataclass(frozen=True, slots=True)
class CatalogRecord:
    """The hub's record of a dataset; ``sources`` latest first (the first is its dct:source)."""

    uri: str
    topic: str
    issued: datetime
    modified: datetime
    change: ChangeType
    sources: tuple[SourceVisit, ...] = ()
    findings: tuple[Finding, ...] = ()  # what the hub supplied: said in dct:description


@dataclass(frozen=True, slots=True)
class DataService:
    uri: str
    title: LangMap
    endpoint_url: str
    description: LangMap = field(default_factory=dict)
    endpoint_description: str | None = None
    serves: tuple[str, ...] = ()
    conforms_to: tuple[str, ...] = ()
    keywords: dict[str, list[str]] = field(default_factory=dict)
    themes: tuple[str, ...] = ()
    publisher: Agent | None = None
    licence: str | None = None
    identifier: str | None = None
    contact_point: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Catalog:
    """The hub's catalogue or a city's sub-catalogue (``parts``/``part_of`` link them)."""

    uri: str
    identifier: str
    title: LangMap
    description: LangMap
    publisher: Agent
    homepage: str | None = None
    languages: tuple[str, ...] = ()
    spatial: tuple[str, ...] = ()
    licence: str | None = None
    issued: datetime | None = None
    modified: datetime | None = None
    datasets: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    records: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    part_of: str | None = None
    theme_taxonomy: str = "http://publications.europa.eu/resource/authority/data-theme"


def iri(text: str | None) -> ox.NamedNode | None:
    """``text`` as an IRI (spaces and the like percent-encoded), or None when it cannot be one."""
    if not text:
        return None
    text = text.strip()
    try:
        return ox.NamedNode(text)
    except ValueError:
        try:
            return ox.NamedNode(quote(text, safe=":/?#[]@!$&'()*+,;=%~"))
        except ValueError:
            return None


def tagged(text: str, lang: str) -> ox.Literal:
    """A literal tagged ``lang`` (``""``: untagged; an invalid tag is dropped, not the text)."""
    if not lang:
        return ox.Literal(text)
    try:
        return ox.Literal(text, language=lang)
    except ValueError:
        return ox.Literal(text)


def date_time(moment: datetime) -> ox.Literal:
    """An aware datetime as an ``xsd:dateTime`` in UTC."""
    text = moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return ox.Literal(text, datatype=T["xsd:dateTime"])


class Normaliser:
    """Published values → vocabulary terms through :mod:`schemas.dcat_normalise`, each distinct text mapped once.

    A vocabulary term comes back as a NamedNode; a text no vocabulary knows as a ``str`` (a label), or None where
    the profile needs an IRI (DCAT-AP-NO).
    """

    def __init__(self, vocabularies: Vocabularies, *, norway: bool = False) -> None:
        self.norway = norway
        self._context = Context(vocabularies, eu_licences=norway)
        self._memo: dict[tuple[str, str], Any] = {}

    def _fix(self, kind: str, fixer: Fixer, text: str) -> ox.NamedNode | str | None:
        key = (kind, text)
        if key not in self._memo:
            stripped = text.strip()
            node = URIRef(stripped) if _URL.match(stripped) else RdfLiteral(stripped)
            fix = fixer(node, self._context)
            value = node if fix is None else fix.value
            found = iri(str(value)) if isinstance(value, URIRef) else str(value)
            self._memo[key] = None if self.norway and isinstance(found, str) else (found or stripped)
        result: ox.NamedNode | str | None = self._memo[key]
        return result

    def format_and_media(self, fmt: str | None, media: str | None) -> tuple[Any, Any]:
        """(dct:format, dcat:mediaType), each derived from the other's vocabulary term when it is missing."""
        file_type = self._fix("format", format_fix, fmt) if fmt else None
        media_type = self._fix("media", media_type_fix, media) if media else None
        if file_type is None and isinstance(media_type, ox.NamedNode) and (found := IANA_IRI.match(media_type.value)):
            code = MEDIA_FORMAT.get(found["media"].lower())
            file_type = ox.NamedNode(EU_FILE_TYPE + code) if code else None
        if media_type is None and isinstance(file_type, ox.NamedNode) and file_type.value.startswith(EU_FILE_TYPE):
            mime = FORMAT_MEDIA.get(file_type.value[len(EU_FILE_TYPE) :])
            media_type = ox.NamedNode(IANA + mime) if mime else None
        return file_type, media_type

    def licence(self, text: str) -> tuple[ox.NamedNode | str, tuple[ox.NamedNode, ...]] | None:
        """The licence term and its ADMS licence types (none for a licence the hub does not know)."""
        term = self._fix("licence", licence_fix, text)
        if term is None:
            return None
        known = canonical_licence(text)
        kinds = LICENCE_KINDS.get(known.spdx, ("Attribution",)) if known else ()
        return term, tuple(ox.NamedNode(LICENCE_TYPE + kind) for kind in kinds)

    def language(self, text: str) -> ox.NamedNode | None:
        term = self._fix("language", language_fix, text)
        return term if isinstance(term, ox.NamedNode) else None

    def date(self, text: str) -> ox.Literal | None:
        """A typed date literal; DCAT-AP-NO takes only xsd:date and xsd:dateTime (a bare year is left out)."""
        key = ("date", text)
        if key not in self._memo:
            typed = typed_date(text)
            kind = str(typed.datatype) if typed is not None else ""
            keep = typed is not None and (not self.norway or kind.endswith(("#date", "#dateTime")))
            self._memo[key] = ox.Literal(str(typed), datatype=ox.NamedNode(kind)) if keep else None
        result: ox.Literal | None = self._memo[key]
        return result


def _present(values: LangMap) -> LangMap:
    return {lang: text for lang, text in values.items() if text.strip()}


def missing_mandatory(ds: Dataset, profile: OutputProfile = OutputProfile.DCAT_AP) -> list[Finding]:
    """The hub's findings on a dataset's mandatory fields in ``profile``: fallbacks supplied, or why it is left out."""
    found = []

    def note(path: str, message: str, severity: Severity = Severity.WARNING) -> None:
        rule = "dcat.output.missing-" + path.split(":")[1].lower()
        found.append(Finding(rule=rule, severity=severity, pointer=f"<{ds.uri}> {path}", message=message))

    if not _present(ds.title):
        note("dct:title", "no title: the output carries a marked fallback title")
    if not _present(ds.description):
        note("dct:description", "no description: the output carries a marked fallback text")
    if profile is OutputProfile.DCAT_AP_NO and not any(iri(t) for t in ds.themes):
        note("dcat:theme", "no theme, which DCAT-AP-NO requires: left out of DCAT-AP-NO output", Severity.ERROR)
    return found


@dataclass(frozen=True, slots=True)
class Emitted:
    """What writing one dataset did: its node (None: left out of this profile) and the hub's findings about it."""

    node: ox.NamedNode | None
    findings: tuple[Finding, ...] = ()


DQV = "http://www.w3.org/ns/dqv#"
DQV_HAS_MEASUREMENT = ox.NamedNode(DQV + "hasQualityMeasurement")
DQV_MEASUREMENT = ox.NamedNode(DQV + "QualityMeasurement")
DQV_METRIC = ox.NamedNode(DQV + "isMeasurementOf")
DQV_COMPUTED_ON = ox.NamedNode(DQV + "computedOn")
DQV_VALUE = ox.NamedNode(DQV + "value")
XSD_DOUBLE = ox.NamedNode("http://www.w3.org/2001/XMLSchema#double")
XSD_BOOLEAN = ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean")
Quality = Callable[[Dataset], Sequence[tuple[str, str, float | bool]]]


class DcatWriter:
    """Collects the triples of one document; ``take()`` hands over what was written so far (for streaming)."""

    def __init__(
        self,
        *,
        base_url: str,
        profile: OutputProfile = OutputProfile.DCAT_AP,
        vocabularies: Vocabularies | None = None,
        quality: Quality | None = None,
    ) -> None:
        self.quality = quality  # MQA measurements of a dataset, written as DQV quality measurements
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.norway = profile is OutputProfile.DCAT_AP_NO
        self.triples: list[ox.Triple] = []
        self.norm = Normaliser(vocabularies or Vocabularies(), norway=self.norway)
        self._described: set[str] = set()  # IRIs (licences, agents) already described in this document
        self._moments: dict[datetime, ox.Literal] = {}

    def take(self) -> list[ox.Triple]:
        """The triples written since the last call."""
        out, self.triples = self.triples, []
        return out

    def add(self, s: Subject, p: ox.NamedNode, o: Node) -> None:
        self.triples.append(ox.Triple(s, p, o))

    def text(self, s: Subject, p: ox.NamedNode, values: LangMap) -> None:
        for lang, text in values.items():
            if text.strip():
                self.triples.append(ox.Triple(s, p, tagged(text, lang)))

    def iris(self, s: Subject, p: ox.NamedNode, values: Iterable[str | None]) -> None:
        for value in values:
            node = iri(value)
            if node is not None:
                self.triples.append(ox.Triple(s, p, node))

    def _keywords(self, s: Subject, keywords: dict[str, list[str]]) -> None:
        keyword = T["dcat:keyword"]
        for lang, words in keywords.items():
            for word in words:
                if word.strip():
                    self.triples.append(ox.Triple(s, keyword, tagged(word, lang)))

    def _languages(self, s: Subject, languages: Iterable[str]) -> None:
        for language in languages:
            node = self.norm.language(language)
            if node is not None:
                self.add(s, T["dct:language"], node)

    def moment(self, when: datetime) -> ox.Literal:
        """``date_time(when)``, made once per distinct instant (harvests stamp many records alike)."""
        literal = self._moments.get(when)
        if literal is None:
            literal = self._moments[when] = date_time(when)
        return literal

    def once(self, key: str) -> bool:
        """True the first time ``key`` is described in this document."""
        fresh = key not in self._described
        self._described.add(key)
        return fresh

    def dataset(self, ds: Dataset) -> Emitted:
        """A dcat:Dataset with its distributions, publisher and contact point (see the module docstring)."""
        node = iri(ds.uri)
        findings = tuple(missing_mandatory(ds, self.profile))
        if node is None or any(f.severity is Severity.ERROR for f in findings):
            return Emitted(None, findings)
        self.add(node, T["rdf:type"], T["dcat:Dataset"])
        identifier = ds.identifier or (ds.uri if self.norway else None)
        self.text(node, T["dct:title"], _present(ds.title) or {"en": FALLBACK_TITLE.format(id=identifier or ds.uri)})
        self.text(node, T["dct:description"], _present(ds.description) or {"en": FALLBACK_DESCRIPTION})
        if identifier:
            self.add(node, T["dct:identifier"], ox.Literal(identifier))
        self._keywords(node, ds.keywords)
        self._languages(node, ds.languages)
        self._dates(node, ds.issued, ds.modified)
        for prop, values in (
            ("dcat:theme", ds.themes),
            ("dcat:landingPage", [ds.landing_page]),
            ("dct:accessRights", [ds.access_rights]),
            ("dct:accrualPeriodicity", [ds.extra.get("accrual_periodicity")]),
            ("dcatap:applicableLegislation", ds.applicable_legislation),
            ("dcatap:hvdCategory", ds.hvd_categories),
            ("dct:spatial", ds.spatial),
        ):
            self.iris(node, T[prop], values)
        self.standards(node, ds.conforms_to)
        self._temporal(node, ds.temporal)
        publisher = self.agent(ds.publisher) if ds.publisher is not None else None
        if publisher is not None:
            self.add(node, T["dct:publisher"], publisher)
        self._contact(node, ds.contact_point)
        for dist in ds.distributions:
            dist_node = self.distribution(dist, licence=ds.licence, legislation=ds.applicable_legislation)
            if dist_node is not None:
                self.add(node, T["dcat:distribution"], dist_node)
        if self.quality is not None:
            self._measurements(node, self.quality(ds))
        return Emitted(node, findings)

    def _measurements(self, node: Subject, measurements: Sequence[tuple[str, str, float | bool]]) -> None:
        """``dqv:hasQualityMeasurement`` nodes: metric, what it was computed on, value."""
        for metric, computed_on, value in measurements:
            measurement = ox.BlankNode()
            self.add(node, DQV_HAS_MEASUREMENT, measurement)
            self.add(measurement, T["rdf:type"], DQV_MEASUREMENT)
            self.add(measurement, DQV_METRIC, ox.NamedNode(metric))
            self.add(measurement, DQV_COMPUTED_ON, ox.NamedNode(computed_on))
            if isinstance(value, bool):
                literal = ox.Literal("true" if value else "false", datatype=XSD_BOOLEAN)
            else:
                literal = ox.Literal(repr(float(value)), datatype=XSD_DOUBLE)
            self.add(measurement, DQV_VALUE, literal)

    def _dates(self, node: Subject, issued: str | None, modified: str | None) -> None:
        for prop, text in ((T["dct:issued"], issued), (T["dct:modified"], modified)):
            literal = self.norm.date(text) if text else None
            if literal is not None:
                self.add(node, prop, literal)

    def _temporal(self, node: ox.NamedNode, temporal: tuple[str | None, str | None] | None) -> None:
        start, end = (self.norm.date(t) if t else None for t in temporal or (None, None))
        if start is None and end is None:
            return
        period = ox.BlankNode()
        self.add(node, T["dct:temporal"], period)
        self.add(period, T["rdf:type"], T["dct:PeriodOfTime"])
        if start is not None:
            self.add(period, T["dcat:startDate"], start)
        if end is not None:
            self.add(period, T["dcat:endDate"], end)

    def standards(self, node: Subject, values: Iterable[str | None]) -> None:
        """dct:conformsTo, each standard described once per document (a dct:Standard with a title)."""
        for value in values:
            standard = iri(value)
            if standard is None:
                continue
            self.add(node, T["dct:conformsTo"], standard)
            if self.once(standard.value):
                self.add(standard, T["rdf:type"], T["dct:Standard"])
                self.add(standard, T["dct:title"], ox.Literal(STANDARDS.get(standard.value, standard.value)))

    def _contact(self, node: Subject, contact: dict[str, str]) -> None:
        email = contact.get("email", "").strip()
        mailbox = iri(email if not email or email.startswith("mailto:") else "mailto:" + email)
        website = iri(contact.get("url"))
        if not (contact.get("fn") or mailbox or website):
            return
        card = ox.BlankNode()
        self.add(node, T["dcat:contactPoint"], card)
        self.add(card, T["rdf:type"], T["vcard:Kind"])
        self.add(card, T["rdf:type"], T["vcard:Organization"])
        if contact.get("fn"):
            self.add(card, T["vcard:fn"], ox.Literal(contact["fn"]))
        for prop, value in (("vcard:hasEmail", mailbox), ("vcard:hasURL", website)):
            if value is not None:
                self.add(card, T[prop], value)

    def distribution(
        self, dist: Distribution, *, licence: str | None = None, legislation: Iterable[str] = ()
    ) -> Subject | None:
        """A dcat:Distribution; None when its access URL (mandatory) is not an IRI."""
        access = iri(dist.access_url)
        if access is None:
            return None
        node: Subject = iri(dist.uri) or ox.BlankNode()
        self.add(node, T["rdf:type"], T["dcat:Distribution"])
        self.add(node, T["dcat:accessURL"], access)
        self.iris(node, T["dcat:downloadURL"], [dist.download_url])
        self.text(node, T["dct:title"], dist.title)
        self.text(node, T["dct:description"], dist.description)
        file_type, media_type = self.norm.format_and_media(dist.format, dist.media_type)
        if file_type is not None:
            self.add(node, T["dct:format"], self._term(file_type, T["dct:MediaTypeOrExtent"]))
        if media_type is not None:
            self.add(node, T["dcat:mediaType"], self._term(media_type, T["dct:MediaType"]))
        licence_node = self.licence(dist.licence or licence)
        if licence_node is not None:
            self.add(node, T["dct:license"], licence_node)
        if dist.rights:
            self.add(node, T["dct:rights"], self._term(iri(dist.rights) or dist.rights, T["dct:RightsStatement"]))
        if dist.byte_size is not None and dist.byte_size >= 0:
            kind = T["xsd:decimal"] if self.norway else T["xsd:nonNegativeInteger"]
            self.add(node, T["dcat:byteSize"], ox.Literal(str(dist.byte_size), datatype=kind))
        self._dates(node, dist.issued, dist.modified)
        self.iris(node, T["dcatap:applicableLegislation"], legislation)
        return node

    def _term(self, value: ox.NamedNode | str, cls: ox.NamedNode) -> Node:
        """A vocabulary IRI as it is; a text no vocabulary knows as a blank node of ``cls`` labelled with it."""
        if isinstance(value, ox.NamedNode):
            return value
        node = ox.BlankNode()
        self.add(node, T["rdf:type"], cls)
        self.add(node, T["rdfs:label"], ox.Literal(value))
        return node

    def licence(self, text: str | None) -> Node | None:
        """The licence node, described (dct:LicenseDocument and its ADMS licence types) once per document."""
        found = self.norm.licence(text) if text else None
        if found is None:
            return None
        term, kinds = found
        if isinstance(term, str):
            return self._term(term, T["dct:LicenseDocument"])
        if self.once(term.value):
            self.add(term, T["rdf:type"], T["dct:LicenseDocument"])
            for kind in kinds:
                self.add(term, T["dct:type"], kind)
        return term

    def agent(self, agent: Agent) -> Subject | None:
        """A foaf:Agent (described once per document when it has an IRI); None when it has no name."""
        name = _present(agent.name)
        if not name:
            return None
        node: Subject | None = iri(agent.uri)
        if node is None and self.norway:  # DCAT-AP-NO wants an IRI publisher: a stable one from the name
            digest = hashlib.sha256(repr(sorted(name.items())).encode()).hexdigest()[:16]
            node = ox.NamedNode(f"{self.base_url}/agents/{digest}")
        if node is not None and not self.once(node.value):
            return node
        node = node or ox.BlankNode()
        self.add(node, T["rdf:type"], T["foaf:Agent"])
        self.text(node, T["foaf:name"], name)
        self.iris(node, T["dct:type"], [agent.type])
        return node

    def record(self, rec: CatalogRecord) -> ox.NamedNode:
        """The hub's dcat:CatalogRecord of a dataset, and one source record per path it arrived by."""
        node, topic = ox.NamedNode(rec.uri), ox.NamedNode(rec.topic)
        self.add(node, T["rdf:type"], T["dcat:CatalogRecord"])
        self.add(node, T["foaf:primaryTopic"], topic)
        self.add(node, T["dct:issued"], self.moment(rec.issued))
        self.add(node, T["dct:modified"], self.moment(rec.modified))
        self.standards(node, [DCAT_AP_NO if self.norway else DCAT_AP_3])
        self.add(node, T["adms:status"], ox.NamedNode(CHANGE_TYPE + rec.change.value))
        if rec.findings:
            notes = "; ".join(f"{f.pointer.rsplit(' ', 1)[-1]}: {f.message}" for f in rec.findings)
            self.add(node, T["dct:description"], ox.Literal(f"Supplied by the hub: {notes}", language="en"))
        for position, visit in enumerate(rec.sources):
            source = ox.NamedNode(visit.uri)
            self.add(node, T["dct:source"] if position == 0 else T["prov:wasDerivedFrom"], source)
            self.add(source, T["rdf:type"], T["dcat:CatalogRecord"])
            self.add(source, T["foaf:primaryTopic"], topic)
            self.add(source, T["dct:identifier"], ox.Literal(visit.source_id))
            self.add(source, T["dct:issued"], self.moment(visit.first_seen))
            self.add(source, T["dct:modified"], self.moment(visit.last_seen))
            self.add(source, T["adms:status"], ox.NamedNode(CHANGE_TYPE + visit.change.value))
            self.standards(source, [visit.conforms_to])
            label = f"Harvested from {visit.title or visit.source_id}"
            self.add(source, T["dct:title"], ox.Literal(label, language="en"))
            self.iris(source, T["rdfs:seeAlso"], [visit.url])
        return node

    def data_service(self, service: DataService) -> ox.NamedNode:
        """A dcat:DataService: title, endpoint URL, the datasets it serves, the standard it follows."""
        node = ox.NamedNode(service.uri)
        self.add(node, T["rdf:type"], T["dcat:DataService"])
        self.text(node, T["dct:title"], service.title)
        self.text(node, T["dct:description"], service.description)
        self.add(node, T["dcat:endpointURL"], ox.NamedNode(service.endpoint_url))
        self.iris(node, T["dcat:endpointDescription"], [service.endpoint_description])
        self.iris(node, T["dcat:servesDataset"], service.serves)
        self.standards(node, service.conforms_to)
        self._contact(node, service.contact_point)
        self.iris(node, T["dcat:theme"], service.themes)
        self._keywords(node, service.keywords)
        if service.identifier:
            self.add(node, T["dct:identifier"], ox.Literal(service.identifier))
        for prop, value in (
            ("dct:license", self.licence(service.licence)),
            ("dct:publisher", self.agent(service.publisher) if service.publisher else None),
        ):
            if value is not None:
                self.add(node, T[prop], value)
        return node

    def catalog(self, cat: Catalog) -> ox.NamedNode:
        """A dcat:Catalog with its publisher, its datasets, services and records, and its parts."""
        node = ox.NamedNode(cat.uri)
        self.add(node, T["rdf:type"], T["dcat:Catalog"])
        self.add(node, T["dct:identifier"], ox.Literal(cat.identifier))
        self.text(node, T["dct:title"], cat.title)
        self.text(node, T["dct:description"], cat.description)
        self._languages(node, cat.languages)
        for prop, value in (
            ("dct:publisher", self.agent(cat.publisher)),
            ("dct:license", self.licence(cat.licence)),
            ("dct:issued", self.moment(cat.issued) if cat.issued else None),
            ("dct:modified", self.moment(cat.modified) if cat.modified else None),
        ):
            if value is not None:
                self.add(node, T[prop], value)
        for prop, values in (
            ("foaf:homepage", [cat.homepage]),
            ("dct:spatial", cat.spatial),
            ("dcat:themeTaxonomy", [cat.theme_taxonomy]),
            ("dcat:dataset", cat.datasets),
            ("dcat:service", cat.services),
            ("dcat:record", cat.records),
            ("dct:hasPart", cat.parts),
            ("dct:isPartOf", [cat.part_of]),
        ):
            self.iris(node, T[prop], values)
        return node
