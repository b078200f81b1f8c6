"""hub.db: the embedded default, migrations owning the schema, and clear errors for bad URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

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
