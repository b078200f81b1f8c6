"""The query indexes as a projection of the stored entities, kept in step after each write.

The entity table (and the history) are the records: what a write commits and what must never be lost. The attribute
index (``q``, ``attrs``), the spatial index (geo-queries) and the discovery statistics are derived from them. A
write does not rebuild them in its own transaction: it appends one row per written entity to ``ngsi_index_queue``,
and :func:`catch_up` replays the queue into the indexes.

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
entities (later ones too). An entity's attribute-index and spatial rows are rewritten from its current stored JSON
(dropped when it is deleted or removed), and the discovery statistics move by the difference between the signature
they count for it (``ngsi_index_state``, written by the replay itself) and its new one. Nothing a writer read
before its write is trusted, so two writers racing on one entity cannot leave the indexes describing a state that
was never stored. Two replays never run at once: PostgreSQL takes a
transaction-level advisory lock; on SQLite the first statement is a write that changes nothing and takes the
database's write lock (:func:`_write_lock`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Connection, Index, Integer, String, Table, Text

from hub.collector import collection_paused
from hub.db import Database, metadata
from hub.driver import copy_rows
from ngsi import attr_stats, temporal_hours
from ngsi.attr_index import IndexRow, index_rows, write_index
from ngsi.geo_index import delete_geo, write_geo
from ngsi.live import live_pages
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
    # PostgreSQL: the hours (epoch seconds // 3600) of the instances the write added, to recompute; else NULL.
    Column("hour_first", Integer, nullable=True),
    Column("hour_last", Integer, nullable=True),
    Index("ix_ngsi_index_queue_entity", "tenant", "entity_id"),
)

# What the statistics count for each indexed entity: its signature (ngsi.attr_stats), as JSON.
index_state = Table(
    "ngsi_index_state",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("entity_id", String(512), primary_key=True),
    Column("signature", Text, nullable=False),
)

projection_state = Table(
    "ngsi_projection_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
)
HOURS = "hours"  # projection_state: the last instance (pk) the hourly aggregates count (SQLite)

QUEUE_COLUMNS = "tenant, entity_id, hour_first, hour_last"
_ENQUEUE = f"INSERT INTO ngsi_index_queue ({QUEUE_COLUMNS}) VALUES (?, ?, ?, ?)"
COPY_THRESHOLD = 200  # PostgreSQL: below this many rows, executemany is as fast as COPY

# (tenant, entity id, first hour, last hour of its new instances or None)
Queued = tuple[str, str, int | None, int | None]


def _sql(conn: Connection, sql: str) -> str:
    return sql.replace("?", "%s") if conn.dialect.paramstyle in ("format", "pyformat") else sql


def enqueue(conn: Connection, rows: Sequence[Queued]) -> None:
    """Queue every entity written (see :data:`Queued`), in the write's transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        copy_rows(conn, "ngsi_index_queue", QUEUE_COLUMNS, rows)
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


def _write_lock(conn: Connection) -> None:
    """SQLite: take the database's write lock before reading what to replay.

    The driver begins a transaction only before a write, so reads that come first run outside it: two replays
    could both read the same mark and fold the same instances twice. A write that changes nothing takes the lock
    (waiting for the other writer, up to the busy timeout), and every read after it sees the latest commit."""
    conn.exec_driver_sql("UPDATE ngsi_projection_state SET value = value WHERE 0")


def catch_up_hours(conn: Connection) -> int:
    """SQLite: fold the instances written since the last replay into their hours; returns the new mark."""
    _write_lock(conn)
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
    """One entity of a chunk: the hours to recompute (PostgreSQL)."""

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
            "RETURNING seq, tenant, entity_id, hour_first, hour_last",
        ),
        (CHUNK,),
    ).all()
    taken: dict[tuple[str, str], _Taken] = {}
    for _seq, tenant, entity_id, first, last in sorted(head):
        taken.setdefault((tenant, entity_id), _Taken()).widen(first, last)
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
    by_tenant: dict[str, list[str]] = {}
    for tenant, entity_id in taken:
        by_tenant.setdefault(tenant, []).append(entity_id)
    hours = [(tenant, entity_id, *item.hours) for (tenant, entity_id), item in taken.items() if item.hours]
    if hours:
        temporal_hours.recompute_spans(conn, hours)
    for tenant, ids in by_tenant.items():
        current = _current(conn, tenant, ids)
        held = _held(conn, tenant, ids)
        shapes: Counter[attr_stats.Key] = Counter()
        written: list[dict[str, Any]] = []
        rows: list[IndexRow] = []
        state: list[tuple[str, str, str]] = []
        for entity_id in ids:
            signature = held.get(entity_id)
            if signature is not None:
                shapes.subtract(tuple(key) for key in orjson.loads(signature))
            stored = current.get(entity_id)
            if stored is None:
                continue
            entity: dict[str, Any] = orjson.loads(stored[1])
            keys = attr_stats.signature(entity, stored[0])
            shapes.update(keys)
            state.append((tenant, entity_id, orjson.dumps(sorted(keys)).decode()))
            written.append(entity)
            rows.extend(index_rows(entity))
        write_index(conn, tenant, ids, rows)
        attr_stats.apply(conn, tenant, shapes)
        delete_geo(conn, tenant, ids)
        write_geo(conn, tenant, written, [str(e["id"]) for e in written], [], {})
        _write_state(conn, tenant, ids, state)
    return len(taken)


def _held(conn: Connection, tenant: str, ids: list[str]) -> dict[str, str]:
    """The signatures the statistics count for ``ids`` (JSON), of those indexed."""
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT entity_id, signature FROM ngsi_index_state WHERE tenant = %s AND entity_id = ANY(%s)",
            (tenant, ids),
        )
    else:
        rows = conn.exec_driver_sql(
            "SELECT entity_id, signature FROM ngsi_index_state WHERE tenant = ? "
            "AND entity_id IN (SELECT value FROM json_each(?))",
            (tenant, orjson.dumps(ids).decode()),
        )
    return {entity_id: signature for entity_id, signature in rows}


def _write_state(conn: Connection, tenant: str, ids: list[str], rows: list[tuple[str, str, str]]) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DELETE FROM ngsi_index_state WHERE tenant = %s AND entity_id = ANY(%s)", (tenant, ids))
    else:
        conn.exec_driver_sql(
            "DELETE FROM ngsi_index_state WHERE tenant = ? AND entity_id IN (SELECT value FROM json_each(?))",
            (tenant, orjson.dumps(ids).decode()),
        )
    if rows:
        conn.exec_driver_sql(
            _sql(conn, "INSERT INTO ngsi_index_state (tenant, entity_id, signature) VALUES (?, ?, ?)"), rows
        )


def rebuild_state(conn: Connection, *, batch: int = 1000) -> None:
    """The signature of every live entity, as the statistics count them (the migration that creates the table)."""
    conn.exec_driver_sql("DELETE FROM ngsi_index_state")
    for tenant, found in live_pages(conn, batch=batch):
        rows = [
            (tenant, str(e["id"]), orjson.dumps(sorted(attr_stats.signature(e, type_column(e["type"])))).decode())
            for e in found
        ]
        conn.exec_driver_sql(
            _sql(conn, "INSERT INTO ngsi_index_state (tenant, entity_id, signature) VALUES (?, ?, ?)"), rows
        )
