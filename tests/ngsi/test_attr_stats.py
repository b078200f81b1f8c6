"""The attribute statistics of discovery (ngsi/attr_stats.py) stay equal to a recount through every write path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from hub.db import Database
from ngsi import projection, store
from ngsi.attr_stats import attr_stats, rebuild_stats, signature

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _entity(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Thing:{i}",
        "type": "Thing",
        "size": {"type": "Property", "value": i},
        "near": {"type": "Relationship", "object": "urn:ngsi-ld:Thing:0"},
        **extra,
    }


def _counts(conn: Connection) -> dict[tuple[str, str, str, str], int]:
    projection.catch_up(conn)  # the statistics as every write so far left them
    rows = conn.execute(select(attr_stats)).all()
    return {(r.tenant, r.type, r.attr, r.attr_type): r.entities for r in rows if r.entities}


def _recounted(db: Database) -> dict[tuple[str, str, str, str], int]:
    with db.begin() as conn:
        rebuild_stats(conn)
        return _counts(conn)


def test_signature_counts_instances_by_attribute_type() -> None:
    entity = _entity(1, temp=[{"type": "Property", "value": 1}, {"type": "Property", "value": 2, "datasetId": "x"}])
    assert signature(entity, "Thing") == {
        ("Thing", "", ""),
        ("Thing", "size", "Property"),
        ("Thing", "near", "Relationship"),
        ("Thing", "temp", "Property"),
    }


def test_every_write_path_keeps_the_counts(db: Database) -> None:
    writes = [store.EntityWrite("oslo", _entity(i), source_id="s") for i in range(1, 5)]
    with db.begin() as conn:
        store.upsert_entities(conn, writes, now=NOW)
        assert _counts(conn)[("oslo", "Thing", "size", "Property")] == 4
        assert _counts(conn)[("oslo", "Thing", "", "")] == 4
    size = {"size": {"type": "Property", "value": 9}}
    changed = [store.EntityWrite("oslo", _entity(i) | size, source_id="s") for i in (1, 2)]
    reshaped = {k: v for k, v in _entity(3).items() if k != "near"} | {"colour": {"type": "Property", "value": "r"}}
    with db.begin() as conn:
        store.upsert_entities(conn, [*changed, store.EntityWrite("oslo", reshaped, source_id="s")], now=NOW)
        counts = _counts(conn)
    assert counts[("oslo", "Thing", "near", "Relationship")] == 3
    assert counts[("oslo", "Thing", "colour", "Property")] == 1
    assert counts == _recounted(db)
    with db.begin() as conn:
        gone = store.mark_removed(conn, source_id="s", keep={"urn:ngsi-ld:Thing:1"}, now=NOW)
        assert sorted(gone) == ["urn:ngsi-ld:Thing:2", "urn:ngsi-ld:Thing:3", "urn:ngsi-ld:Thing:4"]
        assert _counts(conn)[("oslo", "Thing", "", "")] == 1
    assert _counts_now(db) == _recounted(db)
    with db.begin() as conn:  # a removed entity that comes back is counted again
        store.upsert_entities(conn, [store.EntityWrite("oslo", _entity(4), source_id="s")], now=NOW)
        assert _counts(conn)[("oslo", "Thing", "", "")] == 2
        assert store.delete_entity(conn, tenant="oslo", entity_id="urn:ngsi-ld:Thing:1") == 1
        assert store.delete_entity(conn, tenant=None, entity_id="urn:ngsi-ld:Thing:3") == 1  # removed: not counted
        assert _counts(conn)[("oslo", "Thing", "", "")] == 1
    assert _counts_now(db) == _recounted(db)


def _counts_now(db: Database) -> dict[tuple[str, str, str, str], int]:
    with db.begin() as conn:
        return _counts(conn)


def test_several_types_are_one_type_set(db: Database) -> None:
    both = {"id": "urn:ngsi-ld:X:1", "type": ["B", "A", "B"], "n": {"type": "Property", "value": 1}}
    with db.begin() as conn:
        store.upsert_entities(conn, [store.EntityWrite("", both), store.EntityWrite("", _entity(1))], now=NOW)
        assert store.type_values(conn, [frozenset({"A"})]) == ["A", "A,B"]
        assert store.type_values(conn, [frozenset({"A", "B"})]) == ["A,B"]
        assert store.type_values(conn, [frozenset({"A", "Thing"})]) == []
        assert store.type_values(conn, [frozenset({"Thing"}), frozenset({"B"})]) == ["A,B", "B", "Thing"]
    assert store.type_column(["B", "A", "B"]) == "A,B"
    assert store.type_column(["A"]) == "A"
    assert store.scope_column(["/a", "/b"]) == "/a,/b"
