"""DCAT-AP validation with pyshacl and the official shapes, in selectable profiles, after normalisation.

Profiles, as the EU's SEMIC validator offers them, built from the split files of each release:

- ``base``: the mandatory constraints (``shapes.ttl``);
- ``recommended``: base + ``shapes_recommended.ttl`` (warnings);
- ``vocabularies``: base + ``mdr-vocabularies.shape.ttl`` (controlled vocabularies);
- ``full``: base + recommended + ``range.ttl`` (class ranges) + vocabularies + ``deprecateduris.ttl``.

DCAT-AP-NO 2.00 ships one file mixing mandatory, recommended and vocabulary constraints: ``base`` and
``recommended`` use it with its ``*_ShapeCV`` (vocabulary) shapes switched off, ``vocabularies`` and ``full`` use
all of it. HVD is DCAT-AP 3.0.1 of the same profile plus the HVD shapes, which target every ``dcat:Dataset``,
``dcat:Distribution`` and ``dcat:DataService`` of the graph: give it the HVD datasets only.

The official validator loads ontologies and EU code lists through ``owl:imports``. Offline, the vocabulary and
full profiles (and HVD) validate a copy of the data with a small graph mixed in instead (:func:`entailments`): the
subclass axioms of FOAF, vCard, DCAT and DCMI the shapes rely on; for each EU authority (or ADMS) IRI the data
uses, what its code list says (a ``skos:Concept`` ``skos:inScheme`` its scheme, with a label); and the rule that a
value from a list DCAT-AP designates for a property is of that property's range class (EU file types are
``dct:MediaTypeOrExtent``, IANA media types ``dct:MediaType``, EU languages ``dct:LinguisticSystem``, licences of
:mod:`schemas.licences` ``dct:LicenseDocument``, ELI IRIs ``eli:LegalResource``). Other values must be typed in
the data to meet a range shape. HVD's ``sh:class rdfs:Resource`` holds for every IRI under RDFS: it is stated for
the values it constrains instead of running RDFS inference, which no shape otherwise needs (``inference="none"``;
no shape uses SHACL-AF, so no ``advanced``). DCAT-AP 3.0.1 puts the date check of ``dcat:Dataset`` and
``dct:PeriodOfTime`` under ``sh:shape``, which is not SHACL: those dates are only checked on catalogues, records
and distributions (normalisation types them all the same).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import pyshacl
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.exceptions import ParserError
from rdflib.namespace import DCTERMS, RDF, RDFS, SH, SKOS
from rdflib.term import Node

from hub.errors import ConfigError
from schemas.dcat_normalise import (
    EU_AUTHORITY,
    IANA_IRI,
    Vocabularies,
    describe,
    load_vocabularies,
    normalise,
    qname,
    show,
)
from schemas.findings import Finding, Severity
from schemas.licences import canonical_licence


class Profile(StrEnum):
    BASE = "base"
    RECOMMENDED = "recommended"
    VOCABULARIES = "vocabularies"
    FULL = "full"


class ApVersion(StrEnum):
    DCAT_AP_3_0_1 = "dcat-ap-3.0.1"
    DCAT_AP_2_1_1 = "dcat-ap-2.1.1"
    DCAT_AP_NO_2_0 = "dcat-ap-no-2.0"
    HVD = "dcat-ap-hvd"


# Each release splits its shapes into the same layers; 2.1.1 prefixes the file names.
LAYER_FILES: Mapping[str, str] = {
    "shapes": "shapes.ttl",
    "recommended": "shapes_recommended.ttl",
    "range": "range.ttl",
    "vocabularies": "mdr-vocabularies.shape.ttl",
    "deprecated": "deprecateduris.ttl",
}
RELEASE_PREFIX: Mapping[ApVersion, str] = {
    ApVersion.DCAT_AP_3_0_1: "dcat-ap-3.0.1/",
    ApVersion.DCAT_AP_2_1_1: "dcat-ap-2.1.1/dcat-ap_2.1.1_shacl_",
    ApVersion.HVD: "dcat-ap-3.0.1/",  # HVD is DCAT-AP 3.0.1 plus its own shapes
}
PROFILE_LAYERS: Mapping[Profile, tuple[str, ...]] = {
    Profile.BASE: ("shapes",),
    Profile.RECOMMENDED: ("shapes", "recommended"),
    Profile.VOCABULARIES: ("shapes", "vocabularies"),
    Profile.FULL: ("shapes", "recommended", "range", "vocabularies", "deprecated"),
}
ELI = "http://data.europa.eu/eli/"  # an ELI IRI identifies an eli:LegalResource
NO_FILE = "dcat-ap-no/DCAT-AP-NO-shacl_shapes_2.00.ttl"
HVD_FILE = "dcat-ap-3.0.0-hvd/hvd-SHACL.ttl"
MQA_VOCABS = ("mqa", "vocabs")

# What the imported ontologies say that the shapes depend on (sh:class and sh:targetClass follow subclasses).
# dcat:Catalog and dcat:DatasetSeries ⊑ dcat:Dataset (DCAT 3) are left out on purpose: with them every Dataset
# shape, recommended and HVD ones included, would also judge the catalogue itself.
TBOX = """
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix org: <http://www.w3.org/ns/org#> .
foaf:Organization rdfs:subClassOf foaf:Agent . foaf:Person rdfs:subClassOf foaf:Agent .
foaf:Group rdfs:subClassOf foaf:Agent . org:Organization rdfs:subClassOf foaf:Agent .
vcard:Organization rdfs:subClassOf vcard:Kind . vcard:Individual rdfs:subClassOf vcard:Kind .
vcard:Group rdfs:subClassOf vcard:Kind . vcard:Location rdfs:subClassOf vcard:Kind .
dcat:Catalog rdfs:subClassOf dcat:Resource . dcat:Dataset rdfs:subClassOf dcat:Resource .
dcat:DataService rdfs:subClassOf dcat:Resource . dcat:DatasetSeries rdfs:subClassOf dcat:Resource .
dct:FileFormat rdfs:subClassOf dct:MediaType . dct:MediaType rdfs:subClassOf dct:MediaTypeOrExtent .
dct:SizeOrDuration rdfs:subClassOf dct:MediaTypeOrExtent . dct:LicenseDocument rdfs:subClassOf dct:RightsStatement .
"""
# The range class DCAT-AP gives the property each EU code list serves.
SCHEME_CLASSES: Mapping[str, URIRef] = {
    "file-type": DCTERMS.MediaTypeOrExtent,
    "language": DCTERMS.LinguisticSystem,
    "frequency": DCTERMS.Frequency,
    "access-right": DCTERMS.RightsStatement,
    "licence": DCTERMS.LicenseDocument,
    "country": DCTERMS.Location,
    "place": DCTERMS.Location,
    "continent": DCTERMS.Location,
}
ADMS_SCHEMES = (
    "http://purl.org/adms/licencetype/",
    "http://purl.org/adms/publishertype/",
    "http://purl.org/adms/status/",
)
SEVERITIES: Mapping[Node, Severity] = {
    SH.Violation: Severity.ERROR,
    SH.Warning: Severity.WARNING,
    SH.Info: Severity.INFO,
}

E = TypeVar("E", ApVersion, Profile)


def _coerce(kind: type[E], value: E | str) -> E:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise ConfigError(f"unknown DCAT-AP {kind.__name__} {value!r}; known: {known}") from None


@dataclass(frozen=True, slots=True)
class _Bundle:
    graph: Graph
    resource_paths: frozenset[URIRef]  # paths the shapes constrain with sh:class rdfs:Resource


class ShapesStore:
    """The shapes of each (version, profile) from ``root/dcat-ap/shacl``, each file parsed once and reused."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "dcat-ap" / "shacl"
        if not self.folder.is_dir():
            raise ConfigError(f"DCAT-AP shapes folder not found: {self.folder}")
        self._files: dict[str, Graph] = {}
        self._bundles: dict[tuple[ApVersion, Profile], _Bundle] = {}
        self._vocabularies: Vocabularies | None = None
        self._tbox: Graph | None = None
        self._lock = threading.RLock()

    def shapes(self, version: ApVersion, profile: Profile) -> Graph:
        """The shapes graph of ``version`` and ``profile`` (the same Graph object on every call)."""
        return self._bundle(version, profile).graph

    def _bundle(self, version: ApVersion | str, profile: Profile | str) -> _Bundle:
        key = (_coerce(ApVersion, version), _coerce(Profile, profile))
        with self._lock:
            if key not in self._bundles:
                graph = self._compose(*key)
                paths = {p for s in graph.subjects(SH["class"], RDFS.Resource) for p in graph.objects(s, SH.path)}
                self._bundles[key] = _Bundle(graph, frozenset(p for p in paths if isinstance(p, URIRef)))
            return self._bundles[key]

    def vocabularies(self) -> Vocabularies:
        """The MQA code lists under ``root/mqa/vocabs``, read once."""
        with self._lock:
            if self._vocabularies is None:
                self._vocabularies = load_vocabularies(self.root.joinpath(*MQA_VOCABS))
            return self._vocabularies

    def tbox(self) -> Graph:
        with self._lock:
            if self._tbox is None:
                self._tbox = Graph().parse(data=TBOX, format="turtle")
            return self._tbox

    def _compose(self, version: ApVersion, profile: Profile) -> Graph:
        graph = Graph()
        if version is ApVersion.DCAT_AP_NO_2_0:
            graph += self._file(NO_FILE)
            if profile in (Profile.BASE, Profile.RECOMMENDED):
                for shape in [s for s in graph.subjects(RDF.type, SH.NodeShape) if str(s).endswith("_ShapeCV")]:
                    graph.remove((shape, SH.targetClass, None))
            return graph
        for layer in PROFILE_LAYERS[profile]:
            graph += self._file(RELEASE_PREFIX[version] + LAYER_FILES[layer])
        if version is ApVersion.HVD:
            graph += self._file(HVD_FILE)
        return graph

    def _file(self, name: str) -> Graph:
        if name not in self._files:
            path = self.folder / name
            if not path.is_file():
                raise ConfigError(f"DCAT-AP shapes file not found: {path}")
            try:
                self._files[name] = Graph().parse(path, format="turtle")
            except (ParserError, SyntaxError, ValueError) as exc:
                raise ConfigError(f"DCAT-AP shapes file {path} does not parse: {exc}") from exc
        return self._files[name]


@dataclass
class DcatReport:
    """The outcome of one validation: ``conforms`` is "no error finding" (warnings and infos do not fail it)."""

    conforms: bool
    findings: list[Finding]
    fixes: list[Finding]
    counts: dict[str, int]
    seconds: float  # the SHACL run alone (normalisation excluded)


def validate_dcat(
    data: Graph,
    *,
    shapes: ShapesStore,
    version: ApVersion = ApVersion.DCAT_AP_3_0_1,
    profile: Profile = Profile.BASE,
    normalise: bool = True,
) -> DcatReport:
    """Normalise ``data`` in place (unless told not to), then validate it against the shapes of the profile."""
    version, profile = _coerce(ApVersion, version), _coerce(Profile, profile)
    bundle = shapes._bundle(version, profile)
    eu_licences = version is ApVersion.DCAT_AP_NO_2_0  # DCAT-AP-NO takes licences from the EU authority table
    fixes = _normalise(data, vocabularies=shapes.vocabularies(), eu_licences=eu_licences) if normalise else []
    target = data
    if profile in (Profile.VOCABULARIES, Profile.FULL) or version is ApVersion.HVD:
        # pyshacl's ont_graph copies only RDFS/OWL axioms, not code-list facts: validate a copy with them mixed in.
        target = Graph()
        target += data
        target += entailments(data, shapes.tbox(), bundle.resource_paths, shapes.vocabularies())
    started = time.perf_counter()
    _, results, _ = pyshacl.validate(target, shacl_graph=bundle.graph, inference="none", advanced=False)
    seconds = time.perf_counter() - started
    assert isinstance(results, Graph)
    findings = sorted(_findings(results, bundle.graph, target), key=_order)
    counts = dict(Counter(f.rule for f in findings))
    conforms = not any(f.severity is Severity.ERROR for f in findings)
    return DcatReport(conforms=conforms, findings=findings, fixes=fixes, counts=counts, seconds=seconds)


_normalise = normalise  # validate_dcat's parameter shadows the function's name


def entailments(data: Graph, tbox: Graph, resource_paths: frozenset[URIRef], vocab: Vocabularies) -> Graph:
    """What the imported ontologies and code lists would add about ``data``'s terms (see the module docstring)."""
    extra = Graph()
    extra += tbox
    for path in resource_paths:
        for value in set(data.objects(None, path)):
            if not isinstance(value, Literal):
                extra.add((value, RDF.type, RDFS.Resource))
    for value in {o for o in data.objects() if isinstance(o, URIRef)}:
        if IANA_IRI.match(value):
            extra.add((value, RDF.type, DCTERMS.MediaType))
        elif canonical_licence(value) is not None:
            extra.add((value, RDF.type, DCTERMS.LicenseDocument))
        elif value.startswith(ELI) and not value.startswith(ELI + "ontology"):
            extra.add((value, RDF.type, URIRef(ELI + "ontology#LegalResource")))
        concept = _code_list(str(value), vocab)
        if concept is None:
            continue
        scheme, code, cls = concept
        extra.add((value, RDF.type, SKOS.Concept))
        extra.add((value, SKOS.inScheme, scheme))
        extra.add((value, SKOS.prefLabel, Literal(code)))
        extra.add((scheme, RDF.type, SKOS.ConceptScheme))
        extra.add((scheme, DCTERMS.title, Literal(str(scheme))))
        if cls is not None:
            extra.add((value, RDF.type, cls))
    return extra


def _code_list(iri: str, vocab: Vocabularies) -> tuple[URIRef, str, URIRef | None] | None:
    """(scheme, code, range class) of an EU authority or ADMS concept IRI, None for any other IRI."""
    for base in ADMS_SCHEMES:
        if iri.startswith(base) and "/" not in iri[len(base) :]:
            return URIRef(base + "1.0"), iri[len(base) :], None
    if not iri.startswith(EU_AUTHORITY):
        return None
    name, _, code = iri[len(EU_AUTHORITY) :].partition("/")
    if not code or "/" in code or code != code.upper():
        return None
    if name == "file-type" and vocab.file_types and code not in vocab.file_types:
        return None
    return URIRef(EU_AUTHORITY + name), code, SCHEME_CLASSES.get(name)


def _findings(results: Graph, shapes: Graph, data: Graph) -> list[Finding]:
    """One finding per top-level result (the sh:detail results under a sh:node failure are folded into it)."""
    findings = []
    for result in results.objects(None, SH.result):
        focus = results.value(result, SH.focusNode)
        path = _path(results, results.value(result, SH.resultPath))
        level = results.value(result, SH.resultSeverity)
        findings.append(
            Finding(
                rule="dcat." + _local(results.value(result, SH.sourceConstraintComponent)),
                severity=SEVERITIES.get(level, Severity.ERROR) if level is not None else Severity.ERROR,
                pointer=f"{describe(data, focus) if focus is not None else '?'} {path}".strip(),
                message=_message(results, result, shapes, data),
            )
        )
    return findings


def _path(results: Graph, path: Node | None) -> str:
    if path is None:
        return ""
    if isinstance(path, BNode):
        inverse = results.value(path, SH.inversePath)
        return f"^{qname(inverse)}" if inverse is not None else "(complex path)"
    return qname(path)


def _local(node: Node | None) -> str:
    text = str(node or "UnknownConstraintComponent")
    return text.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _message(results: Graph, result: Node, shapes: Graph, data: Graph) -> str:
    """The shape's own sh:message when it has one, else a sentence naming the class, property and constraint."""
    source = results.value(result, SH.sourceShape)
    focus = results.value(result, SH.focusNode)
    value = results.value(result, SH.value)
    component = _local(results.value(result, SH.sourceConstraintComponent))
    what = (
        _text(shapes, source, SH.message)
        or _explain(component, shapes, source)
        or _text(results, result, SH.resultMessage)
        or component
    )
    classes = sorted(qname(c) for c in data.objects(focus, RDF.type)) if focus is not None else []
    where = " ".join([*classes[:1], _path(results, results.value(result, SH.resultPath))]).strip()
    shown = f" (value {show(value)})" if value is not None else ""
    return f"{where}: {what}{shown}" if where else f"{what}{shown}"


NODE_KINDS: Mapping[Node, str] = {
    SH.IRI: "an IRI",
    SH.BlankNode: "a blank node",
    SH.Literal: "a literal",
    SH.BlankNodeOrIRI: "an IRI or a blank node",
    SH.BlankNodeOrLiteral: "a blank node or a literal",
    SH.IRIOrLiteral: "an IRI or a literal",
}


def _explain(component: str, shapes: Graph, source: Node | None) -> str | None:
    """A sentence for the common constraint components, from the source shape's parameters."""
    if source is None:
        return None

    def param(name: str) -> str:
        found = shapes.value(source, SH[name])
        return str(found) if isinstance(found, Literal) else show(found) if found is not None else "?"

    if component == "NodeConstraintComponent":
        nodes = list(shapes.objects(source, SH.node))
        if len(nodes) == 1 and (message := _text(shapes, nodes[0], SH.message)):
            return message
        return "each value must conform to " + " and ".join(sorted(_shape_name(shapes, n) for n in nodes))
    if component == "NodeKindConstraintComponent":
        kind = shapes.value(source, SH.nodeKind)
        return f"each value must be {NODE_KINDS.get(kind, param('nodeKind')) if kind is not None else '?'}"
    templates = {
        "MinCountConstraintComponent": "needs at least {minCount} value(s)",
        "MaxCountConstraintComponent": "allows at most {maxCount} value(s)",
        "DatatypeConstraintComponent": "each value must be a literal of type {datatype}",
        "ClassConstraintComponent": "each value must be an instance of {class}",
        "HasValueConstraintComponent": "must include the value {hasValue}",
        "PatternConstraintComponent": "each value must match {pattern}",
        "QualifiedMinCountConstraintComponent": "needs at least {qualifiedMinCount} value(s) of the required kind",
    }
    template = templates.get(component)
    if template is None:
        return None
    return template.format_map({name: param(name) for name in re.findall(r"{(\w+)}", template)})


def _shape_name(shapes: Graph, shape: Node) -> str:
    """A node shape's label or local name ("File Type Restriction")."""
    return _text(shapes, shape, RDFS.label) or _local(shape)


def _text(graph: Graph, node: Node | None, prop: URIRef) -> str | None:
    """The English (else untagged, else any) literal of ``prop``."""
    texts = [o for o in graph.objects(node, prop) if isinstance(o, Literal)]
    for wanted in ("en", None):
        for text in texts:
            if text.language == wanted:
                return str(text)
    return str(texts[0]) if texts else None


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def _order(finding: Finding) -> tuple[int, str, str, str]:
    return (_RANK[finding.severity], finding.pointer, finding.rule, finding.message)
