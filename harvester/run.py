"""A harvest run, written once for every source kind.

It owns the run and item rows, timing, the per-run timeout and the rule that one bad record never fails the run.
Fetching and transforming happen in the source's adapter; validation in ``schemas``; storage in ``ngsi.store``.
A source's results are committed in one transaction: a run that fails or times out leaves the last good data.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError

from harvester import store as runs
from harvester.http import HttpClient
from harvester.sources import adapter_for
from harvester.sources.base import HarvestBatch, Record
from harvester.store import ItemRow, ItemStatus, RunStatus
from hub.cities import City, Registry, Source
from hub.db import Database
from hub.errors import BadRequest, HarvestError, NordhubError
from ngsi.store import EntityWrite, upsert_entities
from schemas.findings import Severity
from schemas.ngsild import check_entity

log = logging.getLogger(__name__)
DEFAULT_RUN_TIMEOUT = 300.0


class UnsupportedSourceKind(BadRequest):
    """The source's kind has no adapter in this version of the hub."""


@dataclass(slots=True)
class RunReport:
    """What a run did, as returned to the CLI and the API."""

    run_id: int
    source_id: str
    status: RunStatus
    counts: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    error: str | None = None
    duration: float = 0.0


def _now() -> datetime:
    return datetime.now(UTC)


def _validated(batch: HarvestBatch, city: City) -> list[Record]:
    bbox = (city.bbox.min_lon, city.bbox.min_lat, city.bbox.max_lon, city.bbox.max_lat)
    for record in batch.records:
        if record.entity is None:
            continue
        record.findings.extend(check_entity(record.entity, bbox))
        if any(f.severity is Severity.ERROR for f in record.findings):
            record.entity = None  # quarantined: kept as an item with its findings, not published
    return batch.records


class Harvester:
    """Runs harvests of the sources in a registry against one database."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        client: HttpClient,
        *,
        run_timeout: float = DEFAULT_RUN_TIMEOUT,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.db = db
        self.registry = registry
        self.client = client
        self.run_timeout = run_timeout
        self.clock = clock

    async def run(self, source_id: str, *, dry_run: bool = False) -> RunReport:
        """Harvest one source now; never raises for a failing source (the report says what happened)."""
        city, source = self.registry.source(source_id)
        adapter = adapter_for(source.kind)
        if adapter is None:
            raise UnsupportedSourceKind(f"source {source.id!r}: kind {source.kind.value!r} cannot be harvested yet")
        started = time.perf_counter()
        run_id = await anyio.to_thread.run_sync(self._start, city, source, dry_run)
        report = RunReport(run_id=run_id, source_id=source.id, status=RunStatus.RUNNING)
        try:
            async with asyncio.timeout(self.run_timeout):
                batch = await adapter.harvest(self.client, city, source)
            records = _validated(batch, city)
            report.bytes = batch.bytes
            await anyio.to_thread.run_sync(self._commit, report, city, source, records, dry_run)
        except TimeoutError:
            report.status, report.error = RunStatus.TIMED_OUT, f"run exceeded its timeout of {self.run_timeout:g} s"
        except HarvestError as exc:
            report.status, report.error = RunStatus.FAILED, exc.detail
        except NordhubError as exc:
            report.status, report.error = RunStatus.FAILED, exc.detail
        except SQLAlchemyError as exc:
            log.exception("harvest of %s could not be stored", source.id)
            report.status, report.error = RunStatus.FAILED, f"storing the results failed: {type(exc).__name__}"
        except Exception as exc:  # an adapter bug must end the run as failed, never leave it "running"
            log.exception("harvest of %s failed unexpectedly", source.id)
            report.status, report.error = RunStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        report.duration = time.perf_counter() - started
        if report.status not in (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED_WITH_ERRORS):
            await anyio.to_thread.run_sync(self._fail, report)
        log.info(
            "harvest finished",
            extra={
                "source": source.id,
                "status": report.status.value,
                "counts": report.counts,
                "seconds": round(report.duration, 3),
            },
        )
        return report

    def _start(self, city: City, source: Source, dry_run: bool) -> int:
        with self.db.begin() as conn:
            return runs.start_run(
                conn, source_id=source.id, city_id=city.id, kind=source.kind.value, dry_run=dry_run, now=self.clock()
            )

    def _commit(self, report: RunReport, city: City, source: Source, records: list[Record], dry_run: bool) -> None:
        writes = [
            EntityWrite(city.id, r.entity, scope=city.scope, source_id=source.id)
            for r in records
            if r.entity is not None
        ]
        invalid = [r for r in records if r.entity is None]
        with self.db.connect() as conn:
            transaction = conn.begin()
            result = upsert_entities(conn, writes, now=self.clock())
            states = {
                **dict.fromkeys(result.created, ItemStatus.CREATED),
                **dict.fromkeys(result.updated, ItemStatus.UPDATED),
            }
            items = [_item(r, states.get(r.record_id, ItemStatus.UNCHANGED)) for r in records if r.entity is not None]
            items = [i for i in items if i.state is not ItemStatus.UNCHANGED or i.findings]
            items += [_item(r, ItemStatus.INVALID) for r in invalid]
            report.counts = {
                "created": len(result.created),
                "updated": len(result.updated),
                "unchanged": len(result.unchanged),
                "invalid": len(invalid),
                "instances": result.instances,
            }
            report.status = RunStatus.SUCCEEDED_WITH_ERRORS if invalid else RunStatus.SUCCEEDED
            if dry_run:
                transaction.rollback()  # a preview commits nothing but its own run row
                transaction = conn.begin()
            runs.add_items(conn, report.run_id, items)
            runs.finish_run(
                conn, report.run_id, status=report.status, now=self.clock(), counts=report.counts, size=report.bytes
            )
            transaction.commit()

    def _fail(self, report: RunReport) -> None:
        with self.db.begin() as conn:
            runs.finish_run(
                conn,
                report.run_id,
                status=report.status,
                now=self.clock(),
                counts=report.counts,
                size=report.bytes,
                error=report.error,
            )


def _item(record: Record, state: ItemStatus) -> ItemRow:
    return ItemRow(record.record_id, state, [f.to_dict() for f in record.findings])
