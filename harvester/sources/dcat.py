"""The ``dcat`` source kind: a DCAT-AP catalogue in any RDF syntax, its Hydra pages followed, every dataset mapped.

Options (``cities.toml``): ``publisher`` keeps only the datasets whose dct:publisher IRI or name contains it (the
national Swedish dump holds every Swedish publisher); ``max_pages`` caps the Hydra pages followed (10,000).

The syntax of a page is what its first bytes say, then what its Content-Type says (servers often send
``text/plain`` or the wrong type). Turtle and N-Triples go through the fast parser of :mod:`harvester.rdf`, the rest
and what it cannot read through rdflib, with two guards: a JSON-LD ``@context`` is taken from a local mapping and
never fetched from the document's say-so, and literals keep their published form (rdflib would rewrite
``2020-03-12T11:52:16.122Z`` into ``…16.122000+00:00``).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urljoin

import anyio.to_thread
import orjson
import rdflib

from harvester.http import FetchResult, HttpClient
from harvester.rdf import Triples, Unsupported, is_blank, parse_turtle, value
from harvester.sources.base import HarvestBatch
from harvester.sources.dcat_transform import HYDRA, dataset_records, skolemise
from hub.cities import City, Source, SourceKind
from hub.errors import ConfigError, PayloadInvalid
from schemas.findings import Finding, Severity

JsonLdContexts = Mapping[str, Mapping[str, Any]]

DEFAULT_MAX_PAGES = 10_000
RDF_DOCUMENT = "rdf"
HYDRA_NEXT = f"<{HYDRA}next>"  # hydra:PartialCollectionView (Hydra Core today)
HYDRA_NEXT_PAGE = f"<{HYDRA}nextPage>"  # hydra:PagedCollection (the older draft, still served by CKAN)
RDF_ACCEPT = "text/turtle, application/rdf+xml;q=0.9, application/ld+json;q=0.9, application/n-triples;q=0.8, */*;q=0.1"

# Content-Type → rdflib format name; anything else (text/plain, application/octet-stream…) is left to sniffing.
MEDIA_TYPES: Mapping[str, str] = {
    **dict.fromkeys(("text/turtle", "application/x-turtle", "application/turtle"), "turtle"),
    **dict.fromkeys(("application/n-triples",), "nt"),
    **dict.fromkeys(("text/n3", "text/rdf+n3", "application/n3"), "n3"),
    **dict.fromkeys(("application/rdf+xml", "application/xml", "text/xml"), "xml"),
    **dict.fromkeys(("application/ld+json", "application/json"), "json-ld"),
}


# ------------------------------------------------------------------------------------------------ reading a page


def sniff_format(content: bytes) -> str | None:
    """The rdflib format the first bytes of a body announce, or None when they say nothing clear."""
    head = content[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()
    while head.startswith(b"#"):  # Turtle comments before the first statement
        head = head.partition(b"\n")[2].lstrip()
    if head.startswith(b"{") or (head.startswith(b"[") and head[1:].lstrip()[:1] in (b"{", b'"', b"")):
        return "json-ld"
    if head.startswith((b"<?xml", b"<!DOCTYPE", b"<!--")) or (_XML_TAG.match(head) and b"xmlns" in head):
        return "xml"
    return "turtle" if _TURTLE_START.match(head) else None


_XML_TAG = re.compile(rb"<[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?[\s>/]")
_TURTLE_START = re.compile(rb"(?:@prefix|@base|prefix\s|base\s|<[^>\s]*>\s|_:|\[)", re.IGNORECASE)


def candidate_formats(content_type: str, content: bytes) -> list[str]:
    """The formats to try, best first: what the bytes say, then what the Content-Type says, else Turtle."""
    declared = MEDIA_TYPES.get(content_type.split(";")[0].strip().lower())
    found = [f for f in (sniff_format(content), declared) if f is not None]
    return list(dict.fromkeys(found)) or ["turtle"]


def parse_rdf(content: bytes, *, url: str, content_type: str = "", contexts: JsonLdContexts | None = None) -> Triples:
    """Parse a fetched body; PayloadInvalid names the URL, every format tried and each parser's message.

    ``url`` is the base of relative IRIs. JSON-LD contexts are looked up in ``contexts`` (URL → context
    document) and never fetched: a context the mapping lacks makes the body invalid.
    """
    problems: list[str] = []
    for fmt in candidate_formats(content_type, content):
        try:
            return _parse_as(fmt, content, url, contexts or {})
        except _Refused as exc:
            raise PayloadInvalid(f"GET {url}: {exc}") from exc
        except Exception as exc:  # rdflib's parsers raise anything from SAXParseException to BadSyntax
            problems.append(f"as {fmt}: {type(exc).__name__}: {' '.join(str(exc).split())[:500]}")
    raise PayloadInvalid(f"GET {url}: not parseable RDF ({'; '.join(problems)})")


class _Refused(Exception):
    """The document asks for something the hub never does (fetching a remote JSON-LD context)."""


def _parse_as(fmt: str, content: bytes, url: str, contexts: JsonLdContexts) -> Triples:
    if fmt in ("turtle", "nt"):
        try:
            return parse_turtle(content.decode("utf-8").removeprefix("\ufeff"), url)
        except (Unsupported, UnicodeDecodeError):
            pass  # rdflib decides, and words the error if there is one
    data: bytes | str = content
    if fmt == "json-ld":
        data = orjson.dumps(_with_local_contexts(orjson.loads(content), url, contexts)).decode()
    graph = rdflib.Graph()
    with published_literals():
        graph.parse(data=data, format=fmt, publicID=url)
    if fmt in ("turtle", "nt", "n3"):  # rdflib only logs an IRI its grammar forbids: it is a syntax error
        bad = next((t for triple in graph for t in triple if isinstance(t, rdflib.URIRef) and _BAD_IRI.search(t)), None)
        if bad is not None:
            raise ValueError(f"invalid IRI <{bad}>: {_BAD_IRI.findall(bad)[0]!r} is not allowed in an IRI")
    return Triples.from_graph(graph)


_LITERALS_LOCK = threading.Lock()
_TERM_LOGGER = logging.getLogger("rdflib.term")


_BAD_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def _rdflib_noise(record: logging.LogRecord) -> bool:
    # rdflib logs a traceback for every ill-typed literal ("2020-1-1"^^xsd:date) and a warning for every odd IRI:
    # the publisher's data, reported by the catalogue or refused here, not errors of the hub.
    message = record.getMessage()
    return not (
        message.startswith("Failed to convert Literal lexical form") or "does not look like a valid URI" in message
    )


@contextmanager
def published_literals() -> Iterator[None]:
    """Keep literals as published while rdflib parses, without its noise (switches are process-wide: a lock)."""
    with _LITERALS_LOCK, warnings.catch_warnings():
        # rdflib's JSON-LD parser builds a ConjunctiveGraph, which rdflib itself has deprecated
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"rdflib\.")
        previous, rdflib.NORMALIZE_LITERALS = rdflib.NORMALIZE_LITERALS, False
        _TERM_LOGGER.addFilter(_rdflib_noise)
        try:
            yield
        finally:
            rdflib.NORMALIZE_LITERALS = previous
            _TERM_LOGGER.removeFilter(_rdflib_noise)


def _with_local_contexts(doc: Any, base: str, contexts: JsonLdContexts) -> Any:
    """The JSON-LD document with every ``@context`` reference replaced by the locally known document."""
    if isinstance(doc, list):
        return [_with_local_contexts(item, base, contexts) for item in doc]
    if not isinstance(doc, dict):
        return doc
    return {
        k: _context(v, base, contexts, frozenset()) if k == "@context" else _with_local_contexts(v, base, contexts)
        for k, v in doc.items()
    }


def _context(ctx: Any, base: str, contexts: JsonLdContexts, seen: frozenset[str]) -> Any:
    if isinstance(ctx, str):
        url = urljoin(base, ctx)
        if url not in contexts:
            raise _Refused(f"JSON-LD @context {url} is not one of the contexts known locally (never fetched)")
        if url in seen:
            raise _Refused(f"JSON-LD @context {url} includes itself")
        document = contexts[url]
        return _context(document.get("@context", document), base, contexts, seen | {url})
    if isinstance(ctx, list):
        resolved = [_context(item, base, contexts, seen) for item in ctx]
        return [c for item in resolved for c in (item if isinstance(item, list) else [item])]
    if not isinstance(ctx, dict):
        return ctx
    own = {
        k: {**v, "@context": _context(v["@context"], base, contexts, seen)}
        if isinstance(v, dict) and "@context" in v  # a scoped context
        else v
        for k, v in ctx.items()
        if k != "@import"
    }
    if "@import" not in ctx:
        return own
    imported = _context(ctx["@import"], base, contexts, seen)  # JSON-LD 1.1: its terms, overridden by ours
    return {**(imported if isinstance(imported, dict) else {}), **own}


def read_page(result: FetchResult, contexts: JsonLdContexts) -> Triples:
    """Parse one fetched page and skolemise its blank nodes (pure; PayloadInvalid when it is not RDF)."""
    triples = parse_rdf(result.content, url=result.url, content_type=result.content_type, contexts=contexts)
    try:
        return skolemise(triples)
    except ValueError as exc:
        raise PayloadInvalid(f"GET {result.url}: {exc}") from exc


# ------------------------------------------------------------------------------------------------ paging


@dataclass(frozen=True, slots=True)
class HydraPage:
    """One fetched page of a catalogue: its triples (blank nodes skolemised) and the next page it announces."""

    url: str
    result: FetchResult
    triples: Triples
    next_url: str | None


def next_page_url(triples: Triples, page_url: str) -> str | None:
    """The absolute URL of the next page a Hydra page announces, in either paging style, or None on the last one.

    When several nodes announce one, the view of this very page wins, then the smallest URL (so it is stable).
    """
    candidates: list[tuple[bool, str]] = []
    for subject in triples.subjects():
        for predicate in (HYDRA_NEXT, HYDRA_NEXT_PAGE):
            for target in triples.objects(subject, predicate):
                if not is_blank(target) and value(target).strip():
                    candidates.append((value(subject) != page_url, urljoin(page_url, value(target).strip())))
    return min(candidates)[1] if candidates else None


async def hydra_pages(
    client: HttpClient, url: str, *, headers: Mapping[str, str] | None = None, contexts: JsonLdContexts | None = None
) -> AsyncGenerator[HydraPage, None]:
    """Every page of a catalogue from ``url`` along hydra:next / hydra:nextPage, until a page announces none or
    one already read (a loop); the caller decides when to stop earlier. Parsing runs in a worker thread."""
    seen: set[str] = set()
    next_url: str | None = url
    request_headers = {"Accept": RDF_ACCEPT, **(headers or {})}
    while next_url is not None and next_url not in seen:
        seen.add(next_url)
        result = await client.get(next_url, request_headers)
        seen.add(result.url)
        triples = await anyio.to_thread.run_sync(read_page, result, contexts or {})
        page = HydraPage(next_url, result, triples, next_page_url(triples, result.url))
        yield page
        next_url = page.next_url


# ------------------------------------------------------------------------------------------------ the adapter


class DcatAdapter:
    """Harvests a DCAT-AP catalogue (Turtle, RDF/XML, JSON-LD, N-Triples), following Hydra paging."""

    kind: ClassVar[SourceKind] = SourceKind.DCAT

    def __init__(self, contexts: JsonLdContexts | None = None) -> None:
        # The JSON-LD contexts the hub knows (URL → context document); a document naming any other is refused.
        self._contexts: dict[str, Mapping[str, Any]] = dict(contexts or {})

    async def harvest(self, client: HttpClient, city: City, source: Source) -> HarvestBatch:
        max_pages = _max_pages(source)
        merged = Triples()
        size, pages_read = 0, 0
        findings: list[Finding] = []
        complete = True
        last: HydraPage | None = None
        pages = hydra_pages(client, source.url, headers=source.header_values(os.environ), contexts=self._contexts)
        async for page in pages:
            merged.update(page.triples)
            size += len(page.result.content)
            pages_read += 1
            last = page
            if pages_read >= max_pages and page.next_url is not None:
                complete = False  # the datasets of the pages not read must not be taken as removed
                findings.append(_paging_finding("dcat.page-cap", f"stopped after {max_pages} pages", page))
                break
        await pages.aclose()
        if complete and last is not None and last.next_url is not None:
            findings.append(_paging_finding("dcat.paging-loop", "the next page was already read", last))
        publisher = source.options.get("publisher")
        records = await anyio.to_thread.run_sync(dataset_records, merged, str(publisher) if publisher else None)
        # The merged graph travels with the batch: the run checks it against the DCAT-AP shapes as a whole.
        return HarvestBatch(
            records=records, bytes=size, findings=findings, complete=complete, documents={RDF_DOCUMENT: merged}
        )


def _paging_finding(rule: str, message: str, page: HydraPage) -> Finding:
    return Finding(rule, Severity.WARNING, "", f"{page.url}: {message} (next: {page.next_url})")


def _max_pages(source: Source) -> int:
    limit = source.options.get("max_pages", DEFAULT_MAX_PAGES)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"source {source.id!r}: options.max_pages must be a positive integer, got {limit!r}")
    return limit
