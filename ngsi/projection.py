"""The query indexes as a projection of the stored entities, kept in step after each write.

The entity table (and the history) are the records: what a write commits and what must never be lost. The attribute
index (``q``, ``attrs``), the spatial index (geo-queries) and the discovery statistics are derived from them. A
write does not rebuild them in its own transaction: it appends one row per written entity to ``ngsi_index_queue``
(the entity's state as it was before, which is what the indexes hold for it), and :func:`catch_up` replays the queue
into the indexes.

Why: a harvest snapshot of 20,000 stations writes ~15 attribute-index rows, a spatial row and statistics per
station — three times the work of storing the records themselves (bench/harvest_pipeline.py prints both rates). The
run commits its records first, so the records are safe and the run is done, and then catches the indexes up in a
second transaction (harvester/run.py).

Why no read ever sees a stale index: every read that uses one calls :func:`ensure_current` first, which replays
whatever is queued before the query runs (one indexed lookup of an empty table when nothing is). The queue is
written in the same transaction as the entities, so a crash between the two transactions leaves the queue to the
next reader or run: nothing is lost and nothing is indexed twice.

The hourly aggregates of the history (ngsi/temporal_hours.py) are a projection too. On SQLite the instances are
numbered in the order they were written (one writer at a time), ``ngsi_projection_state`` holds the number up to
which the hours count them, and the replay folds the instances above it in one statement. On PostgreSQL, where
concurrent writers commit their numbers out of order, an entity write's queue row carries the hours its instances
fall in (``hour_first``..``hour_last``), and the replay recomputes those hours of that entity from the instances;
other history writes (the temporal API) fold their own instances as they insert them.

Replaying: the rows are taken in queue order, a chunk at a time, and each chunk takes *every* queued row of its
entities (later ones too): the earliest row's ``before`` is what the indexes hold, the entity's current stored JSON
is what they must hold, and the difference is written — whole for an entity new to the index, per changed attribute
for an updated one, removed for a deleted or removed one. Two replays never run at once: PostgreSQL takes a
transaction-level advisory lock, SQLite's first statement is the queue's DELETE, which takes the database's write
lock.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Connection, Index, Integer, String, Table, Text

from hub.collector import collection_paused
from hub.db import Database, metadata
from ngsi import attr_stats, temporal_hours
from ngsi.attr_index import IndexRow, index_rows, replace_attributes, write_index
from ngsi.geo_index import delete_geo, write_geo
from ngsi.tables import type_column

log = logging.getLogger(__name__)

CHUNK = 5_000  # queued rows replayed per step: bounds the memory of a replay after a million-entity load
LOCK_KEY = 0x6E68_7072  # 'nhpr': PostgreSQL advisory lock held by the one replay running

index_queue = Table(
    "ngsi_index_queue",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("entity_id", String(512), nullable=False),
    # The entity's stored JSON before the write, when the indexes held it (live); NULL when they did not (new,
    # or coming back after being removed).
    Column("before", Text, nullable=True),
    # PostgreSQL: the hours (epoch seconds // 3600) of the instances the write added, to recompute; else NULL.
    Column("hour_first", Integer, nullable=True),
    Column("hour_last", Integer, nullable=True),
    Index("ix_ngsi_index_queue_entity", "tenant", "entity_id"),
)

projection_state = Table(
    "ngsi_projection_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
)
HOURS = "hours"  # projection_state: the last instance (pk) the hourly aggregates count (SQLite)

QUEUE_COLUMNS = "tenant, entity_id, before, hour_first, hour_last"
_ENQUEUE = f"INSERT INTO ngsi_index_queue ({QUEUE_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
COPY_THRESHOLD = 200  # PostgreSQL: below this many rows, executemany is as fast as COPY

# (tenant, entity id, JSON the indexes held or None, first hour, last hour of its new instances or None)
Queued = tuple[str, str, str | None, int | None, int | None]


def _sql(conn: Connection, sql: str) -> str:
    return sql.replace("?", "%s") if conn.dialect.paramstyle in ("format", "pyformat") else sql


def enqueue(conn: Connection, rows: Sequence[Queued]) -> None:
    """Queue every entity written (see :data:`Queued`), in the write's transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY ngsi_index_queue ({QUEUE_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(_sql(conn, _ENQUEUE), list(rows))


_PENDING_SQLITE = (
    "SELECT EXISTS (SELECT 1 FROM ngsi_index_queue) OR (SELECT coalesce(max(pk), 0) FROM ngsi_temporal_instances) "
    "> coalesce((SELECT value FROM ngsi_projection_state WHERE name = 'hours'), 0)"
)


def pending(conn: Connection) -> bool:
    """True when some write has not reached the indexes (or, on SQLite, the hourly aggregates) yet."""
    if conn.dialect.name == "sqlite":
        return bool(conn.exec_driver_sql(_PENDING_SQLITE).scalar())
    return conn.exec_driver_sql("SELECT 1 FROM ngsi_index_queue LIMIT 1").first() is not None


def hours_upto(conn: Connection) -> int:
    """SQLite: the last instance the hourly aggregates count."""
    value = conn.exec_driver_sql("SELECT value FROM ngsi_projection_state WHERE name = 'hours'").scalar()
    return int(value or 0)


def set_hours_upto(conn: Connection, top: int) -> None:
    conn.exec_driver_sql(
        "INSERT INTO ngsi_projection_state (name, value) VALUES ('hours', ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (top,),
    )


def rebuild_hours(conn: Connection) -> None:
    """Every hourly aggregate from the stored instances, and (SQLite) the mark at the last of them."""
    temporal_hours.rebuild(conn)
    if conn.dialect.name == "sqlite":
        top = conn.exec_driver_sql("SELECT coalesce(max(pk), 0) FROM ngsi_temporal_instances").scalar_one()
        set_hours_upto(conn, int(top))


def catch_up_hours(conn: Connection) -> int:
    """SQLite: fold the instances written since the last replay into their hours; returns the new mark."""
    top = conn.exec_driver_sql("SELECT coalesce(max(pk), 0) FROM ngsi_temporal_instances").scalar_one()
    done = hours_upto(conn)
    if top > done:
        temporal_hours.add_range(conn, done, top)
        set_hours_upto(conn, top)
    return int(top)


def ensure_current(db: Database) -> int:
    """Bring the indexes up to every committed write before a read uses them; returns the entities replayed."""
    with db.connect() as conn:
        if not pending(conn):
            return 0
    with db.begin() as conn:
        return catch_up(conn)


@dataclass(slots=True)
class _Step:
    """One tenant's share of a chunk: what the indexes must lose and gain."""

    fresh: list[str] = field(default_factory=list)  # entities new to the index: written whole
    fresh_rows: list[IndexRow] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # entities the index must forget
    changed: list[tuple[str, str]] = field(default_factory=list)  # (entity id, attribute) of updated ones
    changed_rows: list[IndexRow] = field(default_factory=list)
    written: list[dict[str, Any]] = field(default_factory=list)  # the current JSON of the fresh and updated ones
    held: dict[str, tuple[str, bool]] = field(default_factory=dict)  # the JSON the index held, for write_geo
    shapes: Counter[attr_stats.Key] = field(default_factory=Counter)


def catch_up(conn: Connection) -> int:
    """Replay the queue into the indexes in the caller's transaction; returns the number of entities replayed."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    replayed = 0
    if conn.dialect.name == "sqlite":
        catch_up_hours(conn)
    with collection_paused():
        while True:
            taken = _take(conn)
            if not taken:
                return replayed
            replayed += _replay(conn, taken)


@dataclass(slots=True)
class _Taken:
    """One entity of a chunk: the JSON its indexes hold, and the hours to recompute (PostgreSQL)."""

    before: str | None
    hours: tuple[int, int] | None = None

    def widen(self, first: int | None, last: int | None) -> None:
        if first is None or last is None:
            return
        self.hours = (first, last) if self.hours is None else (min(self.hours[0], first), max(self.hours[1], last))


def _take(conn: Connection) -> dict[tuple[str, str], _Taken]:
    """The next chunk's entities with the JSON their indexes hold; their queued rows leave the queue."""
    head = conn.exec_driver_sql(
        _sql(
            conn,
            "DELETE FROM ngsi_index_queue WHERE seq IN (SELECT seq FROM ngsi_index_queue ORDER BY seq LIMIT ?) "
            "RETURNING seq, tenant, entity_id, before, hour_first, hour_last",
        ),
        (CHUNK,),
    ).all()
    taken: dict[tuple[str, str], _Taken] = {}
    for _seq, tenant, entity_id, before, first, last in sorted(head):
        item = taken.get((tenant, entity_id))
        if item is None:
            item = taken[(tenant, entity_id)] = _Taken(before)  # the earliest row: what the indexes hold
        item.widen(first, last)
    # Later rows of the same entities: replaying the current state covers them too (and their hours).
    for tenant, entity_id, first, last in _drop_rest(conn, list(taken)):
        taken[(tenant, entity_id)].widen(first, last)
    return taken


def _drop_rest(conn: Connection, keys: list[tuple[str, str]]) -> list[tuple[str, str, int | None, int | None]]:
    by_tenant: dict[str, list[str]] = {}
    for tenant, entity_id in keys:
        by_tenant.setdefault(tenant, []).append(entity_id)
    dropped: list[tuple[str, str, int | None, int | None]] = []
    for tenant, ids in by_tenant.items():
        if conn.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(
                "DELETE FROM ngsi_index_queue WHERE tenant = %s AND entity_id = ANY(%s) "
                "RETURNING tenant, entity_id, hour_first, hour_last",
                (tenant, ids),
            )
        else:
            rows = conn.exec_driver_sql(
                "DELETE FROM ngsi_index_queue WHERE tenant = ? AND entity_id IN (SELECT value FROM json_each(?)) "
                "RETURNING tenant, entity_id, hour_first, hour_last",
                (tenant, orjson.dumps(ids).decode()),
            )
        dropped.extend((t, e, f, la) for t, e, f, la in rows)
    return dropped


def _current(conn: Connection, tenant: str, ids: list[str]) -> dict[str, tuple[str, str]]:
    """(type value, stored JSON) of the live entities among ``ids``."""
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT id, type, data FROM ngsi_entities WHERE tenant = %s AND id = ANY(%s) AND NOT removed", (tenant, ids)
        )
    else:
        rows = conn.exec_driver_sql(
            "SELECT id, type, data FROM ngsi_entities WHERE tenant = ? AND id IN (SELECT value FROM json_each(?)) "
            "AND NOT removed",
            (tenant, orjson.dumps(ids).decode()),
        )
    return {entity_id: (kind, data) for entity_id, kind, data in rows}


def _replay(conn: Connection, taken: dict[tuple[str, str], _Taken]) -> int:
    by_tenant: dict[str, list[tuple[str, str | None]]] = {}
    for (tenant, entity_id), item in taken.items():
        by_tenant.setdefault(tenant, []).append((entity_id, item.before))
    hours = [(tenant, entity_id, *item.hours) for (tenant, entity_id), item in taken.items() if item.hours]
    if hours:
        temporal_hours.recompute_spans(conn, hours)
    for tenant, group in by_tenant.items():
        step = _plan(group, _current(conn, tenant, [entity_id for entity_id, _ in group]))
        write_index(conn, tenant, step.fresh + step.gone, step.fresh_rows)
        replace_attributes(conn, tenant, step.changed, step.changed_rows)
        attr_stats.apply(conn, tenant, step.shapes)
        delete_geo(conn, tenant, step.gone)
        write_geo(conn, tenant, step.written, step.fresh, step.changed, step.held)
    return len(taken)


def _plan(group: list[tuple[str, str | None]], current: dict[str, tuple[str, str]]) -> _Step:
    step = _Step()
    for entity_id, before in group:
        now = current.get(entity_id)
        if now is not None and now[1] == before:
            continue  # written back to what the indexes hold
        old: dict[str, Any] | None = orjson.loads(before) if before is not None else None
        if old is not None:
            step.shapes.subtract(attr_stats.signature(old, type_column(old["type"])))
        if now is None:
            if old is not None:
                step.gone.append(entity_id)
            continue
        entity: dict[str, Any] = orjson.loads(now[1])
        step.shapes.update(attr_stats.signature(entity, now[0]))
        step.written.append(entity)
        if old is None:
            step.fresh.append(entity_id)
            step.fresh_rows.extend(index_rows(entity))
            continue
        assert before is not None
        step.held[entity_id] = (before, False)
        names = [n for n in entity.keys() | old.keys() if n not in ("id", "type") and entity.get(n) != old.get(n)]
        step.changed.extend((entity_id, name) for name in names)
        step.changed_rows.extend(index_rows({"id": entity_id, **{n: entity[n] for n in names if n in entity}}))
    return step
