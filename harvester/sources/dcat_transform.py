"""DCAT-AP graph → ``catalog.model.Dataset``: pure functions, no I/O.

Blank nodes are first skolemised from a hash of what they say (:func:`skolemise`), so the same document gives the
same IRIs on every harvest and in every syntax. Each dataset's ``content_hash`` is then the SHA-256 of the sorted
canonical N-Triples of its own sub-graph: the dataset node and everything reachable from it, stopping at other
datasets, catalogues and catalogue records (whose harvest dates change without the dataset changing).

Terms are canonical N-Triples strings (:mod:`harvester.rdf`); where a publisher gives several values for a
single-valued property, the smallest term wins, so every syntax of one catalogue gives the same dataset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from catalog.model import Agent, Dataset, Distribution, LangMap
from harvester.rdf import RDF_TYPE, Term, Triples, is_literal, language, value
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


def _terms(namespace: str, *names: str) -> tuple[Term, ...]:
    return tuple(f"<{namespace}{name}>" for name in names)


DATASET, DISTRIBUTION, CONTACT_POINT, KEYWORD, THEME, LANDING_PAGE, START_DATE, END_DATE = _terms(
    DCAT, "Dataset", "distribution", "contactPoint", "keyword", "theme", "landingPage", "startDate", "endDate"
)
ACCESS_URL, DOWNLOAD_URL, MEDIA_TYPE, BYTE_SIZE, BBOX, VERSION = _terms(
    DCAT, "accessURL", "downloadURL", "mediaType", "byteSize", "bbox", "version"
)
TITLE, DESCRIPTION, IDENTIFIER, PUBLISHER, LICENSE, ACCESS_RIGHTS, RIGHTS, ISSUED, MODIFIED = _terms(
    DCT, "title", "description", "identifier", "publisher", "license", "accessRights", "rights", "issued", "modified"
)
LANGUAGE, SPATIAL, TEMPORAL, CONFORMS_TO, FORMAT, TYPE, ACCRUAL_PERIODICITY = _terms(
    DCT, "language", "spatial", "temporal", "conformsTo", "format", "type", "accrualPeriodicity"
)
APPLICABLE_LEGISLATION, HVD_CATEGORY = _terms(DCATAP, "applicableLegislation", "hvdCategory")
FOAF_NAME, FOAF_PAGE = _terms(FOAF, "name", "page")
VCARD_FN, VCARD_ORG_NAME, VCARD_EMAIL, VCARD_URL, VCARD_URL_LOWER = _terms(
    VCARD, "fn", "hasOrganizationName", "hasEmail", "hasURL", "hasUrl"
)
SCHEMA_DATES = (
    *_terms("http://schema.org/", "startDate", "endDate"),
    *_terms("https://schema.org/", "startDate", "endDate"),
)
RDFS_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
SKOS_PREF_LABEL = "<http://www.w3.org/2004/02/skos/core#prefLabel>"
LOCN_GEOMETRY = "<http://www.w3.org/ns/locn#geometry>"
OWL_VERSION_INFO = "<http://www.w3.org/2002/07/owl#versionInfo>"

# Where a dataset's own description ends: a link to one of these is kept, its description is not.
BOUNDARY_TYPES = frozenset(
    (*_terms(DCAT, "Dataset", "DatasetSeries", "Catalog", "CatalogRecord"),
     *_terms(HYDRA, "Collection", "PartialCollectionView", "PagedCollection"))
)  # fmt: skip


# ------------------------------------------------------------------------------------------------ skolemisation


def skolemise(triples: Triples, base: str = SKOLEM_BASE) -> Triples:
    """The same triples with every blank node replaced by ``<base + hash>`` of its canonical description.

    A blank node's hash covers its outgoing triples, nested blank nodes by their own hash (a Merkle hash), so two
    parses of one document, or the same content in another syntax, give the same IRIs. Identical blank nodes
    merge, which leaves the graph's meaning unchanged. ValueError for blank nodes nested absurdly deep.
    """
    memo: dict[Term, str] = {}
    names: dict[Term, Term] = {}

    def name(t: Term) -> Term:
        if not t.startswith("_:"):
            return t
        named = names.get(t)
        if named is None:
            named = names[t] = f"<{base}{_blank_hash(triples, t, (), memo)[0]}>"
        return named

    out = Triples()
    for s, p, o in triples:
        out.add(name(s), p, name(o))
    return out


def _blank_hash(triples: Triples, node: Term, path: tuple[Term, ...], memo: dict[Term, str]) -> tuple[str, bool]:
    """(hash, whether it depended on the path): a blank node in a cycle is hashed from its own point of view."""
    if node in memo:
        return memo[node], False
    if len(path) > MAX_BLANK_DEPTH:
        raise ValueError(f"blank nodes nested more than {MAX_BLANK_DEPTH} deep")
    lines: list[str] = []
    cyclic = False
    for p, objects in triples.predicates(node).items():
        for o in objects:
            if not o.startswith("_:"):
                lines.append(f"{p} {o}")
            elif o in path or o == node:
                lines.append(f"{p} _:cycle")
                cyclic = True
            else:
                digest, nested_cyclic = _blank_hash(triples, o, (*path, node), memo)
                lines.append(f"{p} _:{digest}")
                cyclic = cyclic or nested_cyclic
    digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:32]
    if not cyclic:
        memo[node] = digest
    return digest, cyclic


def is_skolem(t: Term) -> bool:
    """A blank node, or the IRI it was skolemised to: it names nothing a publisher could cite."""
    return t.startswith("_:") or (t.startswith("<") and "/.well-known/genid/" in t)


def content_hash(triples: Triples, root: Term) -> str:
    """SHA-256 of the sorted canonical N-Triples of ``root``'s own sub-graph (see the module docstring)."""
    seen = {root}
    stack = [root]
    lines: list[str] = []
    while stack:
        node = stack.pop()
        for p, objects in triples.predicates(node).items():
            for o in objects:
                lines.append(f"{node} {p} {o} .")
                if p != RDF_TYPE and o not in seen and o in triples and BOUNDARY_TYPES.isdisjoint(_types(triples, o)):
                    seen.add(o)
                    stack.append(o)
    lines.sort()
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _types(triples: Triples, node: Term) -> Iterable[Term]:
    return triples.predicates(node).get(RDF_TYPE, ())


# ------------------------------------------------------------------------------------------------ reading values


def _first(triples: Triples, node: Term, p: Term) -> Term | None:
    objects = triples.predicates(node).get(p)
    return min(objects) if objects else None


def _text(triples: Triples, node: Term, p: Term) -> str | None:
    """The value (IRI or lexical form) of the first literal or IRI of ``p``, blank nodes aside."""
    found = min((o for o in triples.predicates(node).get(p, ()) if not is_skolem(o)), default=None)
    return None if found is None else value(found)


def _first_text(triples: Triples, node: Term, predicates: Iterable[Term]) -> str | None:
    return next(filter(None, (_text(triples, node, p) for p in predicates)), None)


def _texts(triples: Triples, node: Term, p: Term) -> list[str]:
    """Every IRI or literal value as a string; blank (skolemised) nodes stand for nothing citable."""
    return [value(o) for o in sorted(triples.predicates(node).get(p, ())) if not is_skolem(o)]


def lang_map(triples: Triples, node: Term, p: Term) -> LangMap:
    """Language (lower case; ``""`` untagged) → text, from the literal values of ``p``."""
    result: LangMap = {}
    for o in sorted(triples.predicates(node).get(p, ())):
        if is_literal(o):
            result.setdefault(language(o) or "", value(o))
    return result


def _label(triples: Triples, node: Term) -> str | None:
    """What a value stands for: its IRI or literal, or for a blank node its label, identifier or geometry."""
    if not is_skolem(node):
        return value(node)
    return _first_text(triples, node, (RDFS_LABEL, SKOS_PREF_LABEL, IDENTIFIER, LOCN_GEOMETRY, BBOX))


def _labels(triples: Triples, node: Term, p: Term) -> list[str]:
    labels = (_label(triples, o) for o in sorted(triples.predicates(node).get(p, ())))
    return [label for label in labels if label is not None]


def _label_of_first(triples: Triples, node: Term, p: Term) -> str | None:
    found = _first(triples, node, p)
    return None if found is None else _label(triples, found)


def _pointer(*steps: str) -> str:
    """A JSON pointer of IRIs: the dataset, then the property and the node a finding is about."""
    return "".join("/" + step.replace("~", "~0").replace("/", "~1") for step in steps)


# ------------------------------------------------------------------------------------------------ mapping


def dataset_records(triples: Triples, publisher: str | None = None) -> list[Record]:
    """One Record per dcat:Dataset of the (skolemised) graph, optionally only those of a publisher.

    ``publisher`` keeps the datasets whose dct:publisher IRI or name contains it (case-insensitive). A dataset
    without a title is returned with an error finding and no dataset: quarantined, never dropped.
    """
    nodes = sorted(triples.instances(DATASET))
    if publisher:
        nodes = [n for n in nodes if _published_by(triples, n, publisher.casefold())]
    return [dataset_record(triples, node) for node in nodes]


def _published_by(triples: Triples, node: Term, needle: str) -> bool:
    for agent in triples.predicates(node).get(PUBLISHER, ()):
        names = [value(agent), *lang_map(triples, agent, FOAF_NAME).values()]
        if any(needle in name.casefold() for name in names):
            return True
    return False


def dataset_record(triples: Triples, node: Term) -> Record:
    """The Record of one dataset node (an IRI term)."""
    uri = value(node)
    title = lang_map(triples, node, TITLE)
    if not title:
        finding = Finding("dcat.dataset-without-title", Severity.ERROR, _pointer(uri), "dcat:Dataset has no dct:title")
        return Record(record_id=uri, entity=None, findings=[finding])
    findings: list[Finding] = []
    candidates = (_distribution(triples, uri, d, findings) for d in sorted(triples.objects(node, DISTRIBUTION)))
    distributions = [d for d in candidates if d is not None]
    dataset = Dataset(
        uri=uri,
        title=title,
        description=lang_map(triples, node, DESCRIPTION),
        identifier=_text(triples, node, IDENTIFIER),
        keywords=_keywords(triples, node),
        themes=_texts(triples, node, THEME),
        publisher=_agent(triples, _first(triples, node, PUBLISHER)),
        contact_point=_contact(triples, _first(triples, node, CONTACT_POINT)),
        licence=_label_of_first(triples, node, LICENSE) or next((d.licence for d in distributions if d.licence), None),
        access_rights=_label_of_first(triples, node, ACCESS_RIGHTS),
        issued=_text(triples, node, ISSUED),
        modified=_text(triples, node, MODIFIED),
        landing_page=_text(triples, node, LANDING_PAGE),
        languages=_labels(triples, node, LANGUAGE),
        spatial=_labels(triples, node, SPATIAL),
        temporal=_temporal(triples, node),
        conforms_to=_labels(triples, node, CONFORMS_TO),
        applicable_legislation=_texts(triples, node, APPLICABLE_LEGISLATION),
        hvd_categories=_texts(triples, node, HVD_CATEGORY),
        distributions=distributions,
        extra=_extra(triples, node),
        content_hash=content_hash(triples, node),
    )
    return Record(record_id=uri, entity=None, findings=findings, dataset=dataset)


def _keywords(triples: Triples, node: Term) -> dict[str, list[str]]:
    keywords: dict[str, list[str]] = {}
    for o in sorted(triples.predicates(node).get(KEYWORD, ())):
        if is_literal(o):
            keywords.setdefault(language(o) or "", []).append(value(o))
    return keywords


def _agent(triples: Triples, node: Term | None) -> Agent | None:
    if node is None:
        return None
    if is_literal(node):  # a publisher given by name only
        return Agent(name={language(node) or "": value(node)})
    name = lang_map(triples, node, FOAF_NAME) or lang_map(triples, node, SKOS_PREF_LABEL)
    return Agent(name=name, uri=None if is_skolem(node) else value(node), type=_text(triples, node, TYPE))


def _contact(triples: Triples, node: Term | None) -> dict[str, str]:
    if node is None or is_literal(node):
        return {}
    found = {
        "fn": _first_text(triples, node, (VCARD_FN, VCARD_ORG_NAME)),
        "email": (_text(triples, node, VCARD_EMAIL) or "").removeprefix("mailto:").strip() or None,
        "url": _first_text(triples, node, (VCARD_URL, VCARD_URL_LOWER)),  # both spellings are in the wild
    }
    return {key: text for key, text in found.items() if text}


def _temporal(triples: Triples, node: Term) -> tuple[str | None, str | None] | None:
    for period in sorted(triples.predicates(node).get(TEMPORAL, ())):
        start = _first_text(triples, period, (START_DATE, SCHEMA_DATES[0], SCHEMA_DATES[2]))
        end = _first_text(triples, period, (END_DATE, SCHEMA_DATES[1], SCHEMA_DATES[3]))
        if start or end:
            return start, end
    return None


def _distribution(triples: Triples, dataset_uri: str, node: Term, findings: list[Finding]) -> Distribution | None:
    access_url = _label_of_first(triples, node, ACCESS_URL)
    uri = None if is_skolem(node) else value(node)
    if not access_url:
        message = f"distribution {uri or '(blank node)'} has no dcat:accessURL and is left out"
        pointer = _pointer(dataset_uri, "dcat:distribution", value(node))
        findings.append(Finding("dcat.distribution-without-access-url", Severity.WARNING, pointer, message))
        return None
    byte_size = _text(triples, node, BYTE_SIZE)
    return Distribution(
        access_url=access_url,
        uri=uri,
        download_url=_label_of_first(triples, node, DOWNLOAD_URL),
        title=lang_map(triples, node, TITLE),
        description=lang_map(triples, node, DESCRIPTION),
        format=_label_of_first(triples, node, FORMAT),
        media_type=_label_of_first(triples, node, MEDIA_TYPE),
        licence=_label_of_first(triples, node, LICENSE),
        rights=_label_of_first(triples, node, RIGHTS),
        byte_size=int(byte_size) if byte_size and byte_size.strip().isdigit() else None,
        issued=_text(triples, node, ISSUED),
        modified=_text(triples, node, MODIFIED),
    )


_EXTRA = {
    "accrual_periodicity": ACCRUAL_PERIODICITY,
    "type": TYPE,
    "version": VERSION,
    "version_info": OWL_VERSION_INFO,
    "page": FOAF_PAGE,
}


def _extra(triples: Triples, node: Term) -> dict[str, object]:
    """A few more DCAT-AP properties worth keeping (JSON-serialisable): frequency, type, version, documentation."""
    extra: dict[str, object] = {}
    for key, p in _EXTRA.items():
        labels = _labels(triples, node, p)
        if labels:
            extra[key] = labels[0] if len(labels) == 1 else labels
    return extra
