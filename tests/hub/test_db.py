"""hub.db: the embedded default, migrations owning the schema, and clear errors for bad URLs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.exc import OperationalError

import catalog.linkcheck_tables
import catalog.search_tables
import catalog.tables
import harvester.tables
import hub.auth_tables
import ngsi.attr_index
import ngsi.attr_stats
import ngsi.geo_index
import ngsi.tables
from hub.db import Database, metadata
from hub.errors import ConfigError, DatabaseError
from ngsi.tables import INSTANCE_KEY

TABLES = (
    ngsi.tables.entities,
    harvester.tables.harvest_runs,
    hub.auth_tables.auth_keys,
    catalog.tables,
)  # importing them registers them on metadata


def test_sqlite_default_is_created_on_first_start_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "var" / "nordhub.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    assert path.exists()
    with db.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    assert db.is_current()
    db.dispose()


def test_upgrade_is_idempotent_and_creates_every_table(db: Database) -> None:
    db.upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "ngsi_entities",
        "ngsi_temporal_instances",
        "harvest_runs",
        "harvest_items",
        "alembic_version",
        "harvest_payloads",
        "harvest_run_payloads",
    } <= tables
    assert db.current_revision() == db.head_revision()


def _described(_obj: object, name: str | None, type_: str, _reflected: bool, _compare_to: object) -> bool:
    # SQLite's FTS5 index of catalog_search and R*Tree of ngsi_geo_index are virtual tables with shadow tables, and
    # PostgreSQL's GiST index of ngsi_geo_index is on an expression: no MetaData can describe them.
    virtual = (catalog.search_tables.FTS_TABLE, ngsi.geo_index.RTREE)
    if type_ == "index" and name == ngsi.geo_index.BOX_INDEX:
        return False
    return not (type_ == "table" and name is not None and name.startswith(virtual))


# SQLite's reflection cannot read an index on an expression: the unique key of the history (migration 0017) is
# skipped there (the warnings are ignored in pyproject.toml) and checked by
# test_the_history_key_is_one_instance_per_instant_and_dataset.
def test_migrations_match_the_table_definitions(db: Database) -> None:
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": _described}), metadata)
    assert diff == []


def test_downgrade_to_base_and_back(db: Database) -> None:
    db.downgrade("base")
    assert db.current_revision() is None
    assert not db.is_current()
    db.upgrade()
    assert db.is_current()


def test_unreachable_database_is_one_clear_error() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/nordhub?connect_timeout=2")
    with pytest.raises(DatabaseError, match=r"cannot connect to database postgresql\+psycopg://nobody@127.0.0.1:1"):
        db.ping()


def test_password_is_hidden_in_errors() -> None:
    db = Database("postgresql+psycopg://nobody:hunter2@127.0.0.1:1/nordhub?connect_timeout=2")
    with pytest.raises(DatabaseError) as caught:
        db.upgrade()
    assert "hunter2" not in caught.value.detail
    assert "***" in caught.value.detail


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://x/y"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="database URL"):
        Database(url)


def _dropped(work_calls: list[int], *, invalidated: bool) -> Callable[[Connection], int]:
    """A read that fails the first time as a connection the server dropped would (or as any other error)."""

    def work(conn: Connection) -> int:
        work_calls.append(1)
        if len(work_calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed"), connection_invalidated=invalidated)
        return int(conn.execute(text("SELECT 1")).scalar_one())

    return work


def test_reading_runs_a_read_again_after_a_dropped_connection(db: Database) -> None:
    calls: list[int] = []
    assert db.reading(_dropped(calls, invalidated=True)) == 1
    assert len(calls) == 2


def test_reading_does_not_repeat_other_errors(db: Database) -> None:
    calls: list[int] = []
    with pytest.raises(OperationalError):
        db.reading(_dropped(calls, invalidated=False))
    assert len(calls) == 1


def _kill_pooled_connection(db: Database, url: str) -> None:
    """Terminate the server process behind the pool's one idle connection, as a database restart would."""
    with db.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    other = Database(url)
    with other.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    other.dispose()


def test_postgresql_pings_only_connections_left_idle(database_url: str) -> None:
    """A connection idle past the threshold is pinged (and replaced when dead); one just given back is not, and a
    read that meets it dead runs again. SQLite has no server to lose: nothing is pinged there."""
    if not database_url.startswith("postgresql"):
        assert not Database(database_url).engine.pool.dispatch.checkout
        return
    pinged = Database(database_url, ping_idle_seconds=0.0)
    _kill_pooled_connection(pinged, database_url)
    with pinged.connect() as conn:  # the ping found it dead: a new connection, no error
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    pinged.dispose()
    trusted = Database(database_url, ping_idle_seconds=3600.0)
    _kill_pooled_connection(trusted, database_url)
    with pytest.raises(OperationalError), trusted.connect() as conn:  # not pinged: the statement meets it dead
        conn.execute(text("SELECT 1"))
    _kill_pooled_connection(trusted, database_url)
    calls: list[int] = []
    assert trusted.reading(lambda conn: calls.append(1) or int(conn.execute(text("SELECT 2")).scalar_one())) == 2
    assert len(calls) == 2
    trusted.dispose()


def test_postgresql_connections_plan_without_parallel_workers_unless_configured(database_url: str) -> None:
    """No parallel plans by default (NORDHUB_DB_PARALLEL_WORKERS); SQLite has none to configure."""
    if not database_url.startswith("postgresql"):
        sqlite = Database(database_url, parallel_workers=3)  # ignored there: the file opens as usual
        with sqlite.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        return
    for workers, shown in ((None, "0"), (3, "3")):
        db = Database(database_url) if workers is None else Database(database_url, parallel_workers=workers)
        with db.connect() as conn:
            assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one() == shown
        db.dispose()


def test_postgresql_pool_keeps_as_many_connections_as_reads_ran_at_once(database_url: str) -> None:
    """NORDHUB_DB_POOL_SIZE: 16 reads at once, twice over, open 16 connections and no more. A pool kept smaller
    than the reads at once (4, with as many more for bursts) closes its overflow ones on their return, and the next
    round opens them again (SQLAlchemy's default keeps 5, below the 16 clients of bench/ngsi_http.py)."""
    if not database_url.startswith("postgresql"):
        return
    for size, at_once, opened_in_all in ((20, 16, 16), (4, 8, 12)):
        db = Database(database_url, pool_size=size)
        opened: list[int] = []
        event.listen(db.engine, "connect", lambda *_, opened=opened: opened.append(1))
        barrier = threading.Barrier(at_once)

        def read(_: int, db: Database = db, barrier: threading.Barrier = barrier) -> int:
            with db.read() as conn:
                barrier.wait(timeout=30)  # every read holds its connection at once
                return int(conn.execute(text("SELECT 1")).scalar_one())

        with ThreadPoolExecutor(at_once) as pool:
            for _ in range(2):
                assert sum(pool.map(read, range(at_once))) == at_once
        db.dispose()
        assert len(opened) == opened_in_all, size


def test_q_statistics_exist_on_postgresql_after_upgrade(db: Database) -> None:
    """Migration 0015: joint value statistics of the attribute index (PostgreSQL only; SQLite has none)."""
    with db.connect() as conn:
        if db.dialect != "postgresql":
            assert max((db.current_revision() or "").split(",")) >= "0015"
            return
        names = conn.execute(text("SELECT stxname FROM pg_statistic_ext ORDER BY stxname")).scalars().all()
    assert names == ["st_ngsi_attr_index_num", "st_ngsi_attr_index_text"]


def test_entity_pages_keep_room_for_the_next_version_on_postgresql(db: Database) -> None:
    """Migration 0016: ngsi_entities' fillfactor of 50 lets a harvest's rewrite of a row stay on its page, with no
    new index entries (PostgreSQL only; SQLite has no such setting)."""
    with db.connect() as conn:
        if db.dialect != "postgresql":
            assert max((db.current_revision() or "").split(",")) >= "0016"
            return
        options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'ngsi_entities'")).scalar_one()
    assert options == ["fillfactor=50"]


def _instance(conn: Connection, ts: float, dataset: str | None = None, value: int = 1) -> None:
    conn.execute(
        text(
            "INSERT INTO ngsi_temporal_instances (tenant, entity_id, attr, ts, value_num, value, dataset_id) "
            "VALUES ('oslo', 'urn:ngsi-ld:T:1', 'speed', :ts, :value, :json, :dataset) ON CONFLICT DO NOTHING"
        ),
        {"ts": ts, "value": value, "json": str(value), "dataset": dataset},
    )


def _rows(conn: Connection) -> list[tuple[object, ...]]:
    sql = "SELECT ts, dataset_id, value FROM ngsi_temporal_instances ORDER BY ts, coalesce(dataset_id, '')"
    return [tuple(row) for row in conn.execute(text(sql))]


def test_the_history_key_is_one_instance_per_instant_and_dataset(db: Database) -> None:
    """Migration 0017: the unique key takes the datasetId, and the default instance (NULL) is one key too."""
    with db.begin() as conn:
        for dataset in (None, None, "urn:ngsi-ld:Dataset:a", "urn:ngsi-ld:Dataset:a", "urn:ngsi-ld:Dataset:b"):
            _instance(conn, 3600.0, dataset)
        assert _rows(conn) == [
            (3600.0, None, "1"),
            (3600.0, "urn:ngsi-ld:Dataset:a", "1"),
            (3600.0, "urn:ngsi-ld:Dataset:b", "1"),
        ]
        if db.dialect == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
        else:
            sql = "SELECT sql FROM sqlite_master WHERE name = :name"
        definition = conn.execute(text(sql), {"name": INSTANCE_KEY}).scalar_one()
    assert "UNIQUE" in definition.upper()
    assert "coalesce(dataset_id, '')" in definition.lower().replace("::character varying", "")


def test_history_migrates_as_default_instances_and_back(db: Database) -> None:
    """0016 → 0017: stored instances become default instances recorded at their instant; 0017 → 0016 drops the
    instances with a datasetId (the old key cannot hold them) and recounts the hours without them."""
    db.downgrade("0016")
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ngsi_temporal_instances (tenant, entity_id, attr, ts, value_num, value) "
                "VALUES ('oslo', 'urn:ngsi-ld:T:1', 'speed', 7200.0, 5, '5')"
            )
        )
    db.upgrade()
    with db.begin() as conn:
        row = conn.execute(text("SELECT dataset_id, created_at FROM ngsi_temporal_instances")).one()
        assert tuple(row) == (None, 7200.0)
        _instance(conn, 7200.0, "urn:ngsi-ld:Dataset:a", 9)
        _instance(conn, 7200.0, None, 9)  # the migrated row is the default instance at that instant: kept as it was
        assert _rows(conn) == [(7200.0, None, "5"), (7200.0, "urn:ngsi-ld:Dataset:a", "9")]
    db.downgrade("0016")
    with db.begin() as conn:
        assert [tuple(r) for r in conn.execute(text("SELECT ts, value FROM ngsi_temporal_instances"))] == [
            (7200.0, "5")
        ]
        hours = conn.execute(text("SELECT hour, n, total FROM ngsi_temporal_hours")).all()
        assert [tuple(h) for h in hours] == [(2, 1, 5.0)]
        columns = {c["name"] for c in inspect(conn).get_columns("ngsi_temporal_instances")}
        assert "dataset_id" not in columns
        assert "created_at" not in columns
    db.upgrade()
    assert db.is_current()


def test_deletions_are_kept_per_instance_and_back(db: Database) -> None:
    """0020 → 0021: the deletions keep their rows; one instant may then hold a deletion per datasetId, and 0021 →
    0020 keeps the first of them (the old key holds one per attribute and instant)."""
    insert = (
        "INSERT INTO ngsi_temporal_deletions (tenant, entity_id, attr, ts, kind, value, dataset_id) "
        "VALUES ('', 'urn:ngsi-ld:T:1', 'speed', 60.0, 'Property', '\"urn:ngsi-ld:null\"', {})"
    )
    db.downgrade("0020")
    with db.begin() as conn:
        conn.execute(text(insert.format("NULL")))
    db.upgrade()
    with db.begin() as conn:
        conn.execute(text(insert.format("'urn:ngsi-ld:Dataset:a'")))
        rows = conn.execute(text("SELECT ts, dataset_id FROM ngsi_temporal_deletions ORDER BY pk")).all()
        assert [tuple(r) for r in rows] == [(60.0, None), (60.0, "urn:ngsi-ld:Dataset:a")]
    db.downgrade("0020")
    with db.begin() as conn:
        rows = conn.execute(text("SELECT ts, dataset_id FROM ngsi_temporal_deletions")).all()
        assert [tuple(r) for r in rows] == [(60.0, None)]
    db.upgrade()
    assert db.is_current()
