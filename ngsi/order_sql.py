"""Compile an entity ordering (``ngsi.ordering``) into ORDER BY terms over the stored JSON of the entities.

A key on an attribute reads the value at its path in the entity's JSON (SQLite's ``->`` and ``json_type``,
PostgreSQL's jsonb): always current and exact for long texts, where the attribute index (``ngsi.attr_index``) is
brought up to date after writes and clips texts. Each key becomes three terms: the value's rank (numbers, strings,
booleans, objects and arrays; a missing value last in either direction), its number (booleans as 0/1) and its text
(in the ordering's collation: ``C`` or ICU's ``und-x-icu`` on PostgreSQL, BINARY or ``hub.collation``'s root
collation on SQLite). A distance key is the haversine from the reference point to a Point value.

Every entity the query selects is read to sort it; the selection itself still runs on the indexes.
``ngsi.store`` selects :func:`sort_columns` in a subquery and orders its rows by :func:`order_terms`.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import ColumnElement, Float, String, case, cast, func, literal, literal_column, null
from sqlalchemy.dialects.postgresql import JSONB

from hub.collation import ROOT_COLLATION
from ngsi.ordering import MEMBERS, Collation, Ordering, OrderKey
from ngsi.q import AttrPath
from ngsi.stamps import ATTRIBUTE_STAMPS
from ngsi.tables import entities

_TEXT_MEMBERS = frozenset({"id", "type", "scope"})
_ABSENT_LAST = 9  # the rank of a missing value when ascending (descending: -1, also last)
# a.createdAt / a.modifiedAt: the attribute's own system timestamps (ngsi/stamps.py), else the entity's
_STAMP_PATHS = frozenset((name,) for name in ATTRIBUTE_STAMPS)
_STAMP_COLUMNS = ("created_at", "modified_at")


def sort_columns(dialect: str) -> list[ColumnElement[Any]]:
    """The columns of the entities table that :func:`order_terms` reads, ``doc`` being the stored JSON (as jsonb on
    PostgreSQL: a subquery selecting them parses each entity once, not once per ORDER BY expression)."""
    doc = cast(entities.c.data, JSONB) if dialect == "postgresql" else entities.c.data
    members = [entities.c[name] for name in MEMBERS.values()]
    return [*members, entities.c.attr_stamps, doc.label("doc")]


def order_terms(ordering: Ordering, dialect: str, columns: Any) -> list[ColumnElement[Any]]:
    """The ORDER BY terms of ``ordering`` (before the id and tenant tie-breakers) over ``columns``: a selectable's
    columns that include :func:`sort_columns`."""
    sql = _Postgres(columns.doc) if dialect == "postgresql" else _Sqlite(columns.doc)
    terms: list[ColumnElement[Any]] = []
    for key in ordering.keys:
        terms.extend(_key_terms(key, ordering, sql, columns))
    return terms


def _key_terms(key: OrderKey, ordering: Ordering, sql: _Dialect, columns: Any) -> list[ColumnElement[Any]]:
    desc = key.direction.descending
    if key.member is not None:
        member: ColumnElement[Any] = columns[MEMBERS[key.member]]
        column = sql.collate(member, ordering.collation) if key.member in _TEXT_MEMBERS else member
        absent = case((member.is_(None), 1), else_=0)  # no scope: last, in either direction
        return [absent, column.desc() if desc else column]
    assert key.path is not None
    if key.path.sub in _STAMP_PATHS and not key.path.keys and not key.direction.by_distance:
        index = ATTRIBUTE_STAMPS.index(key.path.sub[0])
        own = sql.stamp(columns.attr_stamps, key.path.name, index)
        unheld = sql.attribute(key.path.name).is_(None)  # any attribute type: a LanguageProperty has no value
        # no such attribute: last, and no stamp (the entity's own, or NULL for an entity deleted, would order
        # those after it, and NULLs sort first on SQLite, last on PostgreSQL): the id orders them
        stamp = case((unheld, null()), else_=func.coalesce(own, sql.epoch_ms(columns[_STAMP_COLUMNS[index]])))
        return [case((unheld, 1), else_=0), stamp.desc() if desc else stamp]
    value = sql.value(key.path)
    if key.direction.by_distance:
        assert ordering.origin is not None
        distance = sql.distance(value, *ordering.origin)
        return [case((distance.is_(None), 1), else_=0), distance.desc() if desc else distance]
    kind = sql.kind(value)
    missing = -1 if desc else _ABSENT_LAST
    rank = case(*((kind.in_(kinds), place) for place, kinds in enumerate(sql.RANKS)), else_=missing)
    number, text = sql.number(value, kind), sql.collate(sql.text(value, kind), ordering.collation)
    if desc:
        return [rank.desc(), number.desc(), text.desc()]
    return [rank, number, text]


def _json_paths(path: AttrPath) -> list[list[str | int]]:
    """Where a path's value may be in a stored entity, in the order tried: a Property's value or a Relationship's
    object, of the attribute or of its first instance (multi-instance attributes are arrays of instances); for a
    sub-attribute also the member itself (``observedAt``, ``unitCode`` are plain strings)."""
    found: list[list[str | int]] = []
    for head in ([path.name], [path.name, 0]):
        found += [[*head, *path.sub, member, *path.keys] for member in ("value", "object")]
        if path.sub:
            found.append([*head, *path.sub, *path.keys])
    return found


class _Dialect:
    RANKS: tuple[tuple[str, ...], ...] = ()

    def __init__(self, doc: ColumnElement[Any]) -> None:
        self.doc = doc  # the stored JSON

    def value(self, path: AttrPath) -> ColumnElement[Any]:
        raise NotImplementedError

    def attribute(self, name: str) -> ColumnElement[Any]:
        """The attribute ``name`` of the stored entity (NULL when it has none)."""
        raise NotImplementedError

    def kind(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        raise NotImplementedError

    def number(self, value: ColumnElement[Any], kind: ColumnElement[Any]) -> ColumnElement[Any]:
        raise NotImplementedError

    def text(self, value: ColumnElement[Any], kind: ColumnElement[Any]) -> ColumnElement[Any]:
        raise NotImplementedError

    def collate(self, text: ColumnElement[Any], collation: Collation) -> ColumnElement[Any]:
        raise NotImplementedError

    def stamp(self, stamps: ColumnElement[Any], name: str, index: int) -> ColumnElement[Any]:
        """Epoch milliseconds at ``[name][index]`` of an ``attr_stamps`` text (NULL when it has none)."""
        raise NotImplementedError

    def epoch_ms(self, moment: ColumnElement[Any]) -> ColumnElement[Any]:
        """A timestamp column in epoch milliseconds."""
        raise NotImplementedError

    def distance(self, value: ColumnElement[Any], lon: float, lat: float) -> ColumnElement[Any]:
        """Great-circle distance (haversine, metres up to a constant factor) from (lon, lat) to a Point value."""
        raise NotImplementedError


def _haversine(lon: ColumnElement[Any], lat: ColumnElement[Any], lon0: float, lat0: float) -> ColumnElement[Any]:
    """The haversine of the angle between two positions: increases with the distance, so it orders like it."""
    rad = math.pi / 180
    dlat = (lat - lat0) * (rad / 2)
    dlon = (lon - lon0) * (rad / 2)
    return func.sin(dlat) * func.sin(dlat) + math.cos(lat0 * rad) * func.cos(lat * rad) * func.sin(dlon) * func.sin(
        dlon
    )


class _Sqlite(_Dialect):
    """SQLite: ``data -> '$.a.value'`` is the JSON text at a path (NULL when missing); json_type names its type."""

    RANKS = (("integer", "real"), ("text",), ("false", "true"), ("object", "array"))

    def value(self, path: AttrPath) -> ColumnElement[Any]:
        found = [self.doc.op("->")(literal(_sqlite_path(p))) for p in _json_paths(path)]
        return func.coalesce(*found)

    def attribute(self, name: str) -> ColumnElement[Any]:
        return self.doc.op("->")(literal(_sqlite_path([name])))

    def kind(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.json_type(value)

    def number(self, value: ColumnElement[Any], kind: ColumnElement[Any]) -> ColumnElement[Any]:
        return case(
            (kind.in_(("integer", "real")), func.json_extract(value, "$")),
            (kind == "true", 1),
            (kind == "false", 0),
            else_=null(),
        )

    def text(self, value: ColumnElement[Any], kind: ColumnElement[Any]) -> ColumnElement[Any]:
        return case(
            (kind == "text", func.json_extract(value, "$")), (kind.in_(("object", "array")), value), else_=null()
        )

    def collate(self, text: ColumnElement[Any], collation: Collation) -> ColumnElement[Any]:
        return text.collate(ROOT_COLLATION if collation is Collation.ROOT else "BINARY")

    def stamp(self, stamps: ColumnElement[Any], name: str, index: int) -> ColumnElement[Any]:
        return func.json_extract(stamps, literal(_sqlite_path([name, index])))

    def epoch_ms(self, moment: ColumnElement[Any]) -> ColumnElement[Any]:
        return (func.julianday(moment) - 2440587.5) * 86400000.0  # the text SQLAlchemy stores, as UTC

    def distance(self, value: ColumnElement[Any], lon: float, lat: float) -> ColumnElement[Any]:
        point = func.json_extract(value, "$.type") == "Point"
        x, y = func.json_extract(value, "$.coordinates[0]"), func.json_extract(value, "$.coordinates[1]")
        return case((point, _haversine(x, y, lon, lat)), else_=null())


class _Postgres(_Dialect):
    """PostgreSQL: ``doc`` is the stored JSON as jsonb; ``jsonb_extract_path`` (NULL when missing), ``jsonb_typeof``."""

    RANKS = (("number",), ("string",), ("boolean",), ("object", "array"))

    def value(self, path: AttrPath) -> ColumnElement[Any]:
        steps = [[literal(str(step), String) for step in p] for p in _json_paths(path)]
        found = [func.jsonb_extract_path(self.doc, *p) for p in steps]
        return func.coalesce(*found)

    def attribute(self, name: str) -> ColumnElement[Any]:
        return func.jsonb_extract_path(self.doc, literal(name, String))

    def kind(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.jsonb_typeof(value)

    def number(self, value: ColumnElement[Any], kind: ColumnElement[Any]) -> ColumnElement[Any]:
        scalar = value.op("#>>")(literal_column("'{}'"))
        return case(
            (kind == "number", cast(scalar, Float)),
            (kind == "boolean", case((scalar == "true", 1.0), else_=0.0)),
            else_=null(),
        )

    def text(self, value: ColumnElement[Any], kind: ColumnElement[Any]) -> ColumnElement[Any]:
        scalar = value.op("#>>")(literal_column("'{}'"))
        return case((kind == "string", scalar), (kind.in_(("object", "array")), cast(value, String)), else_=null())

    def collate(self, text: ColumnElement[Any], collation: Collation) -> ColumnElement[Any]:
        return text.collate("und-x-icu" if collation is Collation.ROOT else "C")

    def stamp(self, stamps: ColumnElement[Any], name: str, index: int) -> ColumnElement[Any]:
        at = cast(stamps, JSONB).op("->")(literal(name, String)).op("->>")(literal(index))
        return cast(at, Float)

    def epoch_ms(self, moment: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.extract("epoch", moment) * 1000.0

    def distance(self, value: ColumnElement[Any], lon: float, lat: float) -> ColumnElement[Any]:
        point = value.op("->>")(literal("type", String)) == "Point"
        x = cast(value.op("#>>")(literal_column("'{coordinates,0}'")), Float)
        y = cast(value.op("#>>")(literal_column("'{coordinates,1}'")), Float)
        return case((point, _haversine(x, y, lon, lat)), else_=null())


def _sqlite_path(steps: list[str | int]) -> str:
    """A SQLite JSON path with every key quoted (names may hold ':', '#', '/' or '-')."""
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f'."{s}"' for s in steps)
