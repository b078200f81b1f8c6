"""Run lifecycle and the fault matrix: every failure ends in the right state and loses no stored record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from harvester import store as run_store
from harvester.store import ItemStatus, RunMode, RunStatus
from hub.cities import Registry
from hub.db import Database
from hub.settings import Settings
from ngsi import entity_pages, store
from tests.fakes import SOURCE, FakeGbfs, Handler, make_harvester, registry_with_fake_source, station

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> FakeGbfs:
    return FakeGbfs()


@pytest.fixture
def fake_registry(registry: Registry) -> Registry:
    return registry_with_fake_source(registry)


def stored(db: Database) -> list[str]:
    with db.connect() as conn:
        rows, _ = entity_pages.query_entities(conn, tenant="oslo", types=["BikeHireDockingStation"], limit=1000)
    return rows


async def test_payloads_are_kept_and_reimported_without_network(
    db: Database, fake_registry: Registry, settings: Settings, fake: FakeGbfs
) -> None:
    harvester = make_harvester(db, fake_registry, settings, fake)
    first = await harvester.run(SOURCE)
    assert first.status is RunStatus.SUCCEEDED
    with db.connect() as conn:
        payloads = run_store.load_payloads(conn, first.run_id or 0)
    assert sorted(u.rsplit("/", 1)[-1] for u in payloads) == [
        "gbfs.json",
        "station_information.json",
        "station_status.json",
    ]

    def offline(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"re-import touched the network: {request.url}")

    again = await make_harvester(db, fake_registry, settings, offline).reimport(SOURCE)
    assert again.status is RunStatus.SUCCEEDED
    assert again.mode is RunMode.REIMPORT
    assert again.counts["unchanged"] == 10
    await harvester.aclose()
    await harvester.client.aclose()


async def test_conditional_get_makes_an_unchanged_feed_not_modified(
    db: Database, fake_registry: Registry, settings: Settings, fake: FakeGbfs
) -> None:
    harvester = make_harvester(db, fake_registry, settings, fake)
    await harvester.run(SOURCE)
    fake.requests.clear()
    second = await harvester.run(SOURCE)
    assert all("if-none-match" in r.headers for r in fake.requests)
    assert second.counts["not_modified"] == 1
    assert second.counts["unchanged"] == 10
    fake.bikes = 7
    third = await harvester.run(SOURCE)
    assert third.counts["not_modified"] == 0
    assert third.counts["updated"] == 10
    assert third.counts["instances"] == 20  # availableBikeNumber and freeSlotNumber changed at 10 stations
    await harvester.aclose()
    await harvester.client.aclose()


async def test_vanished_stations_are_marked_removed_not_deleted(
    db: Database, fake_registry: Registry, settings: Settings, fake: FakeGbfs
) -> None:
    harvester = make_harvester(db, fake_registry, settings, fake)
    await harvester.run(SOURCE)
    fake.stations = fake.stations[:8]
    report = await harvester.run(SOURCE)
    assert report.counts["removed"] == 2
    assert len(stored(db)) == 8
    with db.connect() as conn:
        items = run_store.list_items(conn, report.run_id or 0, state=ItemStatus.REMOVED)
        assert store.count_active(conn, source_id=SOURCE) == 8
    assert sorted(i["record_id"].rsplit(":", 1)[-1] for i in items) == ["8", "9"]
    fake.stations.append(station(9))
    back = await harvester.run(SOURCE)
    assert back.counts["created"] + back.counts["updated"] == 1
    assert len(stored(db)) == 9
    await harvester.aclose()
    await harvester.client.aclose()


@pytest.mark.parametrize("remaining", [0, 2])
async def test_removing_more_than_half_is_held_unless_forced(
    db: Database, fake_registry: Registry, settings: Settings, fake: FakeGbfs, remaining: int
) -> None:
    harvester = make_harvester(db, fake_registry, settings, fake)
    await harvester.run(SOURCE)
    before = stored(db)
    fake.stations = fake.stations[:remaining]
    held = await harvester.run(SOURCE)
    assert held.status is RunStatus.FAILED
    assert held.error is not None
    assert "held as suspicious" in held.error
    assert f"remove {10 - remaining} of the 10" in held.error
    assert stored(db) == before
    forced = await harvester.run(SOURCE, force=True)
    assert forced.status is RunStatus.SUCCEEDED
    assert forced.counts["removed"] == 10 - remaining
    assert len(stored(db)) == remaining
    await harvester.aclose()
    await harvester.client.aclose()


def _status(code: int, **headers: str) -> Handler:
    return lambda request: httpx.Response(code, headers=headers)


def _on_status(answer: Callable[[], httpx.Response]) -> Handler:
    return lambda request: answer() if request.url.path.endswith("station_status.json") else None


def _raise(exc: type[Exception]) -> Handler:
    def handler(request: httpx.Request) -> None:
        raise exc("boom", request=request)  # type: ignore[call-arg]

    return handler


FAULTS: dict[str, tuple[Handler, str]] = {
    "connect timeout": (_raise(httpx.ConnectTimeout), "timed out"),
    "read timeout": (_raise(httpx.ReadTimeout), "timed out"),
    "connection reset": (_raise(httpx.RemoteProtocolError), "RemoteProtocolError"),
    "dns failure": (_raise(httpx.ConnectError), "ConnectError"),
    "500": (_status(500), "HTTP 500"),
    "503 retry-after": (_status(503, **{"Retry-After": "0"}), "HTTP 503"),
    "429": (_status(429, **{"Retry-After": "0"}), "HTTP 429"),
    "truncated body": (_on_status(lambda: httpx.Response(200, content=b'{"data": {"stations": [{')), "invalid JSON"),
    "invalid json": (_on_status(lambda: httpx.Response(200, content=b"<html>maintenance</html>")), "invalid JSON"),
    "json not an object": (_on_status(lambda: httpx.Response(200, json=[1, 2])), "expected a JSON object"),
    "body over the cap": (_on_status(lambda: httpx.Response(200, content=b" " * 5000)), "exceeds the cap"),
    "redirect to metadata": (_status(302, Location="http://169.254.169.254/latest/meta-data/"), "non-public address"),
    "redirect to loopback": (_status(302, Location="http://127.0.0.1:9/"), "non-public address"),
    "redirect loop": (lambda r: httpx.Response(302, headers={"Location": str(r.url)}), "redirect"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_fault_matrix_keeps_the_last_good_data(
    db: Database, fake_registry: Registry, settings: Settings, fake: FakeGbfs, fault: str
) -> None:
    small = settings.model_copy(update={"http_max_bytes": 4000})
    harvester = make_harvester(db, fake_registry, small, fake)
    good = await harvester.run(SOURCE)
    assert good.status is RunStatus.SUCCEEDED
    before = stored(db)
    fake.bikes = 1  # would change every station if the run got through
    fake.fault, needle = FAULTS[fault]
    report = await harvester.run(SOURCE)
    assert report.status is RunStatus.FAILED
    assert report.error is not None
    assert needle in report.error
    assert stored(db) == before
    with db.connect() as conn:
        run = run_store.get_run(conn, report.run_id or 0)
    assert run is not None
    assert run["status"] == "failed"
    assert needle in run["error"]
    await harvester.aclose()
    await harvester.client.aclose()


async def test_run_timeout_is_timed_out_and_keeps_data(
    db: Database, fake_registry: Registry, settings: Settings, fake: FakeGbfs
) -> None:
    harvester = make_harvester(db, fake_registry, settings, fake, run_timeout=0.2)
    await harvester.run(SOURCE)
    before = stored(db)

    async def slow(request: httpx.Request) -> None:
        await asyncio.sleep(5)

    fake.fault = slow
    report = await harvester.run(SOURCE)
    assert report.status is RunStatus.TIMED_OUT
    assert "timeout" in (report.error or "")
    assert stored(db) == before
    await harvester.aclose()
    await harvester.client.aclose()


async def test_one_run_per_source_at_a_time(
    db: Database, fake_registry: Registry, settings: Settings, fake: FakeGbfs, database_url: str
) -> None:
    """Two harvesters (two hub instances on PostgreSQL: separate engines) never run one source together."""

    async def slow(request: httpx.Request) -> None:
        await asyncio.sleep(0.3)

    fake.fault = slow
    first = make_harvester(db, fake_registry, settings, fake)
    # On SQLite (embedded, one hub process) the lock is the harvester's own; on PostgreSQL it is an advisory lock,
    # so the second harvester gets its own engine, as a second hub instance would.
    other_db = Database(database_url) if db.dialect == "postgresql" else db
    second = make_harvester(other_db, fake_registry, settings, fake) if other_db is not db else first
    reports = await asyncio.gather(first.run(SOURCE), second.run(SOURCE))
    statuses = sorted(r.status.value for r in reports)
    assert statuses == ["cancelled", "succeeded"]
    cancelled = next(r for r in reports if r.status is RunStatus.CANCELLED)
    assert "in progress" in (cancelled.error or "")
    after = await second.run(SOURCE)  # the lock is released afterwards
    assert after.status is RunStatus.SUCCEEDED
    await first.aclose()
    await first.client.aclose()
    if other_db is not db:
        await second.aclose()
        await second.client.aclose()
        other_db.dispose()
