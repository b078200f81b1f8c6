"""The store of source registrations and the audit log: the only code that issues SQL on those tables.

cities.toml stays the declarative base; sources registered through the API live in ``registered_sources`` and
are laid over it by :func:`merge`. A registration's life: ``pending`` (registered or changed, not harvested on
schedule) → preview → ``live`` (enabled by an officer) → ``disabled`` (DELETE; its data stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.auth_tables import audit_log, registered_sources
from hub.cities import Registry, Source
from hub.errors import Conflict


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    LIVE = "live"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Change:
    """One audited change: who (the key's label), on which city, what, and the object before and after."""

    actor: str
    key_id: int | None
    city: str | None
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def record(conn: Connection, change: Change, *, now: datetime | None = None) -> None:
    """Write one audit entry in the caller's transaction, so a change and its audit commit together."""
    conn.execute(
        insert(audit_log).values(
            at=now or datetime.now(UTC),
            actor=change.actor,
            key_id=change.key_id,
            city=change.city,
            action=change.action,
            target=change.target,
            before=_json(change.before),
            after=_json(change.after),
        )
    )


def audit_entries(conn: Connection, *, city: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    """Audit entries, newest first; only ``city``'s when a city is given."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    if city is not None:
        query = query.where(audit_log.c.city == city)
    return [
        {
            "id": int(row["id"]),
            "at": row["at"].isoformat(),
            "actor": row["actor"],
            "key_id": row["key_id"],
            "city": row["city"],
            "action": row["action"],
            "target": row["target"],
            "before": None if row["before"] is None else orjson.loads(row["before"]),
            "after": None if row["after"] is None else orjson.loads(row["after"]),
        }
        for row in conn.execute(query).mappings()
    ]


@dataclass(frozen=True, slots=True)
class Registration:
    """A source registered through the API, with where it is in its life."""

    city: str
    source: Source
    status: RegistrationStatus
    previewed: bool
    preview_run_id: int | None
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """The registration as the API shows it (headers are variable names, never values)."""
        return {
            **self.source.model_dump(mode="json", exclude={"enabled"}),
            "city": self.city,
            "origin": "api",
            "status": self.status.value,
            "previewed": self.previewed,
            "preview_run_id": self.preview_run_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _registration(row: Any) -> Registration:
    return Registration(
        city=row["city"],
        source=Source.model_validate(orjson.loads(row["definition"])),
        status=RegistrationStatus(row["status"]),
        previewed=bool(row["previewed"]),
        preview_run_id=row["preview_run_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _definition(source: Source) -> str:
    return orjson.dumps(source.model_dump(mode="json", exclude={"enabled"})).decode()


def list_registrations(conn: Connection, *, city: str | None = None) -> list[Registration]:
    """Registrations, oldest first; only ``city``'s when given."""
    query = select(registered_sources).order_by(registered_sources.c.created_at, registered_sources.c.id)
    if city is not None:
        query = query.where(registered_sources.c.city == city)
    return [_registration(row) for row in conn.execute(query).mappings()]


def get_registration(conn: Connection, source_id: str) -> Registration | None:
    row = conn.execute(select(registered_sources).where(registered_sources.c.id == source_id)).mappings().first()
    return None if row is None else _registration(row)


def add_registration(conn: Connection, city: str, source: Source, *, now: datetime) -> Registration:
    """Store a new registration as ``pending``: it is not harvested on schedule until enabled after a preview.

    Two registrations of one id racing each other both pass the caller's look-up; the primary key decides, and the
    loser gets the same 409 as a registration of a known id (never a 500)."""
    try:
        _insert_registration(conn, city, source, now=now)
    except IntegrityError:
        raise Conflict(f"source id {source.id!r} is already registered") from None
    found = get_registration(conn, source.id)
    assert found is not None
    return found


def _insert_registration(conn: Connection, city: str, source: Source, *, now: datetime) -> None:
    conn.execute(
        insert(registered_sources).values(
            id=source.id,
            city=city,
            status=RegistrationStatus.PENDING.value,
            definition=_definition(source),
            previewed=False,
            preview_run_id=None,
            created_at=now,
            updated_at=now,
        )
    )


def update_registration(
    conn: Connection,
    source_id: str,
    *,
    now: datetime,
    source: Source | None = None,
    status: RegistrationStatus | None = None,
    preview_run_id: int | None = None,
) -> Registration:
    """Change a registration. A new definition resets it to pending and unpreviewed; a preview run marks it
    previewed (for the definition it was run on)."""
    values: dict[str, Any] = {"updated_at": now}
    if source is not None:
        values.update(definition=_definition(source), previewed=False, preview_run_id=None)
        values["status"] = RegistrationStatus.PENDING.value
    if status is not None:
        values["status"] = status.value
    if preview_run_id is not None:
        values.update(previewed=True, preview_run_id=preview_run_id)
    conn.execute(update(registered_sources).where(registered_sources.c.id == source_id).values(**values))
    found = get_registration(conn, source_id)
    assert found is not None
    return found


def merge(base: Registry, registrations: list[Registration]) -> tuple[Registry, list[str]]:
    """cities.toml with the registrations laid over it, and every conflict named (such a registration is left
    out, never silently merged). Only live registrations are enabled; pending and disabled ones stay listed so
    they can be previewed and their data keeps naming its source."""
    taken = {source.id: city.id for city, source in base.sources()}
    cities = {city.id for city in base.cities}
    extra: dict[str, list[Source]] = {}
    conflicts: list[str] = []
    for reg in registrations:
        if reg.source.id in taken:
            conflicts.append(
                f"registered source {reg.source.id!r} (city {reg.city!r}) is also declared in cities.toml "
                f"(city {taken[reg.source.id]!r}); the cities.toml one is used"
            )
            continue
        if reg.city not in cities:
            conflicts.append(f"registered source {reg.source.id!r}: city {reg.city!r} is not in cities.toml")
            continue
        taken[reg.source.id] = reg.city
        enabled = reg.status is RegistrationStatus.LIVE
        extra.setdefault(reg.city, []).append(reg.source.model_copy(update={"enabled": enabled}))
    merged = [c.model_copy(update={"sources": [*c.sources, *extra.get(c.id, [])]}) for c in base.cities]
    return Registry(cities=merged), conflicts
