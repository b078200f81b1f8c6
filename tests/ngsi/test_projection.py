"""The query indexes as a projection (ngsi/projection.py): whatever the writes and whenever the replays, the
indexes end equal to indexes rebuilt from scratch, and every read that uses them sees every committed write."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, select

from hub.db import Database
from ngsi import projection, store, temporal, temporal_hours
from ngsi.attr_index import attr_index, rebuild_index
from ngsi.attr_stats import attr_stats, rebuild_stats
from ngsi.geo_index import geo_index, rebuild_geo
from ngsi.tables import temporal_hours as hours_table

NOW = datetime(2026, 12, 1, tzinfo=UTC)
T0 = 1_764_547_200  # 2025-12-01T00:00:00Z


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entity(rng: random.Random, n: int, moment: float) -> dict[str, Any]:
    """A random shape: plain and observed values, a relationship, sometimes a location, a multi-instance
    attribute, an object value, another type."""
    entity: dict[str, Any] = {"id": f"urn:ngsi-ld:Thing:{n}", "type": rng.choice(["Thing", "Other", ["Thing", "X"]])}
    if rng.random() < 0.8:
        entity["bikes"] = {"type": "Property", "value": rng.randint(0, 5), "observedAt": _iso(moment)}
    if rng.random() < 0.5:
        entity["status"] = {"type": "Property", "value": rng.choice(["working", "full"]), "observedAt": _iso(moment)}
    if rng.random() < 0.6:
        point = [rng.uniform(10, 11), rng.uniform(59, 60)]
        entity["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": point}}
    if rng.random() < 0.3:
        entity["location"] = {"type": "Property", "value": "nowhere"}  # the same name, no longer geo
    if rng.random() < 0.4:
        entity["near"] = {"type": "Relationship", "object": f"urn:ngsi-ld:Thing:{rng.randint(0, 9)}"}
    if rng.random() < 0.3:
        entity["temp"] = [
            {"type": "Property", "value": rng.random()},
            {"type": "Property", "value": rng.random(), "datasetId": "urn:ngsi-ld:Dataset:b"},
        ]
    if rng.random() < 0.3:
        entity["address"] = {"type": "Property", "value": {"streetAddress": f"Gate {rng.randint(1, 3)}"}}
    return entity


def _snapshot(conn: Connection) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    i, g, s, h = attr_index.c, geo_index.c, attr_stats.c, hours_table.c
    index = sorted(
        tuple(r)
        for r in conn.execute(
            select(i.tenant, i.entity_id, i.attr, i.path, i.dataset_id, i.kind, i.num, i.text, i.bool, i.ts)
        )
    )
    geo = sorted(
        tuple(r)
        for r in conn.execute(
            select(g.tenant, g.entity_id, g.attr, g.min_lon, g.min_lat, g.max_lon, g.max_lat, g.geometry)
        )
    )
    stats = sorted(
        tuple(r) for r in conn.execute(select(s.tenant, s.type, s.attr, s.attr_type, s.entities)) if r.entities
    )
    hours = sorted(
        tuple(r)
        for r in conn.execute(
            select(h.tenant, h.entity_id, h.attr, h.hour, h.n, h.n_num, h.low, h.high, h.ts_first, h.ts_last)
        )
    )
    return index, geo, stats, hours


def _rebuilt(db: Database) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    with db.connect() as conn:
        transaction = conn.begin()
        rebuild_index(conn)
        rebuild_geo(conn)
        rebuild_stats(conn)
        temporal_hours.rebuild(conn)
        rebuilt = _snapshot(conn)
        transaction.rollback()
    return rebuilt


@pytest.mark.parametrize("chunk", [3, projection.CHUNK])  # 3: an entity's queued rows span several chunks
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_writes_and_replays_end_equal_to_a_rebuild(
    db: Database, seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projection, "CHUNK", chunk)
    rng = random.Random(seed)
    moment = float(T0)
    for _step in range(40):
        moment += rng.choice([60, 600, 3600])  # several hours, so the hours of later writes differ
        with db.begin() as conn:
            action = rng.random()
            if action < 0.6:
                writes = [
                    store.EntityWrite(
                        rng.choice(["oslo", "bergen"]),
                        _entity(rng, rng.randint(0, 14), moment),
                        source_id=rng.choice(["a", "b"]),
                    )
                    for _ in range(rng.randint(1, 6))
                ]
                store.upsert_entities(conn, list({(w.tenant, w.id): w for w in writes}.values()), now=NOW)
            elif action < 0.7:
                store.mark_removed(
                    conn,
                    source_id=rng.choice(["a", "b"]),
                    keep={f"urn:ngsi-ld:Thing:{n}" for n in range(rng.randint(0, 14))},
                    now=NOW,
                )
            elif action < 0.8:
                tenant = rng.choice(["oslo", "bergen", None])
                store.delete_entity(conn, tenant=tenant, entity_id=f"urn:ngsi-ld:Thing:{rng.randint(0, 14)}")
            elif action < 0.9:  # the temporal API's own instances, beside those of entity writes
                temporal.add_instances(
                    conn,
                    "oslo",
                    f"urn:ngsi-ld:Thing:{rng.randint(0, 14)}",
                    [("bikes", moment + k, k) for k in range(rng.randint(1, 3))],
                )
            else:
                temporal.delete_history(conn, "oslo", f"urn:ngsi-ld:Thing:{rng.randint(0, 14)}")
            if rng.random() < 0.3:  # a replay in the write's own transaction now and then, usually later
                projection.catch_up(conn)
    with db.begin() as conn:
        projection.catch_up(conn)
        assert not projection.pending(conn)
        replayed = _snapshot(conn)
    assert replayed[0], "the random writes indexed nothing: the test would prove nothing"
    assert replayed == _rebuilt(db)


def test_reads_in_another_process_replay_what_was_committed(db: Database, database_url: str) -> None:
    entity = {"id": "urn:ngsi-ld:Thing:1", "type": "Thing", "n": {"type": "Property", "value": 7}}
    with db.begin() as conn:
        store.upsert_entities(conn, [store.EntityWrite("oslo", entity)], now=NOW)
    other = Database(database_url)  # as a second hub process would: nothing shared but the database
    try:
        assert projection.ensure_current(other) == 1
        assert projection.ensure_current(other) == 0
        with other.connect() as conn:
            rows = conn.execute(select(attr_index.c.attr, attr_index.c.num).where(attr_index.c.attr == "n")).all()
        assert [tuple(r) for r in rows] == [("n", 7.0)]
    finally:
        other.dispose()


def test_concurrent_replays_count_each_write_once(db: Database, database_url: str) -> None:
    observed = {"type": "Property", "value": 1, "observedAt": _iso(T0)}
    writes = [
        store.EntityWrite(
            "oslo",
            {"id": f"urn:ngsi-ld:Thing:{n}", "type": "Thing", "n": {"type": "Property", "value": n}, "o": observed},
        )
        for n in range(3 * projection.CHUNK // 2)
    ]
    with db.begin() as conn:
        store.upsert_entities(conn, writes, now=NOW)
    readers = [Database(database_url) for _ in range(3)]
    replayed: list[int] = []
    try:
        threads = [threading.Thread(target=lambda d=d: replayed.append(projection.ensure_current(d))) for d in readers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for reader in readers:
            reader.dispose()
    assert sum(replayed) == len(writes)
    with db.connect() as conn:
        counts = {(r.type, r.attr): r.entities for r in conn.execute(select(attr_stats))}
        hours = conn.execute(select(hours_table.c.n)).scalars().all()
    assert counts[("Thing", "n")] == len(writes)
    assert hours == [1] * len(writes)  # each instance in its hour once
    assert _rebuilt(db)[2] == [
        ("oslo", "Thing", "", "", len(writes)),
        ("oslo", "Thing", "n", "Property", len(writes)),
        ("oslo", "Thing", "o", "Property", len(writes)),
    ]


def test_an_update_keeping_type_scope_and_source_rewrites_only_the_json(db: Database) -> None:
    first = {"id": "urn:ngsi-ld:Thing:k", "type": "Thing", "bikes": {"type": "Property", "value": 1}}
    second = {**first, "bikes": {"type": "Property", "value": 2}}
    with db.begin() as conn:
        store.upsert_entities(conn, [store.EntityWrite("oslo", first, scope="/Nordic/NO/oslo", source_id="s")], now=NOW)
    with db.begin() as conn:
        result = store.upsert_entities(
            conn, [store.EntityWrite("oslo", second, scope="/Nordic/NO/oslo", source_id="s")], now=NOW
        )
        row = conn.exec_driver_sql("SELECT data, type, scope, source_id FROM ngsi_entities").one()
    assert result.updated == ["urn:ngsi-ld:Thing:k"]
    assert '"value":2' in row[0]
    assert tuple(row[1:]) == ("Thing", "/Nordic/NO/oslo", "s")


def test_a_same_keys_row_whose_entity_vanished_is_written_whole(db: Database) -> None:
    """The rows of entities read as stored are updated by key; one deleted in between is inserted again."""
    stamp = "2026-12-01 00:00:00.000000" if db.dialect == "sqlite" else NOW
    row = ("oslo", "urn:ngsi-ld:Thing:gone", "Thing", None, '{"id":"urn:ngsi-ld:Thing:gone","type":"Thing"}')
    with db.begin() as conn:
        store._write_same_keys(conn, [(*row, "s", False, stamp, stamp)])
        stored = conn.exec_driver_sql("SELECT id, data, removed FROM ngsi_entities").all()
    assert [tuple(r) for r in stored] == [(row[1], row[4], False)]
