"""Harvest scheduling: one APScheduler job per enabled source, kept in step with the registry while running.

``HarvestScheduler`` owns an ``AsyncIOScheduler``. Each enabled source whose kind can be harvested gets a job from
its schedule (interval or crontab, UTC) with jitter, coalescing, ``max_instances=1`` and a misfire grace time. A
reload job re-reads the cities file when it changes and adds, reschedules or removes jobs without a restart; a
file that no longer validates is logged and ignored (the running registry is kept whole). Two hub instances on one
PostgreSQL never harvest one source together: the run itself takes an advisory lock (``harvester.run``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from harvester.run import Harvester
from harvester.sources import adapter_for
from hub.cities import Registry, Schedule, load_cities
from hub.errors import CitiesFileError

log = logging.getLogger(__name__)
MISFIRE_GRACE_SECONDS = 60
TTL_FLOOR_SECONDS = 30  # never poll a live feed faster than this, whatever its ttl says
RELOAD_JOB = "nordhub-reload-registry"
LINK_CHECK_JOB = "nordhub-link-check"
LINK_CHECK_HOURS = 6


def trigger_for(schedule: Schedule, *, jitter: int) -> IntervalTrigger | CronTrigger:
    """The APScheduler trigger of a parsed schedule (interval or crontab), in UTC."""
    if schedule.interval_seconds is not None:
        return IntervalTrigger(seconds=schedule.interval_seconds, jitter=jitter, timezone=UTC)
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=UTC)


def wanted_jobs(registry: Registry) -> dict[str, Schedule]:
    """Source id → schedule of every enabled source whose kind can be harvested."""
    return {s.id: s.schedule for _c, s in registry.sources() if s.enabled and adapter_for(s.kind) is not None}


class HarvestScheduler:
    """The scheduler of one hub process."""

    def __init__(
        self,
        harvester: Harvester,
        *,
        cities_file: Path | None = None,
        jitter: int = 5,
        reload_seconds: int = 30,
        link_check: Callable[[], Awaitable[Any]] | None = None,
        load_registry: Callable[[], Registry] | None = None,
    ) -> None:
        # The hub's registry is cities.toml merged with the sources registered through the API; when given,
        # ``load_registry`` builds it afresh on every reload (registrations change without the file changing).
        self.load_registry = load_registry
        self.link_check = link_check  # a slice of the catalogue's link checking (MQA availability), every few hours
        self.harvester = harvester
        self.cities_file = cities_file
        self.jitter = jitter
        self.reload_seconds = reload_seconds
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._schedules: dict[str, str] = {}
        self._paced: dict[str, int] = {}  # source id → polling interval taken from the feed's ttl
        self._mtime = cities_file.stat().st_mtime if cities_file and cities_file.exists() else None

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def get_jobs(self) -> list[Any]:
        """The harvest jobs (the reload job is not one)."""
        return [job for job in self.scheduler.get_jobs() if job.id not in (RELOAD_JOB, LINK_CHECK_JOB)]

    def start(self) -> None:
        self.sync()
        if self.cities_file is not None or self.load_registry is not None:
            self.scheduler.add_job(
                self.reload,
                IntervalTrigger(seconds=self.reload_seconds, timezone=UTC),
                id=RELOAD_JOB,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        if self.link_check is not None:
            self.scheduler.add_job(
                self.link_check,
                IntervalTrigger(hours=LINK_CHECK_HOURS, jitter=60, timezone=UTC),
                id=LINK_CHECK_JOB,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        self.scheduler.start()

    def shutdown(self, wait: bool = False) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def sync(self) -> dict[str, list[str]]:
        """Make the jobs match the registry; returns the ids added, rescheduled and removed."""
        wanted = wanted_jobs(self.harvester.registry)
        changes: dict[str, list[str]] = {"added": [], "rescheduled": [], "removed": []}
        for source_id in [s for s in self._schedules if s not in wanted]:
            self.scheduler.remove_job(source_id)
            del self._schedules[source_id]
            changes["removed"].append(source_id)
        for source_id, schedule in wanted.items():
            previous = self._schedules.get(source_id)
            if previous == schedule.text:
                continue
            self._paced.pop(source_id, None)
            self.scheduler.add_job(
                self._harvest,
                trigger_for(schedule, jitter=self.jitter),
                args=[source_id],
                id=source_id,
                name=f"harvest {source_id}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=MISFIRE_GRACE_SECONDS,
                replace_existing=True,
            )
            self._schedules[source_id] = schedule.text
            changes["added" if previous is None else "rescheduled"].append(source_id)
        if any(changes.values()):
            log.info("harvest jobs updated", extra=changes)
        return changes

    async def _harvest(self, source_id: str) -> None:
        """One scheduled run; a feed that announces a ttl (GBFS) is then polled at max(ttl, floor)."""
        report = await self.harvester.run(source_id)
        if report.ttl is not None and source_id in self._schedules:
            self.pace(source_id, report.ttl)

    def pace(self, source_id: str, ttl: int) -> int | None:
        """Poll an interval-scheduled source every max(ttl, floor) seconds; returns the new interval if it changed."""
        interval = max(ttl, TTL_FLOOR_SECONDS)
        _city, source = self.harvester.registry.source(source_id)
        if source.schedule.interval_seconds is None or self._paced.get(source_id) == interval:
            return None
        self._paced[source_id] = interval
        self.scheduler.reschedule_job(
            source_id, trigger=IntervalTrigger(seconds=interval, jitter=self.jitter, timezone=UTC)
        )
        log.info("polling follows the feed's ttl", extra={"source": source_id, "seconds": interval})
        return interval

    def reload(self) -> dict[str, list[str]] | None:
        """Re-read the cities file if it changed; apply it whole, or keep the running registry if it is invalid."""
        if self.load_registry is not None:
            return self._reload_merged(self.load_registry)
        if self.cities_file is None or not self.cities_file.exists():
            return None
        mtime = self.cities_file.stat().st_mtime
        if mtime == self._mtime:
            return None
        self._mtime = mtime
        try:
            registry = load_cities(self.cities_file)
        except CitiesFileError as exc:
            log.error("cities file changed but is invalid; keeping the running registry", extra={"error": exc.detail})
            return None
        self.harvester.registry = registry
        return self.sync()

    def _reload_merged(self, load: Callable[[], Registry]) -> dict[str, list[str]] | None:
        try:
            registry = load()
        except CitiesFileError as exc:
            log.error("cities file is invalid; keeping the running registry", extra={"error": exc.detail})
            return None
        self.harvester.registry = registry
        return self.sync()
