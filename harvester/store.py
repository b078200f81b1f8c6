"""The only code that issues SQL on the harvest tables (runs and their items)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, desc, func, insert, select, update

from harvester.fetchlog import Fetched, StoredFetch
from harvester.tables import harvest_items, harvest_payloads, harvest_run_payloads, harvest_runs


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SUCCEEDED_WITH_ERRORS = "succeeded_with_errors"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


class ItemStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    FAILED = "failed"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class ItemRow:
    record_id: str
    state: ItemStatus
    findings: list[dict[str, Any]]


class RunMode(StrEnum):
    FULL = "full"  # every record listed: absent ones may be marked removed
    INCREMENTAL = "incremental"  # only what changed since the last good run
    REIMPORT = "reimport"  # re-transform and re-validate stored payloads, no network
    PREVIEW = "preview"  # dry run: nothing but the run row is committed


def start_run(
    conn: Connection,
    *,
    source_id: str,
    city_id: str,
    kind: str,
    dry_run: bool,
    now: datetime,
    mode: RunMode = RunMode.FULL,
) -> int:
    """Insert a run in state ``running`` and return its id."""
    result = conn.execute(
        insert(harvest_runs).values(
            mode=mode.value,
            source_id=source_id,
            city_id=city_id,
            kind=kind,
            status=RunStatus.RUNNING.value,
            dry_run=dry_run,
            started_at=now,
            counts="{}",
            bytes=0,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def finish_run(
    conn: Connection,
    run_id: int,
    *,
    status: RunStatus,
    now: datetime,
    counts: dict[str, int],
    size: int,
    error: str | None = None,
) -> None:
    conn.execute(
        update(harvest_runs)
        .where(harvest_runs.c.id == run_id)
        .values(status=status.value, finished_at=now, counts=orjson.dumps(counts).decode(), bytes=size, error=error)
    )


def add_items(conn: Connection, run_id: int, items: Sequence[ItemRow]) -> None:
    if items:
        conn.execute(
            insert(harvest_items),
            [
                {
                    "run_id": run_id,
                    "record_id": i.record_id,
                    "state": i.state.value,
                    "findings": orjson.dumps(i.findings).decode(),
                }
                for i in items
            ],
        )


def reap_running(conn: Connection, *, now: datetime) -> int:
    """Mark runs left ``running`` by a crash or restart as failed; returns how many."""
    result = conn.execute(
        update(harvest_runs)
        .where(harvest_runs.c.status == RunStatus.RUNNING.value)
        .values(status=RunStatus.FAILED.value, finished_at=now, error="interrupted: the hub stopped during the run")
    )
    return int(result.rowcount or 0)


def _run_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "mode": row.mode,
        "source_id": row.source_id,
        "city_id": row.city_id,
        "kind": row.kind,
        "status": row.status,
        "dry_run": row.dry_run,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "counts": orjson.loads(row.counts),
        "bytes": row.bytes,
        "error": row.error,
    }


def get_run(conn: Connection, run_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(harvest_runs).where(harvest_runs.c.id == run_id)).first()
    return None if row is None else _run_dict(row)


def list_runs(conn: Connection, *, source_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    stmt = select(harvest_runs).order_by(desc(harvest_runs.c.id)).limit(limit)
    if source_id is not None:
        stmt = stmt.where(harvest_runs.c.source_id == source_id)
    return [_run_dict(row) for row in conn.execute(stmt)]


def list_items(
    conn: Connection, run_id: int, *, state: ItemStatus | None = None, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    stmt = select(harvest_items).where(harvest_items.c.run_id == run_id).order_by(harvest_items.c.id)
    if state is not None:
        stmt = stmt.where(harvest_items.c.state == state.value)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return [
        {"record_id": r.record_id, "state": r.state, "findings": orjson.loads(r.findings)} for r in conn.execute(stmt)
    ]


def iter_findings(conn: Connection, run_id: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every finding of a run, in item order: (record id, item state, finding). Streams; no cap."""
    stmt = (
        select(harvest_items.c.record_id, harvest_items.c.state, harvest_items.c.findings)
        .where(harvest_items.c.run_id == run_id)
        .order_by(harvest_items.c.id)
        .execution_options(yield_per=1000)
    )
    for row in conn.execute(stmt):
        for finding in orjson.loads(row.findings):
            yield row.record_id, row.state, finding


def item_counts(conn: Connection, run_id: int) -> dict[str, int]:
    stmt = (
        select(harvest_items.c.state, func.count())
        .where(harvest_items.c.run_id == run_id)
        .group_by(harvest_items.c.state)
    )
    return {state: int(n) for state, n in conn.execute(stmt).all()}


def error_bounds(conn: Connection, run_id: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The first and the last item of a run that carries an error finding."""
    stmt = select(harvest_items.c.record_id, harvest_items.c.findings).where(
        and_(harvest_items.c.run_id == run_id, harvest_items.c.findings.like('%"severity":"error"%'))
    )
    first = conn.execute(stmt.order_by(harvest_items.c.id).limit(1)).first()
    last = conn.execute(stmt.order_by(desc(harvest_items.c.id)).limit(1)).first()

    def shape(row: Any) -> dict[str, Any] | None:
        if row is None:
            return None
        errors = [f for f in orjson.loads(row.findings) if f.get("severity") == "error"]
        return {"record_id": row.record_id, **errors[0]} if errors else None

    return shape(first), shape(last)


GOOD = (RunStatus.SUCCEEDED.value, RunStatus.SUCCEEDED_WITH_ERRORS.value)


def last_good_run(conn: Connection, source_id: str, *, mode: RunMode | None = None) -> dict[str, Any] | None:
    """The newest succeeded, non-preview run of a source (of one mode, if given)."""
    stmt = (
        select(harvest_runs)
        .where(
            and_(
                harvest_runs.c.source_id == source_id,
                harvest_runs.c.status.in_(GOOD),
                harvest_runs.c.dry_run.is_(False),
            )
        )
        .order_by(desc(harvest_runs.c.id))
        .limit(1)
    )
    if mode is not None:
        stmt = stmt.where(harvest_runs.c.mode == mode.value)
    row = conn.execute(stmt).first()
    return None if row is None else _run_dict(row)


def save_payloads(conn: Connection, *, run_id: int, source_id: str, fetched: Sequence[Fetched], now: datetime) -> int:
    """Link a run to the payloads it fetched, storing each distinct body once (zlib); returns bytes stored."""
    stored = 0
    for seq, fetch in enumerate(fetched):
        existing = conn.execute(
            select(harvest_payloads.c.id)
            .where(
                and_(
                    harvest_payloads.c.source_id == source_id,
                    harvest_payloads.c.sha256 == fetch.sha256,
                    harvest_payloads.c.url == fetch.url,
                )
            )
            .limit(1)
        ).scalar()
        if existing is None:
            existing = conn.execute(
                insert(harvest_payloads).values(
                    source_id=source_id,
                    url=fetch.url,
                    sha256=fetch.sha256,
                    size=fetch.size,
                    headers=orjson.dumps(dict(fetch.headers)).decode(),
                    fetched_at=now,
                    body=fetch.compressed,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            stored += len(fetch.compressed)
        conn.execute(
            insert(harvest_run_payloads).values(
                run_id=run_id, seq=seq, payload_id=existing, url=fetch.requested, not_modified=fetch.not_modified
            )
        )
    return stored


def load_payloads(conn: Connection, run_id: int) -> dict[str, StoredFetch]:
    """Requested URL → stored payload of every fetch of a run (for conditional GET and re-import)."""
    rows = conn.execute(
        select(
            harvest_run_payloads.c.url.label("requested"),
            harvest_payloads.c.url,
            harvest_payloads.c.headers,
            harvest_payloads.c.body,
        )
        .join(harvest_payloads, harvest_payloads.c.id == harvest_run_payloads.c.payload_id)
        .where(harvest_run_payloads.c.run_id == run_id)
        .order_by(harvest_run_payloads.c.seq)
    )
    return {r.requested: StoredFetch(r.url, orjson.loads(r.headers), zlib.decompress(r.body)) for r in rows}


def prune_payloads(conn: Connection, *, source_id: str, keep_runs: int, protect: Sequence[int] = ()) -> int:
    """Forget the payloads of all but the newest ``keep_runs`` runs of a source (and ``protect``); returns rows."""
    recent = (
        select(harvest_runs.c.id)
        .where(harvest_runs.c.source_id == source_id)
        .order_by(desc(harvest_runs.c.id))
        .limit(keep_runs)
    )
    keep = {r[0] for r in conn.execute(recent)} | set(protect)
    runs_of_source = select(harvest_runs.c.id).where(harvest_runs.c.source_id == source_id)
    stmt = delete(harvest_run_payloads).where(harvest_run_payloads.c.run_id.in_(runs_of_source))
    if keep:
        stmt = stmt.where(harvest_run_payloads.c.run_id.not_in(keep))
    conn.execute(stmt)
    linked = select(harvest_run_payloads.c.payload_id)
    result = conn.execute(
        delete(harvest_payloads).where(
            and_(harvest_payloads.c.source_id == source_id, harvest_payloads.c.id.not_in(linked))
        )
    )
    return int(result.rowcount or 0)


def payload_bytes(conn: Connection, source_id: str) -> int:
    stmt = select(func.coalesce(func.sum(func.length(harvest_payloads.c.body)), 0)).where(
        harvest_payloads.c.source_id == source_id
    )
    return int(conn.execute(stmt).scalar_one())


def latest_runs(conn: Connection) -> list[dict[str, Any]]:
    """The newest run of every source."""
    newest = select(func.max(harvest_runs.c.id)).group_by(harvest_runs.c.source_id)
    stmt = select(harvest_runs).where(harvest_runs.c.id.in_(newest))
    return [_run_dict(row) for row in conn.execute(stmt)]
