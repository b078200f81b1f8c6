"""ngsi.query.evaluate: a page is one statement, and type sets written between reads are never missed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import event

from hub.db import Database
from ngsi import store
from ngsi.query import EntityQuery, Page, Selector, evaluate

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _entity(number: int, kind: str | list[str]) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Thing:{number}", "type": kind, "n": {"type": "Property", "value": number}}


def _write(db: Database, *entities: dict[str, Any]) -> None:
    with db.begin() as conn:
        store.upsert_entities(conn, [store.EntityWrite("oslo", e) for e in entities], now=NOW)


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _ids(db: Database, types: str, *, count: bool = False) -> tuple[list[str], int | None, int]:
    """The ids of a page of ``types``, the total, and how many statements it took."""
    query = EntityQuery((Selector(types=types),))
    with db.read() as conn, _statements(db) as seen:
        result = evaluate(conn, query, Page(limit=100, count=count), tenant=None, timestamps=False)
    return [orjson.loads(row.data)["id"] for row in result.rows], result.total, len(seen)


def test_a_page_of_a_type_in_no_type_set_is_one_statement(db: Database) -> None:
    _write(db, _entity(1, "A"), _entity(2, "A"), _entity(3, "B"))
    assert _ids(db, "A") == (["urn:ngsi-ld:Thing:1", "urn:ngsi-ld:Thing:2"], None, 1)


def test_type_sets_found_by_the_page_itself_are_read_again(db: Database) -> None:
    _write(db, _entity(1, "A"), _entity(2, ["A", "B"]), _entity(3, "B"))
    ids, total, statements = _ids(db, "A", count=True)
    assert (ids, total) == (["urn:ngsi-ld:Thing:1", "urn:ngsi-ld:Thing:2"], 2)
    assert statements == 4  # page + count with "A" alone; the page saw the set "A,B": page + count again
    assert _ids(db, "A;B")[:2] == (["urn:ngsi-ld:Thing:2"], None)
    assert _ids(db, "C")[:2] == ([], None)


def test_a_type_set_written_after_an_earlier_read_is_seen(db: Database) -> None:
    _write(db, _entity(1, "A"))
    assert _ids(db, "B")[:2] == ([], None)
    _write(db, _entity(2, ["B", "C"]))  # only in a type set: the first read of "B" finds an empty page
    assert _ids(db, "B")[:2] == (["urn:ngsi-ld:Thing:2"], None)
    assert _ids(db, "C;B")[:2] == (["urn:ngsi-ld:Thing:2"], None)
