"""ngsi.attr_index: normalized entities flattened into typed index rows, written in bulk on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, insert, inspect, select

from hub.db import Database
from ngsi.attr_index import (
    ITEMS_MAX,
    TEXT_MAX,
    TEXT_MAX_BYTES,
    IndexRow,
    _Flattener,
    analyze_when_grown,
    attr_index,
    clip,
    delete_index,
    index_rows,
    rebuild_index,
    write_index,
)
from ngsi.tables import entities

E = "urn:ngsi-ld:BikeHireDockingStation:1"
T0 = datetime(2024, 5, 1, 10, tzinfo=UTC).timestamp()


def rows_of(attrs: dict[str, Any]) -> set[IndexRow]:
    rows = index_rows({"id": E, "type": "T", **attrs})
    assert len(rows) == len(set(rows)), "duplicates are removed"
    return set(rows)


def row(attr: str, path: str, kind: str, **value: Any) -> IndexRow:
    return (
        E,
        attr,
        path,
        value.get("dataset", ""),
        kind,
        value.get("num"),
        value.get("text"),
        value.get("flag"),
        value.get("ts"),
    )


def test_a_docking_station_gives_one_row_per_value_sub_attribute_and_key() -> None:
    entity = {
        "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        "createdAt": "2024-01-01T00:00:00Z",
        "availableBikeNumber": {"type": "Property", "value": 7, "observedAt": "2024-05-01T10:00:00Z"},
        "status": {"type": "Property", "value": "working"},
        "address": {"type": "Property", "value": {"addressLocality": "Oslo", "postalCode": "0150"}},
        "refCity": {"type": "Relationship", "object": "urn:ngsi-ld:City:oslo"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.7, 59.9]}},
        "speed": {"type": "Property", "value": 12.5, "unitCode": "KMH"},
    }
    assert rows_of(entity) == {
        row("availableBikeNumber", "", "n", num=7.0),
        row("availableBikeNumber", "observedAt", "d", text="2024-05-01T10:00:00Z", ts=T0),
        row("status", "", "s", text="working"),
        row("address", "", "x"),
        row("address", "[addressLocality]", "s", text="Oslo"),
        row("address", "[postalCode]", "s", text="0150"),
        row("refCity", "", "r", text="urn:ngsi-ld:City:oslo"),
        row("location", "", "x"),
        row("speed", "", "n", num=12.5),
        row("speed", "unitCode", "s", text="KMH"),
    }


def test_arrays_give_one_row_per_element_and_objects_one_level_of_keys() -> None:
    assert rows_of({"tags": {"type": "Property", "value": ["a", "b", "a", 3, True, None]}}) == {
        row("tags", "", "s", text="a"),
        row("tags", "", "s", text="b"),
        row("tags", "", "n", num=3.0),
        row("tags", "", "b", flag=True),
        row("tags", "", "x"),
    }
    assert rows_of({"empty": {"type": "Property", "value": []}}) == {row("empty", "", "x")}
    assert rows_of({"nested": {"type": "Property", "value": [[1, 2], 3]}}) == {
        row("nested", "", "x"),
        row("nested", "", "n", num=3.0),
    }
    deep = {"type": "Property", "value": {"a": {"b": 1}, "c": [1, 2], "d": None}}
    assert rows_of({"o": deep}) == {
        row("o", "", "x"),
        row("o", "[a]", "x"),  # present, but its own keys are not indexed
        row("o", "[c]", "n", num=1.0),
        row("o", "[c]", "n", num=2.0),
        row("o", "[d]", "x"),
    }
    listed = {"type": "Property", "value": [{"id": "e", "count": 2}, {"id": "c", "count": 0}]}
    assert rows_of({"types": listed}) == {
        row("types", "", "x"),
        row("types", "[id]", "s", text="e"),
        row("types", "[id]", "s", text="c"),
        row("types", "[count]", "n", num=2.0),
        row("types", "[count]", "n", num=0.0),
    }


def test_multi_instance_attributes_keep_their_dataset_id() -> None:
    temperature = [
        {"type": "Property", "value": 20, "datasetId": "urn:ds:air"},
        {
            "type": "Property",
            "value": 5,
            "datasetId": "urn:ds:water",
            "reliability": {"type": "Property", "value": 0.9},
        },
        {"type": "Property", "value": 1},
    ]
    assert rows_of({"temperature": temperature}) == {
        row("temperature", "", "n", num=20.0, dataset="urn:ds:air"),
        row("temperature", "", "n", num=5.0, dataset="urn:ds:water"),
        row("temperature", "reliability", "n", num=0.9, dataset="urn:ds:water"),
        row("temperature", "", "n", num=1.0),
    }


def test_relationships_language_maps_and_typed_literals() -> None:
    attrs = {
        "refs": {"type": "ListRelationship", "objectList": [{"object": "urn:a:1"}, "urn:a:2"]},
        "name": {"type": "LanguageProperty", "languageMap": {"en": "Bike", "nb": "Sykkel"}},
        "seen": {"type": "Property", "value": {"@type": "DateTime", "@value": "2024-05-01T12:00:00+02:00"}},
        "made": {"type": "Property", "value": "2024-05-01", "providedBy": {"type": "Relationship", "object": "urn:p"}},
        "opens": {"type": "Property", "value": "07:30:00"},
        "kind": {"type": "VocabProperty", "vocab": "Station"},
        "raw": {"type": "JsonProperty", "json": {"k": "v"}},
        "list": {"type": "ListProperty", "valueList": [1, 2]},
    }
    assert rows_of(attrs) == {
        row("refs", "", "r", text="urn:a:1"),
        row("refs", "", "r", text="urn:a:2"),
        row("name", "", "s", text="Bike"),
        row("name", "", "s", text="Sykkel"),
        row("name", "", "x"),
        row("name", "[en]", "s", text="Bike"),
        row("name", "[nb]", "s", text="Sykkel"),
        row("seen", "", "d", text="2024-05-01T12:00:00+02:00", ts=T0),
        row("made", "", "d", text="2024-05-01", ts=datetime(2024, 5, 1, tzinfo=UTC).timestamp()),
        row("made", "providedBy", "r", text="urn:p"),
        row("opens", "", "t", text="07:30:00", ts=27000.0),
        row("kind", "", "s", text="Station"),
        row("raw", "", "x"),
        row("raw", "[k]", "s", text="v"),
        row("list", "", "n", num=1.0),
        row("list", "", "n", num=2.0),
    }


def test_sub_attributes_of_sub_attributes_are_not_indexed() -> None:
    sub = {"type": "Property", "value": 1, "observedAt": "2024-05-01T10:00:00Z"}
    assert rows_of({"a": {"type": "Property", "value": 0, "b": sub}}) == {
        row("a", "", "n", num=0.0),
        row("a", "b", "n", num=1.0),
    }


def test_bounds_keep_rows_compact() -> None:
    assert len(clip("x" * 1000)) == TEXT_MAX
    wide = clip("ø" * 400 + "€" * 400)
    assert len(wide.encode()) <= TEXT_MAX_BYTES
    assert wide.startswith("ø" * 400)
    assert clip("a\x00b") == "ab"
    rows = rows_of({"many": {"type": "Property", "value": list(range(ITEMS_MAX + 50))}})
    assert {r[5] for r in rows} == {float(i) for i in range(ITEMS_MAX)}
    assert rows_of({"huge": {"type": "Property", "value": 10**400}}) == {row("huge", "", "x")}
    assert rows_of({"flag": {"type": "Property", "value": False}}) == {row("flag", "", "b", flag=False)}
    assert rows_of({"n" * 300: {"type": "Property", "value": 1}}) == set()


def _read(db: Database, tenant: str) -> list[tuple[Any, ...]]:
    columns = [attr_index.c.entity_id, attr_index.c.attr, attr_index.c.path, attr_index.c.num, attr_index.c.text]
    with db.connect() as conn:
        stmt = select(*columns).where(attr_index.c.tenant == tenant).order_by(*columns)
        return [tuple(r) for r in conn.execute(stmt)]


def _station(i: int, bikes: int) -> dict[str, Any]:
    return {"id": f"urn:s:{i:04d}", "type": "S", "bikes": {"type": "Property", "value": bikes}}


@pytest.mark.parametrize("count", [3, 400], ids=["executemany", "copy"])
def test_write_index_replaces_the_rows_of_the_given_entities(db: Database, count: int) -> None:
    first = [_station(i, i) for i in range(count)]
    with db.begin() as conn:
        written = write_index(conn, "t1", [e["id"] for e in first], [r for e in first for r in index_rows(e)])
        write_index(conn, "t2", ["urn:s:0000"], index_rows(_station(0, 99)))
    assert written == count
    assert _read(db, "t1") == [(f"urn:s:{i:04d}", "bikes", "", float(i), None) for i in range(count)]
    changed = [_station(0, 50)]
    with db.begin() as conn:
        write_index(conn, "t1", ["urn:s:0000", "urn:s:0001"], index_rows(changed[0]))
    expected = [("urn:s:0000", "bikes", "", 50.0, None)]
    expected += [(f"urn:s:{i:04d}", "bikes", "", float(i), None) for i in range(2, count)]
    assert _read(db, "t1") == expected
    assert _read(db, "t2") == [("urn:s:0000", "bikes", "", 99.0, None)]
    with db.begin() as conn:
        delete_index(conn, "t1", [f"urn:s:{i:04d}" for i in range(count)])
    assert _read(db, "t1") == []
    assert len(_read(db, "t2")) == 1


def test_texts_with_any_character_survive_the_bulk_paths(db: Database) -> None:
    text = 'tab\t "quote" \\ back ø € 😀 \n'
    entities: list[dict[str, Any]] = [
        {"id": f"urn:s:{i}", "type": "S", "name": {"type": "Property", "value": text}} for i in range(250)
    ]
    with db.begin() as conn:
        write_index(conn, "t", [e["id"] for e in entities], [r for e in entities for r in index_rows(e)])
    assert {r[4] for r in _read(db, "t")} == {text}


def test_the_migration_creates_the_table_and_its_indexes(db: Database) -> None:
    inspector = inspect(db.engine)
    assert [c["name"] for c in inspector.get_columns("ngsi_attr_index")] == [
        "tenant",
        "entity_id",
        "attr",
        "path",
        "dataset_id",
        "kind",
        "num",
        "text",
        "bool",
        "ts",
    ]
    assert {i["name"]: i["column_names"] for i in inspector.get_indexes("ngsi_attr_index")} == {
        "ix_ngsi_attr_index_tenant_entity_id": ["tenant", "entity_id", "attr"],
    }
    db.downgrade("0003")
    assert "ngsi_attr_index" not in inspect(db.engine).get_table_names()


def _store(conn: Connection, tenant: str, entity: dict[str, Any], *, removed: bool = False) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    data = orjson.dumps(entity).decode()
    values = {"tenant": tenant, "id": entity["id"], "type": "S", "data": data, "removed": removed}
    conn.execute(insert(entities).values(**values, created_at=now, modified_at=now))


def test_rebuild_index_indexes_every_stored_entity_not_removed(db: Database) -> None:
    with db.begin() as conn:
        for i in range(5):
            _store(conn, "t1", _station(i, i), removed=i == 3)
        _store(conn, "t2", _station(0, 99))
        write_index(conn, "t1", [], index_rows(_station(77, 77)))  # a stale row that the rebuild drops
        assert rebuild_index(conn, batch=2) == 5
    assert _read(db, "t1") == [(f"urn:s:{i:04d}", "bikes", "", float(i), None) for i in (0, 1, 2, 4)]
    assert _read(db, "t2") == [("urn:s:0000", "bikes", "", 99.0, None)]


def test_the_migration_indexes_the_entities_already_stored(db: Database) -> None:
    db.downgrade("0003")
    with db.begin() as conn:
        _store(conn, "t1", _station(1, 7))
    db.upgrade()
    assert _read(db, "t1") == [("urn:s:0001", "bikes", "", 7.0, None)]


PLAIN_SHAPES: list[Any] = [
    {"type": "Property", "value": 7, "observedAt": "2024-05-01T10:00:00Z", "unitCode": "C62"},
    {"type": "Property", "value": 1.0},
    {"type": "Property", "value": True},
    {"type": "Property", "value": None},
    {"type": "Property", "value": "12:30:00"},
    {"type": "Property", "value": "2024-05-01"},
    {"type": "Property", "value": "x" * (TEXT_MAX + 10)},
    {"type": "Property", "value": 2**2000},
    {"type": "Property", "value": "working", "datasetId": "urn:ds:1", "note": "a bare sub-attribute"},
    {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.7, 59.9]}, "observedAt": "2024-05-01"},
    # shapes the direct path must hand over to the general walk
    {"type": "Property", "value": [1, 2]},
    {"type": "Property", "value": {"k": 1}},
    {"type": "Property", "value": 1, "sub": {"type": "Property", "value": 2}},
    {"type": "Relationship", "object": "urn:ngsi-ld:City:oslo"},
    {"type": "Property", "value": "a", "languageMap": {"en": "b"}},
    {"type": "Property", "value": "a", "objectList": [{"object": "urn:x"}]},
]


@pytest.mark.parametrize("member", PLAIN_SHAPES, ids=range(len(PLAIN_SHAPES)))
def test_the_direct_path_for_plain_attributes_gives_the_general_walks_rows(member: dict[str, Any]) -> None:
    walk = _Flattener(E)
    dataset = member.get("datasetId")
    walk.attribute("a", "", str(dataset) if dataset else "", member)
    assert index_rows({"id": E, "type": "T", "a": member}) == list(dict.fromkeys(walk.rows))


def test_typed_columns_keep_equal_values_of_different_types_apart() -> None:
    rows = rows_of(
        {
            "n": {"type": "Property", "value": 1},
            "f": {"type": "Property", "value": 1.0},
            "b": {"type": "Property", "value": True},
            "s": {"type": "Property", "value": "1"},
        }
    )
    assert rows == {
        row("n", "", "n", num=1.0),
        row("f", "", "n", num=1.0),
        row("b", "", "b", flag=True),
        row("s", "", "s", text="1"),
    }


def test_statistics_are_refreshed_only_when_a_batch_grew_the_table(db: Database) -> None:
    with db.begin() as conn:
        assert not analyze_when_grown(conn, "ngsi_attr_index", 10, threshold=20)  # too few rows to matter
        if db.dialect != "postgresql":
            assert not analyze_when_grown(conn, "ngsi_attr_index", 10_000, threshold=1)  # SQLite: nothing to do
            return
        stations = [_station(i, i) for i in range(400)]
        write_index(conn, "t1", [], [r for e in stations for r in index_rows(e)])
        assert analyze_when_grown(conn, "ngsi_attr_index", 400, threshold=1)  # never analyzed: refreshed
        believed = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'ngsi_attr_index'").scalar()
        assert believed == 400
        assert not analyze_when_grown(conn, "ngsi_attr_index", 50, threshold=1)  # 50 more rows: under a fifth
        assert analyze_when_grown(conn, "ngsi_attr_index", 100, threshold=1)  # a quarter more: refreshed
