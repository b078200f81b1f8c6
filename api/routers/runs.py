"""Harvest health for city data officers: sources, their runs, and every rejected record with why.

Run summaries (status, counts, rules, compliance) stay public: harvest health is part of the hub's transparency.
The quarantine — a run's items and its errors.csv, and the first and last error in a summary — holds what cities
sent and the hub refused, so it is for the run's city officers and admins only.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from api.auth import Reader, optional_reader
from api.limits import MAX_INTEGER
from api.state import HubState, hub_state
from harvester import store as runs
from harvester.store import ItemStatus
from hub.auth import Principal
from hub.errors import Forbidden, NotFound

router = APIRouter(prefix="/api/v1", tags=["harvest runs"])
State = Annotated[HubState, Depends(hub_state)]
MAX_RUN_ID = 2**31 - 1  # harvest_runs.id is an INTEGER column: PostgreSQL refuses larger values with an error
RunId = Annotated[int, Path(ge=1, le=MAX_RUN_ID, description="A run's id")]


def _duration(run: dict[str, Any]) -> float | None:
    if run["finished_at"] is None:
        return None
    return (datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])).total_seconds()


@router.get("/sources", summary="Registered sources and their last run")
def list_sources(state: State) -> list[dict[str, Any]]:
    with state.db.connect() as conn:
        last = {r["source_id"]: r for r in runs.latest_runs(conn)}
    return [
        {
            "id": s.id,
            "city": c.id,
            "kind": s.kind.value,
            "url": s.url,
            "schedule": s.schedule.text,
            "enabled": s.enabled,
            "title": s.title,
            "last_run": last.get(s.id),
        }
        for c, s in state.registry.sources()
    ]


@router.get("/sources/{source_id}/runs", summary="Runs of one source, newest first")
def source_runs(state: State, source_id: str, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    try:
        state.registry.source(source_id)
    except KeyError:
        raise NotFound(f"no source {source_id!r}") from None
    with state.db.connect() as conn:
        return runs.list_runs(conn, source_id=source_id, limit=limit)


def _run_or_404(state: HubState, run_id: int) -> dict[str, Any]:
    with state.db.connect() as conn:
        run = runs.get_run(conn, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def _quarantine_run(state: HubState, caller: Principal, run_id: int) -> dict[str, Any]:
    """A run whose quarantine the caller may read. For an officer an unknown run and another city's run get the
    same 403, so run ids cannot be probed."""
    with state.db.connect() as conn:
        run = runs.get_run(conn, run_id)
    if caller.is_admin:
        if run is None:
            raise NotFound(f"no run {run_id}")
        return run
    if run is None or run["city_id"] != caller.city:
        raise Forbidden(f"this key reads the quarantine of city {caller.city!r}'s runs only")
    return run


MaybeReader = Annotated[Principal | None, Depends(optional_reader)]


@router.get("/runs/{run_id}", summary="One run: counts per item state, bytes, duration, first and last error")
def run_detail(state: State, reader: MaybeReader, run_id: RunId) -> dict[str, Any]:
    run = _run_or_404(state, run_id)
    with state.db.connect() as conn:
        first, last = runs.error_bounds(conn, run_id)
        items = runs.item_counts(conn, run_id)
        rules = Counter(f"{f.get('severity')}:{f.get('rule')}" for _r, _s, f in runs.iter_findings(conn, run_id))
    counts = run["counts"]
    valid = sum(counts.get(k, 0) for k in ("created", "updated", "unchanged"))
    total = valid + counts.get("invalid", 0)
    return {
        **run,
        "seconds": _duration(run),
        "items": items,
        "rules": dict(sorted(rules.items())),
        # MIM2 compliance: the share of the records the source offered that passed validation
        "compliance": round(valid / total, 4) if total else None,
        # the first and last error quote quarantined records: officers of the run's city and admins only
        "first_error": first if reader is not None and reader.may_manage(run["city_id"]) else None,
        "last_error": last if reader is not None and reader.may_manage(run["city_id"]) else None,
        "errors_csv": f"/api/v1/runs/{run_id}/errors.csv",
    }


@router.get("/runs/{run_id}/items", summary="The items of a run, by state (e.g. state=invalid)")
def run_items(
    state: State,
    caller: Reader,
    run_id: RunId,
    item_state: Annotated[ItemStatus | None, Query(alias="state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INTEGER)] = 0,
) -> dict[str, Any]:
    _quarantine_run(state, caller, run_id)
    with state.db.connect() as conn:
        items = runs.list_items(conn, run_id, state=item_state, limit=limit, offset=offset)
        total = runs.item_counts(conn, run_id)
    count = total.get(item_state.value, 0) if item_state else sum(total.values())
    return {"run_id": run_id, "state": item_state, "total": count, "limit": limit, "offset": offset, "items": items}


CSV_COLUMNS = ("record_id", "state", "severity", "rule", "pointer", "message")


@router.get(
    "/runs/{run_id}/errors.csv",
    summary="Every finding of a run as CSV (no cap)",
    responses={200: {"description": "One row per finding", "content": {"text/csv": {}}}},
)
def run_errors_csv(state: State, caller: Reader, run_id: RunId) -> StreamingResponse:
    _quarantine_run(state, caller, run_id)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        with state.db.connect() as conn:
            for record_id, item_state, finding in runs.iter_findings(conn, run_id):
                writer.writerow(
                    [
                        record_id,
                        item_state,
                        finding.get("severity"),
                        finding.get("rule"),
                        finding.get("pointer"),
                        finding.get("message"),
                    ]
                )
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="run-{run_id}-errors.csv"'}
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)
