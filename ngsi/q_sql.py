"""Compile a q AST (``ngsi.q``) into one SQLAlchemy condition over ``ngsi_attr_index`` (``ngsi.attr_index``).

Every term becomes an EXISTS over the index rows of the entity it is correlated with (tenant and id of the
entities table), and And/Or map onto AND/OR as they stand. What the terms mean:

- a bare path: a row at that path exists (the attribute, sub-attribute or key is present); ``!path``: none does
  (NOT EXISTS: the entity lacks the attribute, or the sub-attribute or key of a dotted path);
- ``==``: some value equals (an array matches when it contains the value); a value list: equals any of them;
  a range: some value lies within it, bounds included;
- ``!=`` (and ``!~=``): some instance has the path and none of its values equals (matches); an entity without the
  attribute does not match;
- values are typed: 5 matches the number 5 only, "5" the string only; a date or date-time compares as an instant
  with date/date-time values (a date is 00:00 UTC), a time with times; ``true``/``false`` with booleans;
- a URI or a quoted string equals a Relationship target; ordering, ranges and regular expressions skip targets;
- multi-instance attributes (datasetId) match when any instance does;
- ``a{b}`` follows the Relationship ``a`` (any of its objects, in any instance) and applies the rest of the term
  to the entity it points to, which this hub must hold: in the Relationship's tenant, or with ``targets`` (the
  federated view) in any of those tenants, the first in tenant order when several hold it (the one ``join`` shows);
  ``a{T,U:b}`` only to a target carrying type T or U. The target is found on the entities table by its key and
  its attributes on the index, so each hop is a few index lookups per Relationship object;
- strings order by the database's collation (binary on SQLite; on PostgreSQL, the database's).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Table, and_, exists, false, or_, select
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

from hub.errors import OperationNotSupported
from hub.regexp import register_sqlite_regexp
from ngsi.attr_index import Kind, attr_index, clip, instant, seconds_of_day
from ngsi.q import (
    And,
    AttrPath,
    Compare,
    Exists,
    Match,
    Node,
    Op,
    Or,
    Range,
    Scalar,
    Uri,
    ValueList,
    parse_q,
    path_text,
    safe_regex,
)
from ngsi.tables import type_sets

Columns: TypeAlias = ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]
RowTest: TypeAlias = Callable[[Columns], ColumnElement[bool]]
Term: TypeAlias = Exists | Compare | Match

_COMPARE: dict[Op, Callable[[Any, Any], ColumnElement[bool]]] = {
    Op.EQ: operator.eq,
    Op.GE: operator.ge,
    Op.GT: operator.gt,
    Op.LE: operator.le,
    Op.LT: operator.lt,
}
_TEXT_KINDS = (Kind.STRING.value, Kind.INSTANT.value, Kind.TIME.value)  # texts that are not Relationship targets


@functools.lru_cache(maxsize=1024)  # the same q comes back with every page and every poll of a dashboard
def compile_q_text(text: str, entities_table: Table, targets: tuple[str, ...] | None = None) -> ColumnElement[bool]:
    """``compile_q(parse_q(text))``, kept for q texts seen before: parsing and building the condition cost more
    than running it on a page of entities (bench/ngsi_query.py). Errors are raised every time, never kept."""
    return compile_q(parse_q(text), entities_table=entities_table, targets=targets)


def compile_q(node: Node, *, entities_table: Table, targets: tuple[str, ...] | None = None) -> ColumnElement[bool]:
    """The condition that selects the rows of ``entities_table`` (``ngsi.tables.entities``) matching ``node``.

    ``targets``: where a linked term (``a{b}``) looks for the entities a Relationship points to. None: in the
    Relationship's own tenant (a request with a tenant); the tenants that hold entities: in any of them, the first
    holding the id (the federated view, as ``join`` finds linked entities). A list rather than no condition keeps
    the lookup on the keys of the entities table, whose first column is the tenant."""
    return _Compiler(entities_table, targets).node(node, entities_table.c.tenant, entities_table.c.id)


@dataclass(frozen=True, slots=True)
class _Compiler:
    entities: Table
    targets: tuple[str, ...] | None

    def node(self, node: Node, tenant: ColumnElement[Any], entity: ColumnElement[Any]) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(*(self.node(term, tenant, entity) for term in node.terms))
        if isinstance(node, Or):
            return or_(*(self.node(term, tenant, entity) for term in node.terms))
        if isinstance(node, Exists) and node.negate:
            # Absence is the negation of the whole existence term (NOT EXISTS), so an entity without the attribute
            # at all, or without the sub-attribute or key on a dotted path, matches; on a linked path: no target
            # of the Relationship has it.
            return ~self.node(replace(node, negate=False), tenant, entity)
        if node.path.linked is not None:
            return self.linked(node, tenant, entity)
        return _term(node, tenant, entity)

    def linked(self, node: Term, tenant: ColumnElement[Any], entity: ColumnElement[Any]) -> ColumnElement[bool]:
        """Some object of the Relationship is the id of a held entity (of the hinted types) where the rest holds."""
        path = node.path
        assert path.linked is not None
        rel, target = attr_index.alias(), self.entities.alias()
        where = [
            rel.c.tenant == tenant,
            rel.c.entity_id == entity,
            rel.c.attr == path.name,
            rel.c.path == "",
            rel.c.kind == Kind.REF.value,
            target.c.tenant == rel.c.tenant if self.targets is None else target.c.tenant.in_(self.targets),
            target.c.id == rel.c.text,
            target.c.removed.is_(False),
        ]
        if self.targets is not None:
            # Several tenants may hold the id: the target is the one join shows, the first in tenant order.
            earlier = self.entities.alias()
            first = (earlier.c.tenant.in_(self.targets), earlier.c.tenant < target.c.tenant, earlier.c.id == rel.c.text)
            where.append(~exists().where(*first, earlier.c.removed.is_(False)))
        if path.types:
            in_sets = select(type_sets.c.type_set).where(type_sets.c.member.in_(path.types))
            where.append(or_(target.c.type.in_(path.types), target.c.type.in_(in_sets)))
        inner = self.node(replace(node, path=path.linked), target.c.tenant, target.c.id)
        return exists().where(*where, inner)


def index_path(path: AttrPath) -> str:
    """The ``path`` column for a q path: '' (value), 'sub', '[key]' or 'sub[key]'."""
    if len(path.sub) > 1 or len(path.keys) > 1:
        raise OperationNotSupported(
            f"q: the path {path_text(path)} goes deeper than the attribute index (a, a.b, a[x] and a.b[x])"
        )
    return (path.sub[0] if path.sub else "") + (f"[{path.keys[0]}]" if path.keys else "")


def _term(
    node: Exists | Compare | Match, tenant: ColumnElement[Any], entity: ColumnElement[Any]
) -> ColumnElement[bool]:
    path = node.path
    row = attr_index.alias()
    where = [row.c.tenant == tenant, row.c.entity_id == entity, row.c.attr == path.name, row.c.path == index_path(path)]
    if isinstance(node, Exists):
        return exists().where(*where)
    negate, test = _test(node)
    if not negate:
        return exists().where(*where, test(row.c))
    # "!=": an instance that has the path and no equal value; rows of one instance share tenant … dataset_id.
    other = attr_index.alias()
    same = [getattr(other.c, name) == getattr(row.c, name) for name in ("tenant", "entity_id", "attr", "path")]
    return exists().where(*where, ~exists().where(*same, other.c.dataset_id == row.c.dataset_id, test(other.c)))


def _test(node: Compare | Match) -> tuple[bool, RowTest]:
    """Whether the term is negated, and the test on one index row that its positive form makes."""
    if isinstance(node, Match):
        pattern = safe_regex(node.pattern)
        return node.negate, lambda c: and_(c.kind.in_(_TEXT_KINDS), c.text.regexp_match(pattern))
    value, op = node.value, node.op
    if op is Op.NE:
        op = Op.EQ
    if isinstance(value, Range):
        return node.op is Op.NE, lambda c: _between(c, value.low, value.high)
    if isinstance(value, ValueList):
        return node.op is Op.NE, lambda c: _any_of(c, value.values)
    return node.op is Op.NE, lambda c: _compare(c, op, value)


def _compare(c: Columns, op: Op, value: Scalar) -> ColumnElement[bool]:
    compare = _COMPARE[op]
    if isinstance(value, bool):
        return and_(c.kind == Kind.BOOL.value, c.bool == value)
    if isinstance(value, int | float):
        return compare(c.num, float(value))
    if isinstance(value, Uri):
        return compare(c.text, clip(value.value))
    if isinstance(value, str):
        return (
            compare(c.text, clip(value))
            if op is Op.EQ
            else and_(c.kind != Kind.REF.value, compare(c.text, clip(value)))
        )
    if isinstance(value, datetime | date):
        return and_(c.kind == Kind.INSTANT.value, compare(c.ts, instant(value)))
    return and_(c.kind == Kind.TIME.value, compare(c.ts, seconds_of_day(value)))


def _between(c: Columns, low: Scalar, high: Scalar) -> ColumnElement[bool]:
    if isinstance(low, int | float) and isinstance(high, int | float):
        return c.num.between(float(low), float(high))
    if isinstance(low, str) and isinstance(high, str):
        return and_(c.kind != Kind.REF.value, c.text.between(clip(low), clip(high)))
    if isinstance(low, time) and isinstance(high, time):
        return and_(c.kind == Kind.TIME.value, c.ts.between(seconds_of_day(low), seconds_of_day(high)))
    if isinstance(low, date) and isinstance(high, date):
        return and_(c.kind == Kind.INSTANT.value, c.ts.between(instant(low), instant(high)))
    return false()  # the parser refuses mixed ranges; a hand-made one matches nothing


def _any_of(c: Columns, values: tuple[Scalar, ...]) -> ColumnElement[bool]:
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    texts = [clip(v.value if isinstance(v, Uri) else v) for v in values if isinstance(v, str | Uri)]
    others = [v for v in values if isinstance(v, bool | date | time)]
    tests = [_compare(c, Op.EQ, v) for v in others]
    if numbers:
        tests.append(c.num.in_(numbers))
    if texts:
        tests.append(c.text.in_(texts))
    return or_(*tests)


def register_sqlite_functions(dbapi_connection: Any, _record: Any = None) -> None:
    """SQLite: define ``regexp`` for the REGEXP operator (``hub.db`` does it on every connection it opens).

    It runs on RE2 (linear time) and answers NULL for non-text values; see ``hub.regexp``.
    """
    register_sqlite_regexp(dbapi_connection, _record)
