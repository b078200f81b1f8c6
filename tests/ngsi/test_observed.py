"""The temporal instances a write records (ngsi/observed.py): what the process remembers of the JSON it wrote
never changes them, whether the stored JSON is the one it remembers, another writer's, or a rolled-back one's."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from hub.db import Database
from ngsi import observed, store
from ngsi.tables import temporal_instances

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ID = "urn:ngsi-ld:Thing:k"
CREATED = NOW.timestamp()  # when the instances are recorded


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    observed.MEMORY.clear()
    yield
    observed.MEMORY.clear()


def _station(bikes: Any, status: str = "working", at: str = "2026-12-01T10:00:00Z") -> dict[str, Any]:
    return {
        "id": ID,
        "type": "Thing",
        "bikes": {"type": "Property", "value": bikes, "observedAt": at},
        "status": {"type": "Property", "value": status, "observedAt": at},
        "name": {"type": "Property", "value": "Dock"},
    }


def _version(rng: random.Random, step: int) -> dict[str, Any]:
    """A random next version: observed values that move or stay, attributes that come and go or lose observedAt."""
    at = f"2026-12-01T10:{step:02d}:00Z"
    entity: dict[str, Any] = {"id": ID, "type": "Thing"}
    for name in ("bikes", "docks", "status"):
        roll = rng.random()
        value: Any = rng.choice([0, 1, 2, 2.0, True, "full", None, [1, 2], {"a": 1}])
        if roll < 0.6 and value is not None:
            entity[name] = {"type": "Property", "value": value, "observedAt": at}
        elif roll < 0.8 and value is not None:
            entity[name] = {"type": "Property", "value": value}  # the same name, not observed
    return entity


def _instances(entity: dict[str, Any], previous: str | None) -> list[tuple[Any, ...]]:
    data = orjson.dumps(entity).decode()
    found, remembered = observed.changed_instances("oslo", entity, data, previous, CREATED)
    observed.MEMORY.remember([remembered])
    return found


@pytest.mark.parametrize("seed", range(20))
def test_remembered_values_give_the_instances_parsing_gives(seed: int) -> None:
    """Each version is compared with the previous stored JSON: once from memory, once parsed; some versions are
    stored by another writer (the memory holds an older JSON), which must be parsed."""
    rng = random.Random(seed)
    previous: str | None = None
    for step in range(40):
        entity = _version(rng, step)
        with_memory = _instances(entity, previous)
        remembered = dict(observed.MEMORY._values)
        observed.MEMORY.clear()
        parsed = observed.changed_instances("oslo", entity, orjson.dumps(entity).decode(), previous, CREATED)[0]
        observed.MEMORY._values.update(remembered)
        assert with_memory == parsed, f"seed {seed} step {step}"
        previous = orjson.dumps(entity).decode()
        if rng.random() < 0.2:  # another writer changes the stored entity: the memory no longer holds it
            other = _version(rng, step)
            previous = orjson.dumps(other).decode()


def test_an_entity_another_writer_changed_is_compared_with_what_is_stored() -> None:
    first = _station(1)
    assert len(_instances(first, None)) == 2
    other = orjson.dumps(_station(5)).decode()  # stored by a PATCH, say: bikes is 5 now
    found = _instances(_station(5, at="2026-12-01T10:01:00Z"), other)
    assert found == []  # 5 is what is stored; the remembered 1 must not be used


def test_the_memory_keeps_at_most_its_cap() -> None:
    memory = observed.ObservedMemory(cap=10)
    memory.remember([(("oslo", f"e{i}"), (i, {"n": i})) for i in range(25)])
    assert 0 < len(memory._values) <= 10
    assert ("oslo", "e24") in memory._values  # the newest stay


def _history(db: Database) -> list[tuple[str, str]]:
    t = temporal_instances.c
    with db.connect() as conn:
        return [(r.attr, r.value) for r in conn.execute(select(t.attr, t.value).order_by(t.ts, t.attr))]


def _write(db: Database, entity: dict[str, Any]) -> None:
    with db.begin() as conn:
        store.upsert_entities(conn, [store.EntityWrite("oslo", entity, source_id="s")], now=NOW)


def test_a_rolled_back_write_is_not_taken_for_the_stored_entity(db: Database) -> None:
    _write(db, _station(1))
    with db.connect() as conn:
        transaction = conn.begin()
        store.upsert_entities(conn, [store.EntityWrite("oslo", _station(2, at="2026-12-01T10:01:00Z"))], now=NOW)
        transaction.rollback()  # the run fails before its commit
    _write(db, _station(2, at="2026-12-01T10:02:00Z"))  # stored is still 1: bikes moved
    assert _history(db) == [("bikes", "1"), ("status", '"working"'), ("bikes", "2")]


def test_a_harvest_after_a_direct_update_records_what_moved_from_the_stored_value(db: Database) -> None:
    _write(db, _station(1))
    with db.begin() as conn:  # another process (or writer) stores bikes 3
        conn.exec_driver_sql(
            "UPDATE ngsi_entities SET data = ? WHERE id = ?"
            if db.dialect == "sqlite"
            else "UPDATE ngsi_entities SET data = %s WHERE id = %s",
            (orjson.dumps(_station(3)).decode(), ID),
        )
    _write(db, _station(3, status="full", at="2026-12-01T10:05:00Z"))
    assert _history(db) == [("bikes", "1"), ("status", '"working"'), ("status", '"full"')]


def _speeds(*instances: tuple[Any, str | None], at: str = "2026-12-01T10:00:00Z") -> dict[str, Any]:
    items = []
    for value, dataset in instances:
        item = {"type": "Property", "value": value, "observedAt": at}
        if dataset is not None:
            item["datasetId"] = dataset
        items.append(item)
    return {"id": ID, "type": "Thing", "speed": items if len(items) > 1 else items[0]}


GPS, WHEEL = "urn:ngsi-ld:Dataset:gps", "urn:ngsi-ld:Dataset:wheel"


def test_each_dataset_is_compared_with_its_own_stored_instance() -> None:
    first = _speeds((1, None), (2, GPS))
    assert [(i[2], i[4], i[6], i[7:]) for i in _instances(first, None)] == [
        ("speed", 1.0, CREATED, ()),  # the default instance: no datasetId member
        ("speed", 2.0, CREATED, (GPS,)),
    ]
    later = _speeds((1, None), (3, GPS), (4, WHEEL), at="2026-12-01T10:01:00Z")
    found = _instances(later, orjson.dumps(first).decode())
    assert [(i[4], i[7]) for i in found] == [(3.0, GPS), (4.0, WHEEL)]  # the default instance did not move
    alone = _speeds((4, WHEEL), at="2026-12-01T10:02:00Z")  # one instance with a datasetId, not an array
    assert _instances(alone, orjson.dumps(later).decode()) == []


def test_written_instances_carry_their_dataset_and_when_they_were_recorded(db: Database) -> None:
    _write(db, _speeds((1, None), (2, GPS)))
    _write(db, _station(5))  # a plain attribute: the default instance
    t = temporal_instances.c
    with db.connect() as conn:
        rows = conn.execute(select(t.attr, t.value, t.dataset_id, t.created_at).order_by(t.attr, t.value)).all()
    assert [tuple(r) for r in rows] == [
        ("bikes", "5", None, NOW.timestamp()),
        ("speed", "1", None, NOW.timestamp()),
        ("speed", "2", GPS, NOW.timestamp()),
        ("status", '"working"', None, NOW.timestamp()),
    ]


def test_attributes_other_than_properties_record_the_member_that_carries_their_value() -> None:
    """A Relationship's object, a ListProperty's valueList, a LanguageProperty's map: each change is an instance."""
    at = "2026-12-01T10:00:00Z"

    def thing(parked: str, route: list[int], label: str, at: str = at) -> dict[str, Any]:
        return {
            "id": ID,
            "type": "Thing",
            "parkedAt": {"type": "Relationship", "object": parked, "observedAt": at},
            "route": {"type": "ListProperty", "valueList": route, "observedAt": at},
            "label": {"type": "LanguageProperty", "languageMap": {"en": label}, "observedAt": at},
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:a"},  # not observed: no history
        }

    first = thing("urn:ngsi-ld:Dock:1", [1, 2], "a")
    assert [(i[2], i[5]) for i in _instances(first, None)] == [
        ("parkedAt", '"urn:ngsi-ld:Dock:1"'),
        ("route", "[1,2]"),
        ("label", '{"en":"a"}'),
    ]
    later = thing("urn:ngsi-ld:Dock:2", [1, 2], "a", at="2026-12-01T10:01:00Z")
    assert [(i[2], i[5]) for i in _instances(later, orjson.dumps(first).decode())] == [
        ("parkedAt", '"urn:ngsi-ld:Dock:2"')
    ]
    observed.MEMORY.clear()  # the same answer when the stored JSON is parsed
    assert [i[2] for i in _instances(later, orjson.dumps(first).decode())] == ["parkedAt"]
