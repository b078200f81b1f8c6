"""NGSI-LD discovery (GS CIM 009 clause 4.5.10 to 4.5.13): entity types and attributes that exist, with counts.

Types and their entity counts, attributes, their types and counts all come from the attribute statistics
(``ngsi.attr_stats``, a few hundred rows kept by the store's writes), never from reading entities or grouping the
attribute index. Like ``ngsi.store`` these are read-only SQLAlchemy Core statements on the domain's own tables;
names are returned as stored (no @context compaction yet). An entity whose attribute has instances of two
attribute types counts once for each.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from ngsi.attr_stats import ENTITY, attr_stats
from ngsi.tables import type_sets


@dataclass(slots=True)
class AttributeStats:
    """What the store holds of one attribute name (within one entity type, or across all)."""

    name: str
    count: int = 0
    attribute_types: set[str] = field(default_factory=set)
    type_names: set[str] = field(default_factory=set)


def _members(type_value: str) -> list[str]:
    """The types behind an ``entities.type`` value (a type set holds several, comma-joined)."""
    return type_value.split(",")


def type_counts(conn: Connection, *, tenant: str | None) -> dict[str, int]:
    """Entity type → number of entities carrying it."""
    where = [attr_stats.c.attr == ENTITY, attr_stats.c.entities > 0]
    if tenant is not None:
        where.append(attr_stats.c.tenant == tenant)
    stmt = select(attr_stats.c.type, func.sum(attr_stats.c.entities)).where(*where).group_by(attr_stats.c.type)
    counts: dict[str, int] = defaultdict(int)
    for value, n in conn.execute(stmt):
        for member in _members(value):
            counts[member] += int(n)
    return dict(sorted(counts.items()))


def _type_values(conn: Connection, type_name: str) -> list[str]:
    """The ``entities.type`` values carrying ``type_name``: itself, and the type sets that hold it."""
    stmt = select(type_sets.c.type_set).where(type_sets.c.member == type_name)
    return [type_name, *conn.execute(stmt).scalars()]


def attribute_stats(
    conn: Connection, *, tenant: str | None, type_name: str | None = None, attr: str | None = None
) -> dict[str, AttributeStats]:
    """Attribute name → entities having it, its attribute types and the entity types having it."""
    where: list[Any] = [attr_stats.c.attr != ENTITY, attr_stats.c.entities > 0]
    if tenant is not None:
        where.append(attr_stats.c.tenant == tenant)
    if type_name is not None:
        where.append(attr_stats.c.type.in_(_type_values(conn, type_name)))
    if attr is not None:
        where.append(attr_stats.c.attr == attr)
    columns = (attr_stats.c.type, attr_stats.c.attr, attr_stats.c.attr_type)
    stmt = select(*columns, func.sum(attr_stats.c.entities)).where(*where).group_by(*columns)
    stats: dict[str, AttributeStats] = {}
    for type_value, name, attr_type, n in conn.execute(stmt):
        entry = stats.setdefault(name, AttributeStats(name))
        entry.count += int(n)
        entry.attribute_types.add(attr_type)
        entry.type_names.update(m for m in _members(type_value) if type_name is None or m == type_name)
    return dict(sorted(stats.items()))


def list_id(kind: str) -> str:
    """A fresh identifier for a list answer (EntityTypeList, AttributeList): each answer is a new resource."""
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4()}"
