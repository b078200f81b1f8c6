"""NGSI-LD discovery (GS CIM 009 clause 4.5.10 to 4.5.13): entity types and attributes that exist, with counts.

Everything is answered by GROUP BY queries on the entity table (types and their counts, on the type index) and on
the attribute index joined with it (attribute names per type: one value row per attribute instance, path ''),
never by reading entities. Attribute types (Property, Relationship, GeoProperty…) are not in the index: they are
read from one representative entity per (entity type, attribute, index kind) group — a few dozen small reads.
Like ``ngsi.store`` these are read-only SQLAlchemy Core statements on the domain's own tables; names are returned
as stored (no @context compaction yet).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, select

from ngsi.attr_index import attr_index
from ngsi.tables import entities


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


def _live(tenant: str | None) -> list[Any]:
    where: list[Any] = [entities.c.removed.is_(False)]
    if tenant is not None:
        where.append(entities.c.tenant == tenant)
    return where


def type_counts(conn: Connection, *, tenant: str | None) -> dict[str, int]:
    """Entity type → number of entities carrying it."""
    stmt = select(entities.c.type, func.count()).where(*_live(tenant)).group_by(entities.c.type)
    counts: dict[str, int] = defaultdict(int)
    for value, n in conn.execute(stmt):
        for member in _members(value):
            counts[member] += n
    return dict(sorted(counts.items()))


def _groups(conn: Connection, tenant: str | None, *, type_name: str | None, attr: str | None) -> list[Any]:
    """(entity type value, attribute, kind, entities, a representative 'tenant|id') per group."""
    where = [*_live(tenant), attr_index.c.path == ""]
    if type_name is not None:
        where.append(entities.c.type.in_(_type_values(conn, type_name)))
    if attr is not None:
        where.append(attr_index.c.attr == attr)
    joined = attr_index.join(
        entities, and_(entities.c.tenant == attr_index.c.tenant, entities.c.id == attr_index.c.entity_id)
    )
    sample = func.min(attr_index.c.tenant + "|" + attr_index.c.entity_id)
    stmt = (
        select(
            entities.c.type, attr_index.c.attr, attr_index.c.kind, func.count(attr_index.c.entity_id.distinct()), sample
        )
        .select_from(joined)
        .where(*where)
        .group_by(entities.c.type, attr_index.c.attr, attr_index.c.kind)
    )
    return list(conn.execute(stmt))


def _type_values(conn: Connection, type_name: str) -> list[str]:
    stmt = select(entities.c.type).where(entities.c.type.contains(",")).group_by(entities.c.type)
    return [type_name, *(v for (v,) in conn.execute(stmt) if type_name in _members(v))]


def _attribute_types(conn: Connection, samples: Iterable[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
    """(tenant|id, attribute) → the NGSI-LD attribute types that entity's attribute has."""
    wanted = sorted(set(samples))
    keys = sorted({key for key, _attr in wanted})
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), 200):
        chunk = [key.split("|", 1) for key in keys[start : start + 200]]
        for tenant in {t for t, _ in chunk}:
            ids = [i for t, i in chunk if t == tenant]
            stmt = select(entities.c.id, entities.c.data).where(entities.c.tenant == tenant, entities.c.id.in_(ids))
            found.update({f"{tenant}|{row.id}": orjson.loads(row.data) for row in conn.execute(stmt)})
    result: dict[tuple[str, str], set[str]] = {}
    for key, attr in wanted:
        value = found.get(key, {}).get(attr)
        instances = value if isinstance(value, list) else [value]
        result[(key, attr)] = {str(i["type"]) for i in instances if isinstance(i, dict) and "type" in i}
    return result


def attribute_stats(
    conn: Connection, *, tenant: str | None, type_name: str | None = None, attr: str | None = None
) -> dict[str, AttributeStats]:
    """Attribute name → entities having it, its attribute types and the entity types having it."""
    groups = _groups(conn, tenant, type_name=type_name, attr=attr)
    kinds = _attribute_types(conn, ((sample, name) for _t, name, _k, _n, sample in groups))
    stats: dict[str, AttributeStats] = {}
    counted: dict[tuple[str, str], int] = {}
    for type_value, name, _kind, n, sample in groups:
        entry = stats.setdefault(name, AttributeStats(name))
        entry.attribute_types |= kinds.get((sample, name), set())
        entry.type_names.update(m for m in _members(type_value) if type_name is None or m == type_name)
        # One attribute can have values of several kinds (an array of numbers and strings): count its entities once
        # per entity type, by the kind that has the most.
        counted[(type_value, name)] = max(counted.get((type_value, name), 0), n)
    for (_type_value, name), n in counted.items():
        stats[name].count += n
    return dict(sorted(stats.items()))


def list_id(kind: str) -> str:
    """A fresh identifier for a list answer (EntityTypeList, AttributeList): each answer is a new resource."""
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4()}"
