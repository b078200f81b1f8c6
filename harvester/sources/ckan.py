"""The ``ckan`` source kind: ``package_search`` paged with ``rows``/``start``, each package → a catalogue Dataset.

A full run (``harvest``) lists every package of the source (optionally one organization's) and says so with
``HarvestBatch.complete``, so packages no longer listed can be marked removed. An incremental run
(``harvest_since``) asks only for packages modified since the last good run (``fq=metadata_modified:[… TO *]``);
it cannot see deletions, so it is never complete.

Pages are sorted by ``metadata_modified asc`` so that a package edited while the harvest pages through the
catalogue moves towards the end (it is listed again, never skipped); a package listed twice is kept once, in its
later version. A page that brings nothing new means the server ignores ``start``: paging stops with a warning and
the run is not complete.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

import orjson

from harvester.http import FetchResult, HttpClient
from harvester.sources.base import HarvestBatch
from harvester.sources.ckan_transform import dataset_from_ckan
from hub.cities import City, Source, SourceKind
from hub.errors import ConfigError, PayloadInvalid
from schemas.findings import Finding, Severity

DEFAULT_ROWS = 100
MAX_ROWS = 1000  # CKAN's default ckan.search.rows_max
SORT = "metadata_modified asc,name asc"
_ORGANIZATION = re.compile(r"[a-z0-9_-]+")
_ACTION = re.compile(r"/[a-z_]+$")


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One ``package_search`` answer: where it was asked from, the total CKAN reports and the packages."""

    url: str
    start: int
    count: int | None
    results: list[Any]
    size: int


def action_url(source_url: str, action: str) -> str:
    """The URL of one Action API call from a source URL (the API base, or already one action's URL)."""
    base = source_url.split("?", 1)[0].rstrip("/")
    if _ACTION.search(base) and not base.endswith("/action"):
        base = base.rsplit("/", 1)[0]
    return f"{base}/{action}"


def search_params(source: Source, since: datetime | None) -> dict[str, str]:
    """The fixed ``package_search`` parameters of a source (all but ``start``)."""
    rows = source.options.get("rows", DEFAULT_ROWS)
    if isinstance(rows, bool) or not isinstance(rows, int):
        raise ConfigError(f"source {source.id!r}: options.rows must be an integer, got {rows!r}")
    filters: list[str] = []
    organization = source.options.get("organization")
    if organization is not None:
        if not isinstance(organization, str) or not _ORGANIZATION.fullmatch(organization):
            raise ConfigError(f"source {source.id!r}: options.organization must be a CKAN organization name")
        filters.append(f"organization:{organization}")
    if since is not None:
        if since.tzinfo is None:
            raise ValueError("since must be time-zone aware")
        filters.append(f"metadata_modified:[{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} TO *]")
    params = {"rows": str(max(1, min(MAX_ROWS, rows))), "sort": SORT}
    if filters:
        params["fq"] = " AND ".join(filters)
    return params


def parse_search(result: FetchResult, start: int) -> SearchPage:
    """A ``package_search`` body as a page; PayloadInvalid for non-JSON, CKAN's error envelope or a wrong shape."""
    try:
        doc = orjson.loads(result.content)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"GET {result.url}: invalid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise PayloadInvalid(f"GET {result.url}: expected a CKAN response object, got {type(doc).__name__}")
    if doc.get("success") is not True:
        raise PayloadInvalid(f"GET {result.url}: CKAN reports an error: {ckan_error_message(doc.get('error'))}")
    body = doc.get("result")
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(results, list):
        raise PayloadInvalid(f"GET {result.url}: package_search result has no results list")
    count = body.get("count")
    valid_count = isinstance(count, int) and not isinstance(count, bool)
    return SearchPage(result.url, start, count if valid_count else None, results, len(result.content))


def ckan_error_message(error: Any) -> str:
    """CKAN's ``error`` object in one line: its message, or its per-field validation messages."""
    if not isinstance(error, dict):
        return "no error details" if error is None else str(error)[:300]
    kind = error.get("__type")
    message = error.get("message")
    if not message:
        fields = {k: v for k, v in error.items() if k not in ("__type", "message")}
        message = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in fields.items())
    text = f"{kind}: {message}" if kind else str(message)
    return text[:500]


async def search_pages(
    client: HttpClient, url: str, params: Mapping[str, str], headers: Mapping[str, str]
) -> AsyncGenerator[SearchPage, None]:
    """``package_search`` pages from ``start=0``, each starting where the last one's packages ended.

    It ends by itself only at an empty page: the caller decides when it has seen enough.
    """
    start = 0
    while True:
        query = urlencode({**params, "start": str(start)})
        page = parse_search(await client.get(f"{url}?{query}", headers), start)
        yield page
        if not page.results:
            return
        start += len(page.results)


def _package_key(pkg: Any, fallback: str) -> str:
    if isinstance(pkg, dict):
        return str(pkg.get("id") or pkg.get("name") or fallback)
    return fallback


@dataclass(slots=True)
class _Listing:
    """What paging through ``package_search`` collected: packages by id, in listing order."""

    packages: dict[str, tuple[Any, str]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    size: int = 0
    whole: bool = True  # every package the server counted was listed

    def add(self, page: SearchPage) -> bool:
        """Take a page's packages; False when it brought nothing new (the server ignores ``start``)."""
        self.size += page.size
        keys = [_package_key(pkg, f"start={page.start + i}") for i, pkg in enumerate(page.results)]
        if keys and all(key in self.packages for key in keys):
            detail = "repeats packages already listed (the server ignores 'start'); paging stopped"
            self.findings.append(_finding("ckan.start-ignored", page, detail))
            self.whole = False
            return False
        for i, (key, pkg) in enumerate(zip(keys, page.results, strict=True)):
            self.packages.pop(key, None)  # listed again after an edit: keep the later version
            self.packages[key] = (pkg, f"/result/results/{i}")
        return True


def _is_last(page: SearchPage, rows: int) -> bool:
    """CKAN's end of listing: ``start`` reached ``count``, or a short page when there is no count.

    A short page before ``count`` is reached means the server caps ``rows`` below what was asked: keep paging.
    """
    next_start = page.start + len(page.results)
    if page.count is not None:
        return next_start >= page.count
    return len(page.results) < rows


async def list_packages(
    client: HttpClient, url: str, params: Mapping[str, str], headers: Mapping[str, str]
) -> _Listing:
    """Every package ``package_search`` lists for ``params``, each once."""
    listing = _Listing()
    last: SearchPage | None = None
    async with aclosing(search_pages(client, url, params, headers)) as pages:
        async for page in pages:
            if not listing.add(page):
                return listing
            last = page
            if _is_last(page, int(params["rows"])):
                break
    if last is not None and last.count is not None and len(listing.packages) < last.count:
        # Packages deleted while paging shift later ones back by a page boundary: some may have been skipped.
        detail = f"listed {len(listing.packages)} distinct packages of the {last.count} counted"
        listing.findings.append(_finding("ckan.listing-short", last, detail))
        listing.whole = False
    return listing


def _finding(rule: str, page: SearchPage, detail: str) -> Finding:
    message = f"package_search at start={page.start} {detail}: the run is incomplete (nothing is marked removed)"
    return Finding(rule, Severity.WARNING, "/result", message)


class CkanAdapter:
    """Harvests the packages of a CKAN portal (one organization's when ``options.organization`` is set)."""

    kind: ClassVar[SourceKind] = SourceKind.CKAN

    async def harvest(self, client: HttpClient, city: City, source: Source) -> HarvestBatch:
        """A full run: every package the source lists; ``complete`` unless the listing was cut short."""
        return await self.harvest_since(client, city, source, since=None)

    async def harvest_since(
        self, client: HttpClient, city: City, source: Source, since: datetime | None = None
    ) -> HarvestBatch:
        """Packages modified at or after ``since`` (every package when None); an incremental run is never complete.

        Raises PayloadInvalid for a body that is not JSON or is CKAN's error envelope, ConfigError for bad options.
        """
        params = search_params(source, since)
        url = action_url(source.url, "package_search")
        listing = await list_packages(client, url, params, source.header_values(os.environ))
        records = [
            dataset_from_ckan(pkg, portal_url=source.url, pointer=pointer) for pkg, pointer in listing.packages.values()
        ]
        return HarvestBatch(
            records=records,
            bytes=listing.size,
            findings=listing.findings,
            complete=since is None and listing.whole,
        )
