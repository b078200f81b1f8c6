"""A harvest run, written once for every source kind.

It owns the run and item rows, timing, the per-run timeout, the lock that keeps two hub instances off one source,
the raw payloads, removal of what vanished upstream, and the rule that one bad record never fails the run. Fetching
and transforming happen in the source's adapter; validation in ``schemas``; storage in ``ngsi.store`` and
``catalog.store``. A source's results are committed in one transaction: a run that fails, times out or is held as
suspicious leaves the last good data exactly as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
from rdflib import Graph
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from catalog import store as catalog_store
from catalog.dcat_out import missing_mandatory
from catalog.model import Dataset
from harvester import store as runs
from harvester.fetchlog import FetchSession, fetch_session
from harvester.http import HttpClient
from harvester.sources import adapter_for
from harvester.sources.base import HarvestBatch, Record, SourceAdapter
from harvester.sources.dcat import RDF_DOCUMENT
from harvester.store import ItemRow, ItemStatus, RunMode, RunStatus
from hub.cities import City, Registry, Source, SourceKind
from hub.collector import collection_paused
from hub.db import Database
from hub.errors import BadRequest, NordhubError
from ngsi import projection
from ngsi import store as ngsi_store
from schemas.dcat import Profile, ShapesStore, validate_dcat
from schemas.findings import Finding, Severity
from schemas.gbfs import validate_gbfs
from schemas.licences import canonical_licence
from schemas.records import RecordValidator
from schemas.sdm import SdmValidator

log = logging.getLogger(__name__)
DEFAULT_RUN_TIMEOUT = 300.0
REMOVAL_THRESHOLD = 0.5  # a run that would remove more than this share of a source's records is held
KEEP_PAYLOAD_RUNS = 20
FULL_RUN_INTERVAL = timedelta(hours=24)  # incremental-capable sources still run in full this often


class UnsupportedSourceKind(BadRequest):
    """The source's kind has no adapter in this version of the hub."""


class HeldAsSuspicious(NordhubError):
    """The run would remove too much of what the source published: nothing is committed without --force."""


@dataclass(slots=True)
class RunReport:
    """What a run did, as returned to the CLI and the API."""

    run_id: int | None
    source_id: str
    status: RunStatus
    mode: RunMode = RunMode.FULL
    counts: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    error: str | None = None
    duration: float = 0.0
    ttl: int | None = None  # the producer's freshness promise (GBFS), for the scheduler

    @property
    def ok(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED_WITH_ERRORS)


@dataclass(slots=True)
class _Plan:
    city: City
    source: Source
    adapter: SourceAdapter
    mode: RunMode
    session: FetchSession
    since: datetime | None = None
    force: bool = False
    good_run: int | None = None
    catalogue_items: list[ItemRow] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def _lock_key(source_id: str) -> int:
    return int.from_bytes(hashlib.sha256(source_id.encode()).digest()[:8], "big", signed=True)


def _validated(batch: HarvestBatch, city: City, validator: RecordValidator) -> list[Record]:
    bbox = (city.bbox.min_lon, city.bbox.min_lat, city.bbox.max_lon, city.bbox.max_lat)
    for record in batch.records:
        if record.dataset is not None:
            record.findings.extend(dataset_findings(record.dataset))
        if record.entity is None:
            continue
        record.findings.extend(validator.check(record.entity, bbox))
        if any(f.severity is Severity.ERROR for f in record.findings):
            record.entity = None  # quarantined: kept as an item with its findings, not published
    return batch.records


def dataset_findings(dataset: Dataset) -> list[Finding]:
    """Catalogue records are published even when incomplete (they stay findable), with warnings that say what the
    DCAT-AP output had to fill in and which licence could not be recognised."""
    found = missing_mandatory(dataset)
    for distribution in dataset.distributions:
        if not distribution.access_url.startswith(("http://", "https://")):
            found.append(
                Finding(
                    "dcat.access-url",
                    Severity.WARNING,
                    f"<{dataset.uri}> dcat:accessURL",
                    f"access URL {distribution.access_url!r} is not an http(s) URL",
                )
            )
    if dataset.licence and canonical_licence(dataset.licence) is None:
        found.append(
            Finding(
                "dcat.licence-unknown",
                Severity.WARNING,
                f"<{dataset.uri}> dct:license",
                f"licence {dataset.licence!r} is not one the hub recognises: reported, not guessed",
            )
        )
    return found


def _feed_items(batch: HarvestBatch, city: City, validator: RecordValidator) -> list[ItemRow]:
    """The feed files of the batch (GBFS) checked as a whole: official schemas and cross-file rules, one item per
    feed that has findings (``feed:<name>``; invalid when it has errors)."""
    systems: dict[str, dict[str, Any]] = {}
    for key, doc in batch.documents.items():
        system, _, feed = key.rpartition("/")
        systems.setdefault(system, {})[feed] = doc
    bbox = (city.bbox.min_lon, city.bbox.min_lat, city.bbox.max_lon, city.bbox.max_lat)
    store = None if validator.structural_only else validator.sdm.store
    items = []
    for system, files in systems.items():
        report = validate_gbfs(files, bbox=bbox, store=store)
        for feed, found in report.findings.items():
            state = ItemStatus.INVALID if any(f.severity is Severity.ERROR for f in found) else ItemStatus.UNCHANGED
            name = f"feed:{system}/{feed}" if system else f"feed:{feed}"
            items.append(ItemRow(name, state, [f.to_dict() for f in found]))
    return items


SHACL_MAX_TRIPLES = 500_000  # beyond this, a run skips the whole-catalogue SHACL check (and says so)


def catalogue_findings(batch: HarvestBatch, records: list[Record], shapes: ShapesStore) -> list[ItemRow]:
    """The harvested DCAT graph checked against the DCAT-AP 3.0.1 base shapes: each finding goes to the dataset it
    is about (published all the same: the catalogue output fills what is missing), the rest to ``feed:catalogue``."""
    triples = batch.documents.get(RDF_DOCUMENT)
    if triples is None or not len(triples):
        return []
    if len(triples) > SHACL_MAX_TRIPLES:
        note = Finding("dcat.shacl-skipped", Severity.INFO, "", f"{len(triples)} triples: SHACL check skipped")
        return [ItemRow("feed:catalogue", ItemStatus.UNCHANGED, [note.to_dict()])]
    graph = Graph().parse(data="\n".join(f"{s} {p} {o} ." for s, p, o in triples), format="nt")
    report = validate_dcat(graph, shapes=shapes, profile=Profile.BASE)
    by_uri = {r.dataset.uri: r for r in records if r.dataset is not None}
    rest = []
    for finding in report.findings:
        record = by_uri.get(finding.pointer.split(" ")[0].strip("<>"))
        if record is not None:
            record.findings.append(finding)
        else:
            rest.append(finding.to_dict())
    return [ItemRow("feed:catalogue", ItemStatus.UNCHANGED, rest)] if rest else []


def _busy(source_id: str, mode: RunMode) -> RunReport:
    """The report of a run that did not start because the source is being harvested (here or by another hub)."""
    message = "another run of this source is in progress (here or on another hub instance)"
    return RunReport(None, source_id, RunStatus.CANCELLED, mode, error=message)


def _item(record: Record, state: ItemStatus) -> ItemRow:
    return ItemRow(record.record_id, state, [f.to_dict() for f in record.findings])


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
        validator: RecordValidator | None = None,
    ) -> None:
        self.db = db
        # Without a schema store only the NGSI-LD structure is checked; every run report says which it was.
        self.validator = validator or RecordValidator(SdmValidator(None))
        self.registry = registry
        self.client = client
        self.run_timeout = run_timeout
        self.clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        # One connection holds every advisory lock of this harvester, so concurrent runs never hold two pool slots.
        self._lock_conn: Connection | None = None
        self._lock_guard = asyncio.Lock()
        self._shape_store: ShapesStore | None = None

    async def run(
        self, source_id: str, *, dry_run: bool = False, force: bool = False, mode: RunMode | None = None
    ) -> RunReport:
        """Harvest one source now; never raises for a failing source (the report says what happened)."""
        city, source, adapter = self._resolve(source_id)
        async with self._source_lock(source.id) as locked:
            if not locked:
                return _busy(source.id, RunMode.FULL)
            plan = await anyio.to_thread.run_sync(self._plan, city, source, adapter, dry_run, force, mode)
            return await self._execute(plan, dry_run)

    async def reimport(self, source_id: str, *, run_id: int | None = None, force: bool = False) -> RunReport:
        """Re-transform and re-validate the stored payloads of a run (default: the last good one), no network."""
        city, source, adapter = self._resolve(source_id)
        with self.db.connect() as conn:
            if run_id is None:
                good = runs.last_good_run(conn, source.id)
                run_id = None if good is None else int(good["id"])
            payloads = {} if run_id is None else runs.load_payloads(conn, run_id)
        if not payloads:
            raise BadRequest(f"source {source.id!r}: no stored payloads to re-import (run {run_id})")
        async with self._source_lock(source.id) as locked:
            if not locked:
                return _busy(source.id, RunMode.REIMPORT)
            session = FetchSession(replay=payloads)
            plan = _Plan(city, source, adapter, RunMode.REIMPORT, session, force=force, good_run=run_id)
            return await self._execute(plan, False)

    def _resolve(self, source_id: str) -> tuple[City, Source, SourceAdapter]:
        city, source = self.registry.source(source_id)
        adapter = adapter_for(source.kind)
        if adapter is None:
            raise UnsupportedSourceKind(f"source {source.id!r}: kind {source.kind.value!r} cannot be harvested yet")
        return city, source, adapter

    def _plan(
        self, city: City, source: Source, adapter: SourceAdapter, dry_run: bool, force: bool, mode: RunMode | None
    ) -> _Plan:
        with self.db.connect() as conn:
            good = runs.last_good_run(conn, source.id)
            full = runs.last_good_run(conn, source.id, mode=RunMode.FULL)
            previous = runs.load_payloads(conn, int(good["id"])) if good else {}
        incremental_ok = hasattr(adapter, "harvest_since") and good is not None and full is not None
        recent_full = full is not None and self.clock() - datetime.fromisoformat(full["started_at"]) < FULL_RUN_INTERVAL
        chosen = mode or (RunMode.INCREMENTAL if incremental_ok and recent_full else RunMode.FULL)
        if chosen is RunMode.INCREMENTAL and not incremental_ok:
            chosen = RunMode.FULL
        since = datetime.fromisoformat(good["started_at"]) if good and chosen is RunMode.INCREMENTAL else None
        mode_used = RunMode.PREVIEW if dry_run else chosen
        return _Plan(
            city,
            source,
            adapter,
            mode_used,
            FetchSession(previous=previous),
            since,
            force,
            int(good["id"]) if good else None,
        )

    @asynccontextmanager
    async def _source_lock(self, source_id: str) -> AsyncIterator[bool]:
        """One run per source: an asyncio lock here, plus a PostgreSQL advisory lock across hub instances."""
        local = self._locks.setdefault(source_id, asyncio.Lock())
        if local.locked():
            yield False
            return
        async with local:
            if self.db.dialect != "postgresql":
                yield True
                return
            key = _lock_key(source_id)
            got = await self._advisory(_try_advisory_lock, key)
            try:
                yield got
            finally:
                if got:
                    await self._advisory(_advisory_unlock, key)

    async def _advisory(self, action: Callable[[Connection, int], bool], key: int) -> bool:
        """Run a lock action on the harvester's one lock connection (session-level locks live on it)."""
        async with self._lock_guard:
            if self._lock_conn is None:
                self._lock_conn = await anyio.to_thread.run_sync(self.db.engine.connect)
            return await anyio.to_thread.run_sync(action, self._lock_conn, key)

    async def aclose(self) -> None:
        """Release the lock connection (its advisory locks go with it)."""
        async with self._lock_guard:
            if self._lock_conn is not None:
                await anyio.to_thread.run_sync(self._lock_conn.close)
                self._lock_conn = None

    async def _execute(self, plan: _Plan, dry_run: bool) -> RunReport:
        started = time.perf_counter()
        run_id = await anyio.to_thread.run_sync(self._start, plan, dry_run)
        report = RunReport(run_id, plan.source.id, RunStatus.RUNNING, plan.mode)
        try:
            with fetch_session(plan.session):
                async with asyncio.timeout(self.run_timeout):
                    batch = await self._fetch(plan)
            report.bytes = batch.bytes or sum(f.size for f in plan.session.fetched)
            with collection_paused():  # bulk work on a whole snapshot: see hub/collector.py
                records = _validated(batch, plan.city, self.validator)
            shapes = self._shapes()
            if shapes is not None and RDF_DOCUMENT in batch.documents:
                plan.catalogue_items = await anyio.to_thread.run_sync(catalogue_findings, batch, records, shapes)
            batch.documents.pop(RDF_DOCUMENT, None)  # a national catalogue's graph: not kept through the commit
            await anyio.to_thread.run_sync(self._commit, report, plan, batch, records, dry_run)
            if not dry_run:
                await anyio.to_thread.run_sync(self._index)
        except TimeoutError:
            report.status, report.error = RunStatus.TIMED_OUT, f"run exceeded its timeout of {self.run_timeout:g} s"
        except NordhubError as exc:
            report.status, report.error = RunStatus.FAILED, exc.detail
        except SQLAlchemyError as exc:
            log.exception("harvest of %s could not be stored", plan.source.id)
            report.status, report.error = RunStatus.FAILED, f"storing the results failed: {type(exc).__name__}"
        except Exception as exc:  # an adapter bug must end the run as failed, never leave it "running"
            log.exception("harvest of %s failed unexpectedly", plan.source.id)
            report.status, report.error = RunStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        report.duration = time.perf_counter() - started
        if not report.ok:
            await anyio.to_thread.run_sync(self._fail, report)
        log.info(
            "harvest finished",
            extra={
                "source": plan.source.id,
                "status": report.status.value,
                "mode": plan.mode.value,
                "counts": report.counts,
                "seconds": round(report.duration, 3),
            },
        )
        return report

    def _index(self) -> None:
        """Bring the query indexes up to the records just committed (ngsi/projection.py), in a transaction of its
        own: the records are safe whatever happens here, and what is left queued the next reader replays."""
        try:
            projection.ensure_current(self.db)
        except SQLAlchemyError:
            log.exception("the query indexes could not catch up after a harvest; the next read will replay them")

    def _shapes(self) -> ShapesStore | None:
        """The DCAT-AP shapes synced into the schema store (parsed once per harvester), or None without them."""
        store = self.validator.sdm.store
        if self._shape_store is None and store is not None and (store.root / "dcat-ap" / "shacl").is_dir():
            self._shape_store = ShapesStore(store.root)
        return self._shape_store

    async def _fetch(self, plan: _Plan) -> HarvestBatch:
        harvest_since = getattr(plan.adapter, "harvest_since", None)
        if plan.mode is RunMode.INCREMENTAL and harvest_since is not None:
            batch: HarvestBatch = await harvest_since(self.client, plan.city, plan.source, plan.since)
            return batch
        return await plan.adapter.harvest(self.client, plan.city, plan.source)

    def _start(self, plan: _Plan, dry_run: bool) -> int:
        with self.db.begin() as conn:
            return runs.start_run(
                conn,
                source_id=plan.source.id,
                city_id=plan.city.id,
                kind=plan.source.kind.value,
                dry_run=dry_run,
                now=self.clock(),
                mode=plan.mode,
            )

    def _fail(self, report: RunReport) -> None:
        assert report.run_id is not None
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

    def _commit(
        self, report: RunReport, plan: _Plan, batch: HarvestBatch, records: list[Record], dry_run: bool
    ) -> None:
        assert report.run_id is not None
        now = self.clock()
        with self.db.connect() as conn:
            transaction = conn.begin()
            try:
                items = self._write_records(conn, report, plan, batch, records, now)
                if dry_run:
                    transaction.rollback()  # a preview commits nothing but its own run row and items
                    transaction = conn.begin()
                elif plan.mode is not RunMode.REIMPORT:
                    runs.save_payloads(
                        conn, run_id=report.run_id, source_id=plan.source.id, fetched=plan.session.fetched, now=now
                    )
                runs.add_items(conn, report.run_id, items)
                runs.finish_run(
                    conn, report.run_id, status=report.status, now=now, counts=report.counts, size=report.bytes
                )
                if not dry_run:
                    protect = [report.run_id] + ([plan.good_run] if plan.good_run else [])
                    runs.prune_payloads(conn, source_id=plan.source.id, keep_runs=KEEP_PAYLOAD_RUNS, protect=protect)
                transaction.commit()
            except BaseException:
                transaction.rollback()
                raise

    def _write_records(
        self,
        conn: Connection,
        report: RunReport,
        plan: _Plan,
        batch: HarvestBatch,
        records: list[Record],
        now: datetime,
    ) -> list[ItemRow]:
        source, city = plan.source, plan.city
        before = ngsi_store.count_active(conn, source_id=source.id) + catalog_store.count_active(
            conn, source_id=source.id
        )
        entities = ngsi_store.upsert_entities(
            conn,
            [
                ngsi_store.EntityWrite(city.id, r.entity, scope=city.scope, source_id=source.id)
                for r in records
                if r.entity is not None
            ],
            now=now,
        )
        datasets = catalog_store.upsert_datasets(
            conn,
            source_id=source.id,
            city_id=city.id,
            datasets=[r.dataset for r in records if r.dataset],
            now=now,
            run_id=report.run_id,
        )
        removed: list[str] = []
        if batch.complete and plan.mode in (RunMode.FULL, RunMode.PREVIEW, RunMode.REIMPORT):
            keep = {r.record_id for r in records} | {r.entity["id"] for r in records if r.entity}
            removed = ngsi_store.mark_removed(conn, source_id=source.id, keep=keep, now=now)
            removed += catalog_store.mark_removed(conn, source_id=source.id, keep=keep, now=now)
            if not plan.force and before >= 2 and len(removed) > REMOVAL_THRESHOLD * before:
                raise HeldAsSuspicious(
                    f"held as suspicious: this run would remove {len(removed)} of the {before} records the source "
                    "published (upstream maintenance?); nothing was changed — re-run with --force to accept it"
                )
        states = {
            **dict.fromkeys(entities.created + datasets.created, ItemStatus.CREATED),
            **dict.fromkeys(entities.updated + datasets.updated, ItemStatus.UPDATED),
        }
        invalid = [r for r in records if not r.usable]
        items = [_item(r, states.get(r.record_id, ItemStatus.UNCHANGED)) for r in records if r.usable]
        items = [i for i in items if i.state is not ItemStatus.UNCHANGED or i.findings]
        items += [_item(r, ItemStatus.INVALID) for r in invalid]
        items += [ItemRow(record_id, ItemStatus.REMOVED, []) for record_id in removed]
        if plan.source.kind is SourceKind.GBFS:
            items += _feed_items(batch, city, self.validator)
        items += plan.catalogue_items
        report.ttl = batch.ttl
        report.counts = {
            "created": len(entities.created) + len(datasets.created),
            "updated": len(entities.updated) + len(datasets.updated),
            "unchanged": len(entities.unchanged) + len(datasets.unchanged),
            "invalid": len(invalid),
            "removed": len(removed),
            "instances": entities.instances,
            "not_modified": int(plan.session.all_not_modified),
            "structural_only": int(self.validator.structural_only),
        }
        report.status = RunStatus.SUCCEEDED_WITH_ERRORS if invalid else RunStatus.SUCCEEDED
        return items


def _try_advisory_lock(conn: Connection, key: int) -> bool:
    got = bool(conn.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (key,)).scalar())
    conn.commit()
    return got


def _advisory_unlock(conn: Connection, key: int) -> bool:
    released = bool(conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,)).scalar())
    conn.commit()
    return released


def run_summary(report: RunReport) -> dict[str, Any]:
    """A JSON-ready view of a report (CLI --json and the API)."""
    return {
        "run_id": report.run_id,
        "source_id": report.source_id,
        "status": report.status.value,
        "mode": report.mode.value,
        "counts": report.counts,
        "bytes": report.bytes,
        "error": report.error,
        "seconds": round(report.duration, 3),
    }
