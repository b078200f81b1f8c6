"""The audit log: who (the key's label) changed what, when, with the object before and after."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.auth import Reader, check_city
from api.state import HubState, hub_state
from hub import officers

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
State = Annotated[HubState, Depends(hub_state)]


@router.get("", summary="Audit entries, newest first: every entry for admins, their city's for officers")
def audit(
    state: State,
    caller: Reader,
    city: Annotated[str | None, Query(description="Only this city's entries (an officer: own city)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    if not caller.is_admin:
        city = city or caller.city
        assert city is not None
        check_city(caller, city)
    with state.db.connect() as conn:
        entries = officers.audit_entries(conn, city=city, limit=limit, offset=offset)
    return {"city": city, "limit": limit, "offset": offset, "entries": entries}
