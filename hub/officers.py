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
from sqlalchemy import Connection, insert, select

from hub.auth_tables import audit_log


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
