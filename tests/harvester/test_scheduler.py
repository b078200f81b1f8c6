"""The scheduler: jobs follow the registry at run time, and two schedulers never harvest one source together."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from harvester import store as run_store
from harvester.run import Harvester
from harvester.scheduler import HarvestScheduler, wanted_jobs
from hub.cities import Registry, dump_cities, load_cities, parse_schedule
from hub.db import Database
from hub.settings import Settings
from tests.fakes import SOURCE, FakeGbfs, make_harvester, registry_with_fake_source

pytestmark = pytest.mark.anyio


def _with_schedule(registry: Registry, source_id: str, **update: object) -> Registry:
    if isinstance(update.get("schedule"), str):
        update["schedule"] = parse_schedule(str(update["schedule"]))
    cities = []
    for city in registry.cities:
        sources = [s.model_copy(update=update) if s.id == source_id else s for s in city.sources]
        cities.append(city.model_copy(update={"sources": sources}))
    return Registry.model_validate(Registry(cities=cities).model_dump(mode="json"))


async def test_jobs_follow_the_registry(harvester: Harvester, demo_cities: Registry) -> None:
    scheduler = HarvestScheduler(harvester)
    scheduler.start()
    try:
        _follow(scheduler, harvester, demo_cities)
    finally:
        scheduler.shutdown()


def _follow(scheduler: HarvestScheduler, harvester: Harvester, demo_cities: Registry) -> None:
    assert {j.id for j in scheduler.get_jobs()} == set(wanted_jobs(demo_cities))
    assert scheduler.sync() == {"added": [], "rescheduled": [], "removed": []}
    harvester.registry = _with_schedule(demo_cities, "oslo-bysykkel-demo", enabled=False)
    changes = scheduler.sync()
    assert changes["removed"] == ["oslo-bysykkel-demo"]
    harvester.registry = _with_schedule(demo_cities, "bergen-bysykkel-demo", schedule="every 5m")
    changes = scheduler.sync()
    assert changes["added"] == ["oslo-bysykkel-demo"]
    assert changes["rescheduled"] == ["bergen-bysykkel-demo"]
    job = next(j for j in scheduler.get_jobs() if j.id == "bergen-bysykkel-demo")
    assert job.trigger.interval.total_seconds() == 300
    assert job.max_instances == 1
    assert job.coalesce is True


async def test_reload_picks_up_file_changes_and_ignores_broken_files(
    harvester: Harvester, demo_cities: Registry, tmp_path: Path
) -> None:
    path = tmp_path / "cities.toml"
    path.write_text(dump_cities(demo_cities), encoding="utf-8")
    harvester.registry = load_cities(path)
    scheduler = HarvestScheduler(harvester, cities_file=path, reload_seconds=3600)
    scheduler.start()
    try:
        assert scheduler.running
        before = {j.id for j in scheduler.get_jobs()}
        path.write_text(dump_cities(_with_schedule(demo_cities, "trondheim-bysykkel-demo", enabled=False)))
        changes = scheduler.reload()
        assert changes is not None
        assert changes["removed"] == ["trondheim-bysykkel-demo"]
        assert {j.id for j in scheduler.get_jobs()} == before - {"trondheim-bysykkel-demo"}
        path.write_text("[[cities]]\nid = 'broken", encoding="utf-8")
        assert scheduler.reload() is None
        assert {j.id for j in scheduler.get_jobs()} == before - {"trondheim-bysykkel-demo"}
        assert "oslo-bysykkel-demo" in {s.id for _c, s in harvester.registry.sources()}
    finally:
        scheduler.shutdown()


async def test_two_schedulers_never_overlap_on_a_source(
    db: Database, registry: Registry, settings: Settings, database_url: str
) -> None:
    """Two schedulers firing the same source every second for a few seconds: runs never overlap in time.

    On PostgreSQL they are two hub instances (own engines, advisory lock); on SQLite two schedulers in one process.
    """
    fake = FakeGbfs()

    async def slow(request: httpx.Request) -> None:
        await asyncio.sleep(0.1)

    fake.fault = slow
    fakes = _with_schedule(registry_with_fake_source(registry), SOURCE, schedule="every 1s")
    first = make_harvester(db, fakes, settings, fake)
    other_db = Database(database_url) if db.dialect == "postgresql" else db
    second = make_harvester(other_db, fakes, settings, fake) if other_db is not db else first
    schedulers = [HarvestScheduler(first, jitter=0), HarvestScheduler(second, jitter=0)]
    for scheduler in schedulers:
        scheduler.start()
    await asyncio.sleep(4.5)
    for scheduler in schedulers:
        scheduler.shutdown()
    await asyncio.sleep(1.0)
    with db.connect() as conn:
        done = [r for r in run_store.list_runs(conn, source_id=SOURCE, limit=100) if r["finished_at"]]
    spans = sorted((datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"])) for r in done)
    assert len(spans) >= 2
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans)), spans
    await first.aclose()
    await first.client.aclose()
    if other_db is not db:
        await second.aclose()
        await second.client.aclose()
        other_db.dispose()


async def test_link_checking_is_scheduled_beside_the_harvests(harvester: Harvester) -> None:
    calls: list[str] = []

    async def link_check() -> None:
        calls.append("checked")

    scheduler = HarvestScheduler(harvester, link_check=link_check)
    scheduler.start()
    try:
        job = scheduler.scheduler.get_job("nordhub-link-check")
        assert job is not None
        assert job.trigger.interval.total_seconds() == 6 * 3600
        assert "nordhub-link-check" not in {j.id for j in scheduler.get_jobs()}  # not a harvest job
        job.modify(next_run_time=datetime.now(UTC))
        await asyncio.sleep(0.3)
        assert calls == ["checked"]
    finally:
        scheduler.shutdown()
