"""catalog.linkcheck: answers cached with timestamps, re-checked after the interval, bounded, through the SSRF guard.

HTTP is ``httpx.MockTransport`` behind the hub's own HttpClient; ``links.test`` is allow-listed, ``intranet.test``
resolves (through a fake resolver) to a private address the guard refuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from catalog.linkcheck import (
    cached_results,
    cached_status,
    catalogue_urls,
    check_catalogue_links,
    check_links,
    distribution_urls,
)
from catalog.linkcheck_tables import linkcheck
from catalog.model import Dataset, Distribution
from catalog.store import upsert_datasets
from harvester.http import HttpClient
from hub.db import Database
from hub.settings import Settings

pytestmark = pytest.mark.anyio

BASE = "http://links.test"
T0 = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)
URLS = {
    "ok": f"{BASE}/ok.csv",
    "moved": f"{BASE}/moved",
    "gone": f"{BASE}/gone",
    "slow": f"{BASE}/slow",
    "refused": "http://intranet.test/secret.csv",
}


class Server:
    """The mock links.test: records requests and how many were in flight at once."""

    def __init__(self, delay: float = 0.0) -> None:
        self.requests: list[httpx.Request] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay = delay

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/moved":
            return httpx.Response(301, headers={"Location": "/ok.csv"})
        if path == "/gone":
            return httpx.Response(404, text="not here")
        if path == "/slow":
            raise httpx.ReadTimeout("read timed out", request=request)
        if path == "/empty":
            if "range" in request.headers:
                return httpx.Response(416)
            return httpx.Response(200, content=b"")
        if "range" in request.headers:
            return httpx.Response(206, content=b"a", headers={"Content-Range": "bytes 0-0/1000"})
        return httpx.Response(200, content=b"a,b\n1,2\n")

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


async def private(host: str, port: int) -> list[str]:
    return ["10.0.0.5"]


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
async def client(tmp_path: Path, server: Server) -> AsyncIterator[HttpClient]:
    settings = Settings(data_dir=tmp_path, http_per_host=16, scheduler_enabled=False, log_json=False)
    transport = httpx.MockTransport(server)
    async with HttpClient(
        settings, transport=transport, resolver=private, allow_hosts=["links.test"], max_retries=0
    ) as http:
        yield http


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def test_answers_are_cached_with_their_timestamps(db: Database, client: HttpClient, server: Server) -> None:
    report = await check_links(db.begin, client, URLS.values(), now=Clock(T0))
    by_url = {r.url: r for r in report.checked}
    assert (by_url[URLS["ok"]].ok, by_url[URLS["ok"]].status) == (True, 206)
    assert (by_url[URLS["moved"]].ok, by_url[URLS["moved"]].status) == (True, 206)  # followed to /ok.csv
    assert (by_url[URLS["gone"]].ok, by_url[URLS["gone"]].status) == (False, 404)
    assert (by_url[URLS["slow"]].ok, by_url[URLS["slow"]].status) == (False, None)
    assert (by_url[URLS["refused"]].ok, by_url[URLS["refused"]].status) == (False, None)
    assert (by_url[URLS["slow"]].error or "").startswith("SourceTimeout: ")
    assert (by_url[URLS["refused"]].error or "").startswith("ForbiddenTarget: ")
    assert "10.0.0.5" in (by_url[URLS["refused"]].error or "")
    assert "intranet.test" not in {r.url.host for r in server.requests}  # refused before any request
    assert all(r.method == "GET" and r.headers["range"] == "bytes=0-0" for r in server.requests)
    with db.connect() as conn:
        cached = cached_results(conn, URLS.values())
        assert cached_status(conn, [*URLS.values(), f"{BASE}/never"]) == {
            URLS["ok"]: True,
            URLS["moved"]: True,
            URLS["gone"]: False,
            URLS["slow"]: False,
            URLS["refused"]: False,
        }
    assert {r.checked_at for r in cached.values()} == {T0}
    assert cached[URLS["gone"]].status == 404
    assert cached[URLS["gone"]].error == f"SourceHTTPError: GET {URLS['gone']}: HTTP 404: not here"


async def test_fresh_answers_are_not_asked_again_until_the_interval_passes(
    db: Database, client: HttpClient, server: Server
) -> None:
    await check_links(db.begin, client, URLS.values(), now=Clock(T0))
    first = len(server.requests)
    again = await check_links(db.begin, client, URLS.values(), now=Clock(T0 + timedelta(days=6)))
    assert (again.checked, again.fresh, again.deferred) == ((), 5, ())
    assert len(server.requests) == first
    later = T0 + timedelta(days=7, seconds=1)
    stale = await check_links(db.begin, client, URLS.values(), now=Clock(later), recheck_after=timedelta(days=7))
    assert {r.url for r in stale.checked} == set(URLS.values())
    assert len(server.requests) > first
    with db.connect() as conn:
        assert {r.checked_at for r in cached_results(conn, URLS.values()).values()} == {later}
        assert conn.execute(select(func.count()).select_from(linkcheck)).scalar_one() == 5  # replaced, not added


async def test_each_call_is_bounded_and_takes_the_unchecked_first(db: Database, client: HttpClient) -> None:
    urls = [f"{BASE}/file-{n}.csv" for n in range(10)]
    first = await check_links(db.begin, client, urls, max_urls=3, now=Clock(T0))
    assert [r.url for r in first.checked] == urls[:3]
    assert first.deferred == tuple(urls[3:])
    second = await check_links(db.begin, client, [*urls, urls[0]], max_urls=3, now=Clock(T0 + timedelta(hours=1)))
    assert [r.url for r in second.checked] == urls[3:6]
    assert second.fresh == 3
    # once all are stale, the oldest answers go first
    await check_links(db.begin, client, urls, max_urls=4, now=Clock(T0 + timedelta(hours=2)))
    late = await check_links(db.begin, client, urls, max_urls=3, now=Clock(T0 + timedelta(days=30)))
    assert [r.url for r in late.checked] == urls[:3]


async def test_concurrency_is_bounded(db: Database, client: HttpClient, server: Server) -> None:
    server.delay = 0.02
    urls = [f"{BASE}/file-{n}.csv" for n in range(8)]
    report = await check_links(db.begin, client, urls, concurrency=2, now=Clock(T0))
    assert len(report.checked) == 8
    assert server.most_in_flight == 2


async def test_an_empty_file_is_asked_again_without_the_range(db: Database, client: HttpClient, server: Server) -> None:
    report = await check_links(db.begin, client, [f"{BASE}/empty"], now=Clock(T0))
    assert [(r.ok, r.status) for r in report.checked] == [(True, 200)]
    assert [r.headers.get("range") for r in server.requests] == ["bytes=0-0", None]


async def test_the_catalogue_urls_are_checked_in_slices(db: Database, client: HttpClient) -> None:
    datasets = [
        Dataset(
            uri=f"https://city.example/datasets/{n}",
            title={"en": f"Data {n}"},
            distributions=[Distribution(access_url=f"{BASE}/page-{n}", download_url=f"{BASE}/file-{n}.csv")],
        )
        for n in range(3)
    ]
    assert distribution_urls(datasets)[:2] == [f"{BASE}/page-0", f"{BASE}/file-0.csv"]
    with db.begin() as conn:
        upsert_datasets(conn, source_id="links-demo", city_id="oslo", datasets=datasets, now=T0)
    with db.connect() as conn:
        assert len(catalogue_urls(conn)) == 6
        assert catalogue_urls(conn, city_id="bergen") == []
    report = await check_catalogue_links(db.begin, client, max_urls=4)
    assert len(report.checked) == 4
    assert len(report.deferred) == 2
    assert all(r.ok for r in report.checked)
