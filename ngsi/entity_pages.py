"""Pages of stored entities: the statements behind ``GET /entities``, ``POST /entityOperations/query`` and every
read of a list of entities (in id order, or in a requested order), with their total.

The statements are built once per shape and cached with their driver SQL: building and compiling them per request
cost as much as running them (py-spy of one uvicorn worker under wrk, bench/ngsi_http.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, func, select

from hub.driver import driver_rows
from ngsi.order_sql import order_terms, sort_columns
from ngsi.ordering import Ordering
from ngsi.store import StoredEntity
from ngsi.tables import entities, type_sets


def query_entities(
    conn: Connection,
    *,
    tenant: str | None,
    types: Sequence[str] = (),
    ids: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
    count: bool = False,
    extra: Sequence[Any] = (),
) -> tuple[list[str], int | None]:
    """Stored JSON of matching entities, ordered by id, and the total when ``count`` is asked.

    ``types`` are ``entities.type`` values (see :func:`type_values`); ``extra`` holds further conditions on the
    entity table (a compiled ``q``, an ``idPattern``, a ``scopeQ``)."""
    rows, total = select_entities(
        conn,
        tenant=tenant,
        types=types,
        ids=ids,
        limit=limit,
        offset=offset,
        count=count,
        extra=extra,
        timestamps=False,
    )
    return [row.data for row in rows], total


def select_entities(
    conn: Connection,
    *,
    tenant: str | None,
    types: Sequence[str] | None = (),
    ids: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
    count: bool = False,
    extra: Sequence[Any] = (),
    timestamps: bool = True,
) -> tuple[list[StoredEntity], int | None]:
    """Like :func:`query_entities`, with each entity's system timestamps unless ``timestamps`` is false;
    ``types=None`` matches no entity."""
    page = select_page(
        conn,
        tenant=tenant,
        types=types,
        ids=ids,
        limit=limit,
        offset=offset,
        count=count,
        extra=extra,
        timestamps=timestamps,
    )
    return page.rows, page.total


@dataclass(slots=True)
class PageRows:
    """A page of entities, the total when asked, and the type sets that the page's statement saw holding the
    types of ``check_types`` (None: not asked, or the page was empty)."""

    rows: list[StoredEntity]
    total: int | None = None
    type_sets: list[str] | None = None


def select_page(
    conn: Connection,
    *,
    tenant: str | None,
    types: Sequence[str] | None = (),
    ids: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
    count: bool = False,
    extra: Sequence[Any] = (),
    timestamps: bool = True,
    check_types: Sequence[str] = (),
    ordering: Ordering | None = None,
) -> PageRows:
    """:func:`select_entities`, and with ``check_types`` the type sets holding those types, read by the page's own
    statement (what a caller that built its type condition from type sets it already knew checks them with).
    ``ordering``: the order asked for (``orderBy``); the id (then tenant) order breaks its ties."""
    if types is None:
        return PageRows([], 0 if count else None)
    # One type or checked type is compared with "=": expanding an IN list's parameters costs time on every request.
    shape = (conn.dialect.name, tenant is not None, min(len(types), 2), bool(ids), timestamps, min(len(check_types), 2))
    if extra or ordering is not None:
        page, total_of = _page_statements(*shape, extra, ordering)
    else:
        page, total_of = _shared_page_statements(*shape)
    params = {
        "tenant": tenant,
        "types": types[0] if len(types) == 1 else list(types),
        "ids": list(ids),
        "members": check_types[0] if len(check_types) == 1 else list(check_types),
        "limit": limit,
        "offset": offset,
    }
    # The driver's cursor for the plainest shapes: no expanding parameter, no column with a result processor.
    if extra or ordering is not None or ids or timestamps or len(types) > 1 or len(check_types) > 1:
        found: Sequence[Any] = conn.execute(page, params).all()  # one fetchall
    else:
        found = _fetch_driver(conn, page, params)
    if timestamps:
        rows = [StoredEntity(row[0], row[1], row[2], row[3]) for row in found]
    else:
        rows = [StoredEntity(row[0]) for row in found]
    held = _held_sets(found[0][-1]) if check_types and found else None
    total = conn.execute(total_of, params).scalar_one() if count else None
    return PageRows(rows, total, held)


def _fetch_driver(conn: Connection, statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of a statement without expanding parameters, through the driver's own cursor.

    For the most frequent request (a page of a type): SQLAlchemy's execution context around an already compiled
    statement cost about a fifth of the page's time on PostgreSQL (bench/ngsi_http.py, 100 entities a page)."""
    sql, names = _driver_sql_of(statement, conn.dialect)
    return driver_rows(conn, sql, params if names is None else tuple(params[n] for n in names))


@functools.lru_cache(maxsize=64)
def _driver_sql_of(statement: Any, dialect: Any) -> tuple[str, tuple[str, ...] | None]:
    """The driver's SQL of ``statement`` and, for a positional paramstyle, the parameter names in order."""
    compiled = statement.compile(dialect=dialect)
    positions = compiled.positiontup
    return str(compiled), (tuple(positions) if positions else None)


@functools.lru_cache(maxsize=64)
def _shared_page_statements(
    dialect: str, tenant: bool, types: int, ids: bool, timestamps: bool, check: int
) -> tuple[Any, Any]:
    """:func:`_page_statements` without further conditions, built once per shape: for a page of a type (and
    perhaps a tenant), the most frequent request, building the statement and its cache key cost more Python time
    than the database took for the page (cProfile of GET /entities?type=T&limit=100, bench/ngsi_http.py)."""
    return _page_statements(dialect, tenant, types, ids, timestamps, check, (), None)


def _page_statements(
    dialect: str,
    tenant: bool,
    types: int,
    ids: bool,
    timestamps: bool,
    check: int,
    extra: Sequence[Any],
    ordering: Ordering | None,
) -> tuple[Any, Any]:
    """The page and count statements of one query shape, every value a bound parameter (``types`` and ``check``:
    0, 1 or 2 for several values)."""
    conditions: list[Any] = [entities.c.removed.is_(False), *extra]
    if tenant:
        conditions.append(entities.c.tenant == bindparam("tenant"))
    if types:
        conditions.append(_one_of(entities.c.type, "types", types))
    if ids:
        conditions.append(entities.c.id.in_(bindparam("ids", expanding=True)))
    where = and_(*conditions)
    # Only sysAttrs shows the timestamps; reading them turned two strings per row into aware datetimes
    # (UTCDateTime on SQLite), a third of a 100-entity page's time (bench/ngsi_http.py, cProfile).
    stamps = (entities.c.created_at, entities.c.modified_at, entities.c.attr_stamps)
    columns: list[Any] = [entities.c.data, *(stamps if timestamps else ())]
    if check:
        columns.append(_sets_check(dialect, check))
    total = select(func.count()).select_from(entities).where(where)
    if ordering is not None:
        return _ordered_page(dialect, where, timestamps, check, ordering), total
    order = (entities.c.id, entities.c.tenant)
    page = select(*columns).where(where).order_by(*order).limit(bindparam("limit")).offset(bindparam("offset"))
    return page, total


def _ordered_page(dialect: str, where: Any, timestamps: bool, check: int, ordering: Ordering) -> Any:
    """The page statement of an ordered query: the selected entities with the columns the ordering reads, sorted.

    On PostgreSQL the selection is a subquery with an OFFSET, which the planner never flattens into the outer query:
    the stored JSON is parsed into jsonb once per entity, where each ORDER BY expression would parse it again."""
    inner = select(entities.c.data, entities.c.tenant, *sort_columns(dialect)).where(where)
    if dialect == "postgresql":
        inner = inner.offset(0)
    rows = inner.subquery("selected")
    stamps = (rows.c.created_at, rows.c.modified_at, rows.c.attr_stamps)
    columns: list[Any] = [rows.c.data, *(stamps if timestamps else ())]
    if check:
        columns.append(_sets_check(dialect, check))
    order = (*order_terms(ordering, dialect, rows.c), rows.c.id, rows.c.tenant)
    return select(*columns).order_by(*order).limit(bindparam("limit")).offset(bindparam("offset"))


def _sets_check(dialect: str, members: int) -> Any:
    """A column giving, on every row of a page, the type sets that hold any of the ``members`` parameter (one
    uncorrelated subquery, evaluated once per statement): a page checks the type sets it was built with without a
    round trip of its own."""
    held = type_sets.c.type_set
    aggregate = func.array_agg(held) if dialect == "postgresql" else func.json_group_array(held)
    test = _one_of(type_sets.c.member, "members", members)
    return select(aggregate).where(test).scalar_subquery().label("type_sets")


def _one_of(column: Any, name: str, count: int) -> Any:
    """``column = :name`` for one value, ``column IN (:name…)`` (an expanding parameter) for more."""
    return column == bindparam(name) if count == 1 else column.in_(bindparam(name, expanding=True))


def _held_sets(value: Any) -> list[str]:
    """The check column's value: an array on PostgreSQL (NULL when none), a JSON array text on SQLite."""
    if value is None:
        return []
    return sorted(set(orjson.loads(value) if isinstance(value, str) else value))
