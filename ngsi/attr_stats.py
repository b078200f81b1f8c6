"""Attribute statistics behind NGSI-LD discovery: how many entities of each type have each attribute, by type.

One row per (tenant, entity type value, attribute name, attribute type) with the number of live entities having
it, and one per (tenant, entity type value) with the number of its entities. ``ngsi.store`` keeps it in the
write's transaction from the difference between an entity's stored and new signature (:func:`signature`), so a
harvest that changes values but not the shape of its entities writes nothing here, and discovery reads a table of
a few hundred rows instead of grouping the attribute index (measured at 100,000 entities: seconds against
milliseconds, see ``bench/ngsi_discovery.py``). Rows that fall to zero are kept (and skipped by readers): a
harvest brings the same shapes back.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, TypeAlias

import orjson
from sqlalchemy import Column, Connection, Integer, String, Table, delete, select, tuple_

from hub.db import metadata
from ngsi.tables import entities

NAME_MAX = 256
ENTITY = ""  # no attribute has an empty name
TYPE_MAX = 64
_NOT_ATTRIBUTES = frozenset({"id", "type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt", "expiresAt"})

attr_stats = Table(
    "ngsi_attr_stats",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("type", String(256), primary_key=True),  # entities.type: a type, or a type set (ngsi.tables.type_sets)
    Column("attr", String(NAME_MAX), primary_key=True),
    Column("attr_type", String(TYPE_MAX), primary_key=True),
    Column("entities", Integer, nullable=False),
)

# (entities.type value, attribute name, attribute type); ENTITY as the name counts the entities of the type.
Key: TypeAlias = tuple[str, str, str]


def signature(entity: dict[str, Any], type_value: str) -> set[Key]:
    """The (type, attribute, attribute type) triples one stored entity counts for; (type, '', '') counts it."""
    keys: set[Key] = {(type_value, ENTITY, "")}
    for name, member in entity.items():
        if name in _NOT_ATTRIBUTES or len(name) > NAME_MAX:
            continue
        for instance in member if isinstance(member, list) else [member]:
            kind = instance.get("type") if isinstance(instance, dict) else None
            if isinstance(kind, str) and len(kind) <= TYPE_MAX:
                keys.add((type_value, name, kind))
    return keys


def apply(conn: Connection, tenant: str, deltas: Counter[Key]) -> None:
    """Add ``deltas`` (entities gained or lost per key) to the counts of ``tenant``."""
    rows = [(tenant, *key, n) for key, n in sorted(deltas.items()) if n]
    if not rows:
        return
    mark = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
    sql = (
        f"INSERT INTO ngsi_attr_stats (tenant, type, attr, attr_type, entities) VALUES ({', '.join([mark] * 5)}) "
        "ON CONFLICT (tenant, type, attr, attr_type) DO UPDATE SET entities = ngsi_attr_stats.entities + "
        "excluded.entities"
    )
    conn.exec_driver_sql(sql, rows)


def tenants(conn: Connection) -> tuple[str, ...]:
    """The tenants holding live entities, sorted: every live entity counts for its type's ENTITY row."""
    where = (attr_stats.c.attr == ENTITY, attr_stats.c.entities > 0)
    stmt = select(attr_stats.c.tenant).where(*where).distinct().order_by(attr_stats.c.tenant)
    return tuple(conn.execute(stmt).scalars())


def forget(conn: Connection, tenant: str, stored: list[tuple[str, str]]) -> None:
    """Entities leaving ``tenant`` (deleted or marked removed), given as (type value, stored JSON)."""
    deltas: Counter[Key] = Counter()
    for type_value, data in stored:
        deltas.subtract(signature(orjson.loads(data), type_value))
    apply(conn, tenant, deltas)


def rebuild_stats(conn: Connection, *, batch: int = 1000) -> None:
    """Count every live entity from scratch (the migration that creates the table runs it)."""
    conn.execute(delete(attr_stats))
    after = ("", "")
    while True:
        stmt = (
            select(entities.c.tenant, entities.c.id, entities.c.type, entities.c.data)
            .where(entities.c.removed.is_(False), tuple_(entities.c.tenant, entities.c.id) > after)
            .order_by(entities.c.tenant, entities.c.id)
            .limit(batch)
        )
        page = conn.execute(stmt).all()
        if not page:
            return
        for tenant in dict.fromkeys(row.tenant for row in page):
            deltas: Counter[Key] = Counter()
            for row in page:
                if row.tenant == tenant:
                    deltas.update(signature(orjson.loads(row.data), row.type))
            apply(conn, tenant, deltas)
        after = (page[-1].tenant, page[-1].id)
