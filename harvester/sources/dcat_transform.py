"""DCAT-AP graph → ``catalog.model.Dataset``: pure functions, no I/O.

Blank nodes are first skolemised from a hash of what they say (:func:`skolemise`), so the same document gives the
same IRIs on every harvest and in every syntax. Each dataset's ``content_hash`` is then the SHA-256 of the sorted
canonical N-Triples of its own sub-graph: the dataset node and everything reachable from it, stopping at other
datasets, catalogues and catalogue records (whose harvest dates change without the dataset changing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from rdflib import BNode, Literal, URIRef

from catalog.model import Agent, Dataset, Distribution, LangMap
from harvester.rdf import RDF_TYPE, Subject, Term, Triples, nt
from harvester.sources.base import Record
from schemas.findings import Finding, Severity

SKOLEM_BASE = "https://nordhub.eu/.well-known/genid/"
MAX_BLANK_DEPTH = 100

DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
VCARD = "http://www.w3.org/2006/vcard/ns#"
DCATAP = "http://data.europa.eu/r5r/"
HYDRA = "http://www.w3.org/ns/hydra/core#"
SCHEMA = ("http://schema.org/", "https://schema.org/")
LOCN_GEOMETRY = URIRef("http://www.w3.org/ns/locn#geometry")
RDFS_LABEL = URIRef("http://www.w3.org/2000/01/rdf-schema#label")
SKOS_PREF_LABEL = URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")

DATASET = URIRef(DCAT + "Dataset")
# Where a dataset's own description ends: a link to one of these is kept, its description is not.
BOUNDARY_TYPES = frozenset(
    URIRef(iri)
    for iri in (
        DCAT + "Dataset",
        DCAT + "DatasetSeries",
        DCAT + "Catalog",
        DCAT + "CatalogRecord",
        HYDRA + "Collection",
        HYDRA + "PartialCollectionView",
        HYDRA + "PagedCollection",
    )
)


def _p(namespace: str, name: str) -> URIRef:
    return URIRef(namespace + name)


# ------------------------------------------------------------------------------------------------ skolemisation


def skolemise(triples: Triples, base: str = SKOLEM_BASE) -> Triples:
    """The same triples with every blank node replaced by ``base`` + a hash of its canonical description.

    A blank node's hash covers its outgoing triples, nested blank nodes by their own hash (a Merkle hash), so two
    parses of one document, or the same content in another syntax, give the same IRIs. Identical blank nodes
    merge, which leaves the graph's meaning unchanged.
    """
    memo: dict[BNode, str] = {}
    names: dict[BNode, URIRef] = {}

    def name(term: Term) -> Term:
        if not isinstance(term, BNode):
            return term
        if term not in names:
            names[term] = URIRef(base + _blank_hash(triples, term, (), memo)[0])
        return names[term]

    out = Triples()
    for s, p, o in triples:
        subject = name(s)
        assert isinstance(subject, URIRef)
        out.add(subject, p, name(o))
    return out


def _blank_hash(triples: Triples, node: BNode, path: tuple[BNode, ...], memo: dict[BNode, str]) -> tuple[str, bool]:
    """(hash, whether it depended on the path): a blank node in a cycle is hashed from its own point of view."""
    if node in memo:
        return memo[node], False
    if len(path) > MAX_BLANK_DEPTH:
        raise ValueError(f"blank nodes nested more than {MAX_BLANK_DEPTH} deep")
    lines: list[str] = []
    cyclic = False
    for p, objects in triples.predicates(node).items():
        for o in objects:
            if not isinstance(o, BNode):
                lines.append(f"<{p}> {nt(o)}")
            elif o in path or o == node:
                lines.append(f"<{p}> _:cycle")
                cyclic = True
            else:
                digest, nested_cyclic = _blank_hash(triples, o, (*path, node), memo)
                lines.append(f"<{p}> _:{digest}")
                cyclic = cyclic or nested_cyclic
    digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:32]
    if not cyclic:
        memo[node] = digest
    return digest, cyclic


def is_skolem(term: Term) -> bool:
    return isinstance(term, BNode) or (isinstance(term, URIRef) and "/.well-known/genid/" in term)


def content_hash(triples: Triples, root: Subject) -> str:
    """SHA-256 of the sorted canonical N-Triples of ``root``'s own sub-graph (see the module docstring)."""
    seen: set[Term] = {root}
    stack: list[Term] = [root]
    lines: list[str] = []
    while stack:
        node = stack.pop()
        subject = nt(node)
        for p, objects in triples.predicates(node).items():
            predicate = f"<{p}>"
            for o in objects:
                lines.append(f"{subject} {predicate} {nt(o)} .")
                if p != RDF_TYPE and o not in seen and o in triples and not _is_boundary(triples, o):
                    seen.add(o)
                    stack.append(o)
    lines.sort()
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _is_boundary(triples: Triples, node: Term) -> bool:
    return not BOUNDARY_TYPES.isdisjoint(triples.predicates(node).get(RDF_TYPE, ()))


# ------------------------------------------------------------------------------------------------ reading values


def _sorted(terms: Iterable[Term]) -> list[Term]:
    return sorted(terms, key=nt)


def _first(triples: Triples, node: Term, p: URIRef) -> Term | None:
    """The smallest value (so every syntax picks the same one when a publisher gives several)."""
    objects = triples.predicates(node).get(p)
    return min(objects, key=nt) if objects else None


def _text(triples: Triples, node: Term, p: URIRef) -> str | None:
    value = _first(triples, node, p)
    return None if value is None or isinstance(value, BNode) else str(value)


def _texts(triples: Triples, node: Term, p: URIRef) -> list[str]:
    """Every IRI or literal value as a string; blank (skolemised) nodes stand for nothing citable."""
    return [str(o) for o in _sorted(triples.predicates(node).get(p, ())) if not is_skolem(o)]


def lang_map(triples: Triples, node: Term, p: URIRef) -> LangMap:
    """Language (lower case; ``""`` untagged) → text, from the literal values of ``p``."""
    result: LangMap = {}
    for o in _sorted(triples.predicates(node).get(p, ())):
        if isinstance(o, Literal):
            result.setdefault((o.language or "").lower(), str(o))
    return result


def _label(triples: Triples, node: Term) -> str | None:
    """What a value stands for: its IRI or literal, or for a blank node its label or rdf:value."""
    if not is_skolem(node):
        return str(node)
    for p in (RDFS_LABEL, SKOS_PREF_LABEL, _p(DCT, "identifier"), LOCN_GEOMETRY, _p(DCAT, "bbox")):
        text = _text(triples, node, p)
        if text is not None:
            return text
    return None


def _labels(triples: Triples, node: Term, p: URIRef) -> list[str]:
    labels = (_label(triples, o) for o in _sorted(triples.predicates(node).get(p, ())))
    return [label for label in labels if label is not None]


def _pointer(*iris: str) -> str:
    return "".join("/" + iri.replace("~", "~0").replace("/", "~1") for iri in iris)


# ------------------------------------------------------------------------------------------------ mapping


def dataset_records(triples: Triples, publisher: str | None = None) -> list[Record]:
    """One Record per dcat:Dataset of the (skolemised) graph, optionally only those of a publisher.

    ``publisher`` keeps the datasets whose dct:publisher IRI or name contains it (case-insensitive). A dataset
    without a title is returned with an error finding and no dataset: quarantined, never dropped.
    """
    nodes = sorted(triples.instances(DATASET), key=nt)
    if publisher:
        nodes = [n for n in nodes if _published_by(triples, n, publisher.casefold())]
    return [dataset_record(triples, node) for node in nodes]


def _published_by(triples: Triples, node: Term, needle: str) -> bool:
    for agent in triples.predicates(node).get(_p(DCT, "publisher"), ()):
        names = [str(agent), *lang_map(triples, agent, _p(FOAF, "name")).values()]
        if any(needle in name.casefold() for name in names):
            return True
    return False


def dataset_record(triples: Triples, node: Subject) -> Record:
    """The Record of one dataset node."""
    uri = str(node)
    title = lang_map(triples, node, _p(DCT, "title"))
    if not title:
        finding = Finding("dcat.dataset-without-title", Severity.ERROR, _pointer(uri), "dcat:Dataset has no dct:title")
        return Record(record_id=uri, entity=None, findings=[finding])
    findings: list[Finding] = []
    distributions = [
        d
        for d in (
            _distribution(triples, uri, o, findings) for o in _sorted(triples.objects(node, _p(DCAT, "distribution")))
        )
        if d is not None
    ]
    dataset = Dataset(
        uri=uri,
        title=title,
        description=lang_map(triples, node, _p(DCT, "description")),
        identifier=_text(triples, node, _p(DCT, "identifier")),
        keywords=_keywords(triples, node),
        themes=_texts(triples, node, _p(DCAT, "theme")),
        publisher=_agent(triples, _first(triples, node, _p(DCT, "publisher"))),
        contact_point=_contact(triples, _first(triples, node, _p(DCAT, "contactPoint"))),
        licence=_text(triples, node, _p(DCT, "license")) or next((d.licence for d in distributions if d.licence), None),
        access_rights=_label_of_first(triples, node, _p(DCT, "accessRights")),
        issued=_text(triples, node, _p(DCT, "issued")),
        modified=_text(triples, node, _p(DCT, "modified")),
        landing_page=_text(triples, node, _p(DCAT, "landingPage")),
        languages=_labels(triples, node, _p(DCT, "language")),
        spatial=_labels(triples, node, _p(DCT, "spatial")),
        temporal=_temporal(triples, node),
        conforms_to=_labels(triples, node, _p(DCT, "conformsTo")),
        applicable_legislation=_texts(triples, node, _p(DCATAP, "applicableLegislation")),
        hvd_categories=_texts(triples, node, _p(DCATAP, "hvdCategory")),
        distributions=distributions,
        extra=_extra(triples, node),
        content_hash=content_hash(triples, node),
    )
    return Record(record_id=uri, entity=None, findings=findings, dataset=dataset)


def _label_of_first(triples: Triples, node: Term, p: URIRef) -> str | None:
    value = _first(triples, node, p)
    return None if value is None else _label(triples, value)


def _keywords(triples: Triples, node: Term) -> dict[str, list[str]]:
    keywords: dict[str, list[str]] = {}
    for o in _sorted(triples.predicates(node).get(_p(DCAT, "keyword"), ())):
        if isinstance(o, Literal):
            keywords.setdefault((o.language or "").lower(), []).append(str(o))
    return keywords


def _agent(triples: Triples, node: Term | None) -> Agent | None:
    if node is None:
        return None
    if isinstance(node, Literal):  # a publisher given by name only
        return Agent(name={(node.language or "").lower(): str(node)})
    name = lang_map(triples, node, _p(FOAF, "name")) or lang_map(triples, node, SKOS_PREF_LABEL)
    return Agent(name=name, uri=None if is_skolem(node) else str(node), type=_text(triples, node, _p(DCT, "type")))


def _contact(triples: Triples, node: Term | None) -> dict[str, str]:
    if node is None or isinstance(node, Literal):
        return {}
    contact: dict[str, str] = {}
    fn = next(filter(None, (_text(triples, node, _p(VCARD, n)) for n in ("fn", "hasOrganizationName"))), None)
    email = _text(triples, node, _p(VCARD, "hasEmail"))
    url = next(filter(None, (_text(triples, node, _p(VCARD, n)) for n in ("hasURL", "hasUrl"))), None)
    if fn:
        contact["fn"] = fn
    if email:
        contact["email"] = email.removeprefix("mailto:").strip()
    if url:
        contact["url"] = url
    return contact


def _temporal(triples: Triples, node: Term) -> tuple[str | None, str | None] | None:
    for period in _sorted(triples.predicates(node).get(_p(DCT, "temporal"), ())):
        start = _first_text(triples, period, [_p(DCAT, "startDate"), *(_p(ns, "startDate") for ns in SCHEMA)])
        end = _first_text(triples, period, [_p(DCAT, "endDate"), *(_p(ns, "endDate") for ns in SCHEMA)])
        if start or end:
            return start, end
    return None


def _first_text(triples: Triples, node: Term, predicates: list[URIRef]) -> str | None:
    return next(filter(None, (_text(triples, node, p) for p in predicates)), None)


def _distribution(triples: Triples, dataset_uri: str, node: Term, findings: list[Finding]) -> Distribution | None:
    access_url = _label_of_first(triples, node, _p(DCAT, "accessURL"))
    uri = None if is_skolem(node) else str(node)
    if not access_url:
        message = f"distribution {uri or '(blank node)'} has no dcat:accessURL and is left out"
        pointer = _pointer(dataset_uri, "dcat:distribution", str(node))
        findings.append(Finding("dcat.distribution-without-access-url", Severity.WARNING, pointer, message))
        return None
    byte_size = _text(triples, node, _p(DCAT, "byteSize"))
    return Distribution(
        access_url=access_url,
        uri=uri,
        download_url=_label_of_first(triples, node, _p(DCAT, "downloadURL")),
        title=lang_map(triples, node, _p(DCT, "title")),
        description=lang_map(triples, node, _p(DCT, "description")),
        format=_label_of_first(triples, node, _p(DCT, "format")),
        media_type=_label_of_first(triples, node, _p(DCAT, "mediaType")),
        licence=_label_of_first(triples, node, _p(DCT, "license")),
        rights=_label_of_first(triples, node, _p(DCT, "rights")),
        byte_size=int(float(byte_size)) if byte_size and _is_number(byte_size) else None,
        issued=_text(triples, node, _p(DCT, "issued")),
        modified=_text(triples, node, _p(DCT, "modified")),
    )


def _is_number(text: str) -> bool:
    try:
        return float(text) >= 0
    except ValueError:
        return False


_EXTRA = {
    "accrual_periodicity": _p(DCT, "accrualPeriodicity"),
    "type": _p(DCT, "type"),
    "version": _p(DCAT, "version"),
    "version_info": URIRef("http://www.w3.org/2002/07/owl#versionInfo"),
    "page": _p(FOAF, "page"),
}


def _extra(triples: Triples, node: Term) -> dict[str, object]:
    """A few more DCAT-AP properties worth keeping (JSON-serialisable): frequency, type, version, documentation."""
    extra: dict[str, object] = {}
    for key, p in _EXTRA.items():
        values = _labels(triples, node, p)
        if values:
            extra[key] = values[0] if len(values) == 1 else values
    return extra
