"""Key management for admins: create (the key is shown once), list, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import require_admin
from api.state import HubState, hub_state
from hub import auth, officers
from hub.auth import Principal, Role
from hub.errors import NotFound

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])
State = Annotated[HubState, Depends(hub_state)]
Admin = Annotated[Principal, Depends(require_admin)]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    city: str | None = None
    label: str = Field(min_length=1, max_length=200)
    expires_at: AwareDatetime | None = None


@router.post("", status_code=201, summary="Create a key; the response holds the key, shown this once only")
def create_key(state: State, admin: Admin, body: KeyIn) -> dict[str, Any]:
    if body.city is not None:
        try:
            state.registry.city(body.city)
        except KeyError:
            raise NotFound(f"no member city {body.city!r}") from None
    now = datetime.now(UTC)
    with state.db.begin() as conn:
        key_id, token = auth.create_key(
            conn, role=body.role, city=body.city, label=body.label, now=now, expires_at=body.expires_at
        )
        shown = auth.get_key(conn, key_id, now=now)
        change = officers.Change(admin.label, admin.key_id, body.city, "key.create", f"key {key_id}", None, shown)
        officers.record(conn, change, now=now)
    assert shown is not None
    return {**shown, "key": token}


@router.get("", summary="Every key (never the key itself, nor its hash)")
def list_keys(state: State, admin: Admin) -> list[dict[str, Any]]:
    with state.db.connect() as conn:
        return auth.list_keys(conn, now=datetime.now(UTC))


@router.delete("/{key_id}", summary="Revoke a key; it stops working on the next request")
def revoke_key(state: State, admin: Admin, key_id: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    with state.db.begin() as conn:
        before = auth.revoke_key(conn, key_id, now=now)
        after = auth.get_key(conn, key_id, now=now)
        change = officers.Change(
            admin.label, admin.key_id, before["city"], "key.revoke", f"key {key_id}", before, after
        )
        officers.record(conn, change, now=now)
    assert after is not None
    return after
