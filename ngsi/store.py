"""The only code that issues SQL on the NGSI-LD tables.

Writes are bulk SQLAlchemy Core statements in the caller's transaction (the ORM is several times slower for the
harvest's batch upserts). Entities are kept as compact JSON so reads can send them without re-parsing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ngsi.tables import entities, temporal_instances

CHUNK = 500  # ids per IN (...) lookup; stays under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class EntityWrite:
    """One entity to create or update, in normalized form, under a tenant."""

    tenant: str
    entity: dict[str, Any]
    scope: str | None = None
    source_id: str | None = None

    @property
    def id(self) -> str:
        return str(self.entity["id"])


@dataclass(slots=True)
class UpsertResult:
    """Which ids a batch upsert created, updated (a value changed) or left unchanged."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    instances: int = 0


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(conn: Connection, tenant: str, ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(entities.c.id, entities.c.data).where(and_(entities.c.tenant == tenant, entities.c.id.in_(chunk)))
        )
        found.update({row.id: row.data for row in rows})
    return found


def upsert_entities(conn: Connection, writes: Sequence[EntityWrite], *, now: datetime) -> UpsertResult:
    """Create or replace entities in one batch; record each changed observed value as a temporal instance."""
    result = UpsertResult()
    by_tenant: dict[str, list[EntityWrite]] = {}
    for write in writes:
        by_tenant.setdefault(write.tenant, []).append(write)
    for tenant, group in by_tenant.items():
        old = _existing(conn, tenant, [w.id for w in group])
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for write in group:
            data = orjson.dumps(write.entity).decode()
            previous = old.get(write.id)
            if previous == data:
                result.unchanged.append(write.id)
                continue
            row = {
                "b_id": write.id,
                "type": write.entity["type"],
                "scope": write.scope,
                "data": data,
                "source_id": write.source_id,
                "modified_at": now,
            }
            if previous is None:
                inserts.append(row)
                result.created.append(write.id)
            else:
                updates.append(row)
                result.updated.append(write.id)
            history.extend(_changed_instances(tenant, write.entity, previous))
        _write(conn, tenant, inserts, updates, now)
        result.instances += _insert_history(conn, history)
    return result


def _write(
    conn: Connection, tenant: str, inserts: list[dict[str, Any]], updates: list[dict[str, Any]], now: datetime
) -> None:
    if inserts:
        conn.execute(
            insert(entities),
            [
                {
                    "tenant": tenant,
                    "id": r["b_id"],
                    "type": r["type"],
                    "scope": r["scope"],
                    "data": r["data"],
                    "source_id": r["source_id"],
                    "removed": False,
                    "created_at": now,
                    "modified_at": now,
                }
                for r in inserts
            ],
        )
    if updates:
        stmt = (
            update(entities)
            .where(and_(entities.c.tenant == tenant, entities.c.id == bindparam("b_id")))
            .values(
                type=bindparam("type"),
                scope=bindparam("scope"),
                data=bindparam("data"),
                source_id=bindparam("source_id"),
                modified_at=bindparam("modified_at"),
                removed=False,
            )
        )
        conn.execute(stmt, updates)


def _changed_instances(tenant: str, entity: dict[str, Any], previous: str | None) -> Iterable[dict[str, Any]]:
    """Instances for every attribute with ``observedAt`` whose value differs from the stored entity."""
    before: dict[str, Any] = orjson.loads(previous) if previous is not None else {}
    for name, attr in entity.items():
        if not isinstance(attr, dict) or "observedAt" not in attr or "value" not in attr:
            continue
        old = before.get(name)
        if isinstance(old, dict) and old.get("value") == attr["value"]:
            continue
        value = attr["value"]
        numeric = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        yield {
            "tenant": tenant,
            "entity_id": entity["id"],
            "attr": name,
            "ts": datetime.fromisoformat(attr["observedAt"]).timestamp(),
            "value_num": numeric,
            "value": orjson.dumps(value).decode(),
        }


def _insert_history(conn: Connection, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    # The same value observed at the same instant twice is one instance: skip duplicates on both databases.
    if conn.dialect.name == "postgresql":
        stmt: Any = postgresql.insert(temporal_instances).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(temporal_instances).on_conflict_do_nothing()
    conn.execute(stmt, rows)
    return len(rows)


def query_entities(
    conn: Connection,
    *,
    tenant: str | None,
    types: Sequence[str] = (),
    ids: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
    count: bool = False,
) -> tuple[list[str], int | None]:
    """Stored JSON of matching entities, ordered by id, and the total when ``count`` is asked."""
    conditions: list[Any] = [entities.c.removed.is_(False)]
    if tenant is not None:
        conditions.append(entities.c.tenant == tenant)
    if types:
        conditions.append(entities.c.type.in_(types))
    if ids:
        conditions.append(entities.c.id.in_(ids))
    where = and_(*conditions)
    rows = conn.execute(
        select(entities.c.data).where(where).order_by(entities.c.id, entities.c.tenant).limit(limit).offset(offset)
    )
    data = [row.data for row in rows]
    total = conn.execute(select(func.count()).select_from(entities).where(where)).scalar_one() if count else None
    return data, total


def get_entity(conn: Connection, *, tenant: str | None, entity_id: str) -> str | None:
    """Stored JSON of one entity (the first tenant holding it in the federated view), or None."""
    stmt = select(entities.c.data).where(and_(entities.c.id == entity_id, entities.c.removed.is_(False)))
    if tenant is not None:
        stmt = stmt.where(entities.c.tenant == tenant)
    row = conn.execute(stmt.order_by(entities.c.tenant).limit(1)).first()
    return None if row is None else str(row.data)


def tenant_exists(conn: Connection, tenant: str) -> bool:
    """True when any entity was ever stored under ``tenant``."""
    stmt = select(entities.c.id).where(entities.c.tenant == tenant).limit(1)
    return conn.execute(stmt).first() is not None


def count_history(conn: Connection, *, tenant: str, entity_id: str, attr: str) -> int:
    """Number of temporal instances kept for one attribute of one entity."""
    stmt = (
        select(func.count())
        .select_from(temporal_instances)
        .where(
            and_(
                temporal_instances.c.tenant == tenant,
                temporal_instances.c.entity_id == entity_id,
                temporal_instances.c.attr == attr,
            )
        )
    )
    return int(conn.execute(stmt).scalar_one())
