"""Harvest scheduling: one APScheduler job per enabled source, from its schedule in the registry."""

from __future__ import annotations

from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from harvester.run import Harvester
from harvester.sources import adapter_for
from hub.cities import Schedule

MISFIRE_GRACE_SECONDS = 60


def trigger_for(schedule: Schedule, *, jitter: int) -> IntervalTrigger | CronTrigger:
    """The APScheduler trigger of a parsed schedule (interval or crontab), in UTC."""
    if schedule.interval_seconds is not None:
        return IntervalTrigger(seconds=schedule.interval_seconds, jitter=jitter, timezone=UTC)
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=UTC)


def build_scheduler(harvester: Harvester, *, jitter: int = 5) -> AsyncIOScheduler:
    """A scheduler (not started) with one job per enabled source whose kind can be harvested."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    for _city, source in harvester.registry.sources():
        if not source.enabled or adapter_for(source.kind) is None:
            continue
        scheduler.add_job(
            harvester.run,
            trigger_for(source.schedule, jitter=jitter),
            args=[source.id],
            id=source.id,
            name=f"harvest {source.id}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            replace_existing=True,
        )
    return scheduler
