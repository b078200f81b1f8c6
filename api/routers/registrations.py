"""Source registration for city data officers: ``/api/v1/cities/{city}/sources``.

A registered source starts ``pending``: an officer previews it (a dry-run harvest that commits nothing but the
run's report) and then enables it, and only then does the scheduler harvest it. DELETE disables it; its data
stays. Every change is audited. cities.toml stays the declarative base and is never changed from here: a
registration whose id cities.toml declares is a 409 naming it, and cities.toml sources are changed in the file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import require_city
from api.state import HubState, hub_state
from harvester import store as runs
from harvester.run import RunReport
from harvester.store import ItemStatus
from hub import officers
from hub.auth import Principal
from hub.cities import City, Source, SourceKind
from hub.errors import BadRequest, Conflict, NotFound, SourceUnreachable
from hub.officers import Registration, RegistrationStatus

router = APIRouter(prefix="/api/v1/cities/{city}/sources", tags=["source registration"])
State = Annotated[HubState, Depends(hub_state)]
Officer = Annotated[Principal, Depends(require_city)]
REJECTED_SHOWN = 50


class SourceIn(BaseModel):
    """A new source: the fields of a cities.toml source (headers map to environment-variable names)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: SourceKind
    url: str
    schedule: str
    title: str | None = None
    licence: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)


class SourcePatch(BaseModel):
    """A change: any of the definition's fields, or ``enabled`` (true goes live after a preview; false disables)."""

    model_config = ConfigDict(extra="forbid")

    kind: SourceKind | None = None
    url: str | None = None
    schedule: str | None = None
    title: str | None = None
    licence: str | None = None
    headers: dict[str, str] | None = None
    options: dict[str, Any] | None = None
    enabled: bool | None = None


def _city(state: HubState, city: str) -> City:
    try:
        return state.registry.city(city)
    except KeyError:
        raise NotFound(f"no member city {city!r}") from None


def _source(data: dict[str, Any]) -> Source:
    """The same rules as ``nordhub cities check``; every problem named by field."""
    try:
        return Source.model_validate({**data, "enabled": False})
    except ValidationError as exc:
        problems = [f"field {'.'.join(map(str, e['loc'])) or '(body)'!r}: {e['msg']}" for e in exc.errors()]
        raise BadRequest("; ".join(problems)) from None


async def _reachable(state: HubState, url: str) -> None:
    """The harvester's own SSRF guard (after DNS resolution); a host that does not resolve is the caller's error."""
    try:
        await state.harvester.client.check_target(url)
    except SourceUnreachable as exc:  # translated here, the one edge where a registration meets the guard
        raise BadRequest(f"field 'url': {exc.detail}") from None


def _declared_in_file(state: HubState, source_id: str) -> str | None:
    base = state.base or state.registry
    return next((c.id for c, s in base.sources() if s.id == source_id), None)


def _registration(state: HubState, city: str, source_id: str) -> Registration:
    """A registration of this city; another city's and a missing one get the same 404."""
    with state.db.connect() as conn:
        found = officers.get_registration(conn, source_id)
    if found is None or found.city != city:
        declared = _declared_in_file(state, source_id)
        if declared == city:
            raise Conflict(f"source {source_id!r} is declared in cities.toml; change it there")
        raise NotFound(f"no registered source {source_id!r} in city {city!r}")
    return found


def _audit(state: HubState, who: Principal, city: str, action: str, before: Any, after: Any, target: str) -> None:
    with state.db.begin() as conn:
        officers.record(conn, officers.Change(who.label, who.key_id, city, action, target, before, after))


@router.get("", summary="The city's sources: cities.toml ones and registered ones with their status")
def list_city_sources(state: State, city: str, officer: Officer) -> list[dict[str, Any]]:
    declared = _city(state, city).sources
    base = state.base or state.registry
    file_ids = {s.id for c, s in base.sources() if c.id == city}
    listed = [
        {**s.model_dump(mode="json"), "city": city, "origin": "cities.toml", "status": "live" if s.enabled else "off"}
        for s in declared
        if s.id in file_ids
    ]
    with state.db.connect() as conn:
        return listed + [r.public() for r in officers.list_registrations(conn, city=city)]


@router.post("", status_code=201, summary="Register a source (it starts pending; preview, then enable it)")
async def register(state: State, city: str, officer: Officer, body: SourceIn) -> dict[str, Any]:
    _city(state, city)
    source = _source(body.model_dump(exclude_none=True))
    declared = _declared_in_file(state, source.id)
    if declared is not None:
        raise Conflict(f"source id {source.id!r} is already declared in cities.toml (city {declared!r})")
    await _reachable(state, source.url)
    now = datetime.now(UTC)
    with state.db.begin() as conn:
        if officers.get_registration(conn, source.id) is not None:
            raise Conflict(f"source id {source.id!r} is already registered")
        created = officers.add_registration(conn, city, source, now=now)
        change = officers.Change(
            officer.label, officer.key_id, city, "source.register", source.id, None, created.public()
        )
        officers.record(conn, change, now=now)
    state.refresh_registry()
    return created.public()


@router.patch("/{source_id}", summary="Change a registered source, or enable (after a preview) or disable it")
async def change(state: State, city: str, source_id: str, officer: Officer, body: SourcePatch) -> dict[str, Any]:
    current = _registration(state, city, source_id)
    fields = body.model_dump(exclude_unset=True, exclude={"enabled"})
    source = None
    if fields:
        source = _source({**current.source.model_dump(mode="json", exclude={"enabled"}), **fields, "id": source_id})
        await _reachable(state, source.url)
    status = None
    if body.enabled is True:
        if source is not None or not current.previewed:
            raise Conflict(f"source {source_id!r} must be previewed before it is enabled: POST …/{source_id}/preview")
        status = RegistrationStatus.LIVE
    elif body.enabled is False:
        status = RegistrationStatus.DISABLED
    now = datetime.now(UTC)
    with state.db.begin() as conn:
        after = officers.update_registration(conn, source_id, now=now, source=source, status=status)
        action = {True: "source.enable", False: "source.disable", None: "source.change"}[body.enabled]
        change = officers.Change(
            officer.label, officer.key_id, city, action, source_id, current.public(), after.public()
        )
        officers.record(conn, change, now=now)
    state.refresh_registry()
    return after.public()


@router.delete("/{source_id}", summary="Disable a registered source (its data stays, marked by its source's status)")
def disable(state: State, city: str, source_id: str, officer: Officer) -> dict[str, Any]:
    current = _registration(state, city, source_id)
    now = datetime.now(UTC)
    with state.db.begin() as conn:
        after = officers.update_registration(conn, source_id, now=now, status=RegistrationStatus.DISABLED)
        change = officers.Change(
            officer.label, officer.key_id, city, "source.disable", source_id, current.public(), after.public()
        )
        officers.record(conn, change, now=now)
    state.refresh_registry()
    return after.public()


def _rejected(state: HubState, run_id: int | None) -> list[dict[str, Any]]:
    if run_id is None:
        return []
    with state.db.connect() as conn:
        return runs.list_items(conn, run_id, state=ItemStatus.INVALID, limit=REJECTED_SHOWN, offset=0)


def _report(report: RunReport) -> dict[str, Any]:
    links = {}
    if report.run_id is not None:
        base = f"/api/v1/runs/{report.run_id}"
        links = {"run": base, "rejected": f"{base}/items?state=invalid", "errors_csv": f"{base}/errors.csv"}
    return {
        "run_id": report.run_id,
        "status": report.status.value,
        "mode": report.mode.value,
        "error": report.error,
        "counts": {k: report.counts.get(k, 0) for k in ("created", "updated", "unchanged", "removed", "invalid")},
        "links": links,
    }


@router.post("/{source_id}/preview", summary="Dry-run harvest: what would be created, updated, removed, rejected")
async def preview(state: State, city: str, source_id: str, officer: Officer) -> dict[str, Any]:
    current = _registration(state, city, source_id)
    report = await state.harvester.run(source_id, dry_run=True)
    now = datetime.now(UTC)
    with state.db.begin() as conn:
        if report.run_id is not None:
            officers.update_registration(conn, source_id, now=now, preview_run_id=report.run_id)
        officers.record(
            conn,
            officers.Change(officer.label, officer.key_id, city, "source.preview", source_id, None, _report(report)),
            now=now,
        )
    return {**_report(report), "rejected": _rejected(state, report.run_id), "status_before": current.status.value}


@router.post("/{source_id}/harvest", summary="Harvest a live source of the city now")
async def harvest_now(state: State, city: str, source_id: str, officer: Officer) -> dict[str, Any]:
    declared = _declared_in_file(state, source_id)
    if declared != city:
        current = _registration(state, city, source_id)
        if current.status is not RegistrationStatus.LIVE:
            raise Conflict(f"source {source_id!r} is {current.status.value}: preview and enable it first")
    report = await state.harvester.run(source_id)
    _audit(state, officer, city, "source.harvest", None, _report(report), source_id)
    return _report(report)
