"""Read-only summaries of the NGSI-LD tables for the catalogue: what the hub itself publishes, per city and type.

The catalogue describes each (tenant, entity type) with live entities as a dataset (``catalog.own``); these
functions give it the counts, the sources and the observed time range. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, func, select

from ngsi.tables import entities, temporal_instances


@dataclass(frozen=True, slots=True)
class TypeSummary:
    """The live entities of one type under one tenant: how many, from which sources, created and last modified."""

    tenant: str
    type: str
    entities: int
    source_ids: tuple[str, ...]
    first_created: datetime
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class ObservedRange:
    """The first and last ``observedAt`` instant kept in the history of one (tenant, type), UTC."""

    start: datetime
    end: datetime


def type_summaries(conn: Connection, *, tenants: Sequence[str] | None = None) -> list[TypeSummary]:
    """One summary per (tenant, type) with at least one live entity, ordered by tenant then type."""
    live = [entities.c.removed.is_(False)]
    if tenants is not None:
        live.append(entities.c.tenant.in_(list(tenants)))
    stmt = (
        select(
            entities.c.tenant,
            entities.c.type,
            func.count().label("n"),
            func.min(entities.c.created_at).label("first_created"),
            func.max(entities.c.modified_at).label("last_modified"),
        )
        .where(and_(*live))
        .group_by(entities.c.tenant, entities.c.type)
        .order_by(entities.c.tenant, entities.c.type)
    )
    groups = conn.execute(stmt).all()
    sources_stmt = (
        select(entities.c.tenant, entities.c.type, entities.c.source_id)
        .where(and_(*live, entities.c.source_id.is_not(None)))
        .distinct()
    )
    sources: dict[tuple[str, str], list[str]] = {}
    for row in conn.execute(sources_stmt):
        sources.setdefault((row.tenant, row.type), []).append(row.source_id)
    return [
        TypeSummary(
            tenant=row.tenant,
            type=row.type,
            entities=int(row.n),
            source_ids=tuple(sorted(sources.get((row.tenant, row.type), []))),
            first_created=row.first_created,
            last_modified=row.last_modified,
        )
        for row in groups
    ]


def observed_range(conn: Connection, *, tenant: str, entity_type: str) -> ObservedRange | None:
    """The observed time range of the live entities of one type under one tenant; None when no history is kept."""
    stmt = (
        select(func.min(temporal_instances.c.ts), func.max(temporal_instances.c.ts))
        .select_from(
            temporal_instances.join(
                entities,
                and_(temporal_instances.c.tenant == entities.c.tenant, temporal_instances.c.entity_id == entities.c.id),
            )
        )
        .where(and_(entities.c.tenant == tenant, entities.c.type == entity_type, entities.c.removed.is_(False)))
    )
    first, last = conn.execute(stmt).one()
    if first is None or last is None:
        return None
    return ObservedRange(datetime.fromtimestamp(float(first), UTC), datetime.fromtimestamp(float(last), UTC))
