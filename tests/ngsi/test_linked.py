"""Linked-entity joins (ngsi.linked) on plain entities with a fake fetch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ngsi import linked
from ngsi.representation import Format

A, B, C = "urn:a", "urn:b", "urn:c"


def _rel(target: str) -> dict[str, str]:
    return {"type": "Relationship", "object": target}


STORE: dict[str, dict[str, Any]] = {
    A: {"id": A, "type": "T", "to": _rel(B), "also": [_rel(C), {"type": "Property", "value": 1}]},
    B: {"id": B, "type": "T", "to": _rel(C), "back": _rel(A)},
    C: {"id": C, "type": "T", "n": {"type": "Property", "value": 3}},
}


class Fetcher:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.calls.append(list(ids))
        return {i: STORE[i] for i in ids if i in STORE}


def test_targets_are_absolute_uris_once_each() -> None:
    entity = {"id": "x", "type": "T", "r": _rel(B), "s": [_rel(B), _rel("not a uri")], "p": {"type": "Property"}}
    assert linked.targets(entity) == [B]


def test_flat_fetches_one_batch_per_level_and_lists_each_once() -> None:
    fetch = Fetcher()
    got = linked.flat([STORE[A]], fetch, 3)
    assert [e["id"] for e in got] == [A, B, C]
    assert fetch.calls == [[B, C]]  # level 2 finds nothing new: A is requested, C already fetched


def test_inline_stops_at_the_level_and_at_cycles() -> None:
    [one] = linked.inline([STORE[A]], Fetcher(), 1)
    assert one["to"]["entity"] == STORE[B]  # one level: B as stored, its Relationships not joined
    assert one["also"][0]["entity"] == STORE[C]
    [deep] = linked.inline([STORE[A]], Fetcher(), 5)
    b = deep["to"]["entity"]
    assert b["to"]["entity"] == STORE[C]
    assert "entity" not in b["back"]  # A is where the path started


def test_formats_of_an_inlined_entity() -> None:
    [joined] = linked.inline([STORE[B]], Fetcher(), 1)
    assert linked.formatted(joined, Format.KEY_VALUES)["to"] == {"id": C, "type": "T", "n": 3}
    assert linked.formatted(joined, Format.CONCISE)["to"] == {"object": C, "entity": {"id": C, "type": "T", "n": 3}}
    assert linked.formatted(joined, Format.NORMALIZED) is joined
