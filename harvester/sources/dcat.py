"""The ``dcat`` source kind: a DCAT-AP catalogue in any RDF syntax, its Hydra pages followed, every dataset mapped.

Options (``cities.toml``): ``publisher`` keeps only the datasets whose dct:publisher IRI or name contains it (the
national Swedish dump holds every Swedish publisher); ``max_pages`` caps the Hydra pages followed (10,000).
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urljoin

import anyio.to_thread
from rdflib import Literal, URIRef

from harvester.http import FetchResult, HttpClient
from harvester.rdf import JsonLdContexts, Triples, parse_rdf
from harvester.sources.base import HarvestBatch
from harvester.sources.dcat_transform import HYDRA, dataset_records, skolemise
from hub.cities import City, Source, SourceKind
from hub.errors import ConfigError, PayloadInvalid
from schemas.findings import Finding, Severity

DEFAULT_MAX_PAGES = 10_000
HYDRA_NEXT = URIRef(HYDRA + "next")  # hydra:PartialCollectionView (Hydra Core today)
HYDRA_NEXT_PAGE = URIRef(HYDRA + "nextPage")  # hydra:PagedCollection (the older draft, still served by CKAN)
RDF_ACCEPT = "text/turtle, application/rdf+xml;q=0.9, application/ld+json;q=0.9, application/n-triples;q=0.8, */*;q=0.1"


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
            for value in triples.objects(subject, predicate):
                if isinstance(value, URIRef | Literal) and str(value).strip():
                    candidates.append((str(subject) != page_url, urljoin(page_url, str(value).strip())))
    return min(candidates)[1] if candidates else None


def read_page(result: FetchResult, contexts: JsonLdContexts) -> Triples:
    """Parse one fetched page and skolemise its blank nodes (pure; PayloadInvalid when it is not RDF)."""
    triples = parse_rdf(result.content, url=result.url, content_type=result.content_type, contexts=contexts)
    try:
        return skolemise(triples)
    except ValueError as exc:
        raise PayloadInvalid(f"GET {result.url}: {exc}") from exc


async def hydra_pages(
    client: HttpClient, url: str, *, headers: Mapping[str, str] | None = None, contexts: JsonLdContexts | None = None
) -> AsyncGenerator[HydraPage, None]:
    """Every page of a catalogue, from ``url`` along hydra:next / hydra:nextPage, until a page announces none or
    one already seen (a loop); the caller decides when to stop earlier. Parsing runs in a worker thread."""
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


class DcatAdapter:
    """Harvests a DCAT-AP catalogue (Turtle, RDF/XML, JSON-LD, N-Triples), following Hydra paging."""

    kind: ClassVar[SourceKind] = SourceKind.DCAT

    def __init__(self, contexts: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        # JSON-LD contexts the hub knows (URL → context document); documents naming any other are refused.
        self._contexts: dict[str, Mapping[str, Any]] = dict(contexts or {})

    async def harvest(self, client: HttpClient, city: City, source: Source) -> HarvestBatch:
        max_pages = _max_pages(source)
        merged = Triples()
        size = 0
        findings: list[Finding] = []
        complete = True
        visited: list[str] = []
        last: HydraPage | None = None
        pages = hydra_pages(client, source.url, headers=source.header_values(os.environ), contexts=self._contexts)
        async for page in pages:
            merged.update(page.triples)
            size += len(page.result.content)
            visited.append(page.url)
            last = page
            if len(visited) >= max_pages and page.next_url is not None:
                complete = False  # datasets on the pages not read must not be taken as removed
                findings.append(_paging_finding("dcat.page-cap", f"stopped after {max_pages} pages (max_pages)", page))
                break
        await pages.aclose()
        if complete and last is not None and last.next_url is not None:
            findings.append(_paging_finding("dcat.paging-loop", "next page already read: paging loops", last))
        publisher = source.options.get("publisher")
        records = await anyio.to_thread.run_sync(dataset_records, merged, str(publisher) if publisher else None)
        return HarvestBatch(records=records, bytes=size, findings=findings, complete=complete)


def _paging_finding(rule: str, message: str, page: HydraPage) -> Finding:
    return Finding(rule, Severity.WARNING, "", f"{page.url}: {message} (next: {page.next_url})")


def _max_pages(source: Source) -> int:
    value = source.options.get("max_pages", DEFAULT_MAX_PAGES)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"source {source.id!r}: options.max_pages must be a positive integer, got {value!r}")
    return value
