"""The only code that issues SQL on the harvest tables (runs and their items)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, desc, insert, select, update

from harvester.tables import harvest_items, harvest_runs


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


def start_run(conn: Connection, *, source_id: str, city_id: str, kind: str, dry_run: bool, now: datetime) -> int:
    """Insert a run in state ``running`` and return its id."""
    result = conn.execute(
        insert(harvest_runs).values(
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


def list_items(conn: Connection, run_id: int, *, state: ItemStatus | None = None) -> list[dict[str, Any]]:
    stmt = select(harvest_items).where(harvest_items.c.run_id == run_id).order_by(harvest_items.c.id)
    if state is not None:
        stmt = stmt.where(harvest_items.c.state == state.value)
    return [
        {"record_id": r.record_id, "state": r.state, "findings": orjson.loads(r.findings)} for r in conn.execute(stmt)
    ]
