"""``GET /health``: is the database reachable, are migrations current, is the scheduler running."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.state import HubState, hub_state
from hub import __version__
from hub.errors import DatabaseError

router = APIRouter(tags=["health"])


def _database(state: HubState) -> dict[str, Any]:
    try:
        state.db.ping()
        current, head = state.db.current_revision(), state.db.head_revision()
    except DatabaseError as exc:
        return {"reachable": False, "error": exc.detail, "migrations_current": False}
    return {
        "reachable": True,
        "dialect": state.db.dialect,
        "revision": current,
        "head": head,
        "migrations_current": current == head,
    }


def _scheduler(state: HubState) -> dict[str, Any]:
    scheduler = state.scheduler
    if scheduler is None:
        return {"enabled": state.settings.scheduler_enabled, "running": False, "jobs": 0}
    return {"enabled": True, "running": bool(scheduler.running), "jobs": len(scheduler.get_jobs())}


@router.get("/health", summary="Health of the hub")
def health(state: Annotated[HubState, Depends(hub_state)]) -> JSONResponse:
    """200 when the database answers and its schema is current; 503 otherwise."""
    database = _database(state)
    ok = database["reachable"] and database["migrations_current"]
    body = {
        "status": "ok" if ok else "unavailable",
        "version": __version__,
        "database": database,
        "scheduler": _scheduler(state),
    }
    return JSONResponse(body, status_code=200 if ok else 503)
