"""Linked-entity joins (ngsi.linked) on plain entities with a fake fetch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ngsi import linked
from ngsi.representation import Format
from ngsi.shaping import Projection

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


def _pick(*names: str, **linked: Projection) -> Projection:
    return Projection(names, linked=tuple(linked.items()))


def test_targets_of_list_relationships_and_object_arrays() -> None:
    entity = {
        "id": "x",
        "route": {"type": "ListRelationship", "objectList": [C, {"object": B}, "nope"]},
        "near": {"type": "Relationship", "object": [A, C]},
    }
    assert linked.targets(entity) == [C, B, A]


def test_inline_projects_each_linked_entity_by_its_relationship() -> None:
    """``to{id,to{n}}``: B keeps id and to; C, reached through B's to, keeps n; ``also`` is not projected."""
    projections = (("to", _pick("id", "to", to=_pick("n"))),)
    fetch = Fetcher()
    [got] = linked.inline([STORE[A]], fetch, 2, projections)
    assert got["to"]["entity"] == {"id": B, "to": {**_rel(C), "entity": {"n": {"type": "Property", "value": 3}}}}
    assert got["also"][0]["entity"] == STORE[C]
    assert fetch.calls == [[B, C]]  # level 2 asks nothing again: C was fetched for A's "also"


def test_a_relationship_the_projection_drops_is_not_followed() -> None:
    """B picked without ``to``: C is neither inlined in B nor listed flat."""
    projections = (("to", _pick("id")),)
    [got] = linked.inline([{"id": A, "to": _rel(B)}], Fetcher(), 3, projections)
    assert got["to"]["entity"] == {"id": B}
    assert [e["id"] for e in linked.flat([{"id": A, "to": _rel(B)}], Fetcher(), 3, projections)] == [A, B]


def test_flat_projects_the_linked_entities() -> None:
    omit_n = Projection(("n",), omit=True)
    got = linked.flat(
        [{"id": A, "to": _rel(B)}], Fetcher(), 2, (("to", Projection((), omit=True, linked=(("to", omit_n),))),)
    )
    assert got == [{"id": A, "to": _rel(B)}, STORE[B], {"id": C, "type": "T"}]


def test_inline_list_relationship_and_object_array_formats() -> None:
    entity = {
        "id": "x",
        "route": {"type": "ListRelationship", "objectList": [C, "urn:missing", B]},
        "near": [{"type": "Relationship", "object": [C]}, {"type": "Property", "value": 1, "datasetId": "urn:d"}],
    }
    [got] = linked.inline([entity], Fetcher(), 1)
    assert got["route"]["entityList"] == [STORE[C], STORE[B]]
    assert got["near"][0]["entity"] == [STORE[C]]
    kv = linked.formatted(got, Format.KEY_VALUES)
    assert kv["route"] == [{"id": C, "type": "T", "n": 3}, {"id": B, "type": "T", "to": C, "back": A}]
    assert kv["near"] == {"dataset": {"@none": [{"id": C, "type": "T", "n": 3}], "urn:d": 1}}
    concise = linked.formatted(got, Format.CONCISE)
    assert concise["route"]["objectList"] == [C, "urn:missing", B]
    assert concise["route"]["entityList"][0] == {"id": C, "type": "T", "n": 3}
