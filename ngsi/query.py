"""Entity query evaluation shared by ``GET /entities`` and ``POST /entityOperations/query``.

A query is entity selectors (type expression, ids, idPattern — several selectors mean any of them), ``attrs``
(an entity must have at least one), ``q``, ``scopeQ`` and a geo-query. Each becomes an SQL condition on the
entities table; ``ngsi.entity_pages.select_entities`` runs them with the page and count, in id order or in the order
``orderBy`` asks for (``ngsi.ordering``, id breaking its ties).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, false, or_, true

from hub.errors import BadRequestData
from ngsi import attr_stats, entity_pages, store
from ngsi.attr_index import attr_index
from ngsi.geo import GeoQuery
from ngsi.geo_index import geo_condition
from ngsi.ordering import Ordering
from ngsi.q import safe_regex
from ngsi.q_sql import compile_q_text
from ngsi.representation import ENTITY_MEMBERS
from ngsi.selectors import parse_types, scope_condition
from ngsi.tables import entities
from schemas.ngsild import is_absolute_uri

MAX_LIMIT = 1000
PASSES = 3  # reads of a page whose type sets changed under it; sets are only ever added, so 2 in practice


@dataclass(frozen=True, slots=True)
class Selector:
    """One EntitySelector: a type expression (None: any type), ids, an id pattern — all must hold."""

    types: str | None = None
    ids: tuple[str, ...] = ()
    id_pattern: str | None = None

    def __post_init__(self) -> None:
        bad = [i for i in self.ids if not is_absolute_uri(i)]
        if bad:
            raise BadRequestData(f"id {bad[0]!r} is not an absolute URI")


@dataclass(frozen=True, slots=True)
class Leftover:
    """What a pick or an omit without id and type (clause 4.21) must leave of an entity for it to be answered: an
    attribute among ``names`` (a pick) or not among them (an omit), or its scope when ``scope``. An entity left
    empty is no part of the answer, nor of its count."""

    names: tuple[str, ...]
    omit: bool = False
    scope: bool = False


@dataclass(frozen=True, slots=True)
class EntityQuery:
    """What selects entities; ``geo`` holds the geo-query members (georel, geometry, coordinates, geoproperty)."""

    selectors: tuple[Selector, ...] = ()
    attrs: tuple[str, ...] = ()
    q: str | None = None
    scope_q: str | None = None
    geo: GeoQuery | None = None
    local: bool = False  # local=true alone asks for every entity this hub holds (6.4.3.2; ETSI 019_25)
    ordering: Ordering | None = None  # None: id order
    leftover: Leftover | None = None  # what a pick/omit must leave of an entity for it to be answered

    def __post_init__(self) -> None:
        selects = any(s.types or s.ids or s.id_pattern for s in self.selectors)
        if not (selects or self.attrs or self.q or self.scope_q or self.geo or self.local):
            raise BadRequestData(
                "a query needs at least one of type, id, idPattern, attrs, q, scopeQ, a geo-query or local=true"
            )

    @property
    def uses_indexes(self) -> bool:
        """True when the query reads the attribute or spatial index (``projection.ensure_current`` first)."""
        return bool(self.attrs or self.q or self.geo is not None or self.leftover is not None)


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = 20
    offset: int = 0
    count: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.limit <= MAX_LIMIT or (self.limit == 0 and not self.count):
            raise BadRequestData(f"limit must be 1..{MAX_LIMIT} (0 only with count=true), got {self.limit}")
        if self.offset < 0:
            raise BadRequestData(f"offset must be 0 or more, got {self.offset}")


@dataclass(slots=True)
class Result:
    rows: list[store.StoredEntity] = field(default_factory=list)
    total: int | None = None


def _selector(
    conn: Connection, selector: Selector, type_sets: Sequence[str] | None, columns: Any = None
) -> ColumnElement[bool]:
    """The selector's conditions on ``columns`` (id and type; default: the entities table's)."""
    c = entities.c if columns is None else columns
    where: list[ColumnElement[bool]] = []
    if selector.types:
        alternatives = parse_types(selector.types)
        if alternatives is not None:
            if type_sets is None:
                values = store.type_values(conn, alternatives)
            else:
                values = store.values_of_types(alternatives, type_sets)
            where.append(c.type.in_(values) if values else false())
    if selector.ids:
        where.append(c.id.in_(selector.ids))
    if selector.id_pattern:
        where.append(c.id.regexp_match(safe_regex(selector.id_pattern, "idPattern")))
    return and_(true(), *where)


def key_conditions(conn: Connection, query: EntityQuery, columns: Any) -> list[ColumnElement[bool]] | None:
    """The conditions of ``query`` on what is left of an entity deleted through the API (``columns``: its id and
    type), or None when the query also reads the current state of its entities (q, scopeQ, a geo-query, what a
    pick leaves), which such an entity no longer has. ``attrs`` does not count: the temporal API selects by the
    history of the attributes, not by their current state."""
    if query.q or query.scope_q or query.geo is not None or query.leftover is not None:
        return None
    chosen = [_selector(conn, s, None, columns) for s in query.selectors if s.types or s.ids or s.id_pattern]
    return [or_(*chosen)] if chosen else []


def type_members(query: EntityQuery) -> list[str]:
    """Every type named by the query's selectors (``*`` names none)."""
    alternatives = [a for s in query.selectors if s.types for a in parse_types(s.types) or ()]
    return store.type_members(alternatives)


def _has_any(attrs: Sequence[str]) -> ColumnElement[bool]:
    """The entity has at least one of ``attrs`` (every attribute instance has a value row in the index)."""
    row = attr_index.alias()
    return exists().where(
        row.c.tenant == entities.c.tenant, row.c.entity_id == entities.c.id, row.c.attr.in_(attrs), row.c.path == ""
    )


def projected(
    query: EntityQuery, pick: Sequence[str], omit: Sequence[str], *, sys_attrs: bool, stored: Callable[[str], str]
) -> EntityQuery:
    """``query`` without the entities a pick or omit (clause 4.21) would leave empty (``{}``), so that pages and
    counts hold only what is returned. A pick or omit that keeps id or type (or, with ``sysAttrs``, the system
    timestamps) empties nothing; a pick alone selects nothing more (attrs is pick plus existence, not pick).
    ``stored`` turns a request's attribute name into the stored one."""
    members = pick or omit
    always = {"id", "type"} | ({"createdAt", "modifiedAt"} if sys_attrs else set())
    kept = always & set(pick) if pick else always - set(omit)
    if not members or kept:
        return query
    names = tuple(stored(name) for name in members if name not in ENTITY_MEMBERS)
    scope = "scope" in pick if pick else "scope" not in omit
    return replace(query, leftover=Leftover(names, omit=not pick, scope=scope))


def _has_left(leftover: Leftover) -> ColumnElement[bool]:
    """The entity keeps something after the pick or omit ``leftover`` describes."""
    attribute: ColumnElement[bool]
    if leftover.omit:
        row = attr_index.alias()
        where = [row.c.tenant == entities.c.tenant, row.c.entity_id == entities.c.id, row.c.path == ""]
        attribute = exists().where(*where, *([row.c.attr.not_in(leftover.names)] if leftover.names else []))
    else:
        attribute = _has_any(leftover.names) if leftover.names else false()
    return or_(attribute, entities.c.scope.is_not(None)) if leftover.scope else attribute


def conditions(
    conn: Connection,
    query: EntityQuery,
    *,
    tenant: str | None,
    type_sets: Sequence[str] | None = None,
    by_attrs: bool = True,
) -> list[ColumnElement[bool]]:
    """Every SQL condition of ``query`` on the entities table; its types matched with the stored type sets, or
    with ``type_sets`` when the caller knows which sets hold them; ``by_attrs=False`` leaves out that an entity
    holds one of ``attrs`` now (the temporal API asks that of the history instead)."""
    where: list[ColumnElement[bool]] = []
    chosen = [_selector(conn, s, type_sets) for s in query.selectors if s.types or s.ids or s.id_pattern]
    if chosen:
        where.append(or_(*chosen))
    if query.attrs and by_attrs:
        where.append(_has_any(query.attrs))
    if query.leftover is not None:
        where.append(_has_left(query.leftover))
    if query.q:
        # Linked terms of the federated view look for their targets in every tenant (see compile_q).
        targets = attr_stats.tenants(conn) if tenant is None and "{" in query.q else None
        where.append(compile_q_text(query.q, entities, targets))
    if query.scope_q:
        where.append(scope_condition(query.scope_q))
    if query.geo is not None:
        where.append(geo_condition(conn, query.geo, tenant=tenant))
    return where


def evaluate(
    conn: Connection, query: EntityQuery, page: Page, *, tenant: str | None, timestamps: bool = True
) -> Result:
    """One page of the entities matching ``query`` (in its ordering, else by id), with the total when asked; the
    entities' system timestamps only when ``timestamps`` (what ``sysAttrs`` shows).

    Type sets (entities with several types) are rare: the page is first read assuming no stored set holds the
    query's types, and its statement also reads the sets that do. Only when that differs (or the page is empty and
    a lookup says so) is it read again with them: one statement per page instead of a lookup and the page."""
    members = type_members(query)
    known: list[str] = []
    for _pass in range(PASSES):
        found = _read_page(conn, query, page, tenant=tenant, type_sets=known, timestamps=timestamps, check=members)
        held = found.type_sets
        if held is None and members:
            held = store.type_sets_holding(conn, members)
        if held is None or held == known:
            break
        known = held  # read the page again with the sets its statement saw (and check them again)
    return Result(found.rows, found.total)


def _read_page(
    conn: Connection,
    query: EntityQuery,
    page: Page,
    *,
    tenant: str | None,
    type_sets: list[str],
    timestamps: bool,
    check: list[str],
) -> entity_pages.PageRows:
    """One read of the page, its types matched with ``type_sets``, checking the sets holding ``check``."""
    alternatives = _types_only(query)
    types: list[str] | None = []
    where: list[ColumnElement[bool]] = []
    if alternatives is not None:  # the types are parameters of a statement shared by every such page
        types = store.values_of_types(alternatives, type_sets) or None
    else:
        where = conditions(conn, query, tenant=tenant, type_sets=type_sets if check else None)
    return entity_pages.select_page(
        conn,
        tenant=tenant,
        types=types,
        limit=page.limit,
        offset=page.offset,
        count=page.count,
        extra=where,
        timestamps=timestamps,
        check_types=check,
        ordering=query.ordering,
    )


def _types_only(query: EntityQuery) -> list[frozenset[str]] | None:
    """The type alternatives of a query that selects by a type expression and nothing else; otherwise None."""
    if len(query.selectors) != 1 or query.attrs or query.leftover is not None or query.q or query.scope_q:
        return None
    if query.geo is not None:
        return None
    selector = query.selectors[0]
    if selector.ids or selector.id_pattern or not selector.types:
        return None
    return parse_types(selector.types)
