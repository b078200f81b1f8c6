"""catalog.store on SQLite and PostgreSQL: one dataset per publisher URI, one provenance row per source, removal
only when every source has dropped a dataset, and the publisher's dates kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Constraint, Index, Table, inspect, select

import catalog.store
import catalog.tables
from catalog.model import Agent, Dataset, Distribution
from catalog.store import (
    count_active,
    dataset_from_json,
    dataset_to_json,
    get_dataset,
    list_datasets,
    mark_removed,
    upsert_datasets,
)
from hub.db import Database, metadata

T0 = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
T3 = T0 + timedelta(hours=3)
PORTAL = "https://portal.opendata.dk"
CITY_SOURCE = "aarhus-opendatadk"
NATIONAL_SOURCE = "opendatadk-dcat"


def make_dataset(n: int, *, title: str | None = None, modified: str = "2025-03-01T08:00:00.000000") -> Dataset:
    """A dataset as a CKAN harvest would hand it over; its content hash follows its content."""
    text = title or f"Trafiktællinger {n}"
    return Dataset(
        uri=f"{PORTAL}/dataset/ds-{n:04d}",
        title={"da": text},
        description={"da": "Årsdøgntrafik fra tællestationer."},
        keywords={"da": ["trafik", "tællinger"]},
        publisher=Agent(name={"da": "Aarhus Kommune"}),
        licence="cc-by",
        issued="2019-05-02T10:11:12.000000",
        modified=modified,
        distributions=[Distribution(access_url=f"{PORTAL}/dataset/ds-{n:04d}/resource/r/download/t.csv", format="CSV")],
        content_hash=f"sha256:{n}:{text}:{modified}",
    )


def upsert(conn: Connection, datasets: list[Dataset], *, source: str = CITY_SOURCE, now: datetime = T0) -> Any:
    city = "aarhus" if source == CITY_SOURCE else "copenhagen"
    return upsert_datasets(conn, source_id=source, city_id=city, datasets=datasets, now=now, run_id=7)


def _table_of(diff: Any) -> str:
    """The table a compare_metadata entry is about: (op, Table | Index | Constraint) or (op, schema, table, …)."""
    entry = diff[0] if isinstance(diff, list) else diff
    subject = entry[1]
    if isinstance(subject, Table):
        return str(subject.name)
    if isinstance(subject, Index | Constraint):
        return str(subject.table.name)
    return str(entry[2])


def test_migration_0002_matches_the_catalog_tables(db: Database) -> None:
    assert {"catalog_datasets", "catalog_provenance"} <= set(inspect(db.engine).get_table_names())
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if _table_of(d).startswith("catalog_")] == []
    assert catalog.tables.datasets.name == "catalog_datasets"


def test_downgrade_removes_the_catalog_tables_and_upgrade_restores_them(db: Database) -> None:
    db.downgrade("0001")
    assert not {"catalog_datasets", "catalog_provenance"} & set(inspect(db.engine).get_table_names())
    db.upgrade()
    assert {"catalog_datasets", "catalog_provenance"} <= set(inspect(db.engine).get_table_names())


def test_json_round_trip_is_exact_and_compact() -> None:
    ds = make_dataset(1)
    ds.temporal = ("2020-01-01", None)
    ds.extra = {"ckan_id": "abc", "groups": ["transport"]}
    text = dataset_to_json(ds)
    assert '":null' not in text  # no field is written as null; the open end of the period is
    assert '"themes"' not in text  # empty fields are left out and restored as defaults
    assert dataset_from_json(text) == ds
    assert orjson.loads(text)["temporal"] == ["2020-01-01", None]


def test_created_then_unchanged_then_updated(db: Database) -> None:
    with db.begin() as conn:
        first = upsert(conn, [make_dataset(1), make_dataset(2), make_dataset(3)])
    assert sorted(first.created) == [f"{PORTAL}/dataset/ds-000{i}" for i in (1, 2, 3)]
    assert first.updated == first.unchanged == []
    with db.begin() as conn:
        second = upsert(conn, [make_dataset(1), make_dataset(2), make_dataset(3)], now=T1)
    assert second.created == second.updated == []
    assert len(second.unchanged) == 3
    with db.begin() as conn:
        third = upsert(conn, [make_dataset(1), make_dataset(2, title="Cykeltællinger"), make_dataset(3)], now=T2)
    assert third.updated == [f"{PORTAL}/dataset/ds-0002"]
    assert sorted(third.unchanged) == [f"{PORTAL}/dataset/ds-0001", f"{PORTAL}/dataset/ds-0003"]
    with db.connect() as conn:
        kept = get_dataset(conn, f"{PORTAL}/dataset/ds-0001")
        changed = get_dataset(conn, f"{PORTAL}/dataset/ds-0002")
    assert kept is not None
    assert changed is not None
    assert kept["changed_at"] == T0  # an unchanged dataset is not rewritten ...
    assert kept["last_seen"] == T2  # ... but it was seen
    assert kept["first_seen"] == T0
    assert changed["changed_at"] == T2
    assert changed["dataset"]["title"] == {"da": "Cykeltællinger"}
    assert changed["content_hash"] == make_dataset(2, title="Cykeltællinger").content_hash


def test_the_publishers_dates_are_kept_not_the_harvest_time(db: Database) -> None:
    with db.begin() as conn:
        upsert(conn, [make_dataset(1, modified="2017-08-05T03:19:33.886925")], now=T3)
    with db.connect() as conn:
        stored = get_dataset(conn, f"{PORTAL}/dataset/ds-0001")
    assert stored is not None
    assert stored["modified"] == "2017-08-05T03:19:33.886925"
    assert stored["issued"] == "2019-05-02T10:11:12.000000"
    assert stored["dataset"]["modified"] == "2017-08-05T03:19:33.886925"
    assert dataset_from_json(orjson.dumps(stored["dataset"])).modified == "2017-08-05T03:19:33.886925"
    assert stored["first_seen"] == T3


def test_one_dataset_from_two_sources_is_one_row_with_two_provenance_rows(db: Database) -> None:
    with db.begin() as conn:
        city = upsert(conn, [make_dataset(1)], source=CITY_SOURCE, now=T0)
        national = upsert(conn, [make_dataset(1)], source=NATIONAL_SOURCE, now=T1)
    assert city.created == [f"{PORTAL}/dataset/ds-0001"]
    assert national.created == national.updated == []
    assert national.unchanged == [f"{PORTAL}/dataset/ds-0001"]
    with db.connect() as conn:
        stored = get_dataset(conn, f"{PORTAL}/dataset/ds-0001")
        everything = list_datasets(conn, include_removed=True)
        via_national = list_datasets(conn, source_id=NATIONAL_SOURCE)
        assert count_active(conn, source_id=CITY_SOURCE) == 1
        assert count_active(conn, source_id=NATIONAL_SOURCE) == 1
    assert stored is not None
    assert len(everything) == 1
    assert [d["uri"] for d in via_national] == [f"{PORTAL}/dataset/ds-0001"]
    assert stored["city_id"] == "aarhus"  # the city of the source that first brought it
    provenance = {p["source_id"]: p for p in stored["provenance"]}
    assert set(provenance) == {CITY_SOURCE, NATIONAL_SOURCE}
    assert provenance[NATIONAL_SOURCE]["city_id"] == "copenhagen"
    assert provenance[NATIONAL_SOURCE]["first_seen"] == T1
    assert provenance[CITY_SOURCE]["last_run_id"] == 7
    assert provenance[CITY_SOURCE]["removed"] is False


def test_two_sources_describing_a_dataset_differently_do_not_rewrite_it_every_run(db: Database) -> None:
    city_copy = make_dataset(1, modified="2025-03-01T08:00:00")
    national_copy = make_dataset(1, title="Traffic counts", modified="2025-03-02T09:00:00")
    with db.begin() as conn:
        upsert(conn, [city_copy], source=CITY_SOURCE, now=T0)
        first = upsert(conn, [national_copy], source=NATIONAL_SOURCE, now=T0)
    assert first.updated == [city_copy.uri]  # newer description: it replaces the stored one
    with db.begin() as conn:
        again_city = upsert(conn, [city_copy], source=CITY_SOURCE, now=T1)
        again_national = upsert(conn, [national_copy], source=NATIONAL_SOURCE, now=T1)
    assert again_city.unchanged == [city_copy.uri]
    assert again_national.unchanged == [city_copy.uri]
    with db.connect() as conn:
        stored = get_dataset(conn, city_copy.uri)
    assert stored is not None
    assert stored["dataset"]["title"] == {"da": "Traffic counts"}
    assert stored["changed_at"] == T0


def test_a_stale_copy_from_another_source_does_not_overwrite_a_fresher_one(db: Database) -> None:
    fresh = make_dataset(1, title="Trafiktællinger 2025", modified="2025-06-01T00:00:00")
    stale = make_dataset(1, title="Trafiktællinger 2023", modified="2023-01-01T00:00:00")
    with db.begin() as conn:
        upsert(conn, [fresh], source=CITY_SOURCE)
        result = upsert(conn, [stale], source=NATIONAL_SOURCE, now=T1)
    assert result.unchanged == [fresh.uri]
    with db.connect() as conn:
        stored = get_dataset(conn, fresh.uri)
    assert stored is not None
    assert stored["dataset"]["title"] == {"da": "Trafiktællinger 2025"}
    assert stored["modified"] == "2025-06-01T00:00:00"
    assert len(stored["provenance"]) == 2


def test_a_dataset_is_removed_only_when_every_source_dropped_it(db: Database) -> None:
    shared, own = make_dataset(1), make_dataset(2)
    with db.begin() as conn:
        upsert(conn, [shared, own], source=CITY_SOURCE)
        upsert(conn, [shared], source=NATIONAL_SOURCE)
        dropped = mark_removed(conn, source_id=CITY_SOURCE, keep=[], now=T1)
    assert dropped == [shared.uri, own.uri]
    with db.connect() as conn:
        still_there = get_dataset(conn, shared.uri)
        gone = get_dataset(conn, own.uri)
        assert count_active(conn, source_id=CITY_SOURCE) == 0
        assert [d["uri"] for d in list_datasets(conn)] == [shared.uri]
        assert list_datasets(conn, source_id=CITY_SOURCE) == []
    assert still_there is not None
    assert gone is not None
    assert still_there["removed"] is False  # the national portal still vouches for it
    by_source = {p["source_id"]: p for p in still_there["provenance"]}
    assert by_source[CITY_SOURCE]["removed"] is True
    assert by_source[CITY_SOURCE]["removed_at"] == T1
    assert by_source[NATIONAL_SOURCE]["removed"] is False
    assert gone["removed"] is True
    assert gone["removed_at"] == T1
    with db.begin() as conn:
        assert mark_removed(conn, source_id=NATIONAL_SOURCE, keep=[], now=T2) == [shared.uri]
        assert mark_removed(conn, source_id=NATIONAL_SOURCE, keep=[], now=T3) == []  # already removed
    with db.connect() as conn:
        finally_gone = get_dataset(conn, shared.uri)
        assert list_datasets(conn) == []
        assert len(list_datasets(conn, include_removed=True)) == 2
    assert finally_gone is not None
    assert finally_gone["removed"] is True
    assert finally_gone["removed_at"] == T2


def test_mark_removed_keeps_what_the_source_still_lists(db: Database) -> None:
    with db.begin() as conn:
        upsert(conn, [make_dataset(n) for n in range(1, 6)])
        dropped = mark_removed(conn, source_id=CITY_SOURCE, keep={make_dataset(2).uri, make_dataset(4).uri}, now=T1)
        assert count_active(conn, source_id=CITY_SOURCE) == 2
    assert dropped == [make_dataset(n).uri for n in (1, 3, 5)]


def test_a_removed_dataset_that_reappears_is_un_removed_and_counts_as_updated(db: Database) -> None:
    ds = make_dataset(1)
    with db.begin() as conn:
        upsert(conn, [ds])
        mark_removed(conn, source_id=CITY_SOURCE, keep=[], now=T1)
        again = upsert(conn, [ds], now=T2)
    assert again.updated == [ds.uri]
    assert again.created == again.unchanged == []
    with db.connect() as conn:
        stored = get_dataset(conn, ds.uri)
        assert count_active(conn, source_id=CITY_SOURCE) == 1
    assert stored is not None
    assert stored["removed"] is False
    assert stored["removed_at"] is None
    assert stored["first_seen"] == T0
    assert stored["provenance"][0]["removed"] is False
    assert stored["provenance"][0]["removed_at"] is None


def test_a_dataset_listed_twice_in_one_batch_is_stored_once_in_its_later_version(db: Database) -> None:
    with db.begin() as conn:
        result = upsert(conn, [make_dataset(1), make_dataset(1, title="Senere udgave")])
    assert result.created == [make_dataset(1).uri]
    assert result.duplicates == [make_dataset(1).uri]
    with db.connect() as conn:
        stored = get_dataset(conn, make_dataset(1).uri)
    assert stored is not None
    assert stored["dataset"]["title"] == {"da": "Senere udgave"}


def test_large_batches_cross_the_lookup_chunks(db: Database) -> None:
    batch = [make_dataset(n) for n in range(1, 1201)]
    with db.begin() as conn:
        assert len(upsert(conn, batch).created) == 1200
    with db.begin() as conn:
        second = upsert(conn, batch, now=T1)
        keep = [ds.uri for ds in batch[::2]]
        dropped = mark_removed(conn, source_id=CITY_SOURCE, keep=keep, now=T1)
    assert len(second.unchanged) == 1200
    assert len(dropped) == 600
    with db.connect() as conn:
        assert count_active(conn, source_id=CITY_SOURCE) == 600
        rows = conn.execute(select(catalog.tables.datasets.c.removed)).scalars().all()
    assert sorted(rows).count(True) == 600


def test_a_batch_written_in_slices_classifies_every_dataset_as_one_batch_would(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog.store, "WRITE_SLICE", 3)  # 10 datasets: four slices, the last one short
    with db.begin() as conn:
        first = upsert(conn, [make_dataset(n) for n in range(1, 11)])
    assert len(first.created) == 10
    changed = [make_dataset(n, title="Ny titel") if n in (2, 7) else make_dataset(n) for n in range(1, 12)]
    with db.begin() as conn:
        second = upsert(conn, changed, now=T1)
    assert second.created == [f"{PORTAL}/dataset/ds-0011"]
    assert sorted(second.updated) == [f"{PORTAL}/dataset/ds-0002", f"{PORTAL}/dataset/ds-0007"]
    assert len(second.unchanged) == 8
    with db.connect() as conn:
        assert count_active(conn, source_id=CITY_SOURCE) == 11
        seven = get_dataset(conn, f"{PORTAL}/dataset/ds-0007")
        eight = get_dataset(conn, f"{PORTAL}/dataset/ds-0008")
    assert seven is not None
    assert seven["dataset"]["title"] == {"da": "Ny titel"}
    assert eight is not None
    assert eight["last_seen"] == T1
    assert eight["changed_at"] == T0


def test_listing_filters_by_city_and_pages_by_uri(db: Database) -> None:
    with db.begin() as conn:
        upsert(conn, [make_dataset(n) for n in (3, 1, 2)], source=CITY_SOURCE)
        upsert(conn, [make_dataset(9)], source=NATIONAL_SOURCE)
    with db.connect() as conn:
        aarhus = list_datasets(conn, city_id="aarhus")
        page = list_datasets(conn, limit=2, offset=1)
        copenhagen = list_datasets(conn, city_id="copenhagen")
        assert get_dataset(conn, "https://example.org/dataset/unknown") is None
    assert [d["uri"] for d in aarhus] == [make_dataset(n).uri for n in (1, 2, 3)]
    assert [d["uri"] for d in page] == [make_dataset(n).uri for n in (2, 3)]
    assert [d["uri"] for d in copenhagen] == [make_dataset(9).uri]
    assert copenhagen[0]["provenance"][0]["source_id"] == NATIONAL_SOURCE
    assert copenhagen[0]["dataset"]["publisher"] == {"name": {"da": "Aarhus Kommune"}}
