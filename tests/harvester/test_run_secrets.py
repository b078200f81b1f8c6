"""Source secrets (``headers`` in cities.toml name environment variables): read from the environment when a
run starts, sent upstream, and never stored, logged or shown by the API."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import MetaData, select

from harvester.http import HttpClient
from harvester.run import Harvester
from harvester.store import RunStatus
from hub.cities import Registry
from hub.db import Database
from hub.settings import Settings
from tests.conftest import DEMO_HOST

pytestmark = pytest.mark.anyio
SECRET = "tok-7f3a9c1e-never-show-me"
SOURCE = "oslo-bysykkel-demo"


class Recording(httpx.AsyncBaseTransport):
    """The demo city, remembering the credential header of every request it was sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.headers.get("client-identifier"))
        return await self.inner.handle_async_request(request)


def _database_text(db: Database) -> str:
    meta = MetaData()
    meta.reflect(db.engine)
    with db.connect() as conn:
        return "\n".join(repr(row) for table in meta.sorted_tables for row in conn.execute(select(table)))


async def test_a_source_secret_is_sent_but_never_stored_logged_or_served(
    db: Database,
    demo_cities: Registry,
    settings: Settings,
    demo_transport: httpx.ASGITransport,
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    admin_auth: dict[str, str],
) -> None:
    source = next(s for c in demo_cities.cities for s in c.sources if s.id == SOURCE)
    source.headers = {"Client-Identifier": "NORDHUB_TEST_CLIENT_ID"}
    monkeypatch.setenv("NORDHUB_TEST_CLIENT_ID", SECRET)
    transport = Recording(demo_transport)
    client = HttpClient(settings, transport=transport, allow_hosts=[DEMO_HOST], backoff_base=0)
    harvester = Harvester(db, demo_cities, client)
    with caplog.at_level(logging.DEBUG):
        report = await harvester.run(SOURCE)
        await harvester.aclose()
        await client.aclose()
    assert report.status is RunStatus.SUCCEEDED, report.error
    assert transport.seen
    assert set(transport.seen) == {SECRET}  # read from the environment at run time and sent on every request

    served = [
        await api.get("/api/v1/sources"),
        await api.get(f"/api/v1/sources/{SOURCE}/runs"),
        await api.get(f"/api/v1/runs/{report.run_id}"),
        # a run's items and errors are for its city's officers and admins
        await api.get(f"/api/v1/runs/{report.run_id}/items", params={"limit": 1000}, headers=admin_auth),
        await api.get(f"/api/v1/runs/{report.run_id}/errors.csv", headers=admin_auth),
    ]
    assert all(r.status_code == 200 for r in served)
    assert any("NORDHUB_TEST_CLIENT_ID" in r.text or SOURCE in r.text for r in served)
    for response in served:
        assert SECRET not in response.text, response.url
    assert SECRET not in caplog.text
    stored = _database_text(db)
    assert SOURCE in stored  # the dump holds the run...
    assert SECRET not in stored  # ...and nowhere the secret
