"""The link checker behind the MQA URL indicators: polite, bounded, SSRF-guarded, cached, re-checked when stale.

Every request goes through the hub's :class:`harvester.http.HttpClient`, so the SSRF guard (every redirect hop
included), timeouts, the size cap, retries with backoff and the per-host politeness (``NORDHUB_HTTP_PER_HOST``,
``NORDHUB_HTTP_POLITENESS``) all apply. The client has no HEAD, and nothing is added to it: a check is a GET with
``Range: bytes=0-0``, so a server that supports ranges sends one byte (206); one that does not sends the body, which
the client's cap bounds. A 416 (an empty file cannot serve byte 0) is asked again without the range.

A URL answered 2xx/3xx is ``ok``; a 4xx/5xx, a timeout, an unreachable host or a target the guard refuses is not.
A body too large for the cap or undecodable still means the server answered: ``ok``, with the reason kept.

:func:`check_links` checks at most ``max_urls`` URLs per call, never-checked ones first, then those older than
``recheck_after``, ``concurrency`` at a time; fresh results are left alone. Run it on a schedule (or
:func:`check_catalogue_links` for the whole catalogue) and the catalogue is re-checked in bounded slices.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from catalog.linkcheck_tables import linkcheck
from catalog.model import Dataset
from catalog.store import dataset_from_dict, list_datasets
from harvester.http import HttpClient
from hub.errors import HarvestError, PayloadInvalid, PayloadTooLarge, SourceHTTPError

ConnFactory = Callable[[], AbstractContextManager[Connection]]
Clock = Callable[[], datetime]
RANGE = {"Range": "bytes=0-0"}
CHUNK = 500  # hashes per IN (...) lookup
MAX_ERROR = 512


def _utcnow() -> datetime:
    return datetime.now(UTC)


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LinkResult:
    """The last answer of one URL."""

    url: str
    ok: bool
    status: int | None  # the final HTTP status; None when nothing answered
    error: str | None
    checked_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "status": self.status,
            "error": self.error,
            "checked_at": self.checked_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class LinkCheckReport:
    """What one call did: the URLs it checked, how many were fresh in the cache, and those left for next time."""

    checked: tuple[LinkResult, ...]
    fresh: int
    deferred: tuple[str, ...]


def _failure(url: str, ok: bool, status: int | None, exc: HarvestError, now: Clock) -> LinkResult:
    return LinkResult(url, ok, status, f"{type(exc).__name__}: {exc.detail}"[:MAX_ERROR], now())


async def check_url(client: HttpClient, url: str, *, now: Clock = _utcnow) -> LinkResult:
    """One URL's answer; never raises for what the URL does (errors become a result)."""
    headers: dict[str, str] = dict(RANGE)
    while True:
        try:
            result = await client.get(url, headers=headers)
        except SourceHTTPError as exc:
            if exc.http_status == 416 and headers:
                headers = {}
                continue
            return _failure(url, False, exc.http_status, exc, now)
        except (PayloadTooLarge, PayloadInvalid) as exc:
            return _failure(url, True, None, exc, now)  # the server answered; its body is not what is checked
        except HarvestError as exc:  # timeout, unreachable, refused by the SSRF guard
            return _failure(url, False, None, exc, now)
        return LinkResult(url, 200 <= result.status < 400, result.status, None, now())


# ------------------------------------------------------------------------------------------------------ cache


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def cached_results(conn: Connection, urls: Iterable[str]) -> dict[str, LinkResult]:
    """The cached answer of each of ``urls`` that has one."""
    by_hash = {url_hash(u): u for u in urls}
    found: dict[str, LinkResult] = {}
    for chunk in _chunks(list(by_hash)):
        stmt = select(linkcheck).where(linkcheck.c.url_hash.in_(chunk))
        for row in conn.execute(stmt).mappings():
            found[row["url"]] = LinkResult(row["url"], row["ok"], row["status"], row["error"], row["checked_at"])
    return found


def cached_status(conn: Connection, urls: Iterable[str]) -> dict[str, bool]:
    """URL → answered 2xx/3xx, for the URLs checked so far: the ``link_status`` of :func:`catalog.mqa.score_dataset`."""
    return {url: result.ok for url, result in cached_results(conn, urls).items()}


def _upsert(conn: Connection) -> Any:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(linkcheck)
    columns = {c: stmt.excluded[c] for c in ("url", "ok", "status", "error", "checked_at")}
    return stmt.on_conflict_do_update(index_elements=[linkcheck.c.url_hash], set_=columns)


def store_results(conn: Connection, results: Sequence[LinkResult]) -> None:
    """Write results into the cache in the caller's transaction, replacing older answers."""
    if results:
        rows = [
            {"url_hash": url_hash(r.url), "url": r.url, "ok": r.ok, "status": r.status}
            | {"error": r.error, "checked_at": r.checked_at}
            for r in results
        ]
        conn.execute(_upsert(conn), rows)


# ---------------------------------------------------------------------------------------------------- checking


def _due(urls: Sequence[str], cached: dict[str, LinkResult], stale_before: datetime) -> tuple[list[str], int]:
    """URLs to check, never-checked first (in the given order) then the stalest; and how many are fresh."""
    never = [u for u in urls if u not in cached]
    stale = sorted((cached[u].checked_at, u) for u in urls if u in cached and cached[u].checked_at <= stale_before)
    return never + [u for _at, u in stale], len(urls) - len(never) - len(stale)


async def check_links(
    conn_factory: ConnFactory,
    client: HttpClient,
    urls: Iterable[str],
    *,
    concurrency: int = 4,
    max_urls: int = 500,
    recheck_after: timedelta = timedelta(days=7),
    now: Clock = _utcnow,
) -> LinkCheckReport:
    """Check the URLs that are not cached or older than ``recheck_after``, at most ``max_urls`` of them.

    ``conn_factory`` gives a connection in a transaction committed on exit (``Database.begin``): it is opened
    once to read the cache and once to write the results, never while requests are in flight.
    """
    wanted = list(dict.fromkeys(u for u in urls if u))
    with conn_factory() as conn:
        cached = cached_results(conn, wanted)
    due, fresh = _due(wanted, cached, now() - recheck_after)
    slots = asyncio.Semaphore(max(1, concurrency))

    async def one(url: str) -> LinkResult:
        async with slots:
            return await check_url(client, url, now=now)

    results = await asyncio.gather(*(one(url) for url in due[:max_urls]))
    with conn_factory() as conn:
        store_results(conn, results)
    return LinkCheckReport(tuple(results), fresh, tuple(due[max_urls:]))


def distribution_urls(datasets: Iterable[Dataset]) -> list[str]:
    """The access and download URLs of the datasets' distributions, each once, in order."""
    urls = (u for ds in datasets for d in ds.distributions for u in (d.access_url, d.download_url) if u)
    return list(dict.fromkeys(urls))


def catalogue_urls(conn: Connection, *, city_id: str | None = None, page: int = 1000) -> list[str]:
    """Every distribution URL of the catalogue's active datasets (of one city when given)."""
    urls: list[str] = []
    offset = 0
    while rows := list_datasets(conn, city_id=city_id, limit=page, offset=offset):
        urls += distribution_urls(dataset_from_dict(row["dataset"]) for row in rows)
        offset += page
    return list(dict.fromkeys(urls))


async def check_catalogue_links(
    conn_factory: ConnFactory,
    client: HttpClient,
    *,
    city_id: str | None = None,
    max_urls: int = 500,
    recheck_after: timedelta = timedelta(days=7),
) -> LinkCheckReport:
    """One scheduled slice of link checking over the catalogue: the job to run every few hours."""
    with conn_factory() as conn:
        urls = catalogue_urls(conn, city_id=city_id)
    return await check_links(conn_factory, client, urls, max_urls=max_urls, recheck_after=recheck_after)
