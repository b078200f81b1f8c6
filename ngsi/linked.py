"""Linked-entity retrieval (GS CIM 009 clause 4.5.23): ``join=inline`` or ``join=flat`` up to ``joinLevel``.

Pure functions over entities in normalized form (already shaped: pick, omit, lang…); the caller fetches the
linked entities through ``fetch`` (ids → entities), one batch per level.

- ``inline``: each Relationship whose object is an entity the hub holds gets an ``entity`` member with that entity,
  itself joined one level less deep. In keyValues the Relationship's value *is* the linked entity; in concise it
  keeps ``object`` beside ``entity``.
- ``flat``: the linked entities follow the requested ones in the same array, each once (an entity already in the
  answer is not repeated), in the order they were first reached.

An object the hub does not hold (or that is no absolute URI) is left as it is: no ``entity``, nothing added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from typing import Any

import orjson

from ngsi.representation import Format, render_entity
from schemas.ngsild import is_absolute_uri

MAX_JOIN_LEVEL = 5  # deeper graphs are walked by asking again from the entities of the last level
Entity = dict[str, Any]
Fetch = Callable[[Sequence[str]], dict[str, Entity]]


class Join(StrEnum):
    FLAT = "flat"
    INLINE = "inline"


def _relationships(entity: Entity) -> Iterator[dict[str, Any]]:
    """Every Relationship instance of the entity (a multi-instance attribute gives several)."""
    for name, attr in entity.items():
        if name in ("id", "type", "scope", "@context"):
            continue
        for instance in attr if isinstance(attr, list) else [attr]:
            if isinstance(instance, dict) and instance.get("type") == "Relationship":
                yield instance


def targets(entity: Entity) -> list[str]:
    """The objects of the entity's Relationships that may name entities (absolute URIs), in order, once each."""
    found = [r.get("object") for r in _relationships(entity)]
    return list(dict.fromkeys(o for o in found if isinstance(o, str) and is_absolute_uri(o)))


def _fetch_levels(roots: Sequence[Entity], fetch: Fetch, level: int) -> dict[str, Entity]:
    """Every entity reachable from ``roots`` in ``level`` hops, by id (one ``fetch`` per level)."""
    known: dict[str, Entity] = {}
    seen = {e.get("id") for e in roots}
    frontier = list(roots)
    for _ in range(level):
        wanted = list(dict.fromkeys(t for e in frontier for t in targets(e) if t not in seen))
        if not wanted:
            break
        seen.update(wanted)
        found = fetch(wanted)
        known.update(found)
        frontier = [found[t] for t in wanted if t in found]
    return known


def flat(roots: Sequence[Entity], fetch: Fetch, level: int) -> list[Entity]:
    """The requested entities, then the linked ones not already among them."""
    linked = _fetch_levels(roots, fetch, level)
    ids = {e.get("id") for e in roots}
    return [*roots, *(e for i, e in linked.items() if i not in ids)]


def inline(roots: Sequence[Entity], fetch: Fetch, level: int) -> list[Entity]:
    """The requested entities with each Relationship carrying its linked entity (recursively, ``level`` deep).

    An entity already on the path from the requested one is not inlined again: a cycle ends there (the spec's
    ``containedBy``)."""
    linked = _fetch_levels(roots, fetch, level)
    return [_inlined(e, linked, level, frozenset({e.get("id")})) for e in roots]


def _inlined(entity: Entity, linked: dict[str, Entity], level: int, path: frozenset[Any]) -> Entity:
    if level <= 0:
        return entity
    out: Entity = {}
    for name, attr in entity.items():
        if isinstance(attr, list):
            out[name] = [_with_entity(a, linked, level, path) for a in attr]
        else:
            out[name] = _with_entity(attr, linked, level, path)
    return out


def _with_entity(attr: Any, linked: dict[str, Entity], level: int, path: frozenset[Any]) -> Any:
    if not isinstance(attr, dict) or attr.get("type") != "Relationship":
        return attr
    target = attr.get("object")
    if target not in linked or target in path:
        return attr
    return {**attr, "entity": _inlined(linked[target], linked, level - 1, path | {target})}


def formatted(entity: Entity, fmt: Format) -> Entity:
    """An entity joined inline, in the requested format, the linked entities in the same format."""
    if fmt is Format.NORMALIZED:
        return entity
    carried = {name: attr["entity"] for name, attr in entity.items() if isinstance(attr, dict) and "entity" in attr}
    bare = {name: _without_entity(attr) for name, attr in entity.items()}
    out: Entity = orjson.loads(render_entity(bare, fmt, with_context=False))
    for name, child in carried.items():
        rendered = formatted(child, fmt)
        if fmt is Format.KEY_VALUES:
            out[name] = rendered
        else:
            concise = out[name] if isinstance(out[name], dict) else {"object": out[name]}
            out[name] = {**concise, "entity": rendered}
    return out


def _without_entity(attr: Any) -> Any:
    if isinstance(attr, dict) and "entity" in attr:
        return {k: v for k, v in attr.items() if k != "entity"}
    return attr
