"""The temporal side of the entity store: attribute instances in time, selected in SQL.

Only this module, ``ngsi.temporal_aggregate`` (aggregation in the database: one ``GROUP BY`` over entity, attribute,
datasetId and time bucket), ``ngsi.temporal_deletions`` (the instances of deletions), ``ngsi.temporal_edits`` (one
instance by its instanceId) and ``ngsi.store`` issue SQL on ``ngsi_temporal_instances``. An attribute may hold
several instances at one instant, one per datasetId (migration 0017); ``None`` stands for the default instance (no
datasetId) throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB

from ngsi import projection, store, temporal_hours
from ngsi.order_sql import order_terms, sort_columns
from ngsi.ordering import Ordering
from ngsi.query import EntityQuery, key_conditions
from ngsi.query import conditions as query_conditions
from ngsi.tables import (
    entities,
    temporal_changes,
    temporal_deleted_entities,
    temporal_deletions,
    temporal_instances,
    type_sets,
)
from ngsi.temporal_edits import numeric

AGGREGATES = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")


class TimeRel(StrEnum):
    BEFORE = "before"
    AFTER = "after"
    BETWEEN = "between"


class TimeProperty(StrEnum):
    """Which time of an instance ``timerel`` / ``timeAt`` / ``endTimeAt``, ordering and aggregation periods use."""

    OBSERVED_AT = "observedAt"
    CREATED_AT = "createdAt"  # when the hub recorded the instance
    MODIFIED_AT = "modifiedAt"  # when it was last modified (PATCH …/{instanceId}), else recorded
    DELETED_AT = "deletedAt"  # the deletions of attributes instead of their observed values


@dataclass(frozen=True, slots=True)
class TemporalQuery:
    """Which instances: entities (by id, or all of some types), attributes, datasetIds, a time window, lastN."""

    tenant: str | None
    entity_ids: Sequence[str] = ()
    types: Sequence[str] = ()
    attrs: Sequence[str] = ()
    timerel: TimeRel | None = None
    time_at: float | None = None  # epoch seconds
    end_time_at: float | None = None
    last_n: int | None = None
    limit: int = 100  # entities per page
    offset: int = 0
    max_instances: int | None = None  # the hub's cap of instances per attribute (None: no cap)
    max_periods: int | None = None  # the hub's cap of aggregation periods per attribute (None: no cap)
    timeproperty: TimeProperty = TimeProperty.OBSERVED_AT
    # The datasetIds asked for (None in it: the default instance); None: every instance.
    dataset_ids: frozenset[str | None] | None = None
    where: tuple[Any, ...] = ()  # more SQL conditions on the entities table (a Query body's q, geoQ, idPattern…)
    # With timeproperty=deletedAt, more conditions on the entities deleted through the API (a Query body's types,
    # ids, idPattern); None: none of them, as the query reads a current state they no longer have (q, geoQ…).
    gone: tuple[Any, ...] | None = ()
    ordering: Ordering | None = None  # of the entities, on their current state (orderBy, clause 4.23); None: by id
    # A query (not a retrieve) is about the entities with an instance of the asked attributes in the window only.
    with_history: bool = False

    @property
    def instance_cap(self) -> int | None:
        """Most instances one attribute may return: lastN, the hub's cap, whichever is smaller."""
        caps = [cap for cap in (self.last_n, self.max_instances) if cap is not None]
        return min(caps) if caps else None

    @property
    def deleted(self) -> bool:
        """timeproperty=deletedAt: the deletions of attributes instead of their observed values."""
        return self.timeproperty is TimeProperty.DELETED_AT

    @property
    def recorded(self) -> bool:
        """timeproperty=createdAt or modifiedAt: the window applies to when the hub recorded each instance."""
        return self.timeproperty in (TimeProperty.CREATED_AT, TimeProperty.MODIFIED_AT)


AttrKey = tuple[str, str | None]  # an attribute and a datasetId (None: the default instance)
# (value, time the query is about, observedAt, key, createdAt, modifiedAt) of one instance; the first two times
# differ with createdAt/modifiedAt. A deletion has no key and no createdAt/modifiedAt (None); modifiedAt is None
# for an instance never modified.
Instance = tuple[Any, float, float, int | None, float | None, float | None]
Series = dict[tuple[str, str], dict[AttrKey, list[Instance]]]


def iso(ts: float) -> str:
    """RFC 3339 in UTC; whole seconds without a fraction (``12:03:00Z``, as most instants are sent), else ms.

    Clients compare the instants of an instance list as strings (the ETSI suite does): an instance posted at
    ``2020-08-01T12:03:00Z`` must come back as that, not as ``2020-08-01T12:03:00.000Z``.
    """
    moment = datetime.fromtimestamp(ts, UTC)
    spec = "seconds" if round(ts * 1000) % 1000 == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def time_of(q: TemporalQuery) -> Any:
    """The column holding the time ``q`` is about: the observed ``ts``, or when the hub recorded the instance."""
    t = temporal_instances.c
    # created_at is set on every write since migration 0017, which set it on every older row: coalesce only guards
    if q.timeproperty is TimeProperty.MODIFIED_AT:
        return func.coalesce(t.modified_at, t.created_at, t.ts)
    return func.coalesce(t.created_at, t.ts) if q.recorded else t.ts


def window(q: TemporalQuery, ts: Any = None) -> list[Any]:
    """Conditions of the query's time window on ``ts`` (default: the time ``q`` is about)."""
    ts = time_of(q) if ts is None else ts
    if q.timerel is TimeRel.BEFORE and q.time_at is not None:
        return [ts < q.time_at]
    if q.timerel is TimeRel.AFTER and q.time_at is not None:
        return [ts >= q.time_at]
    if q.timerel is TimeRel.BETWEEN and q.time_at is not None and q.end_time_at is not None:
        return [ts >= q.time_at, ts < q.end_time_at]
    return []


def datasets(q: TemporalQuery, t: Any = None) -> list[Any]:
    """Conditions keeping the instances of the datasetIds asked for (none without a ``datasetId`` parameter)."""
    if q.dataset_ids is None:
        return []
    t = temporal_instances.c if t is None else t
    named = sorted(d for d in q.dataset_ids if d is not None)
    alternatives = [t.dataset_id.in_(named)] if named else []
    if None in q.dataset_ids:
        alternatives.append(t.dataset_id.is_(None))
    return [or_(*alternatives)]


def selected(conn: Connection, q: TemporalQuery, selection: EntityQuery) -> TemporalQuery:
    """``q`` about the entities ``selection`` (a Query body; GET's idPattern, q, scopeQ, geo-query) picks, live ones
    on their current state and, with timeproperty=deletedAt, deleted ones by their id and type, so that GET and POST
    answer one query alike. Its ``attrs`` select by the history (``with_history``), as GET's ``attrs`` do."""
    where = query_conditions(conn, selection, tenant=q.tenant, by_attrs=False)
    gone = key_conditions(conn, selection, temporal_deleted_entities.c)
    return replace(q, where=tuple(where), gone=None if gone is None else tuple(gone))


def matching_entities(conn: Connection, q: TemporalQuery) -> tuple[list[tuple[str, str, str, str]], int]:
    """(tenant, id, type, stored JSON) of the entities a query is about, one page of them, and their total.

    With timeproperty=deletedAt, entities deleted through the API are about too (their stored JSON is ``{}``: their
    attributes are gone), those ``q.gone`` selects (none when it is None); a query (``with_history``) is then about
    the entities with deletions in the window only."""
    conditions: list[Any] = [entities.c.removed.is_(False)]
    conditions.extend(_key_conditions(entities.c, q))
    conditions.extend(q.where)
    if q.with_history and q.deleted:
        conditions.append(_deletions_held(q, entities.c))
    elif q.with_history:
        t = temporal_instances.c
        held = [t.tenant == entities.c.tenant, t.entity_id == entities.c.id, *window(q), *datasets(q)]
        if q.attrs:
            held.append(t.attr.in_(q.attrs))
        found: Any = select(t.entity_id).where(*held).exists()
        if q.recorded:  # the changes of attributes without observedAt count too
            found = or_(found, select(temporal_changes.c.entity_id).where(*change_filter(q)).exists())
        conditions.append(found)
    dialect = conn.dialect.name
    # An ordering reads the columns of the entity ordering (ngsi/order_sql.py); id and type are among them.
    sorted_by = sort_columns(dialect) if q.ordering is not None else [entities.c.id, entities.c.type]
    live = select(entities.c.tenant, entities.c.data, *sorted_by).where(and_(*conditions))
    source: Any = live
    if q.deleted and q.gone is not None:
        gone = temporal_deleted_entities.c
        still_there = select(entities.c.id).where(entities.c.tenant == gone.tenant, entities.c.id == gone.id)
        held = [_deletions_held(q, gone)] if q.with_history else []
        deleted = select(gone.tenant, literal("{}").label("data"), *_gone_columns(gone, q.ordering, dialect)).where(
            *_key_conditions(gone, q), *q.gone, *held, ~still_there.exists()
        )
        source = union_all(live, deleted)
    page = source.subquery()
    order = [*(order_terms(q.ordering, dialect, page.c) if q.ordering else ()), page.c.id, page.c.tenant]
    rows = conn.execute(select(page).order_by(*order).limit(q.limit).offset(q.offset)).all()
    total = conn.execute(select(func.count()).select_from(page)).scalar_one()
    return [(r.tenant, r.id, r.type, r.data) for r in rows], int(total)


def _deletions_held(q: TemporalQuery, owner: Any) -> Any:
    """The entity of ``owner`` (its tenant and id columns) has deletions of the asked attributes and datasetIds in
    the window: what a query with timeproperty=deletedAt is about (a retrieve answers its entity anyway)."""
    d = temporal_deletions.c
    held = [d.tenant == owner.tenant, d.entity_id == owner.id, *window(q, d.ts), *datasets(q, d)]
    if q.attrs:
        held.append(d.attr.in_(q.attrs))
    return select(d.entity_id).where(*held).exists()


def _gone_columns(gone: Any, ordering: Ordering | None, dialect: str) -> list[Any]:
    """The sort columns of entities deleted through the API, as :func:`matching_entities` selects for the live
    ones: nothing of their current state is left to order by (it sorts them last), their id and type are."""
    if ordering is None:
        return [gone.id, gone.type]
    doc = cast(literal("{}"), JSONB) if dialect == "postgresql" else literal("{}")
    stamps = [null().label(name) for name in ("scope", "created_at", "modified_at", "attr_stamps")]
    return [gone.id, gone.type, *stamps, doc.label("doc")]


def _key_conditions(columns: Any, q: TemporalQuery) -> list[Any]:
    conditions = []
    if q.tenant is not None:
        conditions.append(columns.tenant == q.tenant)
    if q.entity_ids:
        conditions.append(columns.id.in_(q.entity_ids))
    if q.types:
        # The name itself, or a type set holding it (an entity of several types, ngsi_type_sets), in the same query.
        sets = select(type_sets.c.type_set).where(type_sets.c.member.in_(q.types))
        conditions.append(or_(columns.type.in_(q.types), columns.type.in_(sets)))
    return conditions


def change_filter(q: TemporalQuery, keys: Sequence[tuple[str, str]] | None = None) -> list[Any]:
    """Conditions selecting the changes of attributes without observedAt (``ngsi_temporal_changes``) that ``q``
    (createdAt or modifiedAt: a change is never modified) asks for, of ``keys`` or of the entity row in scope."""
    c = temporal_changes.c
    if keys is None:
        conditions = [c.tenant == entities.c.tenant, c.entity_id == entities.c.id]
    else:
        conditions = [c.entity_id.in_([entity_id for _, entity_id in keys]), c.tenant.in_({t for t, _ in keys})]
    conditions.extend([*window(q, c.created_at), *datasets(q, c)])
    if q.attrs:
        conditions.append(c.attr.in_(q.attrs))
    return conditions


def instance_filter(q: TemporalQuery, keys: Sequence[tuple[str, str]], t: Any = None) -> list[Any]:
    """Conditions selecting the instances of ``keys`` (tenant, entity id) that ``q`` asks for."""
    t = temporal_instances.c if t is None else t
    tenants = {tenant for tenant, _ in keys}
    conditions = [t.entity_id.in_([entity_id for _, entity_id in keys]), t.tenant.in_(tenants)]
    if t is temporal_deletions.c:  # the deletions (of attributes through the entity API): observed-time columns only
        conditions.extend([*window(q, t.ts), *datasets(q, t)])
    else:  # the instances
        conditions.extend([*window(q), *datasets(q, t)])
    if q.attrs:
        conditions.append(t.attr.in_(q.attrs))
    return conditions


def instances(
    conn: Connection, q: TemporalQuery, keys: Sequence[tuple[str, str]]
) -> tuple[Series, dict[tuple[str, str, str], str]]:
    """(tenant, entity id) → (attribute, datasetId) → [(value, time, observedAt)], oldest first, and the type of
    each deleted attribute.

    With a cap (``lastN``, the hub's maximum) each attribute instance (datasetId) holds at most cap + 1 instances,
    the newest ones with lastN and the oldest ones without: the one beyond the cap tells ``paginate`` that the
    attribute was cut."""
    if not keys:
        return {}, {}
    kind: Any
    t: Any
    at: Any
    system: tuple[Any, ...]  # key, createdAt, modifiedAt
    if q.deleted:
        t = temporal_deletions.c
        kind, at = t.kind, t.ts
        system = (cast(null(), Integer), cast(null(), Float), cast(null(), Float))
    else:
        t = temporal_instances.c
        kind, at = literal(None, String), time_of(q)
        system = (t.pk, t.created_at, t.modified_at)
    columns = (t.tenant, t.entity_id, t.attr, t.value, kind.label("kind"), t.dataset_id, at.label("at"), t.ts)
    named = (system[0].label("pk"), system[1].label("created"), system[2].label("modified"))
    stmt: Any = select(*columns, *named).where(and_(*instance_filter(q, keys, t)))
    if q.recorded:  # the changes of attributes without observedAt: no instant observed, no id, never modified
        c = temporal_changes.c
        changed = select(
            c.tenant,
            c.entity_id,
            c.attr,
            c.value,
            literal(None, String).label("kind"),
            c.dataset_id,
            c.created_at.label("at"),
            cast(null(), Float).label("ts"),
            cast(null(), Integer).label("pk"),
            c.created_at.label("created"),
            c.created_at.label("modified"),
        ).where(*change_filter(q, keys))
        both = union_all(stmt, changed).subquery()
        stmt, t, at = select(both), both.c, both.c.at
    cap = q.instance_cap
    if cap is not None:
        stmt = _capped(stmt, q, t, at, cap)
    out: Series = {}
    kinds: dict[tuple[str, str, str], str] = {}
    wanted = set(keys)
    for row in conn.execute(stmt.order_by("at", "ts")):
        if (row.tenant, row.entity_id) in wanted:
            out.setdefault((row.tenant, row.entity_id), {}).setdefault((row.attr, row.dataset_id), []).append(
                (orjson.loads(row.value), row.at, row.ts, row.pk, row.created, row.modified)
            )
            if row.kind:
                kinds[(row.tenant, row.entity_id, row.attr)] = row.kind
    return out, kinds


def _capped(stmt: Any, q: TemporalQuery, t: Any, at: Any, cap: int) -> Any:
    """``stmt`` (the instances) reduced to what ``ngsi.temporal_pages.paginate`` needs to cut each attribute
    instance at ``cap``: its first cap + 1 instances in paging order (oldest first; newest with lastN), and, since
    an instant is never cut in two, the whole of the instants the page may end at — the first one newest first,
    the first two oldest first — with the instance after them, which tells whether anything was left out.

    With timeproperty=createdAt/modifiedAt, one write records many instances at one instant; otherwise an attribute
    instance has one instance per instant (the instances' unique key) and counting rows is enough."""
    # in the answer's order (by at, then observed): instances recorded at one instant (one write) are not ranked
    # in whatever order the database finds them
    order = (at.desc(), t.ts.desc()) if q.last_n else (at, t.ts)
    instants = 1 if q.last_n else 2
    key = (t.tenant, t.entity_id, t.attr, t.dataset_id)
    ranked = stmt.add_columns(func.row_number().over(partition_by=key, order_by=order).label("n"))
    if q.recorded:
        ranked = ranked.add_columns(func.dense_rank().over(partition_by=key, order_by=order[0]).label("instant"))
    r = ranked.subquery().c
    picked = (r.tenant, r.entity_id, r.attr, r.value, r.kind, r.dataset_id, r.at, r.ts, r.pk, r.created, r.modified)
    if not q.recorded:
        return select(*picked).where(r.n <= max(cap, instants) + 1)
    first = func.sum(case((r.instant <= instants, 1), else_=0))  # instances of the first instants
    counted = select(*picked, r.n, first.over(partition_by=(r.tenant, r.entity_id, r.attr, r.dataset_id)).label("w"))
    c = counted.subquery().c
    kept = (c.tenant, c.entity_id, c.attr, c.value, c.kind, c.dataset_id, c.at, c.ts, c.pk, c.created, c.modified)
    return select(*kept).where(or_(c.n <= cap + 1, c.n <= c.w + 1))


def add_instances(
    conn: Connection,
    tenant: str,
    entity_id: str,
    rows: Sequence[tuple[str, float, Any]],
    *,
    dataset_id: str | None = None,
    created: float | None = None,
) -> int:
    """Store (attribute, ts, value) instances of one entity, of one datasetId (None: the default instance),
    recorded at ``created`` (epoch seconds; default: now); the same instant twice is one instance."""
    recorded = datetime.now(UTC).timestamp() if created is None else created
    values = [
        (
            tenant,
            entity_id,
            attr,
            ts,
            numeric(v),
            orjson.dumps(v).decode(),
            recorded,
        )
        for attr, ts, v in rows
    ]
    return store.insert_history(conn, values if dataset_id is None else [(*row, dataset_id) for row in values])


def delete_attribute_history(
    conn: Connection, tenant: str, entity_id: str, attr: str, *, dataset_id: str | None, everything: bool
) -> int:
    """Forget the instances of one attribute, with the deletions recorded of them: of every datasetId
    (``everything``), else of ``dataset_id`` (None: the default instance, whose deletions are those without a
    datasetId; before migration 0021 a whole attribute's deletion had none too). Returns how many went."""
    if everything:
        return delete_history(conn, tenant, entity_id, attr)
    if conn.dialect.name == "sqlite":
        projection.catch_up_hours(conn)  # every instance counted before the attribute's hours are recounted
    t = temporal_instances.c
    which = t.dataset_id.is_(None) if dataset_id is None else t.dataset_id == dataset_id
    where = and_(t.tenant == tenant, t.entity_id == entity_id, t.attr == attr, which)
    deleted = int(conn.execute(delete(temporal_instances).where(where)).rowcount or 0)
    d = temporal_deletions.c  # the deletions of that instance go with it
    deletion = d.dataset_id.is_(None) if dataset_id is None else d.dataset_id == dataset_id
    gone = delete(temporal_deletions).where(d.tenant == tenant, d.entity_id == entity_id, d.attr == attr, deletion)
    deleted += int(conn.execute(gone).rowcount or 0)
    c = temporal_changes.c  # and the changes recorded of it without observedAt
    changed = c.dataset_id.is_(None) if dataset_id is None else c.dataset_id == dataset_id
    gone = delete(temporal_changes).where(c.tenant == tenant, c.entity_id == entity_id, c.attr == attr, changed)
    deleted += int(conn.execute(gone).rowcount or 0)
    temporal_hours.recount(conn, tenant, entity_id, attr)  # the hours mix the attribute's datasets
    if conn.dialect.name == "sqlite":
        projection.set_hours_upto(conn, projection.catch_up_hours(conn))  # see delete_history
    return deleted


def delete_history(conn: Connection, tenant: str | None, entity_id: str, attr: str | None = None) -> int:
    """Forget the instances of one entity (or of one of its attributes), its deletions too; returns how many."""
    if conn.dialect.name == "sqlite":
        projection.catch_up_hours(conn)  # every instance counted before the hours of these go
    temporal_hours.forget(conn, tenant, entity_id, attr)
    forgotten = 0  # the deletions and the changes without observedAt kept of the entity or attribute go too
    tables = ((temporal_deletions, "entity_id"), (temporal_changes, "entity_id"), (temporal_deleted_entities, "id"))
    for table, column in tables:
        if table is temporal_deleted_entities and attr is not None:
            continue
        where = [table.c[column] == entity_id]
        if tenant is not None:
            where.append(table.c.tenant == tenant)
        if attr is not None:
            where.append(table.c.attr == attr)
        forgotten += int(conn.execute(delete(table).where(*where)).rowcount or 0)
    conditions = [temporal_instances.c.entity_id == entity_id]
    if tenant is not None:
        conditions.append(temporal_instances.c.tenant == tenant)
    if attr is not None:
        conditions.append(temporal_instances.c.attr == attr)
    deleted = int(conn.execute(delete(temporal_instances).where(and_(*conditions))).rowcount or 0)
    if conn.dialect.name == "sqlite":
        # SQLite numbers a new row after the highest left: the mark must not stay above numbers it will reuse.
        projection.set_hours_upto(conn, projection.catch_up_hours(conn))
    return deleted + forgotten
