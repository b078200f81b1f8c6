"""Linked-entity retrieval (GS CIM 009 clause 4.5.23): ``join=inline`` or ``join=flat`` up to ``joinLevel``.

Pure functions over entities in normalized form (already shaped: pick, omit, lang…); the caller fetches the
linked entities through ``fetch`` (ids → entities, shaped but not projected), one batch per level.

- A Relationship links to the entity its ``object`` names (or to each one of an array of objects); a
  ListRelationship to each entity of its ``objectList``.
- ``inline``: a Relationship whose object the hub holds gets an ``entity`` member with that entity (an array of them
  for an array of objects), a ListRelationship an ``entityList`` member, each linked entity itself joined one level
  less deep. In keyValues the Relationship's value *is* the linked entity; in concise it keeps ``object`` beside
  ``entity``.
- ``flat``: the linked entities follow the requested ones in the same array, each once (an entity already in the
  answer is not repeated), in the order they were first reached.
- pick/omit (clause 4.21): the requested entities arrive projected; a linked entity is projected by what the
  braces of its Relationship hold (``pick=id,locatedAt{id,name}``), and answered whole when there are none. A
  Relationship a pick leaves out (or an omit removes) is not followed.

An object the hub does not hold (or that is no absolute URI) is left as it is: no ``entity``, nothing added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from ngsi.representation import ENTITY_MEMBERS, Format, render_entity
from ngsi.shaping import Projection, linked_projection
from schemas.ngsild import is_absolute_uri

MAX_JOIN_LEVEL = 5  # deeper graphs are walked by asking again from the entities of the last level
Entity = dict[str, Any]
Fetch = Callable[[Sequence[str]], dict[str, Entity]]
Projections = tuple[tuple[str, Projection], ...]
LINK_TYPES = ("Relationship", "ListRelationship")


class Join(StrEnum):
    FLAT = "flat"
    INLINE = "inline"


@dataclass(frozen=True, slots=True)
class _Hop:
    """An entity of the answer whose Relationships are followed next: how its linked entities are projected, and
    the ids on the path from the requested entity to it (inline: a cycle ends there)."""

    entity: Entity
    linked: Projections
    path: frozenset[Any]


def _objects(instance: Any) -> list[str]:
    """The ids an attribute instance links to: a Relationship's object(s), a ListRelationship's objectList."""
    if not isinstance(instance, dict) or instance.get("type") not in LINK_TYPES:
        return []
    found = instance.get("object") if instance["type"] == "Relationship" else instance.get("objectList")
    many = found if isinstance(found, list) else [found]
    ids = [o.get("object") if isinstance(o, dict) else o for o in many]
    return [o for o in ids if isinstance(o, str) and is_absolute_uri(o)]


def _instances(entity: Entity) -> Iterator[tuple[str, Any]]:
    """Every attribute instance of the entity with its attribute's name (a multi-instance attribute gives several)."""
    for name, attr in entity.items():
        if name in ENTITY_MEMBERS:
            continue
        for instance in attr if isinstance(attr, list) else [attr]:
            yield name, instance


def targets(entity: Entity) -> list[str]:
    """The ids the entity's Relationships and ListRelationships link to (absolute URIs), in order, once each."""
    return list(dict.fromkeys(t for _name, instance in _instances(entity) for t in _objects(instance)))


def _child(linked: Entity, projection: Projection | None) -> tuple[Entity, Projections]:
    """A linked entity as answered (projected by its Relationship's braces) and how its own links are projected."""
    if projection is None:
        return dict(linked), ()
    return projection.apply(linked), projection.linked


def flat(roots: Sequence[Entity], fetch: Fetch, level: int, linked: Projections = ()) -> list[Entity]:
    """The requested entities, then the linked ones not already among them."""
    answer = list(roots)
    asked = {e.get("id") for e in roots}
    frontier = [_Hop(e, linked, frozenset()) for e in roots]
    for _ in range(level):
        wanted = [t for hop in frontier for t in targets(hop.entity) if t not in asked]
        if not wanted:
            break
        wanted = list(dict.fromkeys(wanted))
        asked.update(wanted)
        found, added = fetch(wanted), set[str]()
        following = []
        for hop in frontier:
            for name, instance in _instances(hop.entity):
                for target in _objects(instance):
                    if target in found and target not in added:
                        added.add(target)
                        entity, deeper = _child(found[target], linked_projection(hop.linked, name))
                        answer.append(entity)
                        following.append(_Hop(entity, deeper, frozenset()))
        frontier = following
    return answer


def inline(roots: Sequence[Entity], fetch: Fetch, level: int, linked: Projections = ()) -> list[Entity]:
    """The requested entities with each Relationship carrying its linked entity (recursively, ``level`` deep).

    An entity already on the path from the requested one is not inlined again: a cycle ends there (the spec's
    ``containedBy``)."""
    answer = [dict(e) for e in roots]
    frontier = [_Hop(e, linked, frozenset({e.get("id")})) for e in answer]
    known: dict[str, Entity] = {}
    asked: set[str] = set()
    for _ in range(level):
        wanted = [t for hop in frontier for t in targets(hop.entity) if t not in hop.path and t not in asked]
        if wanted:
            wanted = list(dict.fromkeys(wanted))
            asked.update(wanted)
            known.update(fetch(wanted))
        following: list[_Hop] = []
        for hop in frontier:
            following.extend(_inline_hop(hop, known))
        if not following:
            break
        frontier = following
    return answer


def _inline_hop(hop: _Hop, known: dict[str, Entity]) -> list[_Hop]:
    """Puts the linked entities into the hop's Relationships (in place: the hop's entity is the answer's copy);
    the linked entities are the next hops."""
    following: list[_Hop] = []
    for name, attr in list(hop.entity.items()):
        if name in ENTITY_MEMBERS:
            continue
        projection = linked_projection(hop.linked, name)
        joined = []
        for instance in attr if isinstance(attr, list) else [attr]:
            ids = [t for t in _objects(instance) if t in known and t not in hop.path]
            if not ids:
                joined.append(instance)
                continue
            children = [(t, *_child(known[t], projection)) for t in ids]
            following.extend(_Hop(entity, deeper, hop.path | {t}) for t, entity, deeper in children)
            entities = [entity for _t, entity, _deeper in children]
            if instance["type"] == "ListRelationship":
                joined.append({**instance, "entityList": entities})
            else:
                many = isinstance(instance.get("object"), list)
                joined.append({**instance, "entity": entities if many else entities[0]})
        hop.entity[name] = joined if isinstance(attr, list) else joined[0]
    return following


def formatted(entity: Entity, fmt: Format) -> Entity:
    """An entity joined inline, in the requested format, the linked entities in the same format."""
    if fmt is Format.NORMALIZED:
        return entity
    bare = {name: _without_linked(attr) for name, attr in entity.items()}
    out: Entity = orjson.loads(render_entity(bare, fmt, with_context=False))
    for name, attr in entity.items():
        if name in ENTITY_MEMBERS:
            continue
        if isinstance(attr, list) and any(_carries(a) for a in attr):
            rendered = out[name]
            if isinstance(rendered, dict) and isinstance(rendered.get("dataset"), dict):  # keyValues: by datasetId
                values = rendered["dataset"]
                for instance in attr:
                    key = instance.get("datasetId", "@none") if isinstance(instance, dict) else "@none"
                    if key in values:
                        values[key] = _linked_value(instance, values[key], fmt)
            else:
                out[name] = [_linked_value(a, r, fmt) for a, r in zip(attr, rendered, strict=True)]
        elif _carries(attr):
            out[name] = _linked_value(attr, out[name], fmt)
    return out


def _carries(attr: Any) -> bool:
    return isinstance(attr, dict) and ("entity" in attr or "entityList" in attr)


def _linked_value(attr: Any, rendered: Any, fmt: Format) -> Any:
    """A Relationship carrying linked entities: keyValues answers them as its value, concise beside its object."""
    if not _carries(attr):
        return rendered
    key = "entity" if "entity" in attr else "entityList"
    carried = attr[key]
    done = [formatted(e, fmt) for e in carried] if isinstance(carried, list) else formatted(carried, fmt)
    if fmt is Format.KEY_VALUES:
        return done
    concise = rendered if isinstance(rendered, dict) else {"object": rendered}
    return {**concise, key: done}


def _without_linked(attr: Any) -> Any:
    if isinstance(attr, list):
        return [_without_linked(a) for a in attr]
    if _carries(attr):
        return {k: v for k, v in attr.items() if k not in ("entity", "entityList")}
    return attr
