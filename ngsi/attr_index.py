"""The attribute index that ``q`` runs on: every entity flattened into small typed rows.

One row per indexed value: the attribute's value (``path`` ''), each sub-attribute's value (``path`` its name:
'observedAt', 'unitCode', a sub-property), and one level of keys inside object values (``path`` '[key]' for the
attribute's value, 'sub[key]' for a sub-attribute's). Arrays give one row per element, so "== on an array means
contains" is a plain equality. Every attribute instance, sub-attribute and key has at least one row, so existence
is a row lookup too. Multi-instance attributes keep their ``datasetId`` ('' for the default instance).

A value lands in the column of its type: ``num`` (numbers), ``text`` (strings, Relationship targets, date/time
strings too), ``bool``, ``ts`` (date-times and dates as epoch seconds, times as seconds since midnight). ``kind``
tells the compiler how to read a row (:class:`Kind`): a Relationship target is only compared with ``==``/``!=``,
and a date-time is compared as an instant.

Bounds that keep rows compact: texts are cut to TEXT_MAX characters (and TEXT_MAX_BYTES bytes, for PostgreSQL's
btree limit), arrays and objects to their first ITEMS_MAX members; attribute names and paths longer than their
columns are not indexed. GeoProperty values are indexed for existence only.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from enum import StrEnum
from itertools import islice
from typing import Any, TypeAlias

from sqlalchemy import Boolean, Column, Connection, Float, Index, String, Table, and_, delete

from hub.db import metadata
from hub.driver import copy_rows
from ngsi.live import live_pages
from ngsi.q import temporal
from ngsi.representation import VALUE_MEMBERS

TEXT_MAX = 512
TEXT_MAX_BYTES = 1536
ITEMS_MAX = 100
NAME_MAX = 256
CHUNK = 500  # entity ids per DELETE … IN (…)
COPY_THRESHOLD = 200  # PostgreSQL: below this many rows, executemany is as fast as COPY
ANALYZE_THRESHOLD = 20_000  # PostgreSQL: refresh the planner's statistics after adding this many rows…
ANALYZE_GROWTH = 0.2  # …when they grow the table by this share of what the statistics believe it holds
_DELETE_ANY = "DELETE FROM ngsi_attr_index WHERE tenant = %s AND entity_id = ANY(%s)"
_DELETE_PAIRS = (
    "DELETE FROM ngsi_attr_index AS i USING unnest(%s::varchar[], %s::varchar[]) AS d(entity_id, attr) "
    "WHERE i.tenant = %s AND i.entity_id = d.entity_id AND i.attr = d.attr"
)


class Kind(StrEnum):
    NUMBER = "n"
    STRING = "s"
    BOOL = "b"
    INSTANT = "d"  # a date-time or date: ts is epoch seconds (dates at 00:00 UTC)
    TIME = "t"  # a time of day: ts is seconds since midnight
    REF = "r"  # a Relationship target
    OTHER = "x"  # null, an object, a GeoJSON value: present, but only for existence


attr_index = Table(
    "ngsi_attr_index",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("entity_id", String(512), nullable=False),
    Column("attr", String(NAME_MAX), nullable=False),
    Column("path", String(NAME_MAX), nullable=False),
    Column("dataset_id", String(512), nullable=False),
    Column("kind", String(1), nullable=False),
    Column("num", Float, nullable=True),
    Column("text", String(TEXT_MAX), nullable=True),
    Column("bool", Boolean, nullable=True),
    Column("ts", Float, nullable=True),
    # One index only: q terms run as EXISTS lookups correlated on (tenant, entity id, attribute). Value indexes
    # (attr, path, num/text/ts) were measured to cost a third of the harvest's write speed, and without statistics
    # SQLite picked them for the correlated lookup, scanning every matching value per entity.
    Index("ix_ngsi_attr_index_tenant_entity_id", "tenant", "entity_id", "attr"),
)

COLUMNS = ("tenant", "entity_id", "attr", "path", "dataset_id", "kind", "num", "text", "bool", "ts")

# (entity_id, attr, path, dataset_id, kind, num, text, bool, ts): a row without its tenant.
IndexRow: TypeAlias = tuple[str, str, str, str, str, float | None, str | None, bool | None, float | None]

_ENTITY_MEMBERS = frozenset({"id", "type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt", "expiresAt"})
_NOT_SUB_ATTRIBUTES = frozenset({"type", "datasetId", "instanceId", "lang", *VALUE_MEMBERS})
_REF_TYPES = frozenset({"Relationship", "ListRelationship"})


def clip(text: str) -> str:
    """A text as the index stores it: at most TEXT_MAX characters and TEXT_MAX_BYTES UTF-8 bytes, no NUL."""
    text = text[:TEXT_MAX].replace("\x00", "")
    if len(text) * 4 > TEXT_MAX_BYTES and len(text.encode()) > TEXT_MAX_BYTES:
        text = text.encode()[:TEXT_MAX_BYTES].decode(errors="ignore")
    return text


def instant(value: datetime | date) -> float:
    """Epoch seconds of a date-time, or of a date at 00:00 UTC."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.timestamp()


def seconds_of_day(value: time) -> float:
    return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6


def _scalar(eid: str, attr: str, path: str, dataset: str, value: Any, ref: bool) -> IndexRow:
    if type(value) in _CACHEABLE and (type(value) is not str or len(value) <= NAME_MAX):  # long texts rarely repeat
        return (eid, attr, path, dataset, *_value_columns(value, ref))
    return (eid, attr, path, dataset, *_columns(value, ref))


ValueColumns: TypeAlias = tuple[str, float | None, str | None, bool | None, float | None]
_CACHEABLE = frozenset({str, int, float, bool, type(None)})
_MISSING = object()


# A snapshot's values repeat across its entities (statuses, counts, time stamps, provider names): the typed columns
# of a value are worked out once. ``typed`` keeps 1, 1.0 and True apart (they hash alike but index differently).
@functools.lru_cache(maxsize=65536, typed=True)
def _value_columns(value: Any, ref: bool) -> ValueColumns:
    return _columns(value, ref)


def _columns(value: Any, ref: bool) -> ValueColumns:
    """(kind, num, text, bool, ts) of one value."""
    if isinstance(value, bool):
        return (Kind.BOOL.value, None, None, value, None)
    if isinstance(value, int | float):
        number = float(value) if not isinstance(value, int) or abs(value) < 2**1000 else math.inf
        if math.isfinite(number):
            return (Kind.NUMBER.value, number, None, None, None)
    if isinstance(value, str):
        if ref:
            return (Kind.REF.value, None, clip(value), None, None)
        moment = _temporal(value) if len(value) <= 40 else None
        if isinstance(moment, time):
            return (Kind.TIME.value, None, clip(value), None, seconds_of_day(moment))
        if moment is not None:
            return (Kind.INSTANT.value, None, clip(value), None, instant(moment))
        return (Kind.STRING.value, None, clip(value), None, None)
    return (Kind.OTHER.value, None, None, None, None)


@functools.lru_cache(maxsize=8192)  # observedAt and other time stamps repeat across a batch's entities
def _temporal(value: str) -> datetime | date | time | None:
    return temporal(value)


class _Flattener:
    """The rows of one entity; ``keys`` says whether object values at this level still open one level of keys."""

    def __init__(self, eid: str) -> None:
        self.eid = eid
        self.rows: list[IndexRow] = []

    def emit(self, attr: str, path: str, dataset: str, value: Any, *, ref: bool, keys: bool) -> None:
        if len(path) > NAME_MAX:
            return
        if isinstance(value, list):
            items = list(islice(value, ITEMS_MAX))
            if not items or any(isinstance(item, list) for item in items):
                self.rows.append(_scalar(self.eid, attr, path, dataset, None, ref))
            for item in items:
                if not isinstance(item, list):
                    self.emit(attr, path, dataset, item, ref=ref, keys=keys)
            return
        if isinstance(value, dict):
            if "@value" in value:  # a typed literal such as {"@type": "DateTime", "@value": "…"}
                value = value["@value"]
            else:
                self.rows.append(_scalar(self.eid, attr, path, dataset, None, ref))
                for key, inner in islice(value.items(), ITEMS_MAX) if keys else ():
                    self.emit(attr, f"{path}[{key}]", dataset, inner, ref=False, keys=False)
                return
        self.rows.append(_scalar(self.eid, attr, path, dataset, value, ref))

    def attribute(self, attr: str, path: str, dataset: str, member: Any) -> None:
        """One attribute instance (or sub-attribute) at ``path``: its value, then its own sub-attributes."""
        if not isinstance(member, dict) or not ({"type", *VALUE_MEMBERS} & member.keys()):
            self.emit(attr, path, dataset, member, ref=False, keys=True)  # a bare value (observedAt, unitCode…)
            return
        kind = member.get("type")
        if "languageMap" in member and isinstance(member["languageMap"], dict):
            self.emit(attr, path, dataset, list(member["languageMap"].values()), ref=False, keys=False)
            self.emit(attr, path, dataset, member["languageMap"], ref=False, keys=True)
        elif kind == "GeoProperty":
            self.emit(attr, path, dataset, None, ref=False, keys=False)
        elif "objectList" in member:
            targets = member["objectList"] if isinstance(member["objectList"], list) else []
            objects = [t.get("object") if isinstance(t, dict) else t for t in targets]
            self.emit(attr, path, dataset, objects, ref=True, keys=False)
        else:
            found = next((m for m in VALUE_MEMBERS if m in member), None)
            ref = kind in _REF_TYPES or found == "object"
            self.emit(attr, path, dataset, member[found] if found else None, ref=ref, keys=True)
        if path:
            return  # sub-attributes of sub-attributes are not indexed
        for name, sub in member.items():
            if name not in _NOT_SUB_ATTRIBUTES and len(name) <= NAME_MAX:
                self.attribute(attr, name, dataset, sub)


def index_rows(entity: dict[str, Any]) -> list[IndexRow]:
    """The index rows of one normalized entity (without the tenant), duplicates removed."""
    eid = str(entity["id"])
    flat = _Flattener(eid)
    for attr, member in entity.items():
        if attr in _ENTITY_MEMBERS or len(attr) > NAME_MAX:
            continue
        if type(member) is dict and _plain_attribute(eid, attr, member, flat.rows):
            continue
        multi = isinstance(member, list) and member and all(isinstance(m, dict) for m in member)
        instances = member if multi else [member]
        for instance in instances:
            dataset = instance.get("datasetId") if isinstance(instance, dict) else None
            flat.attribute(attr, "", str(dataset) if dataset else "", instance)
    return list(dict.fromkeys(flat.rows))


def _plain_attribute(eid: str, attr: str, member: dict[str, Any], rows: list[IndexRow]) -> bool:
    """The rows of a Property with a scalar value or of a GeoProperty, whose sub-attributes are bare values.

    Nearly every attribute a harvest writes has this shape; taking it here without the general walk of
    :class:`_Flattener` halves the time spent building index rows. Gives exactly the walk's rows, or False (and
    nothing) for any other shape.
    """
    kind = member.get("type")
    value = member.get("value", _MISSING)
    if "languageMap" in member or "objectList" in member:
        return False
    if kind == "GeoProperty":
        value = None
    elif kind != "Property" or type(value) not in _CACHEABLE:
        return False
    dataset = member.get("datasetId")
    dataset = str(dataset) if dataset else ""
    found = [_scalar(eid, attr, "", dataset, value, False)]
    for name, sub in member.items():
        if name in _NOT_SUB_ATTRIBUTES or len(name) > NAME_MAX:
            continue
        if type(sub) not in _CACHEABLE:
            return False
        found.append(_scalar(eid, attr, name, dataset, sub, False))
    rows.extend(found)
    return True


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _delete(conn: Connection, tenant: str, entity_ids: Sequence[str]) -> None:
    if not entity_ids:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_DELETE_ANY, (tenant, list(entity_ids)))
        return
    for chunk in _chunks(entity_ids):
        where = and_(attr_index.c.tenant == tenant, attr_index.c.entity_id.in_(chunk))
        conn.execute(delete(attr_index).where(where))


def _copy(conn: Connection, data: list[tuple[Any, ...]]) -> None:
    copy_rows(conn, "ngsi_attr_index", ", ".join(COLUMNS), data)


def analyze_when_grown(conn: Connection, table: str, added: int, *, threshold: int = ANALYZE_THRESHOLD) -> bool:
    """PostgreSQL: refresh ``table``'s statistics when ``added`` new rows outgrow what they describe.

    Statistics from when a table was small make the planner filter the next batch's lookups and DELETEs by tenant
    alone, scanning every row of the tenant: a batch that grew the table refreshes them inside its transaction,
    which sees its own rows. A batch that replaced as many rows as it added (a harvest updating its entities) has
    nothing to refresh, and skips the ANALYZE (half a second on 300,000 index rows).
    """
    if conn.dialect.name != "postgresql" or added < threshold:
        return False
    believed = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,)).scalar()
    if believed is not None and believed >= 0 and added < ANALYZE_GROWTH * believed:
        return False
    conn.exec_driver_sql(f"ANALYZE {table}")
    return True


def write_index(conn: Connection, tenant: str, entity_ids: Sequence[str], rows: Iterable[IndexRow]) -> int:
    """Replace the index rows of ``entity_ids`` under ``tenant`` with ``rows``, in the caller's transaction."""
    _delete(conn, tenant, entity_ids)
    written = _insert(conn, [(tenant, *row) for row in rows])
    analyze_when_grown(conn, "ngsi_attr_index", written)  # the rows of whole entities: new ones, mostly
    return written


def _insert(conn: Connection, data: list[tuple[Any, ...]]) -> int:
    if conn.dialect.name == "postgresql" and len(data) >= COPY_THRESHOLD:
        _copy(conn, data)
    elif data:
        marks = ", ".join(["%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"] * len(COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO ngsi_attr_index ({', '.join(COLUMNS)}) VALUES ({marks})", data)
    return len(data)


def replace_attributes(
    conn: Connection, tenant: str, changed: Sequence[tuple[str, str]], rows: Iterable[IndexRow]
) -> int:
    """Replace the index rows of single attributes ((entity id, attribute) pairs) with ``rows``.

    A harvest that updates an entity usually changes a few of its attributes (the counts, the status); rewriting
    only those keeps the index write proportional to what changed.
    """
    if conn.dialect.name == "postgresql":
        # One statement for the whole batch: the pairs travel as two arrays (20,000 single DELETEs took seconds).
        if changed:
            conn.exec_driver_sql(_DELETE_PAIRS, ([e for e, _ in changed], [a for _, a in changed], tenant))
    else:
        _delete_attributes(conn, tenant, changed)
    return _insert(conn, [(tenant, *row) for row in rows])


def _delete_attributes(conn: Connection, tenant: str, changed: Sequence[tuple[str, str]]) -> None:
    by_entity: dict[str, list[str]] = {}
    for entity_id, attr in changed:
        by_entity.setdefault(entity_id, []).append(attr)
    # One DELETE per entity, batched by the set of attributes that changed (usually the same few for a whole feed).
    by_names: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for entity_id, attrs in by_entity.items():
        names = tuple(sorted(attrs))
        by_names.setdefault(names, []).append((tenant, entity_id, *names))
    for names, params in by_names.items():
        in_list = ", ".join(["?"] * len(names))
        sql = f"DELETE FROM ngsi_attr_index WHERE tenant = ? AND entity_id = ? AND attr IN ({in_list})"
        conn.exec_driver_sql(sql, params)


def delete_index(conn: Connection, tenant: str, entity_ids: Sequence[str]) -> None:
    """Drop the index rows of ``entity_ids`` (an entity deleted or marked removed)."""
    write_index(conn, tenant, entity_ids, ())


def rebuild_index(conn: Connection, *, batch: int = 1000) -> int:
    """Index every stored entity that is not removed, from scratch; returns the number of rows written."""
    conn.execute(delete(attr_index))
    pages = live_pages(conn, batch=batch)
    return sum(write_index(conn, tenant, (), [r for e in found for r in index_rows(e)]) for tenant, found in pages)
